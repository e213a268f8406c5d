/**
 * Skills over MCP — an adapter over the run-actions service (src/skills/run-actions.ts),
 * which authorizes every action. Each skill enabled on a gateway is
 *  - a tool `skill.<name>` (description from SKILL.md, inputSchema from the plan's inputs,
 *    outputSchema from its outputs plus the run handle). Calling it starts the run (its id
 *    derived from the request's idempotency key, so a retried call attaches to the same run).
 *    A client that takes tasks (2026-07-28 `io.modelcontextprotocol/tasks` extension, or a
 *    2025-11-25 task-augmented call) gets the task at once — its id is the run's workflow id,
 *    so it survives gateway restarts and is the same on every replica. Any other client waits
 *    for the run's first answer (one Update-with-Start of the run's `answer` update; progress
 *    notifications from a status poll if it asked for them): the outputs or, when the run waits
 *    for an approval or a grant, a run handle that `skillgate.run_status`, `skillgate.approve`
 *    and `skillgate.cancel_run` take;
 *  - a resource `skill://<name>/SKILL.md` and a prompt `skill.<name>`: the procedure itself,
 *    for an agent to read before it runs it (same visibility as the tool).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CallToolResult, GetPromptResult, Prompt, ReadResourceResult, Resource, Tool } from '@modelcontextprotocol/sdk/types.js';
import { META_IDEMPOTENCY_KEY } from '../../../src/contracts/meta.js';
import type { Json } from '../../../src/contracts/json.js';
import type { CompiledSkill } from '../../../src/skills/compile-all.js';
import type { RunActions, RunView, StartedRun } from '../../../src/skills/run-actions.js';
import { type FirstAnswer, RunError } from '../../../src/skills/runs.js';
import type { RunStatus } from '../../../src/contracts/run.js';
import type { Authorizer } from '../../authz/authorizer.js';
import type { Principal } from '../../../src/contracts/principal.js';
import type { McpRequestContext, Outcome, TaskHandle } from './service.js';

export const SKILL_TOOL_PREFIX = 'skill.';
export const STATUS_TOOL = 'skillgate.run_status';
export const APPROVE_TOOL = 'skillgate.approve';
export const CANCEL_TOOL = 'skillgate.cancel_run';
export const BUILTIN_TOOLS: readonly string[] = [STATUS_TOOL, APPROVE_TOOL, CANCEL_TOOL];
/** `skill://<name>/SKILL.md`: a skill's procedure as a resource. */
export const SKILL_RESOURCE_SCHEME = 'skill://';

export interface SkillToolsDeps {
  actions: RunActions;
  skills: () => ReadonlyMap<string, CompiledSkill>;
  /** For listings only (what this principal may see); every action is authorized by `actions`. */
  authorizer: Authorizer;
  /** Why a skill is held (not offered): a tool it uses is withheld by the pinned catalog. Runs are refused by `actions` too. */
  held: (skill: CompiledSkill) => string | undefined;
  /** How long a call waits for the run before returning a run handle (default 30 s). */
  syncWaitMs?: number;
  /** Status polling interval for progress notifications, when a client asked for them (default 150 ms); the answer itself is never polled for. */
  pollMs?: number;
  /** What a task tells clients to wait between polls (default 1 s). */
  taskPollIntervalMs?: number;
}

/** A task as tasks/get shows it: its state and, once terminal, the result or the error. */
export interface TaskView extends TaskHandle {
  result?: CallToolResult;
  error?: { code: number; message: string };
}

export interface SkillTools {
  list(principal: Principal, gateway: string): Tool[];
  call(ctx: McpRequestContext, name: string, args: { [k: string]: Json }): Promise<Outcome<CallToolResult>>;
  /** tasks/get: the run behind a task, if the caller may read it (RunError otherwise). */
  getTask(ctx: McpRequestContext, taskId: string): Promise<TaskView>;
  /** tasks/cancel: cancel the run (its compensations run); the task as it stands then. */
  cancelTask(ctx: McpRequestContext, taskId: string): Promise<TaskView>;
  /** tasks/list (2025-11-25): the caller's own runs on this gateway. */
  listTasks(ctx: McpRequestContext, cursor?: string): Promise<{ tasks: TaskHandle[]; nextCursor?: string }>;
  resources(principal: Principal, gateway: string): Resource[];
  /** The SKILL.md behind a `skill://` URI, or undefined when `uri` is not one of this gateway's skills. */
  readResource(principal: Principal, gateway: string, uri: string): Promise<ReadResourceResult | undefined>;
  prompts(principal: Principal, gateway: string): Prompt[];
  getPrompt(principal: Principal, gateway: string, name: string): Promise<GetPromptResult | undefined>;
}

