/**
 * `skillgate run` and `skillgate approve` as a person uses them: the real CLI in a child
 * process, against the shared dev server (TEMPORAL_ADDRESS) and a worker on the workspace's
 * task queue.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGovernance, type Governance } from '../src/app/runtime/governance.js';
import { getRunStatus, waitForResult } from '../src/skills/runs.js';
import { eventually, ROOT, startHarness, type SkillHarness } from './helpers/skill-harness.js';
import { testWorkspace, type TestWorkspace } from './helpers/workspace.js';
import { approveWorkspace } from './helpers/catalog.js';
import { memoryAuditSink } from '../gateway/audit/memory.js';

let ws: TestWorkspace;
let h: SkillHarness;

let governance: Governance;

beforeAll(async () => {
  const taskQueue = `cli-${randomUUID()}`;
  ws = testWorkspace({
    temporal: { taskQueue },
    agents: { 'credit-assistant': { clientId: 'credit-assistant' } },
    gateways: { 'credit-desk': { agents: ['credit-assistant'], tools: ['core-banking.*', 'credit-bureau.*'], skills: ['credit-issuance'] } },
    policies: [join(ROOT, 'policies', '*.cedar')],
  });
  // testWorkspace parses its config in memory; the CLI reads it from the file.
  writeFileSync(ws.loaded.file, stringify(ws.loaded.config));
  // The CLI compiles skills against the approved tools: approve the workspace's servers.
  await approveWorkspace(ws.loaded.file);
  // The worker checks what the run-actions service decided, with the workspace's real policies.
  governance = await createGovernance(ws.loaded, { watch: false, audit: memoryAuditSink() });
  h = await startHarness(inject('temporalAddress'), ws.loaded, { taskQueue, authorizer: governance.authorizer });
});

afterAll(async () => {
  await h?.close();
  await governance?.close();
  ws?.cleanup();
});

const { SKILLGATE_USER: _ignored, ...env } = process.env;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src', 'app', 'cli', 'main.ts'), '--config', ws.loaded.file, ...args],
      { cwd: ROOT, env: { ...env, TEMPORAL_ADDRESS: inject('temporalAddress') }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('skillgate run / approve', () => {
  it('run --wait prints the outputs', async () => {
    const input = join(ws.dir, 'input.json');
    writeFileSync(input, JSON.stringify({ customerId: 'C-1001', amount: 1200 }));
    const r = await cli('run', 'credit-issuance', '--input', `@${input}`, '--wait', '--as', 'loan-clerk', '--agent', 'credit-assistant');
    expect(r.stderr).toContain('as loan-clerk (agent credit-assistant)');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ creditId: expect.stringMatching(/^CR-/), score: 780, approvedBy: null });
  });

  it('run refuses invalid inputs with every problem, before starting anything', async () => {
    const r = await cli('run', 'credit-issuance', '--input', '{"customerId":"X-1","amout":5}', '--as', 'loan-clerk');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('invalid inputs for skill credit-issuance:');
    expect(r.stderr).toContain('$.amount: is required');
    expect(r.stderr).toContain('$.amout: is not an input of this skill (did you mean "amount"?)');
    expect(r.stderr).toContain('$.customerId: must match pattern "^C-[0-9]{4}$"');
  });

  it('run --wait reports a failed run with its reason and exit 1', async () => {
    const r = await cli('run', 'credit-issuance', '--input', '{"customerId":"C-1002","amount":100}', '--wait');
    expect(r.code).toBe(1);
    // Without --as: the first user of the workspace, through the gateway's first agent.
    expect(r.stderr).toContain('as ceo (agent credit-assistant)');
    expect(r.stderr).toMatch(/run skill-credit-issuance-\S+ failed \(SkillFailed\): step "low_score" failed: Credit refused: the credit score 540/);
  });

  it('run is authorized like an agent call: a loan clerk may not start a credit above 10,000 EUR', async () => {
    const r = await cli('run', 'credit-issuance', '--input', '{"customerId":"C-1004","amount":20000}', '--as', 'loan-clerk');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('loan-clerk via credit-assistant on credit-desk: not permitted for this user (ERR_USER_NOT_PERMITTED');
    expect(r.stdout).toBe('');
  });

  it('a skill enabled on no gateway is refused with what to do', async () => {
    const r = await cli('run', 'account-review', '--input', '{}', '--as', 'ceo');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('skill "account-review" is enabled on no gateway');
    expect(r.stderr).toContain('gateways.<name>.skills');
  });

  it('approve goes through the same checks as over MCP: unknown user, no permission, four eyes; the credit officer approves', async () => {
    const own = await cli('run', 'credit-issuance', '--input', '{"customerId":"C-1004","amount":30000}', '--as', 'credit-officer');
    expect(own.code, own.stderr).toBe(0);
    await eventually(async () => (await getRunStatus(h.client, own.stdout.trim())).state === 'awaiting-approval', 'the pending approval');
    // The officer holds the approve permission (user.credit-officer.credit-skills): only the
    // four-eyes rule refuses this one.
    const self = await cli('approve', own.stdout.trim(), '--as', 'credit-officer');
    expect(self.code).toBe(1);
    expect(self.stderr).toContain('not permitted for this user (ERR_USER_NOT_PERMITTED: user: forbidden by user.four-eyes)');
    await cli('cancel', own.stdout.trim(), '--as', 'credit-officer');

    const started = await cli('run', 'credit-issuance', '--input', '{"customerId":"C-1004","amount":20000}', '--as', 'ceo');
    expect(started.code).toBe(0);
    const workflowId = started.stdout.trim();
    expect(workflowId).toMatch(/^skill-credit-issuance-[0-9a-f-]{36}$/);
    await eventually(async () => (await getRunStatus(h.client, workflowId)).state === 'awaiting-approval', 'the pending approval');

    const unknown = await cli('approve', workflowId, '--as', 'credit-oficer');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown user "credit-oficer"');
    expect(unknown.stderr).toContain('did you mean "credit-officer"?');

    const clerk = await cli('approve', workflowId, '--as', 'loan-clerk');
    expect(clerk.code).toBe(1);
    expect(clerk.stderr).toContain('not permitted for this user');

    const officer = await cli('approve', workflowId, '--as', 'credit-officer', '--comment', 'ok');
    expect(officer.code).toBe(0);
    expect(officer.stdout.trim()).toBe(`approved by credit-officer: ${workflowId}`);
    expect((await waitForResult(h.client, workflowId)).outputs).toMatchObject({ approvedBy: 'credit-officer', score: 820 });
    // Eight CLI processes, each loading the workspace: give a loaded 2-core machine time.
  }, 150_000);
});
