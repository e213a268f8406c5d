/**
 * The single tool-call path. Every call — an agent's direct call through the MCP front door
 * and every step of a skill run (the callTool activity) — runs these steps, in this order:
 *
 *   step               what it does
 *   ─────────────────  ───────────────────────────────────────────────────────────
 *   authorize          the AND-gate: user not revoked, agent on gateway, visible, Cedar agent ∧ user
 *   resolve-tool       the pinned catalog serves it: approved, definition = pin (gateway/curation)
 *   filter-arguments   data-loss rules of the gateway on the arguments: block or redact
 *   credential         trinary token, or the user's vault grant (else a URL elicitation)
 *   call-upstream      call over the pooled MCP connection, with `_meta` (trace context too)
 *   normalize-result   structured output for skills and callers
 *   filter-result      data-loss rules of the gateway on the result: redact or withhold
 *
 * New checks (egress, …) are inserted in this table. The runner records the call's
 * outcome and latency as one audit event (`tool.call`, or `run.compensation` for a
 * compensation), joined to its decision by the decision id; a call the AND-gate refused has
 * its `decision` event only.
 */
import { performance } from 'node:perf_hooks';
import type { AuditEventInput } from '../../src/contracts/audit.js';
import type { DataLossFinding, DataLossOutcome } from '../../src/contracts/data-loss.js';
import type { Json } from '../../src/contracts/json.js';
import { AuthzError } from '../authz/authorizer.js';
import { traceIdOf } from '../telemetry/trace-context.js';
import { authorize } from './authorize.js';
import { callUpstream } from './call-upstream.js';
import { credential } from './credential.js';
import type { PipelineDeps, PipelineStep, ToolCallContext, ToolCallRequest } from './context.js';
import { filterArguments } from './filter-arguments.js';
import { filterResult } from './filter-result.js';
import { normalizeResult } from './normalize-result.js';
import { resolveTool } from './resolve-tool.js';

export const PIPELINE: ReadonlyArray<readonly [name: string, step: PipelineStep]> = [
  ['authorize', authorize],
  ['resolve-tool', resolveTool],
  ['filter-arguments', filterArguments],
  ['credential', credential],
  ['call-upstream', callUpstream],
  ['normalize-result', normalizeResult],
  ['filter-result', filterResult],
];

/**
 * Run a tool call through the pipeline. Throws ToolCallError / UpstreamError / AuthzError /
 * DataLossError; an `isError` result from the tool is returned (the caller decides what it
 * means). With tracing on, the upstream call's span ends here, once the result has passed the
 * result filter (so the result it may record is the one the caller gets).
 *
 * @example
 * const ctx = await invokeTool({ pool, authorizer, catalog, dataLoss, audit }, { principal, workspace, gateway, server: 'core-banking',
 *   tool: 'get_customer', arguments: { customerId: 'C-1001' } });
 * ctx.output // { customerId: 'C-1001', name: 'Ada Lovelace', … }
 */
export async function invokeTool(
  deps: PipelineDeps,
  request: ToolCallRequest,
  steps: ReadonlyArray<readonly [string, PipelineStep]> = PIPELINE,
): Promise<ToolCallContext & { result: NonNullable<ToolCallContext['result']> }> {
  const ctx: ToolCallContext = { request };
  const t = deps.telemetry;
  const traceId = (t ? t.activeTraceId() : undefined) ?? (request.trace ? traceIdOf(request.trace.traceparent) : undefined);
  if (traceId) ctx.traceId = traceId;
  const started = performance.now();
  try {
    for (const [, step] of steps) await step(ctx, deps);
    if (!ctx.result) throw new Error('tool-call pipeline finished without a result');
  } catch (err) {
    if (t && ctx.span) t.endUpstreamSpan(ctx.span, { arguments: ctx.arguments ?? request.arguments, error: err });
    if (!(err instanceof AuthzError)) deps.audit.record(callEvent(ctx, started, { outcome: 'error', reason: errorCode(err), message: (err as Error).message }));
    throw err;
  }
  if (t && ctx.span) t.endUpstreamSpan(ctx.span, { arguments: ctx.arguments ?? request.arguments, result: ctx.result });
  deps.audit.record(callEvent(ctx, started, ctx.result.isError ? { outcome: 'error', reason: 'tool_error' } : { outcome: 'ok', reason: 'ok' }));
  return ctx as ToolCallContext & { result: NonNullable<ToolCallContext['result']> };
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'ERR_INTERNAL';
}

/** The audit event of a call that got past the AND-gate (or failed before it for another reason). */
function callEvent(ctx: ToolCallContext, started: number, how: { outcome: 'ok' | 'error'; reason: string; message?: string }): AuditEventInput {
  const { request: r, decision, dlp, traceId } = ctx;
  const detail: NonNullable<AuditEventInput['detail']> = {};
  if (how.message) detail.error = how.message.slice(0, 500);
  if (dlp !== undefined) detail.dlp = dlpDetail(dlp);
  return {
    kind: r.skill?.compensation ? 'run.compensation' : 'tool.call',
    outcome: how.outcome,
    reason: how.reason,
    workspace: r.workspace,
    gateway: r.gateway,
    agent: r.principal.agent.id,
    user: r.principal.user.id,
    server: r.server,
    tool: r.tool,
    ...(r.skill ? { skill: r.skill.name, step: r.skill.stepId } : {}),
    ...(decision ? { args: decision.args } : {}),
    latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
    ids: { ...r.ids, ...(traceId ? { traceId } : {}), ...(decision ? { decisionId: decision.decisionId } : {}) },
    ...(Object.keys(detail).length ? { detail } : {}),
  };
}

/** What the data-loss filters found, as the event's JSON (rule, key, where, action, count — no value). */
function dlpDetail(dlp: DataLossOutcome): Json {
  const finding = (f: DataLossFinding): Json => ({ rule: f.rule, source: f.source, in: f.in, path: f.path, action: f.action, count: f.count });
  return { findings: dlp.findings.map(finding), ...(dlp.blocked ? { blocked: finding(dlp.blocked) } : {}) };
}
