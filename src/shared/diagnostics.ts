/**
 * Errors in files people write (skills, config): each with where, what and a hint.
 * Printed as `file:line:col: message` so editors and terminals can jump to them.
 */
import type { Document, LineCounter, Node } from 'yaml';
import { isCollection, isNode } from 'yaml';

export interface Diagnostic {
  file: string;
  /** 1-based; 0 when the error is about the whole file. */
  line: number;
  col: number;
  /** Stable rule id, e.g. `unknown-key`, `unknown-tool`, `expr-syntax`. */
  code: string;
  message: string;
  hint?: string;
  /**
   * Absent or `error`: the file is refused (a skill with an error is not loaded). `warning`:
   * printed, but the skill loads and `validate` still passes — something that works today and
   * may fail at run time, or that the compiler cannot confirm.
   */
  severity?: 'error' | 'warning';
}

/** True unless the diagnostic is a warning. */
export function isError(d: Diagnostic): boolean {
  return d.severity !== 'warning';
}

/** `file:line:col: message (hint: …) [code]`; warnings say so after the position. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  return `${where}: ${isError(d) ? '' : 'warning: '}${d.message}${d.hint ? `\n    hint: ${d.hint}` : ''}  [${d.code}]`;
}

/** Sorted by file, then line, then column. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

/**
 * Position of the node at `path` in a parsed YAML document, falling back to the nearest
 * ancestor that exists (a missing key is reported at its parent map). `key: true` points at
 * the key of a map entry rather than its value.
 */
export function positionOf(
  doc: Document,
  lc: LineCounter,
  path: ReadonlyArray<string | number>,
  opts: { key?: boolean } = {},
): { line: number; col: number } {
  let node: unknown = doc.contents;
  let best: Node | null = isNode(node) ? node : null;
  for (let i = 0; i < path.length; i++) {
    if (!isCollection(node)) break;
    const seg = path[i]!;
    const last = i === path.length - 1;
    const pair = (node.items as unknown[]).find((it, idx) => {
      if (typeof seg === 'number') return idx === seg;
      const k = (it as { key?: unknown }).key;
      return isNode(k) && 'value' in k && String((k as { value: unknown }).value) === seg;
    });
    if (pair === undefined) break;
    if (typeof seg === 'number') {
      node = pair;
    } else {
      const p = pair as { key: unknown; value: unknown };
      node = last && opts.key ? p.key : p.value ?? p.key;
    }
    if (isNode(node)) best = node;
  }
  const offset = best?.range?.[0] ?? 0;
  const { line, col } = lc.linePos(offset);
  return { line, col };
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** The closest candidate within a small distance, or undefined. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
