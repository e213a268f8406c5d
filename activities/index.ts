/**
 * The activities of a Skillgate worker, built from their dependencies (Temporal samples'
 * `createActivities(deps)`). Workflows import this module as types only.
 *
 * Every dependency that governs is required: a worker without the AND-gate, the run attestor
 * or the audit sink cannot be built (tests that mean "allow everything" pass that explicitly).
 */
import type { RunAttestor } from '../gateway/authz/run-attestation.js';
import type { PipelineDeps } from '../gateway/pipeline/context.js';
import type { SkillgateActivities } from '../src/contracts/activities.js';
import { createCallTool } from './callTool.js';
import { createVerifyApproval, createVerifyRun } from './verify.js';

export interface ActivityDeps extends PipelineDeps {
  attestor: RunAttestor;
}

export function createActivities(deps: ActivityDeps): SkillgateActivities {
  return {
    callTool: createCallTool(deps),
    verifyRun: createVerifyRun(deps),
    verifyApproval: createVerifyApproval(deps),
  };
}
