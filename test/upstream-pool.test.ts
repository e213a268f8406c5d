import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import { UpstreamError, type UpstreamCallOptions } from '../gateway/upstream/types.js';
import type { Json } from '../src/contracts/json.js';
import { memoryAuditSink } from '../gateway/audit/memory.js';
import { openCredentials } from '../src/app/runtime/credentials.js';
import type { CoreBankingData } from '../demo/core-banking/server.js';
import { alive, descendants, procInfo } from './helpers/proc.js';
import { eventually } from './helpers/skill-harness.js';
import { testWorkspace } from './helpers/workspace.js';

const ws = testWorkspace({ servers: { nowhere: { url: 'http://127.0.0.1:9/mcp' } } });
const logs: string[] = [];
const pool = createUpstreamPool(ws.loaded, { log: (l) => logs.push(l) });
// The demo systems take only Skillgate's per-call tokens: every call here carries the loan clerk's.
const creds = await openCredentials(ws.loaded, { audit: memoryAuditSink() });
const CLERK = { user: { id: 'loan-clerk', roles: ['loan-clerk'], groups: [] }, agent: { id: 'credit-assistant' } };
const call = async (server: string, tool: string, args: { [k: string]: Json }, opts: UpstreamCallOptions = {}) => {
  const cred = await creds.service.forCall({ principal: CLERK, workspace: 'test', server, tool });
  return pool.callTool(server, tool, args, { ...opts, ...(cred ? { authorization: cred.authorization } : {}) });
};

afterAll(async () => {
  await pool.close();
  await creds.close();
  ws.cleanup();
});


describe('upstream pool', () => {
  it('lists the real tools of a stdio server', async () => {
    const tools = await pool.listTools('core-banking');
    expect(tools.map((t) => t.name).sort()).toEqual(
      ['cancel_credit', 'get_credit', 'get_customer', 'issue_credit', 'list_accounts', 'send_notice'].sort(),
    );
    expect(tools.find((t) => t.name === 'get_customer')?.annotations?.readOnlyHint).toBe(true);
  });

  it('reuses one connection (one child process) for many concurrent calls', async () => {
    const before = await childPids();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => call('credit-bureau', 'get_score', { customerId: 'C-1001' })),
    );
    expect(results.every((r) => (r.structuredContent as { score: number }).score === 780)).toBe(true);
    const after = await childPids();
    // credit-bureau adds exactly one child (or none if it was already connected).
    expect(after.length - before.length).toBeLessThanOrEqual(1);
    await Promise.all(Array.from({ length: 20 }, () => call('credit-bureau', 'get_score', { customerId: 'C-1004' })));
    expect((await childPids()).length).toBe(after.length);
  });

  it('returns isError results instead of throwing', async () => {
    const r = await call('core-banking', 'send_notice', { customerId: 'C-1003', subject: 'x', body: 'y' });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toContain('no postal address');
  });

  it('dedupes issue_credit by idempotency key, across a restart of the server', async () => {
    const meta = { 'dev.skillgate/idempotency-key': 'run-1/step/issue' };
    const a = await call('core-banking', 'issue_credit', { customerId: 'C-1001', amount: 100, termMonths: 12 }, { meta });
    const b = await call('core-banking', 'issue_credit', { customerId: 'C-1001', amount: 100, termMonths: 12 }, { meta });
    expect(b.structuredContent).toEqual(a.structuredContent);
    // A second pool = a new process reading the same state folder.
    const other = createUpstreamPool(ws.loaded, { log: () => {} });
    try {
      const cred = await creds.service.forCall({ principal: CLERK, workspace: 'test', server: 'core-banking', tool: 'issue_credit' });
      const c = await other.callTool('core-banking', 'issue_credit', { customerId: 'C-1001', amount: 100, termMonths: 12 }, { meta, authorization: cred!.authorization });
      expect(c.structuredContent).toEqual(a.structuredContent);
    } finally {
      await other.close();
    }
    const state = JSON.parse(readFileSync(join(ws.stateDir, 'core-banking.json'), 'utf8')) as CoreBankingData;
    expect(state.appliedKeys['run-1/step/issue']).toBe(1);
    expect(Object.values(state.credits).filter((c) => c.customerId === 'C-1001')).toHaveLength(1);
  });

  it('reconnects after the server process dies', async () => {

    await call('core-banking', 'get_customer', { customerId: 'C-1001' });
    const mine = (await childPids()).filter((p) => cmdline(p).includes('core-banking'));
    expect(mine.length).toBeGreaterThan(0);
    for (const p of mine) process.kill(p, 'SIGKILL');
    await eventually(() => mine.every((p) => !alive(p)), 'the killed server to be gone');
    // The call racing the death may fail as unavailable; the next one reconnects.
    const r = await call('core-banking', 'get_customer', { customerId: 'C-1001' }).catch(async (err: unknown) => {
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).retryable).toBe(true);
      return call('core-banking', 'get_customer', { customerId: 'C-1001' });
    });
    expect((r.structuredContent as { name: string }).name).toBe('Ada Lovelace');
  });

  it('classifies an unreachable HTTP server as retryable and an unknown server as not', async () => {
    const err = await pool.listTools('nowhere').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect((err as UpstreamError).retryable).toBe(true);
    const unknown = await call('ghost', 'x', {}).catch((e: unknown) => e);
    expect((unknown as UpstreamError).code).toBe('ERR_UPSTREAM_UNKNOWN_SERVER');
    expect((unknown as UpstreamError).retryable).toBe(false);
  });
});

/** Pids of this process's children that run demo servers. */
async function childPids(): Promise<number[]> {
  return descendants(process.pid)
    .filter((p) => p.ppid === process.pid && p.argv.join(' ').includes('demo/'))
    .map((p) => p.pid);
}

function cmdline(pid: number): string {
  return procInfo(pid)?.argv.join(' ') ?? '';
}
