/**
 * Records the histories of real runs of the fixture skills into test/histories/*.json, for
 * the replay test (test/replay.test.ts). Run it only when a new kind of run must be kept:
 *
 *   node --import tsx test/histories/record.ts [name…]
 *
 * Each recorded history is a run of the interpreter as it was when it was recorded; the
 * replay test proves that today's workflow code still replays it (docs/architecture.md,
 * "Changing workflows/"). Never re-record a history to make a failing replay pass: that
 * would hide exactly the break the test exists to catch.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { AuthzError, type Authorizer } from '../../gateway/authz/authorizer.js';
import { startEmbeddedTemporal } from '../../src/app/runtime/temporal.js';
import { resolveTemporalExecutable } from '../../src/app/runtime/temporal-binary.js';
import { createSkillWorker } from '../../src/temporal/worker.js';
import { approveRun, startSkillRunAndAnswer, waitForResult } from '../../src/skills/runs.js';
import { ALLOWED, approveEverything, NO_DATA_LOSS } from '../helpers/allow-all.js';
import { startProbeServer } from '../helpers/probe-server.js';
import { CLERK, FIXTURE_SKILLS, startHarness } from '../helpers/skill-harness.js';
import { ROOT, testWorkspace } from '../helpers/workspace.js';
import { follow, startMailWorld } from '../helpers/mail-world.js';
import type { SkillGateway } from '../helpers/gateway.js';
import type { RunStatus } from '../../src/contracts/run.js';

// (skill-harness installs the Temporal runtime with an ERROR-level logger.)



const OUT = import.meta.dirname;
const SUPERVISOR = { id: 'alice', roles: ['supervisor'] };

/** Allows everything until `revoked` is set; then refuses new actions (compensations still pass), like a revocation. */
let revoked = false;
const authorizer: Authorizer = {
  check(_req, opts) {
    if (revoked && !opts?.compensation) throw new AuthzError('ERR_USER_REVOKED', 'not permitted for this user', 'recorded revocation');
    return ALLOWED;
  },
  admit() {},
  canList: () => true,
};

const temporal = await startEmbeddedTemporal({ port: 0 });
const resolved = resolveTemporalExecutable();
const temporalCli = resolved.type === 'existing-path' ? resolved.path : 'temporal';
const probe = await startProbeServer();
const ws = testWorkspace({ servers: { probe: { url: probe.url } } });
const h = await startHarness(temporal.address, ws.loaded, { withWorker: false });
const native = await NativeConnection.connect({ address: temporal.address });
const worker = await createSkillWorker({ connection: native, taskQueue: h.taskQueue, activities: createActivities({ pool: h.pool, authorizer, attestor: h.attestor, catalog: approveEverything(h.pool), dataLoss: NO_DATA_LOSS, audit: h.audit, credentials: h.credentials }), audit: h.audit });
const running = worker.run();

