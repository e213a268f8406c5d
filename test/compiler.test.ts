/**
 * The skill compiler against a hand-built tool catalog (the demo servers' tools written out
 * as MCP Tool objects; test/validate-cli.test.ts runs the same fixtures against the real
 * servers). Pure: no server is started here.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic, sortDiagnostics } from '../src/shared/diagnostics.js';
import { definitionHash } from '../gateway/curation/definition.js';
import { catalogOf, fetchCatalog, type ToolCatalog } from '../src/skills/catalog.js';
import { type CompileOptions, compileSkill } from '../src/skills/compile.js';
import { canonicalJson, contentHash } from '../src/shared/canonical-json.js';
import { findSkillDirs, referencedServers } from '../src/skills/load.js';
import type { ToolStep } from '../src/contracts/plan.js';
import { ajv } from '../src/shared/json-schema.js';
import { renderTemplate } from '../src/pure/expressions.js';
import { poolOf } from './helpers/pools.js';
import type { UpstreamPool } from '../gateway/upstream/types.js';
import { BAD_SKILLS, PLANTED } from './fixtures/bad-skills/expected.js';

const ROOT = resolve(import.meta.dirname, '..');
const BAD = join(ROOT, 'test', 'fixtures', 'bad-skills');
const GOOD = join(ROOT, 'test', 'fixtures', 'good-skills');

const customerId = { type: 'string', pattern: '^C-\\d{4}$', description: 'Customer id, e.g. "C-1001"' };
function tool(name: string, properties: Record<string, object>, readOnly: boolean, output?: Record<string, object>): Tool {
  return {
    name,
    inputSchema: { type: 'object', properties, required: Object.keys(properties), $schema: 'http://json-schema.org/draft-07/schema#' },
    ...(output ? { outputSchema: { type: 'object', properties: output, required: Object.keys(output), additionalProperties: false } } : {}),
    annotations: { readOnlyHint: readOnly },
  };
}

const credit = {
  creditId: { type: 'string' },
  customerId: { type: 'string' },
  amount: { type: 'number' },
  termMonths: { type: 'integer' },
  status: { type: 'string', enum: ['active', 'cancelled'] },
};

/** The demo servers' tools, as they list them (test/validate-cli.test.ts uses the real ones). */
const DEMO_TOOLS: Record<string, Tool[]> = {
  'core-banking': [
    tool('get_customer', { customerId }, true, {
      customerId: { type: 'string' },
      name: { type: 'string' },
      segment: { type: 'string', enum: ['retail', 'private', 'business'] },
      email: { type: 'string' },
      address: { type: ['string', 'null'] },
    }),
    tool('list_accounts', { customerId }, true, {
      accounts: {
        type: 'array',
        items: { type: 'object', properties: { accountId: { type: 'string' }, type: { type: 'string' }, balance: { type: 'number' }, currency: { type: 'string' } }, additionalProperties: false },
      },
    }),
    tool(
      'issue_credit',
      {
        customerId,
        amount: { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000, description: 'Amount in EUR' },
        termMonths: { type: 'integer', minimum: 1, maximum: 120, description: 'Duration in months' },
      },
      false,
      credit,
    ),
    tool('cancel_credit', { creditId: { type: 'string' }, reason: { type: 'string', minLength: 1, maxLength: 500 } }, false, { creditId: { type: 'string' }, status: { type: 'string' } }),
    tool('get_credit', { creditId: { type: 'string' } }, true, credit),
    tool('send_notice', { customerId, subject: { type: 'string', minLength: 1, maxLength: 200 }, body: { type: 'string', minLength: 1, maxLength: 5000 } }, false, { noticeId: { type: 'string' } }),
  ],
  'credit-bureau': [tool('get_score', { customerId }, true, { customerId: { type: 'string' }, score: { type: 'integer' }, band: { type: 'string' } })],
};

