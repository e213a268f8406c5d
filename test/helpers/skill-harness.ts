/**
 * Everything a skill-run integration test needs, all real: a client and a worker on the
 * shared Temporal dev server (own task queue), the upstream pool of a test workspace, the
 * real compiler, and the run client (src/skills/runs.ts).
 */
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import type { Authorizer } from '../../gateway/authz/authorizer.js';
import { ALLOW_ALL, approveEverything, NO_DATA_LOSS } from './allow-all.js';
import { createRunAttestor, type RunAttestor } from '../../gateway/authz/run-attestation.js';
import { loadOrCreateRunKey } from '../../gateway/authz/run-key.js';
import type { Principal } from '../../src/contracts/principal.js';
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import { openCredentials } from '../../src/app/runtime/credentials.js';
import type { CredentialService } from '../../gateway/downstream/credentials.js';
import type { UpstreamPool } from '../../gateway/upstream/types.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { formatDiagnostic } from '../../src/shared/diagnostics.js';
import { createSkillWorker } from '../../src/temporal/worker.js';
import { fetchCatalog } from '../../src/skills/catalog.js';
import { compileOptions } from '../../src/skills/compile-all.js';
import { compileSkill } from '../../src/skills/compile.js';
import type { CompiledPlan } from '../../src/contracts/plan.js';
import { approveRun, getRunStatus, RunError, startSkillRun, waitForResult } from '../../src/skills/runs.js';
import type { ApprovalDecision, ApprovalRecord } from '../../src/contracts/run.js';
import { expect } from 'vitest';
import { memoryAuditSink } from '../../gateway/audit/memory.js';
import { type ProbeServer, startProbeServer } from './probe-server.js';
import { testWorkspace, type TestWorkspace } from './workspace.js';

// Failed runs are what many tests expect: keep the worker's per-run warnings out of the output.
try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // Already installed by another helper in this process.
}

export const ROOT = resolve(import.meta.dirname, '..', '..');
/** This part's fixture skills. */
export const FIXTURE_SKILLS = join(ROOT, 'test', 'fixtures', 'skills-runtime');

export const CLERK: Principal = { user: { id: 'loan-clerk', roles: ['loan-clerk'], groups: [] }, agent: { id: 'credit-assistant' } };

export { ALLOW_ALL };

export interface CompiledFixture {
  plan: CompiledPlan;
  hash: string;
}

export interface SkillHarness {
  client: Client;
  taskQueue: string;
  pool: UpstreamPool;
  /** The workspace's downstream credentials (the activities' trinary tokens and vault). */
  credentials: CredentialService;
  /** Compile a skill folder (absolute path) against the workspace's real servers; throws with every diagnostic. */
  compile(dir: string): Promise<CompiledFixture>;
  /** Signs starts and approvals under the workspace's run key (the worker verifies them). */
  attestor: RunAttestor;
  /** What the worker recorded (run started/ended, steps, decisions of the authorizer given). */
  audit: ReturnType<typeof memoryAuditSink>;
  /** Start a run of a compiled skill as `principal` (default: the loan clerk through credit-assistant). */
  start(skill: CompiledFixture, inputs: unknown, opts?: { principal?: Principal; workflowId?: string }): ReturnType<typeof startSkillRun>;
  /**
   * Decide as the run-actions service would, minus its authorization: the decision signed for
   * the pending step (or `stepId`) with the approver as given. Tests of the interpreter.
   */
  approve(workflowId: string, d: Omit<ApprovalDecision, 'attestation'> & { agent?: string }): Promise<ApprovalRecord>;
  close(): Promise<void>;
}

/**
 * Start the harness.
 * @param withWorker false to run no worker in this process (the crash test runs workers as child processes).
 */
