/**
 * Glob patterns, one implementation (picomatch) for the product: gateway tool patterns
 * (`core-banking.*`, `core-*.get_*`) and policy file names (`*.cedar`). Matchers are compiled
 * once per pattern and kept. `*` matches any run of characters within a name, dots included;
 * a leading dot only where the caller says so (hidden files). BENCHMARKS.md, "Libraries
 * instead of hand-written helpers", has the cost per match (~0.1 µs).
 */
import picomatch from 'picomatch';

const compiled = new Map<string, (name: string) => boolean>();

/**
 * A matcher for `pattern`.
 *
 * @example globMatcher('hr.*')('hr.get_employee') // true
 */
export function globMatcher(pattern: string, opts: { dot?: boolean } = {}): (name: string) => boolean {
  const dot = opts.dot ?? true;
  const key = `${dot ? 'd' : '-'}${pattern}`;
  let m = compiled.get(key);
  if (!m) {
    m = picomatch(pattern, { dot });
    compiled.set(key, m);
  }
  return m;
}
