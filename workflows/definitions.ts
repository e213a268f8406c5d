/**
 * The public surface of the `runSkill` workflow: its input, its update/query names and
 * their payloads. Clients (CLI, gateway) import these; the workflow implements them.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Principal } from '../gateway/identity/principal.js';
import type { CompiledPlan, Json } from '../src/skills/plan.js';

export interface RunSkillInput {
  plan: CompiledPlan;
  /** `sha256:<hex>` of the canonical plan JSON; also in memo `planHash`. */
  planHash: string;
  inputs: { [key: string]: Json };
  /** Captured at start; every step is authorized again with these identities. */
  principal: Principal;
  workspace: string;
  gateway: string;
  /**
   * Run read-only tool steps as local activities (no server round trip per step; they show
   * as markers rather than ActivityTaskScheduled events in the history). Off by default.
   */
  localReadOnlySteps?: boolean;
  /**
   * The run-actions service's signed statement that it authorized this start (gateway/authz/
   * run-attestation.ts). The run checks it before its first step; a run started any other way
   * (the Temporal CLI, a client of the frontend) ends with NotPermitted before doing anything.
   * Optional in the type only because runs recorded before it existed lack it.
   */
  attestation?: string;
}

export interface RunSkillResult {
  outputs: { [key: string]: Json };
  /** Step ids in the order they finished. */
  executed: string[];
  skipped: string[];
}

/** `cancelled`: the step was in flight when another step failed or the run was cancelled. */
export type StepState = 'pending' | 'running' | 'awaiting-approval' | 'completed' | 'skipped' | 'failed' | 'compensated' | 'cancelled';

/**
 * The `type` of the ApplicationFailure a failed run ends with (one closed union):
 * - `ToolError`: a tool step's call failed (tool answered isError, retries exhausted, timeout);
 * - `SkillFailed`: a `fail:` step ran;
 * - `ApprovalRejected` / `ApprovalTimedOut`: an approval was rejected / not given in time;
 * - `ExpressionError`: an expression could not be evaluated (missing key, wrong type, …);
 * - `Cancelled`: the run was cancelled (it still compensates and reports, hence a failure
 *   rather than Temporal's bare Canceled status, which carries no message);
 * - `InvalidPlan`: the pinned plan is inconsistent (a compiler bug; never retried);
 * - `NotPermitted`: the start was not attested by the run-actions service, or its principal
 *   may no longer run the skill (checked before the first step; nothing ran).
 */
export type RunFailureType =
  | 'ToolError'
  | 'SkillFailed'
  | 'ApprovalRejected'
  | 'ApprovalTimedOut'
  | 'ExpressionError'
  | 'Cancelled'
  | 'InvalidPlan'
  | 'NotPermitted';

/** `details[0]` of a failed run's ApplicationFailure: what failed and what the saga undid. */
export interface RunFailureDetails {
  /** The step that failed (undefined for output rendering and plan errors). */
  stepId?: string;
  type: RunFailureType;
  /**
   * For ToolError: the failing activity's own type — callTool's (`ToolError`, `UnknownTool`,
   * `UpstreamUnavailable`, …, a denial's), or `Timeout`.
   */
  activityFailureType?: string;
  /** Steps whose compensation succeeded, in the order they ran. */
  compensated: string[];
  /** Compensations that failed (the others still ran). */
  compensationFailures: Array<{ stepId: string; message: string }>;
}

export interface PendingApproval {
  stepId: string;
  role: string;
  message: string;
  /** Epoch ms (workflow time) after which the run ends with ApprovalTimedOut. */
  deadline: number;
}

/** A decision the run refused (it kept waiting); also in the history as the failed verification. */
export interface RefusedApproval {
  stepId: string;
  /** Who the decision claimed to come from (unverified: that is why it was checked). */
  claimedBy: string;
  reason: string;
  /** Epoch ms (workflow time). */
  at: number;
}

export interface RunStatus {
  state: 'running' | 'awaiting-approval' | 'compensating' | 'completed' | 'failed';
  steps: { [stepId: string]: StepState };
  pendingApprovals: PendingApproval[];
  /** Decisions refused by the run's own verification, oldest first. */
  refusedApprovals: RefusedApproval[];
  /** Why the run failed, once it has. */
  reason?: string;
  /** The failure type, once the run has failed. */
  failureType?: RunFailureType;
}

export interface ApprovalDecision {
  stepId?: string;
  /**
   * Who the sender says decides. Not trusted: the run counts the decision only after its
   * `verifyApproval` activity has checked `attestation` and the approver it names (role,
   * permission, four eyes, revocation); the record names that verified approver.
   */
  approver: { id: string; roles: string[] };
  decision: 'approve' | 'reject';
  comment?: string;
  /** The run-actions service's signed statement for this run, step and decision (run-attestation.ts). */
  attestation?: string;
}

/** What an approval step outputs (`steps.<id>.output`). */
export interface ApprovalRecord {
  approvedBy: string;
  decision: 'approve' | 'reject';
  comment: string | null;
  at: number;
}

/**
 * Approve or reject a pending approval. The validator refuses malformed decisions and steps
 * that are not pending; everything about the approver is checked by the run's verification
 * (recorded in the history), and a refused decision fails the update while the run waits on.
 */
export const approveUpdate = defineUpdate<ApprovalRecord, [ApprovalDecision]>('approve');
export const statusQuery = defineQuery<RunStatus>('status');

/** Search attributes every run carries (ids only, no PII). */
export const SEARCH_ATTRIBUTES = ['SkillName', 'UserId', 'AgentId', 'Gateway', 'Workspace'] as const;
