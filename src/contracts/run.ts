/**
 * The messages of a skill run (types only): its input as the run-actions service starts it,
 * its result, its status, approval decisions and records, and how a run fails. The
 * `runSkill` workflow implements them (workflows/definitions.ts defines its update and
 * query); clients name them by the string types below.
 */
import type { Json } from './json.js';
import type { CompiledPlan } from './plan.js';
import type { Principal } from './principal.js';

/** The workflow type of a skill run. */
export type RunWorkflowType = 'runSkill';
/** The update that decides a pending approval. */
export type ApproveUpdateName = 'approve';
/** The query that returns a run's RunStatus. */
export type StatusQueryName = 'status';
/**
 * The update that answers once the run has ended or waits for someone (an approval, the
 * user's grant): a synchronous caller's first answer (RunAnswer), without polling.
 */
export type AnswerUpdateName = 'answer';
/** The signal that tells a run waiting for authorization that a grant arrived (no token in it). */
export type AuthorizationSignalName = 'authorizationGranted';
export const AUTHORIZATION_SIGNAL: AuthorizationSignalName = 'authorizationGranted';

/** The payload of the authorizationGranted signal: which provider, which elicitation. Never a token. */
export interface AuthorizationGranted {
  provider: string;
  elicitationId?: string;
}

export const RUN_WORKFLOW_TYPE: RunWorkflowType = 'runSkill';

/** The workflow's signature, for typed client handles (`client.workflow.start<RunSkillWorkflow>(…)`). */
export type RunSkillWorkflow = (input: RunSkillInput) => Promise<RunSkillResult>;
export const APPROVE_UPDATE: ApproveUpdateName = 'approve';
export const STATUS_QUERY: StatusQueryName = 'status';
export const ANSWER_UPDATE: AnswerUpdateName = 'answer';

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
  /** How long a step waits for the user to grant a downstream provider (URL elicitation); default 24 h. */
  authorizationTimeoutMs?: number;
}

export interface RunSkillResult {
  outputs: { [key: string]: Json };
  /** Step ids in the order they finished. */
  executed: string[];
  skipped: string[];
}

/** `cancelled`: the step was in flight when another step failed or the run was cancelled. */
export type StepState = 'pending' | 'running' | 'awaiting-approval' | 'awaiting-authorization' | 'completed' | 'skipped' | 'failed' | 'compensated' | 'cancelled';

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
 *   may no longer run the skill (checked before the first step; nothing ran);
 * - `AuthorizationTimedOut`: a step waited for the user to grant a downstream provider
 *   (URL elicitation) longer than the run's authorization timeout.
 */
export type RunFailureType =
  | 'ToolError'
  | 'SkillFailed'
  | 'ApprovalRejected'
  | 'ApprovalTimedOut'
  | 'ExpressionError'
  | 'Cancelled'
  | 'InvalidPlan'
  | 'NotPermitted'
  | 'AuthorizationTimedOut';

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

/** A step waiting for the user to grant a downstream provider (URL elicitation). */
export interface PendingAuthorization {
  stepId: string;
  provider: string;
  providerName: string;
  /** The scopes asked for (only the missing ones). */
  scopes: string[];
  reason: string;
  /** Where the user grants it: Skillgate's /connect link (no personal data, no credential). */
  url: string;
  elicitationId: string;
  message: string;
  /** Epoch ms (workflow time). */
  since: number;
  deadline: number;
}

export interface RunStatus {
  state: 'running' | 'awaiting-approval' | 'awaiting-authorization' | 'compensating' | 'completed' | 'failed';
  steps: { [stepId: string]: StepState };
  pendingApprovals: PendingApproval[];
  /** Decisions refused by the run's own verification, oldest first. */
  refusedApprovals: RefusedApproval[];
  /** Steps waiting for the user's downstream grant (absent in runs of older workers). */
  pendingAuthorizations?: PendingAuthorization[];
  /** Why the run failed, once it has. */
  reason?: string;
  /** The failure type, once the run has failed. */
  failureType?: RunFailureType;
}

/**
 * What the `answer` update returns: the run's status (as the `status` query returns it) once its
 * state is completed, failed, awaiting-approval or awaiting-authorization; with the result when
 * completed. A failed run's failure (message, type, details) is its workflow result's.
 */
export interface RunAnswer {
  status: RunStatus;
  result?: RunSkillResult;
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

