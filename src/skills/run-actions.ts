/**
 * The run-actions service: the one place where starting, reading, deciding on and cancelling
 * a skill run is authorized. The CLI (`skillgate run / approve / cancel`), the MCP tools
 * (`skill.<name>`, `skillgate.run_status`, `skillgate.approve`, `skillgate.cancel_run`) and
 * the HTTP routes (`/runs/<id>/…`) are thin adapters over it.
 *
 *   action   Cedar action   also checked
 *   ───────  ─────────────  ───────────────────────────────────────────────────────────────
 *   start    run_skill      skill loaded, not held, visible on the gateway, inputs valid; attested
 *                           (startAndAnswer: the same checks and start, then the run's first answer)
 *   status   read_run       the run belongs to this workspace (else: not found)
 *   decide   approve        a pending approval, the step's role, four eyes; attested
 *   cancel   cancel_run     the run is still running
 *
 * Every check runs on both identities through the AND-gate (revocation, agent on gateway,
 * visibility, Cedar for the agent and for the user). What a run's facts are (who started it,
 * on which gateway, with which inputs) is read from its start event, decoded by the Temporal
 * client's data converter — never from search attributes, never defaulted when unreadable.
 * Starts and decisions carry the service's attestation (gateway/authz/run-attestation.ts), so
 * the run itself refuses any that did not come through here.
 *
 * Every refusal is a RunError with a stable code (RUN_ERROR_STATUS maps it to HTTP) and is
 * logged once, here, with both identities and the deciding side and policies — and recorded in
 * the audit trail: the AND-gate's decisions by the authorizer, the other refusals through the
 * audited logger. A cancel is recorded as an `admin.action`; starts, approvals and ends are
 * recorded by the run itself (the worker), where they take effect.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { AuthzError, type Authorizer } from '../../gateway/authz/authorizer.js';
import type { RunAttestor } from '../../gateway/authz/run-attestation.js';
import type { Principal } from '../contracts/principal.js';
import type { AuditSink } from '../contracts/audit.js';
import { auditedLogger } from '../../gateway/audit/refusals.js';
import { type Logger, refusal } from '../../gateway/log.js';
import type { AuthorizationRequest } from '../../gateway/policy/model.js';
import { AUTHORIZATION_SIGNAL, type ApprovalRecord, type AuthorizationGranted, type RunSkillResult, type RunStatus } from '../contracts/run.js';
import type { CompiledSkill } from './compile-all.js';
import { RUN_SEARCH_ATTRIBUTES } from '../contracts/search-attributes.js';
import type { Json } from '../contracts/json.js';
import {
  approveRun,
  type FirstAnswer,
  getRunStatus,
  RunError,
  type RunErrorCode,
  type RunFacts,
  runFacts,
  startSkillRun,
  startSkillRunAndAnswer,
  type StartRunOptions,
  validateInputs,
  waitForResult,
} from './runs.js';

/** The HTTP status of each refusal (adapters that speak HTTP use this table, nothing else). */
export const RUN_ERROR_STATUS: Readonly<Record<RunErrorCode, number>> = {
  ERR_RUN_INPUT_INVALID: 400,
  ERR_RUN_NOT_PERMITTED: 403,
  ERR_RUN_APPROVAL_REFUSED: 403,
  ERR_RUN_NOT_FOUND: 404,
  ERR_SKILL_UNKNOWN: 404,
  ERR_RUN_SKILL_HELD: 409,
  ERR_RUN_NOT_PENDING: 409,
  ERR_RUN_FINISHED: 409,
  ERR_RUN_FAILED: 422,
};

export interface RunActionsDeps {
  client: Client;
  workspace: string;
  taskQueue: string;
  /** The AND-gate. Required: there is no unauthorized run action. */
  authorizer: Authorizer;
  /** Signs starts and decisions for the run to verify. */
  attestor: RunAttestor;
  /** The loaded skills, by name (they change on reload). */
  skills: () => ReadonlyMap<string, CompiledSkill>;
  /**
   * Why a skill may not start now (src/skills/registry.ts `heldReason`: a tool it uses is
   * withheld by the pinned catalog), or undefined. Required: the catalog governs runs too.
   */
  held: (skill: CompiledSkill) => string | undefined;
  /** How long a step waits for the user's downstream grant (defaults.authorizationTimeout). */
  authorizationTimeoutMs?: number;
  /**
   * Ask for eager workflow start (runs.ts StartRunOptions.requestEagerStart): only when a worker
   * of this process polls `taskQueue` on the NativeConnection `client` is built on.
   */
  eagerStart?: boolean;
  log: Logger;
  /** The audit trail. Required: every refusal and every cancel is recorded. */
  audit: AuditSink;
}

