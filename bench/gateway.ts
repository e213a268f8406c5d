/**
 * Gateway overhead, measured side by side in one run on this machine, in both MCP eras:
 *
 *   direct:   bench client ──MCP/HTTP──▶ noop upstream (own process)
 *   gateway:  bench client ──MCP/HTTP──▶ gateway (own process) ──MCP/HTTP──▶ noop upstream
 *
 * 2025-11-25 lanes use the SDK v1 client (sessions), 2026-07-28 lanes the SDK v2 client pinned
 * to 2026-07-28 (stateless); each gateway lane is measured against the direct lane of its era.
 * BENCH_SDK_CHOICE=1 adds the front door the SDK v2 would give (v2-gateway-main.ts), the
 * candidate issue 10 weighed against Skillgate's own framing. Reports sequential latency (p50/p99) and the added latency, calls/s
 * at concurrency 32 and its ratio to direct, and the in-process decision time (cached token
 * verification + Cedar for both sides). Bounded: fixed call counts and durations; loopback only.
 *
 *   npm run bench:gateway            (node --import tsx bench/gateway.ts)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { stringify } from 'yaml';
import { createAuthorizer } from '../gateway/authz/authorizer.js';
import { createDevIdp } from '../gateway/adapters/idp/dev-idp.js';
import { openRevocationStore } from '../src/app/runtime/state.js';
import { transportFetch } from './fetch.js';
import { verifierFromConfig } from '../gateway/identity/verify.js';
import { createPolicyEngine } from '../gateway/policy/engine.js';
import { parseConfig } from '../src/config/load.js';
import { withDevIssuer } from '../src/app/runtime/front-door.js';
import type { AuditSink } from '../src/contracts/audit.js';
import { freePort, startChild } from './children.js';

const SEQ_CALLS = Number(process.env.BENCH_SEQ_CALLS ?? 3000);
const CONC = 32;
const CONC_SECONDS = Number(process.env.BENCH_CONC_SECONDS ?? 5);
const ROUNDS = 3;


/** A bench client: one MCP connection, era chosen by the SDK line (v1: 2025-11-25; v2 pinned: 2026-07-28). */
interface BenchClient {
  call(tool: string, n: number): Promise<{ isError?: boolean; content?: unknown }>;
  close(): Promise<void>;
}

async function connect(url: string, token?: string, era: Era = 'legacy'): Promise<BenchClient> {
  const headers = token ? { authorization: `Bearer ${token}` } : undefined;
  if (era === 'legacy') {
    const c = new Client({ name: 'bench', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: transportFetch, ...(headers ? { requestInit: { headers } } : {}) }));
    return { call: (tool, n) => c.callTool({ name: tool, arguments: { n } }) as Promise<{ isError?: boolean; content?: unknown }>, close: () => c.close() };
  }
  const c = new V2Client({ name: 'bench', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await c.connect(new V2Transport(new URL(url), headers ? { requestInit: { headers } } : {}));
  return { call: (tool, n) => c.callTool({ name: tool, arguments: { n } }) as Promise<{ isError?: boolean; content?: unknown }>, close: () => c.close() };
}

type Era = 'legacy' | 'modern';

/** One way of reaching the no-op tool; `reference` is the lane (index) its overhead is measured against. */
interface Lane {
  name: string;
  era: Era;
  url: string;
  token?: string;
  tool: string;
  reference?: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function sequential(c: BenchClient, tool: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await c.call(tool, i);
    out.push(performance.now() - t0);
    if (r.isError) throw new Error(`call failed: ${JSON.stringify(r.content)}`);
  }
  return out;
}

/** Answered calls per second at one call in flight per client; failed calls are counted, not answered. */
async function throughput(clients: BenchClient[], tool: string, seconds: number): Promise<{ rate: number; errors: number; firstError?: string }> {
  const stopAt = performance.now() + seconds * 1000;
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < stopAt) {
        const r = await c.call(tool, calls).catch((e: unknown) => ({ isError: true, content: String(e) }));
        if (r.isError) {
          errors++;
          firstError ??= JSON.stringify(r.content).slice(0, 200);
        } else calls++;
      }
    }),
  );
  return { rate: calls / seconds, errors, ...(firstError ? { firstError } : {}) };
}

