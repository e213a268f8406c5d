/**
 * What a skill step costs over the same call made directly, where that time goes, and what each
 * setting changes — for BENCHMARKS.md (issue 14):
 *
 *   npm run bench            (= node --import tsx bench/skill-runs.ts)
 *   BENCH_RUNS=200 BENCH_ONLY=sdk-floor,default npm run bench
 *   BENCH_EXTRA_CONFIG='{"history.transferTaskBatchSize":10}' npm run bench    (a third server, to try a setting)
 *
 * Starts its own embedded Temporal dev servers on SQLite files, as `npm start` does: one with
 * the server's stock settings, one with Skillgate's defaults (LOW_LATENCY_DYNAMIC_CONFIG, what
 * `skillgate dev` passes). Plus a tiny in-process MCP server over Streamable HTTP with a `noop`
 * tool (readOnlyHint), the upstream pool and one worker per (server, variant), each on its own
 * task queue. The skill `bench/skills/noop-five` calls `bench.noop` five times in sequence. Each
 * iteration measures, back to back:
 *   - direct: the same five calls made directly with the same MCP SDK client (the pool's);
 *   - run: a whole skill run — startSkillRun (input validation, attestation) to result.
 * Per-step overhead = (run − direct) / 5, per iteration; median, p95 and the quietest round's median.
 *
 * Variants:
 *   sdk-floor        not Skillgate: a bare workflow, the same five calls as five activities
 *   sdk-floor-local  not Skillgate: the same as five local activities
 *   activities       Skillgate, every step a regular activity (`defaults.readOnlySteps: activity`)
 *   eager-start      + eager workflow start (the first workflow task comes back with the start)
 *   local-reads      read-only steps as local activities, no eager start
 *   default          what `npm start` runs: read-only steps local + eager start
 * Rounds: every (server, variant) pair runs one block per round, 5 rounds, so a noisy neighbour
 * slows all alike. Around every block the server's and the worker's Prometheus endpoints are
 * scraped; the stage table says where a step's time goes. A floor line measures one SQLite WAL
 * commit with fsync on this disk. Stops by itself; everything it starts is closed at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createRunAttestor } from '../gateway/authz/run-attestation.js';
import { LOW_LATENCY_DYNAMIC_CONFIG, startEmbeddedTemporal, type TemporalRuntime } from '../src/app/runtime/temporal.js';
import { startSkillRun } from '../src/skills/runs.js';
import type { CompiledPlan, StepExecution } from '../src/contracts/plan.js';
import { freePort } from './children.js';
import { BENCH_ROOT as root, type BenchEngine, benchLog, createBenchWorker, openBenchEngine, quantile, runBench, serveNoop } from './engine-setup.js';
import { type Added, added, plus, scrape, type Snapshot } from './metrics.js';

const attestor = createRunAttestor(randomBytes(32));
const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const ROUNDS = 5;
const BLOCK_WARMUP = 3;
const STEPS = 5;

interface Variant {
  name: string;
  what: string;
  /** A bare workflow (bench/floor-workflow.ts) instead of the skill. */
  floor?: 'fiveNoops' | 'fiveLocalNoops';
  /** How the skill's read-only steps are compiled to run. */
  reads?: StepExecution;
  eager?: boolean;
}

const ALL_VARIANTS: Variant[] = [
  { name: 'sdk-floor', what: 'bare Temporal workflow, 5 activities (not Skillgate: the floor)', floor: 'fiveNoops' },
  { name: 'sdk-floor-local', what: 'bare Temporal workflow, 5 local activities (not Skillgate)', floor: 'fiveLocalNoops' },
  { name: 'activities', what: 'Skillgate, every step a regular activity', reads: 'activity' },
  { name: 'eager-start', what: 'Skillgate, + eager workflow start', reads: 'activity', eager: true },
  { name: 'local-reads', what: 'Skillgate, read-only steps as local activities', reads: 'local' },
  { name: 'default', what: 'Skillgate default (`npm start`): local reads + eager start', reads: 'local', eager: true },
];
const ONLY = process.env.BENCH_ONLY?.split(',');

