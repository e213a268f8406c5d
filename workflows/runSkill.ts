/**
 * `runSkill`: the deterministic interpreter of a compiled skill plan (pinned in its input).
 *
 * - Scheduling: a step starts once every step in its `dependsOn` has finished (completed or
 *   skipped); independent steps run concurrently; ready steps start in document order.
 * - Tool steps are `callTool` activities with the step's own retry policy and timeout, and
 *   activity id `step/<id>` (compensations: `compensate/<id>`), so the idempotency key
 *   `<runId>/<activityId>` is the same across retries and worker crashes.
 * - `if:` false → the step is skipped (output null, `skipped: true`).
 * - The start is verified before the first step (`verifyRun`, a local activity): attested
 *   by the run-actions service for this id, principal, plan and inputs, and still permitted.
 * - Approvals wait for the `approve` update up to their timeout. A decision counts only once
 *   the `verifyApproval` activity has checked its attestation and approver (role, four eyes,
 *   revocation, Cedar); a refused one fails the update, is kept in `refusedApprovals`, and
 *   the step waits on.
 * - Saga: on any failure (tool error, fail step, rejection, approval timeout, expression
 *   error, cancellation) the steps still in flight are cancelled, the completed steps are
 *   compensated in reverse completion order (non-cancellable), then the run fails with an
 *   ApplicationFailure whose message names the step and whose `type` is a RunFailureType.
 *
 * - The audit trail hears of the run's start and end through Temporal sinks (`proxySinks`):
 *   they emit no command, so they need no patch and old histories replay unchanged.
 *
 * Deterministic code only: no Node built-ins, no I/O (eslint.config.js enforces it).
 */
import {
  ActivityFailure,
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  proxyLocalActivities,
  proxySinks,
  type RetryPolicy,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { CallToolInput, CallToolOutput, SkillgateActivities, VerifyApprovalOutput } from '../src/contracts/activities.js';
import type { RunAuditFacts, RunAuditSinks } from '../src/contracts/audit.js';
import type { Json } from '../src/contracts/json.js';
import type { ApprovalSpec, PlanStep, RetrySpec, ToolRef, ToolStep, ValueTemplate } from '../src/contracts/plan.js';
import type { AuthorizationRequired } from '../src/contracts/grants.js';
import type {
  ApprovalDecision,
  ApprovalRecord,
  AuthorizationGranted,
  PendingApproval,
  PendingAuthorization,
  RefusedApproval,
  RunAnswer,
  RunFailureDetails,
  RunFailureType,
  RunSkillInput,
  RunSkillResult,
  RunStatus,
  StepState,
} from '../src/contracts/run.js';
import { answerUpdate, approveUpdate, authorizationSignal, RUN_STATE, runStateAttribute, statusQuery } from './definitions.js';
import { formatDuration } from '../src/pure/durations.js';
import { evaluateCondition, type ExpressionContext, renderTemplate, stringify } from '../src/pure/expressions.js';

type Activities = SkillgateActivities;

/**
 * patched() ids (docs/architecture.md, "Changing workflows/"). Runs recorded before a patch
 * replay the old branch; new runs, and old runs from the point they reach it live, take the new.
 */
/** Since 0.2: the start is verified (attestation, plan hash, run_skill) before the first step. */
const PATCH_VERIFIED_START = 'skillgate-verified-start';
/** Since 0.2: a decision counts only after the verifyApproval activity. */
const PATCH_VERIFIED_APPROVALS = 'skillgate-verified-approvals';
/**
 * Since 0.3: a step whose call needs the user's downstream grant (activity failure
 * `AuthorizationRequired`) waits for it — RunState=AwaitingAuthorization, the URL in the
 * status and current details — and runs again when the grant arrives, instead of failing.
 */
const PATCH_AUTHORIZATION_WAIT = 'skillgate-authorization-wait';
/** The failure type of callTool when a step needs a grant (src/contracts/grants.ts). */
const AUTHORIZATION_REQUIRED = 'AuthorizationRequired';
const DEFAULT_AUTHORIZATION_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** The states the answer update answers in: the run has ended, or waits for someone. */
const ANSWERING_STATES: ReadonlySet<RunStatus['state']> = new Set(['completed', 'failed', 'awaiting-approval', 'awaiting-authorization']);

/**
 * The verifications retry what may pass on its own — above all `RevocationsUnavailable`, a
 * replica that cannot confirm the shared revocation list while its database restarts — for
 * ~11 s (200 ms doubling to 2 s, 9 attempts), longer than `storage.postgres.maxStalenessMs` (5 s)
 * plus a database restart; a refusal (`NotPermitted`) is never retried. Was 3 attempts from
 * 200 ms (~0.6 s). A retry policy is not part of what replay compares: recorded histories replay
 * unchanged (test/replay.test.ts), and runs in flight take the new policy at their next attempt.
 */
const VERIFY_RETRY: RetryPolicy = { maximumAttempts: 9, initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s', nonRetryableErrorTypes: ['NotPermitted'] };
const { verifyRun } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10s', retry: VERIFY_RETRY });
const { verifyApproval } = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: VERIFY_RETRY });
const { skillgateAudit } = proxySinks<RunAuditSinks>();

