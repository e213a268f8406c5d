/**
 * Throughput and scale of skill runs, for BENCHMARKS.md ("Throughput"):
 *
 *   npm run bench:throughput   (= node --import tsx bench/throughput.ts)
 *   BENCH_SECONDS=3 BENCH_CONCURRENCY=1,8 BENCH_WAITING=50 npm run bench:throughput
 *
 * Starts an embedded Temporal dev server (SQLite file in a temp folder, the product's defaults),
 * the no-op MCP server (bench/noop-server.ts) and skill workers (bench/throughput-worker.ts,
 * the product's defaults) as processes of their own, all on one task queue. Then:
 *
 * A. Throughput curve. The skill `bench/skills/noop-five` (five no-op tool calls in sequence)
 *    in a closed loop: N runners, each starting a run (startSkillRun, the product's defaults),
 *    awaiting its result and starting the next; BENCH_WARMUP_SECONDS (3) unmeasured, then
 *    BENCH_SECONDS (15) measured, for each N of BENCH_CONCURRENCY (1,8,32,64) with each number
 *    of worker processes of BENCH_WORKERS (1,2). Per cell: runs/s and steps/s (5 × runs/s) of
 *    the runs that ended in the window, p50/p99 latency (start → result), and the CPU each
 *    process used over the window (utime + stime of /proc/<pid>/stat; for Node processes also
 *    their main thread, the one JavaScript runs on) and the machine's (/proc/stat), in cores.
 *    A verdict per worker count names the first resource to saturate (≥ 0.9 core for one
 *    process or one JS thread, ≥ 90 % of the machine) and checks the target, ≥ 200 steps/s.
 * B. Runs waiting for approval. BENCH_WAITING (1000) runs of `bench/skills/approve-first`
 *    (an approval, then one no-op call) started BENCH_PARALLEL (32) at a time, until every one
 *    reports `awaiting-approval` (status query); then all approved (approveRun with a signed
 *    approval: approver ≠ starter, holding the step's role), and awaited. Reports the time of
 *    each phase, each process's RSS before, with the runs waiting and after, and the history
 *    size of a sample of runs (events, bytes), waiting and completed.
 *
 * The run key is random, shared with the workers through their standard input (never argv or
 * env). Bounded in time (a watchdog fails the run), it stops by itself and closes what it starts.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
// A CommonJS module whose names Node's ESM loader cannot see statically: default import only.
import proto from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createRunAttestor, type RunAttestor } from '../gateway/authz/run-attestation.js';
import { startEmbeddedTemporal, type TemporalRuntime } from '../src/app/runtime/temporal.js';
import type { CompiledPlan } from '../src/contracts/plan.js';
import type { Principal } from '../src/contracts/principal.js';
import { approveRun, getRunStatus, startSkillRun, waitForResult } from '../src/skills/runs.js';
import { startChild } from './children.js';
import { openBenchEngine, quantile } from './engine-setup.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const CONCURRENCY = numbers(process.env.BENCH_CONCURRENCY ?? '1,8,32,64');
const WORKER_COUNTS = numbers(process.env.BENCH_WORKERS ?? '1,2').sort((a, b) => a - b);
const WAITING = Number(process.env.BENCH_WAITING ?? 1000);
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 32);
const STEPS = 5;
const TARGET_STEPS_PER_S = 200;
const TASK_QUEUE = 'bench-throughput';
/** One process (or one JS thread) this busy, in cores, is saturated. */
const SATURATED = 0.9;
/**
 * The machine at this share of its cores is saturated: with five processes of bursty work on two
 * cores, the rest is scheduling slack (a closed loop at 64 runners gains no throughput past it).
 */
const MACHINE_SATURATED = 0.85;
const HISTORY_SAMPLE = 5;

const root = join(import.meta.dirname, '..');
const STARTER: Principal = { user: { id: 'bench', roles: [], groups: [] }, agent: { id: 'bench' } };
const APPROVER = { id: 'bench-approver', roles: ['bench-approver'], groups: [] };
const CLK_TCK = clockTicks();

