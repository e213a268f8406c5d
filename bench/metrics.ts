/**
 * Prometheus text scraped from the Temporal dev server (`TemporalRuntime.metricsUrl`, histograms
 * in seconds) and from the worker's SDK core (`Runtime.install({ telemetryOptions })`, histograms
 * in milliseconds): snapshots, and what a block of runs added to a histogram between two.
 */

/** Series (name + labels, as written) → value, for `_sum` and `_count` lines only. */
export type Snapshot = Map<string, number>;

/** One scrape. A series printed twice (the SDK core does) counts once. */
export async function scrape(url: string): Promise<Snapshot> {
  const text = await (await fetch(url)).text();
  const out: Snapshot = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const sp = line.lastIndexOf(' ');
    const series = line.slice(0, sp);
    const name = series.split('{', 1)[0]!;
    if (!name.endsWith('_sum') && !name.endsWith('_count')) continue;
    if (!out.has(series)) out.set(series, Number(line.slice(sp + 1)));
  }
  return out;
}

/** What a block of runs added to one histogram: observations and their total, in ms. */
export interface Added {
  count: number;
  totalMs: number;
}

/**
 * The increase of histogram `name` between `before` and `after`, over the series whose labels
 * contain every `label="value"` of `where`. `unitMs`: 1000 for seconds, 1 for milliseconds.
 */
export function added(before: Snapshot, after: Snapshot, name: string, where: Record<string, string>, unitMs: number): Added {
  const want = Object.entries(where).map(([k, v]) => `${k}="${v}"`);
  const matches = (series: string) => want.every((w) => series.includes(w));
  let count = 0;
  let total = 0;
  for (const [series, v] of after) {
    const base = series.split('{', 1)[0]!;
    if (base !== `${name}_count` && base !== `${name}_sum`) continue;
    if (!matches(series)) continue;
    const d = v - (before.get(series) ?? 0);
    if (base.endsWith('_count')) count += d;
    else total += d;
  }
  return { count, totalMs: total * unitMs };
}

/** Sum of two Added. */
export function plus(a: Added, b: Added): Added {
  return { count: a.count + b.count, totalMs: a.totalMs + b.totalMs };
}
