/**
 * The Temporal side of skill runs: start one (inputs validated first, the start attested),
 * send a decision, read its status and its facts, wait for its result. No authorization
 * here: product code reaches these only through the run-actions service (run-actions.ts),
 * which authorizes first; tests of the interpreter call them directly.
 */
import { randomUUID } from 'node:crypto';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import {
  type Client,
  WithStartWorkflowOperation,
  WorkflowFailedError,
  type WorkflowHandleWithStartDetails,
  type WorkflowStartOptions,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  TypedSearchAttributes,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
} from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { RunAttestor } from '../../gateway/authz/run-attestation.js';
import type { Principal } from '../contracts/principal.js';
import {
  ANSWER_UPDATE,
  APPROVE_UPDATE,
  type ApprovalDecision,
  type ApprovalRecord,
  RUN_WORKFLOW_TYPE,
  type RunFailureDetails,
  type RunFailureType,
  type RunAnswer,
  type RunSkillInput,
  type RunSkillResult,
  type RunSkillWorkflow,
  type RunStatus,
  STATUS_QUERY,
} from '../contracts/run.js';
import { RUN_SEARCH_ATTRIBUTES } from '../contracts/search-attributes.js';
import { didYouMean } from '../shared/diagnostics.js';
import { ajv } from '../shared/json-schema.js';
import type { CompiledPlan } from '../contracts/plan.js';
import type { Json } from '../contracts/json.js';


/** Why a run could not be started, approved, read or completed (one family, narrowed by `code`). */
export type RunErrorCode =
  /** The inputs do not match the skill's input schema (`problems` lists each one). */
  | 'ERR_RUN_INPUT_INVALID'
  /** No run with that workflow id. */
  | 'ERR_RUN_NOT_FOUND'
  /** The run's own verification refused the decision (attestation, role, four eyes, permission); the step still waits. */
  | 'ERR_RUN_APPROVAL_REFUSED'
  /** Nothing to decide: no approval pending (for that step), already decided, or one being verified. */
  | 'ERR_RUN_NOT_PENDING'
  /** The skill is not loaded (unknown, or it did not compile). */
  | 'ERR_SKILL_UNKNOWN'
  /** The skill is held: a tool it uses is withheld by the pinned catalog, or changed since it was compiled. */
  | 'ERR_RUN_SKILL_HELD'
  /** The AND-gate refused the action (`denial` says which side and why, for logs only). */
  | 'ERR_RUN_NOT_PERMITTED'
  /** The run has already ended: there is nothing left to approve. */
  | 'ERR_RUN_FINISHED'
  /** The run ended without a result (`failureType` says how). */
  | 'ERR_RUN_FAILED';

/** How a run ended without a result: the workflow's RunFailureType, or Temporal's own ending. */
export type RunEndType = RunFailureType | 'Terminated' | 'TimedOut' | 'Unknown';

/** One input that does not match the skill's input schema. */
export interface InputProblem {
  /** JSONPath of the value, e.g. `$.amount` (`$` is the whole input object). */
  path: string;
  message: string;
}

export class RunError extends Error {
  constructor(
    readonly code: RunErrorCode,
    message: string,
    readonly extra: {
      /** ERR_RUN_INPUT_INVALID: every problem found. */
      problems?: InputProblem[];
      /** ERR_RUN_FAILED: how the run ended. */
      failureType?: RunEndType;
      /** ERR_RUN_FAILED: what failed and what was compensated (when the workflow said). */
      details?: RunFailureDetails;
      /** ERR_RUN_NOT_PERMITTED: the refusal's own code and internal detail (logs and audit, never the agent). */
      denial?: { code: string; detail: string; side?: string; policies?: string[] };
    } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RunError';
  }

  get problems(): InputProblem[] {
    return this.extra.problems ?? [];
  }

  get failureType(): RunEndType | undefined {
    return this.extra.failureType;
  }
}


const validators = new WeakMap<object, ValidateFunction>();

