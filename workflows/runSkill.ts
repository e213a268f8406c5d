/**
 * `runSkill`: interprets a compiled skill plan, deterministically.
 *
 * - A step starts once every step in its `dependsOn` has finished; independent steps run
 *   concurrently, started in document order.
 * - Tool steps are activities (`callTool`) with the step's own retry policy and timeout;
 *   activity ids are `step/<id>` so the idempotency key (`runId/activityId`) is stable across
 *   retries and worker crashes.
 * - Approvals wait for the `approve` update (approver identity + role checked by its
 *   validator) up to their timeout.
 * - On any failure, completed steps are compensated in reverse completion order (saga), then
 *   the run fails with a message naming the step.
 *
 * Deterministic code only: no Node built-ins, no I/O (see eslint.config.js).
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { CallToolInput } from '../activities/types.js';
import type { ApprovalSpec, Json, PlanStep, RetrySpec, ToolStep } from '../src/skills/plan.js';
import {
  approveUpdate,
  statusQuery,
  type ApprovalDecision,
  type ApprovalRecord,
  type PendingApproval,
  type RunSkillInput,
  type RunSkillResult,
  type RunStatus,
  type StepState,
} from './definitions.js';
import { evaluateCondition, type ExpressionContext, renderTemplate, stringify } from './expressions.js';

type Activities = ReturnType<typeof activities.createActivities>;

/** Failure types of a run (ApplicationFailure.type); stable, for callers and the audit trail. */
export type RunFailureType = 'ToolError' | 'SkillFailed' | 'ApprovalRejected' | 'ApprovalTimedOut' | 'ExpressionError' | 'Cancelled' | 'StepFailed';

/** A step's failure on its way to the saga: which step, why, and the type the run fails with. */
class StepFailure extends Error {
  constructor(
    readonly stepId: string,
    message: string,
    readonly type: RunFailureType,
  ) {
    super(message);
  }
}

interface Waiter {
  pending: PendingApproval;
  role: string;
  decision?: ApprovalRecord;
}

