import type { PipelineStep } from './context.js';

/**
 * The AND-gate (gateway/authz): revoked user, agent on gateway, visibility (direct calls),
 * Cedar for the agent and for the user. Skill steps skip visibility — the skill itself was
 * checked when the run started — but every step is authorized again with the principal
 * captured at start, so a revocation or a policy change stops the run at its next step.
 */
export const authorize: PipelineStep = (ctx, { authorizer }) => {
  const { principal, gateway, server, tool, arguments: args, skill, ids } = ctx.request;
  ctx.decision = authorizer.check(
    { principal, action: 'call_tool', resource: { type: 'tool', server, tool }, gateway, arguments: args },
    {
      visibility: skill === undefined,
      compensation: skill?.compensation === true,
      audit: { ids: { ...ids, ...(ctx.traceId ? { traceId: ctx.traceId } : {}) }, ...(skill ? { skill: skill.name, step: skill.stepId } : {}) },
    },
  );
};
