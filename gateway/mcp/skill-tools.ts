/**
 * Skills as MCP tools. Each skill enabled on a gateway is a tool `skill.<name>` (description
 * from SKILL.md, inputSchema from the plan's inputs, outputSchema from its outputs plus the
 * run handle). Calling it checks `run_skill` for both identities, starts the workflow (its id
 * derived from the request's idempotency key, so a retried call attaches to the same run),
 * reports progress per step, and returns the outputs — or, when the run waits (approval), a
 * run handle that `skillgate.run_status` and `skillgate.approve` take.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Json } from '../../src/skills/plan.js';
import type { CompiledSkill } from '../../src/skills/compile-all.js';
import { approveRun, getRunStatus, RunError, startSkillRun, validateInputs } from '../../src/skills/runs.js';
import { searchAttributeKeys } from '../../src/runtime/temporal.js';
import type { RunStatus } from '../../workflows/definitions.js';
import { AuthzError, type Authorizer } from '../authz/authorizer.js';
import type { Principal } from '../identity/principal.js';
import type { Extra } from './server.js';

export const SKILL_TOOL_PREFIX = 'skill.';
export const STATUS_TOOL = 'skillgate.run_status';
export const APPROVE_TOOL = 'skillgate.approve';
export const BUILTIN_TOOLS = [STATUS_TOOL, APPROVE_TOOL];
/** The request `_meta` key a client sets to make a skill call safe to retry. */
export const IDEMPOTENCY_META_KEY = 'dev.skillgate/idempotency-key';

export interface SkillToolsDeps {
  workspace: string;
  skills: () => ReadonlyMap<string, CompiledSkill>;
  client: Client;
  taskQueue: string;
  authorizer: Authorizer;
  /** How long a call waits for the run before returning a run handle (default 30 s). */
  syncWaitMs?: number;
  /** Status polling interval for progress notifications (default 150 ms). */
  pollMs?: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface SkillTools {
  list(principal: Principal, gateway: string): Tool[];
  call(principal: Principal, gateway: string, name: string, args: { [k: string]: Json }, extra: Extra): Promise<CallToolResult>;
}

const RUN_HANDLE_SCHEMA = {
  type: 'object',
  description: 'The skill run: its id (for skillgate.run_status / skillgate.approve) and state',
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['completed', 'running', 'awaiting-approval', 'failed'] },
    pendingApprovals: { type: 'array', items: { type: 'object' } },
    reason: { type: 'string' },
  },
  required: ['id', 'status'],
};

function result(structured: Record<string, unknown>, text?: string, isError = false): CallToolResult {
  return { content: [{ type: 'text', text: text ?? JSON.stringify(structured) }], structuredContent: structured, ...(isError ? { isError } : {}) };
}