const dir = mkdtempSync(join(tmpdir(), 'skillgate-bench-'));
const children: ChildProcess[] = [];
try {
  const upstream = await startChild(['bench/gateway/noop-server.ts', '0']);
  children.push(upstream.child);
  const port = await freePort();
  const policies = join(dir, 'bench.cedar');
  writeFileSync(
    policies,
    `@id("agent.bench") permit (principal == Skillgate::Agent::"bench-agent", action == Skillgate::Action::"call_tool", resource in Skillgate::Server::"noop");
@id("user.bench") permit (principal in Skillgate::Role::"bench", action == Skillgate::Action::"call_tool", resource in Skillgate::Server::"noop");\n`,
  );
  const configText = stringify({
    workspace: 'bench',
    stateDir: join(dir, 'state'),
    publicUrl: `http://127.0.0.1:${port}`,
    servers: { noop: { url: upstream.url } },
    users: { 'bench-user': { roles: ['bench'] } },
    identity: { devIdp: true },
    agents: { 'bench-agent': { clientId: 'bench-agent' } },
    gateways: { bench: { agents: ['bench-agent'], tools: ['noop.*'] } },
    policies: [policies],
    // 32 concurrent clients of one (user, agent): above the default cap of 16 sessions each.
    limits: { sessionsPerPrincipal: 64 },
  });
  const configFile = join(dir, 'skillgate.yaml');
  writeFileSync(configFile, configText);
  const loaded = parseConfig(configText, configFile);
  const config = withDevIssuer(loaded.config);
  // Create the signing key before the gateway process reads it.
  const idp = await createDevIdp({ config, stateDir: loaded.path(config.stateDir) });
  // BENCH_PROFILE=<dir> writes a CPU profile of the gateway process there.
  const gateway = await startChild(['bench/gateway/gateway-main.ts', configFile], { nodeFlags: process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [] });
  children.push(gateway.child);
  const resource = `${gateway.url}/mcp/bench`;
  const token = await idp.mintToken({ user: 'bench-user', agent: 'bench-agent', audience: resource, ttlSec: 3600 });

  // BENCH_SDK_CHOICE=1 adds the candidate front door on the MCP SDK v2 (issue 10, item 5).
  const upstreamV2 = await startChild(['bench/gateway/noop-server-v2.ts', '0']);
  children.push(upstreamV2.child);
  const lanes: Lane[] = [
    { name: 'direct, 2025-11-25 (SDK v1 client → v1 upstream)', era: 'legacy', url: upstream.url, tool: 'noop' },
    { name: 'Skillgate, 2025-11-25', era: 'legacy', url: resource, token, tool: 'noop.noop', reference: 0 },
    { name: 'direct, 2026-07-28 (SDK v2 client → v2 upstream)', era: 'modern', url: upstreamV2.url, tool: 'noop' },
    { name: 'Skillgate, 2026-07-28', era: 'modern', url: resource, token, tool: 'noop.noop', reference: 2 },
  ];
  if (process.env.BENCH_SDK_CHOICE) {
    // Same config (issuer, audience = the front door's resource URL, so the same token), own port.
    const v2 = await startChild(['bench/gateway/v2-gateway-main.ts', configFile, String(await freePort())]);
    children.push(v2.child);
    const v2Resource = `${v2.url}/mcp/bench`;
    const v2Token = token;
    lanes.push(
      { name: 'SDK v2 candidate, 2025-11-25', era: 'legacy', url: v2Resource, token: v2Token, tool: 'noop.noop', reference: 0 },
      { name: 'SDK v2 candidate, 2026-07-28', era: 'modern', url: v2Resource, token: v2Token, tool: 'noop.noop', reference: 2 },
    );
  }

  const clients = await Promise.all(lanes.map((l) => connect(l.url, l.token, l.era)));
  for (let i = 0; i < lanes.length; i++) await sequential(clients[i]!, lanes[i]!.tool, 300);

  // Sequential latency, interleaved in rounds so that machine noise hits every lane alike.
  const seq: number[][] = lanes.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < lanes.length; i++) seq[i]!.push(...(await sequential(clients[i]!, lanes[i]!.tool, Math.ceil(SEQ_CALLS / ROUNDS))));
  }

  // Throughput at concurrency 32 (32 clients, one call in flight each).
  const pools = await Promise.all(lanes.map((l) => Promise.all(Array.from({ length: CONC }, () => connect(l.url, l.token, l.era)))));
  const tput: number[][] = lanes.map(() => []);
  const errors: number[] = lanes.map(() => 0);
  const firstErrors: Array<string | undefined> = lanes.map(() => undefined);
  for (let r = 0; r < 2; r++) {
    for (let i = 0; i < lanes.length; i++) {
      const x = await throughput(pools[i]!, lanes[i]!.tool, CONC_SECONDS);
      tput[i]!.push(x.rate);
      errors[i]! += x.errors;
      firstErrors[i] ??= x.firstError;
    }
  }

  // In-process decision: cached token verification + Cedar, both sides.
  const verifier = verifierFromConfig({ ...config, publicUrl: gateway.url, identity: { ...config.identity, issuers: [{ issuer: `${gateway.url}/idp`, algorithms: ['RS256'] }] } });
  const policy = createPolicyEngine({ config: loaded, watch: false });
  const policyNoCache = createPolicyEngine({ config: loaded, watch: false, cacheSize: 0 });
  const revocations = await openRevocationStore(loaded);
  // The decision alone, as before the audit trail: its events are dropped here (bench/audit.ts measures recording them).
  const discard: AuditSink = { record() {} };
  const authz = createAuthorizer({ config, policy, revocations, audit: discard });
  const authzNoCache = createAuthorizer({ config, policy: policyNoCache, revocations, audit: discard });
  const id = await verifier.verify(token, { audience: resource });
  const decide = async (a: typeof authz, i: number) => {
    const t0 = performance.now();
    const v = await verifier.verify(token, { audience: resource });
    a.check({ principal: v.principal, action: 'call_tool', resource: { type: 'tool', server: 'noop', tool: 'noop' }, gateway: 'bench', arguments: { n: i } });
    return (performance.now() - t0) * 1000;
  };
  const warm: number[] = [];
  const cold: number[] = [];
  for (let i = 0; i < 2000; i++) await decide(authz, i % 7);
  for (let i = 0; i < 20_000; i++) warm.push(await decide(authz, i % 7));
  for (let i = 0; i < 5000; i++) cold.push(await decide(authzNoCache, i));
  void id;

  const f = (x: number) => x.toFixed(2);
  console.log(`\nGateway overhead — ${SEQ_CALLS} sequential calls per lane, Node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
  console.log(`| lane | p50 ms | p99 ms | added p50 | calls/s at c=${CONC} (best of 2 × ${CONC_SECONDS} s) | of direct | failed calls |`);
  console.log('|---|---|---|---|---|---|---|');
  for (let i = 0; i < lanes.length; i++) {
    const l = lanes[i]!;
    const best = Math.max(...tput[i]!);
    const ref = l.reference;
    const added = ref === undefined ? '' : `+${f(pct(seq[i]!, 50) - pct(seq[ref]!, 50))}`;
    const share = ref === undefined ? '' : `${((best / Math.max(...tput[ref]!)) * 100).toFixed(0)} %`;
    console.log(`| ${l.name} | ${f(pct(seq[i]!, 50))} | ${f(pct(seq[i]!, 99))} | ${added} | ${best.toFixed(0)} | ${share} | ${errors[i]} |`);
  }
  for (let i = 0; i < lanes.length; i++) if (firstErrors[i]) console.log(`first failure, ${lanes[i]!.name}: ${firstErrors[i]}`);
  console.log(`\nIn-process decision (cached token verification + revocation + Cedar agent ∧ user):`);
  console.log(`| path | p50 µs | p95 µs |`);
  console.log('|---|---|---|');
  console.log(`| decision cache warm | ${f(pct(warm, 50))} | ${f(pct(warm, 95))} |`);
  console.log(`| Cedar evaluated every call (no decision cache) | ${f(pct(cold, 50))} | ${f(pct(cold, 95))} |`);
  console.log(`\nthroughput rounds: ${lanes.map((l, i) => `${l.name}: ${tput[i]!.map((x) => x.toFixed(0)).join(', ')}`).join('; ')}`);
  policy.close();
  policyNoCache.close();
  await Promise.all([...clients, ...pools.flat()].map((c) => c.close()));
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
