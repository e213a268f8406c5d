/**
 * The `runSkill` workflow's update and query, as the workflow registers them. Their names and
 * payloads are contracts (src/contracts/run.ts): clients use those, never this module, so no
 * gateway or CLI code loads workflow code.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ApprovalDecision, ApprovalRecord, ApproveUpdateName, RunStatus, StatusQueryName } from '../src/contracts/run.js';

/**
 * Approve or reject a pending approval. The validator refuses malformed decisions and steps
 * that are not pending; everything about the approver is checked by the run's verification
 * (recorded in the history), and a refused decision fails the update while the run waits on.
 */
export const approveUpdate = defineUpdate<ApprovalRecord, [ApprovalDecision]>('approve' satisfies ApproveUpdateName);
export const statusQuery = defineQuery<RunStatus>('status' satisfies StatusQueryName);
