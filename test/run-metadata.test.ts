/**
 * What an operator sees of a run in the Temporal UI, read back through the Temporal client:
 * the run's static summary and details (skill, version, who via which agent on which gateway,
 * the inputs that identify the case), each activity's summary (`step · server.tool`,
 * "compensation of …"), and the current details of a waiting run ("waiting for a
 * credit-officer since …").
 */
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunStatus } from '../src/contracts/run.js';
import { waitForResult } from '../src/skills/runs.js';
import { callEvents, eventually, historyEvents, ROOT, startHarness, type CompiledFixture, type SkillHarness } from './helpers/skill-harness.js';
import { testWorkspace, type TestWorkspace } from './helpers/workspace.js';

let ws: TestWorkspace;
let h: SkillHarness;
let skill: CompiledFixture;

beforeAll(async () => {
  ws = testWorkspace();
  h = await startHarness(inject('temporalAddress'), ws.loaded);
  skill = await h.compile(join(ROOT, 'skills', 'credit-issuance'));
});

afterAll(async () => {
  await h?.close();
  ws?.cleanup();
});

const summaryOf = (payload: unknown): string | undefined => (payload ? defaultPayloadConverter.fromPayload<string>(payload as never) : undefined);

describe('user metadata of a run', () => {
  it('a waiting run says what it is and what it waits for; each step says what it calls', async () => {
    const handle = await h.start(skill, { customerId: 'C-1004', amount: 50000 });
    await eventually(async () => (await h.client.workflow.getHandle(handle.workflowId).query<RunStatus>('status')).state === 'awaiting-approval', 'the approval');

    const described = await h.client.workflow.getHandle(handle.workflowId).describe();
    expect(await described.staticSummary()).toBe('credit-issuance v1.0.0 · loan-clerk via credit-assistant on credit-desk · C-1004, 50000');
    const details = await described.staticDetails();
    expect(details).toContain('Acting for **loan-clerk** (loan-clerk) through agent **credit-assistant** on gateway **credit-desk**');
    expect(details).toContain(`Plan \`${skill.hash}\``);
    expect(details).toContain('- `termMonths`: 36');

    const meta = await h.client.workflow.getHandle(handle.workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toMatch(/^\*\*Waiting for approval\*\* — step `officer_approval` needs a \*\*credit-officer\*\* since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(until /);

    await h.approve(handle.workflowId, { approver: { id: 'credit-officer', roles: ['credit-officer'] }, decision: 'approve' });
    await waitForResult(h.client, handle.workflowId);
    const summaries = callEvents(await historyEvents(h.client, handle.workflowId)).map((e) => summaryOf(e.userMetadata?.summary));
    // customer and score run in parallel (read-only: local activities, whose markers are in
    // the order they finished).
    expect(summaries.slice(1, 3).sort()).toEqual(['customer · core-banking.get_customer', 'score · credit-bureau.get_score']);
    expect([summaries[0], ...summaries.slice(3)]).toEqual([
      undefined, // verifyRun: the run's own check of its start, not a step
      undefined, // verifyApproval: the run's own check, not a step
      'issue · core-banking.issue_credit',
      'notice · core-banking.send_notice',
    ]);
    const done = await h.client.workflow.getHandle(handle.workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    // customer, score, officer_approval, issue, notice done; low_score skipped.
    expect(done.currentDetails).toBe('Completed: 5 steps done, 1 skipped');
  });

  it('a compensation says whose', async () => {
    // C-1003 has no postal address: the notice fails and the issued credit is cancelled.
    const handle = await h.start(skill, { customerId: 'C-1003', amount: 3000, termMonths: 12 });
    await waitForResult(h.client, handle.workflowId).catch(() => {});
    const summaries = (await historyEvents(h.client, handle.workflowId))
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => summaryOf(e.userMetadata?.summary));
    expect(summaries).toContain('compensation of issue · core-banking.cancel_credit');
    const meta = await h.client.workflow.getHandle(handle.workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toMatch(/^Failed \(ToolError\): step "notice" failed: .*; compensated: issue$/);
  });
});
