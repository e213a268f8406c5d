/**
 * The run enforces the run-actions service's decisions itself (docs/security.md, "The
 * Temporal frontend"): a start or a decision that reaches the workflow by another path — any
 * client of the Temporal frontend — is checked before it counts, and a refused decision is
 * an event in the run's history while the step keeps waiting. Real dev server, real worker,
 * real activities; the authorizer is a small stand-in whose denials the test chooses.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AuthzError, type Authorizer } from '../gateway/authz/authorizer.js';
import { approveRun, getRunStatus, RunError, waitForResult } from '../src/skills/runs.js';
import type { RunSkillInput } from '../src/contracts/run.js';
import { ALLOWED } from './helpers/allow-all.js';
import { startProbeServer, type ProbeServer } from './helpers/probe-server.js';
import { CLERK, eventually, failureOf, FIXTURE_SKILLS, historyEvents, startHarness, type CompiledFixture, type SkillHarness } from './helpers/skill-harness.js';
import { testWorkspace, type TestWorkspace } from './helpers/workspace.js';

let probe: ProbeServer;
let ws: TestWorkspace;
let h: SkillHarness;
let approval: CompiledFixture;
/** Users the stand-in authorizer refuses (as if revoked), on every action. */
const refused = new Set<string>();
const authorizer: Authorizer = {
  check(req) {
    if (refused.has(req.principal.user.id)) throw new AuthzError('ERR_USER_REVOKED', 'not permitted for this user', `user ${req.principal.user.id} revoked (test)`);
    return ALLOWED;
  },
  admit() {},
  canList: () => true,
};
const SUPERVISOR = { id: 'alice', roles: ['supervisor'] };

beforeAll(async () => {
  probe = await startProbeServer();
  ws = testWorkspace({ servers: { probe: { url: probe.url } } });
  h = await startHarness(inject('temporalAddress'), ws.loaded, { authorizer });
  approval = await h.compile(join(FIXTURE_SKILLS, 'probe-approval'));
});

afterAll(async () => {
  await h?.close();
  await probe?.close();
  ws?.cleanup();
});

const waiting = (id: string) =>
  eventually(async () => {
    const s = await getRunStatus(h.client, id);
    return s.state === 'awaiting-approval' ? s : undefined;
  }, 'the approval to be pending');

/** The failure messages of the run's verifyApproval activities, from its history. */
async function refusalsInHistory(id: string): Promise<string[]> {
  const events = await historyEvents(h.client, id);
  const verify = new Set(
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'verifyApproval').map((e) => String(e.eventId)),
  );
  return events
    .filter((e) => e.activityTaskFailedEventAttributes && verify.has(String(e.activityTaskFailedEventAttributes.scheduledEventId)))
    .map((e) => e.activityTaskFailedEventAttributes!.failure?.cause?.message ?? e.activityTaskFailedEventAttributes!.failure?.message ?? '');
}

