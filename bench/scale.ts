/**
 * Scale-out on this machine, for BENCHMARKS.md ("Scale-out", issue 15):
 *
 *   npm run bench:scale   (= node --import tsx bench/scale.ts)
 *   BENCH_GATEWAY_SECONDS=5 BENCH_SKILL_SECONDS=5 npm run bench:scale
 *
 * The scaled-out topology of test/helpers/topology.ts — a real PostgreSQL, Temporal's own server
 * on it, two `skillgate gateway` replicas behind the test load balancer, `skillgate worker`
 * replicas, Skillgate's state in PostgreSQL — all processes on loopback. Then four lanes, each a
 * closed loop of MCP clients (SDK v1, each its own user, token and session) through the load
 * balancer, a warm-up unmeasured, then a measured window:
 *
 *   A. gateway calls/s: `core-banking.get_customer` (a direct, read-only tool call), 32 clients
 *      (BENCH_GATEWAY_CLIENTS), 10 s (BENCH_GATEWAY_SECONDS), with ONE gateway replica in the load
 *      balancer and then TWO (the load balancer's setBackends(): each client's token hashes it to
 *      one replica; new sessions per lane);
 *   B. skill runs/s: `skill.credit-issuance` (synchronous: the call returns the completed run),
 *      16 clients (BENCH_SKILL_CLIENTS), 15 s (BENCH_SKILL_SECONDS), through both gateways, with
 *      ONE worker replica and then TWO (topo.addWorker()).
 *
 * Per lane: calls that ended in the window per second, their p50/p95 (call → answer), failures
 * (an error result or a thrown call: counted, the first ones printed, never hidden), how the load
 * balancer split the requests, and the CPU of each process group over the window: utime + stime
 * (+ cutime + cstime, what its reaped children used) of /proc/<pid>/stat summed over the process
 * and its descendants — a gateway with its stdio demo-server children, a worker with its own
 * (worker 2: 0 until it is added), the Temporal server, PostgreSQL (the postmaster's tree), and
 * this process alone (the clients and the load balancer); the machine's busy time from /proc/stat, "others" = machine − ours (the
 * neighbours on a shared machine). In % of one core: 2 cores = 200 %.
 *
 * Bounded (a watchdog fails it), it stops every process it started, also on failure.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Backend } from '../test/helpers/load-balancer.js';
import { startTopology, type Topology } from '../test/helpers/topology.js';
import { benchLog, quantile, runBench } from './engine-setup.js';

const GATEWAY_CLIENTS = Number(process.env.BENCH_GATEWAY_CLIENTS ?? 32);
const GATEWAY_SECONDS = Number(process.env.BENCH_GATEWAY_SECONDS ?? 10);
const SKILL_CLIENTS = Number(process.env.BENCH_SKILL_CLIENTS ?? 16);
const SKILL_SECONDS = Number(process.env.BENCH_SKILL_SECONDS ?? 15);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 4);
/** The whole bench, topology start included. */
const WATCHDOG_MS = 6 * 60_000;
/** One call's bound: a stuck call fails the call, not the bench. */
const CALL_TIMEOUT_MS = 30_000;
/** A group this busy (% of one core) is saturated; the machine at this share of its cores is. */
const SATURATED_PCT = 90;
const MACHINE_SATURATED = 0.9;

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const CORES = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 1;
const USERS = Array.from({ length: Math.max(GATEWAY_CLIENTS, SKILL_CLIENTS) }, (_, i) => `clerk-${String(i + 1).padStart(2, '0')}`);

let topo: Topology | undefined;
/** The topology while it starts: a failure then still closes what it started. */
let starting: Promise<Topology> | undefined;

interface Group {
  name: string;
  /** Root pids of the group (the tree below each is included unless `alone`). */
  pids: () => number[];
  alone?: boolean;
}

interface Lane {
  name: string;
  replicas: string;
  clients: number;
  seconds: number;
  ok: number;
  failed: number;
  /** Failures in all, the warm-up included. */
  failedAll: number;
  /** Session set-ups retried before the lane (not calls). */
  connectRetries: number;
  failures: string[];
  p50: number;
  p95: number;
  split: string;
  /** % of one core per group over the window. */
  cpu: Map<string, number>;
  machine: number;
  load: string;
}

