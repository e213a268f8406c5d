/**
 * The skill compiler against a hand-built tool catalog (the demo servers' tools written out
 * as MCP Tool objects; test/validate-cli.test.ts runs the same fixtures against the real
 * servers). Pure: no server is started here.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic, sortDiagnostics } from '../src/shared/diagnostics.js';
import { catalogOf, fetchCatalog, type ToolCatalog } from '../src/skills/catalog.js';
import { type CompileOptions, compileSkill } from '../src/skills/compile.js';
import { canonicalJson, contentHash } from '../src/shared/canonical-json.js';
import { findSkillDirs, referencedServers } from '../src/skills/load.js';
import type { ToolStep } from '../src/contracts/plan.js';
import { ajv } from '../src/shared/json-schema.js';
import { renderTemplate } from '../src/pure/expressions.js';
import type { UpstreamPool } from '../gateway/upstream/types.js';
import { PLANTED } from './fixtures/bad-skills/expected.js';

const ROOT = resolve(import.meta.dirname, '..');
const BAD = join(ROOT, 'test', 'fixtures', 'bad-skills');
const GOOD = join(ROOT, 'test', 'fixtures', 'good-skills');

const customerId = { type: 'string', pattern: '^C-\\d{4}$', description: 'Customer id, e.g. "C-1001"' };
function tool(name: string, properties: Record<string, object>, readOnly: boolean): Tool {
  return {
    name,
    inputSchema: { type: 'object', properties, required: Object.keys(properties), $schema: 'http://json-schema.org/draft-07/schema#' },
    annotations: { readOnlyHint: readOnly },
  };
}

/** The demo servers' tools, as they list them. */
const DEMO_TOOLS: Record<string, Tool[]> = {
  'core-banking': [
    tool('get_customer', { customerId }, true),
    tool('list_accounts', { customerId }, true),
    tool(
      'issue_credit',
      {
        customerId,
        amount: { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000, description: 'Amount in EUR' },
        termMonths: { type: 'integer', minimum: 1, maximum: 120, description: 'Duration in months' },
      },
      false,
    ),
    tool('cancel_credit', { creditId: { type: 'string' }, reason: { type: 'string', minLength: 1, maxLength: 500 } }, false),
    tool('get_credit', { creditId: { type: 'string' } }, true),
    tool('send_notice', { customerId, subject: { type: 'string', minLength: 1, maxLength: 200 }, body: { type: 'string', minLength: 1, maxLength: 5000 } }, false),
  ],
  'credit-bureau': [tool('get_score', { customerId }, true)],
};

function demoCatalog(extra: ToolCatalog = new Map()): ToolCatalog {
  return new Map([...catalogOf(DEMO_TOOLS), ...extra]);
}

const OPTS: CompileOptions = { defaultStepTimeoutMs: 30_000, defaultApprovalTimeoutMs: 24 * 3_600_000 };

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** A skill folder in a temp dir; `plan: undefined` leaves plan.yaml out. */
function tempSkill(name: string, skillMd: string, plan?: string): string {
  const root = mkdtempSync(join(tmpdir(), 'skillgate-compiler-'));
  temps.push(root);
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'SKILL.md'), skillMd);
  if (plan !== undefined) writeFileSync(join(dir, 'plan.yaml'), plan);
  return dir;
}

const MINIMAL_PLAN = `inputs:
  type: object
  properties:
    customerId: { type: string }
steps:
  - id: customer
    tool: core-banking.get_customer
    with:
      customerId: \${{ inputs.customerId }}
`;

