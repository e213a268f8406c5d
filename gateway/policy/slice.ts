/**
 * Policy slicing: only the policies whose scope can match a request are handed to Cedar.
 * cedar-wasm spends a few microseconds per policy even when its scope does not match, and
 * every policy in the set widens what the request must carry (attributes, parents), so a
 * request is evaluated against the slice for its side, action, principal and resource:
 * for a loan clerk issuing a credit, 2 of the 12 user policies.
 *
 * Sound because a policy whose scope does not match is never satisfied and never errors
 * (Cedar evaluates the scope before the conditions), and because in Skillgate's model the
 * ancestors of an entity are known from the request alone: a user is in exactly its roles
 * and groups (which have no parents), an agent in nothing, a tool in its server, a skill in
 * nothing.
 */
import type { EntityUidJson, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { type AuthorizationRequest, entityType, type PolicyAction, POLICY_ACTIONS, serverItem, type Side } from './model.js';

/** A principal or resource constraint of a policy's scope. */
export type EntityConstraint =
  | { op: 'any' }
  | { op: '==' | 'in'; type: string; id: string }
  | { op: 'is'; type: string; within?: { type: string; id: string } };

/** The policy's scope: what slicing looks at. */
export interface PolicyScope {
  /** Actions the policy can apply to. */
  actions: ReadonlySet<PolicyAction>;
  principal: EntityConstraint;
  resource: EntityConstraint;
}

export function scopeOf(policy: PolicyJson): PolicyScope {
  const a = policy.action;
  let actions: Set<PolicyAction>;
  if (a.op === 'All') actions = new Set(POLICY_ACTIONS);
  else {
    const listed = 'entities' in a ? a.entities : 'entity' in a ? [a.entity] : [];
    // No action groups in the model, so `action in [A, B]` is membership in the list.
    actions = new Set(POLICY_ACTIONS.filter((x) => listed.some((e) => sameEntity(uid(e), { type: entityType('Action'), id: x }))));
  }
  return { actions, principal: constraint(policy.principal), resource: constraint(policy.resource) };
}

function constraint(c: PolicyJson['principal'] | PolicyJson['resource']): EntityConstraint {
  if (c.op === '==' && 'entity' in c) return { op: '==', ...uid(c.entity) };
  if (c.op === 'in' && 'entity' in c) return { op: 'in', ...uid(c.entity) };
  if (c.op === 'is') return { op: 'is', type: c.entity_type, ...(c.in && 'entity' in c.in ? { within: uid(c.in.entity) } : {}) };
  return { op: 'any' };
}

/** Whether a policy with this scope can apply to the request's principal on this side. */
export function principalMayMatch(scope: PolicyScope, side: Side, req: AuthorizationRequest): boolean {
  const s = scope.principal;
  switch (s.op) {
    case 'any':
      return true;
    case '==':
      return isSelf(s, side, req);
    case 'in':
      return isIn(s, side, req);
    case 'is':
      return s.type === (side === 'agent' ? AGENT : USER) && (s.within === undefined || isIn(s.within, side, req));
  }
}

const AGENT = entityType('Agent');
const USER = entityType('User');
const ROLE = entityType('Role');
const GROUP = entityType('Group');

/** Whether a policy with this scope can apply to the request's resource. */
export function resourceMayMatch(scope: PolicyScope, req: AuthorizationRequest): boolean {
  const s = scope.resource;
  const r = req.resource;
  const item = serverItem(r);
  const type = item ? entityType(item.type) : SKILL;
  const id = item ? item.id : (r as { name: string }).name;
  // `resource in e`: the resource itself or its ancestor (a tool's, resource's or prompt's server).
  const within = (e: { type: string; id: string }): boolean => (e.type === type && e.id === id) || (item !== undefined && e.type === SERVER && e.id === item.server);
  switch (s.op) {
    case 'any':
      return true;
    case '==':
      return s.type === type && s.id === id;
    case 'in':
      return within(s);
    case 'is':
      return s.type === type && (s.within === undefined || within(s.within));
  }
}

const SERVER = entityType('Server');
const SKILL = entityType('Skill');

function isSelf(e: { type: string; id: string }, side: Side, req: AuthorizationRequest): boolean {
  return side === 'agent' ? e.type === AGENT && e.id === req.principal.agent.id : e.type === USER && e.id === req.principal.user.id;
}

/** `principal in e`: the principal itself or one of its ancestors (a user's roles and groups). */
function isIn(e: { type: string; id: string }, side: Side, req: AuthorizationRequest): boolean {
  if (isSelf(e, side, req)) return true;
  if (side === 'agent') return false;
  if (e.type === ROLE) return req.principal.user.roles.includes(e.id);
  if (e.type === GROUP) return req.principal.user.groups.includes(e.id);
  return false;
}

function uid(e: EntityUidJson): { type: string; id: string } {
  const x = '__entity' in e ? e.__entity : e;
  return { type: x.type, id: x.id };
}

function sameEntity(a: { type: string; id: string }, b: { type: string; id: string }): boolean {
  return a.type === b.type && a.id === b.id;
}
