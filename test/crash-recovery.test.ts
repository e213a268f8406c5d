/**
 * An operator crashing things: the embedded Temporal server killed under a running
 * `skillgate dev` (restarted on the same database, /healthz degraded meanwhile, a run started
 * before it completes); `skillgate dev` itself killed with -9 (the next start cleans up what it
 * left and the waiting run completes after approval); two starts at the same instant (exactly
 * one runs). Real processes, real signals, the real CLI.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive, type RuntimeInfo } from '../src/app/runtime/state-lock.js';
import { demoWorkspace, type DemoWorkspace, type DevProcess, skillgate, startDev } from './helpers/dev-process.js';
import { eventually } from './helpers/skill-harness.js';

let ws: DemoWorkspace;
let dev: DevProcess;
const all: DevProcess[] = [];

function start(): DevProcess {
  const d = startDev(ws.configFile);
  all.push(d);
  return d;
}

const runtimeInfo = () => JSON.parse(readFileSync(join(ws.dir, 'state', 'runtime.json'), 'utf8')) as RuntimeInfo;

async function health(): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const res = await fetch(`http://127.0.0.1:${ws.gatewayPort}/healthz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
}

/** A credit that waits for a credit officer, started with the real CLI as the CEO. */
async function waitingRun(): Promise<string> {
  const r = await skillgate(ws.configFile, ['run', 'credit-issuance', '--input', '{"customerId":"C-1001","amount":25000}', '--as', 'ceo']);
  expect(r.code, r.stderr).toBe(0);
  const id = r.stdout.trim();
  await withTemporal(async (client) => {
    await eventually(async () => (await client.workflow.getHandle(id).query<{ state: string }>('status')).state === 'awaiting-approval', 'the approval', 30_000);
  });
  return id;
}

async function withTemporal<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: `127.0.0.1:${ws.temporalPort}` });
  try {
    return await fn(new Client({ connection }));
  } finally {
    await connection.close();
  }
}

async function approveAndFinish(id: string): Promise<void> {
  const r = await skillgate(ws.configFile, ['approve', id, '--as', 'credit-officer']);
  expect(r.code, r.stderr).toBe(0);
  const result = await withTemporal((client) => client.workflow.getHandle(id).result() as Promise<{ outputs: { approvedBy: string } }>);
  expect(result.outputs.approvedBy).toBe('credit-officer');
}

beforeAll(async () => {
  ws = await demoWorkspace();
  dev = start();
  await dev.ready();
}, 120_000);

afterAll(async () => {
  for (const d of all) await d.stop(15_000);
  const t = (() => {
    try {
      return runtimeInfo().temporal?.pid;
    } catch {
      return undefined;
    }
  })();
  if (t !== undefined && processAlive(t)) process.kill(t, 'SIGKILL');
  ws?.cleanup();
});

describe('crashes recover by themselves', () => {
  it('the Temporal child killed: restarted on the same database, /healthz degraded meanwhile, a run started before completes', async () => {
    const id = await waitingRun();
    const before = runtimeInfo().temporal!.pid!;
    expect((await health()).status).toBe(200);
    process.kill(before, 'SIGKILL');

    const degraded = await eventually(async () => {
      const h = await health();
      return h.status === 503 ? h : undefined;
    }, '/healthz to say degraded', 10_000, 50);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.checks.temporal).toMatch(/^the embedded Temporal server \(pid \d+\) exited \(SIGKILL\)/);

    await eventually(async () => (await health()).status === 200, '/healthz to be ok again', 60_000, 200);
    const after = runtimeInfo().temporal!.pid!;
    expect(after).not.toBe(before);
    expect(dev.output()).toContain(`the embedded Temporal server is back (pid ${after}, restart 1)`);
    await approveAndFinish(id);
  }, 120_000);

  it('skillgate dev killed with -9: the next start stops its orphaned Temporal server and the waiting run completes after approval', async () => {
    const id = await waitingRun();
    const orphan = runtimeInfo().temporal!.pid!;
    dev.child.kill('SIGKILL');
    await dev.exit;
    expect(processAlive(orphan)).toBe(true);

    dev = start();
    const banner = await dev.ready();
    expect(banner).toContain(`stopping the Temporal dev server (pid ${orphan}) left running by an earlier skillgate dev`);
    expect(processAlive(orphan)).toBe(false);
    await approveAndFinish(id);
  }, 180_000);

  it('two starts at the same instant: exactly one runs, the other names it and exits', async () => {
    await dev.stop();
    const [a, b] = [start(), start()];
    // The one that does not get the lock exits at once, before touching a port or a file.
    const loser = await Promise.race([a.exit.then(() => a), b.exit.then(() => b)]);
    const winner = loser === a ? b : a;
    const exit = await loser.exit;
    expect(exit.code, loser.output()).toBe(2);
    expect(loser.output()).toMatch(/another skillgate dev \(pid \d+, started [^)]+\) is running with this state folder/);
    await winner.ready();
    dev = winner;
    expect(runtimeInfo().pid).toBe(winner.child.pid);
  }, 150_000);

  it('skillgate approve while the runtime is down says so and exits non-zero instead of hanging', async () => {
    const id = await waitingRun();
    await dev.stop();
    const t0 = Date.now();
    const r = await skillgate(ws.configFile, ['approve', id, '--as', 'credit-officer']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cannot reach Temporal at 127.0.0.1:${ws.temporalPort}`);
    expect(r.stderr).toContain('start it with `skillgate dev`');
    // Bounded by the connect timeout (5 s), not by a human noticing.
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);
});
