/**
 * The policy engine: the AND-gate's agent and user checks, on every request and every skill
 * step. Policies are parsed and validated once per (re)load; the slice of them that can apply
 * to a (side, action, principal) is preparsed into cedar-wasm on first use (slice.ts), so a
 * decision is two `statefulIsAuthorized` calls over a few policies and a minimal entity set
 * (request.ts). Identical requests are answered from a decision cache that a reload empties.
 *
 * A reload builds the new set completely before swapping it in with one assignment, so a
 * request sees the old set or the new one, never a mix; a reload that fails keeps the old set.
 */
import { watch, type FSWatcher } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isAuthorizedPartial, preparsePolicySet, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { LRUCache } from 'lru-cache';
import type { LoadedConfig } from '../../src/config/load.js';
import type { SkillgateConfig } from '../../src/config/schema.js';
import type { Diagnostic } from '../../src/shared/diagnostics.js';
import { emptyReads, mergeReads } from './analyze.js';
import type { Decision, SideDecision } from './decision.js';
import { PolicyLoadError } from './errors.js';
import { type LoadedPolicy, loadPolicies, type PolicySet } from './load.js';
import { type AuthorizationRequest, type PolicyAction, POLICY_ACTIONS, serverItem, type Side } from './model.js';
import { buildSideRequest, projectionOf, type SideProjection } from './request.js';
import { principalMayMatch, resourceMayMatch } from './slice.js';

export interface PolicyEngineOptions {
  /** The loaded skillgate.yaml: its `policies` patterns, its folder, its agents and servers. */
  config?: LoadedConfig;
  /** Policy file patterns; default `config.policies`. */
  files?: readonly string[];
  /** Folder patterns are relative to; default the config's folder, else cwd. */
  baseDir?: string;
  /** Decisions kept in the cache (both sides together); 0 disables it. Default 10 000. */
  cacheSize?: number;
  /**
   * Distinct policy slices kept preparsed per policy version (default 1024); past it, a
   * slice is preparsed for one call and released, which is correct but slow.
   */
  maxSlices?: number;
  /** Reload when a policy or schema file in the watched folders changes. */
  watch?: boolean;
  /** Called after every reload triggered by `watch` (not by `reload()`, which returns it). */
  onReload?: (result: ReloadResult) => void;
}

/** Outcome of a reload: the new set is live, or the old one stays and the diagnostics say why. */
export type ReloadResult =
  | { ok: true; version: string; policies: number; warnings: Diagnostic[] }
  | { ok: false; version: string; diagnostics: Diagnostic[] };

/**
 * For listings (`tools/list`): whether a side allows the request whatever the arguments,
 * denies it whatever the arguments, or decides by them (e.g. an amount limit).
 */
export type ListingOutcome = 'allow' | 'deny' | 'depends-on-arguments';

export interface ListingDecision {
  /** Show it: neither side denies whatever the arguments. The call itself is still authorized. */
  visible: boolean;
  agent: ListingOutcome;
  user: ListingOutcome;
}

export interface PolicyEngine {
  /** Evaluate both sides of the AND-gate. Never throws: problems deny and are recorded. */
  authorize(request: AuthorizationRequest): Decision;
  /**
   * Could some arguments be allowed? For building `tools/list` before any call: a loan clerk
   * sees `issue_credit` because amounts up to the limit are allowed. Arguments are left
   * unknown (Cedar partial evaluation), so this is slower than `authorize` (no cache).
   */
  authorizeListing(request: Omit<AuthorizationRequest, 'arguments'>): ListingDecision;
  /** Re-read the policy files; on failure the previous set stays live. */
  reload(): ReloadResult;
  /** The live policy set. */
  policySet(): PolicySet;
  /** Stop watching and release the preparsed policy sets. */
  close(): void;
}

/** A preparsed subset of one side's policies (see slice.ts). */
interface Slice {
  /** Number within its policy version; part of every cache key made for the slice. */
  n: number;
  /** undefined: no policy can apply, the side denies without asking Cedar. */
  psetId: string | undefined;
  projection: SideProjection;
  /** Not kept (the slice table is full): released right after use. */
  transient: boolean;
  /** The slice's policies (id → text), for partial evaluation. */
  policies: Record<string, string>;
}

/** One live policy set: its policies by side and action, preparsed slices, decision cache. */
interface Live {
  set: PolicySet;
  generation: number;
  byAction: Record<Side, Map<PolicyAction, LoadedPolicy[]>>;
  slices: Map<string, Slice>;
  /** (side, action, resource, principal) → its slice, so the scope filter runs once for each. */
  byPrincipal: Map<string, Slice>;
  cache: LRUCache<string, SideDecision>;
}

/** Principals whose slice is remembered; the table starts over when full. */
const MAX_PRINCIPALS = 50_000;

let engineCount = 0;

