/**
 * Which files make up the policy set: the `policies` entries of skillgate.yaml, each a path
 * or a pattern with `*` / `?` in its last segment (`policies/*.cedar`), relative to the config
 * file. A `.cedarschema` file holds the workspace's schema declarations (`type Arguments`);
 * a pattern for `*.cedar` files also picks up the `*.cedarschema` files beside them.
 * Patterns are expanded at every (re)load, so a new file is seen by the next reload.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Diagnostic } from '../../src/shared/diagnostics.js';
import { globMatcher } from '../../src/shared/glob.js';

export interface PolicyFiles {
  /** Absolute paths of `.cedar` files, in pattern order, each once. */
  policies: string[];
  /** Absolute paths of `.cedarschema` files. */
  schemas: string[];
  /** Folders the patterns look into (what a watcher watches). */
  folders: string[];
  errors: Diagnostic[];
}

const WILDCARD = /[*?]/;

/** Expand `patterns` (relative to `baseDir`). */
export function expandPolicyFiles(patterns: readonly string[], baseDir: string): PolicyFiles {
  const out: PolicyFiles = { policies: [], schemas: [], folders: [], errors: [] };
  const seen = new Set<string>();
  const add = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    (file.endsWith('.cedarschema') ? out.schemas : out.policies).push(file);
  };
  for (const pattern of patterns) {
    const abs = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
    const dir = dirname(abs);
    const name = basename(abs);
    const shown = displayPath(abs, baseDir);
    if (!out.folders.includes(dir)) out.folders.push(dir);
    if (WILDCARD.test(dir)) {
      out.errors.push({
        file: shown,
        line: 0,
        col: 0,
        code: 'policy-pattern',
        message: `wildcards are only supported in the file name, not in folders: "${pattern}"`,
        hint: 'list each folder, e.g. "policies/*.cedar"',
      });
      continue;
    }
    if (!WILDCARD.test(name)) {
      if (isFile(abs)) add(abs);
      else out.errors.push({ file: shown, line: 0, col: 0, code: 'policy-file-missing', message: 'policy file not found' });
      continue;
    }
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      out.errors.push({ file: displayPath(dir, baseDir), line: 0, col: 0, code: 'policy-file-missing', message: `policy folder not found (pattern "${pattern}")` });
      continue;
    }
    // As in shell globs, `*` does not match hidden files (editor lock and swap files).
    const dot = name.startsWith('.');
    const matches = globMatcher(name, { dot });
    const schemaMatches = name.endsWith('.cedar') ? globMatcher(`${name}schema`, { dot }) : undefined;
    for (const e of entries) if (matches(e) && isFile(join(dir, e))) add(join(dir, e));
    if (schemaMatches) for (const e of entries) if (schemaMatches(e) && isFile(join(dir, e))) add(join(dir, e));
  }
  if (out.policies.length === 0 && out.errors.length === 0) {
    out.errors.push({
      file: patterns.join(', ') || '(no patterns)',
      line: 0,
      col: 0,
      code: 'policy-none',
      message: 'no policy files: without policies every request is denied',
      hint: 'add policies/*.cedar, or point `policies` in skillgate.yaml at your .cedar files',
    });
  }
  return out;
}

/** A path as shown in diagnostics and fallback policy ids: relative to the config folder. */
export function displayPath(file: string, baseDir: string): string {
  const rel = relative(baseDir, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel.split('\\').join('/');
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
