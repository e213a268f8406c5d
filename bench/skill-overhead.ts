/**
 * Per-step overhead of a skill run, for BENCHMARKS.md:
 *
 *   npm run bench            (= node --import tsx bench/skill-overhead.ts)
 *   BENCH_RUNS=200 BENCH_DB=memory BENCH_ONLY=baseline,eager+local BENCH_SERVERS=low-latency npm run bench
 *
 * Starts its own embedded Temporal dev servers (SQLite files in a temp folder, as `npm start`
 * does; BENCH_DB=memory for in-memory): one stock, one with LOW_LATENCY_DYNAMIC_CONFIG. Plus
 * a tiny in-process MCP server over Streamable HTTP with a `noop` tool, the upstream pool and
 * one worker per variant. The skill `bench/skills/noop-five` calls `bench.noop` five times in
 * sequence. Each iteration measures, back to back:
 *   - direct: the same five calls made directly with the same MCP SDK client (the pool's);
 *   - run: a whole skill run — startSkillRun (input validation included) to result.
 * Per-step overhead = (run − direct) / 5, per iteration; reported as median and p95, and as
 * the median of the quietest round ("best round").
 *
 * Variants (what may limit the overhead):
 *   sdk-floor         not Skillgate: a bare workflow doing the same five calls as five activities
 *   baseline          gRPC client, start + result, every step a regular activity
 *   execute           client.workflow.execute instead of start + result
 *   native-client     the client on the worker's NativeConnection (no eager start)
 *   eager-start       + requestEagerStart: the first workflow task comes back with the start response
 *   local-activities  read-only steps as local activities (no activity task round trip)
 *   eager+local       both
 *   no-sticky         worker without a workflow cache (every workflow task replays the history)
 * Runs are back to back (the steady state of a stream of runs), in blocks: every (server,
 * variant) pair runs one block per round, 5 rounds, so a noisy neighbour on this shared machine
 * slows all of them alike. Stops by itself; everything it starts is closed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, type NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { createRunAttestor } from '../gateway/authz/run-attestation.js';
import { LOW_LATENCY_DYNAMIC_CONFIG, startEmbeddedTemporal } from '../src/app/runtime/temporal.js';
import type { WorkerTuning } from '../src/temporal/worker.js';
import { startSkillRun } from '../src/skills/runs.js';
import type { RunSkillInput, RunSkillWorkflow } from '../src/contracts/run.js';
import { type BenchEngine, createBenchWorker, openBenchEngine, quantile, serveNoop } from './engine-setup.js';

/** The engine's dependencies (bench/engine-setup.ts): allow-all authorizer, no data-loss rules, audit dropped; the run attestation is real. */
const attestor = createRunAttestor(randomBytes(32));

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const ROUNDS = 5;
const BLOCK_WARMUP = 3;
const STEPS = 5;

interface Variant {
  name: string;
  client: 'grpc' | 'native';
  /** Run bench/floor-workflow.ts instead of the skill: the bare-SDK floor. */
  floor?: boolean;
  eager?: boolean;
  local?: boolean;
  execute?: boolean;
  tuning?: WorkerTuning;
}

const ALL_VARIANTS: Variant[] = [
  { name: 'sdk-floor', client: 'grpc', floor: true },
  { name: 'baseline', client: 'grpc' },
  { name: 'execute', client: 'grpc', execute: true },
  { name: 'native-client', client: 'native' },
  { name: 'eager-start', client: 'native', eager: true },
  { name: 'local-activities', client: 'grpc', local: true },
  { name: 'eager+local', client: 'native', eager: true, local: true },
  { name: 'no-sticky', client: 'grpc', tuning: { maxCachedWorkflows: 0 } },
];
const ONLY = process.env.BENCH_ONLY?.split(',');
const VARIANTS = ALL_VARIANTS.filter((v) => !ONLY || ONLY.includes(v.name));

const SERVERS: Array<{ name: string; dynamicConfig?: Record<string, number>; variants: string[] }> = [
  { name: 'stock', variants: ['sdk-floor', 'baseline', 'eager+local'] },
  { name: 'low-latency', dynamicConfig: LOW_LATENCY_DYNAMIC_CONFIG, variants: ALL_VARIANTS.map((v) => v.name) },
];

interface Prepared {
  server: string;
  variant: Variant;
  runOnce(): Promise<void>;
  direct(): Promise<void>;
  eagerly: number;
  /** Per round: { run, direct } per iteration, ms. */
  rounds: Array<Array<{ run: number; direct: number }>>;
}

Runtime.install({ logger: new DefaultLogger('WARN') });

const tmp = mkdtempSync(join(tmpdir(), 'skillgate-bench-'));
const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(tmp, { recursive: true, force: true })];
const inMemory = process.env.BENCH_DB === 'memory';