/**
 * Validate run inputs against the plan's input schema, filling in defaults. Returns a copy.
 * Throws RunError ERR_RUN_INPUT_INVALID listing every problem with its JSONPath.
 *
 * @example
 * validateInputs(plan, { customerId: 'C-1001', amount: 5000 }) // → { customerId: 'C-1001', amount: 5000, termMonths: 36 }
 */
export function validateInputs(plan: CompiledPlan, inputs: unknown): { [key: string]: Json } {
  let validate = validators.get(plan.inputs);
  if (!validate) {
    validate = ajv.compile(plan.inputs);
    validators.set(plan.inputs, validate);
  }
  const copy = structuredClone(inputs ?? {}) as { [key: string]: Json };
  if (validate(copy)) return copy;
  const known = Object.keys((plan.inputs.properties as { [k: string]: Json } | undefined) ?? {});
  const problems = (validate.errors ?? []).map((e) => inputProblem(e, known));
  throw new RunError(
    'ERR_RUN_INPUT_INVALID',
    `invalid inputs for skill ${plan.skill.name}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
    { problems },
  );
}

function inputProblem(e: ErrorObject, knownInputs: string[]): InputProblem {
  const path = `$${e.instancePath
    .split('/')
    .slice(1)
    .map((seg) => {
      const key = seg.replaceAll('~1', '/').replaceAll('~0', '~');
      return /^\d+$/.test(key) ? `[${key}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    })
    .join('')}`;
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return { path: `${path}.${missing}`, message: 'is required' };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const guess = e.instancePath === '' ? didYouMean(extra, knownInputs) : undefined;
    return { path: `${path}.${extra}`, message: `is not an input of this skill${guess ? ` (did you mean "${guess}"?)` : ''}` };
  }
  return { path, message: e.message ?? 'is invalid' };
}

export interface StartRunOptions {
  /** Signs the start (the run verifies it before its first step). */
  attestor: RunAttestor;
  plan: CompiledPlan;
  /** `sha256:<hex>` of the plan (compiler output); pinned in the input and the memo. */
  planHash: string;
  /** Validated against `plan.inputs` (defaults filled in) before anything starts. */
  inputs: unknown;
  principal: Principal;
  workspace: string;
  gateway: string;
  taskQueue: string;
  /**
   * Default `skill-<name>-<uuid>`. A caller-chosen id makes starting idempotent: a second
   * start with the same id returns the run already started (running or finished).
   */
  workflowId?: string;
  /** How long a step waits for a downstream grant (RunSkillInput.authorizationTimeoutMs). */
  authorizationTimeoutMs?: number;
  /**
   * Eager workflow start: the server hands the first workflow task to a worker of this process
   * in the start response (one round trip less). Needs `client` built on the worker's
   * NativeConnection (the SDK throws otherwise); the server may decline (then it starts
   * normally). `skillgate dev` asks for it: its worker runs in the same process.
   */
  requestEagerStart?: boolean;
}

/** A run's workflow start, built once for both ways of starting it (start, update-with-start). */
interface RunStart {
  workflowId: string;
  options: WorkflowStartOptions<RunSkillWorkflow> & { workflowIdConflictPolicy: WorkflowIdConflictPolicy };
}

/**
 * Validate the inputs, sign the start and build its options: the run's input with its
 * attestation, search attributes SkillName/UserId/AgentId/Gateway/Workspace (ids only), memo
 * {planHash, skillVersion} and the Temporal UI's summary and details.
 */
async function runStart(opts: StartRunOptions): Promise<RunStart> {
  const inputs = validateInputs(opts.plan, opts.inputs);
  const args: RunSkillInput = {
    plan: opts.plan,
    planHash: opts.planHash,
    inputs,
    principal: opts.principal,
    workspace: opts.workspace,
    gateway: opts.gateway,
    ...(opts.authorizationTimeoutMs !== undefined ? { authorizationTimeoutMs: opts.authorizationTimeoutMs } : {}),
  };
  const workflowId = opts.workflowId ?? `skill-${opts.plan.skill.name}-${randomUUID()}`;
  args.attestation = await opts.attestor.signRun({
    workflowId,
    workspace: opts.workspace,
    gateway: opts.gateway,
    principal: opts.principal,
    planHash: opts.planHash,
    inputs,
  });
  return {
    workflowId,
    options: {
      taskQueue: opts.taskQueue,
      workflowId,
      args: [args],
      // A caller-chosen id is an idempotency key: never start a second run under it.
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: { planHash: opts.planHash, skillVersion: opts.plan.skill.version },
      // What the Temporal UI shows for the run instead of a bare `runSkill`.
      staticSummary: runSummary(opts.plan, opts.principal, opts.gateway, inputs),
      staticDetails: runDetails(opts.plan, opts.planHash, opts.principal, opts.gateway, inputs),
      typedSearchAttributes: new TypedSearchAttributes([
        { key: RUN_SEARCH_ATTRIBUTES.skillName, value: opts.plan.skill.name },
        { key: RUN_SEARCH_ATTRIBUTES.userId, value: opts.principal.user.id },
        { key: RUN_SEARCH_ATTRIBUTES.agentId, value: opts.principal.agent.id },
        { key: RUN_SEARCH_ATTRIBUTES.gateway, value: opts.gateway },
        { key: RUN_SEARCH_ATTRIBUTES.workspace, value: opts.workspace },
        { key: RUN_SEARCH_ATTRIBUTES.runState, value: 'Running' },
      ]),
    },
  };
}

/**
 * Start a skill run. Search attributes SkillName/UserId/AgentId/Gateway/Workspace (ids only)
 * and memo {planHash, skillVersion} let operations find it in the Temporal UI.
 *
 * @example
 * const handle = await startSkillRun(client, { plan, planHash, inputs: { customerId: 'C-1001', amount: 5000 },
 *   principal, workspace: 'acme-bank', gateway: 'credit-desk', taskQueue: 'skillgate' });
 * const result = await waitForResult(client, handle.workflowId);
 */
export async function startSkillRun(client: Client, opts: StartRunOptions): Promise<WorkflowHandleWithStartDetails<RunSkillWorkflow>> {
  const { workflowId, options } = await runStart(opts);
  try {
    return await client.workflow.start<RunSkillWorkflow>(RUN_WORKFLOW_TYPE, { ...options, ...(opts.requestEagerStart ? { requestEagerStart: true } : {}) });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError && opts.workflowId) {
      // Finished earlier under the same id: that run is the answer.
      const handle = client.workflow.getHandle<RunSkillWorkflow>(workflowId);
      const { runId } = await handle.describe();
      return Object.assign(client.workflow.getHandle<RunSkillWorkflow>(workflowId, runId), { firstExecutionRunId: runId, eagerlyStarted: false });
    }
    throw err;
  }
}

/**
 * A run's first answer: it completed (the result), it failed (the RunError ERR_RUN_FAILED
 * `waitForResult` throws), it waits for someone (`waiting`: an approval or the user's grant),
 * or it was still running when the caller stopped waiting (`running`).
 */
export type FirstAnswer =
  | { state: 'completed'; result: RunSkillResult }
  | { state: 'failed'; error: RunError }
  | { state: 'waiting' | 'running'; status: RunStatus };

export interface AnswerOptions {
  /** How long to wait for the answer; then the answer is `running`. */
  waitMs: number;
  /** The caller gave up (e.g. the MCP request was cancelled): answer `running` at once. */
  signal?: AbortSignal;
  /** Called once the run has started (its start is durable and the update accepted), before it answers. */
  onStarted?: (workflowId: string) => void;
}

/**
 * Start a skill run (or attach to the one already under `workflowId`) and wait for its first
 * answer: one Update-with-Start of the `answer` update, which the run answers once it has ended
 * or waits for someone — no polling. The start is the same as startSkillRun's (validated,
 * attested, same options). A run that already ended under the same id answers with its result.
 *
 * @example
 * const { workflowId, answer } = await startSkillRunAndAnswer(client, { ...startOptions, waitMs: 30_000 });
 * if (answer.state === 'completed') use(answer.result.outputs);
 */
export async function startSkillRunAndAnswer(client: Client, opts: StartRunOptions & AnswerOptions): Promise<{ workflowId: string; answer: FirstAnswer }> {
  const { workflowId, options } = await runStart(opts);
  const op = new WithStartWorkflowOperation<RunSkillWorkflow>(RUN_WORKFLOW_TYPE, options);
  const stop = AbortSignal.any([AbortSignal.timeout(opts.waitMs), ...(opts.signal ? [opts.signal] : [])]);
  let answer: RunAnswer;
  try {
    // ACCEPTED first: the start is known to be durable then (onStarted), whatever comes next.
    answer = await client.withAbortSignal(stop, async () => {
      const update = await client.workflow.startUpdateWithStart<RunSkillWorkflow, RunAnswer, []>(ANSWER_UPDATE, { waitForStage: 'ACCEPTED', startWorkflowOperation: op });
      opts.onStarted?.(workflowId);
      return update.result();
    });
  } catch (err) {
    return { workflowId, answer: await answerAfter(client, workflowId, err, stop) };
  }
  return { workflowId, answer: await firstAnswer(client, workflowId, answer) };
}

async function firstAnswer(client: Client, workflowId: string, a: RunAnswer): Promise<FirstAnswer> {
  const status = { ...a.status, refusedApprovals: a.status.refusedApprovals ?? [] };
  if (status.state === 'completed' && a.result) return { state: 'completed', result: a.result };
  // A failure's message, type and details are the workflow result's.
  if (status.state === 'completed' || status.state === 'failed') return ended(client, workflowId);
  return { state: status.state === 'awaiting-approval' || status.state === 'awaiting-authorization' ? 'waiting' : 'running', status };
}

/** The answer of a run that has ended: its result or its failure. */
async function ended(client: Client, workflowId: string): Promise<FirstAnswer> {
  try {
    return { state: 'completed', result: await waitForResult(client, workflowId) };
  } catch (err) {
    if (err instanceof RunError && err.code === 'ERR_RUN_FAILED') return { state: 'failed', error: err };
    throw err;
  }
}

/** How long a caller that stopped waiting still waits for the run's status. */
const STATUS_SOON_MS = 500;

/**
 * The run's status if it can say at once, else only "running". A query is answered between
 * workflow tasks, and a task that runs local reads holds the run until they are done (up to its
 * heartbeat, 8 s): a caller that stopped waiting is not kept waiting for that.
 */
async function statusSoon(client: Client, workflowId: string): Promise<RunStatus> {
  // The query is cancelled at the deadline, not left running.
  return client
    .withAbortSignal(AbortSignal.timeout(STATUS_SOON_MS), () => getRunStatus(client, workflowId))
    .catch((): RunStatus => ({ state: 'running', steps: {}, pendingApprovals: [], refusedApprovals: [] }));
}

/** The answer when the update gave none: the caller stopped waiting, the run had ended, or its worker predates the update. */
async function answerAfter(client: Client, workflowId: string, err: unknown, stop: AbortSignal): Promise<FirstAnswer> {
  // Reused id of a run that has ended (REJECT_DUPLICATE), or it ended between start and update.
  if (err instanceof WorkflowExecutionAlreadyStartedError || err instanceof WorkflowNotFoundError) return ended(client, workflowId);
  const started = () =>
    client.workflow
      .getHandle(workflowId)
      .describe()
      .then(
        () => true,
        (e: unknown) => (e instanceof WorkflowNotFoundError ? false : Promise.reject(e)),
      );
  // The caller stopped waiting: the run goes on (if it started at all — no worker may have taken it yet).
  if (stop.aborted && (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isAbort(err))) {
    if (!(await started())) throw new RunError('ERR_RUN_NOT_FOUND', `skill run ${workflowId} did not start in time (is a worker running?)`, {}, { cause: err });
    return { state: 'running', status: await statusSoon(client, workflowId) };
  }
  // A worker without the handler refuses the update: the run runs on; say where it stands.
  if (err instanceof WorkflowUpdateFailedError) return firstAnswer(client, workflowId, { status: await getRunStatus(client, workflowId) });
  throw err;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: unknown }).code === 1);
}

