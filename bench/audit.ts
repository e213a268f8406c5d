/**
 * The audit trail's cost, measured side by side in one run on this machine:
 *
 *   A. append throughput: events/s a real SQLite audit store takes, sustained for a fixed time,
 *      for each way of writing (one transaction per event or per burst; fsync at checkpoints or
 *      at every commit), with the slowest one-second window;
 *   B. added latency per tool call: the real gateway (own process) with the audit trail on
 *      (flushed at the end of the microtask run — the default — or batched on setImmediate)
 *      against the same gateway with it off, same upstream, rounds interleaved;
 *   C. the admin page's queries and a full verification on 100,000 events.
 *
 *   node --import tsx bench/audit.ts       (BENCH_SECONDS, BENCH_SEQ_CALLS, BENCH_EVENTS)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { stringify } from 'yaml';
import { createDevIdp } from '../gateway/adapters/idp/dev-idp.js';
import { argumentRecorder } from '../gateway/audit/args.js';
import { checkpointSigner, loadOrCreateAuditKey, verificationKeys } from '../gateway/audit/keys.js';
import { createAuditLog } from '../gateway/audit/log.js';
import { openSqliteAuditStore } from '../gateway/audit/sqlite-store.js';
import { verifyRecords } from '../gateway/audit/verify.js';
import { parseAuditQuery } from '../gateway/audit/query.js';
import { eventsPage, type Filters, type PageContext } from '../gateway/adapters/admin/page.js';
import { parseConfig } from '../src/config/load.js';
import { withDevIssuer } from '../src/app/runtime/front-door.js';
import type { AuditEventInput } from '../src/contracts/audit.js';
import { transportFetch } from './fetch.js';
import { freePort, startChild } from './children.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SEQ_CALLS = Number(process.env.BENCH_SEQ_CALLS ?? 3000);
const ROUNDS = 5;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const f = (x: number, d = 2) => x.toFixed(d);
const dir = mkdtempSync(join(tmpdir(), 'skillgate-bench-audit-'));

/** Events as the gateway records them: a decision (both sides, masked arguments) and its call. */
const recordArgs = argumentRecorder({ 'core-banking.issue_credit': ['/iban'] });
const users = ['ceo', 'intern', 'credit-officer', 'loan-clerk', 'hr-admin'];
function sampleEvents(i: number): [AuditEventInput, AuditEventInput] {
  const user = users[i % users.length]!;
  const args = recordArgs('core-banking.issue_credit', { customerId: `C-${1000 + (i % 500)}`, amount: 1000 + (i % 90) * 100, termMonths: 36, iban: 'DE89370400440532013000' });
  const deny = i % 10 === 0;
  const ids = { requestId: '9f0c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f', sessionId: '5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e', decisionId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d' };
  return [
    {
      kind: 'decision',
      outcome: deny ? 'deny' : 'allow',
      reason: deny ? 'ERR_USER_NOT_PERMITTED' : 'ok',
      workspace: 'acme-bank',
      gateway: 'credit-desk',
      agent: 'credit-assistant',
      user,
      server: 'core-banking',
      tool: 'issue_credit',
      args,
      decision: { stage: 'policy', action: 'call_tool', agent: { decision: 'allow', policies: ['agent.credit-assistant.credit-tools'], basis: 'permit' }, user: deny ? { decision: 'deny', policies: [], basis: 'no-permit' } : { decision: 'allow', policies: ['user.loan-clerk.issue-credit-limit'], basis: 'permit' }, policyRevision: '3f9a1c2b7d4e' },
      ids,
    },
    { kind: 'tool.call', outcome: 'ok', reason: 'ok', workspace: 'acme-bank', gateway: 'credit-desk', agent: 'credit-assistant', user, server: 'core-banking', tool: 'issue_credit', args, latencyMs: 1.234, ids },
  ];
}

// ─── A. Append throughput ───────────────────────────────────────────────────────────────────
interface Variant {
  name: string;
  burst: number;
  flushOn: 'microtask' | 'immediate';
  fsync: 'checkpoint' | 'commit';
  seconds: number;
}

async function appendThroughput(v: Variant) {
  const file = join(dir, `throughput-${v.name.replace(/\W+/g, '-')}.db`);
  const store = openSqliteAuditStore(file, { fsync: v.fsync });
  const log = createAuditLog({ store, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'acme-bank', flushOn: v.flushOn });
  const recordUs: number[] = [];
  const windows: number[] = [];
  const t0 = performance.now();
  let windowStart = t0;
  let windowBase = 0;
  let i = 0;
  while (performance.now() - t0 < v.seconds * 1000) {
    for (let b = 0; b < v.burst; b += 2) {
      const [d, c] = sampleEvents(i++);
      const r0 = performance.now();
      log.record(d);
      log.record(c);
      recordUs.push(((performance.now() - r0) * 1000) / 2);
    }
    // One event-loop turn per burst, as requests arrive.
    await new Promise<void>((r) => setImmediate(r));
    const now = performance.now();
    if (now - windowStart >= 1000) {
      const stored = (await store.head()).seq;
      windows.push(((stored - windowBase) * 1000) / (now - windowStart));
      windowStart = now;
      windowBase = stored;
    }
  }
  await log.flush();
  const elapsed = (performance.now() - t0) / 1000;
  const stored = (await store.head()).seq;
  await log.close();
  await store.close();
  return { ...v, stored, perSecond: stored / elapsed, slowestWindow: windows.length ? Math.min(...windows) : stored / elapsed, recordP50: pct(recordUs, 50), recordP99: pct(recordUs, 99) };
}

// ─── B. Per-call latency, audit on vs off ───────────────────────────────────────────────────

async function gatewayUnder(mode: 'off' | 'on' | 'immediate', upstreamUrl: string, children: ChildProcess[]) {
  const base = join(dir, `gw-${mode}`);
  const port = await freePort();
  const policies = join(base, 'bench.cedar');
  const configText = stringify({
    workspace: 'bench',
    stateDir: join(base, 'state'),
    publicUrl: `http://127.0.0.1:${port}`,
    servers: { noop: { url: upstreamUrl } },
    users: { 'bench-user': { roles: ['bench'] } },
    identity: { devIdp: true },
    agents: { 'bench-agent': { clientId: 'bench-agent' } },
    gateways: { bench: { agents: ['bench-agent'], tools: ['noop.*'] } },
    policies: [policies],
    storage: { file: join(base, 'state', 'skillgate.db') },
  });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(base, { recursive: true });
  writeFileSync(
    policies,
    `@id("agent.bench") permit (principal == Skillgate::Agent::"bench-agent", action == Skillgate::Action::"call_tool", resource in Skillgate::Server::"noop");
@id("user.bench") permit (principal in Skillgate::Role::"bench", action == Skillgate::Action::"call_tool", resource in Skillgate::Server::"noop");\n`,
  );
  const configFile = join(base, 'skillgate.yaml');
  writeFileSync(configFile, configText);
  const loaded = parseConfig(configText, configFile);
  const idp = await createDevIdp({ config: withDevIssuer(loaded.config), stateDir: loaded.path(loaded.config.stateDir) });
  const gw = await startChild(['bench/gateway/gateway-main.ts', configFile], { env: { ...process.env, SKILLGATE_BENCH_AUDIT: mode } });
  children.push(gw.child);
  const resource = `${gw.url}/mcp/bench`;
  const token = await idp.mintToken({ user: 'bench-user', agent: 'bench-agent', audience: resource, ttlSec: 3600 });
  const c = new Client({ name: 'bench', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(resource), { fetch: transportFetch, requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return { mode, client: c, db: loaded.path(loaded.config.storage.file) };
}

async function sequential(c: Client, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await c.callTool({ name: 'noop.noop', arguments: { n: i } });
    out.push((performance.now() - t0) * 1000);
    if (r.isError) throw new Error(`call failed: ${JSON.stringify(r.content)}`);
  }
  return out;
}

const children: ChildProcess[] = [];
try {
  console.log(`Audit trail — Node ${process.version}, ${cpus().length} cores, load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);

  // A.
  const variants: Variant[] = [
    { name: 'one event per turn, written at the end of the microtask run (before-answer)', burst: 2, flushOn: 'microtask', fsync: 'checkpoint', seconds: SECONDS },
    { name: 'bursts of 100 per turn, before-answer', burst: 100, flushOn: 'microtask', fsync: 'checkpoint', seconds: SECONDS },
    { name: 'one event per turn, batched on setImmediate (batched, the default)', burst: 2, flushOn: 'immediate', fsync: 'checkpoint', seconds: SECONDS },
    { name: 'bursts of 100 per turn, batched', burst: 100, flushOn: 'immediate', fsync: 'checkpoint', seconds: SECONDS },
    { name: 'one event per turn, fsync every commit (audit.fsync: commit)', burst: 2, flushOn: 'microtask', fsync: 'commit', seconds: Math.min(SECONDS, 3) },
  ];
  const a = [];
  for (const v of variants) a.push(await appendThroughput(v));
  console.log('A. Append throughput (real SQLite store, WAL; checkpoint signed every 1,000 events)\n');
  console.log('| writing | events/s sustained | slowest 1 s window | record() p50 | record() p99 |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of a) console.log(`| ${r.name} | ${f(r.perSecond, 0)} | ${f(r.slowestWindow, 0)} | ${f(r.recordP50)} µs | ${f(r.recordP99)} µs |`);

  // B.
  const upstream = await startChild(['bench/gateway/noop-server.ts', '0']);
  children.push(upstream.child);
  const gws = [];
  for (const mode of ['off', 'on', 'immediate'] as const) gws.push(await gatewayUnder(mode, upstream.url, children));
  for (const g of gws) await sequential(g.client, 300);
  const lat = new Map<string, number[]>(gws.map((g) => [g.mode, []]));
  const roundP50 = new Map<string, number[]>(gws.map((g) => [g.mode, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const g of gws) {
      const xs = await sequential(g.client, Math.ceil(SEQ_CALLS / ROUNDS));
      lat.get(g.mode)!.push(...xs);
      roundP50.get(g.mode)!.push(pct(xs, 50));
    }
  }
  const off = lat.get('off')!;
  console.log(`\nB. Per tool call through the gateway (own process, no-op upstream), ${SEQ_CALLS} sequential calls each, ${ROUNDS} interleaved rounds; 2 events per call (decision + tool.call)\n`);
  console.log('| audit trail | p50 | p99 | added p50 | added p50, per round (min–max) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const g of gws) {
    const xs = lat.get(g.mode)!;
    const per = roundP50.get(g.mode)!.map((x, i) => x - roundP50.get('off')![i]!);
    console.log(`| ${g.mode === 'off' ? 'off (events dropped)' : g.mode === 'on' ? 'on, written before the answer (audit.write: before-answer)' : 'on, batched right after the answer (audit.write: batched, the default)'} | ${f(pct(xs, 50), 0)} µs | ${f(pct(xs, 99), 0)} µs | ${g.mode === 'off' ? '—' : `${f(pct(xs, 50) - pct(off, 50), 0)} µs`} | ${g.mode === 'off' ? '—' : `${f(Math.min(...per), 0)} – ${f(Math.max(...per), 0)} µs`} |`);
  }
  for (const g of gws) await g.client.close();

  // C.
  const big = join(dir, 'big.db');
  {
    const store = openSqliteAuditStore(big);
    const log = createAuditLog({ store, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'acme-bank' });
    for (let i = 0; i < EVENTS / 2; i++) {
      const [d, c] = sampleEvents(i);
      log.record(d);
      log.record(c);
      if (i % 500 === 0) await new Promise<void>((r) => setImmediate(r));
    }
    await log.close();
    await store.close();
  }
  const store = openSqliteAuditStore(big);
  const time = async (what: string, fn: () => Promise<unknown>, n = 20) => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await fn();
      xs.push(performance.now() - t0);
    }
    return { what, p50: pct(xs, 50), max: Math.max(...xs) };
  };
  const since = new Date(Date.now() - 60_000).toISOString();
  const c = [
    await time('newest 50 events, no filter', () => store.query({ limit: 50 })),
    await time('filter user (1 in 5 events)', () => store.query({ user: 'intern', limit: 50 })),
    await time('filter tool + deny (1 in 20)', () => store.query({ tool: 'core-banking.issue_credit', outcome: 'deny', limit: 50 })),
    await time('filter user + agent + gateway + deny + since', () => store.query({ user: 'intern', agent: 'credit-assistant', gateway: 'credit-desk', outcome: 'deny', since, limit: 50 })),
    await time('page 100 (before = seq 50,000)', () => store.query({ before: 50_000, limit: 50 })),
    await time('count, filter user + deny', () => store.count({ user: 'intern', outcome: 'deny' })),
  ];
  // The admin page: its queries plus rendering 50 rows to HTML, as the route does.
  const ctx: PageContext = {
    workspace: 'acme-bank',
    user: { id: 'auditor', roles: ['auditor'] },
    temporal: { ui: 'http://127.0.0.1:8233', namespace: 'default' },
    chain: { running: false },
    known: { users, agents: ['credit-assistant'], gateways: ['credit-desk'], tools: ['core-banking.*'], skills: [] },
  };
  const page = async (f: Filters) => {
    const q = parseAuditQuery(f);
    const [r, total] = await Promise.all([store.query({ ...q, limit: 50 }), store.count(q)]);
    return eventsPage(ctx, f, { ...r, total });
  };
  c.push(await time('admin page: no filter (query + count + HTML)', () => page({})));
  c.push(await time('admin page: user + deny + 7d (query + count + HTML)', () => page({ user: 'intern', decision: 'deny', since: '7d' })));
  c.push(await time('admin page: gateway (unindexed, common) + tool', () => page({ gateway: 'credit-desk', tool: 'core-banking.issue_credit' })));
  const keys = await verificationKeys([{ text: (await checkpointSigner(loadOrCreateAuditKey(dir))).publicKeyPem, where: 'bench' }]);
  const verify = await time('verify the whole chain', async () => {
    const r = await verifyRecords(store.records(), { keys });
    if (!r.ok) throw new Error(JSON.stringify(r.issue));
  }, 3);
  await store.close();
  console.log(`\nC. Queries on ${EVENTS.toLocaleString('en')} events (SQLite, indexed)\n`);
  console.log('| query | p50 | max |');
  console.log('|---|---:|---:|');
  for (const r of [...c, verify]) console.log(`| ${r.what} | ${f(r.p50)} ms | ${f(r.max)} ms |`);
  console.log(`\nload average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  for (const ch of children) ch.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