async function main(): Promise<void> {
  benchLog(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${CORES} cores)`);
  const t0 = Date.now();
  starting = startTopology({ gateways: 2, workers: 1, users: Object.fromEntries(USERS.map((u) => [u, { name: u, roles: ['loan-clerk'] }])), log: benchLog });
  topo = await starting;
  const t = topo;
  benchLog(`topology up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const g = t.gateways.map((x): Backend => ({ host: '127.0.0.1', port: x.port }));
  const postmaster = Number(readFileSync(join(t.pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const groups: Group[] = [
    { name: 'gateway 1', pids: () => pidsOf(t.gateways[0]?.proc.child.pid) },
    { name: 'gateway 2', pids: () => pidsOf(t.gateways[1]?.proc.child.pid) },
    { name: 'worker 1', pids: () => pidsOf(t.workers[0]?.child.pid) },
    { name: 'worker 2', pids: () => pidsOf(t.workers[1]?.child.pid) },
    { name: 'Temporal', pids: () => pidsOf(t.temporal.pid) },
    { name: 'PostgreSQL', pids: () => [postmaster] },
    { name: 'bench+LB', pids: () => [process.pid], alone: true },
  ];

  const lanes: Lane[] = [];
  const read = (user: string) => async (c: Client, n: number) => {
    const r = await c.callTool({ name: 'core-banking.get_customer', arguments: { customerId: 'C-1001' }, _meta: { 'dev.skillgate/idempotency-key': `${user}-read-${n}` } }, undefined, { timeout: CALL_TIMEOUT_MS });
    if (r.isError) throw new Error(`error result: ${JSON.stringify(r.content).slice(0, 200)}`);
  };
  // Both replicas warm (issuer keys fetched, code compiled) before anything is measured: not reported.
  t.lb.setBackends([g[0]!, g[1]!]);
  await runLane(t, groups, { name: 'pre-warm (not reported)', replicas: '2 gateways, 1 worker', users: USERS.slice(0, GATEWAY_CLIENTS), seconds: 2, op: read });
  // A. Gateway calls/s: the same 32 users, one replica, then two.
  for (const backends of [[g[0]!], [g[0]!, g[1]!]]) {
    t.lb.setBackends(backends);
    const lane = await runLane(t, groups, {
      name: 'gateway calls (get_customer)',
      replicas: `${backends.length} gateway${backends.length > 1 ? 's' : ''}, 1 worker`,
      users: USERS.slice(0, GATEWAY_CLIENTS),
      seconds: GATEWAY_SECONDS,
      op: read,
    });
    // setBackends is tested here: one replica gets everything, two share it.
    const [a, b] = lane.sentPerBackend(g);
    if (backends.length === 1 && b !== 0) throw new Error(`setBackends([g1]): gateway 2 still got ${b} requests`);
    if (backends.length === 2 && (a === 0 || b === 0)) throw new Error(`setBackends([g1, g2]): one replica got nothing (${a} / ${b})`);
    lanes.push(lane.result);
  }

  // B. Skill runs/s: both gateways, one worker, then two.
  t.lb.setBackends([g[0]!, g[1]!]);
  const run = (user: string) => async (c: Client, n: number) => {
    const r = await c.callTool(
      { name: 'skill.credit-issuance', arguments: { customerId: 'C-1001', amount: 100 + (n % 9_000) }, _meta: { 'dev.skillgate/idempotency-key': `${user}-run-${n}-${Date.now()}` } },
      undefined,
      { timeout: CALL_TIMEOUT_MS },
    );
    const out = r.structuredContent as { creditId?: string; run?: { status?: string } } | undefined;
    if (r.isError || out?.run?.status !== 'completed' || !out.creditId) throw new Error(`not a completed run: ${JSON.stringify(r.structuredContent ?? r.content).slice(0, 200)}`);
  };
  for (const workers of [1, 2]) {
    if (t.workers.length < workers) {
      const w0 = Date.now();
      await t.addWorker();
      benchLog(`worker ${workers} ready in ${((Date.now() - w0) / 1000).toFixed(1)} s`);
    }
    const lane = await runLane(t, groups, {
      name: 'skill runs (credit-issuance)',
      replicas: `2 gateways, ${workers} worker${workers > 1 ? 's' : ''}`,
      users: USERS.slice(0, SKILL_CLIENTS),
      seconds: SKILL_SECONDS,
      op: run,
    });
    lanes.push(lane.result);
  }

  process.stdout.write(`${report(lanes)}\n`);
  benchLog(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

/**
 * One lane: a client per user (its own token and session), each calling `op` in a loop; a
 * warm-up, then the window. Calls that end in the window count.
 */
async function runLane(
  t: Topology,
  groups: Group[],
  spec: { name: string; replicas: string; users: string[]; seconds: number; op: (user: string) => (c: Client, n: number) => Promise<void> },
): Promise<{ result: Lane; sentPerBackend(g: Backend[]): number[] }> {
  benchLog(`${spec.name}, ${spec.replicas}: ${spec.users.length} clients, ${WARMUP_SECONDS} s warm-up + ${spec.seconds} s`);
  const tokens = await Promise.all(spec.users.map((u) => t.token(u)));
  const ends: Array<{ at: number; ms: number; ok: boolean; error?: string }> = [];
  let stop = false;
  const url = new URL(t.audience);
  const connect = async (i: number): Promise<Client> => {
    const c = new Client({ name: `bench-${spec.users[i]}`, version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${tokens[i]}` } } }));
    return c;
  };
  // Sessions first (not measured): a lane measures calls. A replica's first token check fetches
  // the issuer's keys: on a loaded machine that may time out (a retryable 503): retried, counted.
  let connectRetries = 0;
  const connectRetrying = async (i: number): Promise<Client> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await connect(i);
      } catch (err) {
        if (attempt >= 5) throw err;
        connectRetries++;
        benchLog(`  connect ${spec.users[i]} failed (${(err as Error).message.slice(0, 160)}); again in 1 s`);
        await sleep(1000);
      }
    }
  };
  const clients: Array<Client | undefined> = await Promise.all(spec.users.map((_, i) => connectRetrying(i)));
  const loop = async (i: number) => {
    const op = spec.op(spec.users[i]!);
    for (let n = 0; !stop; n++) {
      const start = performance.now();
      try {
        clients[i] ??= await connect(i);
        await op(clients[i]!, n);
        ends.push({ at: performance.now(), ms: performance.now() - start, ok: true });
      } catch (err) {
        ends.push({ at: performance.now(), ms: performance.now() - start, ok: false, error: `${spec.users[i]}: ${(err as Error).message}` });
        // A thrown call may have lost its session: the next call starts a new one.
        if (!/not a completed run|error result/.test((err as Error).message)) {
          const c = clients[i];
          clients[i] = undefined;
          await c?.close().catch(() => {});
        }
      }
    }
  };
  const running = spec.users.map((_, i) => loop(i));
  await sleep(WARMUP_SECONDS * 1000);
  const sent0 = t.lb.stats().sent;
  const cpu0 = cpuSnapshot(groups);
  const load = loadavg()[0]!.toFixed(2);
  const from = performance.now();
  await sleep(spec.seconds * 1000);
  const cpu1 = cpuSnapshot(groups);
  const to = performance.now();
  const sent1 = t.lb.stats().sent;
  stop = true;
  await Promise.all(running);
  await Promise.all(clients.map((c) => c?.close().catch(() => {})));

  const seconds = (to - from) / 1000;
  const inWindow = ends.filter((e) => e.at >= from && e.at <= to);
  const ok = inWindow.filter((e) => e.ok);
  const failed = inWindow.filter((e) => !e.ok);
  // Failures outside the window are not hidden either.
  const allFailed = ends.filter((e) => !e.ok);
  const lat = ok.map((e) => e.ms);
  const cpu = new Map<string, number>();
  for (const gr of groups) cpu.set(gr.name, ((cpu1.groups.get(gr.name)! - cpu0.groups.get(gr.name)!) / CLK_TCK / seconds) * 100);
  const machine = ((cpu1.machine - cpu0.machine) / CLK_TCK / seconds) * 100;
  const delta = (k: string) => (sent1[k] ?? 0) - (sent0[k] ?? 0);
  const keys = t.gateways.map((x) => `127.0.0.1:${x.port}`);
  const result: Lane = {
    name: spec.name,
    replicas: spec.replicas,
    clients: spec.users.length,
    seconds,
    ok: ok.length,
    failed: failed.length,
    failedAll: allFailed.length,
    connectRetries,
    failures: allFailed.slice(0, 5).map((e) => e.error ?? ''),
    p50: quantile(lat, 0.5),
    p95: quantile(lat, 0.95),
    split: keys.map(delta).join(' / '),
    cpu,
    machine,
    load,
  };
  benchLog(
    `  ${(ok.length / seconds).toFixed(1)}/s, p50 ${fmtMs(result.p50)}, p95 ${fmtMs(result.p95)}, failed ${failed.length} in the window (${allFailed.length} in all), machine ${machine.toFixed(0)} %, load ${load}`,
  );
  for (const f of result.failures) benchLog(`  failure: ${f}`);
  return { result, sentPerBackend: (g) => g.map((b) => delta(`${b.host}:${b.port}`)) };
}

function report(lanes: Lane[]): string {
  const names = [...lanes[0]!.cpu.keys()];
  const head = `| lane | replicas | clients | per s | failed | p50 | p95 | requests g1 / g2 | ${names.join(' | ')} | ours | machine | others | load 1 min |`;
  const rule = `|${'---|'.repeat(3)}${'---:|'.repeat(4)}---|${'---:|'.repeat(names.length + 4)}`;
  const rows = lanes.map((l) => {
    const ours = [...l.cpu.values()].reduce((a, b) => a + b, 0);
    return `| ${l.name} | ${l.replicas} | ${l.clients} | **${(l.ok / l.seconds).toFixed(1)}** | ${l.failed} | ${fmtMs(l.p50)} | ${fmtMs(l.p95)} | ${l.split} | ${names.map((n) => pct(l.cpu.get(n)!)).join(' | ')} | ${pct(ours)} | ${pct(l.machine)} | ${pct(Math.max(0, l.machine - ours))} | ${l.load} |`;
  });
  const verdicts = lanes.map((l) => `- ${l.name}, ${l.replicas}: ${saturates(l)}`);
  return [
    `CPU in % of one core over each window (${CORES} cores = ${CORES * 100} %); ours = the groups' sum; machine = /proc/stat; others = machine − ours.`,
    '',
    head,
    rule,
    ...rows,
    '',
    'What saturates:',
    ...verdicts,
    '',
    `Failed calls, warm-up included: ${lanes.map((l) => `${l.failedAll}`).join(', ')}; session set-ups retried: ${lanes.map((l) => `${l.connectRetries}`).join(', ')}${lanes.some((l) => l.failures.length) ? `; first: ${lanes.flatMap((l) => l.failures).slice(0, 3).join(' | ')}` : ''}.`,
  ].join('\n');
}

function saturates(l: Lane): string {
  const busy = [...l.cpu.entries()].filter(([, v]) => v >= SATURATED_PCT).map(([k, v]) => `${k} ${pct(v)}`);
  const parts: string[] = [];
  if (l.machine >= MACHINE_SATURATED * CORES * 100) parts.push(`the machine's ${CORES} cores (${pct(l.machine)} of ${CORES * 100} %)`);
  if (busy.length) parts.push(`at ≥ ${SATURATED_PCT} % of a core: ${busy.join(', ')}`);
  const top = [...l.cpu.entries()].sort((a, b) => b[1] - a[1])[0]!;
  return parts.length ? parts.join('; ') : `nothing at the thresholds (machine ${pct(l.machine)}, busiest ${top[0]} ${pct(top[1])})`;
}

/** A pid as a list (none when the process is gone). */
function pidsOf(pid: number | undefined): number[] {
  return pid === undefined ? [] : [pid];
}

/** Ticks per group (its trees) and the machine's busy ticks, now. */
function cpuSnapshot(groups: Group[]): { groups: Map<string, number>; machine: number } {
  const procs = new Map<number, { ppid: number; own: number; reaped: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(d), { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) });
    } catch {
      // gone meanwhile
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const tree = (root: number): number => {
    const p = procs.get(root);
    if (!p) return 0;
    return p.own + p.reaped + (children.get(root) ?? []).reduce((a, c) => a + tree(c), 0);
  };
  const out = new Map<string, number>();
  for (const gr of groups) out.set(gr.name, gr.pids().reduce((a, pid) => a + (gr.alone ? (procs.get(pid)?.own ?? 0) : tree(pid)), 0));
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { groups: out, machine: total - fields[3]! - fields[4]! };
}

function pct(v: number): string {
  return `${v.toFixed(0)} %`;
}

function fmtMs(ms: number): string {
  return Number.isNaN(ms) ? '—' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let watchdog: NodeJS.Timeout | undefined;
await runBench(
  () =>
    Promise.race([
      main(),
      new Promise<never>((_, reject) => {
        watchdog = setTimeout(() => reject(new Error(`watchdog: not done after ${WATCHDOG_MS / 1000} s`)), WATCHDOG_MS);
      }),
    ]),
  [() => clearTimeout(watchdog), async () => (topo ?? (await starting?.catch(() => undefined)))?.close()],
);
