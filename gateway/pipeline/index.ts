/**
 * The single tool-call path. Every call — an agent's direct call through the MCP front door
 * and every step of a skill run (the callTool activity) — runs these steps, in this order:
 *
 *   step               what it does
 *   ─────────────────  ───────────────────────────────────────────────────────────
 *   authorize          the AND-gate: user not revoked, agent on gateway, visible, Cedar agent ∧ user
 *   resolve-tool       the pinned catalog serves it: approved, definition = pin (gateway/curation)
 *   filter-arguments   data-loss rules of the gateway on the arguments: block or redact
 *   call-upstream      call over the pooled MCP connection, with `_meta` (trace context too)
 *   normalize-result   structured output for skills and callers
 *   filter-result      data-loss rules of the gateway on the result: redact or withhold
 *
 * New checks (downstream grant, audit) are inserted in this table.
 */
import { traceIdOf } from '../telemetry/trace-context.js';
import { authorize } from './authorize.js';
import { callUpstream } from './call-upstream.js';
import type { PipelineDeps, PipelineStep, ToolCallContext, ToolCallRequest } from './context.js';
import { filterArguments } from './filter-arguments.js';
import { filterResult } from './filter-result.js';
import { normalizeResult } from './normalize-result.js';
import { resolveTool } from './resolve-tool.js';

export const PIPELINE: ReadonlyArray<readonly [name: string, step: PipelineStep]> = [
  ['authorize', authorize],
  ['resolve-tool', resolveTool],
  ['filter-arguments', filterArguments],
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
 * const ctx = await invokeTool({ pool, authorizer, catalog, dataLoss }, { principal, workspace, gateway, server: 'core-banking',
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
  try {
    for (const [, step] of steps) await step(ctx, deps);
  } catch (err) {
    if (t && ctx.span) t.endUpstreamSpan(ctx.span, { arguments: ctx.arguments ?? request.arguments, error: err });
    throw err;
  }
  if (t && ctx.span) t.endUpstreamSpan(ctx.span, { arguments: ctx.arguments ?? request.arguments, ...(ctx.result ? { result: ctx.result } : {}) });
  if (!ctx.result) throw new Error('tool-call pipeline finished without a result');
  return ctx as ToolCallContext & { result: NonNullable<ToolCallContext['result']> };
}