/** A run this caller has just started: its id, and reads that need no further authorization. */
export interface StartedRun {
  workflowId: string;
  skill: CompiledSkill;
  /**
   * The workflow's own status (needs a worker). With `signal`, the query is cancelled when it
   * aborts: a caller about to close its connection must not leave a query in the client's retry
   * schedule (its retry would run on a closed channel and throw outside any promise).
   */
  status(opts?: { signal?: AbortSignal }): Promise<RunStatus>;
  /** Settles with the outputs, or rejects with RunError ERR_RUN_FAILED. */
  result(): Promise<RunSkillResult>;
}

/** What `status` tells a caller allowed to read the run. */
export interface RunView {
  id: string;
  skill: string;
  /** Temporal's status (RUNNING, COMPLETED, FAILED, CANCELED, TERMINATED, TIMED_OUT). */
  temporalStatus: string;
  /** The workflow's own view: steps, pending and refused approvals, failure reason. */
  run: RunStatus;
  /** When completed: the outputs. */
  outputs?: { [name: string]: Json };
  startedAt: Date;
  closedAt?: Date;
}

export interface DecideOptions {
  decision: 'approve' | 'reject';
  /** The step, when several wait. */
  step?: string;
  comment?: string;
}

export interface StartOptions {
  /**
   * A caller's retry key: the same (workspace, gateway, user, agent, key) always names the
   * same run, so a retried start attaches to it instead of starting a second one.
   */
  idempotencyKey?: string;
  /** An explicit workflow id (CLI `--workflow-id`): reusing one returns the run already started. */
  workflowId?: string;
}

export interface AnswerStartOptions extends StartOptions {
  /** How long to wait for the run's first answer (then it is `running`). */
  waitMs: number;
  /** The caller gave up: answer at once with where the run stands. */
  signal?: AbortSignal;
  /** The run has started (durably), before it answers: e.g. to report progress meanwhile. */
  onStarted?: (run: StartedRun) => void;
}

export interface RunActions {
  start(who: Principal, gateway: string, skill: string, inputs: unknown, opts?: StartOptions): Promise<StartedRun>;
  /**
   * Start exactly as `start` does (same checks, same start), and wait for the run's first
   * answer: it ended, or it waits for an approval or the user's grant, or `waitMs` passed.
   * A second call with the same idempotency key gets the same run's answer.
   */
  startAndAnswer(who: Principal, gateway: string, skill: string, inputs: unknown, opts: AnswerStartOptions): Promise<StartedRun & { answer: FirstAnswer }>;
  status(who: Principal, gateway: string, runId: string): Promise<RunView>;
  decide(who: Principal, gateway: string, runId: string, d: DecideOptions): Promise<ApprovalRecord>;
  cancel(who: Principal, gateway: string, runId: string, reason?: string): Promise<void>;
  /**
   * The runs this user started through this agent on this gateway, newest first, each one the
   * caller may read (read_run); a page at a time (`cursor` from the previous page).
   */
  list(who: Principal, gateway: string, cursor?: string): Promise<{ runs: Array<{ id: string; skill: string; status: string; startedAt: Date; closedAt?: Date }>; nextCursor?: string }>;
  /**
   * A grant arrived (the /connect callback): tell each run that waits for one of the completed
   * elicitations (signal `authorizationGranted`, no token). The run checks the vault itself on
   * its next attempt, so a signal grants nothing by itself.
   */
  grantArrived(event: { key: { provider: string; user: string; agent: string }; completed: Array<{ id: string; workflowId?: string }> }): Promise<void>;
  /** The gateway, skill and starter of a run (for adapters that act "on the run's own gateway", like the CLI). Not an authorization. */
  describe(runId: string): Promise<{ gateway: string; skill: string; startedBy: string; status: string }>;
}

/** The workflow id of an idempotent start. */
export function idempotentWorkflowId(skill: string, workspace: string, gateway: string, who: Principal, key: string): string {
  const digest = createHash('sha256').update(`${workspace}|${gateway}|${who.user.id}|${who.agent.id}|${key}`).digest('hex').slice(0, 32);
  return `skill-${skill}-${digest}`;
}

/**
 * Build the service.
 *
 * @example
 * const actions = createRunActions({ client, workspace, taskQueue, authorizer, attestor, skills: () => map, held, log });
 * const run = await actions.start(principal, 'credit-desk', 'credit-issuance', { customerId: 'C-1001', amount: 5000 });
 */