async function main(): Promise<void> {
  const noop = await serveNoop();
  cleanups.unshift(() => noop.close());
  const engine = await openBenchEngine({ url: noop.url, dir: tmp });
  const { pool } = engine;
  cleanups.unshift(() => pool.close());
  const compiled = await engine.compile(join(root, 'bench', 'skills', 'noop-five'));
  const skill = { plan: compiled.plan, planHash: compiled.planHash };

  const prepared: Prepared[] = [];
  for (const server of SERVERS) {
    if (process.env.BENCH_SERVERS && !process.env.BENCH_SERVERS.split(',').includes(server.name)) continue;
    const variants = VARIANTS.filter((v) => server.variants.includes(v.name));
    if (variants.length === 0) continue;
    log(`${server.name}: starting an embedded Temporal dev server (${inMemory ? 'in memory' : 'SQLite file'})…`);
    const rt = await startEmbeddedTemporal({
      port: 0,
      ...(inMemory ? {} : { dbFile: join(tmp, `${server.name}.db`) }),
      ...(server.dynamicConfig ? { dynamicConfig: server.dynamicConfig } : {}),
    });
    cleanups.unshift(() => rt.close());
    const clients = {
      grpc: new Client({ connection: rt.connection, namespace: rt.namespace }),
      native: new Client({ connection: rt.nativeConnection, namespace: rt.namespace }),
    };
    for (const v of variants) prepared.push(await prepare(server.name, v, rt.nativeConnection, clients[v.client], engine, skill));
  }

  log(`warming up (${WARMUP} runs each)…`);
  for (const p of prepared) for (let i = 0; i < WARMUP; i++) await p.runOnce();
  for (let i = 0; i < WARMUP; i++) await prepared[0]?.direct();

  const perRound = Math.ceil(RUNS / ROUNDS);
  log(`measuring ${perRound * ROUNDS} runs of each of ${prepared.length} (server, variant) pairs, in ${ROUNDS} rounds of back-to-back blocks…`);
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of prepared) {
      // Each block starts with unmeasured runs: the server's rate limiters (e.g. the 20/s
      // transfer-task loads of a stock dev server) refill while other pairs run, and the
      // first runs after a pause would not show the steady state of back-to-back runs.
      for (let i = 0; i < BLOCK_WARMUP; i++) await p.runOnce();
      const round: Array<{ run: number; direct: number }> = [];
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await p.direct();
        const t1 = performance.now();
        await p.runOnce();
        round.push({ direct: t1 - t0, run: performance.now() - t1 });
      }
      p.rounds.push(round);
    }
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = prepared.map((p) => {
    const all = p.rounds.flat();
    const overhead = (xs: Array<{ run: number; direct: number }>) => xs.map((s) => (s.run - s.direct) / STEPS);
    const bestRound = Math.min(...p.rounds.map((r) => quantile(overhead(r), 0.5)));
    return (
      `| ${p.server} | ${p.variant.name} | ${all.length} | ${quantile(all.map((s) => s.run), 0.5).toFixed(1)} | ` +
      `${quantile(all.map((s) => s.run), 0.95).toFixed(1)} | ${quantile(all.map((s) => s.direct), 0.5).toFixed(2)} | ` +
      `**${quantile(overhead(all), 0.5).toFixed(2)}** | ${quantile(overhead(all), 0.95).toFixed(2)} | ${bestRound.toFixed(2)} | ` +
      `${p.variant.eager ? `${p.eagerly}/${all.length + WARMUP}` : ''} |`
    );
  });
  process.stdout.write(
    `\nskill-overhead: ${STEPS}-step skill of no-op tools vs ${STEPS} direct calls (same MCP SDK client)\n` +
      `machine: ${availableParallelism()} cores (${cpu}), Node ${process.version}, dev servers ${inMemory ? 'in memory' : 'on SQLite files'}\n\n` +
      '| dev server | variant | runs | run p50 (ms) | run p95 (ms) | 5 direct calls p50 (ms) | overhead/step p50 (ms) | overhead/step p95 (ms) | best-round p50 (ms) | eager starts |\n' +
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n' +
      `${lines.join('\n')}\n`,
  );
}

/** A worker for the variant (own task queue) and the function that runs the skill once. */
async function prepare(
  server: string,
  v: Variant,
  connection: NativeConnection,
  client: Client,
  engine: BenchEngine,
  skill: { plan: RunSkillInput['plan']; planHash: string },
): Promise<Prepared> {
  const taskQueue = `bench-${v.name}`;
  const { pool } = engine;
  const worker = v.floor
    ? await Worker.create({
        connection,
        taskQueue,
        workflowBundle: await bundleWorkflowCode({ workflowsPath: join(root, 'bench', 'floor-workflow.ts'), logger: new DefaultLogger('WARN') }),
        activities: { noop: (tag: string) => pool.callTool('bench', 'noop', { tag }) },
      })
    : await createBenchWorker({ connection, taskQueue, engine, attestor, ...(v.tuning ? { tuning: v.tuning } : {}) });
  const running = worker.run();
  cleanups.unshift(async () => {
    worker.shutdown();
    await running;
  });
  const principal = { user: { id: 'bench', roles: [], groups: [] }, agent: { id: 'bench' } };
  let seq = 0;
  const p: Prepared = {
    server,
    variant: v,
    eagerly: 0,
    rounds: [],
    direct: async () => {
      for (let i = 0; i < STEPS; i++) await pool.callTool('bench', 'noop', { tag: 'bench' });
    },
    runOnce: async () => {
      const workflowId = `bench-${v.name}-${seq++}`;
      if (v.floor) {
        await client.workflow.execute('fiveNoops', { taskQueue, workflowId });
        return;
      }
      if (v.execute) {
        const inputs = { tag: 'bench' };
        const attestation = await attestor.signRun({ workflowId, workspace: 'bench', gateway: 'bench', principal, planHash: skill.planHash, inputs });
        const input: RunSkillInput = { ...skill, inputs, principal, workspace: 'bench', gateway: 'bench', attestation };
        await client.workflow.execute<RunSkillWorkflow>('runSkill', { taskQueue, workflowId, args: [input] });
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
        ...(v.local ? { localReadOnlySteps: true } : {}),
        ...(v.eager ? { requestEagerStart: true } : {}),
      });
      if (handle.eagerlyStarted) p.eagerly++;
      await handle.result();
    },
  };
  return p;
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`bench: failed: ${(err as Error).stack ?? String(err)}\n`);
} finally {
  for (const c of cleanups) {
    try {
      await c();
    } catch {
      // best effort: the process exits next
    }
  }
}
process.exit(failed ? 1 : 0);
