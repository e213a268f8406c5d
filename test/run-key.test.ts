/**
 * The run key and the attestations made under it: generated once per state folder (0600),
 * or given as a secret reference shared by every process of a workspace; statements bound to
 * exactly what was authorized.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRunAttestor } from '../gateway/authz/run-attestation.js';
import { decodeRunKey, loadOrCreateRunKey, runKeyFile } from '../gateway/authz/run-key.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { createGovernance } from '../src/app/runtime/governance.js';
import { ROOT } from './helpers/workspace.js';
import { memoryAuditSink } from '../gateway/audit/memory.js';

const dir = mkdtempSync(join(tmpdir(), 'skillgate-run-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const principal = { user: { id: 'ceo', roles: ['executive'], groups: [] }, agent: { id: 'credit-assistant' } };
const claims = { workflowId: 'wf-1', workspace: 'w', gateway: 'credit-desk', principal, planHash: 'sha256:abc', inputs: { amount: 5 } };

describe('the run key', () => {
  it('is generated once per state folder, readable by its owner only, and the same for every later load', () => {
    const state = join(dir, 'state-a');
    const a = loadOrCreateRunKey(state);
    const b = loadOrCreateRunKey(state);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(a.byteLength).toBe(32);
    expect(statSync(runKeyFile(state)).mode & 0o777).toBe(0o600);
  });

  it('refuses a short or non-base64url key without showing it', () => {
    expect(() => decodeRunKey('c2hvcnQ', 'runs.attestationKey')).toThrow('runs.attestationKey: the run key must be at least 32 bytes (5 given)');
    expect(() => decodeRunKey('not base64!', 'k')).toThrow(/^k: the run key must be base64url text$/);
  });

  it('can be a secret reference in skillgate.yaml, shared by two processes of a workspace', async () => {
    const key = randomBytes(32).toString('base64url');
    const file = join(dir, 'skillgate.yaml');
    const text = `workspace: w\npolicies: [${JSON.stringify(join(ROOT, 'policies', '*.cedar'))}]\nruns:\n  attestationKey: "\${env:SKILLGATE_TEST_RUN_KEY}"\n`;
    writeFileSync(file, text);
    process.env.SKILLGATE_TEST_RUN_KEY = key;
    try {
      const loaded = parseConfig(text, file);
      expect(loaded.config.runs.attestationKey).toBe('${env:SKILLGATE_TEST_RUN_KEY}');
      const gateway = await createGovernance(loaded, { watch: false, audit: memoryAuditSink() });
      const worker = await createGovernance(loaded, { watch: false, audit: memoryAuditSink() });
      try {
        const token = await gateway.attestor.signRun(claims);
        await expect(worker.attestor.verifyRun(token, claims)).resolves.toBeUndefined();
        // Another workspace's key does not verify it.
        await expect(createRunAttestor(randomBytes(32)).verifyRun(token, claims)).rejects.toMatchObject({ code: 'ERR_ATTESTATION_INVALID' });
      } finally {
        await gateway.close();
        await worker.close();
      }
    } finally {
      delete process.env.SKILLGATE_TEST_RUN_KEY;
    }
    const err = (() => {
      try {
        parseConfig(text, file);
      } catch (e) {
        return e as ConfigError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain('runs.attestationKey: environment variable SKILLGATE_TEST_RUN_KEY is not set');
  });
});

describe('attestations', () => {
  const attestor = createRunAttestor(randomBytes(32));

  it('a run attestation binds the workflow id, workspace, gateway, principal, plan and inputs', async () => {
    const token = await attestor.signRun(claims);
    await expect(attestor.verifyRun(token, claims)).resolves.toBeUndefined();
    const cases: Array<[string, Partial<typeof claims>, RegExp]> = [
      ['workflowId', { workflowId: 'wf-2' }, /another workflow id/],
      ['workspace', { workspace: 'other' }, /another workspace/],
      ['gateway', { gateway: 'hr-desk' }, /another gateway/],
      ['roles', { principal: { ...principal, user: { ...principal.user, roles: ['intern'] } } }, /another user or agent/],
      ['agent', { principal: { ...principal, agent: { id: 'coding-agent' } } }, /another user or agent/],
      ['plan', { planHash: 'sha256:def' }, /another plan/],
      ['inputs', { inputs: { amount: 50_000 } }, /another set of inputs/],
    ];
    for (const [field, changed, message] of cases) {
      await expect(attestor.verifyRun(token, { ...claims, ...changed }), field).rejects.toMatchObject({ code: 'ERR_ATTESTATION_MISMATCH', message: expect.stringMatching(message) });
    }
    await expect(attestor.verifyRun(undefined, claims)).rejects.toMatchObject({ code: 'ERR_ATTESTATION_MISSING' });
  });

  it('an approval attestation binds run, step and decision, names the approver, and is not a run attestation', async () => {
    const approval = await attestor.signApproval({ workflowId: 'wf-1', stepId: 'ok', decision: 'approve', approver: { id: 'officer', roles: ['credit-officer'], groups: [] }, agent: 'credit-assistant', gateway: 'credit-desk' });
    await expect(attestor.verifyApproval(approval, { workflowId: 'wf-1', stepId: 'ok', decision: 'approve' })).resolves.toMatchObject({
      approver: { id: 'officer', roles: ['credit-officer'] },
      agent: 'credit-assistant',
      gateway: 'credit-desk',
      id: expect.any(String),
    });
    await expect(attestor.verifyApproval(approval, { workflowId: 'wf-1', stepId: 'ok', decision: 'reject' })).rejects.toMatchObject({ code: 'ERR_ATTESTATION_MISMATCH' });
    // The two kinds of statement cannot stand in for each other.
    await expect(attestor.verifyRun(approval, claims)).rejects.toMatchObject({ code: 'ERR_ATTESTATION_INVALID' });
    const run = await attestor.signRun(claims);
    await expect(attestor.verifyApproval(run, { workflowId: 'wf-1', stepId: 'ok', decision: 'approve' })).rejects.toMatchObject({ code: 'ERR_ATTESTATION_INVALID' });
  });
});