Runtime.install({ logger: new DefaultLogger('WARN') });

const tmp = mkdtempSync(join(tmpdir(), 'skillgate-throughput-'));
const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(tmp, { recursive: true, force: true })];

/** A process whose CPU and memory are read; `node`: also its main (JavaScript) thread. */
interface Proc {
  name: string;
  pid: () => number | undefined;
  node: boolean;
}

interface Cell {
  workers: number;
  concurrency: number;
  runs: number;
  failed: number;
  runsPerS: number;
  p50: number;
  p99: number;
  /** Cores used over the window, per process name: the whole process and its main thread. */
  cpu: Map<string, { total: number; main?: number }>;
  machine: number;
  /** Cores' worth of time the machine's CPUs sat idle waiting for I/O. */
  iowait: number;
}

async function main(): Promise<void> {
  const key = randomBytes(32);
  const attestor = createRunAttestor(key);
  log('starting an embedded Temporal dev server (SQLite file, default config)…');
  const rt = await startEmbeddedTemporal({ port: 0, dbFile: join(tmp, 'temporal.db') });
  cleanups.unshift(() => rt.close());
  const client = rt.client;

  const noop = await startChild(['bench/noop-server.ts'], { stdin: '' });
  cleanups.unshift(() => stopChild(noop.child));
  const engine = await openBenchEngine({ url: noop.url, dir: join(tmp, 'driver'), users: { [APPROVER.id]: { roles: APPROVER.roles } } });
  cleanups.unshift(() => engine.pool.close());
  const noopFive = await engine.compile(join(root, 'bench', 'skills', 'noop-five'));
  const approveFirst = await engine.compile(join(root, 'bench', 'skills', 'approve-first'));

  const procs: Proc[] = [
    { name: 'dev server', pid: () => rt.pid, node: false },
    { name: 'MCP server', pid: () => noop.child.pid, node: true },
    { name: 'driver', pid: () => process.pid, node: true },
  ];
  const workers: ChildProcess[] = [];
  const addWorker = async () => {
    const n = workers.length + 1;
    const dir = join(tmp, `worker-${n}`);
    mkdirSync(dir, { recursive: true });
    log(`starting worker process ${n}…`);
    const { child } = await startChild(['bench/throughput-worker.ts', rt.address, rt.namespace, TASK_QUEUE, noop.url, dir], { stdin: `${key.toString('hex')}\n` });
    cleanups.unshift(() => stopChild(child));
    workers.push(child);
    procs.push({ name: `worker ${n}`, pid: () => child.pid, node: true });
  };

  let seq = 0;
  const runOnce = async () => {
    const handle = await startSkillRun(client, {
      attestor,
      ...noopFive,
      inputs: {},
      principal: STARTER,
      workspace: 'bench',
      gateway: 'bench',
      taskQueue: TASK_QUEUE,
      workflowId: `throughput-${seq++}`,
    });
    await handle.result();
  };

  const cells: Cell[] = [];
  for (const count of CONCURRENCY.length ? WORKER_COUNTS : []) {
    while (workers.length < count) await addWorker();
    for (const concurrency of CONCURRENCY) {
      log(`${count} worker(s), concurrency ${concurrency}: ${WARMUP_SECONDS} s warm-up, ${SECONDS} s measured…`);
      cells.push(await measureCell(count, concurrency, runOnce, procs));
    }
  }

  const machine = `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, load average at the end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; dev server on a SQLite file, product defaults (server, worker, start)`;
  process.stdout.write(`\nthroughput: ${machine}\n`);
  if (cells.length) process.stdout.write(`\n${throughputTable(cells, procs)}\n${verdicts(cells)}\n`);

  if (WAITING > 0) {
    while (workers.length < Math.max(1, ...WORKER_COUNTS)) await addWorker();
    process.stdout.write(`\n${await waitingForApproval(client, rt, attestor, approveFirst, procs)}\n`);
  }
}