/**
 * One line for the Temporal UI: `credit-issuance v1 · loan-clerk via credit-assistant on
 * credit-desk · C-1001, 25000` — the skill, who, where, and the inputs that identify the case
 * (the required ones that are short scalars, at most three).
 */
export function runSummary(plan: CompiledPlan, principal: Principal, gateway: string, inputs: { [key: string]: Json }): string {
  const required = Array.isArray(plan.inputs.required) ? (plan.inputs.required as string[]) : [];
  const names = required.length ? required : Object.keys(inputs);
  const identifying = names
    .map((n) => inputs[n])
    .filter((v): v is string | number | boolean => (typeof v === 'string' && v.length <= 40) || typeof v === 'number' || typeof v === 'boolean')
    .slice(0, 3)
    .map(String);
  return [`${plan.skill.name} v${plan.skill.version}`, `${principal.user.id} via ${principal.agent.id} on ${gateway}`, ...(identifying.length ? [identifying.join(', ')] : [])].join(' · ');
}

/** The Temporal UI's details of a run (markdown): the skill, the principal, the plan hash, every input. */
export function runDetails(plan: CompiledPlan, planHash: string, principal: Principal, gateway: string, inputs: { [key: string]: Json }): string {
  const shown = (v: Json) => {
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    return text.length > 80 ? `${text.slice(0, 77)}…` : text;
  };
  return [
    `**${plan.skill.name}** v${plan.skill.version} — ${plan.skill.description}`,
    `Acting for **${principal.user.id}** (${principal.user.roles.join(', ') || 'no roles'}) through agent **${principal.agent.id}** on gateway **${gateway}**`,
    `Plan \`${planHash}\``,
    Object.entries(inputs)
      .map(([k, v]) => `- \`${k}\`: ${shown(v)}`)
      .join('\n'),
  ].join('\n\n');
}

