/**
 * What a policy can observe, read from its JSON form (cedar-wasm `policyToJson`). The engine
 * builds each request with only what some policy of that side reads — entity attributes by
 * name, arguments by top-level name — because cedar-wasm pays for every value it deserialises.
 * The analysis is conservative: any use it cannot pin to a name makes the whole value needed.
 */
import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';

/** What one policy (or the union over a policy set) reads. */
export interface PolicyReads {
  /** Attribute names read with `.` or `has` on anything except `context` / `context.arguments`. */
  attributes: Set<string>;
  /** Top-level argument names read from `context.arguments`. */
  arguments: Set<string>;
  /** `context` or `context.arguments` is used as a whole value: pass every argument. */
  allArguments: boolean;
  /** Context attributes read (`gateway`, `arguments`, …). */
  context: Set<string>;
  /** `context` is used as a whole value: pass every context attribute. */
  allContext: boolean;
  /** Entity literals in the policy (scope and conditions), for reference checks. */
  entities: Array<{ type: string; id: string }>;
}

export function emptyReads(): PolicyReads {
  return { attributes: new Set(), arguments: new Set(), allArguments: false, context: new Set(), allContext: false, entities: [] };
}

/** Add `b` into `a`. */
export function mergeReads(a: PolicyReads, b: PolicyReads): PolicyReads {
  for (const x of b.attributes) a.attributes.add(x);
  for (const x of b.arguments) a.arguments.add(x);
  a.allArguments ||= b.allArguments;
  for (const x of b.context) a.context.add(x);
  a.allContext ||= b.allContext;
  a.entities.push(...b.entities);
  return a;
}

/** Analyse one policy. */
export function policyReads(policy: PolicyJson): PolicyReads {
  const reads = emptyReads();
  for (const scope of [policy.principal, policy.action, policy.resource]) collectEntities(scope, reads, true);
  for (const clause of policy.conditions) visit(clause.body, reads);
  return reads;
}

type Node = Record<string, unknown>;

function isObject(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isContextVar(e: unknown): boolean {
  return isObject(e) && e.Var === 'context';
}

/** `context.arguments` */
function isContextArguments(e: unknown): boolean {
  if (!isObject(e)) return false;
  const dot = e['.'];
  return isObject(dot) && dot.attr === 'arguments' && isContextVar(dot.left);
}

function visit(e: unknown, reads: PolicyReads): void {
  if (Array.isArray(e)) {
    for (const x of e) visit(x, reads);
    return;
  }
  if (!isObject(e)) return;
  // Reached directly, not through an attribute access handled below: used as a whole.
  if (isContextVar(e)) {
    reads.allContext = true;
    reads.allArguments = true;
    return;
  }
  if (isContextArguments(e)) {
    reads.context.add('arguments');
    reads.allArguments = true;
    return;
  }
  const dot = e['.'];
  if (isObject(dot) && typeof dot.attr === 'string') {
    if (isContextArguments(dot.left)) {
      reads.context.add('arguments');
      reads.arguments.add(dot.attr);
    } else if (isContextVar(dot.left)) {
      reads.context.add(dot.attr);
    } else {
      reads.attributes.add(dot.attr);
      visit(dot.left, reads);
    }
    return;
  }
  const has = e.has;
  if (isObject(has)) {
    const path = Array.isArray(has.attr) ? (has.attr as string[]) : [has.attr as string];
    if (isContextArguments(has.left)) {
      reads.context.add('arguments');
      if (path[0] !== undefined) reads.arguments.add(path[0]);
    } else if (isContextVar(has.left)) {
      // `context has startedBy`, `context has arguments.amount`
      if (path[0] !== undefined) reads.context.add(path[0]);
      if (path[0] === 'arguments' && path[1] !== undefined) reads.arguments.add(path[1]);
    } else {
      for (const a of path) reads.attributes.add(a);
      visit(has.left, reads);
    }
    return;
  }
  if ('Value' in e) {
    collectEntities(e.Value, reads, false);
    return;
  }
  for (const v of Object.values(e)) visit(v, reads);
}

/**
 * Every entity reference in a scope constraint (`{type, id}` or `{__entity: …}`) or in a
 * literal value (only `{__entity: …}`: there a bare `{type, id}` is a record).
 */
function collectEntities(x: unknown, reads: PolicyReads, bare: boolean): void {
  if (Array.isArray(x)) {
    for (const v of x) collectEntities(v, reads, bare);
    return;
  }
  if (!isObject(x)) return;
  const ref = isObject(x.__entity) ? x.__entity : bare ? x : undefined;
  if (ref && typeof ref.type === 'string' && typeof ref.id === 'string') {
    reads.entities.push({ type: ref.type, id: ref.id });
    return;
  }
  for (const v of Object.values(x)) collectEntities(v, reads, bare);
}
