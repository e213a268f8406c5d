/**
 * Finding skill folders and reading their two files with positions kept, so every problem
 * can be reported as `file:line:col`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type Document, LineCounter, parseDocument, type YAMLError } from 'yaml';
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
 * A file in `dir` that was probably meant to be `wanted` (`plan.yml`, `Plan.yaml`,
 * `skill.md`), when `wanted` itself is not there.
 */
function nearMissFile(dir: string, wanted: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
  } catch {
    return undefined;
  }
  if (names.includes(wanted)) return undefined;
  // Same stem, another extension or case: `plan.yml`, `Plan.yaml`, `skill.md`, `SKILL.markdown`.
  const stem = wanted.slice(0, wanted.indexOf('.')).toLowerCase();
  return names.find((n) => n.toLowerCase().startsWith(`${stem}.`));
}

/** A folder holding a skill, or what was probably meant to be one (near-miss file names). */
function isSkillDir(dir: string): boolean {
  return existsSync(join(dir, SKILL_FILE)) || existsSync(join(dir, PLAN_FILE)) || nearMissFile(dir, SKILL_FILE) !== undefined || nearMissFile(dir, PLAN_FILE) !== undefined;
}

/**
 * Skill folders named by `paths`: a folder holding SKILL.md or plan.yaml (or a near miss such
 * as plan.yml, which readSkill then reports), a SKILL.md or plan.yaml file, or a folder of
 * skill folders. Sorted, without duplicates. Paths that hold no skill are reported.
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
    if (isSkillDir(abs)) {
      dirs.add(abs);
      continue;
    }
    const children = readdirSync(abs, { withFileTypes: true })
      .filter((e) => e.isDirectory() && isSkillDir(join(abs, e.name)))
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
    const found = nearMissFile(dir, SKILL_FILE);
    diagnostics.push({
      file: skillShown,
      line: 0,
      col: 0,
      code: 'skill-md-missing',
      message: found ? `${SKILL_FILE} is missing; found ${found} — rename it` : `${SKILL_FILE} is missing`,
      hint: found
        ? `rename ${found} to ${SKILL_FILE}: Skillgate reads only that exact name`
        : 'every skill folder needs a SKILL.md with `name` and `description` frontmatter (agentskills.io)',
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
    const found = nearMissFile(dir, PLAN_FILE);
    diagnostics.push({
      file: planShown,
      line: 0,
      col: 0,
      code: 'plan-missing',
      message: found ? `${PLAN_FILE} is missing; found ${found} — rename it` : `${PLAN_FILE} is missing`,
      hint: found
        ? `rename ${found} to ${PLAN_FILE}: Skillgate reads only that exact name`
        : 'the executable plan (inputs, steps, outputs) lives in plan.yaml beside SKILL.md; see docs/skills.md',
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
    for (const p of explainYamlErrors(text, doc.errors)) {
      const { line, col } = lc.linePos(p.offset);
      diagnostics.push({ file, line: line + lineOffset, col, code: 'yaml-syntax', message: p.message, ...(p.hint ? { hint: p.hint } : {}) });
    }
    return undefined;
  }
  return { file, doc, lc, lineOffset };
}

/** One YAML problem as an analyst should read it, at an offset of the text. */
interface YamlProblem {
  offset: number;
  message: string;
  hint?: string;
}

/**
 * The `yaml` library's errors, reworded and moved to where the cause is. It reports one cause
 * as several errors (a tab: one per line that follows), a mis-indented key at the value
 * before it, and a duplicate key without its name.
 */
