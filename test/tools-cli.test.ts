/**
 * `skillgate tools` as an analyst runs it: the real CLI in a child process, a temp
 * skillgate.yaml whose servers are the demo MCP servers (run from source with tsx) and one
 * that is down.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ServerListing } from '../src/app/cli/tools.js';

const ROOT = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'skillgate-tools-'));
const state = join(tmp, 'state');
const demo = (name: string) => ({ command: 'node', args: ['--import', 'tsx', join(ROOT, 'demo', name, 'main.ts'), '--state', state], cwd: ROOT });
const configFile = join(tmp, 'skillgate.yaml');
writeFileSync(
  configFile,
  stringify({
    workspace: 'tools-test',
    stateDir: state,
    servers: {
      'core-banking': demo('core-banking'),
      'credit-bureau': demo('credit-bureau'),
      // Port 9 (discard) never answers MCP: this server is unreachable.
      ledger: { url: 'http://127.0.0.1:9/mcp' },
    },
  }),
);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/app/cli/main.ts', '--config', configFile, ...args],
      { cwd: ROOT, timeout: 60_000, env: { ...process.env, SKILLGATE_CONFIG: '' } },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe('skillgate tools', () => {
  it("lists every server's tools with arguments, output fields and annotations, and reports the unreachable one (exit 1)", async () => {
    const r = await cli('tools');
    expect(r.code, r.stderr).toBe(1);
    const out = r.stdout;
    expect(out).toContain('core-banking: 6 tools');
    expect(out).toContain('credit-bureau: 1 tool');
    expect(out).toMatch(/^ {2}core-banking\.issue_credit — Issue credit {2}\[changes state\]$/m);
    expect(out).toMatch(/^ {2}credit-bureau\.get_score — Get credit score {2}\[read-only\]$/m);
    expect(out).toMatch(/^ {6}termMonths\* +integer +1\.\.120 — Duration in months$/m);
    expect(out).toMatch(/^ {6}accounts\[\]\.balance +number$/m);
    expect(out).toMatch(/^ {6}segment +"retail" \| "private" \| "business"$/m);
    expect(out).toContain('annotations: readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false');
    expect(out).toMatch(/^ledger: unreachable — .+$/m);
    expect(out).toContain('hint: start it, or fix servers.ledger in skillgate.yaml');
  });

  it('gives one server as JSON with --json', async () => {
    const r = await cli('tools', 'core-banking', '--json');
    expect(r.code, r.stderr).toBe(0);
    const { servers } = JSON.parse(r.stdout) as { servers: ServerListing[] };
    expect(servers.map((s) => s.server)).toEqual(['core-banking']);
    const listing = servers[0]!;
    if ('error' in listing) throw new Error(listing.error);
    const issue = listing.tools.find((t) => t.name === 'issue_credit')!;
    expect(issue).toMatchObject({ ref: 'core-banking.issue_credit', title: 'Issue credit', readOnly: false, annotations: { readOnlyHint: false, idempotentHint: true } });
    expect(issue.arguments).toEqual([
      { name: 'customerId', type: 'string', required: true, description: 'Customer id, e.g. "C-1001"', constraints: 'pattern ^C-\\d{4}$' },
      { name: 'amount', type: 'number', required: true, description: 'Amount in EUR', constraints: '<= 1000000, > 0' },
      { name: 'termMonths', type: 'integer', required: true, description: 'Duration in months', constraints: '1..120' },
    ]);
    expect(issue.output?.map((f) => `${f.path}: ${f.type}`)).toEqual(['creditId: string', 'customerId: string', 'amount: number', 'termMonths: integer', 'status: "active" | "cancelled"']);
    expect(issue.inputSchema.type).toBe('object');
    expect(listing.tools.find((t) => t.name === 'get_customer')?.readOnly).toBe(true);
  });

  it('reports an unreachable server asked for by name, as JSON too, without a crash', async () => {
    const r = await cli('tools', 'ledger', '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('    at ');
    const { servers } = JSON.parse(r.stdout) as { servers: ServerListing[] };
    expect(servers).toHaveLength(1);
    expect(servers[0]).toMatchObject({ server: 'ledger', error: expect.any(String) as unknown });
  });

  it('refuses a server that is not configured, with did-you-mean', async () => {
    const r = await cli('tools', 'core-bankin');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('skillgate: unknown server "core-bankin" (did you mean "core-banking"?)');
    expect(r.stderr).toContain('servers in');
  });
});
