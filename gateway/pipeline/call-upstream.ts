import { META_USER } from '../../src/contracts/meta.js';
import { traceMeta } from '../telemetry/trace-context.js';
import type { PipelineStep } from './context.js';

// META_USER (src/contracts/meta.ts) names the acting user to upstream servers; never a
// credential — the agent's token is never passed upstream (MCP forbids token passthrough).

/**
 * Calls the upstream tool over the pooled connection; `isError` results are kept, not thrown.
 * Sends the arguments as filtered (`ctx.arguments`) and the trace context in `_meta`
 * (SEP-414): with tracing on, this call's own CLIENT span; off, the caller's as received.
 * What the caller's client can take back (progress, log messages, an `input_required` retry)
 * goes with it (`upstream`).
 */
export const callUpstream: PipelineStep = async (ctx, { pool, telemetry }) => {
  const { server, tool, meta, signal, timeoutMs, principal, trace, gateway, skill, upstream } = ctx.request;
  let traceEntries = trace ? traceMeta(trace) : undefined;
  if (telemetry) {
    const span = telemetry.startUpstreamSpan({ server, tool, gateway, ...(skill ? { skill } : {}) });
    ctx.span = span;
    ctx.traceId = span.traceId;
    traceEntries = span.meta;
  }
  ctx.result = await pool.callTool(server, tool, ctx.arguments ?? ctx.request.arguments, {
    ...upstream,
    meta: { ...meta, ...traceEntries, [META_USER]: principal.user.id },
    signal,
    timeoutMs,
  });
};
