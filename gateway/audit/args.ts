/**
 * What an audit event says about a call's arguments: the SHA-256 of their canonical JSON (RFC
 * 8785) — enough to prove later which arguments were sent — and a copy with the configured
 * fields masked (OPA decision logs' `mask` is the model). Fields are named per tool or skill by
 * JSON Pointers (RFC 6901), with one extension: a `*` token matches every member or element
 * (`/recipients/*\/email`). A masked value becomes the string `"[masked]"`.
 *
 * The copy is bounded: arguments whose canonical JSON is longer than `maxCopyBytes` are
 * recorded as `{ "$truncated": { "bytes": n } }` (the digest still covers all of them).
 */
import type { Json } from '../../src/contracts/json.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { globMatcher } from '../../src/shared/glob.js';
import { sha256Hex } from './hash.js';

/** What replaces a masked value. */
export const MASKED = '[masked]';

/** The arguments as an audit event holds them. */
export interface AuditArgs {
  /** `sha256:<hex>` of the canonical JSON of the arguments. */
  digest: string;
  masked?: Json;
}

/** Builds the `args` of events for one subject: `<server>.<tool>` or `skill.<name>`. */
export type ArgumentRecorder = (subject: string, args: unknown) => AuditArgs;

/** A JSON Pointer's tokens (RFC 6901 §3–4). `""` is the whole document. */
export function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`"${pointer}" is not a JSON Pointer: it must be empty or start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * A recorder for the configured masks (`audit.mask`: subject pattern → JSON Pointers; `*` in a
 * pattern matches any run of characters, as in gateway tool patterns).
 *
 * @example
 * const rec = argumentRecorder({ 'mail.send': ['/body', '/attachments/*\/content'] });
 * rec('mail.send', { to: 'a@b.example', body: 'secret' }) // → { digest: 'sha256:…', masked: { to: 'a@b.example', body: '[masked]' } }
 */
export function argumentRecorder(masks: Readonly<Record<string, readonly string[]>>, opts: { maxCopyBytes?: number } = {}): ArgumentRecorder {
  const maxCopyBytes = opts.maxCopyBytes ?? 8192;
  const rules = Object.entries(masks).map(([pattern, pointers]) => ({ matches: globMatcher(pattern), paths: pointers.map(pointerTokens) }));
  const cache = new Map<string, string[][]>();
  const pathsFor = (subject: string): string[][] => {
    let paths = cache.get(subject);
    if (!paths) {
      paths = rules.filter((r) => r.matches(subject)).flatMap((r) => r.paths);
      if (cache.size > 10_000) cache.clear();
      cache.set(subject, paths);
    }
    return paths;
  };
  return (subject, args) => {
    const text = canonicalJson(args ?? {});
    const digest = `sha256:${sha256Hex(text)}`;
    if (text.length > maxCopyBytes) return { digest, masked: { $truncated: { bytes: Buffer.byteLength(text) } } };
    // A copy from the canonical text: what the event holds cannot change if the caller's object does.
    let masked = JSON.parse(text) as Json;
    for (const path of pathsFor(subject)) masked = maskAt(masked, path, 0);
    return { digest, masked };
  };
}

function maskAt(value: Json, path: string[], i: number): Json {
  if (i === path.length) return MASKED;
  if (value === null || typeof value !== 'object') return value;
  const token = path[i]!;
  if (Array.isArray(value)) {
    if (token === '*') return value.map((v) => maskAt(v, path, i + 1));
    if (!/^(0|[1-9]\d*)$/.test(token) || Number(token) >= value.length) return value;
    const copy = [...value];
    copy[Number(token)] = maskAt(copy[Number(token)]!, path, i + 1);
    return copy;
  }
  if (token === '*') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskAt(v, path, i + 1)]));
  if (!Object.hasOwn(value, token)) return value;
  return { ...value, [token]: maskAt(value[token]!, path, i + 1) };
}