/**
 * Load the policies and return the engine.
 * @throws PolicyLoadError when the initial policy set is invalid.
 * @example
 * const engine = createPolicyEngine({ config: loadConfig() });
 * const d = engine.authorize({ principal, action: 'call_tool', resource: { type: 'tool', server: 'hr', tool: 'get_employee' }, gateway: 'hr-desk', arguments: {} });
 */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  const patterns = options.files ?? options.config?.config.policies;
  if (!patterns) throw new TypeError('createPolicyEngine needs `files` or `config`');
  const baseDir = options.baseDir ?? options.config?.baseDir ?? process.cwd();
  const config: SkillgateConfig | undefined = options.config?.config;
  const cacheSize = options.cacheSize ?? 10_000;
  const maxSlices = options.maxSlices ?? 1024;
  const engineId = `skillgate-${++engineCount}`;
  let generation = 0;
  let closed = false;

  const build = (): Live => {
    const set = loadPolicies(patterns, { baseDir, ...(config ? { config } : {}) });
    const byAction = { agent: new Map(), user: new Map() } as Live['byAction'];
    for (const side of ['agent', 'user'] as const) {
      for (const action of POLICY_ACTIONS) {
        byAction[side].set(action, set.policies.filter((p) => p.sides.includes(side) && p.scope.actions.has(action)));
      }
    }
    return { set, generation: ++generation, byAction, slices: new Map(), byPrincipal: new Map(), cache: new LRUCache({ max: Math.max(cacheSize, 1) }) };
  };

  /** The preparsed slice for these policies, made on first use. */
  const sliceFor = (state: Live, side: Side, policies: LoadedPolicy[]): Slice => {
    const key = `${side}\n${policies.map((p) => p.id).join('\n')}`;
    let slice = state.slices.get(key);
    if (slice) return slice;
    const projection = projectionOf(policies.reduce((acc, p) => mergeReads(acc, p.reads), emptyReads()), state.set.argumentTypes);
    const transient = state.slices.size >= maxSlices;
    const n = transient ? -1 : state.slices.size;
    const texts = Object.fromEntries(policies.map((p) => [p.id, p.text]));
    if (policies.length === 0) slice = { n, psetId: undefined, projection, transient, policies: texts };
    else {
      const psetId = `${engineId}/${state.generation}/${transient ? 'transient' : n}`;
      // Validated at load, so this cannot fail for a reason the caller could fix.
      const answer = preparsePolicySet(psetId, { staticPolicies: texts });
      if (answer.type === 'failure') throw new Error(`cedar-wasm refused a validated policy set: ${answer.errors.map((e) => e.message).join('; ')}`);
      slice = { n, psetId, projection, transient, policies: texts };
    }
    if (!transient) state.slices.set(key, slice);
    return slice;
  };

  /** The slice for this side, action, resource and principal; memoised. */
  const sliceOf = (state: Live, side: Side, request: AuthorizationRequest): Slice | undefined => {
    const candidates = state.byAction[side].get(request.action);
    if (!candidates) return undefined;
    const { user, agent } = request.principal;
    const r = request.resource;
    const what = r.type === 'skill' ? [r.name] : [r.type, serverItem(r)!.id];
    // JSON, not a join: role and group names come from the IdP and may contain any separator.
    const who = side === 'agent' ? JSON.stringify([side, request.action, what, agent.id]) : JSON.stringify([side, request.action, what, user.id, user.roles, user.groups]);
    let slice = state.byPrincipal.get(who);
    if (!slice) {
      slice = sliceFor(state, side, candidates.filter((p) => principalMayMatch(p.scope, side, request) && resourceMayMatch(p.scope, request)));
      if (!slice.transient) {
        if (state.byPrincipal.size >= MAX_PRINCIPALS) state.byPrincipal.clear();
        state.byPrincipal.set(who, slice);
      }
    }
    return slice;
  };

  let live = build();

  const evaluate = (side: Side, request: AuthorizationRequest, state: Live): { decision: SideDecision; cached: boolean } => {
    if (closed) return { decision: { allowed: false, basis: 'error', policies: [], errors: ['the policy engine is closed'] }, cached: false };
    let slice: Slice | undefined;
    try {
      slice = sliceOf(state, side, request);
    } catch (err) {
      return { decision: { allowed: false, basis: 'error', policies: [], errors: [`cannot prepare the policies: ${(err as Error).message}`] }, cached: false };
    }
    if (!slice) return { decision: { allowed: false, basis: 'error', policies: [], errors: [`unknown action "${String(request.action)}"`] }, cached: false };
    const useCache = cacheSize > 0 && !slice.transient;
    const built = buildSideRequest(side, request, slice.projection, useCache);
    if (!built.ok) return { decision: { allowed: false, basis: 'error', policies: [], errors: [built.error] }, cached: false };
    // The slice number makes a key unique per policy subset, whatever the request holds.
    const key = useCache ? `${slice.n}:${built.key}` : '';
    const hit = useCache ? state.cache.get(key) : undefined;
    if (hit) return { decision: hit, cached: true };
    let decision: SideDecision;
    if (slice.psetId === undefined) {
      decision = { allowed: false, basis: 'no-permit', policies: [], errors: [] };
    } else {
      const answer = statefulIsAuthorized({ ...built.request, preparsedPolicySetId: slice.psetId });
      if (slice.transient) release(slice.psetId);
      if (answer.type === 'failure') {
        decision = { allowed: false, basis: 'error', policies: [], errors: answer.errors.map((e) => e.message) };
      } else {
        const { decision: d, diagnostics } = answer.response;
        const errors = diagnostics.errors.length ? diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`).sort() : [];
        const basis = d === 'allow' ? (errors.length ? 'error' : 'permit') : diagnostics.reason.length ? 'forbid' : errors.length ? 'error' : 'no-permit';
        decision = { allowed: basis === 'permit', basis, policies: diagnostics.reason.length > 1 ? [...diagnostics.reason].sort() : diagnostics.reason, errors };
      }
    }
    if (useCache) {
      // Shared by every later hit: nobody may change it.
      Object.freeze(decision.policies);
      Object.freeze(decision.errors);
      Object.freeze(decision);
      state.cache.set(key, decision);
    }
    return { decision, cached: false };
  };

  const listing = (side: Side, request: AuthorizationRequest, state: Live): ListingOutcome => {
    let slice: Slice | undefined;
    try {
      slice = sliceOf(state, side, request);
    } catch {
      return 'deny';
    }
    if (!slice || slice.psetId === undefined) return 'deny';
    if (!slice.projection.context.arguments) {
      // No applicable policy reads an argument: the ordinary decision is exact.
      if (slice.transient) release(slice.psetId);
      return evaluate(side, request, state).decision.allowed ? 'allow' : 'deny';
    }
    const built = buildSideRequest(side, { ...request, arguments: {} }, slice.projection, false);
    if (!built.ok) return 'deny';
    const context = { ...built.request.context, arguments: { __extn: { fn: 'unknown', arg: 'arguments' } } };
    const answer = isAuthorizedPartial({ ...built.request, context, policies: { staticPolicies: slice.policies } });
    if (slice.transient) release(slice.psetId);
    if (answer.type === 'failure') return 'deny';
    const d = answer.response.decision;
    return d === 'allow' ? 'allow' : d === 'deny' ? 'deny' : 'depends-on-arguments';
  };

  const reload = (): ReloadResult => {
    if (closed) return { ok: false, version: live.set.version, diagnostics: [{ file: '(engine)', line: 0, col: 0, code: 'engine-closed', message: 'the policy engine is closed' }] };
    let next: Live;
    try {
      next = build();
    } catch (err) {
      if (err instanceof PolicyLoadError) return { ok: false, version: live.set.version, diagnostics: err.diagnostics };
      throw err;
    }
    const previous = live;
    live = next;
    releaseLive(previous);
    return { ok: true, version: next.set.version, policies: next.set.policies.length, warnings: next.set.warnings };
  };

  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  if (options.watch) {
    const onChange = (_event: string, filename: string | Buffer | null): void => {
      const name = filename === null ? '' : String(filename);
      if (name && !/\.cedar(schema)?$/.test(name)) return;
      // Editors write a file in several steps; reload once they are done.
      clearTimeout(timer);
      timer = setTimeout(() => {
        const result = reload();
        options.onReload?.(result);
      }, 75);
      timer.unref();
    };
    for (const folder of live.set.files.folders) {
      try {
        const w = watch(folder, { persistent: false }, onChange);
        w.on('error', () => w.close());
        watchers.push(w);
      } catch {
        // A folder that does not exist yet cannot be watched; reload() still picks it up.
      }
    }
  }

  return {
    authorize(request) {
      const start = performance.now();
      const state = live;
      const agent = evaluate('agent', request, state);
      const user = evaluate('user', request, state);
      return {
        allowed: agent.decision.allowed && user.decision.allowed,
        agent: agent.decision,
        user: user.decision,
        durationUs: Math.round((performance.now() - start) * 10_000) / 10,
        policyVersion: state.set.version,
        cached: agent.cached && user.cached,
      };
    },
    authorizeListing(request) {
      const state = live;
      const req: AuthorizationRequest = { ...request, arguments: {} };
      const agent = listing('agent', req, state);
      const user = listing('user', req, state);
      return { visible: agent !== 'deny' && user !== 'deny', agent, user };
    },
    reload,
    policySet: () => live.set,
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      for (const w of watchers) w.close();
      releaseLive(live);
    },
  };
}

/** cedar-wasm has no "forget"; preparsing an empty set under the id frees the old one. */
function release(psetId: string): void {
  preparsePolicySet(psetId, { staticPolicies: {} });
}

function releaseLive(state: Live): void {
  for (const slice of state.slices.values()) if (slice.psetId) release(slice.psetId);
  state.slices.clear();
  state.byPrincipal.clear();
  state.cache.clear();
}
