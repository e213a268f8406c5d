/**
 * Per-step overhead of a skill run, for BENCHMARKS.md:
 *
 *   npm run bench            (= node --import tsx bench/skill-overhead.ts)
 *   BENCH_RUNS=300 BENCH_DB=memory npm run bench
 *
 * Starts its own embedded Temporal dev server (SQLite file in a temp folder, as `npm start`
 * does; BENCH_DB=memory for in-memory), a tiny in-process MCP server over Streamable HTTP with
 * a `noop` tool, the upstream pool and a worker. The skill `bench/skills/noop-five` calls
 * `bench.noop` five times in sequence. Each iteration measures, back to back:
 *   - direct: the same five calls made directly with the same MCP SDK client (the pool's);
 *   - run: a whole skill run — startSkillRun (input validation included) to result.
 * Per-step overhead = (run − direct) / 5, per iteration; reported as median and p95.
 *
 * Variants (what may limit the overhead) run interleaved in rounds, so a noisy neighbour on
 * this shared machine slows all of them alike:
 *   sdk-floor         not Skillgate: a bare workflow doing the same five calls as five activities
 *   baseline          gRPC client, start + result, every step a regular activity
 *   execute           client.workflow.execute instead of start + result
 *   native-client     the client on the worker's NativeConnection (no eager start)
 *   eager-start       + requestEagerStart: the first workflow task comes back with the start response
 *   local-activities  read-only steps as local activities (no activity task round trip)
 *   eager+local       both
 *   tuned-pollers     worker with fewer pollers (2 workflow, 2 activity) and no sticky cache
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism, cpus } from 'node:os';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client, type WorkflowStartOptions } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { stringify } from 'yaml';
import { z } from 'zod';
import { createActivities } from '../activities/index.js';
import { serveHttp } from '../demo/serve.js';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import { parseConfig } from '../src/config/load.js';
import { formatDiagnostic } from '../src/diagnostics.js';
import { LOW_LATENCY_DYNAMIC_CONFIG, startEmbeddedTemporal } from '../src/runtime/temporal.js';
import { createSkillWorker, type WorkerTuning } from '../src/runtime/worker.js';
import { fetchCatalog } from '../src/skills/catalog.js';
import { compileOptions } from '../src/skills/compile-all.js';
import { compileSkill } from '../src/skills/compile.js';
import { runSearchAttributes, startSkillRun } from '../src/skills/runs.js';
import type { runSkill } from '../workflows/runSkill.js';
import type { RunSkillInput } from '../workflows/definitions.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 15);
const ROUNDS = 5;
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
  {
    name: 'tuned-pollers',
    client: 'grpc',
    tuning: { maxConcurrentWorkflowTaskPolls: 2, maxConcurrentActivityTaskPolls: 2, maxCachedWorkflows: 0 },
  },
];
const VARIANTS = ALL_VARIANTS.filter((v) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(v.name));

Runtime.install({ logger: new DefaultLogger('WARN') });

const tmp = mkdtempSync(join(tmpdir(), 'skillgate-bench-'));
const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(tmp, { recursive: true, force: true })];

interface Row {
  server: string;
  variant: string;
  runs: number;
  runMedian: number;
  runP95: number;
  directMedian: number;
  overheadMedian: number;
  overheadP95: number;
  eager: string;
}

const SERVERS: Array<{ name: string; dynamicConfig?: Record<string, number>; variants: string[] }> = [
  { name: 'stock', variants: ['sdk-floor', 'baseline', 'eager+local'] },
  { name: 'low-latency', dynamicConfig: LOW_LATENCY_DYNAMIC_CONFIG, variants: VARIANTS.map((v) => v.name) },
];

async function main(): Promise<void> {
  const rows: Row[] = [];
  const dbFile = process.env.BENCH_DB === 'memory' ? undefined : join(tmp, 'temporal.db');
  for (const server of SERVERS) {
    const variants = VARIANTS.filter((v) => server.variants.includes(v.name));
    if (variants.length) rows.push(...(await measure(server.name, server.dynamicConfig, variants, dbFile && join(tmp, `${server.name}.db`))));
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `\nskill-overhead: ${STEPS}-step skill of no-op tools vs ${STEPS} direct calls (same MCP SDK client)\n` +
      `machine: ${availableParallelism()} cores (${cpu}), Node ${process.version}, dev server ${dbFile ? 'SQLite file' : 'in memory'}\n\n` +
      '| dev server | variant | runs | run p50 (ms) | run p95 (ms) | 5 direct calls p50 (ms) | overhead/step p50 (ms) | overhead/step p95 (ms) | eager starts |\n' +
      '|---|---|---:|---:|---:|---:|---:|---:|---|\n' +
      rows
        .map(
          (r) =>
            `| ${r.server} | ${r.variant} | ${r.runs} | ${r.runMedian.toFixed(1)} | ${r.runP95.toFixed(1)} | ${r.directMedian.toFixed(2)} | ` +
            `**${r.overheadMedian.toFixed(2)}** | ${r.overheadP95.toFixed(2)} | ${r.eager} |`,
        )
        .join('\n') +
      '\n',
  );
}

/** One dev server: its workers, warm-up, then interleaved rounds of every variant. */
async function measure(serverName: string, dynamicConfig: Record<string, number> | undefined, variants: Variant[], dbFile: string | undefined): Promise<Row[]> {
  const local: Array<() => Promise<unknown> | unknown> = [];
  try {
    log(`${serverName}: starting the embedded Temporal dev server (${dbFile ? 'SQLite file' : 'in memory'})…`);
    const rt = await startEmbeddedTemporal({ port: 0, ...(dbFile ? { dbFile } : {}), ...(dynamicConfig ? { dynamicConfig } : {}) });
    local.unshift(() => rt.close());

    const http = await serveHttp({ create: noopServer }, undefined, { port: 0 });
    local.unshift(
      () =>
        new Promise((r) => {
          http.closeAllConnections();
          http.close(r);
        }),
    );
    const addr = http.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/mcp`;
    const loaded = parseConfig(stringify({ workspace: 'bench', servers: { bench: { url } } }), join(tmp, 'skillgate.yaml'));
    const pool = createUpstreamPool(loaded, { log: () => {} });
    local.unshift(() => pool.close());

    const compiled = compileSkill(join(root, 'bench', 'skills', 'noop-five'), await fetchCatalog(pool), compileOptions(loaded));
    if (!compiled.plan || !compiled.hash) throw new Error(compiled.diagnostics.map(formatDiagnostic).join('\n'));
    const plan = compiled.plan;
    const planHash = compiled.hash;

    const grpcClient = new Client({ connection: rt.connection, namespace: rt.namespace });
    const nativeClient = new Client({ connection: rt.nativeConnection, namespace: rt.namespace });
    const activities = createActivities({ pool });
    const principal = { user: { id: 'bench', roles: [], groups: [] }, agent: { id: 'bench' } };

    const workers: Array<{ worker: Worker; running: Promise<void> }> = [];
    local.unshift(async () => {
      for (const w of workers) w.worker.shutdown();
      await Promise.all(workers.map((w) => w.running));
    });
    const prepared = [];
    for (const v of variants) {
      const taskQueue = `bench-${v.name}`;
      const worker = v.floor
        ? await Worker.create({
            connection: rt.nativeConnection,
            taskQueue,
            workflowBundle: await bundleWorkflowCode({ workflowsPath: join(root, 'bench', 'floor-workflow.ts'), logger: new DefaultLogger('WARN') }),
            activities: { noop: (tag: string) => pool.callTool('bench', 'noop', { tag }) },
          })
        : await createSkillWorker({ connection: rt.nativeConnection, taskQueue, activities, ...(v.tuning ? { tuning: v.tuning } : {}) });
      workers.push({ worker, running: worker.run() });
      const client = v.client === 'native' ? nativeClient : grpcClient;
      let seq = 0;
      let eagerly = 0;
      const runOnce = async (): Promise<void> => {
        const workflowId = `bench-${v.name}-${seq++}-${Date.now()}`;
        if (v.floor) {
          await client.workflow.execute('fiveNoops', { taskQueue, workflowId });
          return;
        }
        if (v.execute) {
          const input: RunSkillInput = { plan, planHash, inputs: { tag: 'bench' }, principal, workspace: 'bench', gateway: 'bench' };
          await client.workflow.execute<typeof runSkill>('runSkill', { ...startOptions(taskQueue, workflowId, plan.skill.name), args: [input] });
          return;
        }
        const handle = await startSkillRun(client, {
          plan,
          planHash,
          inputs: {},
          principal,
          workspace: 'bench',
          gateway: 'bench',
          taskQueue,
          workflowId,
          ...(v.local ? { localReadOnlySteps: true } : {}),
          ...(v.eager ? { requestEagerStart: true } : {}),
        });
        if ((handle as { eagerlyStarted?: boolean }).eagerlyStarted) eagerly++;
        await handle.result();
      };
      prepared.push({ v, runOnce, eagerCount: () => eagerly, samples: [] as Array<{ run: number; direct: number }> });
    }

    const direct = async (): Promise<void> => {
      for (let i = 0; i < STEPS; i++) await pool.callTool('bench', 'noop', { tag: 'bench' });
    };

    log(`${serverName}: warming up (${WARMUP} runs per variant)…`);
    for (const p of prepared) for (let i = 0; i < WARMUP; i++) await p.runOnce();
    for (let i = 0; i < WARMUP; i++) await direct();

    log(`${serverName}: measuring ${RUNS} runs per variant (${variants.map((v) => v.name).join(', ')}), in ${ROUNDS} interleaved rounds…`);
    const perRound = Math.ceil(RUNS / ROUNDS);
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of prepared) {
        for (let i = 0; i < perRound; i++) {
          const t0 = performance.now();
          await direct();
          const t1 = performance.now();
          await p.runOnce();
          const t2 = performance.now();
          p.samples.push({ direct: t1 - t0, run: t2 - t1 });
        }
      }
    }

    return prepared.map((p) => {
      const overhead = p.samples.map((s) => (s.run - s.direct) / STEPS);
      return {
        server: serverName,
        variant: p.v.name,
        runs: p.samples.length,
        runMedian: quantile(p.samples.map((s) => s.run), 0.5),
        runP95: quantile(p.samples.map((s) => s.run), 0.95),
        directMedian: quantile(p.samples.map((s) => s.direct), 0.5),
        overheadMedian: quantile(overhead, 0.5),
        overheadP95: quantile(overhead, 0.95),
        eager: p.v.eager ? `${p.eagerCount()}/${p.samples.length + WARMUP}` : '',
      };
    });
  } finally {
    for (const c of local) await c();
  }
}

function startOptions(taskQueue: string, workflowId: string, skill: string): Omit<WorkflowStartOptions<typeof runSkill>, 'args'> {
  return {
    taskQueue,
    workflowId,
    memo: { planHash: 'bench' },
    typedSearchAttributes: new TypedSearchAttributes([
      { key: runSearchAttributes.skillName, value: skill },
      { key: runSearchAttributes.userId, value: 'bench' },
      { key: runSearchAttributes.agentId, value: 'bench' },
      { key: runSearchAttributes.gateway, value: 'bench' },
      { key: runSearchAttributes.workspace, value: 'bench' },
    ]),
  };
}

function noopServer(): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool(
    'noop',
    { description: 'Does nothing; answers with the tag it was given.', inputSchema: { tag: z.string() }, annotations: { readOnlyHint: true } },
    ({ tag }) => ({ content: [{ type: 'text', text: JSON.stringify({ tag }) }], structuredContent: { tag } }),
  );
  return server;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
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