/** One cell of the curve: `concurrency` closed-loop runners, warm-up, then the measured window. */
async function measureCell(workers: number, concurrency: number, runOnce: () => Promise<void>, procs: Proc[]): Promise<Cell> {
  let stop = false;
  let failed = 0;
  const ended: Array<{ at: number; latency: number }> = [];
  const runner = async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        await runOnce();
        const at = performance.now();
        ended.push({ at, latency: at - t0 });
      } catch (err) {
        if (failed++ === 0) log(`a run failed: ${(err as Error).message}`);
      }
    }
  };
  const runners = Array.from({ length: concurrency }, runner);
  // Warm-up: at least WARMUP_SECONDS, and until every runner has had a run end, so that the
  // window does not see the first wave of runs started all at once end together.
  const warmupEnd = performance.now() + (WARMUP_SECONDS + 60) * 1000;
  await sleep(WARMUP_SECONDS * 1000);
  while (ended.length + failed < concurrency && performance.now() < warmupEnd) await sleep(100);
  const before = cpuSnapshot(procs);
  await sleep(SECONDS * 1000);
  const after = cpuSnapshot(procs);
  stop = true;
  await Promise.all(runners);
  const inWindow = ended.filter((e) => e.at >= before.at && e.at <= after.at).map((e) => e.latency);
  const seconds = (after.at - before.at) / 1000;
  const cpu = new Map<string, { total: number; main?: number }>();
  for (const [name, b] of before.procs) {
    const a = after.procs.get(name);
    if (!a) continue;
    cpu.set(name, { total: (a.total - b.total) / CLK_TCK / seconds, ...(a.main !== undefined && b.main !== undefined ? { main: (a.main - b.main) / CLK_TCK / seconds } : {}) });
  }
  const share = (f: 'busy' | 'iowait') => ((after.machine[f] - before.machine[f]) / (after.machine.total - before.machine.total)) * availableParallelism();
  return {
    workers,
    concurrency,
    runs: inWindow.length,
    failed,
    runsPerS: inWindow.length / seconds,
    p50: quantile(inWindow, 0.5),
    p99: quantile(inWindow, 0.99),
    cpu,
    machine: share('busy'),
    iowait: share('iowait'),
  };
}

function throughputTable(cells: Cell[], procs: Proc[]): string {
  const names = procs.map((p) => p.name);
  const head = `| workers | concurrency | runs | runs/s | steps/s | p50 (ms) | p99 (ms) | ${names.map((n) => `${n} CPU`).join(' | ')} | ours | others | machine | iowait |`;
  const rule = `|${'---:|'.repeat(7 + names.length + 4)}`;
  const rows = cells.map((c) => {
    const cols = names.map((n) => {
      const u = c.cpu.get(n);
      if (!u) return '—';
      return u.main !== undefined ? `${u.total.toFixed(2)} (JS ${u.main.toFixed(2)})` : u.total.toFixed(2);
    });
    const ours = oursOf(c);
    return (
      `| ${c.workers} | ${c.concurrency} | ${c.runs}${c.failed ? ` (+${c.failed} failed)` : ''} | ${c.runsPerS.toFixed(1)}${shortWindow(c) ? ' †' : ''} | **${(STEPS * c.runsPerS).toFixed(0)}** | ` +
      `${c.p50.toFixed(0)} | ${c.p99.toFixed(0)} | ${cols.join(' | ')} | ${ours.toFixed(2)} | ${Math.max(0, c.machine - ours).toFixed(2)} | ${c.machine.toFixed(2)} | ${c.iowait.toFixed(2)} |`
    );
  });
  const note = cells.some(shortWindow) ? `\n† p50 latency above a third of the ${SECONDS} s window: few runs ended in it, the rate is rough (raise BENCH_SECONDS).\n` : '';
  return (
    `A. ${STEPS}-step no-op skill, closed loop, ${SECONDS} s per cell after a warm-up of ≥ ${WARMUP_SECONDS} s (until every runner has had a run end); ` +
    `CPU in cores (JS = the process's main thread; ours = the sum; others = the machine's other processes; machine and iowait = /proc/stat)\n\n${head}\n${rule}\n${rows.join('\n')}\n${note}`
  );
}

