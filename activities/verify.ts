/**
 * The run's own checks of what reaches it (PRODUCT.md "Skill run"; docs/security.md): the
 * run-actions service authorizes starts and approvals, and these activities make the durable
 * run enforce the same decisions whichever path a request took to the Temporal frontend.
 *
 * - `verifyRun` (a local activity, before the first step): the start's attestation binds this
 *   workflow id, workspace, gateway, principal, plan hash and inputs; the plan matches its
 *   hash; the principal may still run the skill (Cedar `run_skill`, revocation).
 * - `verifyApproval` (an activity, so that a refusal is an event in the history): the
 *   decision's attestation binds this run, step and decision and names the approver the
 *   service authenticated; that approver holds the step's role, did not start the run (four
 *   eyes), is not revoked and may `approve` this skill on the gateway they came through
 *   (Cedar, both identities).
 *
 * A refusal is a non-retryable failure of type `NotPermitted` whose message says why (never
 * a token, never the key); transient trouble is retried.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { AuditIds, AuditSink } from '../src/contracts/audit.js';
import { AttestationError, type RunAttestor } from '../gateway/authz/run-attestation.js';
import { AuthzError, type Authorizer } from '../gateway/authz/authorizer.js';
import { contentHash } from '../src/shared/canonical-json.js';
import type { VerifyApprovalInput, VerifyApprovalOutput, VerifyRunInput } from '../src/contracts/activities.js';

/** Failure `type` of a refused verification. */
export const NOT_PERMITTED = 'NotPermitted';

export interface VerifyDeps {
  authorizer: Authorizer;
  attestor: RunAttestor;
  /** Where refusals that are not the AND-gate's (a missing or forged attestation, four eyes, role) are recorded. */
  audit: AuditSink;
}

/** The run's ids, as the activity sees them. */
function runIds(): AuditIds {
  const info = Context.current().info;
  return {
    ...(info.workflowExecution ? { workflowId: info.workflowExecution.workflowId, runId: info.workflowExecution.runId } : {}),
    activityId: info.activityId,
  };
}

function refuse(message: string, details: Record<string, unknown>): never {
  throw ApplicationFailure.create({ message, type: NOT_PERMITTED, nonRetryable: true, details: [details] });
}

function workflowIdOfActivity(): string {
  const id = Context.current().info.workflowExecution?.workflowId;
  // Skillgate runs these only inside runSkill; a standalone call has nothing to verify against.
  if (!id) refuse('verification outside a skill run', { code: 'ERR_NO_RUN' });
  return id;
}

export function createVerifyRun(deps: VerifyDeps) {
  return async function verifyRun(input: VerifyRunInput): Promise<void> {
    const workflowId = workflowIdOfActivity();
    try {
      await deps.attestor.verifyRun(input.attestation, {
        workflowId,
        workspace: input.workspace,
        gateway: input.gateway,
        principal: input.principal,
        planHash: input.planHash,
        inputs: input.inputs,
      });
    } catch (err) {
      if (err instanceof AttestationError) {
        recordRefusal(deps, input, 'attestation', err.code, err.message);
        refuse(`the run was not started through Skillgate: ${err.message}`, { code: err.code });
      }
      throw err;
    }
    if (contentHash(input.plan) !== input.planHash) {
      recordRefusal(deps, input, 'attestation', 'ERR_PLAN_HASH', 'the plan does not match its hash');
      refuse('the run was not started through Skillgate: its plan does not match its hash', { code: 'ERR_PLAN_HASH' });
    }
    try {
      deps.authorizer.check(
        {
          principal: input.principal,
          action: 'run_skill',
          resource: { type: 'skill', name: input.plan.skill.name },
          gateway: input.gateway,
          arguments: input.inputs,
        },
        { audit: { ids: runIds() } },
      );
    } catch (err) {
      if (err instanceof AuthzError && err.code === 'ERR_REVOCATIONS_UNAVAILABLE') throw ApplicationFailure.create({ message: `skill ${input.plan.skill.name}: ${err.message} (${err.code})`, type: 'RevocationsUnavailable', nonRetryable: false });
      if (err instanceof AuthzError) refuse(`skill ${input.plan.skill.name}: ${err.message} (${err.code})`, { code: err.code, detail: err.detail });
      throw err;
    }
  };
}