/** Why a step (or the run) failed, before compensation adds its report. */
interface Failure {
  type: RunFailureType;
  /** Names the step, e.g. `step "notice" failed: core-banking.send_notice: …`. */
  message: string;
  stepId?: string;
  /** The underlying Temporal failure (activity failure chain), kept as the run failure's cause. */
  cause?: Error;
  /** The activity's failure type (callTool's: ToolError, UpstreamUnavailable, …; a timeout: Timeout). */
  activityFailureType?: string;
}

type Outcome =
  | { id: string; kind: 'completed'; output: Json }
  | { id: string; kind: 'skipped' }
  | { id: string; kind: 'failed'; failure: Failure };

interface ApprovalWait {
  pending: PendingApproval;
  /** Epoch ms (workflow time) the wait began. */
  since: number;
  record?: ApprovalRecord;
  /** A decision is being verified: a second one is refused until it is settled. */
  verifying?: boolean;
}

/**
 * Run a compiled skill plan to its outputs, or fail (after compensating) with a
 * nonRetryable ApplicationFailure of a RunFailureType whose `details[0]` is RunFailureDetails.
 */
export async function runSkill(input: RunSkillInput): Promise<RunSkillResult> {
  const facts: RunAuditFacts = {
    workspace: input.workspace,
    gateway: input.gateway,
    skill: input.plan.skill.name,
    skillVersion: input.plan.skill.version,
    planHash: input.planHash,
    user: input.principal.user.id,
    agent: input.principal.agent.id,
  };
  skillgateAudit.runStarted(facts);
  try {
    const result = await new Interpreter(input).run();
    skillgateAudit.runEnded({ ...facts, outcome: 'ok', reason: 'completed', executed: result.executed });
    return result;
  } catch (err) {
    // Anything else fails the workflow task (a bug), which Temporal retries: the run has not ended.
    if (!(err instanceof ApplicationFailure) && !isCancellation(err)) throw err;
    const details = err instanceof ApplicationFailure ? (err.details?.[0] as RunFailureDetails | undefined) : undefined;
    skillgateAudit.runEnded({
      ...facts,
      outcome: 'error',
      reason: (err instanceof ApplicationFailure ? err.type : undefined) ?? (err as Error).name ?? 'Error',
      message: (err as Error).message,
      ...(details?.compensated ? { compensated: details.compensated } : {}),
    });
    throw err;
  }
}

class Interpreter {
  private readonly plan: RunSkillInput['plan'];
  private readonly states: { [id: string]: StepState } = {};
  private readonly finished: ExpressionContext['steps'] = {};
  private readonly executed: string[] = [];
  private readonly skipped: string[] = [];
  /** Completed tool steps, in completion order (the saga undoes them in reverse). */
  private readonly completedTools: ToolStep[] = [];
  private readonly approvals = new Map<string, ApprovalWait>();
  /** Every decision taken, by step, so that a second decision gets a precise refusal. */
  private readonly decisions = new Map<string, ApprovalRecord>();
  /** Decisions the verification refused, oldest first (also failed activities in the history). */
  private readonly refusals: RefusedApproval[] = [];
  /** Steps waiting for a downstream grant. */
  private readonly authorizations = new Map<string, PendingAuthorization>();
  /** Grants signalled so far, per provider (a wait ends when this grows past what it saw before the attempt). */
  private readonly grantsSignalled = new Map<string, number>();
  private phase: 'running' | 'compensating' | 'completed' | 'failed' = 'running';
  private failure?: { reason: string; type: RunFailureType };
  private result?: RunSkillResult;
  /** Set when run() returns or throws, whatever the phase says (the answer update never outlives the run). */
  private ended = false;

  constructor(private readonly input: RunSkillInput) {
    this.plan = input.plan;
    for (const s of this.plan.steps) this.states[s.id] = 'pending';
  }

  async run(): Promise<RunSkillResult> {
    setHandler(statusQuery, () => this.status());
    setHandler(approveUpdate, (d) => this.decide(d), { validator: (d) => void this.approvalFor(d) });
    setHandler(answerUpdate, () => this.answer());
    setHandler(authorizationSignal, (g: AuthorizationGranted) => {
      if (g === null || typeof g !== 'object' || typeof g.provider !== 'string') return;
      this.grantsSignalled.set(g.provider, (this.grantsSignalled.get(g.provider) ?? 0) + 1);
    });
    try {
      return await this.interpret();
    } finally {
      this.ended = true;
    }
  }