describe('bad skills: every planted error, in one pass', () => {
  const found = findSkillDirs([BAD]);
  const catalog = demoCatalog(new Map([['ledger', { error: 'connect ECONNREFUSED 127.0.0.1:9' }]]));
  const results = found.dirs.map((d) => compileSkill(d, catalog, { ...OPTS, display: (f) => relative(BAD, f) }));
  const diagnostics = sortDiagnostics(results.flatMap((r) => r.diagnostics));

  it('finds all eight broken skills and compiles none of them', () => {
    expect(found.diagnostics).toEqual([]);
    expect(results.map((r) => r.name)).toEqual(['cycles', 'expressions', 'frontmatter-rules', 'mismatched-folder', 'schemas', 'structure', 'tools', 'yaml-errors']);
    for (const r of results) {
      expect(r.plan, r.name).toBeUndefined();
      expect(r.hash, r.name).toBeUndefined();
    }
  });

  it('reports exactly the planted errors at their file:line:col with their rule code', () => {
    const got = diagnostics.map((d) => [d.file, d.line, d.col, d.code].join(':'));
    const want = PLANTED.map(([file, line, col, code]) => [file, line, col, code].join(':'));
    expect(got.sort()).toEqual(want.sort());
  });

  it('gives did-you-mean hints where a near name exists', () => {
    const hintAt = (file: string, line: number, code: string) => diagnostics.find((d) => d.file === file && d.line === line && d.code === code)?.hint;
    expect(hintAt('structure/plan.yaml', 5, 'unknown-key')).toBe('did you mean "outputs"?');
    expect(hintAt('structure/plan.yaml', 41, 'unknown-key')).toBe('did you mean "attempts"?');
    expect(hintAt('structure/plan.yaml', 46, 'unknown-key')).toBe('did you mean "role"?');
    expect(hintAt('structure/plan.yaml', 79, 'unknown-key')).toBe('did you mean "description"?');
    expect(hintAt('structure/plan.yaml', 14, 'step-id-invalid')).toContain('"low_score"');
    expect(hintAt('frontmatter-rules/SKILL.md', 4, 'unknown-key')).toBe('did you mean "license"?');
    expect(hintAt('frontmatter-rules/SKILL.md', 5, 'unknown-key')).toContain('metadata');
    expect(hintAt('frontmatter-rules/SKILL.md', 2, 'name-invalid')).toContain('"frontmatter-rules"');
    expect(hintAt('tools/plan.yaml', 8, 'unknown-server')).toBe('did you mean "core-banking"?');
    expect(hintAt('tools/plan.yaml', 13, 'unknown-tool')).toBe('did you mean "core-banking.list_accounts"?');
    expect(hintAt('tools/plan.yaml', 20, 'unknown-argument')).toBe('did you mean "customerId"?');
    expect(hintAt('expressions/plan.yaml', 17, 'unknown-input')).toBe('did you mean "inputs.customerId"?');
    expect(hintAt('expressions/plan.yaml', 21, 'unknown-step')).toBe('did you mean "steps.score"?');
    expect(hintAt('expressions/plan.yaml', 29, 'unknown-step')).toBe('did you mean "issue"?');
    expect(hintAt('schemas/plan.yaml', 3, 'unknown-key')).toBe('did you mean "required"?');
    expect(hintAt('schemas/plan.yaml', 6, 'schema-invalid')).toBe('did you mean "string"?');
  });

  it('says where and why in the messages', () => {
    const message = (file: string, line: number, code: string) => diagnostics.find((d) => d.file === file && d.line === line && d.code === code)?.message;
    expect(message('cycles/plan.yaml', 9, 'dependency-cycle')).toBe('dependency cycle: first → second → first');
    expect(message('cycles/plan.yaml', 22, 'dependency-cycle')).toBe('dependency cycle: approve → score → approve');
    expect(message('expressions/plan.yaml', 23, 'later-step')).toContain('defined below (line 27)');
    expect(message('structure/plan.yaml', 17, 'step-id-duplicate')).toContain('first defined at line 8');
    expect(message('structure/plan.yaml', 8, 'step-id-duplicate')).toContain('used again at line 17');
    expect(message('tools/plan.yaml', 37, 'server-unreachable')).toContain('ECONNREFUSED');
    expect(message('tools/plan.yaml', 27, 'argument-invalid')).toContain('must be <= 120');
    const cycleHint = diagnostics.find((d) => d.file === 'cycles/plan.yaml' && d.line === 22)?.hint;
    expect(cycleHint).toContain('written above it');
    expect(formatDiagnostic(diagnostics.find((d) => d.code === 'unknown-tool')!)).toMatch(
      /^tools\/plan\.yaml:13:11: server "core-banking" has no tool "list_acounts"\n {4}hint: did you mean "core-banking\.list_accounts"\?  \[unknown-tool\]$/,
    );
  });
});

