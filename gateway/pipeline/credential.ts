import type { PipelineStep } from './context.js';

/**
 * The downstream credential (gateway/downstream/credentials.ts): a trinary token for a company
 * system, the user's vault grant for a third party, or nothing for a server without `auth`.
 * A missing, revoked, expired or too narrow grant throws GrantRequiredError (a URL elicitation).
 * Runs after the AND-gate: nothing is minted or looked up for a call that is not allowed.
 */
export const credential: PipelineStep = async (ctx, { credentials }) => {
  const { principal, workspace, server, tool, skill } = ctx.request;
  ctx.credential = await credentials.forCall({ principal, workspace, server, tool, ...(skill?.workflowId ? { workflowId: skill.workflowId } : {}) });
};
