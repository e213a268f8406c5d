/**
 * Canonical JSON (RFC 8785, JCS): object keys sorted by UTF-16 code units at every level, no
 * whitespace, strings and numbers as ECMAScript's JSON.stringify writes them (JCS §3.2.2 uses
 * exactly that serialisation). `undefined` members are left out. Used for content hashes: the
 * plan hash and the audit chain.
 */
import { createHash } from 'node:crypto';

/** Strings JSON writes as they are, between quotes: printable ASCII without `"` and `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** JSON with object keys sorted at every level and no whitespace. */
export function canonicalJson(value: unknown): string {
  // Loops and string concatenation, and JSON.stringify only for strings that need escaping:
  // the audit log serialises every event, and this is most of what an event costs
  // (BENCHMARKS.md, "Audit trail").
  switch (typeof value) {
    case 'string':
      return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      return 'null';
  }
  if (value === null) return 'null';
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
    out += `${canonicalJson(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** `sha256:<hex>` of the canonical JSON. */
export function contentHash(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}
