/**
 * The pinned catalog, for BENCHMARKS.md:
 *
 *   npm run build && node --import tsx bench/catalog.ts [calls=20000] [rounds=5]
 *
 * 1. The cost of the catalog check on the call path (the `resolve-tool` step), over the
 *    shipped skillgate.yaml and tools.lock.json with the real upstream servers, side by side
 *    in one run, interleaved in rounds (a noisy neighbour slows every variant alike):
 *      before    what resolve-tool did before curation: the pool's cached list, find the name
 *      check     catalog.check(server, tool): the pinned state of that list, the tool's pin
 *      step      the same for a skill step, which also compares the compiled definition hash
 *    Each call is timed on its own (hrtime); the table shows the quietest round's p50 and p99.
 * 2. What an agent receives from tools/list: each gateway's curated list (approved tools its
 *    patterns expose, named `server.tool`) against the raw lists of the same servers, in bytes
 *    of JSON and in tokens (o200k_base, the GPT-4o tokenizer of the `gpt-tokenizer` package:
 *    an approximation, other models' tokenizers differ by some per cent).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { createPinnedCatalog } from '../gateway/curation/catalog.js';
import { silentLogger } from '../gateway/log.js';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import { loadConfig } from '../src/config/load.js';
import { globMatcher } from '../src/shared/glob.js';
import { fileLockSource } from '../gateway/curation/lock-source.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const calls = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 5);

const loaded = loadConfig(resolve(root, 'skillgate.yaml'));
const pool = createUpstreamPool(loaded, { log: () => {} });
const catalog = createPinnedCatalog({
  pool,
  lock: fileLockSource(loaded.path(loaded.config.catalog.lockFile)),
  servers: loaded.config.servers,
  workspace: loaded.config.workspace,
  audit: { record() {} },
  log: silentLogger,
  watch: false,
});

const targets: Array<[string, string]> = [
  ['core-banking', 'get_customer'],
  ['hr', 'get_compensation'],
  ['everything', 'echo'],
  ['filesystem', 'read_text_file'],
];
const hashes = new Map<string, string>();
for (const [s, t] of targets) {
  const r = await catalog.check(s, t);
  if (!r.ok) throw new Error(`${s}.${t} is not served: ${r.detail}`);
  hashes.set(`${s}.${t}`, r.hash);
}

const variants: Record<string, (s: string, t: string) => Promise<unknown>> = {
  before: async (s, t) => {
    if (!(await pool.listTools(s)).some((x) => x.name === t)) throw new Error('unknown');
  },
  check: async (s, t) => {
    if (!(await catalog.check(s, t)).ok) throw new Error('refused');
  },
  step: async (s, t) => {
    if (!(await catalog.check(s, t, hashes.get(`${s}.${t}`))).ok) throw new Error('refused');
  },
};

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const best = new Map<string, { p50: number; p99: number }>();
for (let round = 0; round < rounds; round++) {
  for (const [name, fn] of Object.entries(variants)) {
    const us: number[] = [];
    for (let i = 0; i < calls; i++) {
      const [s, t] = targets[i % targets.length]!;
      const t0 = process.hrtime.bigint();
      await fn(s, t);
      us.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    us.sort((a, b) => a - b);
    const r = { p50: pct(us, 0.5), p99: pct(us, 0.99) };
    const prev = best.get(name);
    if (!prev || r.p50 < prev.p50) best.set(name, r);
  }
}

console.log(`\n## Catalog check on the call path (${calls} calls × ${rounds} rounds, best round; Node ${process.version})\n`);
console.log('| variant | p50 µs | p99 µs |');
console.log('|---|---|---|');
for (const [name, r] of best) console.log(`| ${name} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);

console.log('\n## tools/list an agent receives: curated gateway vs the raw servers\n');
console.log('| gateway | servers | raw tools | raw bytes | raw tokens | curated tools | curated bytes | curated tokens | tokens saved |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const [g, gw] of Object.entries(loaded.config.gateways)) {
  const servers = Object.keys(loaded.config.servers).filter((s) => gw.tools.some((p) => globMatcher(p.slice(0, p.indexOf('.')))(s)));
  const raw = (await Promise.all(servers.map((s) => pool.listTools(s)))).flat();
  const curated = (
    await Promise.all(servers.map(async (s) => (await catalog.visibleTools(s)).filter((t) => gw.tools.some((p) => globMatcher(p)(`${s}.${t.name}`))).map((t) => ({ ...t, name: `${s}.${t.name}` }))))
  ).flat();
  // Each raw server answers its own tools/list; the gateway answers one.
  const rawDocs = await Promise.all(servers.map(async (s) => JSON.stringify({ tools: await pool.listTools(s) })));
  const curatedDoc = JSON.stringify({ tools: curated });
  const rawBytes = rawDocs.reduce((n, d) => n + Buffer.byteLength(d), 0);
  const rawTokens = rawDocs.reduce((n, d) => n + encode(d).length, 0);
  const curTokens = encode(curatedDoc).length;
  console.log(`| ${g} | ${servers.join(', ')} | ${raw.length} | ${rawBytes} | ${rawTokens} | ${curated.length} | ${Buffer.byteLength(curatedDoc)} | ${curTokens} | ${Math.round((1 - curTokens / rawTokens) * 100)} % |`);
}

catalog.close();
await pool.close();