export function createRunActions(deps: RunActionsDeps): RunActions {
  const { client, authorizer, audit } = deps;
  const log = auditedLogger(deps.log, audit, deps.workspace);

  /** Runs the AND-gate (which records the decision); a refusal becomes RunError ERR_RUN_NOT_PERMITTED (logged here, once). */
  const authorize = (req: AuthorizationRequest, ctx: { runId?: string }): void => {
    try {
      authorizer.check(req, { audit: { ids: ctx.runId ? { workflowId: ctx.runId } : {} } });
    } catch (err) {
      if (!(err instanceof AuthzError)) throw err;
      const skill = req.resource.type === 'skill' ? req.resource.name : undefined;
      refusal(log, {
        ...err.logFields(),
        action: req.action,
        gateway: req.gateway,
        user: req.principal.user.id,
        agent: req.principal.agent.id,
        ...(skill ? { skill } : {}),
        ...(ctx.runId ? { runId: ctx.runId } : {}),
      });
      const unknown = err.code === 'ERR_TOOL_NOT_VISIBLE' || err.code === 'ERR_GATEWAY_UNKNOWN';
      throw new RunError(unknown ? 'ERR_SKILL_UNKNOWN' : 'ERR_RUN_NOT_PERMITTED', unknown ? `unknown skill "${skill}" on this gateway` : err.message, {
        denial: { code: err.code, detail: err.detail, ...(err.denial ? { side: err.denial.sides.join('+') } : {}) },
      });
    }
  };

  /** Logs a refusal that is not the AND-gate's and returns the error to throw. */
  const refused = (code: RunErrorCode, message: string, who: Principal, gateway: string, extra: Record<string, unknown>): RunError => {
    refusal(log, { code, gateway, user: who.user.id, agent: who.agent.id, ...extra, detail: message });
    return new RunError(code, message);
  };

  /**
   * Everything a start checks, in order — the skill is loaded and not held, the inputs are
   * valid, the AND-gate allows run_skill on the run's id — and the start it may then make.
   */
  const prepareStart = (who: Principal, gateway: string, skillName: string, rawInputs: unknown, opts: StartOptions): { skill: CompiledSkill; start: StartRunOptions } => {
    const skill = deps.skills().get(skillName);
    if (!skill) throw refused('ERR_SKILL_UNKNOWN', `unknown skill "${skillName.slice(0, 64)}"`, who, gateway, { skill: skillName.slice(0, 64) });
    const held = deps.held(skill);
    if (held) throw refused('ERR_RUN_SKILL_HELD', `${held}; it is offered again once an operator approves the tool and the skill validates against it`, who, gateway, { skill: skillName });
    const inputs = (() => {
      try {
        return validateInputs(skill.plan, rawInputs);
      } catch (err) {
        if (err instanceof RunError) refusal(log, { code: err.code, gateway, user: who.user.id, agent: who.agent.id, skill: skillName, detail: err.message });
        throw err;
      }
    })();
    // The id first, so that the decision to start names the run it started.
    const workflowId = opts.workflowId ?? (opts.idempotencyKey ? idempotentWorkflowId(skillName, deps.workspace, gateway, who, opts.idempotencyKey) : `skill-${skillName}-${randomUUID()}`);
    authorize({ principal: who, action: 'run_skill', resource: { type: 'skill', name: skillName }, gateway, arguments: inputs }, { runId: workflowId });
    return {
      skill,
      start: {
        attestor: deps.attestor,
        plan: skill.plan,
        planHash: skill.hash,
        inputs,
        principal: who,
        workspace: deps.workspace,
        gateway,
        taskQueue: deps.taskQueue,
        workflowId,
        ...(deps.authorizationTimeoutMs !== undefined ? { authorizationTimeoutMs: deps.authorizationTimeoutMs } : {}),
      },
    };
  };

  const startedRun = (id: string, skill: CompiledSkill): StartedRun => ({ workflowId: id, skill, status: (opts) => (opts?.signal ? client.withAbortSignal(opts.signal, () => getRunStatus(client, id)) : getRunStatus(client, id)),
    result: () => waitForResult(client, id) });

  const factsOf = async (who: Principal, gateway: string, runId: string): Promise<RunFacts> => {
    try {
      return await runFacts(client, runId, deps.workspace);
    } catch (err) {
      if (err instanceof RunError) refusal(log, { code: err.code, gateway, user: who.user.id, agent: who.agent.id, runId, detail: err.message });
      throw err;
    }
  };

  return {
    async start(who, gateway, skillName, rawInputs, opts = {}) {
      const { skill, start } = prepareStart(who, gateway, skillName, rawInputs, opts);
      // Eager start only here: an Update-with-Start (startAndAnswer) cannot be eager.
      const handle = await startSkillRun(client, { ...start, ...(deps.eagerStart ? { requestEagerStart: true } : {}) });
      log.info('skill run started', { skill: skillName, runId: handle.workflowId, user: who.user.id, agent: who.agent.id, gateway });
      return startedRun(handle.workflowId, skill);
    },

    async startAndAnswer(who, gateway, skillName, rawInputs, opts) {
      const { skill, start } = prepareStart(who, gateway, skillName, rawInputs, opts);
      const { workflowId, answer } = await startSkillRunAndAnswer(client, {
        ...start,
        waitMs: opts.waitMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onStarted: (id) => {
          log.info('skill run started', { skill: skillName, runId: id, user: who.user.id, agent: who.agent.id, gateway });
          opts.onStarted?.(startedRun(id, skill));
        },
      });
      return { ...startedRun(workflowId, skill), answer };
    },

    async status(who, gateway, runId) {
      const facts = await factsOf(who, gateway, runId);
      const { input } = facts;
      authorize(
        { principal: who, action: 'read_run', resource: { type: 'skill', name: input.plan.skill.name }, gateway, arguments: input.inputs, run: { startedBy: input.principal.user.id } },
        { runId },
      );
      const run = await getRunStatus(client, runId);
      const view: RunView = {
        id: runId,
        skill: input.plan.skill.name,
        temporalStatus: facts.status,
        run,
        startedAt: facts.startedAt,
        ...(facts.closedAt ? { closedAt: facts.closedAt } : {}),
      };
      if (facts.status === 'COMPLETED') view.outputs = (await waitForResult(client, runId)).outputs;
      return view;
    },

    async decide(who, gateway, runId, d) {
      const { input, status } = await factsOf(who, gateway, runId);
      const skill = input.plan.skill.name;
      const startedBy = input.principal.user.id;
      const approve = (step: string | undefined) =>
        authorize(
          { principal: who, action: 'approve', resource: { type: 'skill', name: skill }, gateway, arguments: input.inputs, run: { startedBy, ...(step ? { step } : {}) } },
          { runId },
        );
      approve(d.step);
      if (status !== 'RUNNING') throw refused('ERR_RUN_FINISHED', `skill run ${runId} has already ended (${status.toLowerCase()}): nothing to decide`, who, gateway, { runId, skill });
      // The run checks all of this again; checking here too gives the caller a precise answer
      // and keeps refusals that need no run out of its history.
      if (who.user.id === startedBy) {
        throw refused('ERR_RUN_NOT_PERMITTED', `${who.user.id} started this run and may not decide on it (four eyes)`, who, gateway, { runId, skill, reason: 'ERR_FOUR_EYES' });
      }
      const { pendingApprovals } = await getRunStatus(client, runId);
      const pending = d.step ? pendingApprovals.find((p) => p.stepId === d.step) : pendingApprovals.length === 1 ? pendingApprovals[0] : undefined;
      if (!pending) {
        const list = pendingApprovals.map((p) => `"${p.stepId}"`).join(', ');
        const why = d.step
          ? `no approval is pending for step "${d.step.slice(0, 64)}"${list ? ` (pending: ${list})` : ''}`
          : list
            ? `several approvals are pending (${list}): name the step`
            : 'no approval is pending in this run';
        throw refused('ERR_RUN_NOT_PENDING', why, who, gateway, { runId, skill });
      }
      // Policies may read the step: decide on the one that is actually pending.
      if (!d.step) approve(pending.stepId);
      if (!who.user.roles.includes(pending.role)) {
        throw refused('ERR_RUN_NOT_PERMITTED', `approver ${who.user.id} lacks role ${pending.role}`, who, gateway, { runId, skill, reason: 'ERR_APPROVER_ROLE' });
      }
      const attestation = await deps.attestor.signApproval({ workflowId: runId, stepId: pending.stepId, decision: d.decision, approver: who.user, agent: who.agent.id, gateway });
      let record: ApprovalRecord;
      try {
        record = await approveRun(client, runId, {
          stepId: pending.stepId,
          approver: { id: who.user.id, roles: who.user.roles },
          decision: d.decision,
          ...(d.comment !== undefined ? { comment: d.comment } : {}),
          attestation,
        });
      } catch (err) {
        if (err instanceof RunError) refusal(log, { code: err.code, gateway, user: who.user.id, agent: who.agent.id, runId, skill, detail: err.message });
        throw err;
      }
      log.info('approval decided', { runId, skill, step: pending.stepId, user: who.user.id, agent: who.agent.id, gateway, decision: d.decision });
      return record;
    },

    async cancel(who, gateway, runId, reason) {
      const { input, status } = await factsOf(who, gateway, runId);
      const skill = input.plan.skill.name;
      authorize(
        { principal: who, action: 'cancel_run', resource: { type: 'skill', name: skill }, gateway, arguments: input.inputs, run: { startedBy: input.principal.user.id } },
        { runId },
      );
      if (status !== 'RUNNING') throw refused('ERR_RUN_FINISHED', `skill run ${runId} has already ended (${status.toLowerCase()}): nothing to cancel`, who, gateway, { runId, skill });
      await client.workflow.getHandle(runId).cancel();
      log.info('skill run cancel requested', { runId, skill, user: who.user.id, agent: who.agent.id, gateway, ...(reason ? { reason: reason.slice(0, 200) } : {}) });
      audit.record({
        kind: 'admin.action',
        outcome: 'ok',
        reason: 'cancel',
        workspace: deps.workspace,
        gateway,
        user: who.user.id,
        agent: who.agent.id,
        skill,
        ids: { workflowId: runId },
        detail: { action: 'cancel', startedBy: input.principal.user.id, ...(reason ? { reason: reason.slice(0, 200) } : {}) },
      });
    },

    async list(who, gateway, cursor) {
      const q = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
      const query =
        `${RUN_SEARCH_ATTRIBUTES.workspace.name} = ${q(deps.workspace)} AND ${RUN_SEARCH_ATTRIBUTES.gateway.name} = ${q(gateway)} ` +
        `AND ${RUN_SEARCH_ATTRIBUTES.userId.name} = ${q(who.user.id)} AND ${RUN_SEARCH_ATTRIBUTES.agentId.name} = ${q(who.agent.id)}`;
      const page = await client.workflowService.listWorkflowExecutions({
        namespace: client.options.namespace,
        query,
        pageSize: 50,
        ...(cursor ? { nextPageToken: Buffer.from(cursor, 'base64url') } : {}),
      });
      const runs: Array<{ id: string; skill: string; status: string; startedAt: Date; closedAt?: Date }> = [];
      for (const e of page.executions ?? []) {
        const id = e.execution?.workflowId;
        if (!id) continue;
        // The search attributes only found candidates; each run's own start says whose it is.
        const facts = await runFacts(client, id, deps.workspace).catch(() => undefined);
        if (!facts || facts.input.principal.user.id !== who.user.id || facts.input.principal.agent.id !== who.agent.id || facts.input.gateway !== gateway) continue;
        try {
          authorizer.check(
            {
              principal: who,
              action: 'read_run',
              resource: { type: 'skill', name: facts.input.plan.skill.name },
              gateway,
              arguments: facts.input.inputs,
              run: { startedBy: who.user.id },
            },
            { audit: { ids: { workflowId: id } } },
          );
        } catch (err) {
          if (err instanceof AuthzError) continue;
          throw err;
        }
        runs.push({ id, skill: facts.input.plan.skill.name, status: facts.status, startedAt: facts.startedAt, ...(facts.closedAt ? { closedAt: facts.closedAt } : {}) });
      }
      const next = page.nextPageToken?.length ? Buffer.from(page.nextPageToken).toString('base64url') : undefined;
      return { runs, ...(next ? { nextCursor: next } : {}) };
    },

    async grantArrived(event) {
      const runs = new Set(event.completed.flatMap((e) => (e.workflowId ? [e.workflowId] : [])));
      await Promise.all(
        [...runs].map(async (runId) => {
          const elicitationId = event.completed.find((e) => e.workflowId === runId)?.id;
          try {
            await client.workflow.getHandle(runId).signal<[AuthorizationGranted]>(AUTHORIZATION_SIGNAL, { provider: event.key.provider, ...(elicitationId ? { elicitationId } : {}) });
            log.info('run told of a grant', { runId, provider: event.key.provider, user: event.key.user, agent: event.key.agent });
          } catch (err) {
            // The run may have ended meanwhile (timed out, cancelled): nothing waits any more.
            log.warn('could not signal a run waiting for authorization', { runId, provider: event.key.provider, error: (err as Error).message });
          }
        }),
      );
    },

    async describe(runId) {
      const { input, status } = await runFacts(client, runId, deps.workspace);
      return { gateway: input.gateway, skill: input.plan.skill.name, startedBy: input.principal.user.id, status };
    },
  };
}
