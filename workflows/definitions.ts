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
}

export interface RunSkillResult {
  outputs: { [key: string]: Json };
  /** Step ids in the order they finished. */
  executed: string[];
  skipped: string[];
}

export type StepState = 'pending' | 'running' | 'awaiting-approval' | 'completed' | 'skipped' | 'failed' | 'compensated';

export interface PendingApproval {
  stepId: string;
  role: string;
  message: string;
  /** Epoch ms (workflow time) after which the run ends with ApprovalTimedOut. */
  deadline: number;
}

export interface RunStatus {
  state: 'running' | 'awaiting-approval' | 'compensating' | 'completed' | 'failed';
  steps: { [stepId: string]: StepState };
  pendingApprovals: PendingApproval[];
  /** Why the run failed, once it has. */
  reason?: string;
}

export interface ApprovalDecision {
  stepId?: string;
  /** Who decides; their roles are resolved by the caller (CLI from config, gateway from the token). */
  approver: { id: string; roles: string[] };
  decision: 'approve' | 'reject';
  comment?: string;
}

/** What an approval step outputs (`steps.<id>.output`). */
export interface ApprovalRecord {
  approvedBy: string;
  decision: 'approve' | 'reject';
  comment: string | null;
  at: number;
}

/** Approve or reject a pending approval. The validator refuses approvers without the step's role. */
export const approveUpdate = defineUpdate<ApprovalRecord, [ApprovalDecision]>('approve');
export const statusQuery = defineQuery<RunStatus>('status');

/** Search attributes every run carries (ids only, no PII). */
export const SEARCH_ATTRIBUTES = ['SkillName', 'UserId', 'AgentId', 'Gateway', 'Workspace'] as const;