const EXTRA = process.env.BENCH_EXTRA_CONFIG ? (JSON.parse(process.env.BENCH_EXTRA_CONFIG) as Record<string, number | boolean | string>) : undefined;
const SERVERS: Array<{ name: string; dynamicConfig: Record<string, number | boolean | string>; variants: string[] }> = [
  { name: 'stock', dynamicConfig: {}, variants: ['sdk-floor', 'activities'] },
  { name: 'skillgate', dynamicConfig: LOW_LATENCY_DYNAMIC_CONFIG, variants: ALL_VARIANTS.map((v) => v.name) },
  ...(EXTRA ? [{ name: 'skillgate+extra', dynamicConfig: { ...LOW_LATENCY_DYNAMIC_CONFIG, ...EXTRA }, variants: ['sdk-floor', 'default'] }] : []),
];

interface Sample {
  run: number;
  direct: number;
}

interface Prepared {
  server: string;
  variant: Variant;
  taskQueue: string;
  metricsUrl: string;
  runOnce(): Promise<void>;
  eagerly: number;
  rounds: Sample[][];
  /** Stage → what the measured runs added. */
  stages: Map<string, Added>;
}

const workerMetricsPort = await freePort();
Runtime.install({
  logger: new DefaultLogger('WARN'),
  telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${workerMetricsPort}` } } },
});
const workerMetricsUrl = `http://127.0.0.1:${workerMetricsPort}/metrics`;

const tmp = mkdtempSync(join(tmpdir(), 'skillgate-bench-'));
const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(tmp, { recursive: true, force: true })];

async function main(): Promise<void> {
  const noop = await serveNoop();
  cleanups.unshift(() => noop.close());
  const engine = await openBenchEngine({ url: noop.url, dir: tmp });
  const { pool } = engine;
  cleanups.unshift(() => pool.close());
  const plans = new Map<StepExecution, { plan: CompiledPlan; planHash: string }>();
  for (const reads of ['activity', 'local'] as const) plans.set(reads, await engine.compile(join(root, 'bench', 'skills', 'noop-five'), { readOnlySteps: reads }));
  const floorBundle = await bundleWorkflowCode({ workflowsPath: join(root, 'bench', 'floor-workflow.ts'), logger: new DefaultLogger('WARN') });

  benchLog(`floor: one SQLite WAL commit with fsync on this disk…`);
  const floor = sqliteCommit(join(tmp, 'fsync.db'));

  const prepared: Prepared[] = [];
  for (const server of SERVERS) {
    const variants = ALL_VARIANTS.filter((v) => server.variants.includes(v.name) && (!ONLY || ONLY.includes(v.name)));
    if (variants.length === 0) continue;
    benchLog(`${server.name}: starting an embedded Temporal dev server (SQLite file)…`);
    const rt = await startEmbeddedTemporal({ port: 0, dbFile: join(tmp, `${server.name}.db`), dynamicConfig: server.dynamicConfig });
    cleanups.unshift(() => rt.close());
    for (const v of variants) prepared.push(await prepare(server.name, rt, v, engine, floorBundle, plans));
  }

  benchLog(`warming up (${WARMUP} runs each)…`);
  for (const p of prepared) for (let i = 0; i < WARMUP; i++) await p.runOnce();
  const direct = async () => {
    for (let i = 0; i < STEPS; i++) await pool.callTool('bench', 'noop', { tag: 'bench' });
  };
  for (let i = 0; i < WARMUP; i++) await direct();

  const perRound = Math.ceil(RUNS / ROUNDS);
  benchLog(`measuring ${perRound * ROUNDS} runs of each of ${prepared.length} (server, variant) pairs, in ${ROUNDS} rounds of back-to-back blocks…`);
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of prepared) {
      // Unmeasured runs first: the server's rate limiters refill while other pairs run, and the
      // first runs after a pause would not show the steady state of back-to-back runs.
      for (let i = 0; i < BLOCK_WARMUP; i++) await p.runOnce();
      const [s0, w0] = await Promise.all([scrape(p.metricsUrl), scrape(workerMetricsUrl)]);
      const round: Sample[] = [];
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await direct();
        const t1 = performance.now();
        await p.runOnce();
        round.push({ direct: t1 - t0, run: performance.now() - t1 });
      }
      const [s1, w1] = await Promise.all([scrape(p.metricsUrl), scrape(workerMetricsUrl)]);
      accumulate(p, s0, s1, w0, w1);
      p.rounds.push(round);
    }
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const overhead = (xs: Sample[]) => xs.map((s) => (s.run - s.direct) / STEPS);
  const lines = prepared.map((p) => {
    const all = p.rounds.flat();
    const bestRound = Math.min(...p.rounds.map((r) => quantile(overhead(r), 0.5)));
    return (
      `| ${p.server} | ${p.variant.name} | ${p.variant.what} | ${all.length} | ${quantile(all.map((s) => s.run), 0.5).toFixed(1)} | ` +
      `${quantile(all.map((s) => s.direct), 0.5).toFixed(2)} | **${quantile(overhead(all), 0.5).toFixed(2)}** | ${quantile(overhead(all), 0.95).toFixed(2)} | ` +
      `${bestRound.toFixed(2)} | ${p.variant.eager ? `${p.eagerly}/${all.length + WARMUP + ROUNDS * BLOCK_WARMUP}` : ''} |`
    );
  });
  const def = prepared.find((p) => p.server === 'skillgate' && p.variant.name === 'default');
  const verdict = def
    ? (() => {
        const m = quantile(overhead(def.rounds.flat()), 0.5);
        return `default (\`npm start\`): ${m.toFixed(2)} ms median overhead per step — target ≤ 10 ms: ${m <= 10 ? 'met' : 'NOT met'}`;
      })()
    : 'default variant not measured (BENCH_ONLY)';

  const shown = prepared.filter((p) => p.server !== 'stock' || p.variant.name === 'sdk-floor');
  const stageRows = STAGES.map((st) => {
    const cells = shown.map((p) => {
      const a = p.stages.get(st.name);
      const runs = p.rounds.flat().length;
      if (!a || a.count === 0) return '—';
      return `${(a.totalMs / runs / STEPS).toFixed(2)} (${(a.count / runs).toFixed(1)}×)`;
    });
    return `| ${st.name} | ${st.where} | ${cells.join(' | ')} |`;
  });

  process.stdout.write(
    `\nskill-runs: ${STEPS}-step skill of no-op tools vs ${STEPS} direct calls (same MCP SDK client)\n` +
      `machine: ${availableParallelism()} cores (${cpu}), Node ${process.version}, dev servers on SQLite files\n\n` +
      '| dev server | variant | what | runs | run p50 (ms) | 5 direct calls p50 (ms) | overhead/step p50 (ms) | overhead/step p95 (ms) | best-round p50 (ms) | eager starts |\n' +
      '|---|---|---|---:|---:|---:|---:|---:|---:|---|\n' +
      `${lines.join('\n')}\n` +
      `| floor | sqlite-commit | one SQLite WAL commit with fsync (synchronous=FULL), this disk | ${floor.n} | ${floor.fsyncP50.toFixed(2)} | | | | | |\n` +
      `| floor | sqlite-commit-nosync | the same without fsync (synchronous=NORMAL) | ${floor.n} | ${floor.noSyncP50.toFixed(3)} | | | | | |\n\n` +
      `${verdict}\n\n` +
      'Where a step\'s time goes: ms per step (mean; count per run), from the dev server\'s and the worker\'s own metrics\n\n' +
      `| stage | metric | ${shown.map((p) => `${p.server}/${p.variant.name}`).join(' | ')} |\n` +
      `|---|---|${shown.map(() => '---:').join('|')}|\n` +
      `${stageRows.join('\n')}\n`,
  );
}

