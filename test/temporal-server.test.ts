/**
 * Skillgate on a real Temporal cluster: Temporal's own server (`temporal-server` v1.32.1, built
 * from the Go module proxy by scripts/fetch-temporal-server.mjs) on a real PostgreSQL (Debian's
 * package), not the dev server. Skillgate connects to it as to any cluster (connectTemporal:
 * TEMPORAL_ADDRESS), which registers its search attributes; the real worker runs skills on it.
 *  - a run completes, its state and its search attributes in PostgreSQL;
 *  - the server restarted (SIGTERM) and crashed (SIGKILL) while a run waits for its approval:
 *    the run completes once, its side effect applied once;
 *  - PostgreSQL crashed and restarted under the server: the server recovers, a new run
 *    completes and the waiting one too.
 * Fails (never skips) when the server cannot be built or started.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import pg from 'pg';
import { defaultPayloadConverter } from '@temporalio/common';
import { ensureTemporalServer } from '../scripts/fetch-temporal-server.mjs';
import { connectTemporal, type TemporalRuntime } from '../src/app/runtime/temporal.js';
import { SEARCH_ATTRIBUTES } from '../src/contracts/search-attributes.js';
import { getRunStatus, waitForResult } from '../src/skills/runs.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';
import { callEvents, eventually, historyEvents, type ProbeWorld, startProbeWorld } from './helpers/skill-harness.js';
import { startTemporalServer, type TemporalServer } from './helpers/temporal-server.js';

let postgres: PostgresServer;
let server: TemporalServer;
let rt: TemporalRuntime;
let world: ProbeWorld;
/** Figures printed at the end (ms). */
const took: Record<string, number> = {};
const SUPERVISOR = { id: 'alice', roles: ['supervisor'] };

const since = (t0: number) => Date.now() - t0;
const summaryOf = (payload: unknown): string | undefined => (payload ? defaultPayloadConverter.fromPayload<string>(payload as never) : undefined);

beforeAll(async () => {
  // .ci/run builds it first; when it is missing (a plain `npx vitest run`) this builds it (minutes).
  const bin = ensureTemporalServer({ log: (line) => process.stdout.write(`${line}\n`) });
  took['fetch script (cached: check only)'] = Math.round(bin.seconds * 1000);
  postgres = await startPostgres();
  const t0 = Date.now();
  server = await startTemporalServer({ postgres, binaries: bin });
  took['server: schemas + start to namespace usable'] = since(t0);
  took['server: process start to namespace usable'] = server.lastStartMs;
  rt = await connectTemporal(server.address);
  world = await startProbeWorld(server.address, ['probe-parallel', 'probe-approval']);
}, 900_000);

afterAll(async () => {
  await world?.close();
  await rt?.close();
  await server?.close();
  await postgres?.close();
  process.stdout.write(`temporal-server figures:\n${Object.entries(took).map(([k, v]) => `  ${k}: ${v} ms`).join('\n')}\n`);
});

/** On failure, what the server and PostgreSQL said last. */
function showLogsOnFailure(): void {
  onTestFailed(() => {
    process.stderr.write(`--- temporal-server log (last lines) ---\n${server?.logTail()}\n--- postgres log ---\n${postgres?.logTail()}\n`);
  });
}

/** Rows of a table whose workflow_id is `id`, read straight from PostgreSQL. */
async function rowsOf(database: string, table: string, id: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: postgres.url(database) });
  await client.connect();
  try {
    return (await client.query(`SELECT * FROM ${table} WHERE workflow_id = $1`, [id])).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

/** A run of probe-approval that waits for its approval. */
async function waitingRun(label: string): Promise<{ workflowId: string; runId: string }> {
  const workflowId = `tserver-approval-${randomUUID()}`;
  const handle = await world.h.start(world.skills['probe-approval']!, { label }, { workflowId });
  await eventually(async () => (await getRunStatus(world.h.client, workflowId)).state === 'awaiting-approval', 'the run to wait for its approval', 30_000);
  return { workflowId, runId: handle.firstExecutionRunId };
}

/** The run completed once: one completion, effect and after called once each, the effect applied once. */
async function completedOnce(workflowId: string, runId: string, label: string): Promise<void> {
  const result = await waitForResult(world.h.client, workflowId);
  expect(result.outputs).toMatchObject({ approvedBy: 'alice' });
  const events = await historyEvents(world.h.client, workflowId);
  expect(events.filter((e) => e.workflowExecutionCompletedEventAttributes)).toHaveLength(1);
  // verifyRun (the run's check of its start), effect, verifyApproval, after: each once, none retried.
  expect(callEvents(events).map((e) => summaryOf(e.userMetadata?.summary))).toEqual([undefined, 'effect · probe.apply', undefined, 'after · probe.echo']);
  expect(events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt)).toEqual([1, 1]);
  expect(world.probe.calls.filter((c) => c.tool === 'apply' && c.args.label === label)).toHaveLength(1);
  expect([...world.probe.applied.keys()].filter((k) => k.startsWith(`${runId}/`))).toEqual([`${runId}/step/effect`]);
  const described = await world.h.client.workflow.getHandle(workflowId).describe();
  expect(described.runId).toBe(runId);
  expect(described.status.name).toBe('COMPLETED');
}