const RUN_HANDLE_SCHEMA = {
  type: 'object',
  description: 'The skill run: its id (for skillgate.run_status / skillgate.approve) and state',
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['completed', 'running', 'awaiting-approval', 'awaiting-authorization', 'failed'] },
    pendingApprovals: { type: 'array', items: { type: 'object' } },
    pendingAuthorizations: { type: 'array', items: { type: 'object' }, description: 'Steps waiting for the user to grant a service: open `url` in a browser' },
    reason: { type: 'string' },
  },
  required: ['id', 'status'],
};

/** How long a finished run stays readable as a task (Temporal's retention decides for real). */
const TASK_TTL_MS = 24 * 60 * 60_000;

function result(structured: Record<string, unknown>, text?: string, isError = false): CallToolResult {
  return { content: [{ type: 'text', text: text ?? JSON.stringify(structured) }], structuredContent: structured, ...(isError ? { isError } : {}) };
}

function error(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** Who must act for a waiting run, in words. */
function waitingFor(st: RunStatus): string {
  return st.pendingApprovals.map((p) => `step ${p.stepId}: waiting for approval by a ${p.role} (until ${new Date(p.deadline).toISOString()})`).join('; ');
}

export function createSkillTools(deps: SkillToolsDeps): SkillTools {
  const { authorizer, actions } = deps;
  const syncWaitMs = deps.syncWaitMs ?? 30_000;
  const pollMs = deps.pollMs ?? 150;
  const taskPollMs = deps.taskPollIntervalMs ?? 1000;

  const skillTool = (s: CompiledSkill): Tool => ({
    name: `${SKILL_TOOL_PREFIX}${s.plan.skill.name}`,
    title: s.plan.skill.name,
    description: s.plan.skill.description,
    inputSchema: s.plan.inputs as Tool['inputSchema'],
    outputSchema: {
      type: 'object',
      properties: { ...(s.plan.outputSchema.properties as object), run: RUN_HANDLE_SCHEMA },
      required: ['run'],
    },
    annotations: { readOnlyHint: s.plan.steps.every((st) => st.kind !== 'tool' || st.readOnly), openWorldHint: false },
    // 2025-11-25 tasks ("Tool-Level Negotiation"): a client may run it as a task or wait for it.
    execution: { taskSupport: 'optional' },
  });

  // A skill held by the pinned catalog (one of its tools changed since it compiled) is not offered.
  const visibleSkills = (principal: Principal, gateway: string) =>
    [...deps.skills().values()].filter((s) => deps.held(s) === undefined && authorizer.canList(principal, gateway, { type: 'skill', name: s.plan.skill.name }));

  const runIdSchema = { runId: { type: 'string', description: 'The run id a skill call returned' } };
  const statusTool: Tool = {
    name: STATUS_TOOL,
    description: 'State of a skill run you may read: per-step progress, pending approvals, outputs or failure reason.',
    inputSchema: { type: 'object', properties: runIdSchema, required: ['runId'] },
    annotations: { readOnlyHint: true, openWorldHint: false },
  };
  const approveTool: Tool = {
    name: APPROVE_TOOL,
    description: 'Approve or reject the pending approval of a skill run. Only users holding the role the step names may decide, and never for a run they started.',
    inputSchema: {
      type: 'object',
      properties: {
        ...runIdSchema,
        decision: { type: 'string', enum: ['approve', 'reject'] },
        comment: { type: 'string', maxLength: 1000 },
        step: { type: 'string', description: 'The step to decide, when several wait' },
      },
      required: ['runId', 'decision'],
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  };
  const cancelTool: Tool = {
    name: CANCEL_TOOL,
    description: 'Cancel a running skill run you may cancel (your own, by default). Steps already done are compensated.',
    inputSchema: { type: 'object', properties: { ...runIdSchema, reason: { type: 'string', maxLength: 500 } }, required: ['runId'] },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  };

  const handleOf = (runId: string, status: RunStatus, reason?: string) => ({
    id: runId,
    status: status.state === 'compensating' ? 'running' : status.state,
    ...(status.pendingApprovals.length ? { pendingApprovals: status.pendingApprovals } : {}),
    ...(status.pendingAuthorizations?.length ? { pendingAuthorizations: status.pendingAuthorizations } : {}),
    ...(reason ? { reason } : {}),
  });

  /** A run as a task (2026-07-28 Tasks extension statuses; the 2025 adapter renames fields). */
  const taskOf = (v: RunView): TaskView => {
    const base = {
      taskId: v.id,
      createdAt: v.startedAt.toISOString(),
      lastUpdatedAt: (v.closedAt ?? new Date()).toISOString(),
      ttlMs: TASK_TTL_MS,
    };
    switch (v.temporalStatus) {
      case 'COMPLETED':
        return { ...base, status: 'completed', result: result({ ...v.outputs, run: { id: v.id, status: 'completed' } }) };
      case 'CANCELED':
        return { ...base, status: 'cancelled', statusMessage: 'the run was cancelled; completed steps were compensated' };
      case 'FAILED':
      case 'TERMINATED':
      case 'TIMED_OUT': {
        // A cancelled run compensates and reports, so it ends FAILED with type Cancelled (contracts/run.ts).
        if (v.run.failureType === 'Cancelled') return { ...base, status: 'cancelled', statusMessage: `the run was cancelled: ${v.run.reason ?? 'completed steps were compensated'}` };
        const reason = v.run.reason ?? `the run ended ${v.temporalStatus.toLowerCase()}`;
        return { ...base, status: 'failed', statusMessage: reason, error: { code: -32603, message: `skill ${v.skill} failed: ${reason}` } };
      }
      default:
        // An approval wait is `working`: the caller cannot answer it, a person with the role must.
        return {
          ...base,
          status: 'working',
          pollIntervalMs: taskPollMs,
          statusMessage: v.run.state === 'awaiting-approval' ? waitingFor(v.run) : v.run.state === 'compensating' ? 'compensating completed steps' : `running (${Object.entries(v.run.steps).filter(([, s]) => s === 'completed').length}/${Object.keys(v.run.steps).length} steps done)`,
        };
    }
  };

  /** Progress notifications while the run has not answered: a status poll, for progress only (the answer comes from the run). */
  const reportProgress = (ctx: McpRequestContext, run: StartedRun, answered: AbortSignal): void => {
    const progress = ctx.progress;
    if (!progress) return;
    const total = run.skill.plan.steps.length;
    let reported = -1;
    void (async () => {
      while (!answered.aborted && !ctx.signal.aborted) {
        const st = await run.status().catch(() => undefined);
        if (st && !answered.aborted) {
          const done = Object.values(st.steps).filter((s) => s === 'completed' || s === 'skipped').length;
          if (done !== reported) {
            reported = done;
            const running = Object.entries(st.steps).filter(([, s]) => s === 'running' || s === 'awaiting-approval' || s === 'awaiting-authorization').map(([sid]) => sid);
            const auth = st.pendingAuthorizations?.[0];
            await progress({ progress: done, total, message: auth ? `waiting for authorization: open ${auth.url} to grant ${auth.providerName} ${auth.scopes.join(', ')}` : running.length ? `running: ${running.join(', ')}` : `${done}/${total} steps done` }).catch(() => {});
          }
        }
        await new Promise((r) => setTimeout(r, pollMs));
      }
    })();
  };

  const runSkillTool = async (ctx: McpRequestContext, name: string, args: { [k: string]: Json }): Promise<Outcome<CallToolResult>> => {
    const key = ctx.meta[META_IDEMPOTENCY_KEY];
    const startOpts = typeof key === 'string' && key ? { idempotencyKey: key } : {};
    if (ctx.task) {
      const run = await actions.start(ctx.principal, ctx.gateway, name, args, startOpts);
      // The start is acknowledged by Temporal, so the run (the task) is durable already
      // (Tasks extension: "MUST NOT return CreateTaskResult until the task is durably created").
      const now = new Date().toISOString();
      return { kind: 'task', task: { taskId: run.workflowId, status: 'working', statusMessage: 'the run has started', createdAt: now, lastUpdatedAt: now, ttlMs: ctx.task.ttlMs ?? TASK_TTL_MS, pollIntervalMs: taskPollMs } };
    }

    // The run answers by itself (the `answer` update) once it ends or waits for someone.
    const answered = new AbortController();
    let run: StartedRun & { answer: FirstAnswer };
    try {
      run = await actions.startAndAnswer(ctx.principal, ctx.gateway, name, args, {
        ...startOpts,
        waitMs: syncWaitMs,
        signal: ctx.signal,
        onStarted: (started) => reportProgress(ctx, started, answered.signal),
      });
    } finally {
      answered.abort();
    }
    const id = run.workflowId;
    const { answer } = run;
    switch (answer.state) {
      case 'completed':
        return { kind: 'complete', result: result({ ...answer.result.outputs, run: { id, status: 'completed' } }) };
      case 'failed':
        return { kind: 'complete', result: error(`skill ${name} failed: ${answer.error.message} (run ${id})`) };
      default: {
        const st = answer.status;
        const text =
          st.state === 'awaiting-approval'
            ? `Run ${id} is waiting for approval (${st.pendingApprovals.map((p) => `${p.stepId}: a ${p.role} must decide`).join('; ')}). Check it with ${STATUS_TOOL}.`
            : st.state === 'awaiting-authorization'
              ? `Run ${id} is waiting for the user's authorization: ${(st.pendingAuthorizations ?? []).map((a) => `step ${a.stepId} needs ${a.providerName} (${a.scopes.join(', ')}): ask the user to open ${a.url}`).join('; ')}. It resumes by itself once granted; check it with ${STATUS_TOOL}.`
              : `Run ${id} is still running. Check it with ${STATUS_TOOL}.`;
        return { kind: 'complete', result: result({ run: handleOf(id, st) }, text) };
      }
    }
  };

  const skillOfUri = (uri: string): string | undefined => {
    const m = /^skill:\/\/([a-z0-9][a-z0-9-]*)\/SKILL\.md$/.exec(uri);
    return m?.[1];
  };

  return {
    list(principal, gateway) {
      const tools = visibleSkills(principal, gateway).map(skillTool);
      if (tools.length) tools.push(statusTool, approveTool, cancelTool);
      return tools;
    },

    async call(ctx, name, args) {
      try {
        if (name.startsWith(SKILL_TOOL_PREFIX)) return await runSkillTool(ctx, name.slice(SKILL_TOOL_PREFIX.length), args);
        const complete = (r: CallToolResult): Outcome<CallToolResult> => ({ kind: 'complete', result: r });
        const runId = typeof args.runId === 'string' ? args.runId : '';
        if (!runId) return complete(error(`${name}: \`runId\` is required`));
        switch (name) {
          case STATUS_TOOL: {
            const v = await actions.status(ctx.principal, ctx.gateway, runId);
            if (v.outputs) return complete(result({ run: { id: runId, status: 'completed' }, outputs: v.outputs, steps: v.run.steps }));
            return complete(result({ run: handleOf(runId, v.run, v.run.reason), steps: v.run.steps, ...(v.run.refusedApprovals.length ? { refusedApprovals: v.run.refusedApprovals } : {}) }));
          }
          case APPROVE_TOOL: {
            const decision = args.decision === 'reject' ? 'reject' : args.decision === 'approve' ? 'approve' : undefined;
            if (!decision) return complete(error(`${name}: \`decision\` must be "approve" or "reject"`));
            const rec = await actions.decide(ctx.principal, ctx.gateway, runId, {
              decision,
              ...(typeof args.comment === 'string' ? { comment: args.comment } : {}),
              ...(typeof args.step === 'string' ? { step: args.step } : {}),
            });
            return complete(result({ run: { id: runId, status: 'running' }, decision: { ...rec } }));
          }
          case CANCEL_TOOL:
            await actions.cancel(ctx.principal, ctx.gateway, runId, typeof args.reason === 'string' ? args.reason : undefined);
            return complete(result({ run: { id: runId, status: 'cancelling' } }, `Run ${runId} is being cancelled; completed steps are compensated. Check it with ${STATUS_TOOL}.`));
          default:
            return complete(error(`unknown tool "${name.slice(0, 64)}"`));
        }
      } catch (err) {
        // The service has logged the refusal; the agent gets its public message only.
        if (err instanceof RunError) return { kind: 'complete', result: error(`${name.slice(0, 80)}: ${err.message}`) };
        throw err;
      }
    },

    async getTask(ctx, taskId) {
      return taskOf(await actions.status(ctx.principal, ctx.gateway, taskId));
    },

    async cancelTask(ctx, taskId) {
      await actions.cancel(ctx.principal, ctx.gateway, taskId, 'cancelled through tasks/cancel');
      const v = await actions.status(ctx.principal, ctx.gateway, taskId);
      const t = taskOf(v);
      // Cancellation is under way (compensations run first): say so rather than "working".
      return t.status === 'working' ? { ...t, statusMessage: 'cancelling: completed steps are being compensated' } : t;
    },

    async listTasks(ctx, cursor) {
      const page = await actions.list(ctx.principal, ctx.gateway, cursor);
      const tasks: TaskHandle[] = page.runs.map((r) => ({
        taskId: r.id,
        status: r.status === 'RUNNING' ? 'working' : r.status === 'COMPLETED' ? 'completed' : r.status === 'CANCELED' ? 'cancelled' : 'failed',
        createdAt: r.startedAt.toISOString(),
        lastUpdatedAt: (r.closedAt ?? new Date()).toISOString(),
        ttlMs: TASK_TTL_MS,
        ...(r.status === 'RUNNING' ? { pollIntervalMs: taskPollMs } : {}),
      }));
      return { tasks, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
    },

    resources(principal, gateway) {
      return visibleSkills(principal, gateway).map((s) => ({
        uri: `${SKILL_RESOURCE_SCHEME}${s.plan.skill.name}/SKILL.md`,
        name: `${s.plan.skill.name} (procedure)`,
        description: `The procedure of skill ${s.plan.skill.name}, which the tool ${SKILL_TOOL_PREFIX}${s.plan.skill.name} runs: ${s.plan.skill.description}`,
        mimeType: 'text/markdown',
      }));
    },

    async readResource(principal, gateway, uri) {
      const name = skillOfUri(uri);
      if (name === undefined) return undefined;
      const skill = visibleSkills(principal, gateway).find((s) => s.plan.skill.name === name);
      if (!skill) return undefined;
      const text = await readFile(join(skill.dir, 'SKILL.md'), 'utf8');
      return { contents: [{ uri, mimeType: 'text/markdown', text }] };
    },

    prompts(principal, gateway) {
      return visibleSkills(principal, gateway).map((s) => ({
        name: `${SKILL_TOOL_PREFIX}${s.plan.skill.name}`,
        title: s.plan.skill.name,
        description: `Read the procedure of skill ${s.plan.skill.name} before running it: ${s.plan.skill.description}`,
      }));
    },

    async getPrompt(principal, gateway, name) {
      if (!name.startsWith(SKILL_TOOL_PREFIX)) return undefined;
      const skill = visibleSkills(principal, gateway).find((s) => `${SKILL_TOOL_PREFIX}${s.plan.skill.name}` === name);
      if (!skill) return undefined;
      const text = await readFile(join(skill.dir, 'SKILL.md'), 'utf8');
      return {
        description: `The procedure of skill ${skill.plan.skill.name}`,
        messages: [
          {
            role: 'user',
            content: { type: 'resource', resource: { uri: `${SKILL_RESOURCE_SCHEME}${skill.plan.skill.name}/SKILL.md`, mimeType: 'text/markdown', text } },
          },
        ],
      };
    },
  };
}