/** The stages of a step, each from one metric (server: seconds; worker SDK core: ms). */
const STAGES: Array<{ name: string; where: string; from: 'server' | 'worker'; metric: string; labels: Record<string, string> | ((p: Prepared) => Record<string, string>); also?: { metric: string; labels: (p: Prepared) => Record<string, string> } }> = [
  { name: 'run start (server)', where: 'service_latency StartWorkflowExecution', from: 'server', metric: 'service_latency', labels: { operation: 'StartWorkflowExecution', service_name: 'frontend' } },
  { name: 'workflow task waits in the history queue', where: 'task_latency_load TransferActiveTaskWorkflowTask', from: 'server', metric: 'task_latency_load', labels: { operation: 'TransferActiveTaskWorkflowTask' } },
  { name: 'workflow task dispatch (matching, started write)', where: 'task_latency_processing TransferActiveTaskWorkflowTask', from: 'server', metric: 'task_latency_processing', labels: { operation: 'TransferActiveTaskWorkflowTask' } },
  { name: 'workflow task in the worker', where: 'temporal_workflow_task_execution_latency', from: 'worker', metric: 'temporal_workflow_task_execution_latency', labels: (p) => ({ task_queue: p.taskQueue }) },
  { name: 'workflow task completion (server write)', where: 'temporal_request_latency RespondWorkflowTaskCompleted', from: 'worker', metric: 'temporal_request_latency', labels: { operation: 'RespondWorkflowTaskCompleted' } },
  {
    name: 'tool call in the worker (activity or local)',
    where: 'temporal_(local_)activity_execution_latency',
    from: 'worker',
    metric: 'temporal_activity_execution_latency',
    labels: (p) => ({ task_queue: p.taskQueue }),
    also: { metric: 'temporal_local_activity_execution_latency', labels: (p) => ({ task_queue: p.taskQueue }) },
  },
  { name: 'activity completion (server write)', where: 'temporal_request_latency RespondActivityTaskCompleted', from: 'worker', metric: 'temporal_request_latency', labels: { operation: 'RespondActivityTaskCompleted' } },
  { name: 'of which: persistence writes', where: 'persistence_latency UpdateWorkflowExecution', from: 'server', metric: 'persistence_latency', labels: { operation: 'UpdateWorkflowExecution', service_name: 'history' } },
];

