/**
 * Tool call arguments (arbitrary JSON) as Cedar values in `context.arguments`.
 *
 * Cedar's JSON value format is not plain JSON: it has no `null` and no floats, objects whose
 * only key is `__entity` / `__extn` are entity references and extension calls, and its integers
 * are 64-bit. Arguments come from the agent, so they are converted explicitly, by these rules:
 *
 * | JSON value | Cedar value |
 * |---|---|
 * | string, boolean | String, Bool |
 * | integer within ±(2^53−1) | Long |
 * | number declared `decimal`, or a non-integer with ≤ 4 fractional digits | `decimal("…")` |
 * | any other number (more fractional digits, beyond 2^53, exponent form) | String of the number |
 * | string declared `decimal` / `datetime` / `duration` / `ipaddr` | that extension value |
 * | array | Set (order and duplicates are lost; `null` elements dropped) |
 * | object | Record (`null` fields omitted, so `has` is false for them) |
 * | object key `__entity`, `__extn` or `__expr` (any depth) | refused: the request is denied |
 *
 * A number that cannot be represented faithfully is never rounded: it becomes a value of
 * another type, so a comparison such as `context.arguments.amount <= 10000` raises a type
 * error, and an error on a side denies that side (fail closed). Cedar's `<`/`<=` only compare
 * Longs; an argument that may carry cents is declared `amount?: decimal` and compared with
 * `context.arguments.amount.lessThanOrEqual(decimal("10000.0"))` — then integers arrive as
 * decimals too, so both `5000` and `5000.5` compare.
 *
 * The declared types come from the workspace's `type Arguments = {…}` (see model.ts).
 */
import { setOwn } from '../../src/shared/own.js';
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';

/** The shape of `Arguments` as far as conversion cares (from the workspace schema). */
export type ArgType =
  | { kind: 'long' | 'string' | 'bool' | 'other' }
  | { kind: 'extension'; fn: 'decimal' | 'datetime' | 'duration' | 'ip' }
  | { kind: 'set'; element: ArgType | undefined }
  | { kind: 'record'; attributes: ReadonlyMap<string, ArgType> };

/** Keys Cedar's JSON format reads as escapes; an argument may not smuggle one in. */
const RESERVED_KEYS = new Set(['__entity', '__extn', '__expr']);

const MAX_DEPTH = 32;

/** Largest integer part of a Cedar decimal (i64 / 10^4). */
const DECIMAL_MAX = 922337203685477;
const DECIMAL_LITERAL = /^-?\d+(\.\d{1,4})?$/;

export type ArgumentsResult = { ok: true; value: Record<string, CedarValueJson> } | { ok: false; error: string };

/**
 * Convert the arguments of one request. `pick` limits the conversion to the top-level names
 * the policies read (undefined = all): arguments no policy looks at are never converted,
 * which keeps large payloads (file contents, mail bodies) off the evaluation path.
 */
export function toCedarArguments(
  args: Readonly<Record<string, unknown>> | undefined,
  declared: ArgType | undefined,
  pick: ReadonlySet<string> | undefined,
): ArgumentsResult {
  const out: Record<string, CedarValueJson> = {};
  if (args === undefined) return { ok: true, value: out };
  const attrs = declared?.kind === 'record' ? declared.attributes : undefined;
  try {
    for (const name of pick ?? Object.keys(args)) {
      if (!Object.hasOwn(args, name)) continue;
      if (RESERVED_KEYS.has(name)) throw new ArgumentError(`argument "${name}" uses a key reserved by Cedar's JSON format`);
      const v = convert(args[name], attrs?.get(name), name, 0);
      if (v !== undefined) setOwn(out, name, v);
    }
  } catch (err) {
    if (err instanceof ArgumentError) return { ok: false, error: err.message };
    throw err;
  }
  return { ok: true, value: out };
}

class ArgumentError extends Error {}