/** The users of the workspace the CLI test validates in (test/validate-cli.test.ts). */
const USERS = [
  { id: 'credit-officer', roles: ['credit-officer'] },
  { id: 'loan-clerk', roles: ['loan-clerk'] },
];

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
  const results = found.dirs.map((d) => compileSkill(d, catalog, { ...OPTS, users: USERS, display: (f) => relative(BAD, f) }));
  const diagnostics = sortDiagnostics(results.flatMap((r) => r.diagnostics));

  it('finds every broken skill and compiles none but the one with warnings only', () => {
    expect(found.diagnostics).toEqual([]);
    expect(results.map((r) => r.name)).toEqual(BAD_SKILLS);
    for (const r of results) {
      if (r.name === 'parallel-writes') {
        expect(r.diagnostics.every((d) => d.severity === 'warning')).toBe(true);
        expect(r.hash, r.name).toBeDefined();
        continue;
      }
      expect(r.plan, r.name).toBeUndefined();
      expect(r.hash, r.name).toBeUndefined();
    }
  });

  it('reports exactly the planted errors at their file:line:col with their rule code', () => {
    const got = diagnostics.map((d) => [d.file, d.line, d.col, d.code, d.severity ?? 'error'].join(':'));
    const want = PLANTED.map(([file, line, col, code, , severity]) => [file, line, col, code, severity ?? 'error'].join(':'));
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
    // Each tool is recorded with the hash of the definition the plan was compiled against.
    const cancel = DEMO_TOOLS['core-banking']!.find((t) => t.name === 'cancel_credit')!;
    expect(issue.compensate?.tool).toEqual({ server: 'core-banking', name: 'cancel_credit', hash: definitionHash(cancel as never) });
    expect(issue.tool.hash).toBe(definitionHash(DEMO_TOOLS['core-banking']!.find((t) => t.name === 'issue_credit')! as never));
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
    // reply-to-teacher-email needs the mail systems' tools: compiled against the real ones in run-authorization-wait.
    const results = findSkillDirs([join(ROOT, 'skills')]).dirs.filter((d) => !d.endsWith('reply-to-teacher-email')).map((d) => compileSkill(d, catalog, OPTS));
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

  it('checks expression-valued arguments by the type of what they give', () => {
    const dir = tempSkill(
      'exprs',
      '---\nname: exprs\ndescription: ok\n---\n',
      `inputs:\n  type: object\n  properties:\n    months: { type: integer }\nsteps:\n  - id: issue\n    tool: core-banking.issue_credit\n    with:\n      customerId: C-1001\n      amount: \${{ 2.0 * 100.0 }}\n      termMonths: \${{ inputs.months }}\n`,
    );
    expect(codes(dir)).toEqual([]);
    const text = tempSkill(
      'text-arg',
      '---\nname: text-arg\ndescription: ok\n---\n',
      `inputs:\n  type: object\n  properties:\n    months: { type: integer }\nsteps:\n  - id: issue\n    tool: core-banking.issue_credit\n    with:\n      customerId: C-1001\n      amount: "\${{ 100 }} EUR"\n      termMonths: \${{ double(inputs.months) }}\n`,
    );
    const r = compileSkill(text, catalog, OPTS);
    expect(r.diagnostics.map((d) => `${d.line}:${d.col}:${d.code}:${d.severity ?? 'error'}`)).toEqual(['10:15:argument-type:error', '11:23:argument-type:error']);
    expect(r.diagnostics[0]!.message).toBe('argument "amount" of issue_credit takes number; text around `${{ }}` makes a string');
    expect(r.diagnostics[1]!.message).toBe('argument "termMonths" of issue_credit takes a whole number; `double(inputs.months)` gives a decimal number (double)');
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
    expect(findSkillDirs([skills]).dirs).toEqual([review, credit, join(skills, 'reply-to-teacher-email')]);
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
    const pool: UpstreamPool = poolOf({
      servers: () => ['core-banking', 'broken'],
      listTools: async (server) => {
        calls.push(server);
        if (server === 'broken') throw new Error('cannot connect to server "broken"');
        return DEMO_TOOLS[server] ?? [];
      },
    });
    const catalog = await fetchCatalog(pool);
    expect(calls.sort()).toEqual(['broken', 'core-banking']);
    expect(catalog.get('broken')).toEqual({ error: 'cannot connect to server "broken"' });
    expect((catalog.get('core-banking') as { tools: Tool[] }).tools).toHaveLength(6);
  });
});

