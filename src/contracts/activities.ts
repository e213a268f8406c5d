/**
 * The activities a skill run calls, as the workflow sees them (types only): the single
 * tool-call path (`callTool` — the only way a step reaches an upstream MCP server; direct
 * calls take the same `invokeTool` pipeline) and the run's own checks of what the run-actions
 * service authorized (`verifyRun`, `verifyApproval`). activities/ implements
 * `SkillgateActivities`; workflows/ proxies it.
 */
import type { Json } from './json.js';
import type { Principal } from './principal.js';
import type { RunSkillInput } from './run.js';

/** The activities of a Skillgate worker. */
export interface SkillgateActivities {
  callTool(input: CallToolInput): Promise<CallToolOutput>;
  verifyRun(input: VerifyRunInput): Promise<void>;
  verifyApproval(input: VerifyApprovalInput): Promise<VerifyApprovalOutput>;
}

/**
 * Failure `type`s of `callTool` (ApplicationFailure.type); `NotPermitted` also of the
 * verifications. `ToolWithheld`: the pinned catalog withholds the tool. `DataLossBlocked`: a
 * data-loss rule of the gateway blocked the step's arguments or withheld its result (the
 * message names the rule). `AuthorizationRequired`: the user must grant access to a
 * downstream system first (the run waits, then tries the step again). `RevocationsUnavailable`:
 * the revocation list could not be checked (its database unreachable): retryable.
 * `CatalogUnavailable`: the shared pinned catalog could not be confirmed current (its database
 * unreachable): retryable.
 */
export type ActivityFailureType =
  | 'ToolError'
  | 'UnknownTool'
  | 'ToolWithheld'
  | 'UpstreamUnavailable'
  | 'UpstreamProtocolError'
  | 'NotPermitted'
  | 'DataLossBlocked'
  | 'AuthorizationRequired'
  | 'RevocationsUnavailable'
  | 'CatalogUnavailable';

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
  /** The definition hash the plan was compiled against (`ToolRef.hash`); the pinned catalog must still serve exactly it. */
  toolHash?: string;
}

export interface CallToolOutput {
  /** structuredContent if the tool returned it, else the JSON parsed from a single text block, else { text }. */
  output: Json;
}

/** What `verifyRun` checks before a run's first step: the run's own input, as started. */
export type VerifyRunInput = RunSkillInput;

/** What `verifyApproval` checks before a decision counts. */
export interface VerifyApprovalInput {
  stepId: string;
  decision: 'approve' | 'reject';
  /** The role the step asks for. */
  role: string;
  /** The decision's attestation (absent when it did not come through the run-actions service). */
  attestation?: string;
  /** Who the decision claims to come from (only for the refusal message). */
  claimedBy: string;
  skill: string;
  workspace: string;
  gateway: string;
  /** The principal that started the run (four eyes). */
  startedBy: Principal;
  /** The run's inputs (Cedar context of `approve`). */
  inputs: { [key: string]: Json };
}

/** The approver the run records: the one the service authenticated and the run verified. */
export interface VerifyApprovalOutput {
  approver: { id: string; roles: string[] };
  agent: string;
}