function convert(v: unknown, t: ArgType | undefined, path: string, depth: number): CedarValueJson | undefined {
  if (depth > MAX_DEPTH) throw new ArgumentError(`argument "${path}" is nested deeper than ${MAX_DEPTH} levels`);
  switch (typeof v) {
    case 'string':
      return t?.kind === 'extension' ? stringToExtension(v, t.fn) : v;
    case 'boolean':
      return v;
    case 'number':
      return numberValue(v, t?.kind === 'extension' && t.fn === 'decimal');
    case 'bigint':
      return numberValue(Number(v), false, String(v));
    case 'undefined':
      return undefined;
    case 'object': {
      if (v === null) return undefined;
      if (Array.isArray(v)) {
        const element = t?.kind === 'set' ? t.element : undefined;
        const items: CedarValueJson[] = [];
        for (let i = 0; i < v.length; i++) {
          const item = convert(v[i], element, `${path}[${i}]`, depth + 1);
          if (item !== undefined) items.push(item);
        }
        return items;
      }
      const attrs = t?.kind === 'record' ? t.attributes : undefined;
      const rec: Record<string, CedarValueJson> = {};
      for (const [k, item] of Object.entries(v)) {
        if (RESERVED_KEYS.has(k)) throw new ArgumentError(`argument "${path}.${k}" uses a key reserved by Cedar's JSON format`);
        const c = convert(item, attrs?.get(k), `${path}.${k}`, depth + 1);
        if (c !== undefined) setOwn(rec, k, c);
      }
      return rec;
    }
    default:
      throw new ArgumentError(`argument "${path}" is not JSON (${typeof v})`);
  }
}

function numberValue(n: number, asDecimal: boolean, text = String(n)): CedarValueJson {
  if (!asDecimal && Number.isSafeInteger(n)) return n;
  const dec = decimalLiteral(n, text);
  return dec === undefined ? text : { __extn: { fn: 'decimal', arg: dec } };
}

/** `12.5` → `"12.5"`, `12` → `"12.0"`; undefined when Cedar's decimal cannot hold it exactly. */
function decimalLiteral(n: number, text: string): string | undefined {
  if (!Number.isFinite(n) || Math.abs(n) > DECIMAL_MAX || !DECIMAL_LITERAL.test(text)) return undefined;
  return text.includes('.') ? text : `${text}.0`;
}

function stringToExtension(s: string, fn: 'decimal' | 'datetime' | 'duration' | 'ip'): CedarValueJson {
  if (fn === 'decimal') {
    // Only plain decimal literals; anything else stays a string and fails typed comparisons.
    if (!DECIMAL_LITERAL.test(s) || Math.abs(Number(s)) > DECIMAL_MAX) return s;
    return { __extn: { fn, arg: s.includes('.') ? s : `${s}.0` } };
  }
  return { __extn: { fn, arg: s } };
}

/**
 * The declared `Arguments` type, from the workspace schema in Cedar's JSON schema format
 * (`commonTypes` of the Skillgate namespace). Unknown or unsupported types become `other`.
 */
export function argTypeFromSchema(commonTypes: Record<string, unknown>, name = 'Arguments'): ArgType | undefined {
  const seen = new Set<string>();
  const fromJson = (t: unknown): ArgType => {
    const o = (t ?? {}) as { type?: string; name?: string; element?: unknown; attributes?: Record<string, unknown> };
    const ref = o.type === 'EntityOrCommon' || o.type === 'Extension' ? o.name : o.type;
    switch (ref?.replace(/^__cedar::/, '')) {
      case 'Long':
        return { kind: 'long' };
      case 'String':
        return { kind: 'string' };
      case 'Boolean':
        return { kind: 'bool' };
      case 'decimal':
        return { kind: 'extension', fn: 'decimal' };
      case 'datetime':
        return { kind: 'extension', fn: 'datetime' };
      case 'duration':
        return { kind: 'extension', fn: 'duration' };
      case 'ipaddr':
        return { kind: 'extension', fn: 'ip' };
      case 'Set':
        return { kind: 'set', element: o.element === undefined ? undefined : fromJson(o.element) };
      case 'Record':
        return {
          kind: 'record',
          attributes: new Map(Object.entries(o.attributes ?? {}).map(([k, a]) => [k, fromJson(a)])),
        };
      default: {
        const local = ref?.replace(/^Skillgate::/, '');
        if (local !== undefined && Object.hasOwn(commonTypes, local) && !seen.has(local)) {
          seen.add(local);
          const resolved = fromJson(commonTypes[local]);
          seen.delete(local);
          return resolved;
        }
        return { kind: 'other' };
      }
    }
  };
  return Object.hasOwn(commonTypes, name) ? fromJson(commonTypes[name]) : undefined;
}
