/**
 * The runSkill interpreter's logic with mocked activities under Temporal's time-skipping test
 * server: scheduling, conditions, saga, expression errors, approvals (timeouts skip in
 * workflow time), the run's own verification, cancellation and retries — no upstream server,
 * no sleeps. test/run-interpreter.test.ts keeps what only the real stack proves (the real
 * callTool activity, idempotency keys reaching a server, the run client).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectTestServerPath } from '../src/app/runtime/temporal-binary.js';
import type { CallToolInput, CallToolOutput, SkillgateActivities, VerifyApprovalInput } from '../src/contracts/activities.js';
import type { Json } from '../src/contracts/json.js';
import type { CompiledPlan } from '../src/contracts/plan.js';
import type { ApprovalRecord, RunSkillInput, RunSkillResult, RunStatus } from '../src/contracts/run.js';
import { catalogOf } from '../src/skills/catalog.js';
import { compileSkill } from '../src/skills/compile.js';
import { validateInputs } from '../src/skills/runs.js';
import { createSkillWorker } from '../src/temporal/worker.js';
import { CLERK, FIXTURE_SKILLS } from './helpers/skill-harness.js';
import { memoryAuditSink } from '../gateway/audit/memory.js';

/** The runs' own events (started, ended), kept in memory. */
const runEvents = memoryAuditSink();

/** The probe server's tools (test/helpers/probe-server.ts), as the compiler sees them. */
const PROBE_TOOLS: Tool[] = [
  { name: 'echo', inputSchema: { type: 'object', properties: { value: {} } }, annotations: { readOnlyHint: true } },
  { name: 'wait', inputSchema: { type: 'object', properties: { ms: { type: 'integer' }, label: { type: 'string' } }, required: ['ms', 'label'] }, annotations: { readOnlyHint: true } },
  { name: 'apply', inputSchema: { type: 'object', properties: { label: { type: 'string' }, ms: { type: 'integer' } }, required: ['label'] } },
  { name: 'undo', inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } },
  { name: 'refuse', inputSchema: { type: 'object', properties: { reason: { type: 'string' } }, required: ['reason'] } },
];

const taskQueue = 'interpreter-unit';
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const plans: Record<string, CompiledPlan> = {};

/** Every callTool the worker ran, by workflow id. */
const calls = new Map<string, CallToolInput[]>();
/** Per-run behaviour of the mocked callTool; default: tool-shaped answers. */
const behaviour = new Map<string, (input: CallToolInput, attempt: number) => Promise<unknown> | unknown>();
/** Per-run verdict of verifyApproval; default: the claimed approver is accepted. */
const approvals = new Map<string, (input: VerifyApprovalInput) => void>();
/** Runs whose start verification refuses. */
const refusedStarts = new Set<string>();
/** Barrier for the parallel test: which `wait` branches have started, per run. */
const started = new Set<string>();

const activities: SkillgateActivities = {
  async callTool(input): Promise<CallToolOutput> {
    const { Context } = await import('@temporalio/activity');
    const info = Context.current().info;
    const wid = info.workflowExecution?.workflowId ?? '';
    const list = calls.get(wid) ?? [];
    list.push(input);
    calls.set(wid, list);
    const custom = behaviour.get(wid);
    if (custom) return { output: (await custom(input, info.attempt)) as never };
    switch (input.tool) {
      case 'echo':
        return { output: { value: input.arguments.value ?? null } as Json };
      case 'wait': {
        // Both parallel waits must be in flight at once: each waits for the other to start.
        started.add(`${wid}/${String(input.arguments.label)}`);
        const deadline = Date.now() + 5000;
        while (!['left', 'right'].every((l) => started.has(`${wid}/${l}`))) {
          if (Date.now() > deadline) throw ApplicationFailure.nonRetryable('the other branch never started', 'ToolError');
          await new Promise((r) => setImmediate(r));
        }
        return { output: { label: input.arguments.label ?? null } };
      }
      case 'apply':
        return { output: { id: `E-${input.stepId}`, label: input.arguments.label ?? null } };
      case 'undo':
        return { output: { id: input.arguments.id ?? null, undone: true } };
      case 'refuse':
        throw ApplicationFailure.nonRetryable(`step "${input.stepId}": probe.refuse failed: ${String(input.arguments.reason)}`, 'ToolError');
      default:
        throw ApplicationFailure.nonRetryable(`unknown tool ${input.tool}`, 'UnknownTool');
    }
  },
  async verifyRun(input) {
    if (refusedStarts.has(input.attestation ?? '')) throw ApplicationFailure.nonRetryable('the run was not started through Skillgate: refused in this test', 'NotPermitted');
  },
  async verifyApproval(input) {
    const { Context } = await import('@temporalio/activity');
    const wid = Context.current().info.workflowExecution?.workflowId ?? '';
    approvals.get(wid)?.(input);
    return { approver: { id: input.claimedBy, roles: [input.role] }, agent: 'credit-assistant' };
  },
};

