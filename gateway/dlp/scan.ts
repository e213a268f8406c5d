/**
 * Scanning a JSON value (tool arguments, a result's structured content) or one text for the
 * detectors of a side's rules: the findings (rule, JSON Pointer, action, count — never the
 * value) and a copy with every `redact` match replaced by `[REDACTED:<rule>]`. Containers
 * without a match are not copied. Strings and integers of 9 digits or more are scanned
 * (a card number may arrive as a JSON number); keys are names, not data, and are not.
 */
import type { DataLossFinding, DataLossSide } from '../../src/contracts/data-loss.js';
import type { Json } from '../../src/contracts/json.js';
import { setOwn } from '../../src/shared/own.js';
import { detect } from './detectors.js';
import type { SideRules } from './rules.js';

/** What replaces a redacted match. */
export function redaction(rule: string): string {
  return `[REDACTED:${rule}]`;
}

/** Findings so far; `blocked` is the first finding of a `block` rule (scanning stops there). */
export interface ScanState {
  findings: DataLossFinding[];
  blocked?: DataLossFinding;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. Paths are cut at 200 characters (keys come from callers). */
function pointer(base: string, key: string | number): string {
  const p = `${base}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;
  return p.length > 200 ? `${p.slice(0, 199)}…` : p;
}

/**
 * Scan one string at `path`; returns it redacted (or the same string when nothing matched or
 * the scan is blocked).
 */
export function scanText(text: string, path: string, side: DataLossSide, rules: SideRules, state: ScanState, phoneRegion?: string): string {
  if (state.blocked || text.length < 5) return text;
  const matches = detect(text, rules.detectors, phoneRegion ? { phoneRegion } : {});
  if (!matches.length) return text;
  const counts = new Map<string, DataLossFinding>();
  for (const m of matches) {
    const rule = rules.rules.get(m.detector)!;
    let f = counts.get(m.detector);
    if (!f) {
      f = { rule: m.detector, source: rule.source, in: side, path, action: rule.action, count: 0 };
      counts.set(m.detector, f);
      state.findings.push(f);
    }
    f.count++;
    if (rule.action === 'block') {
      state.blocked ??= f;
      return text;
    }
  }
  let out = '';
  let at = 0;
  for (const m of matches) {
    out += text.slice(at, m.start) + redaction(m.detector);
    at = m.end;
  }
  return out + text.slice(at);
}

/**
 * Scan a JSON value rooted at `path` (`''` for the arguments, `/structuredContent` in a
 * result). Returns the redacted value (the same object when nothing changed).
 *
 * @example
 * const state = { findings: [] };
 * scanJson({ note: 'card 4111 1111 1111 1111' }, '', 'arguments', rules, state)
 * // → { note: 'card [REDACTED:card-number]' }; state.findings[0].path === '/note'
 */
export function scanJson(value: Json, path: string, side: DataLossSide, rules: SideRules, state: ScanState, phoneRegion?: string): Json {
  if (state.blocked) return value;
  if (typeof value === 'string') return scanText(value, path, side, rules, state, phoneRegion);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || Math.abs(value) < 1e8) return value;
    const text = String(value);
    const scanned = scanText(text, path, side, rules, state, phoneRegion);
    return scanned === text ? value : scanned;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: Json[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i]!;
      const s = scanJson(v, pointer(path, i), side, rules, state, phoneRegion);
      if (s !== v) (copy ??= [...value])[i] = s;
    }
    return copy ?? value;
  }
  let copy: { [k: string]: Json } | undefined;
  for (const [k, v] of Object.entries(value)) {
    const s = scanJson(v, pointer(path, k), side, rules, state, phoneRegion);
    if (s !== v) {
      copy ??= { ...value };
      setOwn(copy, k, s);
    }
  }
  return copy ?? value;
}