export function createVerifyApproval(deps: VerifyDeps) {
  return async function verifyApproval(input: VerifyApprovalInput): Promise<VerifyApprovalOutput> {
    const workflowId = workflowIdOfActivity();
    const step = `step "${input.stepId}"`;
    let attested;
    const refusedApproval = (who: { user: string; agent?: string; gateway: string }, code: string, why: string) =>
      deps.audit.record({
        kind: 'run.approval',
        outcome: 'deny',
        reason: code,
        workspace: input.workspace,
        gateway: who.gateway,
        user: who.user,
        ...(who.agent ? { agent: who.agent } : {}),
        skill: input.skill,
        step: input.stepId,
        ids: runIds(),
        detail: { decision: input.decision, startedBy: input.startedBy.user.id, detail: why },
      });
    try {
      attested = await deps.attestor.verifyApproval(input.attestation, { workflowId, stepId: input.stepId, decision: input.decision });
    } catch (err) {
      if (err instanceof AttestationError) {
        refusedApproval({ user: input.claimedBy, gateway: input.gateway }, err.code, `the decision's attestation: ${err.message}`);
        refuse(`decision on ${step} claimed by ${input.claimedBy} refused: ${err.message}`, { code: err.code, claimedBy: input.claimedBy });
      }
      throw err;
    }
    const { approver, agent } = attested;
    const who = { user: approver.id, agent, gateway: attested.gateway };
    // Four eyes holds whatever the policies say (a policy set without the rule cannot drop it).
    if (approver.id === input.startedBy.user.id) {
      refusedApproval(who, 'ERR_FOUR_EYES', `${approver.id} started this run`);
      refuse(`decision on ${step} refused: ${approver.id} started this run and may not decide on it (four eyes)`, { code: 'ERR_FOUR_EYES', approver: approver.id });
    }
    if (!approver.roles.includes(input.role)) {
      refusedApproval(who, 'ERR_APPROVER_ROLE', `approver lacks role ${input.role}`);
      refuse(`decision on ${step} refused: approver ${approver.id} lacks role ${input.role}`, { code: 'ERR_APPROVER_ROLE', approver: approver.id });
    }
    let allowed;
    try {
      allowed = deps.authorizer.check(
        {
          principal: { user: approver, agent: { id: agent } },
          action: 'approve',
          resource: { type: 'skill', name: input.skill },
          // The gateway the approver came through (the skill must be exposed there too).
          gateway: attested.gateway,
          arguments: input.inputs,
          run: { startedBy: input.startedBy.user.id, step: input.stepId },
        },
        { audit: { ids: runIds() } },
      );
    } catch (err) {
      if (err instanceof AuthzError) {
        refuse(`decision on ${step} refused: ${approver.id} via ${agent}: ${err.message} (${err.code})`, { code: err.code, approver: approver.id, detail: err.detail });
      }
      throw err;
    }
    // The decision counts from here: the run records it as the approval it is.
    deps.audit.record({
      kind: 'run.approval',
      outcome: 'ok',
      reason: input.decision === 'approve' ? 'approved' : 'rejected',
      workspace: input.workspace,
      gateway: attested.gateway,
      user: approver.id,
      agent,
      skill: input.skill,
      step: input.stepId,
      ids: { ...runIds(), decisionId: allowed.decisionId },
      detail: { decision: input.decision, role: input.role, startedBy: input.startedBy.user.id },
    });
    return { approver: { id: approver.id, roles: approver.roles }, agent };
  };
}

/** A start the run refused before asking the AND-gate (no or a forged attestation, a plan that is not its hash). */
function recordRefusal(deps: VerifyDeps, input: VerifyRunInput, stage: string, code: string, why: string): void {
  deps.audit.record({
    kind: 'decision',
    outcome: 'deny',
    reason: code,
    workspace: input.workspace,
    gateway: input.gateway,
    user: input.principal.user.id,
    agent: input.principal.agent.id,
    skill: input.plan.skill.name,
    decision: { stage, action: 'run_skill' },
    ids: runIds(),
    detail: { detail: why },
  });
}
