/**
 * Skills as MCP tools — an adapter over the run-actions service (src/skills/run-actions.ts),
 * which authorizes every action. Each skill enabled on a gateway is a tool `skill.<name>`
 * (description from SKILL.md, inputSchema from the plan's inputs, outputSchema from its
 * outputs plus the run handle). Calling it starts the run (its id derived from the request's
 * idempotency key, so a retried call attaches to the same run), reports progress per step,
 * and returns the outputs — or, when the run waits (approval), a run handle that
 * `skillgate.run_status`, `skillgate.approve` and `skillgate.cancel_run` take.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { META_IDEMPOTENCY_KEY } from '../../../src/contracts/meta.js';
import type { Json } from '../../../src/contracts/json.js';
import type { CompiledSkill } from '../../../src/skills/compile-all.js';
import type { RunActions } from '../../../src/skills/run-actions.js';
import { RunError } from '../../../src/skills/runs.js';
import type { RunStatus } from '../../../src/contracts/run.js';
import type { Authorizer } from '../../authz/authorizer.js';
import type { Principal } from '../../../src/contracts/principal.js';
import type { Extra } from './server.js';

export const SKILL_TOOL_PREFIX = 'skill.';
export const STATUS_TOOL = 'skillgate.run_status';
export const APPROVE_TOOL = 'skillgate.approve';
export const CANCEL_TOOL = 'skillgate.cancel_run';
export const BUILTIN_TOOLS: readonly string[] = [STATUS_TOOL, APPROVE_TOOL, CANCEL_TOOL];

export interface SkillToolsDeps {
  actions: RunActions;
  skills: () => ReadonlyMap<string, CompiledSkill>;
  /** For listings only (what this principal may see); every action is authorized by `actions`. */
  authorizer: Authorizer;
  /** Why a skill is held (not offered): a tool it uses is withheld by the pinned catalog. Runs are refused by `actions` too. */
  held: (skill: CompiledSkill) => string | undefined;
  /** How long a call waits for the run before returning a run handle (default 30 s). */
  syncWaitMs?: number;
  /** Status polling interval for progress notifications (default 150 ms). */
  pollMs?: number;
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
  const { authorizer, actions } = deps;
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
    ...(reason ? { reason } : {}),
  });

  const runSkillTool = async (principal: Principal, gateway: string, name: string, args: { [k: string]: Json }, extra: Extra): Promise<CallToolResult> => {
    const key = extra._meta?.[META_IDEMPOTENCY_KEY];
    const run = await actions.start(principal, gateway, name, args, typeof key === 'string' && key ? { idempotencyKey: key } : {});
    const id = run.workflowId;

    const progressToken = extra._meta?.progressToken;
    const total = run.skill.plan.steps.length;
    let reported = -1;
    let settled = false;
    const outcome = run.result().then(
      (r) => ({ ok: true as const, r }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    void outcome.then(() => {
      settled = true;
    });
    const deadline = Date.now() + syncWaitMs;
    let waiting: RunStatus | undefined;
    while (!settled && Date.now() < deadline && !extra.signal.aborted) {
      const st = await run.status().catch(() => undefined);
      if (st) {
        const done = Object.values(st.steps).filter((s) => s === 'completed' || s === 'skipped').length;
        if (progressToken !== undefined && done !== reported) {
          reported = done;
          const running = Object.entries(st.steps).filter(([, s]) => s === 'running' || s === 'awaiting-approval').map(([sid]) => sid);
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
      const st = waiting ?? (await run.status().catch((): RunStatus => ({ state: 'running', steps: {}, pendingApprovals: [], refusedApprovals: [] })));
      const text =
        st.state === 'awaiting-approval'
          ? `Run ${id} is waiting for approval (${st.pendingApprovals.map((p) => `${p.stepId}: a ${p.role} must decide`).join('; ')}). Check it with ${STATUS_TOOL}.`
          : `Run ${id} is still running. Check it with ${STATUS_TOOL}.`;
      return result({ run: handleOf(id, st) }, text);
    }
    const o = await outcome;
    if (o.ok) return result({ ...o.r.outputs, run: { id, status: 'completed' } });
    const reason = o.e instanceof Error ? o.e.message : String(o.e);
    return error(`skill ${name} failed: ${reason} (run ${id})`);
  };

  return {
    list(principal, gateway) {
      const tools: Tool[] = [];
      for (const s of deps.skills().values()) {
        if (deps.held(s) === undefined && authorizer.canList(principal, gateway, { type: 'skill', name: s.plan.skill.name })) tools.push(skillTool(s));
      }
      if (tools.length) tools.push(statusTool, approveTool, cancelTool);
      return tools;
    },

    async call(principal, gateway, name, args, extra) {
      try {
        if (name.startsWith(SKILL_TOOL_PREFIX)) return await runSkillTool(principal, gateway, name.slice(SKILL_TOOL_PREFIX.length), args, extra);
        const runId = typeof args.runId === 'string' ? args.runId : '';
        if (!runId) return error(`${name}: \`runId\` is required`);
        switch (name) {
          case STATUS_TOOL: {
            const v = await actions.status(principal, gateway, runId);
            if (v.outputs) return result({ run: { id: runId, status: 'completed' }, outputs: v.outputs, steps: v.run.steps });
            return result({ run: handleOf(runId, v.run, v.run.reason), steps: v.run.steps, ...(v.run.refusedApprovals.length ? { refusedApprovals: v.run.refusedApprovals } : {}) });
          }
          case APPROVE_TOOL: {
            const decision = args.decision === 'reject' ? 'reject' : args.decision === 'approve' ? 'approve' : undefined;
            if (!decision) return error(`${name}: \`decision\` must be "approve" or "reject"`);
            const rec = await actions.decide(principal, gateway, runId, {
              decision,
              ...(typeof args.comment === 'string' ? { comment: args.comment } : {}),
              ...(typeof args.step === 'string' ? { step: args.step } : {}),
            });
            return result({ run: { id: runId, status: 'running' }, decision: { ...rec } });
          }
          case CANCEL_TOOL:
            await actions.cancel(principal, gateway, runId, typeof args.reason === 'string' ? args.reason : undefined);
            return result({ run: { id: runId, status: 'cancelling' } }, `Run ${runId} is being cancelled; completed steps are compensated. Check it with ${STATUS_TOOL}.`);
          default:
            return error(`unknown tool "${name.slice(0, 64)}"`);
        }
      } catch (err) {
        // The service has logged the refusal; the agent gets its public message only.
        if (err instanceof RunError) return error(`${name.slice(0, 80)}: ${err.message}`);
        throw err;
      }
    },
  };
}