  private async interpret(): Promise<RunSkillResult> {
    const planProblem = checkPlan(this.plan.steps);
    if (planProblem) {
      this.phase = 'failed';
      this.failure = { reason: planProblem, type: 'InvalidPlan' };
      throw ApplicationFailure.create({
        message: planProblem,
        type: 'InvalidPlan',
        nonRetryable: true,
        details: [{ type: 'InvalidPlan', compensated: [], compensationFailures: [] } satisfies RunFailureDetails],
      });
    }

    if (patched(PATCH_VERIFIED_START)) {
      const refused = await this.verifyStart();
      if (refused) {
        this.phase = 'failed';
        this.failure = { reason: refused, type: 'NotPermitted' };
        log.warn('skill run refused', { skill: this.plan.skill.name, reason: refused });
        throw ApplicationFailure.create({
          message: refused,
          type: 'NotPermitted',
          nonRetryable: true,
          details: [{ type: 'NotPermitted', compensated: [], compensationFailures: [] } satisfies RunFailureDetails],
        });
      }
    }

    let failure = await this.runSteps();
    if (!failure) {
      const rendered = this.renderOutputs();
      if ('outputs' in rendered) {
        this.phase = 'completed';
        this.result = { outputs: rendered.outputs, executed: this.executed, skipped: this.skipped };
        this.refreshDetails();
        return this.result;
      }
      failure = rendered.failure;
    }
    return this.failRun(failure);
  }

  /**
   * The `answer` update: the status once the run has ended or waits for someone, with the
   * result once completed. It emits no command — a condition without a timeout, not
   * cancellable (a cancelled run compensates before it ends, and answers then) — so histories
   * recorded before it replay unchanged. The final state is set before the run returns or
   * throws, so a waiting handler finishes in the run's last workflow task, never after it.
   */
  private async answer(): Promise<RunAnswer> {
    await CancellationScope.nonCancellable(() => condition(() => this.ended || ANSWERING_STATES.has(this.status().state)));
    return { status: this.status(), ...(this.result ? { result: this.result } : {}) };
  }

  /** Undefined when the start is attested and permitted; else why not (nothing has run yet). */
  private async verifyStart(): Promise<string | undefined> {
    try {
      await verifyRun(this.input);
      return undefined;
    } catch (err) {
      return verificationFailure(err);
    }
  }

  /** Schedule steps until all finished or one failed; returns the first failure. */
  private async runSteps(): Promise<Failure | undefined> {
    // Steps run in their own scope so that a failure can cancel the others still in flight
    // without cancelling the run itself (which must go on to compensate).
    const scope = new CancellationScope();
    const running = new Map<string, Promise<Outcome>>();
    let failure: Failure | undefined;

    const startReady = (): void => {
      for (const step of this.plan.steps) {
        if (this.states[step.id] !== 'pending' || running.has(step.id)) continue;
        if (!step.dependsOn.every((d) => this.states[d] === 'completed' || this.states[d] === 'skipped')) continue;
        this.states[step.id] = 'running';
        running.set(step.id, scope.run(() => this.executeStep(step)));
      }
      this.refreshDetails();
    };

    startReady();
    while (running.size > 0) {
      // Deterministic: promises settle in the order Temporal's activations resolve them.
      const outcome = await Promise.race(running.values());
      running.delete(outcome.id);
      switch (outcome.kind) {
        case 'completed':
          this.states[outcome.id] = 'completed';
          this.finished[outcome.id] = { output: outcome.output, skipped: false };
          this.executed.push(outcome.id);
          {
            const step = this.plan.steps.find((s) => s.id === outcome.id);
            if (step?.kind === 'tool') this.completedTools.push(step);
          }
          break;
        case 'skipped':
          this.states[outcome.id] = 'skipped';
          this.finished[outcome.id] = { output: null, skipped: true };
          this.skipped.push(outcome.id);
          break;
        case 'failed':
          if (failure) {
            // A step cancelled because another one failed first.
            this.states[outcome.id] = outcome.failure.type === 'Cancelled' ? 'cancelled' : 'failed';
            break;
          }
          this.states[outcome.id] = outcome.failure.type === 'Cancelled' ? 'cancelled' : 'failed';
          failure =
            outcome.failure.type === 'Cancelled'
              ? { ...outcome.failure, message: cancelledMessage([outcome.id, ...running.keys()]) }
              : outcome.failure;
          for (const id of running.keys()) this.states[id] = 'cancelled';
          scope.cancel();
          break;
      }
      if (!failure && scope.consideredCancelled) {
        // The run was cancelled while this step finished: start nothing more.
        failure = { type: 'Cancelled', message: cancelledMessage([outcome.id, ...running.keys()]) };
        for (const id of running.keys()) this.states[id] = 'cancelled';
      }
      if (!failure) startReady();
    }
    if (!failure) {
      const stuck = this.plan.steps.filter((s) => this.states[s.id] === 'pending').map((s) => s.id);
      if (stuck.length > 0) {
        // checkPlan rules this out; kept so that a scheduler bug can never end a run "successfully".
        return { type: 'InvalidPlan', message: `steps ${quoteList(stuck)} can never start: their dependencies never finished` };
      }
    }
    return failure;
  }