function accumulate(p: Prepared, s0: Snapshot, s1: Snapshot, w0: Snapshot, w1: Snapshot): void {
  for (const st of STAGES) {
    const labels = typeof st.labels === 'function' ? st.labels(p) : st.labels;
    const [a, b, unit] = st.from === 'server' ? [s0, s1, 1000] : [w0, w1, 1];
    let got = added(a, b, st.metric, labels, unit);
    if (st.also) got = plus(got, added(a, b, st.also.metric, st.also.labels(p), unit));
    const prev = p.stages.get(st.name) ?? { count: 0, totalMs: 0 };
    p.stages.set(st.name, plus(prev, got));
  }
}

/** A worker for the variant (own task queue) and the function that runs it once. */
async function prepare(
  server: string,
  rt: TemporalRuntime,
  v: Variant,
  engine: BenchEngine,
  floorBundle: Awaited<ReturnType<typeof bundleWorkflowCode>>,
  plans: Map<StepExecution, { plan: CompiledPlan; planHash: string }>,
): Promise<Prepared> {
  const taskQueue = `bench-${server}-${v.name}`;
  const worker = v.floor
    ? await Worker.create({
        connection: rt.nativeConnection,
        taskQueue,
        workflowBundle: floorBundle,
        activities: { noop: (tag: string) => engine.pool.callTool('bench', 'noop', { tag }) },
      })
    : await createBenchWorker({ connection: rt.nativeConnection, taskQueue, engine, attestor });
  const running = worker.run();
  cleanups.unshift(async () => {
    worker.shutdown();
    await running;
  });
  // Eager start needs the client on the worker's NativeConnection (as `skillgate dev` builds it).
  const client = new Client({ connection: v.eager ? rt.nativeConnection : rt.connection, namespace: rt.namespace });
  const principal = { user: { id: 'bench', roles: [], groups: [] }, agent: { id: 'bench' } };
  const skill = plans.get(v.reads ?? 'activity')!;
  let seq = 0;
  const p: Prepared = {
    server,
    variant: v,
    taskQueue,
    metricsUrl: rt.metricsUrl!,
    eagerly: 0,
    rounds: [],
    stages: new Map(),
    runOnce: async () => {
      const workflowId = `${taskQueue}-${seq++}`;
      if (v.floor) {
        await client.workflow.execute(v.floor, { taskQueue, workflowId });
        return;
      }
      const handle = await startSkillRun(client, {
        attestor,
        ...skill,
        inputs: {},
        principal,
        workspace: 'bench',
        gateway: 'bench',
        taskQueue,
        workflowId,
        ...(v.eager ? { requestEagerStart: true } : {}),
      });
      if (handle.eagerlyStarted) p.eagerly++;
      await handle.result();
    },
  };
  return p;
}

/**
 * The physical floor of a durable step: one committed SQLite write transaction in WAL mode,
 * with fsync (synchronous=FULL) and without (NORMAL), on the disk the dev server writes to.
 */
function sqliteCommit(file: string): { n: number; fsyncP50: number; noSyncP50: number } {
  const n = 300;
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const blob = randomBytes(1024);
    const time = (sync: string) => {
      db.pragma(`synchronous = ${sync}`);
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        insert.run(blob);
        xs.push(performance.now() - t0);
      }
      return quantile(xs, 0.5);
    };
    time('FULL'); // warm the file
    return { n, fsyncP50: time('FULL'), noSyncP50: time('NORMAL') };
  } finally {
    db.close();
  }
}

await runBench(main, cleanups);