/**
 * Wait for a run's result. A run that ends without one becomes RunError ERR_RUN_FAILED
 * carrying the workflow's message (which names the step), its failure type and details.
 */
export async function waitForResult(client: Client, workflowId: string): Promise<RunSkillResult> {
  try {
    return await client.workflow.getHandle<RunSkillWorkflow>(workflowId).result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw runFailure(err);
    throw notFound(err, workflowId);
  }
}

function runFailure(err: WorkflowFailedError): RunError {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as RunFailureDetails | undefined;
    return new RunError('ERR_RUN_FAILED', cause.message, { failureType: (cause.type ?? 'Unknown') as RunEndType, ...(details ? { details } : {}) }, { cause: err });
  }
  if (cause instanceof CancelledFailure) return new RunError('ERR_RUN_FAILED', 'the run was cancelled', { failureType: 'Cancelled' }, { cause: err });
  if (cause instanceof TerminatedFailure) {
    return new RunError('ERR_RUN_FAILED', `the run was terminated${cause.message ? `: ${cause.message}` : ''}`, { failureType: 'Terminated' }, { cause: err });
  }
  if (cause instanceof TimeoutFailure) return new RunError('ERR_RUN_FAILED', 'the run timed out', { failureType: 'TimedOut' }, { cause: err });
  return new RunError('ERR_RUN_FAILED', cause?.message ?? err.message, { failureType: 'Unknown' }, { cause: err });
}