  /** Run one step; never rejects except on interpreter bugs (which fail the workflow task, to be fixed and replayed). */
  private async executeStep(step: PlanStep): Promise<Outcome> {
    const id = step.id;
    try {
      if (step.if !== undefined) {
        let go: boolean;
        try {
          go = evaluateCondition(step.if, this.ctx());
        } catch (err) {
          return { id, kind: 'failed', failure: expressionFailure(id, 'if', err) };
        }
        if (!go) return { id, kind: 'skipped' };
      }
      switch (step.kind) {
        case 'fail': {
          let message: Json;
          try {
            message = renderTemplate(step.message, this.ctx());
          } catch (err) {
            return { id, kind: 'failed', failure: expressionFailure(id, 'fail', err) };
          }
          return { id, kind: 'failed', failure: { type: 'SkillFailed', stepId: id, message: `step "${id}" failed: ${stringify(message)}` } };
        }
        case 'approval': {
          const decided = await this.awaitApproval(id, step.approval);
          if ('type' in decided) return { id, kind: 'failed', failure: decided };
          return { id, kind: 'completed', output: decided as unknown as Json };
        }
        case 'tool': {
          if (step.approval) {
            const decided = await this.awaitApproval(id, step.approval);
            if ('type' in decided) return { id, kind: 'failed', failure: decided };
            this.states[id] = 'running';
          }
          let args: Json;
          try {
            args = renderArguments(step.with, this.ctx());
          } catch (err) {
            return { id, kind: 'failed', failure: expressionFailure(id, 'with', err) };
          }
          // Never a step that changes state, whatever the plan says (fail closed); plans compiled
          // before `execution` existed run as they were started (old histories replay unchanged).
          const local = step.readOnly && (step.execution !== undefined ? step.execution === 'local' : this.input.localReadOnlySteps === true);
          for (;;) {
            const signalled = new Map(this.grantsSignalled);
            try {
              const res = await this.callTool(`step/${id}`, step, step.tool, args, step.retry, step.timeoutMs, { local });
              return { id, kind: 'completed', output: res.output };
            } catch (err) {
              if (isCancellation(err)) throw err;
              const required = authorizationRequired(err);
              if (required && patched(PATCH_AUTHORIZATION_WAIT)) {
                const granted = await this.awaitAuthorization(id, required, signalled.get(required.provider) ?? 0);
                if (granted) continue; // the same step, again, with the new grant
                return {
                  id,
                  kind: 'failed',
                  failure: { type: 'AuthorizationTimedOut', stepId: id, message: `step "${id}" failed: ${required.providerName} was not authorized within ${formatDuration(this.authorizationTimeoutMs())} (${required.scopes.join(', ')})` },
                };
              }
              return this.toolFailure(id, step, err);
            }
          }
        }
      }
    } catch (err) {
      if (isCancellation(err)) return { id, kind: 'failed', failure: { type: 'Cancelled', stepId: id, message: `step "${id}" was cancelled` } };
      throw err;
    }
  }

  private authorizationTimeoutMs(): number {
    return this.input.authorizationTimeoutMs ?? DEFAULT_AUTHORIZATION_TIMEOUT_MS;
  }

  /**
   * Expose the URL and wait until a grant for the provider is signalled (after `seen`) or the
   * authorization timeout passes. RunState is AwaitingAuthorization meanwhile.
   */
  private async awaitAuthorization(stepId: string, r: AuthorizationRequired, seen: number): Promise<boolean> {
    const timeoutMs = this.authorizationTimeoutMs();
    const pending: PendingAuthorization = {
      stepId,
      provider: r.provider,
      providerName: r.providerName,
      scopes: r.scopes,
      reason: r.reason,
      url: r.url,
      elicitationId: r.elicitationId,
      message: r.message,
      since: Date.now(),
      deadline: Date.now() + timeoutMs,
    };
    this.authorizations.set(stepId, pending);
    this.states[stepId] = 'awaiting-authorization';
    upsertSearchAttributes([{ key: runStateAttribute, value: RUN_STATE.awaitingAuthorization }]);
    this.refreshDetails();
    log.info('step waits for authorization', { stepId, provider: r.provider, reason: r.reason, elicitationId: r.elicitationId });
    let granted: boolean;
    try {
      granted = await condition(() => (this.grantsSignalled.get(r.provider) ?? 0) > seen, timeoutMs);
    } finally {
      this.authorizations.delete(stepId);
      if (this.states[stepId] === 'awaiting-authorization') this.states[stepId] = 'running';
      if (this.authorizations.size === 0) upsertSearchAttributes([{ key: runStateAttribute, value: RUN_STATE.running }]);
      this.refreshDetails();
    }
    return granted;
  }

