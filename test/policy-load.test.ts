/**
 * Loading policy files: every problem of every file reported at once as `file:line:col`
 * diagnostics; ids from `@id` or `<file>#<n>`; the workspace schema; reference warnings.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PolicyLoadError } from '../gateway/policy/errors.js';
import { loadPolicies } from '../gateway/policy/load.js';
import { parseConfig } from '../src/config/load.js';
import { formatDiagnostic, type Diagnostic } from '../src/shared/diagnostics.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A workspace folder with these files (paths relative to it). */
function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-policy-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function loadError(dir: string, patterns = ['policies/*.cedar']): Diagnostic[] {
  try {
    loadPolicies(patterns, { baseDir: dir });
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyLoadError);
    expect((err as PolicyLoadError).code).toBe('ERR_POLICY_INVALID');
    return (err as PolicyLoadError).diagnostics;
  }
  throw new Error('expected the policies to fail to load');
}

const SCHEMA = 'type Arguments = { amount?: decimal, employeeId?: String };\n';

describe('loadPolicies', () => {
  it('loads the demo policies of the repository: all with @id, no warnings', () => {
    const set = loadPolicies(['policies/*.cedar'], { baseDir: resolve(import.meta.dirname, '..') });
    expect(set.policies.length).toBeGreaterThan(10);
    expect(set.policies.every((p) => p.annotated)).toBe(true);
    expect(set.warnings.map(formatDiagnostic)).toEqual([]);
    expect(set.version).toMatch(/^[0-9a-f]{12}$/);
    expect(set.files.schemas.map((f) => f.replace(/.*\//, ''))).toEqual(['arguments.cedarschema']);
  });

  it('reports a syntax error at its file, line and column', () => {
    const dir = workspace({
      'policies/a.cedar': [
        '// a comment; with a semicolon and a "quote',
        '@id("ok")',
        'permit (principal, action, resource);',
        '',
        '@id("broken")',
        'permit (principal, action, resource)',
        '  when { 1 < };',
      ].join('\n'),
    });
    const [d, ...rest] = loadError(dir);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ file: 'policies/a.cedar', line: 7, col: 14, code: 'policy-syntax' });
    expect(d!.message).toMatch(/unexpected token `}`/);
    expect(formatDiagnostic(d!)).toMatch(/^policies\/a\.cedar:7:14: unexpected token/);
  });

  it('lists every error of every file in one pass, sorted', () => {
    const dir = workspace({
      'policies/arguments.cedarschema': SCHEMA,
      'policies/b.cedar': '@id("b1") permit (principal, action == Skillgate::Action::"call_tol", resource);\n',
      'policies/a.cedar': [
        '@id("a1") permit (principal, action, resource) when { context.arguments.amout == 1 };',
        '@id("a2") permit (principal, action, resource) when { true && };',
        '@id("a3") permit (principal is Skillgate::User, action, resource) when { principal.id == context.arguments.employeeId };',
      ].join('\n'),
    });
    const ds = loadError(dir);
    expect(ds.map((d) => `${d.file}:${d.line}:${d.col} ${d.code}`)).toEqual([
      'policies/a.cedar:1:55 policy-invalid',
      'policies/a.cedar:2:63 policy-syntax',
      'policies/a.cedar:3:90 policy-invalid',
      'policies/b.cedar:1:40 policy-invalid',
    ]);
    // The validator's own hints come through: did-you-mean and the missing `has` guard.
    expect(ds[0]!.hint).toBe('did you mean `amount`?');
    expect(ds[2]!.hint).toMatch(/context\.arguments has employeeId/);
    expect(ds[3]!.message).toMatch(/unrecognized action `Skillgate::Action::"call_tol"`/);
    expect(ds[3]!.hint).toBe('did you mean `Skillgate::Action::"call_tool"`?');
  });

  it('counts columns in characters when the file holds non-ASCII text', () => {
    const dir = workspace({ 'policies/a.cedar': '// Überprüfung — ünïcode\n@id("x") permit (principal, action, resource) when { "é" == };' });
    const [d] = loadError(dir);
    // Cedar reports UTF-8 byte offsets; the `}` is the 61st character of line 2.
    expect(d).toMatchObject({ line: 2, col: 61 });
  });

  it('gives policies without @id the id <file>#<n> and warns', () => {
    const dir = workspace({
      'policies/a.cedar': '@id("first") permit (principal, action, resource);\npermit (principal, action, resource);\n',
    });
    const set = loadPolicies(['policies/*.cedar'], { baseDir: dir });
    expect(set.policies.map((p) => [p.id, p.line, p.col])).toEqual([
      ['first', 1, 1],
      ['policies/a.cedar#2', 2, 1],
    ]);
    expect(set.warnings).toMatchObject([{ file: 'policies/a.cedar', line: 2, col: 1, code: 'policy-id-missing' }]);
  });

  it('refuses duplicate and empty ids, and templates', () => {
    const dir = workspace({
      'policies/a.cedar': '@id("same") permit (principal, action, resource);\n@id("") permit (principal, action, resource);\n',
      'policies/b.cedar': '\n@id("same") forbid (principal, action, resource);\n@id("t") permit (principal == ?principal, action, resource);\n',
    });
    const ds = loadError(dir);
    expect(ds.map((d) => `${d.file}:${d.line} ${d.code}`)).toEqual([
      'policies/a.cedar:2 policy-id-empty',
      'policies/b.cedar:2 policy-id-duplicate',
      'policies/b.cedar:3 policy-template',
    ]);
    expect(ds[1]!.message).toBe('duplicate policy id "same" (first used at policies/a.cedar:1:1)');
  });

  it('reports missing files, folders and an empty set', () => {
    expect(loadError(workspace({}), ['policies/*.cedar'])).toMatchObject([{ code: 'policy-file-missing' }]);
    expect(loadError(workspace({ 'policies/readme.md': '' }))).toMatchObject([{ code: 'policy-none' }]);
    expect(loadError(workspace({}), ['nope.cedar'])).toMatchObject([{ file: 'nope.cedar', code: 'policy-file-missing' }]);
    expect(loadError(workspace({}), ['*/x.cedar'])).toMatchObject([{ code: 'policy-pattern' }]);
  });

  it('ignores hidden files (editor locks) and picks up the schema beside the policies', () => {
    const dir = workspace({
      'policies/.#a.cedar': 'garbage',
      'policies/a.cedar': '@id("a") permit (principal, action, resource) when { context.arguments has amount && context.arguments.amount.lessThan(decimal("1.0")) };',
      'policies/args.cedarschema': SCHEMA,
    });
    const set = loadPolicies(['policies/*.cedar'], { baseDir: dir });
    expect(set.policies.map((p) => p.id)).toEqual(['a']);
    expect(set.argumentTypes).toMatchObject({ kind: 'record' });
  });

  it('without a workspace schema, a policy reading an argument fails validation', () => {
    const dir = workspace({ 'policies/a.cedar': '@id("a") permit (principal, action, resource) when { context.arguments.amount == 1 };' });
    const [d] = loadError(dir);
    expect(d).toMatchObject({ code: 'policy-invalid', line: 1 });
  });

  it('reports schema errors in the workspace schema file', () => {
    const bad = workspace({
      'policies/a.cedar': '@id("a") permit (principal, action, resource);',
      'policies/args.cedarschema': '// types\ntype Arguments = { amount?: decimall };\n',
    });
    const [d] = loadError(bad);
    expect(d).toMatchObject({ file: 'policies/args.cedarschema', code: 'schema-invalid' });
    expect(d!.message).toMatch(/decimall/);

    const wrapped = workspace({
      'policies/a.cedar': '@id("a") permit (principal, action, resource);',
      'policies/args.cedarschema': 'namespace Skillgate { type Arguments = {}; }\n',
    });
    expect(loadError(wrapped)[0]).toMatchObject({ file: 'policies/args.cedarschema', line: 1, hint: expect.stringMatching(/without `namespace/) });

    const entity = workspace({
      'policies/a.cedar': '@id("a") permit (principal, action, resource);',
      'policies/args.cedarschema': 'type Arguments = {};\nentity Customer;\n',
    });
    expect(loadError(entity)[0]).toMatchObject({ code: 'schema-scope', message: expect.stringMatching(/entity Customer/) });

    const clash = workspace({
      'policies/a.cedar': '@id("a") permit (principal, action, resource);',
      'policies/args.cedarschema': 'type Arguments = {};\ntype RequestContext = {};\n',
    });
    expect(loadError(clash)[0]).toMatchObject({ file: 'policies/args.cedarschema', code: 'schema-invalid' });
  });

  it('warns about agents and servers that skillgate.yaml does not know', () => {
    const dir = workspace({
      'policies/a.cedar': [
        '@id("typo") permit (principal == Skillgate::Agent::"hr-asistant", action, resource in Skillgate::Server::"hr");',
        '@id("tool") permit (principal, action, resource == Skillgate::Tool::"bank.pay");',
      ].join('\n'),
    });
    const config = parseConfig(
      'workspace: w\nservers:\n  hr: { command: node }\nagents:\n  hr-assistant: { clientId: x }\n',
      join(dir, 'skillgate.yaml'),
    ).config;
    const set = loadPolicies(['policies/*.cedar'], { baseDir: dir, config });
    expect(set.warnings.map((w) => `${w.line}:${w.col} ${w.code} ${w.hint}`)).toEqual([
      '1:52 policy-unknown-agent did you mean "hr-assistant"?',
      '2:1 policy-unknown-server known servers: hr',
    ]);
  });

  it('sorts each policy to the side(s) whose principal it can match', () => {
    // Reading a user attribute with an unconstrained principal fails validation (agents have none).
    const unguarded = workspace({ 'policies/a.cedar': '@id("x") permit (principal, action, resource) when { principal.id == "u" };' });
    expect(loadError(unguarded)[0]).toMatchObject({ code: 'policy-invalid', message: expect.stringMatching(/attribute `id` on entity type `Skillgate::Agent` not found/) });

    const dir = workspace({
      'policies/a.cedar': [
        '@id("agent") permit (principal == Skillgate::Agent::"a", action, resource);',
        '@id("user") permit (principal in Skillgate::Role::"r", action, resource);',
        '@id("both") forbid (principal, action, resource) when { context.gateway == "x" };',
        '@id("user-attr") permit (principal is Skillgate::User, action, resource) when { principal.id == "u" };',
      ].join('\n'),
    });
    const set = loadPolicies(['policies/*.cedar'], { baseDir: dir });
    expect(Object.fromEntries(set.policies.map((p) => [p.id, p.sides]))).toEqual({
      agent: ['agent'],
      user: ['user'],
      both: ['agent', 'user'],
      'user-attr': ['user'],
    });
  });
});
