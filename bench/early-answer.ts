/**
 * Time to a synchronous skill call's first answer, for BENCHMARKS.md ("Early answers"):
 *
 *   npm run bench:early        (= node --import tsx bench/early-answer.ts)
 *   BENCH_RUNS=20 npm run bench:early
 *
 * Three ways of getting the answer, side by side on one embedded dev server (in memory) and
 * one worker, for two skills: `noop-five` (five no-op tool steps: the answer is the result)
 * and `approve-first` (an approval first: the answer is "waiting for approval").
 *   poll             the old way, kept here only: start, then a status query every 150 ms
 *                    (and the result, raced) until the run ends or waits;
 *   start+update     start, then executeUpdate(answer);
 *   update-with-start  startSkillRunAndAnswer: one Update-with-Start (what the MCP tool uses).
 * Each measured time is from just before the start (inputs validated, start signed) to the
 * answer in hand. Runs are interleaved: every (skill, way) pair runs one block per round,
 * 5 rounds, each block after 3 unmeasured runs; runs left waiting are terminated, unmeasured.
 * Stops by itself; everything it starts is closed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startEmbeddedTemporal } from '../src/app/runtime/temporal.js';
import { ANSWER_UPDATE, type RunAnswer, type RunSkillResult, type RunStatus } from '../src/contracts/run.js';
import { getRunStatus, startSkillRun, startSkillRunAndAnswer, type StartRunOptions } from '../src/skills/runs.js';
import { BENCH_ROOT, benchLog, createBenchWorker, openBenchEngine, quantile, runBench, serveNoop } from './engine-setup.js';
import { createRunAttestor } from '../gateway/authz/run-attestation.js';
import { randomBytes } from 'node:crypto';

const attestor = createRunAttestor(randomBytes(32));

const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const ROUNDS = 5;
const BLOCK_WARMUP = 3;
const POLL_MS = 150;
const WAIT_MS = 30_000;
const SKILLS = ['noop-five', 'approve-first'] as const;
const WAYS = ['poll', 'start+update', 'update-with-start'] as const;
type Way = (typeof WAYS)[number];

Runtime.install({ logger: new DefaultLogger('WARN') });
const tmp = mkdtempSync(join(tmpdir(), 'skillgate-bench-early-'));
const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(tmp, { recursive: true, force: true })];

const answered = (st: RunStatus) => st.state === 'awaiting-approval' || st.state === 'awaiting-authorization' || st.state === 'completed' || st.state === 'failed';

/** The old synchronous path (gateway/adapters/mcp/skill-tools.ts before early answers): poll the status, race the result. */
async function pollForAnswer(client: Client, workflowId: string): Promise<void> {
  let settled = false;
  const outcome = client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      (r: RunSkillResult) => r,
      () => undefined,
    )
    .finally(() => {
      settled = true;
    });
  const deadline = Date.now() + WAIT_MS;
  while (!settled && Date.now() < deadline) {
    const st = await getRunStatus(client, workflowId).catch(() => undefined);
    if (st && answered(st)) return;
    await Promise.race([outcome, new Promise((r) => setTimeout(r, POLL_MS))]);
  }
  if (!settled) throw new Error(`${workflowId}: no answer within ${WAIT_MS} ms`);
}

async function main(): Promise<void> {
  const noop = await serveNoop();
  cleanups.unshift(() => noop.close());
  const rig = await openBenchEngine({ url: noop.url, dir: tmp });
  cleanups.unshift(() => rig.pool.close());
  benchLog('starting an embedded Temporal dev server (in memory)…');
  const rt = await startEmbeddedTemporal({ port: 0 });
  cleanups.unshift(() => rt.close());
  const client = new Client({ connection: rt.connection, namespace: rt.namespace });
  const taskQueue = 'bench-early';
  const worker = await createBenchWorker({ connection: rt.nativeConnection, taskQueue, engine: rig, attestor });
  const running = worker.run();
  cleanups.unshift(async () => {
    worker.shutdown();
    await running;
  });

  const principal = { user: { id: 'bench', roles: [], groups: [] }, agent: { id: 'bench' } };
  const plans = new Map<string, { plan: StartRunOptions['plan']; planHash: string }>();
  for (const s of SKILLS) plans.set(s, await rig.compile(join(BENCH_ROOT, 'bench', 'skills', s)));
  let seq = 0;
  const waiting: string[] = [];

  /** One run of `skill` answered the `way` way; returns ms to the answer. */
  const once = async (skill: string, way: Way): Promise<number> => {
    const workflowId = `bench-early-${skill}-${seq++}`;
    const start: StartRunOptions = { attestor, ...plans.get(skill)!, inputs: {}, principal, workspace: 'bench', gateway: 'bench', taskQueue, workflowId };
    const t0 = performance.now();
    let st: RunStatus;
    switch (way) {
      case 'poll':
        await startSkillRun(client, start);
        await pollForAnswer(client, workflowId);
        break;
      case 'start+update': {
        const handle = await startSkillRun(client, start);
        try {
          st = (await handle.executeUpdate<RunAnswer, []>(ANSWER_UPDATE)).status;
          if (!answered(st)) throw new Error(`${workflowId}: answered ${st.state}`);
        } catch (err) {
          // A run that ended before the update reached it (a read-only skill ends in its first
          // workflow task): its result is the answer, as startSkillRunAndAnswer does.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          await handle.result();
        }
        break;
      }
      case 'update-with-start': {
        const { answer } = await startSkillRunAndAnswer(client, { ...start, waitMs: WAIT_MS });
        if (answer.state !== 'completed' && answer.state !== 'waiting') throw new Error(`${workflowId}: answered ${answer.state}`);
        break;
      }
    }
    const ms = performance.now() - t0;
    if (skill === 'approve-first') waiting.push(workflowId);
    return ms;
  };
  const endWaiting = async () => {
    for (const id of waiting.splice(0)) await client.workflow.getHandle(id).terminate('benchmark run ended').catch(() => undefined);
  };

  const samples = new Map<string, number[][]>();
  const perRound = Math.ceil(RUNS / ROUNDS);
  benchLog(`measuring ${perRound * ROUNDS} runs of each of ${SKILLS.length * WAYS.length} (skill, way) pairs in ${ROUNDS} interleaved rounds…`);
  for (let r = 0; r < ROUNDS; r++) {
    for (const skill of SKILLS) {
      for (const way of WAYS) {
        for (let i = 0; i < BLOCK_WARMUP; i++) await once(skill, way);
        const block: number[] = [];
        for (let i = 0; i < perRound; i++) block.push(await once(skill, way));
        await endWaiting();
        const key = `${skill}|${way}`;
        samples.set(key, [...(samples.get(key) ?? []), block]);
      }
    }
  }

  const rows = [...samples.entries()].map(([key, rounds]) => {
    const [skill, way] = key.split('|');
    const all = rounds.flat();
    const best = Math.min(...rounds.map((b) => quantile(b, 0.5)));
    return `| ${skill} | ${way} | ${all.length} | **${quantile(all, 0.5).toFixed(1)}** | ${quantile(all, 0.95).toFixed(1)} | ${best.toFixed(1)} |`;
  });
  process.stdout.write(
    `\nearly-answer: time to a synchronous skill call's first answer (start → answer in hand)\n` +
      `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, dev server in memory, old poll every ${POLL_MS} ms\n\n` +
      '| skill | way | runs | p50 (ms) | p95 (ms) | best-round p50 (ms) |\n|---|---|---:|---:|---:|---:|\n' +
      `${rows.join('\n')}\n`,
  );
}

await runBench(main, cleanups);