  private toolFailure(id: string, step: ToolStep, err: unknown): Outcome {
    return {
      id,
      kind: 'failed',
      failure: {
        type: 'ToolError',
        stepId: id,
        message: `step "${id}" failed: ${describeCallFailure(err, step.tool, step.retry, step.timeoutMs, id)}`,
        cause: err as Error,
        activityFailureType: activityFailureType(err),
      },
    };
  }

  /** Expose a pending approval and wait for the decision or the timeout. */
  private async awaitApproval(stepId: string, spec: ApprovalSpec): Promise<ApprovalRecord | Failure> {
    let message: string;
    try {
      message = spec.message ? stringify(renderTemplate(spec.message, this.ctx())) : `Approve step "${stepId}" of skill ${this.plan.skill.name}?`;
    } catch (err) {
      return expressionFailure(stepId, 'approval.message', err);
    }
    const wait: ApprovalWait = { pending: { stepId, role: spec.role, message, deadline: Date.now() + spec.timeoutMs }, since: Date.now() };
    this.approvals.set(stepId, wait);
    this.states[stepId] = 'awaiting-approval';
    this.refreshDetails();
    let decided: boolean;
    try {
      decided = await condition(() => wait.record !== undefined, spec.timeoutMs);
    } finally {
      this.approvals.delete(stepId);
      this.refreshDetails();
    }
    if (!decided) {
      return {
        type: 'ApprovalTimedOut',
        stepId,
        message: `no approval from ${article(spec.role)} ${spec.role} within ${formatDuration(spec.timeoutMs)} for step "${stepId}"`,
      };
    }
    const record = wait.record!;
    if (record.decision === 'reject') {
      return {
        type: 'ApprovalRejected',
        stepId,
        message: `step "${stepId}" was rejected by ${record.approvedBy}: ${record.comment ?? '(no comment)'}`,
      };
    }
    return record;
  }

  /**
   * The approval a decision targets; throws (the validator refuses the update, nothing is
   * written to the history) when the decision is malformed or its step is not pending. Who
   * decides is not looked at here: that is verified, and recorded, by decide().
   */
  private approvalFor(d: ApprovalDecision): ApprovalWait {
    if (d === null || typeof d !== 'object' || typeof d.approver?.id !== 'string' || !Array.isArray(d.approver.roles)) {
      throw new Error('invalid approval decision: expected { approver: { id, roles }, decision, stepId?, comment?, attestation? }');
    }
    if (d.decision !== 'approve' && d.decision !== 'reject') {
      throw new Error(`invalid approval decision "${String(d.decision)}": expected "approve" or "reject"`);
    }
    if (d.attestation !== undefined && typeof d.attestation !== 'string') throw new Error('invalid approval decision: attestation must be a string');
    let wait: ApprovalWait | undefined;
    if (d.stepId !== undefined) {
      const earlier = this.decisions.get(d.stepId);
      if (earlier) {
        throw new Error(`step "${d.stepId}" was already ${earlier.decision === 'approve' ? 'approved' : 'rejected'} by ${earlier.approvedBy}`);
      }
      wait = this.approvals.get(d.stepId);
      if (!wait) throw new Error(`no approval is pending for step "${d.stepId}"${this.pendingHint()}`);
    } else {
      const open = [...this.approvals.values()];
      if (open.length === 0) {
        const last = [...this.decisions.entries()].at(-1);
        throw new Error(
          last
            ? `no approval is pending (step "${last[0]}" was already ${last[1].decision === 'approve' ? 'approved' : 'rejected'} by ${last[1].approvedBy})`
            : 'no approval is pending in this run',
        );
      }
      if (open.length > 1) throw new Error(`several approvals are pending (${quoteList(open.map((w) => w.pending.stepId))}): name the step`);
      wait = open[0]!;
    }
    if (wait.verifying) throw new Error(`a decision on step "${wait.pending.stepId}" is being verified; try again in a moment`);
    return wait;
  }