function notFound(err: unknown, workflowId: string): unknown {
  if (err instanceof WorkflowNotFoundError) return new RunError('ERR_RUN_NOT_FOUND', `no skill run with id ${workflowId}`, {}, { cause: err });
  return err;
}

/**
 * Send a decision to a run. RunError ERR_RUN_NOT_PENDING when the workflow's validator refuses
 * it (nothing pending, already decided, malformed); ERR_RUN_APPROVAL_REFUSED when the run's
 * verification refuses the approver (the refusal is in the run's history; the step waits on).
 */
export async function approveRun(client: Client, workflowId: string, decision: ApprovalDecision): Promise<ApprovalRecord> {
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate<ApprovalRecord, [ApprovalDecision]>(APPROVE_UPDATE, { args: [decision] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const refused = err.cause instanceof ApplicationFailure && err.cause.type === 'ApprovalRefused';
      throw new RunError(refused ? 'ERR_RUN_APPROVAL_REFUSED' : 'ERR_RUN_NOT_PENDING', err.cause?.message ?? err.message, {}, { cause: err });
    }
    if (err instanceof WorkflowNotFoundError) {
      // Updates reach running workflows only: tell a finished run from an unknown id.
      const status = await client.workflow
        .getHandle(workflowId)
        .describe()
        .then((d) => d.status.name)
        .catch(() => undefined);
      if (status) throw new RunError('ERR_RUN_FINISHED', `skill run ${workflowId} has already ended (${status.toLowerCase()}): nothing to approve`, {}, { cause: err });
      throw new RunError('ERR_RUN_NOT_FOUND', `no skill run with id ${workflowId}`, {}, { cause: err });
    }
    throw err;
  }
}

