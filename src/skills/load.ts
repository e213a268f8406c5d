/**
 * Finding skill folders and reading their two files with positions kept, so every problem
 * can be reported as `file:line:col`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type Document, LineCounter, parseDocument } from 'yaml';
import type { Diagnostic } from '../shared/diagnostics.js';

export const SKILL_FILE = 'SKILL.md';
export const PLAN_FILE = 'plan.yaml';

/** A parsed YAML file with what is needed to map paths back to lines. */
export interface YamlSource {
  file: string;
  doc: Document;
  lc: LineCounter;
  /** Lines before the YAML starts in the file (SKILL.md frontmatter starts after `---`). */
  lineOffset: number;
}

export interface SkillSources {
  dir: string;
  /** The folder name, which must equal the skill's `name`. */
  folderName: string;
  /** SKILL.md frontmatter, when present and parseable. */
  frontmatter?: YamlSource;
  plan?: YamlSource;
}

/**
 * Skill folders named by `paths`: a folder holding SKILL.md, a SKILL.md or plan.yaml file, or
 * a folder of skill folders. Sorted, without duplicates. Paths that hold no skill are reported.
 */
export function findSkillDirs(paths: string[]): { dirs: string[]; diagnostics: Diagnostic[] } {
  const dirs = new Set<string>();
  const diagnostics: Diagnostic[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    if (!existsSync(abs)) {
      diagnostics.push({ file: p, line: 0, col: 0, code: 'path-missing', message: 'no such file or folder' });
      continue;
    }
    if (statSync(abs).isFile()) {
      const name = basename(abs);
      if (name === SKILL_FILE || name === PLAN_FILE) dirs.add(dirname(abs));
      else diagnostics.push({ file: p, line: 0, col: 0, code: 'not-a-skill', message: `not a skill file (expected ${SKILL_FILE} or ${PLAN_FILE})` });
      continue;
    }
    if (existsSync(join(abs, SKILL_FILE)) || existsSync(join(abs, PLAN_FILE))) {
      dirs.add(abs);
      continue;
    }
    const children = readdirSync(abs, { withFileTypes: true })
      .filter((e) => e.isDirectory() && (existsSync(join(abs, e.name, SKILL_FILE)) || existsSync(join(abs, e.name, PLAN_FILE))))
      .map((e) => join(abs, e.name));
    if (children.length === 0) {
      diagnostics.push({
        file: p,
        line: 0,
        col: 0,
        code: 'no-skills',
        message: 'no skills here',
        hint: `a skill is a folder <name>/ holding ${SKILL_FILE} and ${PLAN_FILE}`,
      });
    }
    for (const c of children) dirs.add(c);
  }
  return { dirs: [...dirs].sort(), diagnostics };
}

/** Read SKILL.md's frontmatter and plan.yaml of one skill folder. */
export function readSkill(dir: string, display: (file: string) => string = (f) => f): { sources: SkillSources; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const sources: SkillSources = { dir, folderName: basename(dir) };

  const skillFile = join(dir, SKILL_FILE);
  const skillShown = display(skillFile);
  if (!existsSync(skillFile)) {
    diagnostics.push({
      file: skillShown,
      line: 0,
      col: 0,
      code: 'skill-md-missing',
      message: `${SKILL_FILE} is missing`,
      hint: 'every skill folder needs a SKILL.md with `name` and `description` frontmatter (agentskills.io)',
    });
  } else {
    const text = readFileSync(skillFile, 'utf8');
    const m = /^---[ \t]*\r?\n([\s\S]*?)^---[ \t]*\r?$/m.exec(text);
    if (!m || m.index !== 0) {
      diagnostics.push({
        file: skillShown,
        line: 1,
        col: 1,
        code: 'frontmatter-missing',
        message: 'SKILL.md must start with YAML frontmatter between `---` lines',
        hint: 'begin the file with:\n---\nname: <folder-name>\ndescription: <what it does and when to use it>\n---',
      });
    } else {
      const fm = parseYaml(m[1]!.replace(/\r?\n$/, ''), skillShown, 1, diagnostics);
      if (fm) sources.frontmatter = fm;
    }
  }

  const planFile = join(dir, PLAN_FILE);
  const planShown = display(planFile);
  if (!existsSync(planFile)) {
    diagnostics.push({
      file: planShown,
      line: 0,
      col: 0,
      code: 'plan-missing',
      message: `${PLAN_FILE} is missing`,
      hint: 'the executable plan (inputs, steps, outputs) lives in plan.yaml beside SKILL.md; see docs/skills.md',
    });
  } else {
    const plan = parseYaml(readFileSync(planFile, 'utf8'), planShown, 0, diagnostics);
    if (plan) sources.plan = plan;
  }
  return { sources, diagnostics };
}

function parseYaml(text: string, file: string, lineOffset: number, diagnostics: Diagnostic[]): YamlSource | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    for (const e of doc.errors) {
      const { line, col } = lc.linePos(e.pos[0]);
      diagnostics.push({ file, line: line + lineOffset, col, code: 'yaml-syntax', message: e.message.split('\n')[0]! });
    }
    return undefined;
  }
  return { file, doc, lc, lineOffset };
}

/**
 * The servers the plans in `dirs` name in `tool:` (steps and compensations), so that only
 * those are connected to. Unparseable plans are skipped here; compiling reports them.
 */
export function referencedServers(dirs: string[]): string[] {
  const servers = new Set<string>();
  for (const dir of dirs) {
    const file = join(dir, PLAN_FILE);
    if (!existsSync(file)) continue;
    const doc = parseDocument(readFileSync(file, 'utf8'));
    if (doc.errors.length) continue;
    const steps = (doc.toJS() as { steps?: unknown } | null)?.steps;
    if (!Array.isArray(steps)) continue;
    for (const step of steps as Array<{ tool?: unknown; compensate?: { tool?: unknown } } | null>) {
      for (const tool of [step?.tool, step?.compensate?.tool]) {
        if (typeof tool === 'string' && tool.includes('.')) servers.add(tool.slice(0, tool.indexOf('.')));
      }
    }
  }
  return [...servers].sort();
}
