/**
 * The loaded skills of a running gateway, kept in step with the pinned catalog. A skill
 * records the definition hashes of the tools it was compiled against (`ToolRef.hash`); when a
 * tool it uses is withheld, or approved again with another definition, the skill is **held**:
 * not offered, runs refused (run-actions.ts). When the catalog changes, every skill is compiled
 * again against the approved tools: one that compiles with the tools now approved is offered
 * again (re-validated); one that does not stays held with the compiler's diagnostics.
 */
import type { PinnedCatalog } from '../../gateway/curation/catalog.js';
import type { Logger } from '../../gateway/log.js';
import type { LoadedConfig } from '../config/load.js';
import type { CompiledPlan } from '../contracts/plan.js';
import { type Diagnostic, isError } from '../shared/diagnostics.js';
import type { ToolCatalog } from './catalog.js';
import { type CompiledSkill, compileSkills } from './compile-all.js';
import { findSkillDirs, referencedServers } from './load.js';
import type { UpstreamPool } from '../../gateway/upstream/types.js';

/** Every tool a plan calls (steps and compensations), with the hash it was compiled against. */
export function planTools(plan: CompiledPlan): Array<{ server: string; name: string; hash?: string }> {
  const out: Array<{ server: string; name: string; hash?: string }> = [];
  for (const s of plan.steps) {
    if (s.kind !== 'tool') continue;
    out.push(s.tool);
    if (s.compensate) out.push(s.compensate.tool);
  }
  return out;
}

/** Why a skill is held now (a tool withheld or changed since it was compiled), or undefined. */
export function heldReason(catalog: Pick<PinnedCatalog, 'heldReason'>, skill: CompiledSkill): string | undefined {
  const why = catalog.heldReason(planTools(skill.plan));
  return why ? `skill "${skill.plan.skill.name}" is held: ${why}` : undefined;
}

/** The approved tools of the servers the skills under `paths` use, as the compiler reads them. */
export async function approvedCatalog(loaded: LoadedConfig, catalog: PinnedCatalog, paths: string[] = [loaded.path(loaded.config.skillsDir)]): Promise<ToolCatalog> {
  const servers = referencedServers(findSkillDirs(paths).dirs).filter((s) => Object.hasOwn(loaded.config.servers, s));
  return (await catalog.approvedTools(servers)) as ToolCatalog;
}

export interface SkillRegistry {
  /** The compiled skills by name (held ones included: `held()` says which). */
  skills(): ReadonlyMap<string, CompiledSkill>;
  held(skill: CompiledSkill): string | undefined;
  /** Problems of skills that did not compile (left out, or held with their last good plan). */
  diagnostics(): Diagnostic[];
  /** Compile every skill again against the approved tools; returns the names whose offer changed. */
  revalidate(): Promise<string[]>;
  /** Be told which skills' offer changed (held ↔ offered, added). */
  onChange(listener: (skills: string[]) => void): () => void;
  close(): void;
}

/**
 * Compile the workspace's skills against the approved tools and keep them in step with the
 * catalog.
 */
export async function createSkillRegistry(loaded: LoadedConfig, pool: UpstreamPool, catalog: PinnedCatalog, log: Logger): Promise<SkillRegistry> {
  let map = new Map<string, CompiledSkill>();
  /** What was offered after the last compile (the catalog may have moved on since). */
  let offered = new Map<string, { hash: string; held: boolean }>();
  let diags: Diagnostic[] = [];
  const listeners = new Set<(skills: string[]) => void>();
  const held = (s: CompiledSkill): string | undefined => heldReason(catalog, s);

  const compile = async (): Promise<string[]> => {
    const before = offered;
    const { results, diagnostics } = await compileSkills(loaded, pool, undefined, await approvedCatalog(loaded, catalog));
    const next = new Map<string, CompiledSkill>();
    for (const r of results) {
      if (r.plan && r.hash) next.set(r.plan.skill.name, { dir: r.dir, plan: r.plan, hash: r.hash });
    }
    // A skill that no longer compiles keeps its last good plan, held (its tools say why).
    for (const [name, s] of map) if (!next.has(name)) next.set(name, s);
    map = next;
    diags = diagnostics.filter(isError);
    const changed: string[] = [];
    for (const [name, s] of map) {
      const b = before.get(name);
      const isHeld = held(s) !== undefined;
      if (!b || b.held !== isHeld || b.hash !== s.hash) {
        changed.push(name);
        if (b && b.held && !isHeld) log.info('skill validated again against the approved tools: offered again', { event: 'catalog', skill: name, planHash: s.hash });
        if (isHeld && (!b || !b.held)) log.warn('skill held: a tool it uses is withheld or changed', { event: 'catalog', skill: name, reason: held(s) });
      }
    }
    offered = new Map([...map].map(([n, s]) => [n, { hash: s.hash, held: held(s) !== undefined }]));
    return changed;
  };
  await compile();

  let queue: Promise<unknown> = Promise.resolve();
  const revalidate = (): Promise<string[]> => {
    const p = queue.then(compile);
    queue = p.catch(() => {});
    return p;
  };
  const unsubscribe = catalog.onChange(() => {
    void revalidate()
      .then((changed) => {
        if (changed.length) for (const l of listeners) l(changed);
      })
      .catch((err: unknown) => log.error('skills could not be validated again', { error: (err as Error).message }));
  });

  return {
    skills: () => map,
    held,
    diagnostics: () => diags,
    revalidate,
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: unsubscribe,
  };
}