/** Run a compiled skill plan. */
export async function runSkill(input: RunSkillInput): Promise<RunSkillResult> {
  const { plan } = input;
  const steps = plan.steps;
  const states: { [id: string]: StepState } = Object.fromEntries(steps.map((s) => [s.id, 'pending' as StepState]));
  const ctx: ExpressionContext = { inputs: input.inputs, steps: {} };
  const executed: string[] = [];
  const skipped: string[] = [];
  /** Completed tool steps with a compensation, in completion order. */
  const compensable: ToolStep[] = [];
  const waiters = new Map<string, Waiter>();
  let runState: RunStatus['state'] = 'running';
  let failureReason: string | undefined;

  setHandler(statusQuery, (): RunStatus => ({
    state: runState === 'running' && waiters.size > 0 ? 'awaiting-approval' : runState,
    steps: { ...states },
    pendingApprovals: [...waiters.values()].filter((w) => !w.decision).map((w) => w.pending),
    ...(failureReason ? { reason: failureReason } : {}),
  }));

  setHandler(
    approveUpdate,
    (d: ApprovalDecision): ApprovalRecord => {
      const w = pickWaiter(waiters, d)!;
      w.decision = { approvedBy: d.approver.id, decision: d.decision, comment: d.comment ?? null, at: Date.now() };
      return w.decision;
    },
    {
      validator: (d: ApprovalDecision) => {
        const w = pickWaiter(waiters, d);
        if (!w) {
          throw new Error(d.stepId ? `step "${d.stepId}" is not waiting for an approval` : 'this run is not waiting for an approval');
        }
        if (w.decision) throw new Error(`step "${w.pending.stepId}" was already decided by ${w.decision.approvedBy}`);
        if (!d.approver.roles.includes(w.role)) {
          throw new Error(`approver ${d.approver.id} lacks role ${w.role} required by step "${w.pending.stepId}"`);
        }
      },
    },
  );

  const callTool = (step: { id: string }, tool: { server: string; name: string }, args: Json, opts: { retry: RetrySpec; timeoutMs: number; local: boolean; compensation?: boolean }) => {
    const activityOptions: ActivityOptions = {
      activityId: `${opts.compensation ? 'compensate' : 'step'}/${step.id}`,
      startToCloseTimeout: opts.timeoutMs,
      retry: {
        maximumAttempts: opts.retry.maximumAttempts,
        initialInterval: opts.retry.initialIntervalMs,
        backoffCoefficient: opts.retry.backoffCoefficient,
        maximumInterval: opts.retry.maximumIntervalMs,
        nonRetryableErrorTypes: opts.retry.nonRetryableErrorTypes,
      },
    };
    const req: CallToolInput = {
      server: tool.server,
      tool: tool.name,
      arguments: (args ?? {}) as { [k: string]: Json },
      stepId: step.id,
      skill: plan.skill.name,
      principal: input.principal,
      workspace: input.workspace,
      gateway: input.gateway,
      ...(opts.compensation ? { compensation: true } : {}),
    };
    // Read-only steps may run as local activities: no server round trip per step, retried locally.
    const acts = opts.local
      ? proxyLocalActivities<Activities>({ startToCloseTimeout: activityOptions.startToCloseTimeout!, retry: activityOptions.retry })
      : proxyActivities<Activities>(activityOptions);
    return acts.callTool(req);
  };

  const waitForApproval = async (step: PlanStep, spec: ApprovalSpec): Promise<ApprovalRecord> => {
    const message = spec.message ? stringify(renderTemplate(spec.message, ctx)) : `Approve step "${step.id}" of ${plan.skill.name}?`;
    const w: Waiter = { role: spec.role, pending: { stepId: step.id, role: spec.role, message, deadline: Date.now() + spec.timeoutMs } };
    waiters.set(step.id, w);
    states[step.id] = 'awaiting-approval';
    try {
      const decided = await condition(() => w.decision !== undefined, spec.timeoutMs);
      if (!decided) {
        throw new StepFailure(
          step.id,
          `no approval from a ${spec.role} within ${formatMs(spec.timeoutMs)} for step "${step.id}"`,
          'ApprovalTimedOut',
        );
      }
      const d = w.decision!;
      if (d.decision === 'reject') {
        throw new StepFailure(step.id, `step "${step.id}" rejected by ${d.approvedBy}${d.comment ? `: ${d.comment}` : ''}`, 'ApprovalRejected');
      }
      return d;
    } finally {
      waiters.delete(step.id);
    }
  };

  const runStep = async (step: PlanStep): Promise<void> => {
    try {
      if (step.if !== undefined && !evaluateCondition(step.if, ctx)) {
        states[step.id] = 'skipped';
        ctx.steps[step.id] = { output: null, skipped: true };
        skipped.push(step.id);
        return;
      }
    } catch (err) {
      throw expressionFailure(step.id, err);
    }
    states[step.id] = 'running';
    let output: Json = null;
    switch (step.kind) {
      case 'fail': {
        let message: string;
        try {
          message = stringify(renderTemplate(step.message, ctx));
        } catch (err) {
          throw expressionFailure(step.id, err);
        }
        throw new StepFailure(step.id, message, 'SkillFailed');
      }
      case 'approval':
        output = (await waitForApproval(step, step.approval)) as unknown as Json;
        break;
      case 'tool': {
        if (step.approval) await waitForApproval(step, step.approval);
        states[step.id] = 'running';
        let args: Json;
        try {
          args = renderTemplate(step.with, ctx);
        } catch (err) {
          throw expressionFailure(step.id, err);
        }
        try {
          const res = await callTool(step, step.tool, args, { retry: step.retry, timeoutMs: step.timeoutMs, local: step.readOnly && input.localReadOnlySteps === true });
          output = res.output;
        } catch (err) {
          if (isCancellation(err)) throw err;
          const cause = rootCause(err);
          const type = cause.type === 'ToolError' ? 'ToolError' : 'StepFailed';
          throw new StepFailure(step.id, `step "${step.id}" failed: ${stripStepPrefix(cause.message, step.id)}`, type);
        }
        if (step.compensate) compensable.push(step);
        break;
      }
    }
    states[step.id] = 'completed';
    ctx.steps[step.id] = { output, skipped: false };
    executed.push(step.id);
  };

  const compensate = async (): Promise<string[]> => {
    runState = 'compensating';
    const problems: string[] = [];
    for (const step of [...compensable].reverse()) {
      const c = step.compensate!;
      try {
        const args = renderTemplate(c.with, ctx);
        await callTool(step, c.tool, args, { retry: c.retry, timeoutMs: c.timeoutMs, local: false, compensation: true });
        states[step.id] = 'compensated';
      } catch (err) {
        const msg = `compensation of "${step.id}" failed: ${rootCause(err).message}`;
        log.error(msg);
        problems.push(msg);
      }
    }
    return problems;
  };

  // Scheduler: start what is ready, wait for anything to finish, repeat.
  const done = new Set<string>();
  const started = new Set<string>();
  const running = new Map<string, Promise<void>>();
  let failure: unknown;
  try {
    while (done.size < steps.length) {
      for (const step of steps) {
        if (started.has(step.id) || !step.dependsOn.every((d) => done.has(d))) continue;
        started.add(step.id);
        running.set(
          step.id,
          runStep(step).then(() => {
            done.add(step.id);
            running.delete(step.id);
          }),
        );
      }
      if (running.size === 0) {
        throw new StepFailure('(plan)', 'the plan has steps that can never start (dependency cycle)', 'SkillFailed');
      }
      // Promise.race over activity/timer promises is deterministic under Temporal's replay.
      await Promise.race(running.values());
    }
  } catch (err) {
    failure = err;
  }

  if (failure === undefined) {
    try {
      const outputs: { [k: string]: Json } = {};
      for (const [name, out] of Object.entries(plan.outputs)) outputs[name] = renderTemplate(out.value, ctx);
      runState = 'completed';
      return { outputs, executed, skipped };
    } catch (err) {
      failure = expressionFailure('(outputs)', err);
    }
  }

  // Let steps still in flight settle (a parallel branch may complete and need compensating).
  await Promise.allSettled(running.values());
  const cancelled = isCancellation(failure);
  const problems = await CancellationScope.nonCancellable(compensate);
  runState = 'failed';
  const f = cancelled
    ? new StepFailure('(run)', 'the run was cancelled', 'Cancelled')
    : failure instanceof StepFailure
      ? failure
      : new StepFailure('(run)', rootCause(failure).message, 'StepFailed');
  const compensated = compensable.filter((s) => states[s.id] === 'compensated').map((s) => s.id);
  failureReason =
    f.message +
    (compensated.length ? `; compensated: ${compensated.join(', ')}` : '') +
    (problems.length ? `; ${problems.join('; ')}` : '');
  log.info('skill run failed', { workflowId: workflowInfo().workflowId, step: f.stepId, type: f.type });
  if (cancelled) throw failure;
  throw ApplicationFailure.create({
    message: failureReason,
    type: f.type,
    nonRetryable: true,
    details: [{ step: f.stepId, compensated, compensationFailures: problems }],
  });
}

function pickWaiter(waiters: Map<string, Waiter>, d: ApprovalDecision): Waiter | undefined {
  if (d.stepId) return waiters.get(d.stepId);
  const open = [...waiters.values()].filter((w) => !w.decision);
  return open.length === 1 ? open[0] : undefined;
}

function expressionFailure(stepId: string, err: unknown): StepFailure {
  return new StepFailure(stepId, `step "${stepId}": ${(err as Error).message}`, 'ExpressionError');
}

/** The innermost failure of an ActivityFailure chain (ApplicationFailure from the activity). */
function rootCause(err: unknown): { message: string; type?: string } {
  let e = err as { message?: string; type?: string; cause?: unknown } | undefined;
  while (e && e.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return { message: e?.message ?? String(err), type: e?.type };
}

/** The activity already says `step "x": …`; avoid saying it twice. */
function stripStepPrefix(message: string, stepId: string): string {
  const prefix = `step "${stepId}": `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

function formatMs(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
