/**
 * Secret references in config values: a value of `servers.<s>.env.*` or `servers.<s>.headers.*`
 * may name where a secret lives instead of holding it.
 *
 *   ${env:NAME}    an environment variable of the Skillgate process
 *   ${file:path}   the contents of a file (trailing line breaks removed), relative to the config file's folder
 *   $${            a literal `${`
 *
 * References may be embedded in a longer value (`"Bearer ${env:ERP_TOKEN}"`). The loaded config
 * keeps the references; they are resolved only when a value is used (the upstream pool spawning
 * or connecting to a server), so nothing that prints the config or its diagnostics can show a
 * secret. Messages name the key path and the variable or file, never a value.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ServerConfig } from './schema.js';

/** Why a secret reference cannot be used (one closed family, narrowed by `code`). */
export type SecretErrorCode =
  /** `${` that is not `${env:NAME}`, `${file:path}` or the escape `$${`. */
  | 'ERR_SECRET_REF_SYNTAX'
  /** `${env:NAME}` names a variable that is not set (or is empty) in Skillgate's environment. */
  | 'ERR_SECRET_ENV_UNSET'
  /** `${file:path}` names a file that cannot be read. */
  | 'ERR_SECRET_FILE_UNREADABLE';

/**
 * A reference that cannot be resolved. `keyPath` is where it is written (`['servers', 'erp',
 * 'headers', 'Authorization']`), `ref` the variable name or file path it names; the message
 * holds both and never the value.
 */
export class SecretError extends Error {
  constructor(
    readonly code: SecretErrorCode,
    readonly keyPath: readonly string[],
    readonly ref: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${keyPath.join('.')}: ${message}`, options);
    this.name = 'SecretError';
  }
}

/** One piece of a parsed value. */
export type SecretTemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string };

/** A parsed value, or why it does not parse (the reason never quotes the value). */
export type SecretTemplate = { ok: true; parts: SecretTemplatePart[] } | { ok: false; reason: string };

/** Where references are resolved: the environment `${env:…}` reads and the folder `${file:…}` is relative to. */
export interface SecretContext {
  env: Readonly<Record<string, string | undefined>>;
  baseDir: string;
}

const ENV_REF = /^env:([A-Za-z_][A-Za-z0-9_]*)$/;
const FILE_REF = /^file:(.+)$/;
const EXPECTED = 'expected ${env:NAME} or ${file:path} (write $${ for a literal ${)';

/**
 * Split a config value into text and references.
 *
 * @example
 * parseSecretTemplate('Bearer ${env:ERP_TOKEN}')
 * // { ok: true, parts: [{ kind: 'text', text: 'Bearer ' }, { kind: 'env', name: 'ERP_TOKEN' }] }
 */
export function parseSecretTemplate(value: string): SecretTemplate {
  const parts: SecretTemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    if (value.startsWith('$${', i)) {
      text += '${';
      i += 3;
      continue;
    }
    if (!value.startsWith('${', i)) {
      text += value[i];
      i += 1;
      continue;
    }
    const end = value.indexOf('}', i + 2);
    // The position, not the text: what sits inside a broken reference may be the secret itself.
    if (end < 0) return { ok: false, reason: `malformed secret reference at character ${i + 1}: unclosed "\${"; ${EXPECTED}` };
    const inner = value.slice(i + 2, end);
    const env = ENV_REF.exec(inner);
    const file = env ? null : FILE_REF.exec(inner);
    if (!env && !file) return { ok: false, reason: `malformed secret reference at character ${i + 1}: ${EXPECTED}` };
    if (text) parts.push({ kind: 'text', text });
    text = '';
    parts.push(env ? { kind: 'env', name: env[1]! } : { kind: 'file', path: file![1]! });
    i = end + 1;
  }
  if (text) parts.push({ kind: 'text', text });
  return { ok: true, parts };
}

/** Every problem of one value, resolving nothing into the result (for config load). */
export function checkSecretValue(value: string, keyPath: readonly string[], ctx: SecretContext): SecretError[] {
  const parsed = parseSecretTemplate(value);
  if (!parsed.ok) return [new SecretError('ERR_SECRET_REF_SYNTAX', keyPath, undefined, parsed.reason)];
  const problems: SecretError[] = [];
  for (const part of parsed.parts) {
    try {
      readPart(part, keyPath, ctx);
    } catch (err) {
      if (err instanceof SecretError) problems.push(err);
      else throw err;
    }
  }
  return problems;
}

/**
 * The value with its references replaced by what they name. Throws SecretError. The result is
 * a secret: hand it to the process or request that needs it, never to a log line.
 */
export function resolveSecretValue(value: string, keyPath: readonly string[], ctx: SecretContext): string {
  const parsed = parseSecretTemplate(value);
  if (!parsed.ok) throw new SecretError('ERR_SECRET_REF_SYNTAX', keyPath, undefined, parsed.reason);
  return parsed.parts.map((part) => readPart(part, keyPath, ctx)).join('');
}

/** `resolveSecretValue` over a map of values (a server's `env` or `headers`); `{}` for undefined. */
export function resolveSecretMap(
  values: Readonly<Record<string, string>> | undefined,
  keyPath: readonly string[],
  ctx: SecretContext,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values ?? {})) out[key] = resolveSecretValue(value, [...keyPath, key], ctx);
  return out;
}

/** The config keys whose values may hold references. */
export const SECRET_FIELDS = ['env', 'headers'] as const;

/** Every reference problem in the servers of a config, with the key path of each. */
export function checkServerSecrets(servers: Readonly<Record<string, ServerConfig>>, ctx: SecretContext): SecretError[] {
  const problems: SecretError[] = [];
  for (const [name, server] of Object.entries(servers)) {
    for (const field of SECRET_FIELDS) {
      for (const [key, value] of Object.entries(server[field] ?? {})) {
        problems.push(...checkSecretValue(value, ['servers', name, field, key], ctx));
      }
    }
  }
  return problems;
}

function readPart(part: SecretTemplatePart, keyPath: readonly string[], ctx: SecretContext): string {
  if (part.kind === 'text') return part.text;
  if (part.kind === 'env') {
    const value = ctx.env[part.name];
    // Empty counts as unset: an empty credential is a mistake, and failing here names it.
    if (value === undefined || value === '') {
      throw new SecretError('ERR_SECRET_ENV_UNSET', keyPath, part.name, `environment variable ${part.name} is not set (or is empty)`);
    }
    return value;
  }
  const file = isAbsolute(part.path) ? part.path : resolve(ctx.baseDir, part.path);
  try {
    return readFileSync(file, 'utf8').replace(/(\r?\n)+$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SecretError('ERR_SECRET_FILE_UNREADABLE', keyPath, part.path, `cannot read secret file "${part.path}" (${code})`, { cause: err });
  }
}
