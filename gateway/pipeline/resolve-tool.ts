import type { PipelineStep } from './context.js';
import { ToolCallError } from './errors.js';

/**
 * The tool must be one the pinned catalog serves: approved, its current definition equal to the
 * pin, its server the one approved — and, for a skill step, the definition the plan was compiled
 * against (gateway/curation/catalog.ts). Unknown servers fail in the pool with their own code.
 */
export const resolveTool: PipelineStep = async (ctx, { catalog }) => {
  const { server, tool, toolHash } = ctx.request;
  const status = await catalog.check(server, tool, toolHash);
  if (!status.ok) throw new ToolCallError(status.code, `${server}.${tool} ${status.message}`, status.detail);
};
