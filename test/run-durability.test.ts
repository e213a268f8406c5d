/**
 * Durability of skill runs: a worker process killed with SIGKILL mid-run is replaced and the
 * run completes, with every side effect applied once (idempotency keys in the demo's state).
 * Workers run as child processes (test/helpers/worker-main.ts); the demo servers are their
 * stdio children, with their data in this test's temp folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import type { CoreBankingData } from '../demo/core-banking/server.js';
import { waitForResult } from '../src/skills/runs.js';
import { startProbeServer, type ProbeServer } from './helpers/probe-server.js';
import { callEvents, eventually, FIXTURE_SKILLS, historyEvents, ROOT, startHarness, type SkillHarness } from './helpers/skill-harness.js';
import { testWorkspace, type TestWorkspace } from './helpers/workspace.js';

let probe: ProbeServer;
let ws: TestWorkspace;
let h: SkillHarness;
const taskQueue = `durability-${randomUUID()}`;
const workers = new Set<ChildProcess>();

beforeAll(async () => {
  probe = await startProbeServer();
  ws = testWorkspace({ temporal: { taskQueue }, servers: { probe: { url: probe.url } } });
  writeFileSync(ws.loaded.file, stringify(ws.loaded.config));
  // No worker in this process: workers are child processes that the test can kill.
  h = await startHarness(inject('temporalAddress'), ws.loaded, { withWorker: false, taskQueue });
});

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await h?.close();
  await probe?.close();
  ws?.cleanup();
});

/** Start a worker process; resolves once it polls. */
async function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'worker-main.ts'), ws.loaded.file, taskQueue], {
    cwd: ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.add(child);
  child.on('exit', () => workers.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${stderr}`)));
  });
  return child;
}

/** Kill `worker` with SIGKILL (a crash: nothing is finished or reported) and start another. */
async function replaceWorker(worker: ChildProcess): Promise<void> {
  const exited = new Promise((r) => worker.once('exit', r));
  worker.kill('SIGKILL');
  await exited;
  await startWorker();
}

function bank(): CoreBankingData {
  return JSON.parse(readFileSync(join(ws.stateDir, 'core-banking.json'), 'utf8')) as CoreBankingData;
}

describe('worker crash', () => {
  it('SIGKILL mid-run, new worker: the run completes and each idempotency key was applied once', async () => {
    const skill = await h.compile(join(FIXTURE_SKILLS, 'credit-crash'));
    const first = await startWorker();
    const handle = await h.start(skill, { customerId: 'C-1004', amount: 1500 });
    const runId = handle.firstExecutionRunId;

    // issue_credit is done and the slow side effect after it is applied but not yet answered: kill the worker now.
    await eventually(() => bank().appliedKeys[`${runId}/step/issue`] === 1, 'issue_credit to be applied', 30_000);
    await eventually(() => probe.applied.has(`${runId}/step/hold`) && probe.calls.some((c) => c.key === `${runId}/step/hold` && c.endedAt === undefined), 'the hold step to be in flight', 30_000);
    await replaceWorker(first);
    const t0 = Date.now();
    const result = await waitForResult(h.client, handle.workflowId);
    // At most: hold's timeout (3 s) + its retry (2 s) + the dead worker's sticky queue (2 s, worker-main) + slack.
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(result.executed).toEqual(['issue', 'hold', 'notice']);

    const state = bank();
    const keys = Object.entries(state.appliedKeys).filter(([k]) => k.startsWith(`${runId}/`));
    expect(Object.fromEntries(keys)).toEqual({ [`${runId}/step/issue`]: 1, [`${runId}/step/notice`]: 1 });
    const credits = Object.values(state.credits).filter((c) => c.idempotencyKey?.startsWith(`${runId}/`));
    expect(credits).toEqual([expect.objectContaining({ creditId: result.outputs.creditId, status: 'active' })]);
    // The interrupted step was called again with the same idempotency key by the new worker,
    // and the second system applied it once.
    const holds = probe.calls.filter((c) => c.key === `${runId}/step/hold`);
    expect(holds).toHaveLength(2);
    expect([...probe.applied.keys()].filter((k) => k.startsWith(`${runId}/`))).toEqual([`${runId}/step/hold`]);
    const started = (await historyEvents(h.client, handle.workflowId))
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.attempt);
    // issue, hold (attempt 2 after the crash), notice.
    expect(started).toEqual([1, 2, 1]);
  });
});

describe('worker crash during a read-only step (a local activity)', () => {
  it('SIGKILL during the read: the next worker reads again (harmless), and each side effect is applied once', async () => {
    // Only this test's worker may hold the run: stop the workers earlier tests left.
    await Promise.all([...workers].map((w) => new Promise((r) => (w.once('exit', r), w.kill('SIGKILL')))));
    const skill = await h.compile(join(FIXTURE_SKILLS, 'read-crash'));
    const [look] = skill.plan.steps.filter((s) => s.id === 'look');
    expect(look).toMatchObject({ readOnly: true, execution: 'local' });
    const first = await startWorker();
    const handle = await h.start(skill, {});
    const runId = handle.firstExecutionRunId;
    const key = (step: string) => `${runId}/step/${step}`;

    await eventually(() => probe.calls.some((c) => c.key === key('look') && c.endedAt === undefined), 'the read to be in flight', 30_000);
    await replaceWorker(first);
    const t0 = Date.now();
    const result = await waitForResult(h.client, handle.workflowId);
    // A local activity runs inside a workflow task: the task the dead worker held times out
    // (10 s, Temporal's default) before another worker takes the run, then the read (2 s) runs again.
    expect(Date.now() - t0).toBeLessThan(25_000);
    expect(result.executed).toEqual(['before', 'look', 'after']);

    // The read ran twice, under the same key (its result was not recorded before the crash);
    // each side effect was called and applied once.
    expect(probe.calls.filter((c) => c.key === key('look'))).toHaveLength(2);
    expect(probe.calls.filter((c) => c.key === key('before'))).toHaveLength(1);
    expect(probe.calls.filter((c) => c.key === key('after'))).toHaveLength(1);
    expect([...probe.applied.keys()].filter((k) => k.startsWith(`${runId}/`)).sort()).toEqual([key('after'), key('before')]);
    expect(result.outputs.after).toBe(probe.applied.get(key('after'))!.id);

    // The history holds the read once: the completed attempt's marker.
    const events = await historyEvents(h.client, handle.workflowId);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityId)).toEqual(['step/before', 'step/after']);
    // verifyRun and the read.
    expect(callEvents(events).filter((e) => e.markerRecordedEventAttributes)).toHaveLength(2);
  });
});
