/**
 * The contract of the single tool-call path. `callTool` is the only way a skill step reaches
 * an upstream MCP server; the gateway's direct calls take the same `invokeTool` pipeline.
 */
import type { Principal } from '../gateway/identity/principal.js';
import type { Json } from '../src/skills/plan.js';

export interface CallToolInput {
  server: string;
  tool: string;
  arguments: { [key: string]: Json };
  /** The skill step, for error messages and audit. */
  stepId: string;
  skill: string;
  principal: Principal;
  workspace: string;
  gateway: string;
  /** True when this call is a compensation of `stepId`. */
  compensation?: boolean;
}

export interface CallToolOutput {
  /** structuredContent if the tool returned it, else the JSON parsed from a single text block, else { text }. */
  output: Json;
}