describe('starts that did not come through the run-actions service', () => {
  const startRaw = (input: RunSkillInput, id: string) => h.client.workflow.start('runSkill', { taskQueue: h.taskQueue, workflowId: id, args: [input] });

  it('a start without an attestation ends NotPermitted before any step runs', async () => {
    const id = `unattested-${Date.now()}`;
    const input: RunSkillInput = { plan: approval.plan, planHash: approval.hash, inputs: { label: 'forged' }, principal: CLERK, workspace: 'test', gateway: 'credit-desk' };
    await startRaw(input, id);
    const err = await failureOf(h.client, id);
    expect(err.failureType).toBe('NotPermitted');
    expect(err.message).toMatch(/^the run was not started through Skillgate: the run carries no attestation/);
    expect(probe.calls.filter((c) => c.args.label === 'forged')).toEqual([]);
    expect((await historyEvents(h.client, id)).some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });

  it('an attestation copied from another run, or kept while the inputs, the user or the plan change, is refused', async () => {
    const id = `copied-${Date.now()}`;
    const ceo = { user: { id: 'ceo', roles: ['executive'], groups: [] }, agent: { id: 'credit-assistant' } };
    const honest = (workflowId: string) =>
      h.attestor.signRun({ workflowId, workspace: 'test', gateway: 'credit-desk', principal: CLERK, planHash: approval.hash, inputs: { label: 'honest' } });
    const base: Omit<RunSkillInput, 'attestation'> = { plan: approval.plan, planHash: approval.hash, inputs: { label: 'honest' }, principal: CLERK, workspace: 'test', gateway: 'credit-desk' };
    const cases: Array<[string, (wid: string) => Promise<RunSkillInput>, RegExp]> = [
      ['other inputs', async (wid) => ({ ...base, inputs: { label: 'tampered' }, attestation: await honest(wid) }), /another set of inputs/],
      ['other user', async (wid) => ({ ...base, principal: ceo, attestation: await honest(wid) }), /another user or agent/],
      ['other run', async (wid) => ({ ...base, attestation: await honest(`${wid}-original`) }), /another workflow id/],
      ['other plan', async (wid) => ({ ...base, plan: { ...approval.plan, steps: approval.plan.steps.slice(0, 1) }, attestation: await honest(wid) }), /does not match its hash/],
      ['other gateway', async (wid) => ({ ...base, gateway: 'hr-desk', attestation: await honest(wid) }), /another gateway/],
    ];
    for (const [what, make, message] of cases) {
      const wid = `${id}-${what.replaceAll(' ', '-')}`;
      await startRaw(await make(wid), wid);
      const err = await failureOf(h.client, wid);
      expect(err.failureType, what).toBe('NotPermitted');
      expect(err.message, what).toMatch(message);
    }
    expect(probe.calls.filter((c) => c.args.label === 'tampered' || c.args.label === 'honest')).toEqual([]);
  });

  it('an attested start is refused when its user may no longer run the skill', async () => {
    refused.add('loan-clerk');
    try {
      const handle = await h.start(approval, { label: 'after-revocation' });
      const err = await failureOf(h.client, handle.workflowId);
      expect(err.failureType).toBe('NotPermitted');
      expect(err.message).toContain('not permitted for this user (ERR_USER_REVOKED)');
    } finally {
      refused.delete('loan-clerk');
    }
  });
});

describe('decisions that did not come through the run-actions service', () => {
  it('an unattested approval (what `temporal workflow update execute` sends) is refused, recorded in the history, and the step waits on', async () => {
    const handle = await h.start(approval, { label: 'raw' });
    await waiting(handle.workflowId);
    const err = await approveRun(h.client, handle.workflowId, { approver: SUPERVISOR, decision: 'approve' }).then(
      () => undefined,
      (e: unknown) => e as RunError,
    );
    expect(err).toBeInstanceOf(RunError);
    expect(err?.code).toBe('ERR_RUN_APPROVAL_REFUSED');
    expect(err?.message).toMatch(/decision on step "confirm" claimed by alice refused: the approval carries no attestation/);

    const status = await getRunStatus(h.client, handle.workflowId);
    expect(status.state).toBe('awaiting-approval');
    expect(status.refusedApprovals).toEqual([{ stepId: 'confirm', claimedBy: 'alice', reason: err!.message, at: expect.any(Number) }]);
    expect(await refusalsInHistory(handle.workflowId)).toEqual([err!.message]);

    // The same approver through the service's path: it counts, and the run completes.
    const record = await h.approve(handle.workflowId, { approver: SUPERVISOR, decision: 'approve' });
    expect(record.approvedBy).toBe('alice');
    expect((await waitForResult(h.client, handle.workflowId)).outputs).toMatchObject({ approvedBy: 'alice' });
  });

  it('a validly signed decision by the run’s own starter is still refused by the run (four eyes, whatever the policies say)', async () => {
    const handle = await h.start(approval, { label: 'self' });
    await waiting(handle.workflowId);
    await expect(h.approve(handle.workflowId, { approver: { id: CLERK.user.id, roles: ['supervisor'] }, decision: 'approve' })).rejects.toMatchObject({
      code: 'ERR_RUN_APPROVAL_REFUSED',
      message: 'decision on step "confirm" refused: loan-clerk started this run and may not decide on it (four eyes)',
    });
    expect(await refusalsInHistory(handle.workflowId)).toHaveLength(1);
    expect((await getRunStatus(h.client, handle.workflowId)).state).toBe('awaiting-approval');
    await handle.cancel();
  });

  it('a signed decision for another step, another decision or another run does not count', async () => {
    const handle = await h.start(approval, { label: 'mismatch' });
    await waiting(handle.workflowId);
    const sign = (o: { workflowId?: string; stepId?: string; decision?: 'approve' | 'reject' }) =>
      h.attestor.signApproval({
        workflowId: o.workflowId ?? handle.workflowId,
        stepId: o.stepId ?? 'confirm',
        decision: o.decision ?? 'approve',
        approver: { ...SUPERVISOR, groups: [] },
        agent: 'credit-assistant',
        gateway: 'credit-desk',
      });
    for (const [attestation, message] of [
      [await sign({ workflowId: 'another-run' }), /for another run/],
      [await sign({ decision: 'reject' }), /for another decision/],
      [await sign({ stepId: 'effect' }), /for another step/],
      ['eyJhbGciOiJIUzI1NiJ9.e30.forged', /is not valid/],
    ] as const) {
      await expect(approveRun(h.client, handle.workflowId, { approver: SUPERVISOR, decision: 'approve', attestation })).rejects.toMatchObject({
        code: 'ERR_RUN_APPROVAL_REFUSED',
        message: expect.stringMatching(message),
      });
    }
    expect(await refusalsInHistory(handle.workflowId)).toHaveLength(4);
    await handle.cancel();
  });

  it('an approver revoked after signing is refused by the run', async () => {
    const handle = await h.start(approval, { label: 'revoked-approver' });
    await waiting(handle.workflowId);
    refused.add('alice');
    try {
      await expect(h.approve(handle.workflowId, { approver: SUPERVISOR, decision: 'approve' })).rejects.toMatchObject({
        code: 'ERR_RUN_APPROVAL_REFUSED',
        message: expect.stringContaining('alice via credit-assistant: not permitted for this user (ERR_USER_REVOKED)'),
      });
    } finally {
      refused.delete('alice');
    }
    await handle.cancel();
  });
});