describe('checks that need the workspace and the tools', () => {
  const catalog = demoCatalog();
  const skillMd = (name: string) => `---\nname: ${name}\ndescription: ok\n---\n`;
  const APPROVAL = `inputs: { type: object }\nsteps:\n  - id: ok\n    approval: { role: credit-officer }\n`;

  it('checks approval roles against the users: an error when users exist, a warning when there are none, nothing when unknown', () => {
    const dir = tempSkill('approve', skillMd('approve'), APPROVAL);
    expect(compileSkill(dir, catalog, { ...OPTS, users: [{ id: 'clerk', roles: ['loan-clerk'] }] }).diagnostics.map((d) => [d.code, d.message, d.hint])).toEqual([
      ['approval-role-unknown', 'no user of the workspace holds role "credit-officer": the approval would wait for nobody', 'roles held by the users in skillgate.yaml: loan-clerk; give a user the role under `users:`'],
    ]);
    const noUsers = compileSkill(dir, catalog, { ...OPTS, users: [] });
    expect(noUsers.diagnostics.map((d) => [d.line, d.col, d.code, d.severity])).toEqual([[4, 23, 'approval-role-unverified', 'warning']]);
    expect(noUsers.diagnostics[0]!.hint).toContain('identity provider');
    // A warning does not keep the skill from compiling.
    expect(noUsers.hash).toBeDefined();
    expect(compileSkill(dir, catalog, OPTS).diagnostics).toEqual([]);
  });

  it('gives did-you-mean hints and says what to write for the new checks', () => {
    const found = findSkillDirs([BAD]);
    const all = found.dirs.flatMap((d) => compileSkill(d, catalog, { ...OPTS, users: USERS, display: (f) => relative(BAD, f) }).diagnostics);
    const at = (file: string, line: number, code: string) => all.find((d) => d.file === file && d.line === line && d.code === code)!;
    expect(at('roles/plan.yaml', 9, 'approval-role-unknown').hint).toBe('did you mean "credit-officer"? roles held by the users in skillgate.yaml: credit-officer, loan-clerk');
    expect(at('step-results/plan.yaml', 14, 'step-field-unknown').hint).toBe('write `steps.customer.output.segment`');
    expect(at('step-results/plan.yaml', 28, 'output-field-unknown').message).toContain('has no field "approver"');
    expect(at('step-results/plan.yaml', 21, 'output-field-unknown').message).toContain('credit-bureau.get_score declares "customerId", "score", "band" and no others');
    expect(at('types/plan.yaml', 16, 'expr-type').message).toBe('`inputs.amount == "5000"` compares a number with a text');
    expect(at('types/plan.yaml', 11, 'if-not-boolean').message).toBe('`if: inputs.amount` gives a number, not true or false');
    const doubled = at('types/plan.yaml', 29, 'expr-type');
    expect(doubled.message).toContain('fails when inputs.amount is not a whole number');
    expect(doubled.hint).toContain('double(inputs.amount) * 2.0');
    expect(at('wiring/plan.yaml', 19, 'argument-type').message).toBe('argument "amount" of issue_credit takes a number; `inputs.amount` gives a text (string)');
    expect(at('wiring/plan.yaml', 20, 'argument-type').message).toContain('when inputs.months is not a whole number');
    expect(at('defaults/plan.yaml', 8, 'input-default-invalid').message).toBe('the default of input "termMonths", "36", must be integer');
    expect(at('defaults/plan.yaml', 8, 'input-default-invalid').hint).toBe('every run without "termMonths" would be refused: write the number without quotes');
    expect(at('defaults/plan.yaml', 11, 'input-default-invalid').hint).toContain('true or false');
    expect(at('defaults/plan.yaml', 12, 'input-default-invalid').hint).toContain('one of "letter", "email"');
    expect(at('defaults/plan.yaml', 17, 'input-default-invalid').message).toBe('the default of input "limits.currency", 978, must be string');
    expect(at('parallel-writes/plan.yaml', 28, 'parallel-writes').message).toBe('step "cancel" changes state, and so does "notice"; nothing orders them, so they run at the same time');
    expect(at('parallel-writes/plan.yaml', 16, 'parallel-writes').hint).toContain('`needs: [issue]`');
    expect(at('plan-yml/plan.yaml', 0, 'plan-missing').message).toBe('plan.yaml is missing; found plan.yml — rename it');
    expect(at('yaml-tab/plan.yaml', 7, 'yaml-syntax').message).toBe('a tab indents this line: YAML indents with spaces only');
    expect(at('yaml-messages/plan.yaml', 5, 'yaml-syntax').hint).toBe('put the text in quotes: fail: "Credit refused: the score is too low"');
    expect(at('yaml-messages/plan.yaml', 10, 'yaml-syntax').message).toBe('key "id" appears twice in the same map (first at line 6)');
    expect(at('yaml-errors/plan.yaml', 6, 'yaml-syntax').message).toBe('key "with" is indented further than the key above it, so YAML reads it as part of that key\'s value');
    expect(at('yaml-errors/plan.yaml', 6, 'yaml-syntax').hint).toContain('column 5, like "tool:"');
  });

  it('warns about a field an open outputSchema does not declare, and refuses one a closed schema does not have', () => {
    const lookup = (additionalProperties: boolean | undefined): ToolCatalog =>
      catalogOf({
        crm: [
          {
            name: 'lookup',
            inputSchema: { type: 'object', properties: {} },
            outputSchema: { type: 'object', properties: { name: { type: 'string' } }, ...(additionalProperties === undefined ? {} : { additionalProperties }) },
            annotations: { readOnlyHint: true },
          },
        ],
      });
    const plan = `inputs: { type: object }\nsteps:\n  - id: who\n    tool: crm.lookup\noutputs:\n  email:\n    value: \${{ steps.who.output.email }}\n  probed:\n    value: "\${{ has(steps.who.output.phone) ? steps.who.output.?phone.orValue('') : steps.who.output.name }}"\n`;
    const dir = tempSkill('open-schema', skillMd('open-schema'), plan);
    const open = compileSkill(dir, lookup(undefined), OPTS);
    expect(open.diagnostics.map((d) => `${d.line}:${d.col}:${d.code}:${d.severity ?? 'error'}`)).toEqual(['7:33:output-field-undeclared:warning']);
    expect(open.diagnostics[0]!.hint).toContain('has(steps.who.output.email)');
    expect(open.hash).toBeDefined();
    const closed = compileSkill(dir, lookup(false), OPTS);
    expect(closed.diagnostics.map((d) => `${d.line}:${d.col}:${d.code}:${d.severity ?? 'error'}`)).toEqual(['7:33:output-field-unknown:error']);
  });

  it('runs read-only steps as local activities by default; a plan, a step or the config says otherwise; a write is never local', () => {
    const plan = (top: string, customerStep: string, issueStep = '') =>
      `inputs: { type: object }\n${top}steps:\n  - id: customer\n    tool: core-banking.get_customer\n    with: { customerId: C-1001 }\n${customerStep}` +
      `  - id: issue\n    tool: core-banking.issue_credit\n    with: { customerId: C-1001, amount: 100, termMonths: 12 }\n${issueStep}`;
    const executions = (dir: string, opts: CompileOptions = OPTS) => {
      const r = compileSkill(dir, catalog, opts);
      expect(r.diagnostics).toEqual([]);
      return r.plan!.steps.map((st) => (st as ToolStep).execution);
    };
    expect(executions(tempSkill('exec-default', skillMd('exec-default'), plan('', '')))).toEqual(['local', 'activity']);
    expect(executions(tempSkill('exec-config', skillMd('exec-config'), plan('', '')), { ...OPTS, readOnlySteps: 'activity' })).toEqual(['activity', 'activity']);
    expect(executions(tempSkill('exec-plan', skillMd('exec-plan'), plan('readOnlySteps: activity\n', '')))).toEqual(['activity', 'activity']);
    // The step wins over the plan, the plan over the config.
    expect(executions(tempSkill('exec-step', skillMd('exec-step'), plan('readOnlySteps: activity\n', '    execution: local\n')), { ...OPTS, readOnlySteps: 'activity' })).toEqual(['local', 'activity']);
    expect(executions(tempSkill('exec-step2', skillMd('exec-step2'), plan('', '    execution: activity\n')))).toEqual(['activity', 'activity']);

    const bad = compileSkill(tempSkill('exec-bad', skillMd('exec-bad'), plan('readOnlySteps: locl\n', '    execution: 5\n', '    execution: local\n')), catalog, OPTS);
    expect(bad.diagnostics.map((d) => [d.line, d.code, d.message, d.hint])).toEqual([
      [2, 'execution-invalid', '`readOnlySteps:` must be `local` or `activity`', 'did you mean "local"?'],
      [7, 'execution-invalid', '`execution:` must be `local` or `activity`', expect.stringContaining('`local`: a read runs inside the workflow task')],
      [11, 'execution-invalid', '`execution: local` needs a read-only tool; core-banking.issue_credit does not declare `readOnlyHint: true`', expect.stringContaining('runs as a regular activity')],
    ]);
    const approval = compileSkill(tempSkill('exec-approval', skillMd('exec-approval'), `inputs: { type: object }\nsteps:\n  - id: ok\n    approval: { role: credit-officer }\n    execution: local\n`), catalog, OPTS);
    expect(approval.diagnostics.map((d) => [d.line, d.code])).toEqual([[5, 'key-not-applicable']]);
  });

  it('finds nothing wrong in the runtime and gateway fixture skills', () => {
    const probe: Tool[] = [
      { name: 'echo', inputSchema: { type: 'object', properties: { value: {} } }, annotations: { readOnlyHint: true } },
      { name: 'wait', inputSchema: { type: 'object', properties: { ms: { type: 'integer' }, label: { type: 'string' } }, required: ['ms', 'label'] }, annotations: { readOnlyHint: true } },
      { name: 'apply', inputSchema: { type: 'object', properties: { label: { type: 'string' }, ms: { type: 'integer' } }, required: ['label'] } },
      { name: 'undo', inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } },
      { name: 'refuse', inputSchema: { type: 'object', properties: { reason: { type: 'string' } }, required: ['reason'] } },
    ];
    const cat = demoCatalog(catalogOf({ probe }));
    const users = [...USERS, { id: 'alice', roles: ['supervisor'] }];
    const dirs = findSkillDirs([join(ROOT, 'test', 'fixtures', 'skills-runtime'), join(ROOT, 'test', 'fixtures', 'gateway-skills'), GOOD, join(ROOT, 'skills')]).dirs.filter((d) => !d.endsWith('reply-to-teacher-email'));
    expect(dirs.length).toBeGreaterThanOrEqual(12);
    const diagnostics = dirs.flatMap((d) => compileSkill(d, cat, { ...OPTS, users }).diagnostics);
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
  });

  it('finds nothing wrong in the examples of docs/skills.md', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'skills.md'), 'utf8');
    // The complete example is the shipped skill, as written there.
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const complete = blocks.find((b) => b.startsWith('inputs:') && b.includes('outputs:'))!;
    expect(complete).toBeDefined();
    const full = tempSkill('credit-issuance', readFileSync(join(ROOT, 'skills', 'credit-issuance', 'SKILL.md'), 'utf8'), complete);
    expect(compileSkill(full, catalog, { ...OPTS, users: USERS }).diagnostics.map(formatDiagnostic)).toEqual([]);

    // The expressions of the table, in steps that give them something to read.
    const rows = [...doc.matchAll(/^\| `([^`]+)`(?:, `[^`]+`)* \|/gm)].map((m) => m[1]!).filter((e) => /inputs\.|steps\./.test(e));
    expect(rows.length).toBeGreaterThanOrEqual(9);
    const values = rows.map((row, i) => {
      const expr = row.replace(/^(if|value|customerId|body): /, '').replace(/^"(.*)"$/, '$1');
      return row.startsWith('if: ') ? `  - id: c${i}\n    if: ${JSON.stringify(expr)}\n    fail: stop\n` : `  - id: v${i}\n    fail: ${JSON.stringify(expr.includes('${{') ? expr : `\${{ ${expr} }}`)}\n`;
    });
    const table = `inputs:\n  type: object\n  properties:\n    customerId: { type: string }\n    amount: { type: number }\nsteps:\n  - id: customer\n    tool: core-banking.get_customer\n    with: { customerId: C-1001 }\n  - id: accounts\n    tool: core-banking.list_accounts\n    with: { customerId: C-1001 }\n  - id: score\n    tool: credit-bureau.get_score\n    with: { customerId: C-1001 }\n  - id: issue\n    tool: core-banking.issue_credit\n    with: { customerId: C-1001, amount: 100, termMonths: 12 }\n  - id: approval\n    approval: { role: credit-officer }\n${values.join('')}`;
    const dir = tempSkill('doc-table', skillMd('doc-table'), table);
    expect(compileSkill(dir, catalog, { ...OPTS, users: USERS }).diagnostics.map(formatDiagnostic)).toEqual([]);
  });
});
