/**
 * The `runSkill` workflow's update and query, as the workflow registers them. Their names and
 * payloads are contracts (src/contracts/run.ts): clients use those, never this module, so no
 * gateway or CLI code loads workflow code.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AnswerUpdateName, ApprovalDecision, ApprovalRecord, ApproveUpdateName, AuthorizationGranted, AuthorizationSignalName, RunAnswer, RunStatus, StatusQueryName } from '../src/contracts/run.js';
import type { RunStateValue } from '../src/contracts/search-attributes.js';

/**
 * Approve or reject a pending approval. The validator refuses malformed decisions and steps
 * that are not pending; everything about the approver is checked by the run's verification
 * (recorded in the history), and a refused decision fails the update while the run waits on.
 */
export const approveUpdate = defineUpdate<ApprovalRecord, [ApprovalDecision]>('approve' satisfies ApproveUpdateName);
export const statusQuery = defineQuery<RunStatus>('status' satisfies StatusQueryName);
/**
 * Answers once the run has ended or waits for someone (no validator: any caller may wait; the
 * run-actions service authorized the start it rides on). Its handler emits no command.
 */
export const answerUpdate = defineUpdate<RunAnswer, []>('answer' satisfies AnswerUpdateName);

/** A grant the run may be waiting for has arrived (from the /connect callback, through the run-actions service). */
export const authorizationSignal = defineSignal<[AuthorizationGranted]>('authorizationGranted' satisfies AuthorizationSignalName);

/** RunState (src/contracts/search-attributes.ts), as the workflow sets it. */
export const runStateAttribute = defineSearchAttributeKey('RunState', 'KEYWORD');
export const RUN_STATE = { running: 'Running', awaitingAuthorization: 'AwaitingAuthorization' } as const satisfies Record<string, RunStateValue>;
