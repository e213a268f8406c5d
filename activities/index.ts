/**
 * The activities of a Skillgate worker, built from their dependencies (Temporal samples'
 * `createActivities(deps)`). Workflows import this module as types only.
 */
import type { PipelineDeps } from '../gateway/pipeline/context.js';
import { createCallTool } from './callTool.js';

export type ActivityDeps = PipelineDeps;

export function createActivities(deps: ActivityDeps) {
  return {
    callTool: createCallTool(deps),
  };
}
