/**
 * The AND-gate for one tool call or skill action:
 *   user not revoked ∧ agent allowed on the gateway ∧ visible(gateway, tool)
 *   ∧ agentMay(agent, action, resource) ∧ userMay(user, action, resource)
 * Cedar decides the two "may"s (gateway/policy); the rest comes from config and the
 * revocation list.
 *
 * Every decision of `check` — allow or deny — is one `decision` event in the audit trail, with
 * both sides' results, the deciding policies and the policy-set revision (OPA's decision logs
 * are the model). The audit sink is required: there is no authorizer that decides without
 * recording. `admit` (authentication) and listings (`canList`) decide about requests and
 * visibility, not actions: their refusals are recorded by the front door as refused requests.
 */
import { randomUUID } from 'node:crypto';
import type { AuditDecision, AuditEventInput, AuditIds, AuditSink } from '../../src/contracts/audit.js';
import type { SkillgateConfig } from '../../src/config/schema.js';
import { argumentRecorder, type AuditArgs } from '../audit/args.js';
import { own } from '../../src/shared/own.js';
import type { Principal } from '../../src/contracts/principal.js';
import type { RevocationStore } from '../identity/revocations.js';
import { explainDenial, type SideDecision } from '../policy/decision.js';
import type { PolicyEngine } from '../policy/engine.js';
import { ACTION_OF, type AuthorizationRequest, type Side } from '../policy/model.js';
import { describeResource, exposedOnGateway } from '../policy/visibility.js';

/** Why a request was refused, as one closed family. */
export type AuthzErrorCode =
  | 'ERR_USER_REVOKED'
  /** The revocation list cannot be trusted right now (database unreachable): retry shortly. */
  | 'ERR_REVOCATIONS_UNAVAILABLE'
  | 'ERR_AGENT_NOT_ON_GATEWAY'
  | 'ERR_GATEWAY_UNKNOWN'
  | 'ERR_TOOL_NOT_VISIBLE'
  | 'ERR_AGENT_NOT_PERMITTED'
  | 'ERR_USER_NOT_PERMITTED'
  | 'ERR_NOT_PERMITTED';

/** For a Cedar denial: which side(s) denied and on what basis, by policy id (logs and audit only). */
export interface DenialFacts {
  sides: Side[];
  agent: { basis: SideDecision['basis']; policies: string[] };
  user: { basis: SideDecision['basis']; policies: string[] };
  policyVersion: string;
}

/** A refusal: `message` is safe for the agent; `detail` and `denial` are for the audit trail and logs only. */
export class AuthzError extends Error {
  /** The id of the audit event that recorded this refusal (set by the authorizer that decided). */
  decisionId?: string;

  constructor(
    readonly code: AuthzErrorCode,
    message: string,
    readonly detail: string,
    readonly denial?: DenialFacts,
  ) {
    super(message);
    this.name = 'AuthzError';
  }

  /** The fields a refusal log line carries (never arguments, never a token); `decisionId` joins it to its audit event. */
  logFields(): { code: AuthzErrorCode } & Record<string, unknown> {
    const id = this.decisionId ? { decisionId: this.decisionId } : {};
    if (!this.denial) return { code: this.code, detail: this.detail, ...id };
    const policies = this.denial.sides.flatMap((s) => this.denial![s].policies);
    return { code: this.code, side: this.denial.sides.join('+'), policies, policyVersion: this.denial.policyVersion, detail: this.detail, ...id };
  }
}

/** What the audit event of a decision carries beyond the request itself. */
export interface DecisionContext {
  /** Correlation: request, session, trace, run ids. */
  ids?: AuditIds;
  /** The skill and step a tool call belongs to. */
  skill?: string;
  step?: string;
}

/** An allowed decision: its audit event's id and the arguments as recorded (for the action's own event). */
export interface Allowed {
  decisionId: string;
  args: AuditArgs;
}

export interface Authorizer {
  /**
   * Throws AuthzError when refused. `visibility: false` for skill steps (the skill was checked
   * at start). `compensation: true` lets a revoked user's run still undo what it did: a
   * revocation stops new actions, not the cleanup of earlier ones (Cedar still decides).
   * Either way the decision is recorded (`audit` adds ids, skill and step to its event).
   */
  check(req: AuthorizationRequest, opts?: { visibility?: boolean; compensation?: boolean; audit?: DecisionContext }): Allowed;
  /**
   * At authentication (before any session or handler exists): the gateway exists, the user
   * is not revoked, the agent is listed on the gateway. Throws AuthzError. Not a decision on
   * an action: the front door records its refusal as a refused request.
   */
  admit(principal: Principal, gateway: string): void;
  /** For listings: may this principal see this tool/skill on the gateway at all? */
  canList(principal: Principal, gateway: string, resource: AuthorizationRequest['resource']): boolean;
}

export interface AuthorizerDeps {
  config: SkillgateConfig;
  policy: PolicyEngine;
  revocations: RevocationStore;
  /** Where every decision is recorded. Required (tests pass a memory sink). */
  audit: AuditSink;
}