export async function startHarness(
  address: string,
  loaded: LoadedConfig,
  opts: { withWorker?: boolean; taskQueue?: string; authorizer?: Authorizer } = {},
): Promise<SkillHarness> {
  const taskQueue = opts.taskQueue ?? `test-${randomUUID()}`;
  const attestor = createRunAttestor(loadOrCreateRunKey(loaded.path(loaded.config.stateDir)));
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const pool = createUpstreamPool(loaded, { log: () => {} });
  // What the runs record, kept for tests that look (the audit trail's own tests use the real store).
  const audit = memoryAuditSink();
  const credentials = await openCredentials(loaded, { audit });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;
  if (opts.withWorker !== false) {
    nativeConnection = await NativeConnection.connect({ address });
    worker = await createSkillWorker({ connection: nativeConnection, taskQueue, activities: createActivities({ pool, authorizer: opts.authorizer ?? ALLOW_ALL, attestor, catalog: approveEverything(pool), dataLoss: NO_DATA_LOSS, audit, credentials: credentials.service }), audit });
    running = worker.run();
  }
  let catalog: ReturnType<typeof fetchCatalog> | undefined;
  return {
    client,
    taskQueue,
    pool,
    credentials: credentials.service,
    attestor,
    audit,
    async compile(dir) {
      catalog ??= fetchCatalog(pool);
      const r = compileSkill(dir, await catalog, compileOptions(loaded));
      if (!r.plan || !r.hash) throw new Error(`fixture ${dir} does not compile:\n${r.diagnostics.map(formatDiagnostic).join('\n')}`);
      return { plan: r.plan, hash: r.hash };
    },
    async approve(workflowId, d) {
      const pending = await getRunStatus(client, workflowId).then(
        (st) => st.pendingApprovals,
        () => [],
      );
      const stepId = d.stepId ?? (pending.length === 1 ? pending[0]!.stepId : '');
      const attestation = await attestor.signApproval({
        workflowId,
        stepId,
        decision: d.decision,
        approver: { id: d.approver.id, roles: d.approver.roles, groups: [] },
        agent: d.agent ?? 'credit-assistant',
        gateway: 'credit-desk',
      });
      const { agent: _agent, ...decision } = d;
      return approveRun(client, workflowId, { ...decision, attestation });
    },
    start(skill, inputs, o = {}) {
      return startSkillRun(client, {
        attestor,
        plan: skill.plan,
        planHash: skill.hash,
        inputs,
        principal: o.principal ?? CLERK,
        workspace: loaded.config.workspace,
        gateway: 'credit-desk',
        taskQueue,
        ...(o.workflowId ? { workflowId: o.workflowId } : {}),
      });
    },
    async close() {
      if (worker) {
        worker.shutdown();
        await running;
      }
      await pool.close();
      await credentials.close();
      await nativeConnection?.close();
      await connection.close();
    },
  };
}

/** Poll `fn` until it returns a truthy value (or throw after `timeoutMs`). */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Event types of a workflow's history, in order (e.g. `ACTIVITY_TASK_SCHEDULED`). */
export async function historyEvents(client: Client, workflowId: string) {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

/** The name of the marker a local activity leaves in the history (sdk-core). */
export const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/**
 * The calls a run made, in history order: regular activities (`ActivityTaskScheduled`) and local
 * activities (their markers) — read-only steps run as local activities by default.
 */
export function callEvents(events: Awaited<ReturnType<typeof historyEvents>>) {
  return events.filter((e) => e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER);
}

/** The RunError a run ended with (fails the test if it succeeded or failed otherwise). */
export async function failureOf(client: Client, workflowId: string): Promise<RunError> {
  const err = await waitForResult(client, workflowId).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RunError);
  return err as RunError;
}

/** The probe MCP server, a workspace serving it, a harness with a worker, and fixture skills compiled against it. */
export interface ProbeWorld {
  probe: ProbeServer;
  ws: TestWorkspace;
  h: SkillHarness;
  skills: Record<string, CompiledFixture>;
  close(): Promise<void>;
}

/** Start a ProbeWorld with the fixture skills `names` (test/fixtures/skills-runtime) compiled. */
export async function startProbeWorld(temporalAddress: string, names: string[]): Promise<ProbeWorld> {
  const probe = await startProbeServer();
  const ws = testWorkspace({ servers: { probe: { url: probe.url } } });
  const h = await startHarness(temporalAddress, ws.loaded);
  const skills: Record<string, CompiledFixture> = {};
  for (const name of names) skills[name] = await h.compile(join(FIXTURE_SKILLS, name));
  return {
    probe,
    ws,
    h,
    skills,
    async close() {
      await h.close();
      await probe.close();
      ws.cleanup();
    },
  };
}
