/**
 * One AND-gate request → the two Cedar requests (agent side, user side), each with the
 * smallest entity set and context that still holds everything its policies can read
 * (see analyze.ts): cedar-wasm deserialises every value on every call, and that, not the
 * policy evaluation, is most of the cost of a decision.
 */
import type { CedarValueJson, EntityJson, EntityUidJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyReads } from './analyze.js';
import { type ArgType, toCedarArguments } from './arguments.js';
import { type AuthorizationRequest, entityType, serverItem, type Side } from './model.js';

/** What the policies of one slice read, precomputed when the slice is made. */
export interface SideProjection {
  /** Context attributes to pass. */
  context: { arguments: boolean; gateway: boolean; side: boolean; step: boolean; startedBy: boolean };
  /** Argument names to pass; undefined: every argument (`context.arguments` used as a whole). */
  arguments: ReadonlySet<string> | undefined;
  argumentTypes: ArgType | undefined;
  /** Entity attributes to pass. */
  attributes: { id: boolean; name: boolean; server: boolean };
  /**
   * Roles, groups and servers the policies name. A parent is passed only when named: `in`
   * can only be tested against an entity literal, since no attribute, argument or context
   * value is ever an entity in this model.
   */
  roles: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  servers: ReadonlySet<string>;
}

const AGENT = entityType('Agent');
const USER = entityType('User');
const ROLE = entityType('Role');
const GROUP = entityType('Group');
const SERVER = entityType('Server');
const SKILL = entityType('Skill');
const ACTION = entityType('Action');

/** The projection of a slice from the union of what its policies read. */
export function projectionOf(reads: PolicyReads, argumentTypes: ArgType | undefined): SideProjection {
  const ctx = (name: string): boolean => reads.allContext || reads.context.has(name);
  const named = (type: string): Set<string> => new Set(reads.entities.filter((e) => e.type === type).map((e) => e.id));
  return {
    context: { arguments: ctx('arguments'), gateway: ctx('gateway'), side: ctx('side'), step: ctx('step'), startedBy: ctx('startedBy') },
    arguments: reads.allArguments ? undefined : reads.arguments,
    argumentTypes,
    attributes: { id: reads.attributes.has('id'), name: reads.attributes.has('name'), server: reads.attributes.has('server') },
    roles: named(ROLE),
    groups: named(GROUP),
    servers: named(SERVER),
  };
}

/** A request in cedar-wasm's shape, minus the policy set. */
export interface CedarRequest {
  principal: EntityUidJson;
  action: EntityUidJson;
  resource: EntityUidJson;
  context: Record<string, CedarValueJson>;
  entities: EntityJson[];
}

export type BuiltRequest = { ok: true; request: CedarRequest; key: string } | { ok: false; error: string };

/**
 * Build the Cedar request of one side and, when `withKey`, its cache key: everything that
 * goes into the request, so equal keys mean equal requests (and, for one policy set and
 * slice, equal decisions).
 */
export function buildSideRequest(side: Side, req: AuthorizationRequest, projection: SideProjection, withKey = true): BuiltRequest {
  const want = projection.context;
  const context: Record<string, CedarValueJson> = {};
  if (want.arguments) {
    const args = toCedarArguments(req.arguments, projection.argumentTypes, projection.arguments);
    if (!args.ok) return args;
    context.arguments = args.value;
  }
  if (want.gateway) context.gateway = req.gateway;
  if (want.side) context.side = side;
  if (want.step && req.run?.step !== undefined) context.step = req.run.step;
  if (want.startedBy && req.run?.startedBy !== undefined) context.startedBy = req.run.startedBy;
  const attrs = projection.attributes;
  const entities: EntityJson[] = [];

  let principal: EntityUidJson;
  let principalKey = '';
  if (side === 'agent') {
    // Agents have no attributes or parents: the uid alone decides `==`, no entity needed.
    principal = { type: AGENT, id: req.principal.agent.id };
    if (withKey) principalKey = req.principal.agent.id;
  } else {
    const user = req.principal.user;
    principal = { type: USER, id: user.id };
    const parents: Array<{ type: string; id: string }> = [];
    for (const id of user.roles) if (projection.roles.has(id)) parents.push({ type: ROLE, id });
    for (const id of user.groups) if (projection.groups.has(id)) parents.push({ type: GROUP, id });
    if (parents.length || attrs.id) entities.push({ uid: principal, attrs: attrs.id ? { id: user.id } : {}, parents });
    if (withKey) principalKey = JSON.stringify([user.id, parents.map((p) => `${p.type}:${p.id}`).sort()]);
  }

  let resource: EntityUidJson;
  const item = serverItem(req.resource);
  if (item) {
    resource = { type: entityType(item.type), id: item.id };
    const named = projection.servers.has(item.server);
    if (named || attrs.name || attrs.server) {
      const a: Record<string, CedarValueJson> = {};
      if (attrs.name) a.name = item.name;
      if (attrs.server) a.server = item.server;
      entities.push({ uid: resource, attrs: a, parents: named ? [{ type: SERVER, id: item.server }] : [] });
    }
  } else {
    const name = (req.resource as { name: string }).name;
    resource = { type: SKILL, id: name };
    if (attrs.name) entities.push({ uid: resource, attrs: { name }, parents: [] });
  }

  const action = { type: ACTION, id: req.action };
  let key = '';
  if (withKey) {
    const resourceKey = item ? [item.type, item.id] : ['skill', resource.id];
    key = JSON.stringify([side, principalKey, req.action, resourceKey, context]);
  }
  return { ok: true, request: { principal, action, resource, context, entities }, key };
}