describe('good skills', () => {
  const catalog = demoCatalog();

  it('compiles the fixture with the dependency rule, defaults and annotations applied', () => {
    const r = compileSkill(join(GOOD, 'gated-credit'), catalog, OPTS);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
    const plan = r.plan!;
    expect(plan.apiVersion).toBe('skillgate/v1');
    expect(plan.skill).toEqual({ name: 'gated-credit', description: expect.stringContaining('Test fixture') as unknown, version: '2.1.0' });
    const deps = Object.fromEntries(plan.steps.map((s) => [s.id, s.dependsOn]));
    expect(deps).toEqual({
      customer: [],
      score: [],
      refuse: ['score'],
      accounts: ['customer', 'refuse'],
      // A tool step with an approval is not a gate: `confirm` below waits for it only through `needs:`.
      issue: ['refuse'],
      confirm: ['refuse', 'issue'],
      notice: ['customer', 'refuse', 'issue', 'confirm'],
    });
    expect(plan.steps.map((s) => s.kind)).toEqual(['tool', 'tool', 'fail', 'tool', 'tool', 'approval', 'tool']);

    const step = (id: string) => plan.steps.find((s) => s.id === id)!;
    const customer = step('customer') as ToolStep;
    expect(customer.readOnly).toBe(true);
    expect(customer.timeoutMs).toBe(30_000);
    expect(customer.retry).toEqual({
      maximumAttempts: 3,
      initialIntervalMs: 1000,
      backoffCoefficient: 2,
      maximumIntervalMs: 30_000,
      nonRetryableErrorTypes: ['ToolError', 'UnknownTool', 'UpstreamProtocolError'],
    });
    expect(customer.with).toEqual({ kind: 'object', entries: { customerId: { kind: 'expr', expr: 'inputs.customerId' } } });
    expect(customer.line).toBe(9);

    const score = step('score') as ToolStep;
    expect(score.timeoutMs).toBe(5000);
    expect(score.retry).toEqual({
      maximumAttempts: 5,
      initialIntervalMs: 200,
      backoffCoefficient: 1.5,
      maximumIntervalMs: 2000,
      nonRetryableErrorTypes: ['ToolError', 'UnknownTool', 'UpstreamProtocolError', 'NotPermitted'],
    });

    const refuse = step('refuse');
    expect(refuse.if).toBe('steps.score.output.score < 600');
    expect(refuse.kind === 'fail' && refuse.message).toEqual({ kind: 'interp', parts: ['Refused: score ', { expr: 'steps.score.output.score' }] });

    const issue = step('issue') as ToolStep;
    expect(issue.readOnly).toBe(false);
    expect(issue.approval).toEqual({
      role: 'credit-officer',
      timeoutMs: 24 * 3_600_000,
      message: { kind: 'interp', parts: ['Approve ', { expr: 'inputs.amount' }, ' EUR?'] },
    });
    expect(issue.with).toEqual({
      kind: 'object',
      entries: {
        customerId: { kind: 'expr', expr: 'inputs.customerId' },
        amount: { kind: 'expr', expr: 'inputs.amount' },
        termMonths: { kind: 'literal', value: 12 },
      },
    });
    expect(issue.compensate?.tool).toEqual({ server: 'core-banking', name: 'cancel_credit' });
    expect(issue.compensate?.retry.maximumAttempts).toBe(10);
    expect(issue.compensate?.timeoutMs).toBe(30_000);

    const confirm = step('confirm');
    expect(confirm.kind === 'approval' && confirm.approval).toEqual({ role: 'credit-officer', timeoutMs: 2 * 3_600_000 });
    expect(confirm.if).toBe('inputs.amount > 10000');

    expect(plan.outputs.accountCount).toEqual({
      schema: { type: 'integer', minimum: 0 },
      value: { kind: 'expr', expr: 'size(steps.accounts.output.accounts)' },
    });
    expect(plan.outputSchema).toEqual({
      type: 'object',
      properties: { creditId: { type: 'string', description: 'The new credit' }, accountCount: { type: 'integer', minimum: 0 } },
      required: ['creditId', 'accountCount'],
      additionalProperties: false,
    });
    expect(r.hash).toBe(contentHash(plan));
  });

  it('compiles both demo skills; account-review runs its three lookups in parallel and its outputs match their schema', () => {
    const results = findSkillDirs([join(ROOT, 'skills')]).dirs.map((d) => compileSkill(d, catalog, OPTS));
    expect(results.flatMap((r) => r.diagnostics).map(formatDiagnostic)).toEqual([]);
    expect(results.map((r) => r.name)).toEqual(['account-review', 'credit-issuance']);

    const review = results[0]!.plan!;
    expect(review.steps.map((s) => [s.id, s.dependsOn, s.kind === 'tool' && s.readOnly])).toEqual([
      ['customer', [], true],
      ['accounts', [], true],
      ['score', [], true],
    ]);
    expect(review.steps.some((s) => s.kind === 'approval' || (s.kind === 'tool' && s.approval))).toBe(false);
    const ctx = {
      inputs: { customerId: 'C-1001' },
      steps: {
        customer: { skipped: false, output: { customerId: 'C-1001', name: 'Ada Lovelace', segment: 'private', email: 'ada@example.com', address: '12 St James Sq' } },
        accounts: { skipped: false, output: { accounts: [{ accountId: 'A-1', type: 'checking', balance: 1200.5, currency: 'EUR' }] } },
        score: { skipped: false, output: { customerId: 'C-1001', score: 780, band: 'very-good' } },
      },
    };
    const outputs = Object.fromEntries(Object.entries(review.outputs).map(([k, o]) => [k, renderTemplate(o.value, ctx)]));
    expect(outputs.summary).toBe('Ada Lovelace (private): 1 account(s), credit score 780 (very-good)');
    expect(outputs.meetsCreditMinimum).toBe(true);
    const validate = ajv.compile(review.outputSchema);
    expect(validate(outputs), JSON.stringify(validate.errors)).toBe(true);

    const credit = results[1]!.plan!;
    expect(Object.fromEntries(credit.steps.map((s) => [s.id, s.dependsOn]))).toEqual({
      customer: [],
      score: [],
      low_score: ['score'],
      officer_approval: ['customer', 'score', 'low_score'],
      issue: ['low_score', 'officer_approval'],
      notice: ['low_score', 'officer_approval', 'issue'],
    });
    expect(credit.skill.version).toBe('1.0.0');
  });
});

