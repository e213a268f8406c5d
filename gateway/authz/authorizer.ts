/**
 * The AND-gate for one tool call or skill action:
 *   user not revoked ∧ agent allowed on the gateway ∧ visible(gateway, tool)
 *   ∧ agentMay(agent, action, resource) ∧ userMay(user, action, resource)
 * Cedar decides the two "may"s (gateway/policy); the rest comes from config and the
 * revocation list.
 */
import type { SkillgateConfig } from '../../src/config/schema.js';
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
  constructor(
    readonly code: AuthzErrorCode,
    message: string,
    readonly detail: string,
    readonly denial?: DenialFacts,
  ) {
    super(message);
    this.name = 'AuthzError';
  }

  /** The fields a refusal log line carries (never arguments, never a token). */
  logFields(): { code: AuthzErrorCode } & Record<string, unknown> {
    if (!this.denial) return { code: this.code, detail: this.detail };
    const policies = this.denial.sides.flatMap((s) => this.denial![s].policies);
    return { code: this.code, side: this.denial.sides.join('+'), policies, policyVersion: this.denial.policyVersion, detail: this.detail };
  }
}

export interface Authorizer {
  /**
   * Throws AuthzError when refused. `visibility: false` for skill steps (the skill was checked
   * at start). `compensation: true` lets a revoked user's run still undo what it did: a
   * revocation stops new actions, not the cleanup of earlier ones (Cedar still decides).
   */
  check(req: AuthorizationRequest, opts?: { visibility?: boolean; compensation?: boolean }): void;
  /**
   * At authentication (before any session or handler exists): the gateway exists, the user
   * is not revoked, the agent is listed on the gateway. Throws AuthzError.
   */
  admit(principal: Principal, gateway: string): void;
  /** For listings: may this principal see this tool/skill on the gateway at all? */
  canList(principal: Principal, gateway: string, resource: AuthorizationRequest['resource']): boolean;
}

export function createAuthorizer(deps: { config: SkillgateConfig; policy: PolicyEngine; revocations: RevocationStore }): Authorizer {
  const { config, policy, revocations } = deps;

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
    if (r) throw new AuthzError('ERR_USER_REVOKED', 'not permitted for this user', `user ${principal.user.id} revoked at ${r.at} by ${r.by}${r.reason ? `: ${r.reason}` : ''}`);
  };

  return {
    check(req, opts = {}) {
      if (!opts.compensation) checkRevoked(req.principal);
      const gw = gatewayOf(req.principal, req.gateway);
      if (opts.visibility !== false) {
        if (!exposedOnGateway(gw, req.resource)) {
          const what = describeResource(req.resource);
          throw new AuthzError('ERR_TOOL_NOT_VISIBLE', `unknown ${what} on this gateway`, `${what} is not exposed on gateway ${req.gateway}`);
        }
      }
      const denial = explainDenial(policy.authorize(req));
      if (denial) {
        const d = denial.detail;
        throw new AuthzError(denial.code, denial.message, d.summary, {
          sides: d.sides,
          agent: { basis: d.agent.basis, policies: d.agent.policies },
          user: { basis: d.user.basis, policies: d.user.policies },
          policyVersion: d.policyVersion,
        });
      }
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
