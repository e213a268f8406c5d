/**
 * The single tool-call path. Every call — an agent's direct call through the MCP front door
 * and every step of a skill run (the callTool activity) — runs these steps, in this order:
 *
 *   step               what it does
 *   ─────────────────  ───────────────────────────────────────────────────────────
 *   authorize          the AND-gate: user not revoked, agent on gateway, visible, Cedar agent ∧ user
 *   resolve-tool       the tool exists on the server (its pinned definition, later)
 *   credential         trinary token, or the user's vault grant (else a URL elicitation)
 *   call-upstream      call over the pooled MCP connection, with `_meta`
 *   normalize-result   structured output for skills and callers
 *
 * New checks (egress filter, audit) are inserted in this table.
 */
import { authorize } from './authorize.js';
import { callUpstream } from './call-upstream.js';
import { credential } from './credential.js';
import type { PipelineDeps, PipelineStep, ToolCallContext, ToolCallRequest } from './context.js';
import { normalizeResult } from './normalize-result.js';
import { resolveTool } from './resolve-tool.js';

export const PIPELINE: ReadonlyArray<readonly [name: string, step: PipelineStep]> = [
  ['authorize', authorize],
  ['resolve-tool', resolveTool],
  ['credential', credential],
  ['call-upstream', callUpstream],
  ['normalize-result', normalizeResult],
];

/**
 * Run a tool call through the pipeline. Throws ToolCallError / UpstreamError; an `isError`
 * result from the tool is returned (the caller decides what it means).
 *
 * @example
 * const ctx = await invokeTool({ pool }, { principal, workspace, gateway, server: 'core-banking',
 *   tool: 'get_customer', arguments: { customerId: 'C-1001' } });
 * ctx.output // { customerId: 'C-1001', name: 'Ada Lovelace', … }
 */
export async function invokeTool(
  deps: PipelineDeps,
  request: ToolCallRequest,
  steps: ReadonlyArray<readonly [string, PipelineStep]> = PIPELINE,
): Promise<ToolCallContext & { result: NonNullable<ToolCallContext['result']> }> {
  const ctx: ToolCallContext = { request };
  for (const [, step] of steps) await step(ctx, deps);
  if (!ctx.result) throw new Error('tool-call pipeline finished without a result');
  return ctx as ToolCallContext & { result: NonNullable<ToolCallContext['result']> };
}