describe('compiler rules', () => {
  const catalog = demoCatalog();
  const codes = (dir: string, cat = catalog) => compileSkill(dir, cat, OPTS).diagnostics.map((d) => `${d.line}:${d.code}`);

  it('applies the Agent Skills limits on name and description', () => {
    const long = 'a'.repeat(65);
    expect(codes(tempSkill(long, `---\nname: ${long}\ndescription: ok\n---\n`, MINIMAL_PLAN))).toEqual(['2:name-invalid']);
    expect(codes(tempSkill('-lead', `---\nname: -lead\ndescription: ok\n---\n`, MINIMAL_PLAN))).toEqual(['2:name-invalid']);
    expect(codes(tempSkill('trail-', `---\nname: trail-\ndescription: ok\n---\n`, MINIMAL_PLAN))).toEqual(['2:name-invalid']);
    expect(codes(tempSkill('big', `---\nname: big\ndescription: ${'x'.repeat(1025)}\n---\n`, MINIMAL_PLAN))).toEqual(['3:description-invalid']);
    expect(codes(tempSkill('fine', `---\nname: fine\ndescription: ${'x'.repeat(1024)}\n---\n`, MINIMAL_PLAN))).toEqual([]);
    expect(codes(tempSkill('bare', '# no frontmatter\n', MINIMAL_PLAN))).toEqual(['1:frontmatter-missing']);
  });

  it('reports a missing inputs section and a missing SKILL.md', () => {
    const dir = tempSkill('no-inputs', '---\nname: no-inputs\ndescription: ok\n---\n', 'steps:\n  - id: a\n    fail: stop\n');
    expect(codes(dir)).toEqual(['1:inputs-missing']);
    rmSync(join(dir, 'SKILL.md'));
    expect(codes(dir)).toEqual(['0:skill-md-missing', '1:inputs-missing']);
  });

  it('reports an unreachable server once, at the first step using it, and compiles nothing', () => {
    const down = new Map([...catalogOf({ 'credit-bureau': DEMO_TOOLS['credit-bureau']! }), ['core-banking', { error: 'spawn ENOENT' }] as const]);
    const dir = tempSkill('down', '---\nname: down\ndescription: ok\n---\n', `${MINIMAL_PLAN}  - id: accounts\n    tool: core-banking.list_accounts\n    with: { customerId: C-1001 }\n`);
    const r = compileSkill(dir, down, OPTS);
    expect(r.diagnostics.map((d) => `${d.line}:${d.code}`)).toEqual(['7:server-unreachable']);
    expect(r.plan).toBeUndefined();
  });

  it('knows configured servers that are not in the catalog apart from unknown ones', () => {
    const dir = tempSkill('hr-skill', '---\nname: hr-skill\ndescription: ok\n---\n', 'inputs: { type: object }\nsteps:\n  - id: a\n    tool: hr.get_employee\n  - id: b\n    tool: hrr.get_employee\n');
    const r = compileSkill(dir, catalog, { ...OPTS, servers: ['core-banking', 'credit-bureau', 'hr'] });
    expect(r.diagnostics.map((d) => `${d.line}:${d.code}`)).toEqual(['4:server-unreachable', '6:unknown-server']);
    expect(r.diagnostics[0]!.message).toContain('its tools were not listed');
    expect(r.diagnostics[1]!.hint).toBe('did you mean "hr"?');
  });

  it('checks expression-valued arguments for references but not for types', () => {
    const dir = tempSkill(
      'exprs',
      '---\nname: exprs\ndescription: ok\n---\n',
      `inputs:\n  type: object\n  properties:\n    months: { type: integer }\nsteps:\n  - id: issue\n    tool: core-banking.issue_credit\n    with:\n      customerId: C-1001\n      amount: \${{ 2.0 * 100.0 }}\n      termMonths: \${{ inputs.months }}\n`,
    );
    expect(codes(dir)).toEqual([]);
  });

  it('treats whole-file and key positions in SKILL.md as SKILL.md lines', () => {
    const dir = tempSkill('offset', '---\n# a comment line\nname: offset\ndescription: ok\nextra: 1\n---\n', MINIMAL_PLAN);
    expect(codes(dir)).toEqual(['5:unknown-key']);
  });
});