const compiled = async (name: string) => h.compile(join(FIXTURE_SKILLS, name));
const settle = (id: string) => waitForResult(h.client, id).catch(() => undefined);
const waitingFor = async (id: string, step: string) => {
  for (let i = 0; i < 200; i++) {
    const st = await h.client.workflow.getHandle(id).query<{ pendingApprovals: Array<{ stepId: string }> }>('status').catch(() => undefined);
    if (st?.pendingApprovals.some((p) => p.stepId === step)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${id} never waited for ${step}`);
};

/** name → how to produce the run (returns its workflow id once it has ended). */
const RUNS: Record<string, () => Promise<string>> = {
  async sequential() {
    const handle = await h.start(await compiled('probe-saga'), { reason: 'recorded' }, { workflowId: `rec-sequential-${randomUUID()}` });
    await settle(handle.workflowId);
    return handle.workflowId;
  },
  async parallel() {
    const handle = await h.start(await compiled('probe-parallel'), {}, { workflowId: `rec-parallel-${randomUUID()}` });
    await settle(handle.workflowId);
    return handle.workflowId;
  },
  /**
   * A run under this stop's defaults: its read-only step runs as a local activity (a marker in
   * the history) between two side-effecting steps (regular activities).
   */
  async 'local-reads'() {
    const handle = await h.start(await compiled('read-crash'), {}, { workflowId: `rec-local-reads-${randomUUID()}` });
    await settle(handle.workflowId);
    return handle.workflowId;
  },
  async 'approval-granted'() {
    const handle = await h.start(await compiled('probe-approval'), { label: 'recorded' }, { workflowId: `rec-approval-${randomUUID()}` });
    await waitingFor(handle.workflowId, 'confirm');
    await approveRun(h.client, handle.workflowId, { approver: SUPERVISOR, decision: 'approve', comment: 'recorded' });
    await settle(handle.workflowId);
    return handle.workflowId;
  },
  async 'approval-rejected'() {
    const handle = await h.start(await compiled('probe-approval'), { label: 'recorded' }, { workflowId: `rec-rejected-${randomUUID()}` });
    await waitingFor(handle.workflowId, 'confirm');
    await approveRun(h.client, handle.workflowId, { approver: SUPERVISOR, decision: 'reject', comment: 'recorded' });
    await settle(handle.workflowId);
    return handle.workflowId;
  },
  async 'approval-timed-out'() {
    const handle = await h.start(await compiled('probe-approval-timeout'), {}, { workflowId: `rec-timeout-${randomUUID()}` });
    await settle(handle.workflowId);
    return handle.workflowId;
  },
  async cancelled() {
    const handle = await h.start(await compiled('probe-approval'), { label: 'recorded' }, { workflowId: `rec-cancelled-${randomUUID()}` });
    await waitingFor(handle.workflowId, 'confirm');
    await handle.cancel();
    await settle(handle.workflowId);
    return handle.workflowId;
  },
  async 'revoked-mid-run'() {
    const handle = await h.start(await compiled('probe-approval'), { label: 'recorded' }, { workflowId: `rec-revoked-${randomUUID()}` });
    await waitingFor(handle.workflowId, 'confirm');
    revoked = true;
    try {
      await approveRun(h.client, handle.workflowId, { approver: SUPERVISOR, decision: 'approve' });
      await settle(handle.workflowId);
    } finally {
      revoked = false;
    }
    return handle.workflowId;
  },
  /**
   * A synchronous caller's start (Update-with-Start of the `answer` update), answered when the
   * run waits for the approval; a second caller's answer update, answered at once (the run
   * still waits); then the approval, and the run completes.
   */
  async 'answer-update'() {
    const skill = await compiled('probe-approval');
    const workflowId = `rec-answer-${randomUUID()}`;
    const { answer } = await startSkillRunAndAnswer(h.client, {
      attestor: h.attestor,
      plan: skill.plan,
      planHash: skill.hash,
      inputs: { label: 'recorded' },
      principal: CLERK,
      workspace: ws.loaded.config.workspace,
      gateway: 'credit-desk',
      taskQueue: h.taskQueue,
      workflowId,
      waitMs: 20_000,
    });
    if (answer.state !== 'waiting') throw new Error(`expected the run to answer while waiting, got ${answer.state}`);
    const second = h.client.workflow.getHandle(workflowId).executeUpdate('answer');
    await h.approve(workflowId, { approver: SUPERVISOR, decision: 'approve', comment: 'recorded' });
    await second;
    await settle(workflowId);
    return workflowId;
  },
  /** reply-to-teacher-email waits for the parent's mail grant twice (read, then send) and completes. */
  async 'authorization-wait'() {
    const world = await startMailWorld({ outlook: true, temporalAddress: temporal.address, skillDirs: [join(ROOT, 'skills', 'reply-to-teacher-email')] });
    try {
      const { client } = await world.client('parent');
      const r = await client.callTool({ name: 'skill.reply-to-teacher-email', arguments: { teacher: 'rivera', child: 'Mia', reply: 'Dear Ms Rivera, Mia may join the museum visit on Friday. Kind regards, Pat' } });
      const run = (r.structuredContent as { run: { id: string } }).run;
      const handle = (world.t as SkillGateway).client.workflow.getHandle(run.id);
      for (let waits = 0; waits < 2; waits++) {
        let url: string | undefined;
        for (let i = 0; i < 200 && !url; i++) {
          const st = await handle.query<RunStatus>('status');
          url = st.pendingAuthorizations?.[0]?.url;
          if (!url) await new Promise((res) => setTimeout(res, 100));
        }
        if (!url) throw new Error('the run never waited for authorization');
        await follow(url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' });
        await new Promise((res) => setTimeout(res, 500));
      }
      await handle.result();
      return run.id;
    } finally {
      await world.close();
    }
  },
};

const wanted = process.argv.slice(2);
try {
  for (const [name, run] of Object.entries(RUNS)) {
    if (wanted.length && !wanted.includes(name)) continue;
    const id = await run();
    // The Temporal CLI's JSON is the format Temporal documents for replay tests (historyFromJSON reads it).
    const json = execFileSync(temporalCli, ['workflow', 'show', '--workflow-id', id, '--output', 'json', '--address', temporal.address], { encoding: 'utf8' });
    const file = join(OUT, `${name}.json`);
    writeFileSync(file, json.endsWith('\n') ? json : `${json}\n`);
    process.stdout.write(`recorded ${name}: ${id} (${(JSON.parse(json) as { events: unknown[] }).events.length} events) → ${file}\n`);
  }
} finally {
  worker.shutdown();
  await running;
  await native.close();
  await h.close();
  await probe.close();
  ws.cleanup();
  await temporal.close();
}
