/**
 * Loads and validates `skillgate.yaml`. Errors name the file, line and key path:
 *   skillgate.yaml:12:5: servers.core-banking.command: expected string, got number
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type Diagnostic, didYouMean, formatDiagnostic, positionOf } from '../diagnostics.js';
import { configSchema, type SkillgateConfig } from './schema.js';

/** A config that failed to load; `diagnostics` holds every problem found. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`invalid configuration:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: SkillgateConfig;
  /** Absolute path of the file. */
  file: string;
  /** Folder relative paths in the config are resolved against. */
  baseDir: string;
  /** Resolve a path written in the config. */
  path(p: string): string;
}

/** Where the config is looked for when no path is given: $SKILLGATE_CONFIG, else ./skillgate.yaml. */
export function defaultConfigPath(): string {
  return resolve(process.env.SKILLGATE_CONFIG ?? 'skillgate.yaml');
}

/** Parse and validate config text; `file` is only used in messages and for relative paths. */
export function parseConfig(text: string, file: string): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const diags: Diagnostic[] = [];
  for (const e of doc.errors) {
    const { line, col } = lc.linePos(e.pos[0]);
    diags.push({ file, line, col, code: 'yaml-syntax', message: e.message.split('\n')[0]! });
  }
  if (diags.length) throw new ConfigError(diags);
  const result = configSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    for (const issue of result.error.issues) diags.push(issueToDiagnostic(issue, file, doc, lc));
    throw new ConfigError(diags);
  }
  const baseDir = dirname(resolve(file));
  return {
    config: result.data,
    file: resolve(file),
    baseDir,
    path: (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p)),
  };
}

/** Read, parse and validate a config file. */
export function loadConfig(file = defaultConfigPath()): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([
      {
        file,
        line: 0,
        col: 0,
        code: 'config-missing',
        message: code === 'ENOENT' ? 'configuration file not found' : `cannot read configuration (${code})`,
        hint: 'run skillgate from the project folder, or pass --config / set SKILLGATE_CONFIG',
      },
    ]);
  }
  return parseConfig(text, file);
}

function issueToDiagnostic(
  issue: z.core.$ZodIssue,
  file: string,
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
): Diagnostic {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const keyPath = path.join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const pos = positionOf(doc, lc, [...path, key], { key: true });
    const known = knownKeysAt(path);
    const guess = didYouMean(key, known);
    return {
      file,
      ...pos,
      code: 'unknown-key',
      message: `${path.length ? `${keyPath}: ` : ''}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`,
      hint: guess ? `did you mean "${guess}"?` : known.length ? `allowed here: ${known.join(', ')}` : undefined,
    };
  }
  const pos = positionOf(doc, lc, path);
  return { file, ...pos, code: 'config-invalid', message: `${keyPath}: ${issue.message}` };
}

/** The keys the schema allows at a path (best effort, for hints). */
function knownKeysAt(path: ReadonlyArray<string | number>): string[] {
  let schema: unknown = configSchema;
  for (const seg of path) {
    schema = unwrap(schema);
    const def = (schema as { def?: { type?: string; shape?: Record<string, unknown>; valueType?: unknown; options?: unknown[] } }).def;
    if (def?.type === 'object' && typeof seg === 'string') schema = def.shape?.[seg];
    else if (def?.type === 'record') schema = def.valueType;
    else return [];
  }
  schema = unwrap(schema);
  const def = (schema as { def?: { type?: string; shape?: Record<string, unknown>; options?: unknown[] } }).def;
  if (def?.type === 'object') return Object.keys(def.shape ?? {});
  if (def?.type === 'union') {
    return [...new Set((def.options ?? []).flatMap((o) => Object.keys((unwrap(o) as { def?: { shape?: object } }).def?.shape ?? {})))];
  }
  return [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { type?: string; innerType?: unknown } } | undefined;
  while (s?.def && (s.def.type === 'default' || s.def.type === 'optional' || s.def.type === 'prefault')) {
    s = s.def.innerType as typeof s;
  }
  return s;
}