beforeAll(async () => {
  const path = projectTestServerPath();
  if (!path) throw new Error('the time-skipping test server is missing (.tools/venv/bin/temporal-test-server): run npm install');
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
  const catalog = catalogOf({ probe: PROBE_TOOLS });
  for (const name of ['probe-parallel', 'probe-saga', 'probe-expression', 'probe-approval', 'probe-two-approvals', 'probe-approval-timeout']) {
    const r = compileSkill(join(FIXTURE_SKILLS, name), catalog);
    if (!r.plan) throw new Error(`${name}: ${JSON.stringify(r.diagnostics)}`);
    plans[name] = r.plan;
  }
  worker = await createSkillWorker({ connection: env.nativeConnection, taskQueue, activities, audit: runEvents });
  running = worker.run();
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

/** Start a run (no search attributes: the time-skipping server does not know Skillgate's). */
async function start(name: string, inputs: RunSkillInput['inputs'] = {}, opts: { attestation?: string } = {}) {
  const id = `${name}-${randomUUID()}`;
  const input: RunSkillInput = {
    plan: plans[name]!,
    planHash: 'sha256:unit',
    inputs: validateInputs(plans[name]!, inputs),
    principal: CLERK,
    workspace: 'test',
    gateway: 'credit-desk',
    attestation: opts.attestation ?? 'unit',
  };
  return env.client.workflow.start('runSkill', { taskQueue, workflowId: id, args: [input] });
}

async function failure(handle: { result(): Promise<unknown> }): Promise<{ type?: string; message: string; details?: unknown }> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e as { cause?: ApplicationFailure },
  );
  expect(err?.cause).toBeInstanceOf(ApplicationFailure);
  return { type: err!.cause!.type ?? undefined, message: err!.cause!.message, details: err!.cause!.details?.[0] };
}

