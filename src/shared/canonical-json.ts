/**
 * Canonical JSON per RFC 8785 (JCS), and content hashes over it: a compiled plan's hash, a
 * tool definition's pin (gateway/curation/definition.ts), the audit chain (gateway/audit/).
 *
 * JCS is JSON.stringify's own output with object keys sorted and no whitespace (§3.2): numbers
 * as ECMAScript's Number-to-String (§3.2.2.3, which JSON.stringify applies), strings with
 * JSON.stringify's escaping (§3.2.2.2), keys sorted by their UTF-16 code units (§3.2.3, which is
 * what Array.prototype.sort compares). What JCS forbids is refused, never rendered as
 * something else: NaN and ±Infinity (§3.2.2.3), and lone surrogates (I-JSON, RFC 7493 §2.1).
 */
import { createHash } from 'node:crypto';

/** A value that has no canonical JSON form; `path` is a JSON Pointer to it. */
export class CanonicalJsonError extends Error {
  readonly code = 'ERR_CANONICAL_JSON';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} at ${path || '/'}`);
    this.name = 'CanonicalJsonError';
  }
}

/** A lone surrogate: a high one not followed by a low one, or a low one without a high one before it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Strings JSON writes as they are, between quotes: printable ASCII without `"` and `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * Where the serialiser is, as the keys from the root: a pointer is built from it only when a
 * value is refused (building one per member cost a quarter of the audit log's time).
 */
type Where = Array<string | number>;

const pointerOf = (where: Where): string => where.map((k) => `/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

function str(s: string, where: Where): string {
  // The audit log serialises every event and most of its strings are plain: no regex for
  // surrogates, no JSON.stringify for them (BENCHMARKS.md, "Audit trail").
  if (PLAIN.test(s)) return `"${s}"`;
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError('a string with a lone surrogate (not valid I-JSON, RFC 8785 §3.1)', pointerOf(where));
  return JSON.stringify(s);
}

function canonical(value: unknown, where: Where): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${value} has no JSON form (RFC 8785 §3.2.2.3)`, pointerOf(where));
      return JSON.stringify(value);
    case 'string':
      return str(value, where);
    case 'object':
      break;
    default:
      // undefined inside an array becomes null, as JSON.stringify does; functions, symbols and bigints have no JSON form.
      if (value === undefined) return 'null';
      throw new CanonicalJsonError(`a ${typeof value} has no JSON form`, pointerOf(where));
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      where.push(i);
      out += (i > 0 ? ',' : '') + canonical(value[i], where);
      where.pop();
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
    out += `${first ? '' : ','}${str(k, where)}:`;
    first = false;
    where.push(k);
    out += canonical(v, where);
    where.pop();
  }
  return `${out}}`;
}

/**
 * The RFC 8785 canonical JSON of a value: keys sorted at every level, no whitespace. Object
 * members whose value is `undefined` are left out (as JSON.stringify does). Throws
 * CanonicalJsonError for NaN, ±Infinity, lone surrogates, bigints, functions and symbols.
 *
 * @example canonicalJson({ b: 1e21, a: [-0, 'é'] }) // '{"a":[0,"é"],"b":1e+21}'
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, []);
}

/** `sha256:<hex>` of the canonical JSON. */
export function contentHash(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}
