/**
 * Canonical JSON (RFC 8785, JCS): object keys sorted by UTF-16 code units at every level, no
 * whitespace, strings and numbers as ECMAScript's JSON.stringify writes them (JCS §3.2.2 uses
 * exactly that serialisation). `undefined` members are left out. Used for content hashes: the
 * plan hash and the audit chain.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level and no whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // A loop with string concatenation: the audit log serialises every event on the call path's
  // thread, and map/filter/join allocate three arrays per object.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const item: unknown = value[i];
      out += item === undefined ? 'null' : canonicalJson(item);
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** `sha256:<hex>` of the canonical JSON. */
export function contentHash(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}