function error(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

export function createSkillTools(deps: SkillToolsDeps): SkillTools {
  const { authorizer } = deps;
  const syncWaitMs = deps.syncWaitMs ?? 30_000;
  const pollMs = deps.pollMs ?? 150;

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
  });

  const statusTool: Tool = {
    name: STATUS_TOOL,
    description: 'State of a skill run you may read: per-step progress, pending approvals, outputs or failure reason.',
    inputSchema: { type: 'object', properties: { runId: { type: 'string', description: 'The run id a skill call returned' } }, required: ['runId'] },
    annotations: { readOnlyHint: true, openWorldHint: false },
  };
  const approveTool: Tool = {
    name: APPROVE_TOOL,
    description: 'Approve or reject the pending approval of a skill run. Only users holding the role the step names may decide, and never for a run they started.',
    inputSchema: {
      type: 'object',
      properties: {
        runId: { type: 'string' },
        decision: { type: 'string', enum: ['approve', 'reject'] },
        comment: { type: 'string', maxLength: 1000 },
        step: { type: 'string', description: 'The step to decide, when several wait' },
      },
      required: ['runId', 'decision'],
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  };

  /** The skill name and starting user of a run, from its search attributes; refuses runs of other workspaces. */
  const runFacts = async (runId: string): Promise<{ skill: string; startedBy: string; gateway: string; inputs: Record<string, unknown> }> => {
    const handle = deps.client.workflow.getHandle(runId);
    const d = await handle.describe().catch((err: unknown) => {
      if ((err as { name?: string }).name === 'WorkflowNotFoundError') throw new RunError('ERR_RUN_NOT_FOUND', `no skill run with id ${runId}`);
      throw err;
    });
    const [skillKey, userKey, , gatewayKey, workspaceKey] = searchAttributeKeys;
    const get = (k: (typeof searchAttributeKeys)[number] | undefined) => (k ? (d.typedSearchAttributes.get(k) as string | undefined) : undefined);
    if (d.type !== 'runSkill' || get(workspaceKey) !== deps.workspace) throw new RunError('ERR_RUN_NOT_FOUND', `no skill run with id ${runId}`);
    let inputs: Record<string, unknown> = {};
    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const payload = started?.input?.payloads?.[0]?.data;
    if (payload) {
      try {
        inputs = (JSON.parse(Buffer.from(payload).toString('utf8')) as { inputs?: Record<string, unknown> }).inputs ?? {};
      } catch {
        /* non-JSON payload converter: decide without inputs */
      }
    }
    return { skill: get(skillKey) ?? '', startedBy: get(userKey) ?? '', gateway: get(gatewayKey) ?? '', inputs };
  };

  const handleOf = (runId: string, status: RunStatus | { state: 'completed' | 'failed' }, reason?: string) => ({
    id: runId,
    status: status.state === 'compensating' ? 'running' : status.state,
    ...('pendingApprovals' in status && status.pendingApprovals.length ? { pendingApprovals: status.pendingApprovals } : {}),
    ...(reason ? { reason } : {}),
  });

  const runSkillTool = async (principal: Principal, gateway: string, skill: CompiledSkill, args: { [k: string]: Json }, extra: Extra): Promise<CallToolResult> => {
    const name = skill.plan.skill.name;
    authorizer.check({ principal, action: 'run_skill', resource: { type: 'skill', name }, gateway, arguments: args });
    let inputs;
    try {
      inputs = validateInputs(skill.plan, args);
    } catch (err) {
      if (err instanceof RunError) return error(err.message);
      throw err;
    }
    const key = extra._meta?.[IDEMPOTENCY_META_KEY];
    const workflowId =
      typeof key === 'string' && key
        ? `skill-${name}-${createHash('sha256').update(`${deps.workspace}|${gateway}|${principal.user.id}|${principal.agent.id}|${key}`).digest('hex').slice(0, 32)}`
        : undefined;
    const handle = await startSkillRun(deps.client, {
      plan: skill.plan,
      planHash: skill.hash,
      inputs,
      principal,
      workspace: deps.workspace,
      gateway,
      taskQueue: deps.taskQueue,
      ...(workflowId ? { workflowId } : {}),
    });
    deps.log('skill run started', { skill: name, runId: handle.workflowId, user: principal.user.id, agent: principal.agent.id, gateway });

    const progressToken = extra._meta?.progressToken;
    const total = skill.plan.steps.length;
    let reported = -1;
    let settled = false;
    const outcome = handle.result().then(
      (r) => ({ ok: true as const, r }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    void outcome.then(() => {
      settled = true;
    });
    const deadline = Date.now() + syncWaitMs;
    let waiting: RunStatus | undefined;
    while (!settled && Date.now() < deadline && !extra.signal.aborted) {
      const st = await getRunStatus(deps.client, handle.workflowId).catch(() => undefined);
      if (st) {
        const done = Object.values(st.steps).filter((s) => s === 'completed' || s === 'skipped').length;
        if (progressToken !== undefined && done !== reported) {
          reported = done;
          const running = Object.entries(st.steps).filter(([, s]) => s === 'running' || s === 'awaiting-approval').map(([id]) => id);
          await extra
            .sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress: done, total, message: running.length ? `running: ${running.join(', ')}` : `${done}/${total} steps done` },
            })
            .catch(() => {});
        }
        if (st.state === 'awaiting-approval') {
          waiting = st;
          break;
        }
      }
      await Promise.race([outcome, new Promise((r) => setTimeout(r, pollMs))]);
    }
    if (!settled) {
      const st = waiting ?? (await getRunStatus(deps.client, handle.workflowId).catch(() => ({ state: 'running', steps: {}, pendingApprovals: [] }) as RunStatus));
      const run = handleOf(handle.workflowId, st);
      const text =
        st.state === 'awaiting-approval'
          ? `Run ${handle.workflowId} is waiting for approval (${st.pendingApprovals.map((p) => `${p.stepId}: a ${p.role} must decide`).join('; ')}). Check it with ${STATUS_TOOL}.`
          : `Run ${handle.workflowId} is still running. Check it with ${STATUS_TOOL}.`;
      return result({ run }, text);
    }
    const o = await outcome;
    if (o.ok) {
      const outputs = (o.r as { outputs: Record<string, unknown> }).outputs;
      return result({ ...outputs, run: { id: handle.workflowId, status: 'completed' } });
    }
    const cause = (o.e as { cause?: { message?: string } }).cause;
    const reason = cause?.message ?? (o.e as Error).message;
    return error(`skill ${name} failed: ${reason} (run ${handle.workflowId})`);
  };

  return {
    list(principal, gateway) {
      const tools: Tool[] = [];
      for (const s of deps.skills().values()) {
        if (authorizer.canList(principal, gateway, { type: 'skill', name: s.plan.skill.name })) tools.push(skillTool(s));
      }
      if (tools.length) tools.push(statusTool, approveTool);
      return tools;
    },

    async call(principal, gateway, name, args, extra) {
      try {
        if (name.startsWith(SKILL_TOOL_PREFIX)) {
          const skill = deps.skills().get(name.slice(SKILL_TOOL_PREFIX.length));
          if (!skill) return error(`unknown tool "${name}"`);
          return await runSkillTool(principal, gateway, skill, args, extra);
        }
        const runId = typeof args.runId === 'string' ? args.runId : '';
        if (!runId) return error(`${name}: \`runId\` is required`);
        const facts = await runFacts(runId);
        if (name === STATUS_TOOL) {
          authorizer.check({ principal, action: 'read_run', resource: { type: 'skill', name: facts.skill }, gateway, arguments: facts.inputs, run: { startedBy: facts.startedBy } });
          const st = await getRunStatus(deps.client, runId);
          const d = await deps.client.workflow.getHandle(runId).describe();
          if (d.status.name === 'COMPLETED') {
            const r = (await deps.client.workflow.getHandle(runId).result()) as { outputs: Record<string, unknown> };
            return result({ run: { id: runId, status: 'completed' }, outputs: r.outputs, steps: st.steps });
          }
          return result({ run: handleOf(runId, st, st.reason), steps: st.steps });
        }
        if (name === APPROVE_TOOL) {
          const decision = args.decision === 'reject' ? 'reject' : args.decision === 'approve' ? 'approve' : undefined;
          if (!decision) return error(`${name}: \`decision\` must be "approve" or "reject"`);
          const step = typeof args.step === 'string' ? args.step : undefined;
          authorizer.check({
            principal,
            action: 'approve',
            resource: { type: 'skill', name: facts.skill },
            gateway,
            arguments: facts.inputs,
            run: { startedBy: facts.startedBy, ...(step ? { step } : {}) },
          });
          const rec = await approveRun(deps.client, runId, {
            approver: { id: principal.user.id, roles: principal.user.roles },
            decision,
            ...(typeof args.comment === 'string' ? { comment: args.comment } : {}),
            ...(step ? { stepId: step } : {}),
          });
          deps.log('approval decided', { runId, user: principal.user.id, agent: principal.agent.id, decision });
          return result({ run: { id: runId, status: 'running' }, decision: rec as unknown as Record<string, unknown> });
        }
        return error(`unknown tool "${name}"`);
      } catch (err) {
        if (err instanceof AuthzError) {
          deps.log('denied', { gateway, user: principal.user.id, agent: principal.agent.id, tool: name, code: err.code, detail: err.detail });
          return error(`${name}: ${err.message}`);
        }
        if (err instanceof RunError) return error(`${name}: ${err.message}`);
        throw err;
      }
    },
  };
}
