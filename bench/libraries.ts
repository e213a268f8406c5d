/**
 * Hand-written helpers against the maintained libraries that replace them, on the gateway's
 * hot paths, side by side in one run (BENCHMARKS.md, "Libraries instead of hand-written
 * helpers"):
 *
 *   LRU        the verified-token cache: a hit on every request           hand Map-LRU vs lru-cache
 *   glob       tool-pattern visibility: per tool on tools/list and calls   hand regex   vs picomatch
 *   SSE        upstream answers: every streamed tools/call result          hand parser  vs eventsource-parser
 *
 *   node --import tsx bench/libraries.ts
 *
 * Each case runs a warm-up, then 5 rounds; the figure is the median ns per operation.
 */
import { performance } from 'node:perf_hooks';
import { createParser } from 'eventsource-parser';
import { LRUCache } from 'lru-cache';
import picomatch from 'picomatch';

/** The hand-written LRU that lru-cache replaced (gateway/identity/token-cache.ts, before). */
class HandLru<V> {
  readonly #map = new Map<string, V>();
  constructor(readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    this.#map.delete(key);
    if (this.#map.size >= this.max) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    this.#map.set(key, value);
  }
}

/** The hand-written glob → RegExp of the visibility check (before). */
function handGlob(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** The hand-written SSE parser of gateway/upstream/http-transport.ts (before), trimmed to data events. */
class HandSse {
  private buffer = '';
  private data = '';
  private has = false;
  constructor(private readonly onData: (d: string) => void) {}
  push(chunk: string): void {
    const text = this.buffer + chunk;
    let pos = 0;
    let nl = text.indexOf('\n', pos);
    while (nl !== -1) {
      const line = text.charCodeAt(nl - 1) === 13 ? text.slice(pos, nl - 1) : text.slice(pos, nl);
      if (line === '') {
        if (this.has) this.onData(this.data);
        this.data = '';
        this.has = false;
      } else if (line.startsWith('data:')) {
        const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
        this.data = this.has ? `${this.data}\n${v}` : v;
        this.has = true;
      }
      pos = nl + 1;
      nl = text.indexOf('\n', pos);
    }
    this.buffer = text.slice(pos);
  }
}

function measure(name: string, ops: number, fn: () => void): number {
  for (let i = 0; i < 2; i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    fn();
    rounds.push(((performance.now() - t0) * 1e6) / ops);
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[2]!;
  process.stdout.write(`  ${name.padEnd(44)} ${median.toFixed(1).padStart(8)} ns/op\n`);
  return median;
}

const keys = Array.from({ length: 10_000 }, (_, i) => `aud\u0000${i.toString(16).padStart(64, '0')}`);
const value = { id: 'x', nbf: undefined };

process.stdout.write('LRU: 10,000 entries, 1,000,000 hits (token cache on every request)\n');
const hand = new HandLru<typeof value>(10_000);
const lib = new LRUCache<string, typeof value>({ max: 10_000 });
for (const k of keys) {
  hand.set(k, value);
  lib.set(k, value);
}
const HITS = 1_000_000;
const lruHand = measure('hand Map LRU get (hit)', HITS, () => {
  for (let i = 0; i < HITS; i++) hand.get(keys[i % 10_000]!);
});
const lruLib = measure('lru-cache get (hit)', HITS, () => {
  for (let i = 0; i < HITS; i++) lib.get(keys[i % 10_000]!);
});
const SETS = 200_000;
measure('hand Map LRU set (evicting)', SETS, () => {
  for (let i = 0; i < SETS; i++) hand.set(`n${i}`, value);
});
measure('lru-cache set (evicting)', SETS, () => {
  for (let i = 0; i < SETS; i++) lib.set(`n${i}`, value);
});

process.stdout.write('glob: 6 tool patterns × 1,000,000 names (visibility)\n');
const patterns = ['hr.*', 'core-banking.*', 'credit-bureau.*', 'filesystem.read_text_file', 'everything.get-*', 'core-*.get_*'];
const names = ['hr.get_compensation', 'core-banking.issue_credit', 'everything.get-sum', 'filesystem.write_file', 'credit-bureau.get_score', 'core-banking.get_customer'];
const handRes = patterns.map(handGlob);
const libRes = patterns.map((p) => picomatch(p, { dot: true }));
const MATCHES = 1_000_000;
const globHand = measure('hand RegExp test', MATCHES, () => {
  for (let i = 0; i < MATCHES; i++) handRes[i % 6]!.test(names[i % 6]!);
});
const globLib = measure('picomatch matcher', MATCHES, () => {
  for (let i = 0; i < MATCHES; i++) libRes[i % 6]!(names[i % 6]!);
});

process.stdout.write('SSE: 100,000 events of a typical tools/call answer (~330 bytes), fed in 1 KiB chunks\n');
const payload = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: '{"customerId":"C-1001","name":"Ada Lovelace","segment":"retail","since":"2019-03-01"}' }], structuredContent: { customerId: 'C-1001', name: 'Ada Lovelace', segment: 'retail', since: '2019-03-01' } } });
const stream = `event: message\ndata: ${payload}\n\n`.repeat(100_000);
const chunks: string[] = [];
for (let i = 0; i < stream.length; i += 1024) chunks.push(stream.slice(i, i + 1024));
let seen = 0;
const sseHand = measure('hand parser', 100_000, () => {
  const p = new HandSse(() => seen++);
  for (const c of chunks) p.push(c);
});
const sseLib = measure('eventsource-parser (maxBufferSize 8 MiB)', 100_000, () => {
  const p = createParser({ onEvent: () => seen++, maxBufferSize: 8 * 1024 * 1024 });
  for (const c of chunks) p.feed(c);
});

process.stdout.write(
  `\nper-request cost of the libraries over the hand-written helpers: LRU ${(lruLib - lruHand).toFixed(0)} ns, ` +
    `glob ${(globLib - globHand).toFixed(0)} ns per pattern, SSE ${(sseLib - sseHand).toFixed(0)} ns per event ` +
    `(gateway budget: 1 ms = 1,000,000 ns per call)\n`,
);
if (seen === 0) throw new Error('nothing parsed');
