/**
 * No log line, audit field, history or export written during the test suite holds a raw
 * token. This file runs after every other one (vitest.config.ts: project "written",
 * groupOrder 1) and reads:
 *
 *  - the scans made of each test's temp folder just before the test deleted it
 *    (test/setup/token-watch.ts): logs, audit stores (SQLite files and their WALs), exports,
 *    Temporal databases, anything else;
 *  - the temp folders still there, the recorded histories in test/histories/, and every
 *    workflow history on the suite's Temporal server;
 *
 * for JWTs of any origin and for every token a test process signed (helpers/token-scan.ts).
 * It also runs its own session that tries to get a token written — into the log, the audit
 * trail and an export, through the paths that see tokens (a refused token, a token in the
 * query of an unknown path, a token in a body) — and scans it. Its scanner must find a token
 * planted on purpose, so it cannot pass by finding nothing.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../gateway/log.js';
import { exportAudit } from '../gateway/audit/export.js';
import { openWorkspaceAudit } from '../src/app/runtime/audit.js';
import { parseConfig } from '../src/config/load.js';
import { inject as injectRequest, startTestGateway } from './helpers/gateway.js';
import { type Finding, mintedTokens, scanPath, scanText } from './helpers/token-scan.js';
import { ROOT } from './helpers/workspace.js';

const suiteDir = process.env.SKILLGATE_SUITE_DIR;
const own = mkdtempSync(join(tmpdir(), 'written-'));
afterAll(() => rmSync(own, { recursive: true, force: true }));

const show = (f: Finding[]) => f.map((x) => `${x.file}: ${x.what} (${x.sample})`).join('\n');

describe('nothing the suite wrote holds a raw token', () => {
  it('the scanner finds a token planted in a log line, an SQLite page, a fragment and an encoded copy', async () => {
    const token = 'eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJpbnRlcm4iLCJhdWQiOiJodHRwOi8vMTI3LjAuMC4xL21jcC9oci1kZXNrIn0.c2lnbmF0dXJlLW9mLXRoaXMtdG9rZW4tZm9yLXRoZS1zY2FubmVyLXNlbGYtdGVzdA';
    expect(scanText('x.log', `{"msg":"refused","detail":"Bearer ${token}"}`, [])).toHaveLength(1);
    expect(scanText('x.db', `\u0000\u0013${token}\u0000`, [])).toHaveLength(1);
    const needles = [token, token.split('.')[1]!, token.split('.')[2]!].map((needle) => ({ needle, token }));
    expect(scanText('x.log', `payload only: ${token.split('.')[1]}`, needles).length).toBeGreaterThan(0);
    expect(scanText('x.log', `sig: ${token.split('.')[2]}`, needles).length).toBeGreaterThan(0);
    expect(scanText('x.log', `nothing here: sha256:0123456789abcdef`, needles)).toEqual([]);
    // A run attestation belongs in a history, nowhere else.
    const attestation = `${Buffer.from('{"alg":"HS256","typ":"skillgate-run+jwt"}').toString('base64url')}.eyJ3b3JrZmxvd0lkIjoieCJ9.c2lnbmF0dXJlc2lnbmF0dXJl`;
    expect(scanText('history.json', attestation, [])).toEqual([]);
    expect(scanText('x.log', attestation, [])).toHaveLength(1);
  });

  it('its own session: refused tokens, a token in a query and in a body, calls, the audit trail and its export', async () => {
    const log = createLogger({ destination: join(own, 'logs', 'skillgate.log') });
    const auditConfig = join(own, 'audit.yaml');
    writeFileSync(auditConfig, 'workspace: test\nstateDir: state\npolicies: []\nstorage: { file: skillgate.db }\n');
    const audit = await openWorkspaceAudit(parseConfig(readFileSync(auditConfig, 'utf8'), auditConfig));
    const t2 = await startTestGateway({ audit: audit.log });
    const mine: string[] = [];
    try {
      const good = await t2.token('intern', 'hr-assistant', 'hr-desk');
      const wrongAudience = await t2.token('intern', 'hr-assistant', 'dev-tools');
      const expired = await t2.gw.idp!.mintToken({ user: 'intern', agent: 'hr-assistant', audience: t2.gw.resourceUrl('hr-desk'), ttlSec: 1, iat: Math.floor(Date.now() / 1000) - 3600 });
      mine.push(good, wrongAudience, expired);
      const post = (token: string, path = '/mcp/hr-desk', body: unknown = { jsonrpc: '2.0', id: 1, method: 'tools/list' }) =>
        injectRequest(t2, { method: 'POST', path, headers: { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream' }, body });
      expect((await post(wrongAudience)).status).toBe(401);
      expect((await post(expired)).status).toBe(401);
      expect((await post('not-a-jwt')).status).toBe(401);
      expect((await injectRequest(t2, { method: 'GET', path: `/nope?access_token=${good}` })).status).toBe(404);
      expect((await injectRequest(t2, { method: 'POST', path: `/mcp/hr-desk?access_token=${good}`, body: {} })).status).toBe(400);
      expect((await injectRequest(t2, { method: 'POST', path: '/mcp/hr-desk', headers: { accept: 'application/json, text/event-stream' }, body: { access_token: good, jsonrpc: '2.0', id: 1, method: 'tools/list' } })).status).toBe(400);
      const intern = await t2.connect('intern', 'hr-assistant', 'hr-desk');
      await intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'intern' } });
      await intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'ceo', note: 'not a token' } });
      for (const line of t2.logs) log.logger.warn(line.msg, line);
      await audit.log.checkpoint();
      const lines: string[] = [];
      await exportAudit(audit.store, { workspace: 'test' }, (l) => void lines.push(l));
      writeFileSync(join(own, 'export.jsonl'), lines.join(''));
      expect(lines.length).toBeGreaterThan(8);
      log.flush();
    } finally {
      await t2.close();
      await audit.close();
    }
    const tokens = [...mine, ...(suiteDir ? mintedTokens(suiteDir) : [])];
    const report = scanPath(own, tokens);
    expect(report.kinds).toMatchObject({ log: 1, store: expect.any(Number), export: 1 });
    expect(show(report.findings)).toBe('');
  });

  it('in everything the suite wrote, and in every workflow history it left', async () => {
    if (!suiteDir || !existsSync(join(suiteDir, 'scans.jsonl'))) {
      // Run alone (no suite before it): the session above is all there is to scan.
      expect(suiteDir === undefined || !existsSync(join(suiteDir, 'temporal-address'))).toBe(true);
      return;
    }
    const tokens = mintedTokens(suiteDir);
    expect(tokens.length).toBeGreaterThan(0);
    const scans = readFileSync(join(suiteDir, 'scans.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { dir: string; files?: number; kinds?: Record<string, number>; findings?: Finding[]; error?: string });
    const findings: Finding[] = scans.flatMap((s) => s.findings ?? []);
    expect(scans.filter((s) => s.error)).toEqual([]);
    const kinds: Record<string, number> = {};
    for (const s of scans) for (const [k, n] of Object.entries(s.kinds ?? {})) kinds[k] = (kinds[k] ?? 0) + n;
    // What was looked at (the whole suite: dozens of logs, audit stores, Temporal databases).
    expect(scans.length).toBeGreaterThan(0);

    // What is still there: temp folders this suite left (not older ones of other runs on the
    // same machine: bounded by the suite's start), the recorded histories.
    const suiteStarted = statSync(join(suiteDir, 'temporal-address')).mtimeMs - 60_000;
    for (const e of readdirSync(tmpdir())) {
      const p = join(tmpdir(), e);
      if (!e.startsWith('skillgate-')) continue;
      const st = statSync(p);
      if (st.isDirectory() && st.mtimeMs >= suiteStarted) findings.push(...scanPath(p, tokens).findings);
    }
    findings.push(...scanPath(join(ROOT, 'test', 'histories'), tokens).findings);

    // Every workflow history on the suite's Temporal server (attestations are allowed there).
    const connection = await Connection.connect({ address: readFileSync(join(suiteDir, 'temporal-address'), 'utf8') });
    try {
      const client = new Client({ connection });
      let histories = 0;
      for await (const wf of client.workflow.list()) {
        const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        findings.push(...scanText(`histories/${wf.workflowId}.json`, JSON.stringify(history), tokens.map((token) => ({ needle: token, token }))));
        histories++;
      }
      console.log(`scanned ${scans.length} test folders (${JSON.stringify(kinds)}), ${histories} workflow histories, against ${tokens.length} minted tokens`);
    } finally {
      await connection.close();
    }
    expect(show(findings)).toBe('');
  }, 300_000);
});
