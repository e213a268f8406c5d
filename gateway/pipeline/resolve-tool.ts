import { didYouMean } from '../../src/shared/diagnostics.js';
import type { PipelineStep } from './context.js';
import { ToolCallError } from './errors.js';

/** The tool must be one the server lists (unknown servers fail in the pool with their own code). */
export const resolveTool: PipelineStep = async (ctx, { pool }) => {
  const { server, tool } = ctx.request;
  const tools = await pool.listTools(server);
  if (!tools.some((t) => t.name === tool)) {
    const guess = didYouMean(tool, tools.map((t) => t.name));
    throw new ToolCallError('ERR_TOOL_UNKNOWN', `server "${server}" has no tool "${tool}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
  }
};