describe('Skillgate on temporal-server + PostgreSQL', { timeout: 120_000 }, () => {
  it('is the real server; connectTemporal registered the search attributes; a run completes, its state and search attributes in PostgreSQL', async () => {
    showLogsOnFailure();
    const info = await rt.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBe('1.32.1');
    expect(rt.registeredSearchAttributes).toEqual([...SEARCH_ATTRIBUTES]);

    const workflowId = `tserver-parallel-${randomUUID()}`;
    const t0 = Date.now();
    await world.h.start(world.skills['probe-parallel']!, {}, { workflowId });
    const result = await waitForResult(world.h.client, workflowId);
    took['first run (2 parallel 800 ms steps + 1)'] = since(t0);
    expect(result.outputs).toMatchObject({ joined: 'left+right', maybeSkipped: true });

    expect(await rowsOf('temporal', 'executions', workflowId)).toHaveLength(1);
    // SQL visibility: the custom search attributes are columns of executions_visibility, queried by the frontend.
    const listed = await eventually(
      async () => {
        const out = [];
        for await (const w of world.h.client.workflow.list({ query: `SkillName = "probe-parallel" AND WorkflowId = "${workflowId}"` })) out.push(w);
        return out.length === 1 && out[0]!.status.name === 'COMPLETED' ? out : undefined;
      },
      'the run in SQL visibility',
      15_000,
    );
    expect(listed[0]!.searchAttributes).toMatchObject({ SkillName: ['probe-parallel'], Gateway: ['credit-desk'] });
    expect(await rowsOf('temporal_visibility', 'executions_visibility', workflowId)).toHaveLength(1);
  });

  it('a run waiting for its approval survives a restart (SIGTERM) and a crash (SIGKILL) of the server and completes once', async () => {
    showLogsOnFailure();
    const label = `server-restart-${randomUUID().slice(0, 8)}`;
    const { workflowId, runId } = await waitingRun(label);
    const pid = server.pid;

    let t0 = Date.now();
    await server.restart();
    took['server restart (SIGTERM, start, namespace usable)'] = since(t0);
    expect(server.pid).not.toBe(pid);
    t0 = Date.now();
    // The worker reconnects by itself: the run answers its status query again.
    expect((await eventually(() => getRunStatus(world.h.client, workflowId), 'the status after the restart', 60_000)).state).toBe('awaiting-approval');
    took['after the restart: the run answers a query (worker reconnected)'] = since(t0);

    t0 = Date.now();
    await server.kill();
    took['server crash (SIGKILL, start, namespace usable)'] = since(t0);
    t0 = Date.now();
    await world.h.approve(workflowId, { approver: SUPERVISOR, decision: 'approve' });
    await completedOnce(workflowId, runId, label);
    took['after the crash: approval accepted and the run completed'] = since(t0);
  });

  it('PostgreSQL crashes and restarts under the server: the server recovers, a new run completes, the waiting one too', async () => {
    showLogsOnFailure();
    const label = `pg-restart-${randomUUID().slice(0, 8)}`;
    const { workflowId, runId } = await waitingRun(label);
    const pid = server.pid;

    let t0 = Date.now();
    await postgres.restart('immediate');
    took['PostgreSQL restart (immediate: a crash)'] = since(t0);
    t0 = Date.now();
    const fresh = `tserver-after-pg-${randomUUID()}`;
    // Starting may be refused while the server's connection pools find PostgreSQL again; the workflow id makes a retry safe.
    await eventually(
      () =>
        world.h.start(world.skills['probe-parallel']!, {}, { workflowId: fresh }).then(
          () => true,
          (err: Error) => {
            if (err.name === 'WorkflowExecutionAlreadyStartedError') return true;
            throw err;
          },
        ),
      'a run to start after the PostgreSQL restart',
      60_000,
      250,
    );
    took['after the PostgreSQL restart: a new run started'] = since(t0);
    expect((await waitForResult(world.h.client, fresh)).outputs).toMatchObject({ joined: 'left+right' });
    took['after the PostgreSQL restart: the new run completed'] = since(t0);
    expect(server.pid).toBe(pid);

    await world.h.approve(workflowId, { approver: SUPERVISOR, decision: 'approve' });
    await completedOnce(workflowId, runId, label);
  });
});