/** The run's status (per-step states, pending and refused approvals, failure reason), from the workflow itself. */
export async function getRunStatus(client: Client, workflowId: string): Promise<RunStatus> {
  try {
    const st = await client.workflow.getHandle(workflowId).query<RunStatus>(STATUS_QUERY);
    // Runs recorded before refusals were kept answer without the list.
    return { ...st, refusedApprovals: st.refusedApprovals ?? [] };
  } catch (err) {
    throw notFound(err, workflowId);
  }
}

/** What a run is, from the input it was started with (the history's first event). */
export interface RunFacts {
  workflowId: string;
  /** Temporal's status name: RUNNING, COMPLETED, FAILED, CANCELED, TERMINATED, … */
  status: string;
  input: RunSkillInput;
  startedAt: Date;
  /** When the run ended (absent while it runs). */
  closedAt?: Date;
}

/**
 * The facts of a run of this workspace: its start input, decoded by the client's own data
 * converter (codecs included) — the authoritative record of who started it, where, with
 * what. RunError ERR_RUN_NOT_FOUND for an unknown id, another workflow type or another
 * workspace's run (which this workspace must not learn exists).
 */
export async function runFacts(client: Client, workflowId: string, workspace: string): Promise<RunFacts> {
  const missing = () => new RunError('ERR_RUN_NOT_FOUND', `no skill run with id ${workflowId}`);
  let described;
  try {
    described = await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw missing();
    throw err;
  }
  if (described.type !== RUN_WORKFLOW_TYPE) throw missing();
  const page = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId: described.runId },
    maximumPageSize: 1,
  });
  const payloads = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
  let input: RunSkillInput;
  try {
    input = await decodeFromPayloadsAtIndex<RunSkillInput>(client.options.loadedDataConverter, 0, payloads);
  } catch (err) {
    // Fail closed: a run whose start cannot be read cannot be authorized against.
    throw new RunError('ERR_RUN_NOT_FOUND', `skill run ${workflowId} cannot be read: ${(err as Error).message}`, {}, { cause: err });
  }
  if (input === null || typeof input !== 'object' || input.workspace !== workspace || typeof input.principal?.user?.id !== 'string') throw missing();
  return { workflowId, status: described.status.name, input, startedAt: described.startTime, ...(described.closeTime ? { closedAt: described.closeTime } : {}) };
}