  private async decide(d: ApprovalDecision): Promise<ApprovalRecord> {
    const wait = this.approvalFor(d);
    const stepId = wait.pending.stepId;
    if (!patched(PATCH_VERIFIED_APPROVALS)) {
      // A run recorded before the run verified decisions, replaying a decision it accepted then
      // (its validator had checked the role the sender claimed).
      return this.record(wait, d.approver.id, d);
    }
    wait.verifying = true;
    let verified: VerifyApprovalOutput;
    try {
      verified = await verifyApproval({
        stepId,
        decision: d.decision,
        role: wait.pending.role,
        ...(d.attestation !== undefined ? { attestation: d.attestation } : {}),
        claimedBy: d.approver.id,
        skill: this.plan.skill.name,
        workspace: this.input.workspace,
        gateway: this.input.gateway,
        startedBy: this.input.principal,
        inputs: this.input.inputs,
      });
    } catch (err) {
      const reason = verificationFailure(err);
      this.refusals.push({ stepId, claimedBy: d.approver.id, reason, at: Date.now() });
      this.refreshDetails();
      log.warn('approval refused', { stepId, claimedBy: d.approver.id, reason });
      throw ApplicationFailure.create({ message: reason, type: 'ApprovalRefused', nonRetryable: true });
    } finally {
      wait.verifying = false;
    }
    // The step may have timed out, or the run been cancelled, while the decision was checked.
    if (wait.record !== undefined || this.approvals.get(stepId) !== wait) {
      throw ApplicationFailure.create({ message: `the approval of step "${stepId}" is no longer pending`, type: 'ApprovalRefused', nonRetryable: true });
    }
    return this.record(wait, verified.approver.id, d);
  }

  private record(wait: ApprovalWait, approvedBy: string, d: ApprovalDecision): ApprovalRecord {
    const record: ApprovalRecord = { approvedBy, decision: d.decision, comment: d.comment ?? null, at: Date.now() };
    wait.record = record;
    this.decisions.set(wait.pending.stepId, record);
    return record;
  }

  private pendingHint(): string {
    const open = [...this.approvals.keys()];
    return open.length ? ` (pending: ${quoteList(open)})` : '';
  }

  /** Undo completed tool steps in reverse completion order; a failed compensation does not stop the others. */
  private async compensate(): Promise<Pick<RunFailureDetails, 'compensated' | 'compensationFailures'>> {
    const compensated: string[] = [];
    const compensationFailures: RunFailureDetails['compensationFailures'] = [];
    await CancellationScope.nonCancellable(async () => {
      for (const step of [...this.completedTools].reverse()) {
        const c = step.compensate;
        if (!c) continue;
        let message: string;
        try {
          const args = renderArguments(c.with, this.ctx());
          try {
            await this.callTool(`compensate/${step.id}`, step, c.tool, args, c.retry, c.timeoutMs, { compensation: true });
            this.states[step.id] = 'compensated';
            compensated.push(step.id);
            continue;
          } catch (err) {
            message = describeCallFailure(err, c.tool, c.retry, c.timeoutMs, step.id);
          }
        } catch (err) {
          message = `cannot evaluate \`compensate.with\`: ${err instanceof Error ? err.message : String(err)}`;
        }
        log.error('compensation failed', { stepId: step.id, message });
        compensationFailures.push({ stepId: step.id, message });
      }
    });
    return { compensated, compensationFailures };
  }

  private async failRun(failure: Failure): Promise<never> {
    this.phase = 'compensating';
    this.refreshDetails();
    const { compensated, compensationFailures } = await this.compensate();
    let reason = failure.message;
    if (compensated.length) reason += `; compensated: ${compensated.join(', ')}`;
    for (const f of compensationFailures) reason += `; compensation of "${f.stepId}" failed: ${f.message}`;
    this.phase = 'failed';
    this.failure = { reason, type: failure.type };
    this.refreshDetails();
    log.info('skill run failed', { skill: this.plan.skill.name, stepId: failure.stepId, type: failure.type });
    throw ApplicationFailure.create({
      message: reason,
      type: failure.type,
      nonRetryable: true,
      cause: failure.cause,
      details: [
        {
          ...(failure.stepId ? { stepId: failure.stepId } : {}),
          type: failure.type,
          ...(failure.activityFailureType ? { activityFailureType: failure.activityFailureType } : {}),
          compensated,
          compensationFailures,
        } satisfies RunFailureDetails,
      ],
    });
  }

  private renderOutputs(): { outputs: { [name: string]: Json } } | { failure: Failure } {
    const outputs: { [name: string]: Json } = {};
    const ctx = this.ctx();
    for (const [name, o] of Object.entries(this.plan.outputs)) {
      try {
        outputs[name] = renderTemplate(o.value, ctx);
      } catch (err) {
        return { failure: { type: 'ExpressionError', message: `output "${name}": cannot evaluate its value: ${(err as Error).message}` } };
      }
    }
    return { outputs };
  }

