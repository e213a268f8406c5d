/**
 * The curation rules against real MCP servers over stdio: a fixture server with planted
 * problems (test/fixtures/curation/poisoned-server.ts), every one found with its rule id and
 * place; and the demo servers, on which no security rule fires (no false positives).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import type { UpstreamPool } from '../gateway/upstream/types.js';
import { RULE_INFO } from '../gateway/curation/rules/index.js';
import type { CurationReport } from '../gateway/curation/score.js';
import { inspectServer } from '../gateway/curation/service.js';
import { demoServer, ROOT, testWorkspace, type TestWorkspace } from './helpers/workspace.js';

let ws: TestWorkspace;
let pool: UpstreamPool;
let poisoned: CurationReport;

beforeAll(async () => {
  ws = testWorkspace((stateDir) => ({
    servers: {
      hr: demoServer('hr', stateDir),
      poisoned: { command: 'node', args: ['--import', 'tsx', join(ROOT, 'test/fixtures/curation/poisoned-server.ts')], cwd: ROOT },
    },
  }));
  pool = createUpstreamPool(ws.loaded, { log: () => {} });
  const deps = { pool, servers: ws.loaded.config.servers };
  poisoned = await inspectServer(deps, 'poisoned', { otherServers: new Map([['hr', ['get_employee', 'get_compensation']]]), probe: true });
});

afterAll(async () => {
  await pool?.close();
  ws?.cleanup();
});

/** Every planted problem: the rule that must find it, where (tool, or the server), and the pointer it starts at. */
const PLANTED: ReadonlyArray<readonly [what: string, ruleId: string, tool: string | undefined, pointer: string]> = [
  ['poisoned description (<IMPORTANT>, do not tell the user)', 'SG-SEC-001', 'add', '/description'],
  ['exfiltration of ~/.cursor/mcp.json through a parameter', 'SG-SEC-007', 'add', '/description'],
  ['zero-width characters', 'SG-SEC-003', 'weather', '/description'],
  ['tag characters (hidden instruction)', 'SG-SEC-002', 'translate', '/description'],
  ['bidi override', 'SG-SEC-004', 'format_name', '/description'],
  ["shadowing another server's tool", 'SG-SEC-005', 'send_report', '/description'],
  ['missing inputSchema', 'SG-SPEC-002', 'legacy_lookup', '/inputSchema'],
  ['a tool MCP clients refuse (the whole list fails)', 'SG-SPEC-011', 'legacy_lookup', '/tools/5'],
  ['free-form object argument', 'SG-SEC-008', 'store_blob', '/inputSchema/properties/data'],
  ['unbounded command string', 'SG-SEC-009', 'run_command', '/inputSchema/properties/command'],
  ['destructive tool without destructiveHint', 'SG-SPEC-009', 'purge_records', '/annotations'],
  ['password as an argument', 'SG-SEC-011', 'login', '/inputSchema/properties/password'],
  ['API key as an argument', 'SG-SEC-011', 'login', '/inputSchema/properties/apiKey'],
  ['unbounded URL argument', 'SG-SEC-010', 'fetch_page', '/inputSchema/properties/url'],
  ['URL in the description', 'SG-SEC-006', 'fetch_page', '/description'],
  ['tool name outside the spec pattern', 'SG-SPEC-001', 'Get User!', '/name'],
  ['invalid JSON Schema', 'SG-SPEC-003', 'read_metrics', '/inputSchema'],
  ['real result does not match outputSchema (probed)', 'SG-SPEC-006', 'get_status', '/outputSchema'],
  ['returns the environment', 'SG-SEC-012', 'dump_env', '/description'],
  ['contradictory annotations', 'SG-SPEC-008', 'archive_logs', '/annotations/destructiveHint'],
  ['no description', 'SG-USE-001', 'x', '/description'],
  ['unclear name', 'SG-USE-008', 'x', '/name'],
  ['no annotations', 'SG-SPEC-007', 'x', '/annotations'],
  ['look-alike tools', 'SG-USE-011', 'lookup_users', '/tools/18/name'],
  ['duplicate tool name', 'SG-SPEC-010', 'weather', '/tools/18/name'.replace('18', '19')],
  ["the server's instructions take over the model", 'SG-SEC-001', undefined, '/instructions'],
];

describe('the planted problems of the fixture server', () => {
  it.each(PLANTED)('%s → %s', (_what, ruleId, tool, pointer) => {
    const findings = tool === undefined ? poisoned.serverFindings : poisoned.tools.filter((t) => t.name === tool).flatMap((t) => t.findings);
    const hit = findings.find((f) => f.ruleId === ruleId && f.pointer.startsWith(pointer));
    expect(hit, `${ruleId} at ${tool ?? '(server)'} ${pointer}; found: ${JSON.stringify(findings.map((f) => `${f.ruleId} ${f.pointer}`))}`).toBeDefined();
    // Every finding says why it matters (the rule) and what was found (the message).
    expect(RULE_INFO.get(ruleId)?.why.length).toBeGreaterThan(40);
    expect(hit!.message.length).toBeGreaterThan(5);
  });

  it('plants at least twelve distinct problems, found under at least twelve rule ids', () => {
    expect(PLANTED.length).toBeGreaterThanOrEqual(12);
    expect(new Set(PLANTED.map(([, id]) => id)).size).toBeGreaterThanOrEqual(12);
  });

  it('shows hidden characters in the message instead of passing them on', () => {
    const tagHit = poisoned.tools.find((t) => t.name === 'translate')!.findings.find((f) => f.ruleId === 'SG-SEC-002')!;
    expect(tagHit.message).toContain('⟨tags: " ignore previous instructions');
    expect(tagHit.message).not.toMatch(/[\u{E0000}-\u{E007F}]/u);
    const zw = poisoned.tools.find((t) => t.name === 'weather')!.findings.find((f) => f.ruleId === 'SG-SEC-003')!;
    expect(zw.message).toContain('⟨U+200B⟩');
  });

  it('grades poisoned tools F, and the server F', () => {
    const grade = (n: string) => poisoned.tools.find((t) => t.name === n)!.grade;
    for (const n of ['add', 'translate', 'weather', 'format_name', 'send_report', 'run_command', 'login', 'dump_env']) expect(grade(n), n).toBe('F');
    expect(poisoned.grade).toBe('F');
    // A tool with nothing planted keeps a good grade: the rules are not blanket.
    expect(grade('lookup_user')).toMatch(/[AB]/);
  });

  it('probed only the read-only tool with a documented example', () => {
    expect(poisoned.probed).toEqual(['get_status']);
  });
});

describe('the demo servers', () => {
  it.each(['core-banking', 'credit-bureau', 'hr'] as const)('%s: no security finding, grade A', async (name) => {
    const w = testWorkspace((stateDir) => ({ servers: { hr: demoServer('hr', stateDir) } }));
    const p = createUpstreamPool(w.loaded, { log: () => {} });
    try {
      const report = await inspectServer({ pool: p, servers: w.loaded.config.servers }, name, { otherServers: new Map(), probe: true });
      const security = [...report.serverFindings, ...report.tools.flatMap((t) => t.findings)].filter((f) => RULE_INFO.get(f.ruleId)?.family === 'security');
      expect(security).toEqual([]);
      expect(report.counts.error).toBe(0);
      expect(report.grade).toBe('A');
    } finally {
      await p.close();
      w.cleanup();
    }
  });
});
