/**
 * The answer of the AND-gate, and how a denial is told: briefly to the agent, fully to the
 * audit trail (STYLE.md "Errors are data": public description apart from internal detail).
 */
import type { Side } from './model.js';

/** How one side (agent or user) decided. */
export interface SideDecision {
  allowed: boolean;
  /**
   * `permit`: a permit matched, no forbid did, nothing errored · `forbid`: a forbid matched ·
   * `no-permit`: no policy matched (Cedar's default deny) · `error`: a policy or the request
   * itself could not be evaluated (fails closed, even if Cedar alone would have allowed).
   */
  basis: 'permit' | 'forbid' | 'no-permit' | 'error';
  /** Ids of the determining policies: the permits that allowed, or the forbids that denied. */
  policies: string[];
  /** `<policy id>: <message>` per policy that errored, or the request-level problem. */
  errors: string[];
}

/** The AND-gate's decision: allowed only if both sides allow. */
export interface Decision {
  allowed: boolean;
  agent: SideDecision;
  user: SideDecision;
  /** Wall time of `authorize()`, microseconds. */
  durationUs: number;
  /** `PolicySet.version` of the policies that decided. */
  policyVersion: string;
  /** Both sides came from the decision cache. */
  cached: boolean;
}

/** Closed set of denial codes; the side that denied, as the agent may learn it. */
export type DenialCode = 'ERR_AGENT_NOT_PERMITTED' | 'ERR_USER_NOT_PERMITTED' | 'ERR_NOT_PERMITTED';

/** A denial, split into what the agent is told and what the audit trail records. */
export interface Denial {
  code: DenialCode;
  /** For the agent: names the side, never a policy, an argument or a rule. */
  message: string;
  /** For the audit trail and logs only. */
  detail: {
    sides: Side[];
    /** One line: which side, which policies, which errors. */
    summary: string;
    agent: SideDecision;
    user: SideDecision;
    policyVersion: string;
  };
}

const MESSAGES: Record<DenialCode, string> = {
  ERR_AGENT_NOT_PERMITTED: 'not permitted for this agent',
  ERR_USER_NOT_PERMITTED: 'not permitted for this user',
  ERR_NOT_PERMITTED: 'not permitted for this agent or this user',
};

/**
 * Why a decision denies; undefined when it allows.
 * @example
 * const denial = explainDenial(decision);
 * if (denial) { audit({ reason: denial.detail }); return error(denial.message); }
 */
export function explainDenial(decision: Decision): Denial | undefined {
  if (decision.allowed) return undefined;
  const sides: Side[] = [];
  if (!decision.agent.allowed) sides.push('agent');
  if (!decision.user.allowed) sides.push('user');
  const code: DenialCode = sides.length === 2 ? 'ERR_NOT_PERMITTED' : sides[0] === 'agent' ? 'ERR_AGENT_NOT_PERMITTED' : 'ERR_USER_NOT_PERMITTED';
  const summary = sides.map((s) => `${s}: ${describe(decision[s])}`).join('; ');
  return {
    code,
    message: MESSAGES[code],
    detail: { sides, summary, agent: decision.agent, user: decision.user, policyVersion: decision.policyVersion },
  };
}

function describe(d: SideDecision): string {
  switch (d.basis) {
    case 'forbid':
      return `forbidden by ${d.policies.join(', ')}${d.errors.length ? ` (errors: ${d.errors.join(' | ')})` : ''}`;
    case 'no-permit':
      return 'no permit policy matched';
    case 'error':
      return `evaluation error: ${d.errors.join(' | ')}`;
    case 'permit':
      return `permitted by ${d.policies.join(', ')}`;
  }
}