/** Per worker count: the best cell against the target, and the first resource to saturate along the curve. */
function verdicts(cells: Cell[]): string {
  const out: string[] = [];
  for (const workers of [...new Set(cells.map((c) => c.workers))]) {
    const mine = cells.filter((c) => c.workers === workers).sort((a, b) => a.concurrency - b.concurrency);
    const best = mine.reduce((a, b) => (b.runsPerS > a.runsPerS ? b : a));
    const steps = STEPS * best.runsPerS;
    let saturation = `no CPU resource saturated up to concurrency ${mine.at(-1)!.concurrency} (machine at ${mine.at(-1)!.machine.toFixed(2)} of ${availableParallelism()} cores): latency-bound`;
    for (const c of mine) {
      const found = saturated(c);
      if (found) {
        saturation = `first saturated at concurrency ${c.concurrency}: ${found}`;
        break;
      }
    }
    // What one step costs in CPU at the best cell, by process: where a faster machine's cores would go.
    const perStep = (cores: number) => ((cores / steps) * 1000).toFixed(1);
    const byProcess = [...best.cpu.entries()]
      .sort((a, b) => b[1].total - a[1].total)
      .map(([n, u]) => `${n} ${perStep(u.total)}`)
      .join(', ');
    out.push(
      `- ${workers} worker process${workers > 1 ? 'es' : ''}: best ${steps.toFixed(0)} steps/s (${best.runsPerS.toFixed(1)} runs/s, concurrency ${best.concurrency}, p50 ${best.p50.toFixed(0)} ms) — ` +
        `${steps >= TARGET_STEPS_PER_S ? 'meets' : 'below'} the target of ≥ ${TARGET_STEPS_PER_S} steps/s; ${saturation}. ` +
        `CPU per step there: ${perStep(oursOf(best))} ms (${byProcess}).`,
    );
  }
  return out.join('\n');
}

function shortWindow(c: Cell): boolean {
  return c.p50 > (SECONDS * 1000) / 3;
}

/** Cores our processes used in the cell. */
function oursOf(c: Cell): number {
  return [...c.cpu.values()].reduce((s, u) => s + u.total, 0);
}

function saturated(c: Cell): string | undefined {
  const cores = availableParallelism();
  const top = [...c.cpu.entries()].sort((a, b) => b[1].total - a[1].total);
  const largest = top
    .slice(0, 2)
    .map(([n, u]) => `${n} ${u.total.toFixed(2)}`)
    .join(', ');
  if (c.machine >= MACHINE_SATURATED * cores) {
    const ours = oursOf(c);
    // A shared machine: say when the cores were busy with someone else's work, not ours.
    const whose = ours >= SATURATED * cores ? '' : ours >= c.machine / 2 ? `, ${(c.machine - ours).toFixed(2)} of it other processes'` : `, mostly other processes' (ours ${ours.toFixed(2)}): this cell measures a shared machine`;
    return `all ${cores} cores busy (machine at ${c.machine.toFixed(2)}${whose}; largest of ours: ${largest})`;
  }
  if (c.iowait >= 0.5) return `the CPUs waiting for I/O ${c.iowait.toFixed(2)} cores' worth (largest of ours: ${largest})`;
  const thread = top.find(([, u]) => (u.main ?? 0) >= SATURATED);
  if (thread) return `${thread[0]}'s JS thread at ${thread[1].main!.toFixed(2)} core`;
  const proc = top.find(([, u]) => u.total >= SATURATED);
  if (proc) return `${proc[0]} at ${proc[1].total.toFixed(2)} core`;
  return undefined;
}