  private callTool(
    activityId: string,
    step: ToolStep,
    tool: ToolRef,
    args: Json,
    retry: RetrySpec,
    timeoutMs: number,
    opts: { local?: boolean; compensation?: boolean },
  ): Promise<CallToolOutput> {
    const request: CallToolInput = {
      server: tool.server,
      tool: tool.name,
      arguments: args as { [key: string]: Json },
      stepId: step.id,
      skill: this.plan.skill.name,
      principal: this.input.principal,
      workspace: this.input.workspace,
      gateway: this.input.gateway,
      ...(opts.compensation ? { compensation: true } : {}),
      // Plans compiled before curation have no hash: their activity input is unchanged (no patch needed).
      ...(tool.hash !== undefined ? { toolHash: tool.hash } : {}),
    };
    // What the Temporal UI shows for the activity instead of a bare `callTool`.
    const summary = `${opts.compensation ? `compensation of ${step.id}` : step.id} · ${tool.server}.${tool.name}`;
    if (opts.local) {
      return proxyLocalActivities<Activities>({ startToCloseTimeout: timeoutMs, retry: retryPolicy(retry), summary }).callTool(request);
    }
    return proxyActivities<Activities>({
      activityId,
      summary,
      startToCloseTimeout: timeoutMs,
      retry: retryPolicy(retry),
      // A step in flight when the run is cancelled finishes first: if it did its side effect,
      // the saga must know, so that it can compensate it.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    }).callTool(request);
  }

  /**
   * The run's "current details" in the Temporal UI (markdown): what it waits for, what runs,
   * how it ended. Workflow time only, so replay sets the same text.
   */
  private refreshDetails(): void {
    const lines: string[] = [];
    for (const w of this.approvals.values()) {
      if (w.record) continue;
      lines.push(
        `**Waiting for approval** — step \`${w.pending.stepId}\` needs ${article(w.pending.role)} **${w.pending.role}** since ${utc(w.since)} (until ${utc(w.pending.deadline)})`,
      );
    }
    for (const a of this.authorizations.values()) {
      lines.push(
        `**Waiting for authorization** — step \`${a.stepId}\` needs the user to grant ${a.providerName} ${a.scopes.map((x) => `\`${x}\``).join(', ')} (${a.reason}) since ${utc(a.since)} (until ${utc(a.deadline)}): ${a.url}`,
      );
    }
    const running = Object.entries(this.states)
      .filter(([, st]) => st === 'running')
      .map(([id]) => `\`${id}\``);
    if (running.length) lines.push(`Running: ${running.join(', ')}`);
    if (this.refusals.length) lines.push(`Refused decisions: ${this.refusals.length} (latest: ${this.refusals.at(-1)!.reason})`);
    if (this.phase === 'compensating') lines.push('Compensating completed steps');
    if (this.phase === 'completed') lines.push(`Completed: ${this.executed.length} steps done${this.skipped.length ? `, ${this.skipped.length} skipped` : ''}`);
    if (this.phase === 'failed' && this.failure) lines.push(`Failed (${this.failure.type}): ${this.failure.reason}`);
    setCurrentDetails(lines.join('\n\n'));
  }

  private ctx(): ExpressionContext {
    const u = this.input.principal.user;
    return { inputs: this.input.inputs, steps: { ...this.finished }, user: { id: u.id, roles: u.roles, groups: u.groups, attributes: u.attributes ?? {} } };
  }

  private status(): RunStatus {
    const pendingApprovals = [...this.approvals.values()].filter((w) => !w.record).map((w) => w.pending);
    const pendingAuthorizations = [...this.authorizations.values()];
    const waiting = pendingApprovals.length > 0 ? 'awaiting-approval' : pendingAuthorizations.length > 0 ? 'awaiting-authorization' : undefined;
    return {
      state: this.phase === 'running' && waiting ? waiting : this.phase,
      steps: { ...this.states },
      pendingApprovals,
      refusedApprovals: [...this.refusals],
      ...(pendingAuthorizations.length ? { pendingAuthorizations } : {}),
      ...(this.failure ? { reason: this.failure.reason, failureType: this.failure.type } : {}),
    };
  }
}

/** Structural checks the scheduler relies on (the compiler guarantees them; a hand-made plan may not). */
function checkPlan(steps: PlanStep[]): string | undefined {
  const seen = new Set<string>();
  for (const s of steps) {
    if (seen.has(s.id)) return `invalid plan: duplicate step id "${s.id}"`;
    for (const d of s.dependsOn) {
      if (!seen.has(d)) {
        return steps.some((x) => x.id === d)
          ? `invalid plan: step "${s.id}" depends on "${d}", which comes after it`
          : `invalid plan: step "${s.id}" depends on unknown step "${d}"`;
      }
    }
    seen.add(s.id);
  }
  return undefined;
}

function retryPolicy(r: RetrySpec): RetryPolicy {
  return {
    maximumAttempts: r.maximumAttempts,
    initialInterval: r.initialIntervalMs,
    backoffCoefficient: r.backoffCoefficient,
    // Temporal refuses a maximum below the initial interval.
    maximumInterval: Math.max(r.maximumIntervalMs, r.initialIntervalMs),
    nonRetryableErrorTypes: r.nonRetryableErrorTypes,
  };
}

/** Tool arguments: the rendered `with:` must be a map. */
function renderArguments(t: ValueTemplate, ctx: ExpressionContext): { [key: string]: Json } {
  const v = renderTemplate(t, ctx);
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`arguments must be a map, got ${JSON.stringify(v)}`);
  return v;
}