export function createAuthorizer(deps: AuthorizerDeps): Authorizer {
  const { config, policy, revocations, audit } = deps;
  const recordArgs = argumentRecorder(config.audit.mask);

  /** One decision event. Returns its id. */
  const record = (
    req: AuthorizationRequest,
    outcome: { allowed: true; decision: AuditDecision } | { allowed: false; error: AuthzError; decision: AuditDecision },
    ctx: DecisionContext | undefined,
    args: AuditArgs,
  ): string => {
    const decisionId = randomUUID();
    const r = req.resource;
    const event: AuditEventInput = {
      kind: 'decision',
      outcome: outcome.allowed ? 'allow' : 'deny',
      reason: outcome.allowed ? 'ok' : outcome.error.code,
      workspace: config.workspace,
      gateway: req.gateway,
      agent: req.principal.agent.id,
      user: req.principal.user.id,
      ...(r.type === 'tool' ? { server: r.server, tool: r.tool } : r.type === 'resource' ? { server: r.server, resource: r.uri } : r.type === 'prompt' ? { server: r.server, prompt: r.prompt } : {}),
      ...(r.type === 'skill' ? { skill: r.name } : ctx?.skill ? { skill: ctx.skill } : {}),
      ...(ctx?.step ? { step: ctx.step } : req.run?.step ? { step: req.run.step } : {}),
      args,
      decision: outcome.decision,
      ids: { ...ctx?.ids, decisionId },
      ...(outcome.allowed ? {} : { detail: { detail: outcome.error.detail } }),
    };
    audit.record(event);
    if (!outcome.allowed) outcome.error.decisionId = decisionId;
    return decisionId;
  };

  const gatewayOf = (principal: Principal, gateway: string) => {
    const gw = own(config.gateways, gateway);
    if (!gw) throw new AuthzError('ERR_GATEWAY_UNKNOWN', `unknown gateway "${gateway}"`, `gateway ${gateway} is not configured`);
    if (!gw.agents.includes(principal.agent.id)) {
      throw new AuthzError('ERR_AGENT_NOT_ON_GATEWAY', 'not permitted for this agent', `agent ${principal.agent.id} is not listed on gateway ${gateway}`);
    }
    return gw;
  };

  const checkRevoked = (principal: Principal) => {
    const r = revocations.isRevoked(principal.user.id);
    // (isRevoked looks its key up with Object.hasOwn: a user named "constructor" is not revoked by the prototype.)
    if (r?.unavailable) throw new AuthzError('ERR_REVOCATIONS_UNAVAILABLE', 'temporarily unavailable; try again shortly', r.reason ?? 'the revocation list is unavailable');
    if (r) throw new AuthzError('ERR_USER_REVOKED', 'not permitted for this user', `user ${principal.user.id} revoked at ${r.at} by ${r.by}${r.reason ? `: ${r.reason}` : ''}`);
  };

  /** The stage a refusal comes from, for its event. */
  const stageOf = (code: AuthzErrorCode): string =>
    code === 'ERR_USER_REVOKED' || code === 'ERR_REVOCATIONS_UNAVAILABLE' ? 'revocation' : code === 'ERR_AGENT_NOT_ON_GATEWAY' || code === 'ERR_GATEWAY_UNKNOWN' ? 'gateway' : code === 'ERR_TOOL_NOT_VISIBLE' ? 'visibility' : 'policy';

  /** Whose masks apply: `<server>.<tool>`, `<server>.<prompt>`, `<server>+<uri>`, `skill.<name>`. */
  const subjectOf = (r: AuthorizationRequest['resource']): string =>
    r.type === 'tool' ? `${r.server}.${r.tool}` : r.type === 'prompt' ? `${r.server}.${r.prompt}` : r.type === 'resource' ? `${r.server}+${r.uri}` : `skill.${r.name}`;

  return {
    check(req, opts = {}) {
      const args = recordArgs(subjectOf(req.resource), req.arguments ?? {});
      try {
        if (!opts.compensation) checkRevoked(req.principal);
        const gw = gatewayOf(req.principal, req.gateway);
        if (opts.visibility !== false) {
          if (!exposedOnGateway(gw, req.resource)) {
            const what = describeResource(req.resource);
            throw new AuthzError('ERR_TOOL_NOT_VISIBLE', `unknown ${what} on this gateway`, `${what} is not exposed on gateway ${req.gateway}`);
          }
        }
      } catch (err) {
        if (err instanceof AuthzError) record(req, { allowed: false, error: err, decision: { stage: stageOf(err.code), action: req.action } }, opts.audit, args);
        throw err;
      }
      const decided = policy.authorize(req);
      const decision: AuditDecision = {
        stage: 'policy',
        action: req.action,
        agent: { decision: decided.agent.allowed ? 'allow' : 'deny', policies: [...decided.agent.policies], basis: decided.agent.basis },
        user: { decision: decided.user.allowed ? 'allow' : 'deny', policies: [...decided.user.policies], basis: decided.user.basis },
        policyRevision: decided.policyVersion,
      };
      const denial = explainDenial(decided);
      if (denial) {
        const d = denial.detail;
        const error = new AuthzError(denial.code, denial.message, d.summary, {
          sides: d.sides,
          agent: { basis: d.agent.basis, policies: d.agent.policies },
          user: { basis: d.user.basis, policies: d.user.policies },
          policyVersion: d.policyVersion,
        });
        record(req, { allowed: false, error, decision }, opts.audit, args);
        throw error;
      }
      return { decisionId: record(req, { allowed: true, decision }, opts.audit, args), args };
    },
    admit(principal, gateway) {
      checkRevoked(principal);
      gatewayOf(principal, gateway);
    },
    canList(principal, gateway, resource) {
      if (revocations.isRevoked(principal.user.id)) return false;
      const gw = own(config.gateways, gateway);
      if (!gw || !gw.agents.includes(principal.agent.id)) return false;
      if (!exposedOnGateway(gw, resource)) return false;
      return policy.authorizeListing({ principal, action: ACTION_OF[resource.type], resource, gateway }).visible;
    },
  };
}