/** Part B: many runs waiting for approval at once. */
async function waitingForApproval(
  client: Client,
  rt: TemporalRuntime,
  attestor: RunAttestor,
  skill: { plan: CompiledPlan; planHash: string },
  procs: Proc[],
): Promise<string> {
  const ids = Array.from({ length: WAITING }, (_, i) => `waiting-${i}`);
  const sample = [...new Set(Array.from({ length: HISTORY_SAMPLE }, (_, i) => ids[Math.floor((i * (ids.length - 1)) / Math.max(1, HISTORY_SAMPLE - 1))]!))];
  const rssBefore = rss(procs);

  log(`B: starting ${WAITING} runs of approve-first, ${PARALLEL} at a time…`);
  const t0 = performance.now();
  await forEachLimit(ids, PARALLEL, (workflowId) =>
    startSkillRun(client, { attestor, ...skill, inputs: {}, principal: STARTER, workspace: 'bench', gateway: 'bench', taskQueue: TASK_QUEUE, workflowId }),
  );
  const started = performance.now();
  log('B: waiting until every run awaits its approval…');
  let pending = ids;
  const deadline = performance.now() + 60_000 + WAITING * 100;
  for (;;) {
    const waiting = await mapLimit(pending, PARALLEL, (id) =>
      getRunStatus(client, id).then(
        (st) => st.state === 'awaiting-approval',
        () => false,
      ),
    );
    pending = pending.filter((_, i) => !waiting[i]);
    if (pending.length === 0) break;
    if (performance.now() > deadline) throw new Error(`${pending.length} of ${WAITING} runs are still not awaiting approval`);
    await sleep(250);
  }
  const allWaiting = performance.now();
  const rssWaiting = rss(procs);
  const historyWaiting = await mapLimit(sample, PARALLEL, (id) => historySize(client, rt.namespace, id));

  log(`B: approving ${WAITING} runs, ${PARALLEL} at a time…`);
  const t1 = performance.now();
  await forEachLimit(ids, PARALLEL, async (workflowId) => {
    const attestation = await attestor.signApproval({ workflowId, stepId: 'approve', decision: 'approve', approver: APPROVER, agent: 'bench', gateway: 'bench' });
    await approveRun(client, workflowId, { stepId: 'approve', approver: { id: APPROVER.id, roles: APPROVER.roles }, decision: 'approve', attestation });
  });
  const approved = performance.now();
  await forEachLimit(ids, PARALLEL, (id) => waitForResult(client, id));
  const completed = performance.now();
  const rssAfter = rss(procs);
  const historyDone = await mapLimit(sample, PARALLEL, (id) => historySize(client, rt.namespace, id));

  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rate = (ms: number) => `${((WAITING * 1000) / ms).toFixed(0)}/s`;
  const mib = (kb: number | undefined) => (kb === undefined ? '—' : `${(kb / 1024).toFixed(0)} MiB`);
  const avg = (xs: Array<{ events: number; bytes: number }>) => ({
    events: xs.reduce((a, x) => a + x.events, 0) / xs.length,
    bytes: xs.reduce((a, x) => a + x.bytes, 0) / xs.length,
  });
  const hw = avg(historyWaiting);
  const hd = avg(historyDone);
  return [
    `B. ${WAITING} runs of approve-first (approval, then one no-op call) waiting at once; ${procs.filter((p) => p.name.startsWith('worker')).length} worker process(es); starts, status reads and approvals ${PARALLEL} at a time`,
    '',
    '| phase | time | rate |',
    '|---|---:|---:|',
    `| start all (startSkillRun returned) | ${s(started - t0)} | ${rate(started - t0)} |`,
    `| … until all report awaiting-approval | ${s(allWaiting - t0)} | ${rate(allWaiting - t0)} |`,
    `| approve all (approveRun returned: decision verified and recorded) | ${s(approved - t1)} | ${rate(approved - t1)} |`,
    `| … until all completed | ${s(completed - t1)} (${s(completed - approved)} after the last approval) | ${rate(completed - t1)} |`,
    '',
    `| process | RSS before | RSS with ${WAITING} waiting | RSS after all completed |`,
    '|---|---:|---:|---:|',
    ...procs.map((p) => `| ${p.name} | ${mib(rssBefore.get(p.name))} | ${mib(rssWaiting.get(p.name))} | ${mib(rssAfter.get(p.name))} |`),
    '',
    `History per run (mean of ${sample.length} runs; bytes = the encoded History protobuf): waiting ${hw.events.toFixed(0)} events, ${(hw.bytes / 1024).toFixed(1)} KiB; ` +
      `completed ${hd.events.toFixed(0)} events, ${(hd.bytes / 1024).toFixed(1)} KiB.`,
  ].join('\n');
}