const status = (id: string) => env.client.workflow.getHandle(id).query<RunStatus>('status');
const waiting = async (id: string, n = 1) => {
  for (;;) {
    const s = await status(id);
    if (s.pendingApprovals.length >= n) return s;
    await env.sleep(10);
  }
};
/** Send a decision; a refused one rejects with the workflow's own message. */
const decide = (id: string, d: { stepId?: string; decision: 'approve' | 'reject'; who?: string; comment?: string }) =>
  env.client.workflow
    .getHandle(id)
    .executeUpdate<ApprovalRecord, [unknown]>('approve', {
      args: [{ ...(d.stepId ? { stepId: d.stepId } : {}), approver: { id: d.who ?? 'alice', roles: ['supervisor'] }, decision: d.decision, ...(d.comment ? { comment: d.comment } : {}), attestation: 'unit' }],
    })
    .catch((err: unknown) => {
      throw new Error((err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message);
    });

describe('scheduling', () => {
  it('runs independent steps concurrently, joins them, skips a false condition', async () => {
    const h = await start('probe-parallel');
    const r = (await h.result()) as RunSkillResult;
    expect(r.outputs).toEqual({ joined: 'left+right', maybeSkipped: true });
    expect(r.skipped).toEqual(['maybe']);
    expect(r.executed.at(-1)).toBe('join');
    expect(calls.get(h.workflowId)!.map((c) => c.stepId).sort()).toEqual(['join', 'left', 'right']);
  });

  it('refuses an inconsistent hand-made plan with InvalidPlan before calling anything', async () => {
    const plan: CompiledPlan = { ...plans['probe-expression']!, steps: [{ ...plans['probe-expression']!.steps[0]!, dependsOn: ['nowhere'] }] };
    const id = `invalid-${randomUUID()}`;
    const input: RunSkillInput = { plan, planHash: 'sha256:hand-made', inputs: {}, principal: CLERK, workspace: 'test', gateway: 'credit-desk' };
    const f = await failure(await env.client.workflow.start('runSkill', { taskQueue, workflowId: id, args: [input] }));
    expect(f.type).toBe('InvalidPlan');
    expect(f.message).toBe('invalid plan: step "lookup" depends on unknown step "nowhere"');
    expect(calls.get(id)).toBeUndefined();
  });

  it('a condition that reads a missing field fails the run with ExpressionError naming the step', async () => {
    const h = await start('probe-expression');
    const f = await failure(h);
    expect(f.type).toBe('ExpressionError');
    expect(f.message).toMatch(/^step "use" failed: cannot evaluate `with`: /);
  });
});

describe('saga', () => {
  it('compensates completed steps in reverse order; a failed compensation is reported and the others still run', async () => {
    const h = await start('probe-saga', { reason: 'the ledger is closed' });
    const f = await failure(h);
    expect(f.type).toBe('ToolError');
    expect(f.message).toContain('step "third" failed: probe.refuse: the ledger is closed');
    expect(f.message).toContain('compensated: first');
    expect(f.message).toContain('compensation of "second" failed');
    const order = calls.get(h.workflowId)!.map((c) => `${c.compensation ? 'undo:' : ''}${c.stepId}`);
    // A tool that answers isError is not retried (ToolError is non-retryable), compensations included.
    expect(order).toEqual(['first', 'second', 'third', 'undo:second', 'undo:first']);
  });

  it('retries a transient failure with the step policy; backoff costs no real time', async () => {
    const h = await start('probe-approval', { label: 'retry' });
    behaviour.set(h.workflowId, (input, attempt) => {
      if (input.tool === 'apply' && attempt < 3) throw ApplicationFailure.retryable('upstream down', 'UpstreamUnavailable');
      return input.tool === 'apply' ? { id: 'E-retry', label: 'retry' } : { value: input.arguments.value };
    });
    await waiting(h.workflowId);
    await decide(h.workflowId, { decision: 'approve' });
    expect(((await h.result()) as RunSkillResult).outputs).toEqual({ approvedBy: 'alice', effectId: 'E-retry' });
    expect(calls.get(h.workflowId)!.filter((c) => c.tool === 'apply')).toHaveLength(3);
  });
});

describe('approvals', () => {
  it('waits for a decision; refuses other steps and a second decision; the verified approver is recorded', async () => {
    const h = await start('probe-approval', { label: 'gift' });
    const s = await waiting(h.workflowId);
    expect(s.pendingApprovals).toEqual([{ stepId: 'confirm', role: 'supervisor', message: 'Keep effect E-effect (gift)?', deadline: expect.any(Number) }]);
    await expect(decide(h.workflowId, { stepId: 'after', decision: 'approve' })).rejects.toThrow(/no approval is pending for step "after" \(pending: "confirm"\)/);
    const record = await decide(h.workflowId, { decision: 'approve', comment: 'fine' });
    expect(record).toMatchObject({ approvedBy: 'alice', decision: 'approve', comment: 'fine' });
    expect(((await h.result()) as RunSkillResult).outputs).toEqual({ approvedBy: 'alice', effectId: 'E-effect' });
  });

  it('a decision the verification refuses is kept, fails the update, and the step waits on', async () => {
    const h = await start('probe-approval');
    approvals.set(h.workflowId, (input) => {
      if (input.claimedBy === 'mallory') throw ApplicationFailure.nonRetryable('decision on step "confirm" refused: mallory started this run (four eyes)', 'NotPermitted');
    });
    await waiting(h.workflowId);
    await expect(decide(h.workflowId, { decision: 'approve', who: 'mallory' })).rejects.toThrow(/four eyes/);
    const s = await status(h.workflowId);
    expect(s.state).toBe('awaiting-approval');
    expect(s.refusedApprovals).toEqual([{ stepId: 'confirm', claimedBy: 'mallory', reason: 'decision on step "confirm" refused: mallory started this run (four eyes)', at: expect.any(Number) }]);
    await decide(h.workflowId, { decision: 'approve' });
    expect(((await h.result()) as RunSkillResult).outputs).toMatchObject({ approvedBy: 'alice' });
  });

  it('a rejection fails the run with ApprovalRejected and compensates', async () => {
    const h = await start('probe-approval');
    await waiting(h.workflowId);
    await decide(h.workflowId, { stepId: 'confirm', decision: 'reject', comment: 'not today' });
    const f = await failure(h);
    expect(f.type).toBe('ApprovalRejected');
    expect(f.message).toBe('step "confirm" was rejected by alice: not today; compensated: effect');
  });

  it('no decision within the timeout ends the run with ApprovalTimedOut and compensates (2 s of workflow time, skipped)', async () => {
    const h = await start('probe-approval-timeout');
    const f = await failure(h);
    expect(f.type).toBe('ApprovalTimedOut');
    expect(f.message).toBe('no approval from a supervisor within 2s for step "confirm"; compensated: effect');
  });

  it('with several approvals pending, a decision must name its step; a second one on a decided step is refused', async () => {
    const h = await start('probe-two-approvals');
    await waiting(h.workflowId, 2);
    await expect(decide(h.workflowId, { decision: 'approve' })).rejects.toThrow(/several approvals are pending \("alpha", "beta"\): name the step/);
    await decide(h.workflowId, { stepId: 'beta', decision: 'approve' });
    await expect(decide(h.workflowId, { stepId: 'beta', decision: 'reject', who: 'carol' })).rejects.toThrow(/step "beta" was already approved by alice/);
    await decide(h.workflowId, { decision: 'approve' });
    expect(((await h.result()) as RunSkillResult).outputs).toEqual({ both: 'alpha+beta' });
  });
});

describe('the run protects itself', () => {
  it('a start the verification refuses does nothing and ends NotPermitted', async () => {
    refusedStarts.add('forged');
    const h = await start('probe-saga', { reason: 'x' }, { attestation: 'forged' });
    const f = await failure(h);
    expect(f.type).toBe('NotPermitted');
    expect(calls.get(h.workflowId)).toBeUndefined();
  });

  it('cancelling a waiting run compensates, then reports it cancelled', async () => {
    const h = await start('probe-approval');
    await waiting(h.workflowId);
    await h.cancel();
    const f = await failure(h);
    expect(f.type).toBe('Cancelled');
    expect(f.message).toBe('run cancelled during step "confirm"; compensated: effect');
    expect((await status(h.workflowId)).steps).toMatchObject({ effect: 'compensated', confirm: 'cancelled', after: 'pending' });
  });
});
