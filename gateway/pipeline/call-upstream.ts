import { traceMeta } from '../telemetry/trace-context.js';
import { UpstreamError } from '../upstream/types.js';
import type { PipelineStep } from './context.js';

// The agent's own token is never passed upstream (MCP forbids token passthrough): only the
// credential step's — a trinary token or the user's grant — goes, as the request's
// Authorization header (HTTP) or its `_meta` equivalent (stdio, META_AUTHORIZATION).

/**
 * Calls the upstream tool over the pooled connection; `isError` results are kept, not thrown.
 * Sends the arguments as filtered (`ctx.arguments`), the credential step's Authorization, and
 * the trace context in `_meta` (SEP-414): with tracing on, this call's own CLIENT span; off,
 * the caller's as received. What the caller's client can take back (progress, log messages,
 * an `input_required` retry) goes with it (`upstream`).
 */
export const callUpstream: PipelineStep = async (ctx, { pool, telemetry, credentials }) => {
  const { server, tool, meta, signal, timeoutMs, principal, workspace, trace, gateway, skill, upstream } = ctx.request;
  let traceEntries = trace ? traceMeta(trace) : undefined;
  if (telemetry) {
    const span = telemetry.startUpstreamSpan({ server, tool, gateway, ...(skill ? { skill } : {}) });
    ctx.span = span;
    ctx.traceId = span.traceId;
    traceEntries = span.meta;
  }
  const cred = ctx.credential;
  const sentMeta = meta || traceEntries ? { ...meta, ...traceEntries } : undefined;
  try {
    ctx.result = await pool.callTool(server, tool, ctx.arguments ?? ctx.request.arguments, {
      ...upstream,
      ...(sentMeta ? { meta: sentMeta } : {}),
      signal,
      timeoutMs,
      ...(cred ? { authorization: cred.authorization } : {}),
    });
  } catch (err) {
    // 401: the provider no longer honours the grant (revoked there). 403 insufficient_scope: it wants more.
    if (cred && err instanceof UpstreamError && err.code === 'ERR_UPSTREAM_UNAUTHORIZED') {
      const elicitation = await credentials.refused(cred, { principal, workspace, server, tool, ...(skill?.workflowId ? { workflowId: skill.workflowId } : {}) }, err.challenge);
      if (elicitation) throw elicitation;
    }
    throw err;
  }
};
