/**
 * The runSkill interpreter on the real stack — dev server, compiler, pool, the real callTool
 * activity — against an in-process MCP "probe" server whose calls the test observes: what
 * only the real stack proves (concurrent calls reach the server, idempotency keys
 * `<runId>/step/<id>`, compensations as real calls, the run client's errors and idempotent
 * starts). The interpreter's logic itself is tested with mocked activities under the
 * time-skipping server in test/interpreter.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { getRunStatus, RunError, startSkillRun, validateInputs, waitForResult } from '../src/skills/runs.js';
import type { ProbeServer } from './helpers/probe-server.js';
import { callEvents, CLERK, eventually, failureOf, historyEvents, type CompiledFixture, type SkillHarness, startProbeWorld, type ProbeWorld } from './helpers/skill-harness.js';

let world: ProbeWorld;
let probe: ProbeServer;
let h: SkillHarness;
let skills: Record<string, CompiledFixture>;
const SUPERVISOR = { id: 'alice', roles: ['supervisor'] };

beforeAll(async () => {
  world = await startProbeWorld(inject('temporalAddress'), ['probe-parallel', 'probe-saga', 'probe-expression', 'probe-approval', 'probe-two-approvals']);
  ({ probe, h, skills } = world);
});

afterAll(() => world?.close());

describe('runSkill scheduling', () => {
  it('runs independent steps concurrently, joins them, skips a false condition', async () => {
    const handle = await h.start(skills['probe-parallel']!, {});
    const result = await waitForResult(h.client, handle.workflowId);
    expect(result.outputs).toEqual({ joined: 'left+right', maybeSkipped: true });
    expect(result.skipped).toEqual(['maybe']);
    expect(result.executed.slice(-1)).toEqual(['join']);
    expect(result.executed.slice(0, 2).sort()).toEqual(['left', 'right']);

    const mine = probe.calls.filter((c) => c.key?.startsWith(handle.firstExecutionRunId));
    const left = mine.find((c) => c.args.label === 'left')!;
    const right = mine.find((c) => c.args.label === 'right')!;
    const join = mine.find((c) => c.tool === 'echo')!;
    // Both waits (800 ms each) overlapped; the join started after both ended.
    expect(right.startedAt).toBeLessThan(left.endedAt!);
    expect(left.startedAt).toBeLessThan(right.endedAt!);
    expect(join.startedAt).toBeGreaterThanOrEqual(Math.max(left.endedAt!, right.endedAt!));
    // Idempotency keys are <runId>/step/<id>.
    expect(left.key).toBe(`${handle.firstExecutionRunId}/step/left`);
    expect(join.key).toBe(`${handle.firstExecutionRunId}/step/join`);
    // Nothing was called for the skipped step.
    expect(mine).toHaveLength(3);

    // The three tools are read-only: each ran as a local activity (one marker, no scheduled activity).
    const events = await historyEvents(h.client, handle.workflowId);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    // verifyRun (the start's check) and the three steps.
    expect(callEvents(events)).toHaveLength(4);
  });

});

describe('runSkill saga', () => {
  it('compensates completed steps in reverse order; a failed compensation is reported and does not stop the others', async () => {
    const handle = await h.start(skills['probe-saga']!, { reason: 'the ledger is closed' });
    const err = await failureOf(h.client, handle.workflowId);
    expect(err.failureType).toBe('ToolError');
    expect(err.message).toBe(
      'step "third" failed: probe.refuse: the ledger is closed; compensated: first; ' +
        'compensation of "second" failed: probe.refuse: the undo service is down',
    );
    expect(err.extra.details).toEqual({
      stepId: 'third',
      type: 'ToolError',
      activityFailureType: 'ToolError',
      compensated: ['first'],
      compensationFailures: [{ stepId: 'second', message: 'probe.refuse: the undo service is down' }],
    });
    const runId = handle.firstExecutionRunId;
    const mine = probe.calls.filter((c) => c.key?.startsWith(runId));
    // Reverse completion order: second's compensation ran (and failed) before first's.
    expect(mine.map((c) => `${c.tool}:${c.key!.slice(runId.length + 1)}`)).toEqual([
      'apply:step/first',
      'apply:step/second',
      'refuse:step/third',
      'refuse:compensate/second',
      'undo:compensate/first',
    ]);
    expect(probe.applied.get(`${runId}/step/first`)?.undone).toBe(true);
    expect(probe.applied.get(`${runId}/step/second`)?.undone).toBe(false);
    const status = await getRunStatus(h.client, handle.workflowId);
    expect(status).toMatchObject({
      state: 'failed',
      failureType: 'ToolError',
      steps: { first: 'compensated', second: 'completed', third: 'failed' },
    });
  });

});

describe('runSkill approvals', () => {
  async function awaitingApproval(workflowId: string) {
    return eventually(async () => {
      const s = await getRunStatus(h.client, workflowId);
      return s.state === 'awaiting-approval' ? s : undefined;
    }, 'the run to await approval');
  }

  it('blocks until approved by the role; refuses other roles, other steps and finished runs', async () => {
    const handle = await h.start(skills['probe-approval']!, { label: 'gift' });
    const status = await awaitingApproval(handle.workflowId);
    const effect = probe.applied.get(`${handle.firstExecutionRunId}/step/effect`)!;
    expect(status.pendingApprovals).toEqual([
      { stepId: 'confirm', role: 'supervisor', message: `Keep effect ${effect.id} (gift)?`, deadline: expect.any(Number) },
    ]);
    expect(status.steps).toMatchObject({ effect: 'completed', confirm: 'awaiting-approval', after: 'pending' });

    await expect(h.approve(handle.workflowId, { approver: { id: 'bob', roles: ['intern'] }, decision: 'approve' })).rejects.toMatchObject({
      code: 'ERR_RUN_APPROVAL_REFUSED',
      message: 'decision on step "confirm" refused: approver bob lacks role supervisor',
    });
    await expect(
      h.approve(handle.workflowId, { stepId: 'after', approver: SUPERVISOR, decision: 'approve' }),
    ).rejects.toMatchObject({ message: 'no approval is pending for step "after" (pending: "confirm")' });

    const record = await h.approve(handle.workflowId, { approver: SUPERVISOR, decision: 'approve', comment: 'fine' });
    expect(record).toMatchObject({ approvedBy: 'alice', decision: 'approve', comment: 'fine' });

    const result = await waitForResult(h.client, handle.workflowId);
    expect(result.outputs).toEqual({ approvedBy: 'alice', effectId: effect.id });
    expect(effect.undone).toBe(false);

    await expect(h.approve(handle.workflowId, { approver: SUPERVISOR, decision: 'approve' })).rejects.toMatchObject({
      code: 'ERR_RUN_FINISHED',
      message: `skill run ${handle.workflowId} has already ended (completed): nothing to approve`,
    });
    await expect(h.approve('no-such-run', { approver: SUPERVISOR, decision: 'approve' })).rejects.toMatchObject({
      code: 'ERR_RUN_NOT_FOUND',
      message: 'no skill run with id no-such-run',
    });
  });

});

describe('starting runs', () => {
  it('validates inputs before starting: every problem with its JSONPath', async () => {
    const err = await h.start(skills['probe-saga']!, { reasn: 'x' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RunError);
    expect((err as RunError).code).toBe('ERR_RUN_INPUT_INVALID');
    expect((err as RunError).problems).toEqual([{ path: '$.reason', message: 'is required' }]);
    // additionalProperties is not set in probe-saga; with credit-issuance-like schemas unknown keys are named too.
    const strict: CompiledFixture = {
      ...skills['probe-saga']!,
      plan: { ...skills['probe-saga']!.plan, inputs: { ...skills['probe-saga']!.plan.inputs, additionalProperties: false } },
    };
    const err2 = await h.start(strict, { reason: 3, reasn: 'x' }).then(
      () => undefined,
      (e: unknown) => e as RunError,
    );
    expect(err2?.problems).toEqual([
      { path: '$.reasn', message: 'is not an input of this skill (did you mean "reason"?)' },
      { path: '$.reason', message: 'must be string' },
    ]);
    expect(err2?.message).toContain('$.reason: must be string');
  });

  it('fills in defaults, and a caller-chosen workflow id starts at most one run', async () => {
    expect(validateInputs(skills['probe-parallel']!.plan, {})).toEqual({ skip: true });
    const workflowId = `idempotent-${Date.now()}`;
    const first = await h.start(skills['probe-parallel']!, { skip: true }, { workflowId });
    const second = await h.start(skills['probe-parallel']!, { skip: true }, { workflowId });
    expect(second.firstExecutionRunId).toBe(first.firstExecutionRunId);
    await waitForResult(h.client, workflowId);
    const third = await startSkillRun(h.client, {
      attestor: h.attestor,
      plan: skills['probe-parallel']!.plan,
      planHash: skills['probe-parallel']!.hash,
      inputs: {},
      principal: CLERK,
      workspace: 'test',
      gateway: 'credit-desk',
      taskQueue: h.taskQueue,
      workflowId,
    });
    expect(third.firstExecutionRunId).toBe(first.firstExecutionRunId);
    const described = await h.client.workflow.getHandle(workflowId).describe();
    expect(described.memo).toEqual({ planHash: skills['probe-parallel']!.hash, skillVersion: '1' });
  });
});
