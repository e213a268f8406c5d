/**
 * Compile the skills of a workspace: every folder under the config's skillsDir, against the
 * configured servers' real tool lists (fetched once).
 */
import { existsSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { UpstreamPool } from '../../gateway/upstream/types.js';
import type { LoadedConfig } from '../config/load.js';
import { type Diagnostic, didYouMean, isError } from '../shared/diagnostics.js';
import { parseDuration } from '../pure/durations.js';
import { fetchCatalog, type ToolCatalog } from './catalog.js';
import { type CompileOptions, type CompileResult, compileSkill } from './compile.js';
import { findSkillDirs, referencedServers, SKILL_FILE } from './load.js';
import type { CompiledPlan } from '../contracts/plan.js';

const SKILL_NAME_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export interface CompiledSkill {
  dir: string;
  plan: CompiledPlan;
  hash: string;
}

/**
 * Compile options from the config: its defaults, its server names and its users (whose roles
 * approval roles are checked against); files are shown relative to the working directory.
 */
export function compileOptions(loaded: LoadedConfig): CompileOptions {
  const { defaults } = loaded.config;
  return {
    defaultStepTimeoutMs: parseDuration(defaults.stepTimeout)!,
    defaultApprovalTimeoutMs: parseDuration(defaults.approvalTimeout)!,
    readOnlySteps: defaults.readOnlySteps,
    display: (f) => relative(process.cwd(), f) || f,
    servers: Object.keys(loaded.config.servers),
    users: Object.entries(loaded.config.users).map(([id, u]) => ({ id, roles: u.roles })),
  };
}

/**
 * Compile the skills found in `paths` (default: the config's skillsDir). The tools of the
 * servers these skills use are listed once, through `pool`, unless a `catalog` is given.
 */
export async function compileSkills(
  loaded: LoadedConfig,
  pool: UpstreamPool,
  paths: string[] = [loaded.path(loaded.config.skillsDir)],
  catalog?: ToolCatalog,
): Promise<{ results: CompileResult[]; diagnostics: Diagnostic[] }> {
  const found = findSkillDirs(paths);
  const opts = compileOptions(loaded);
  const cat = catalog ?? (await fetchCatalog(pool, referencedServers(found.dirs).filter((s) => opts.servers!.includes(s))));
  if (catalog) opts.servers = [...new Set([...opts.servers!, ...catalog.keys()])];
  const results = found.dirs.map((d) => compileSkill(d, cat, opts));
  return { results, diagnostics: [...found.diagnostics, ...results.flatMap((r) => r.diagnostics)] };
}

/**
 * The skills of the workspace that compile; the others are reported by their errors in
 * `diagnostics`. Warnings (which do not keep a skill from loading) are in `warnings`.
 */
export async function compileAllSkills(loaded: LoadedConfig, pool: UpstreamPool): Promise<{ skills: CompiledSkill[]; diagnostics: Diagnostic[]; warnings: Diagnostic[] }> {
  const { results, diagnostics } = await compileSkills(loaded, pool);
  return {
    skills: results.filter((r) => r.plan && r.hash).map((r) => ({ dir: r.dir, plan: r.plan!, hash: r.hash! })),
    diagnostics: diagnostics.filter(isError),
    warnings: diagnostics.filter((d) => !isError(d)),
  };
}

/**
 * One skill of the workspace by name (its folder under skillsDir); throws SkillCompileError
 * with the diagnostics when there is no such skill or it does not compile. With a `catalog`
 * (the pinned catalog's approved tools, src/skills/registry.ts), it compiles against that.
 */
export async function loadSkill(loaded: LoadedConfig, pool: UpstreamPool, name: string, catalog?: ToolCatalog): Promise<CompiledSkill> {
  const root = loaded.path(loaded.config.skillsDir);
  const dir = join(root, name);
  // A name is a folder name, never a path: `../x` must not reach outside skillsDir.
  if (!SKILL_NAME_RE.test(name) || !existsSync(join(dir, SKILL_FILE))) {
    const known = findSkillDirs([root]).dirs.map((d) => basename(d));
    const guess = didYouMean(name, known);
    throw new SkillCompileError(name, [
      {
        file: relative(process.cwd(), root) || root,
        line: 0,
        col: 0,
        code: 'unknown-skill',
        message: `no skill "${name}" here`,
        hint: guess ? `did you mean "${guess}"?` : `skills: ${known.join(', ') || '(none)'}`,
      },
    ]);
  }
  const { results, diagnostics } = await compileSkills(loaded, pool, [dir], catalog);
  const r = results[0];
  if (!r?.plan || !r.hash) throw new SkillCompileError(name, diagnostics);
  return { dir: r.dir, plan: r.plan, hash: r.hash };
}

/** A skill that is unknown or does not compile; `diagnostics` says why, each with file:line:col. */
export class SkillCompileError extends Error {
  readonly code = 'ERR_SKILL_INVALID';
  constructor(
    readonly skill: string,
    readonly diagnostics: Diagnostic[],
  ) {
    const errors = diagnostics.filter(isError).length;
    super(`skill "${skill}" does not compile (${errors} problem${errors === 1 ? '' : 's'})`);
    this.name = 'SkillCompileError';
  }
}