describe('content hash', () => {
  it('is canonical: sorted keys, no whitespace, key order does not matter', () => {
    expect(canonicalJson({ b: 1, a: [true, null, { d: 'x', c: 2.5 }], u: undefined })).toBe('{"a":[true,null,{"c":2.5,"d":"x"}],"b":1}');
    expect(contentHash({ a: 1, b: { c: 2, d: 3 } })).toBe(contentHash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
    expect(contentHash({ a: [1, 2] })).not.toBe(contentHash({ a: [2, 1] }));
    expect(contentHash({})).toMatch(/^sha256:[0-9a-f]{64}$/);
    // sha256 of the two bytes `{}`, computed independently.
    expect(contentHash({})).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
  });

  it('is stable across compilations and changes with the plan', () => {
    const dir = join(ROOT, 'skills', 'credit-issuance');
    const a = compileSkill(dir, demoCatalog(), OPTS);
    const b = compileSkill(dir, demoCatalog(), OPTS);
    expect(a.hash).toBeDefined();
    expect(a.hash).toBe(b.hash);
    const c = compileSkill(dir, demoCatalog(), { ...OPTS, defaultStepTimeoutMs: 31_000 });
    expect(c.hash).not.toBe(a.hash);
  });
});

describe('finding skills', () => {
  it('accepts a skills root, a skill folder, a SKILL.md or a plan.yaml path, without duplicates', () => {
    const skills = join(ROOT, 'skills');
    const review = join(skills, 'account-review');
    const credit = join(skills, 'credit-issuance');
    expect(findSkillDirs([skills]).dirs).toEqual([review, credit]);
    expect(findSkillDirs([review, join(credit, 'SKILL.md'), join(credit, 'plan.yaml')]).dirs).toEqual([review, credit]);
  });

  it('reports paths that hold no skill', () => {
    const { dirs, diagnostics } = findSkillDirs([join(ROOT, 'docs'), join(ROOT, 'nope'), join(ROOT, 'package.json')]);
    expect(dirs).toEqual([]);
    expect(diagnostics.map((d) => d.code)).toEqual(['no-skills', 'path-missing', 'not-a-skill']);
  });

  it('lists the servers plans name, including compensations', () => {
    expect(referencedServers([join(ROOT, 'skills', 'credit-issuance'), join(BAD, 'tools'), join(BAD, 'yaml-errors')])).toEqual([
      'core-bank',
      'core-banking',
      'credit-bureau',
      'ledger',
    ]);
  });

  it('fetches each server once and records failures instead of throwing', async () => {
    const calls: string[] = [];
    // An in-memory UpstreamPool: only listTools matters to the catalog.
    const pool: UpstreamPool = {
      servers: () => ['core-banking', 'broken'],
      listTools: async (server) => {
        calls.push(server);
        if (server === 'broken') throw new Error('cannot connect to server "broken"');
        return DEMO_TOOLS[server] ?? [];
      },
      callTool: () => Promise.reject(new Error('not used')),
      close: async () => {},
    };
    const catalog = await fetchCatalog(pool);
    expect(calls.sort()).toEqual(['broken', 'core-banking']);
    expect(catalog.get('broken')).toEqual({ error: 'cannot connect to server "broken"' });
    expect((catalog.get('core-banking') as { tools: Tool[] }).tools).toHaveLength(6);
  });
});