function expressionFailure(stepId: string, where: string, err: unknown): Failure {
  const detail = err instanceof Error ? err.message : String(err);
  return { type: 'ExpressionError', stepId, message: `step "${stepId}" failed: cannot evaluate \`${where}\`: ${detail}` };
}

/**
 * `<server>.<tool>: <what went wrong>` from an activity failure. callTool's messages start
 * with `step "<id>": ` / `compensation of step "<id>": ` and `<server>.<tool> failed: `;
 * those parts are said once, by the run's message.
 */
function describeCallFailure(err: unknown, tool: ToolRef, retry: RetrySpec, timeoutMs: number, stepId: string): string {
  const toolName = `${tool.server}.${tool.name}`;
  const activityFailure = err as Partial<ActivityFailure> & Error;
  const cause = failureCause(err);
  let text: string;
  if (cause instanceof TimeoutFailure) {
    text = `no answer within ${formatDuration(timeoutMs)} (${String(cause.timeoutType ?? 'timeout').toLowerCase().replaceAll('_', '-')} timeout)`;
  } else if (cause instanceof ApplicationFailure || cause instanceof Error) {
    text = cause.message;
  } else {
    text = activityFailure.message ?? String(err);
  }
  for (const prefix of [`step "${stepId}": `, `compensation of step "${stepId}": `]) {
    if (text.startsWith(prefix)) text = text.slice(prefix.length);
  }
  if (text.startsWith(`${toolName} failed: `)) text = `${toolName}: ${text.slice(toolName.length + ' failed: '.length)}`;
  else if (!text.startsWith(toolName)) text = `${toolName}: ${text}`;
  if (activityFailure.retryState === 'MAXIMUM_ATTEMPTS_REACHED' && retry.maximumAttempts > 1) {
    text += ` (gave up after ${retry.maximumAttempts} attempts)`;
  }
  return text;
}

/**
 * Why a call failed: the cause a regular activity's ActivityFailure wraps, or — a local
 * activity that failed for good surfaces its own failure, unwrapped — the failure itself.
 */
function failureCause(err: unknown): unknown {
  if (err instanceof ActivityFailure) return err.cause;
  if (err instanceof ApplicationFailure || err instanceof TimeoutFailure) return err;
  return (err as { cause?: unknown }).cause;
}

function activityFailureType(err: unknown): string | undefined {
  const cause = failureCause(err);
  if (cause instanceof TimeoutFailure) return 'Timeout';
  if (cause instanceof ApplicationFailure) return cause.type ?? undefined;
  return undefined;
}

/** The authorization a failed step needs (callTool's `AuthorizationRequired` failure), if that is why it failed. */
function authorizationRequired(err: unknown): AuthorizationRequired | undefined {
  const cause = failureCause(err);
  if (!(cause instanceof ApplicationFailure) || cause.type !== AUTHORIZATION_REQUIRED) return undefined;
  const d = cause.details?.[0] as AuthorizationRequired | undefined;
  return d && typeof d.provider === 'string' && typeof d.url === 'string' && Array.isArray(d.scopes) ? d : undefined;
}

/** The message of a verification activity's refusal (or of what kept it from deciding). */
function verificationFailure(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof TimeoutFailure) return 'the verification did not answer in time';
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function cancelledMessage(inFlight: string[]): string {
  if (inFlight.length === 0) return 'run cancelled';
  return inFlight.length === 1 ? `run cancelled during step "${inFlight[0]}"` : `run cancelled during steps ${quoteList(inFlight)}`;
}

function quoteList(ids: string[]): string {
  return ids.map((i) => `"${i}"`).join(', ');
}

/** 1733161331000 → "2024-12-02 17:42 UTC" (workflow time). */
function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}
