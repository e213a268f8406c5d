import type { PipelineStep } from './context.js';

/**
 * The `_meta` key naming the acting user to upstream servers. A stand-in for the user's own
 * downstream token (token vault, roadmap): it lets business systems apply their record-level
 * rules. Never a credential — the agent's token is never passed upstream (MCP forbids token
 * passthrough).
 */
export const META_USER = 'dev.skillgate/user';

/** Calls the upstream tool over the pooled connection; `isError` results are kept, not thrown. */
export const callUpstream: PipelineStep = async (ctx, { pool }) => {
  const { server, tool, arguments: args, meta, signal, timeoutMs, principal } = ctx.request;
  ctx.result = await pool.callTool(server, tool, args, { meta: { ...meta, [META_USER]: principal.user.id }, signal, timeoutMs });
};
