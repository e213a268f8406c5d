import type { PipelineStep } from './context.js';

/** Calls the upstream tool over the pooled connection; `isError` results are kept, not thrown. */
export const callUpstream: PipelineStep = async (ctx, { pool }) => {
  const { server, tool, arguments: args, meta, signal, timeoutMs } = ctx.request;
  ctx.result = await pool.callTool(server, tool, args, { meta, signal, timeoutMs });
};
