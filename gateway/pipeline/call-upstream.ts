import { META_USER } from '../../src/contracts/meta.js';
import type { PipelineStep } from './context.js';

// META_USER (src/contracts/meta.ts) names the acting user to upstream servers; never a
// credential — the agent's token is never passed upstream (MCP forbids token passthrough).

/** Calls the upstream tool over the pooled connection; `isError` results are kept, not thrown. */
export const callUpstream: PipelineStep = async (ctx, { pool }) => {
  const { server, tool, arguments: args, meta, signal, timeoutMs, principal, upstream } = ctx.request;
  ctx.result = await pool.callTool(server, tool, args, { ...upstream, meta: { ...meta, [META_USER]: principal.user.id }, signal, timeoutMs });
};
