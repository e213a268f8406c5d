/**
 * Approval timeouts on Temporal's time-skipping test server: a 24 h approval wait ends the run
 * cleanly (type ApprovalTimedOut, a clear reason, compensations done) in seconds of real time.
 * Real worker, real compiler, real demo servers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import type { CoreBankingData } from '../demo/core-banking/server.js';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import { type Credentials, openCredentials } from '../src/app/runtime/credentials.js';
let credentials: Credentials;
import type { UpstreamPool } from '../gateway/upstream/types.js';
import { formatDiagnostic } from '../src/shared/diagnostics.js';
import { projectTestServerPath } from '../src/app/runtime/temporal-binary.js';
import { createSkillWorker } from '../src/temporal/worker.js';
import { fetchCatalog } from '../src/skills/catalog.js';
import { compileOptions } from '../src/skills/compile-all.js';
import { compileSkill } from '../src/skills/compile.js';
import type { CompiledPlan } from '../src/contracts/plan.js';
import { RunError, waitForResult } from '../src/skills/runs.js';
import type { RunSkillInput } from '../src/contracts/run.js';
import { createRunAttestor, type RunAttestor } from '../gateway/authz/run-attestation.js';
import { loadOrCreateRunKey } from '../gateway/authz/run-key.js';
import { ALLOW_ALL, CLERK, FIXTURE_SKILLS, ROOT } from './helpers/skill-harness.js';
import { approveEverything, NO_DATA_LOSS } from './helpers/allow-all.js';
import { testWorkspace, type TestWorkspace } from './helpers/workspace.js';
import { memoryAuditSink } from '../gateway/audit/memory.js';

let env: TestWorkflowEnvironment;
let ws: TestWorkspace;
let pool: UpstreamPool;
let worker: Worker;
let running: Promise<void>;
let attestor: RunAttestor;
const taskQueue = 'approval-timeout';

beforeAll(async () => {
  const path = projectTestServerPath();
  if (!path) throw new Error('the time-skipping test server is missing (.tools/venv/bin/temporal-test-server): run npm install');
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
  ws = testWorkspace();
  pool = createUpstreamPool(ws.loaded, { log: () => {} });
  const audit = memoryAuditSink();
  credentials = await openCredentials(ws.loaded, { audit });
  attestor = createRunAttestor(loadOrCreateRunKey(ws.stateDir));
  worker = await createSkillWorker({ connection: env.nativeConnection, taskQueue, activities: createActivities({ pool, authorizer: ALLOW_ALL, attestor, catalog: approveEverything(pool), dataLoss: NO_DATA_LOSS, audit, credentials: credentials.service }), audit });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await pool?.close();
  await env?.teardown();
  ws?.cleanup();
});

async function compile(dir: string): Promise<{ plan: CompiledPlan; hash: string }> {
  const r = compileSkill(dir, await fetchCatalog(pool), compileOptions(ws.loaded));
  if (!r.plan || !r.hash) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return { plan: r.plan, hash: r.hash };
}

/** Start without search attributes: the time-skipping server does not know Skillgate's. */
async function run({ plan, hash }: { plan: CompiledPlan; hash: string }, inputs: RunSkillInput['inputs']): Promise<{ error: RunError; runId: string }> {
  const workflowId = `timeout-${plan.skill.name}-${Date.now()}`;
  const principal = CLERK;
  const attestation = await attestor.signRun({ workflowId, workspace: 'test', gateway: 'credit-desk', principal, planHash: hash, inputs });
  const input: RunSkillInput = { plan, planHash: hash, inputs, principal, workspace: 'test', gateway: 'credit-desk', attestation };
  const handle = await env.client.workflow.start('runSkill', { taskQueue, workflowId, args: [input] });
  const startedAt = Date.now();
  const error = await waitForResult(env.client, handle.workflowId).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunError);
  // 24 h of workflow time, a few seconds of real time.
  expect(Date.now() - startedAt).toBeLessThan(30_000);
  return { error: error as RunError, runId: handle.firstExecutionRunId };
}

describe('approval timeout (time-skipping server)', () => {
  it('credit-issuance above 10000 EUR with no decision in 24h ends with ApprovalTimedOut and a clear reason', async () => {
    const { error } = await run(await compile(join(ROOT, 'skills', 'credit-issuance')), { customerId: 'C-1004', amount: 50000, termMonths: 36 });
    expect(error.failureType).toBe('ApprovalTimedOut');
    expect(error.message).toBe('no approval from a credit-officer within 24h for step "officer_approval"');
    expect(error.extra.details).toEqual({ stepId: 'officer_approval', type: 'ApprovalTimedOut', compensated: [], compensationFailures: [] });
  });

  it('a timeout after a side effect compensates it before failing', async () => {
    const { error, runId } = await run(await compile(join(FIXTURE_SKILLS, 'credit-confirm')), { customerId: 'C-1001', amount: 700 });
    expect(error.failureType).toBe('ApprovalTimedOut');
    expect(error.message).toBe('no approval from a credit-officer within 24h for step "confirm"; compensated: issue');
    const bank = JSON.parse(readFileSync(join(ws.stateDir, 'core-banking.json'), 'utf8')) as CoreBankingData;
    const credit = Object.values(bank.credits).find((c) => c.idempotencyKey === `${runId}/step/issue`);
    expect(credit).toMatchObject({ status: 'cancelled', cancelReason: 'not confirmed by a credit officer' });
  });
});
