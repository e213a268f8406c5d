/**
 * Compile the skills of a workspace: every folder under the config's skillsDir, against the
 * configured servers' real tool lists (fetched once).
 */
import { relative } from 'node:path';
import type { UpstreamPool } from '../../gateway/upstream/types.js';
import type { LoadedConfig } from '../config/load.js';
import type { Diagnostic } from '../diagnostics.js';
import { parseDuration } from '../duration.js';
import { fetchCatalog, type ToolCatalog } from './catalog.js';
import { type CompileOptions, type CompileResult, compileSkill } from './compile.js';
import { findSkillDirs } from './load.js';
import type { CompiledPlan } from './plan.js';

export interface CompiledSkill {
  dir: string;
  plan: CompiledPlan;
  hash: string;
}

/** Compile options from the config's defaults; files are shown relative to the working directory. */
export function compileOptions(loaded: LoadedConfig): CompileOptions {
  const { defaults } = loaded.config;
  return {
    defaultStepTimeoutMs: parseDuration(defaults.stepTimeout)!,
    defaultApprovalTimeoutMs: parseDuration(defaults.approvalTimeout)!,
    display: (f) => relative(process.cwd(), f) || f,
  };
}

/** Compile the skills found in `paths` (default: the config's skillsDir). */
export async function compileSkills(
  loaded: LoadedConfig,
  pool: UpstreamPool,
  paths: string[] = [loaded.path(loaded.config.skillsDir)],
  catalog?: ToolCatalog,
): Promise<{ results: CompileResult[]; diagnostics: Diagnostic[] }> {
  const found = findSkillDirs(paths);
  const cat = catalog ?? (await fetchCatalog(pool));
  const opts = compileOptions(loaded);
  const results = found.dirs.map((d) => compileSkill(d, cat, opts));
  return { results, diagnostics: [...found.diagnostics, ...results.flatMap((r) => r.diagnostics)] };
}

/** The skills of the workspace that compile; the others are reported in `diagnostics`. */
export async function compileAllSkills(loaded: LoadedConfig, pool: UpstreamPool): Promise<{ skills: CompiledSkill[]; diagnostics: Diagnostic[] }> {
  const { results, diagnostics } = await compileSkills(loaded, pool);
  return {
    skills: results.filter((r) => r.plan && r.hash).map((r) => ({ dir: r.dir, plan: r.plan!, hash: r.hash! })),
    diagnostics,
  };
}

/** One skill of the workspace by name; throws with its diagnostics when it does not compile. */
export async function loadSkill(loaded: LoadedConfig, pool: UpstreamPool, name: string): Promise<CompiledSkill> {
  const dir = `${loaded.path(loaded.config.skillsDir)}/${name}`;
  const { results, diagnostics } = await compileSkills(loaded, pool, [dir]);
  const r = results[0];
  if (!r?.plan || !r.hash) throw new SkillCompileError(name, diagnostics);
  return { dir: r.dir, plan: r.plan, hash: r.hash };
}

export class SkillCompileError extends Error {
  readonly code = 'ERR_SKILL_INVALID';
  constructor(
    readonly skill: string,
    readonly diagnostics: Diagnostic[],
  ) {
    super(`skill "${skill}" does not compile (${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'})`);
    this.name = 'SkillCompileError';
  }
}
