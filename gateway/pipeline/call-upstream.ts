import { UpstreamError } from '../upstream/types.js';
import type { PipelineStep } from './context.js';

// The agent's own token is never passed upstream (MCP forbids token passthrough): only the
// credential step's — a trinary token or the user's grant — goes, as the request's
// Authorization header (HTTP) or its `_meta` equivalent (stdio, META_AUTHORIZATION).

/** Calls the upstream tool over the pooled connection; `isError` results are kept, not thrown. */
export const callUpstream: PipelineStep = async (ctx, { pool, credentials }) => {
  const { server, tool, arguments: args, meta, signal, timeoutMs, principal, workspace, skill, upstream } = ctx.request;
  const cred = ctx.credential;
  try {
    ctx.result = await pool.callTool(server, tool, args, { ...upstream, ...(meta ? { meta } : {}), signal, timeoutMs, ...(cred ? { authorization: cred.authorization } : {}) });
  } catch (err) {
    // 401: the provider no longer honours the grant (revoked there). 403 insufficient_scope: it wants more.
    if (cred && err instanceof UpstreamError && err.code === 'ERR_UPSTREAM_UNAUTHORIZED') {
      const elicitation = await credentials.refused(cred, { principal, workspace, server, tool, ...(skill?.workflowId ? { workflowId: skill.workflowId } : {}) }, err.challenge);
      if (elicitation) throw elicitation;
    }
    throw err;
  }
};