async function historySize(client: Client, namespace: string, workflowId: string): Promise<{ events: number; bytes: number }> {
  let events = 0;
  let bytes = 0;
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({ namespace, execution: { workflowId }, ...(nextPageToken ? { nextPageToken } : {}) });
    events += page.history?.events?.length ?? 0;
    bytes += proto.temporal.api.history.v1.History.encode(page.history ?? {}).finish().byteLength;
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return { events, bytes };
}

interface CpuSnapshot {
  at: number;
  /** Clock ticks used so far, per process name: the whole process and (Node) its main thread. */
  procs: Map<string, { total: number; main?: number }>;
  machine: { busy: number; iowait: number; total: number };
}

function cpuSnapshot(procs: Proc[]): CpuSnapshot {
  const out = new Map<string, { total: number; main?: number }>();
  for (const p of procs) {
    const pid = p.pid();
    if (pid === undefined) continue;
    const total = ticks(`/proc/${pid}/stat`);
    const main = p.node ? ticks(`/proc/${pid}/task/${pid}/stat`) : undefined;
    if (total !== undefined) out.set(p.name, { total, ...(main !== undefined ? { main } : {}) });
  }
  // cpu  user nice system idle iowait irq softirq steal (guest time is already in user).
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3]! + fields[4]!;
  return { at: performance.now(), procs: out, machine: { busy: total - idle, iowait: fields[4]!, total } };
}

/** utime + stime of a /proc stat file, in clock ticks; undefined when the process is gone. */
function ticks(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  // After it: state(3) … utime(14) stime(15), 1-based as in proc(5).
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** VmRSS in KiB, per process name. */
function rss(procs: Proc[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of procs) {
    const pid = p.pid();
    if (pid === undefined) continue;
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) out.set(p.name, Number(m[1]));
    } catch {
      // gone
    }
  }
  return out;
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  await mapLimit(items, limit, fn);
}

/** SIGTERM, then SIGKILL if it has not exited within 15 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function numbers(list: string): number[] {
  return list
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(Number);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** What the whole run may take before it is called failed: every cell, part B and the start-ups, with room. */
const budgetMs = (WORKER_COUNTS.length * CONCURRENCY.length * (WARMUP_SECONDS + SECONDS + 90) + 120 + WAITING * 0.5) * 1000;
let failed = false;
let watchdog: NodeJS.Timeout | undefined;
try {
  await Promise.race([
    main(),
    new Promise<never>((_, rej) => {
      watchdog = setTimeout(() => rej(new Error(`did not finish within ${Math.round(budgetMs / 1000)} s`)), budgetMs);
    }),
  ]);
} catch (err) {
  failed = true;
  process.stderr.write(`bench: failed: ${(err as Error).stack ?? String(err)}\n`);
} finally {
  clearTimeout(watchdog);
  for (const c of cleanups) {
    try {
      await c();
    } catch {
      // best effort: the process exits next
    }
  }
}
process.exit(failed ? 1 : 0);