function explainYamlErrors(text: string, errors: readonly YAMLError[]): YamlProblem[] {
  const lineAt = (offset: number) => {
    const start = text.lastIndexOf('\n', offset - 1) + 1;
    const end = text.indexOf('\n', offset);
    return { start, text: text.slice(start, end < 0 ? text.length : end) };
  };
  /** Offset of the line's first key: after its indentation and any `- ` markers. */
  const keyStart = (line: { start: number; text: string }) => line.start + (/^[ \t]*(?:-[ \t]+)*/.exec(line.text)?.[0].length ?? 0);
  const keyName = (line: { start: number; text: string }) => /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:#\s][^:#]*?)\s*:(?:\s|$)/.exec(text.slice(keyStart(line)))?.[1]?.replace(/^["']|["']$/g, '');

  // A tab in the indentation is the cause of everything after it: report only the tabs.
  const tabs = new Map<number, YamlProblem>();
  for (const e of errors) {
    const line = lineAt(e.pos[0] < text.length && text[e.pos[0]] === '\n' ? e.pos[0] + 1 : e.pos[0]);
    const indent = /^[ \t]*/.exec(line.text)![0];
    if (e.code === 'TAB_AS_INDENT' || indent.includes('\t')) {
      tabs.set(line.start, {
        offset: line.start + indent.indexOf('\t'),
        message: 'a tab indents this line: YAML indents with spaces only',
        hint: 'replace the tab with spaces (most editors: "indent using spaces"); keys of one map start in the same column',
      });
    }
  }
  if (tabs.size > 0) return [...tabs.values()];

  const out: YamlProblem[] = [];
  const multiline = new Set(errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]));
  for (const e of errors) {
    const first = e.message.split('\n')[0]!;
    if (e.code === 'MULTILINE_IMPLICIT_KEY' && errors.some((x) => x.code === 'BLOCK_AS_IMPLICIT_KEY' && x.pos[0] === e.pos[0])) continue;
    if (e.code === 'BLOCK_AS_IMPLICIT_KEY' && multiline.has(e.pos[0])) {
      // `tool: x` then ` with:` one column further in: YAML reads "x with" as one key.
      const m = errors.find((x) => x.code === 'MULTILINE_IMPLICIT_KEY' && x.pos[0] === e.pos[0])!;
      const keyLine = lineAt(m.pos[1]);
      const above = lineAt(e.pos[0]);
      const name = keyName(keyLine) ?? text.slice(keyStart(keyLine), m.pos[1]).trim();
      const col = keyStart(above) - above.start + 1;
      out.push({
        offset: keyStart(keyLine),
        message: `key "${name}" is indented further than the key above it, so YAML reads it as part of that key's value`,
        hint: `start "${name}:" in column ${col}, like "${keyName(above) ?? 'the key'}:" above it (or deeper under a key that ends with ":")`,
      });
      continue;
    }
    if (e.code === 'BLOCK_AS_IMPLICIT_KEY') {
      const line = lineAt(e.pos[0]);
      const key = keyName(line);
      const value = text.slice(e.pos[0], line.start + line.text.length).replace(/\s+#.*$/, '').trimEnd();
      out.push({
        offset: e.pos[0],
        message: `${first}: this text contains ": ", which YAML reads as a key`,
        hint: `put the text in quotes: ${key ? `${key}: ` : ''}"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`,
      });
      continue;
    }
    if (e.code === 'DUPLICATE_KEY') {
      const line = lineAt(e.pos[0]);
      const name = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:,{}\s][^:,{}]*?)\s*:/.exec(text.slice(e.pos[0]))?.[1]?.replace(/^["']|["']$/g, '');
      const firstAt = name === undefined ? undefined : firstKeyAbove(text, e.pos[0], e.pos[0] - line.start, name, lineAt, keyStart, keyName);
      out.push({
        offset: e.pos[0],
        message: `key "${name ?? text.slice(e.pos[0], e.pos[1])}" appears twice in the same map${firstAt ? ` (first at line ${firstAt})` : ''}`,
        hint: name === 'id' ? 'every step starts with "- id:": is the "- " of a new step missing?' : 'keep one of them (the second would silently replace the first)',
      });
      continue;
    }
    if (e.code === 'BAD_INDENT' || (e.code === 'MISSING_CHAR' && first.startsWith('Sequence item without'))) {
      const line = lineAt(text[e.pos[0]] === '\n' ? e.pos[0] + 1 : e.pos[0]);
      const name = keyName(line);
      out.push({
        offset: keyStart(line),
        message: `${name ? `key "${name}"` : 'this line'} is not aligned with the keys of its map (${first})`,
        hint: 'keys of one map start in the same column; a new list item starts with "- "',
      });
      continue;
    }
    out.push({ offset: e.pos[0], message: first });
  }
  return out;
}

/** Line (1-based) of the first `name:` of the map holding the key at `offset`, searching upwards. */
function firstKeyAbove(
  text: string,
  offset: number,
  col: number,
  name: string,
  lineAt: (o: number) => { start: number; text: string },
  keyStart: (l: { start: number; text: string }) => number,
  keyName: (l: { start: number; text: string }) => string | undefined,
): number | undefined {
  let line = lineAt(offset);
  let number = text.slice(0, line.start).split('\n').length;
  while (line.start > 0) {
    line = lineAt(line.start - 1);
    number--;
    if (line.text.trim() === '' || line.text.trim().startsWith('#')) continue;
    const indent = /^ */.exec(line.text)![0].length;
    if (keyStart(line) - line.start === col && keyName(line) === name) return number;
    // A line less indented opens the map (`- id:` of a list item) or is outside it.
    if (indent < col) return undefined;
  }
  return undefined;
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
