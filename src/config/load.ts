/**
 * Loads and validates `skillgate.yaml`. Errors name the file, line and key path:
 *   skillgate.yaml:12:5: servers.core-banking.command: expected string, got number
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type Diagnostic, didYouMean, formatDiagnostic, positionOf } from '../shared/diagnostics.js';
import { configSchema, type SkillgateConfig } from './schema.js';
import { checkSecretValue, checkServerSecrets, type SecretError, type SecretErrorCode } from './secrets.js';

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

/** What loading checks the config against besides its text. */
export interface LoadOptions {
  /** The environment `${env:NAME}` references must be set in (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Diagnostic codes of secret references, by error code. */
const SECRET_DIAGNOSTIC: Record<SecretErrorCode, string> = {
  ERR_SECRET_REF_SYNTAX: 'secret-ref-syntax',
  ERR_SECRET_ENV_UNSET: 'secret-env-unset',
  ERR_SECRET_FILE_UNREADABLE: 'secret-file-unreadable',
};

/**
 * Parse and validate config text; `file` is only used in messages and for relative paths.
 * Secret references (`${env:…}`, `${file:…}`) must resolve, but stay unresolved in the result.
 */
export function parseConfig(text: string, file: string, opts: LoadOptions = {}): LoadedConfig {
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
  const secretCtx = { env: opts.env ?? process.env, baseDir };
  const key = result.data.runs.attestationKey;
  const optionalSecret = (value: string | undefined, keyPath: string[]) => (value === undefined ? [] : checkSecretValue(value, keyPath, secretCtx));
  const providerSecrets = Object.entries(result.data.providers).flatMap(([name, p]) => [
    ...optionalSecret(p.clientId, ['providers', name, 'clientId']),
    ...optionalSecret(p.clientSecret, ['providers', name, 'clientSecret']),
  ]);
  const webLogin = result.data.identity.webLogin;
  const problems = [
    ...checkServerSecrets(result.data.servers, secretCtx),
    ...optionalSecret(key, ['runs', 'attestationKey']),
    ...optionalSecret(result.data.audit.signingKey, ['audit', 'signingKey']),
    ...Object.entries(result.data.telemetry.otlp.headers).flatMap(([h, v]) => checkSecretValue(v, ['telemetry', 'otlp', 'headers', h], secretCtx)),
    ...optionalSecret(result.data.vault.key, ['vault', 'key']),
    ...optionalSecret(result.data.storage.postgres?.url, ['storage', 'postgres', 'url']),
    ...optionalSecret(result.data.tokens.signingKeys, ['tokens', 'signingKeys']),
    ...providerSecrets,
    ...optionalSecret(webLogin?.clientId, ['identity', 'webLogin', 'clientId']),
    ...optionalSecret(webLogin?.clientSecret, ['identity', 'webLogin', 'clientSecret']),
  ];
  for (const problem of problems) {
    diags.push({
      file,
      ...positionOf(doc, lc, problem.keyPath),
      code: SECRET_DIAGNOSTIC[problem.code],
      message: problem.message,
      hint: secretHint(problem),
    });
  }
  const config = result.data;
  // SKILLGATE_PORT moves everything derived from the port — token audiences, the dev IdP's
  // issuer, RFC 9728 metadata — unless publicUrl is written in the file (a proxy's URL).
  const port = (opts.env ?? process.env).SKILLGATE_PORT;
  if (port !== undefined && port !== '') {
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      diags.push({ file: 'environment', line: 0, col: 0, code: 'env-invalid', message: `SKILLGATE_PORT="${port.slice(0, 20)}" is not a port (1–65535)`, hint: 'unset it to use the port of publicUrl (8787 by default)' });
    } else if (!doc.has('publicUrl')) {
      config.publicUrl = `http://127.0.0.1:${Number(port)}`;
    }
  }
  if (diags.length) throw new ConfigError(diags);
  return {
    config,
    file: resolve(file),
    baseDir,
    path: (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p)),
  };
}

/** Read, parse and validate a config file. */
export function loadConfig(file = defaultConfigPath(), opts: LoadOptions = {}): LoadedConfig {
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
  return parseConfig(text, file, opts);
}

function secretHint(problem: SecretError): string | undefined {
  switch (problem.code) {
    case 'ERR_SECRET_ENV_UNSET':
      return `set ${problem.ref} in the environment Skillgate starts in`;
    case 'ERR_SECRET_FILE_UNREADABLE':
      return 'relative paths are resolved against the folder of this file; Skillgate must be able to read the secret file';
    case 'ERR_SECRET_REF_SYNTAX':
      return undefined;
  }
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
  // A refinement may name its own rule (e.g. `secret-ref-syntax`, schema.ts).
  const rule = issue.code === 'custom' && typeof issue.params?.diagnostic === 'string' ? issue.params.diagnostic : 'config-invalid';
  return { file, ...pos, code: rule, message: `${keyPath}: ${issue.message}` };
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
