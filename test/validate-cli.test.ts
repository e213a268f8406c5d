/**
 * `skillgate validate` and `skillgate compile` as a person runs them: the real CLI in a child
 * process, a temp skillgate.yaml whose servers are the demo MCP servers (run from source with
 * tsx) plus one that is down, the real tool lists. Also the compile helpers others build on
 * (compileSkills, loadSkill) against the real upstream pool.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import type { UpstreamPool } from '../gateway/upstream/types.js';
import { loadConfig } from '../src/config/load.js';
import type { Diagnostic } from '../src/shared/diagnostics.js';
import { compileSkills, loadSkill, SkillCompileError } from '../src/skills/compile-all.js';
import { contentHash } from '../src/shared/canonical-json.js';
import type { CompiledPlan } from '../src/contracts/plan.js';
import { BAD_SKILLS, PLANTED } from './fixtures/bad-skills/expected.js';

const ROOT = resolve(import.meta.dirname, '..');
const BAD = 'test/fixtures/bad-skills';

const tmp = mkdtempSync(join(tmpdir(), 'skillgate-validate-'));
const state = join(tmp, 'state');
const demo = (name: string) => ({ command: 'node', args: ['--import', 'tsx', join(ROOT, 'demo', name, 'main.ts'), '--state', state], cwd: ROOT });
const mail = (flavor: string) => ({
  command: 'node',
  args: ['--import', 'tsx', join(ROOT, 'demo', 'mail', 'main.ts'), '--flavor', flavor],
  cwd: ROOT,
  transport: 'http',
  env: { MAIL_CLIENT_SECRET: 'validate-test', SKILLGATE_PUBLIC_URL: 'http://127.0.0.1:8787' },
});
const configFile = join(tmp, 'skillgate.yaml');
writeFileSync(
  configFile,
  stringify({
    workspace: 'validate-test',
    skillsDir: join(ROOT, 'skills'),
    stateDir: state,
    servers: {
      'core-banking': demo('core-banking'),
      'credit-bureau': demo('credit-bureau'),
      // The mail systems reply-to-teacher-email uses (servers Skillgate starts, over HTTP).
      gmail: mail('gmail'),
      outlook: mail('outlook'),
      // Port 9 (discard) never answers MCP (fetch refuses it outright): the bad fixtures' `ledger` is unreachable.
      ledger: { url: 'http://127.0.0.1:9/mcp' },
    },
    // Approval roles are checked against these (test/compiler.test.ts uses the same).
    users: { 'credit-officer': { roles: ['credit-officer'] }, 'loan-clerk': { roles: ['loan-clerk'] } },
  }),
);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Ran> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/app/cli/main.ts', '--config', configFile, ...args],
      { cwd: ROOT, timeout: 60_000, env: { ...process.env, SKILLGATE_CONFIG: '' } },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe('skillgate validate', () => {
  it('passes the demo skills (the config skillsDir) with exit 0', async () => {
    const r = await cli('validate');
    expect(r.stdout.trim(), r.stderr).toBe('3 skills checked, 0 errors — all valid');
    expect(r.code).toBe(0);
  });

  it('prints every planted error with file:line:col, sorted, and exits 1', async () => {
    const r = await cli('validate', BAD);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout.split('\n');
    for (const [file, line, col, code, planted, severity] of PLANTED) {
      const where = `${line > 0 ? `${BAD}/${file}:${line}:${col}: ` : `${BAD}/${file}: `}${severity === 'warning' ? 'warning: ' : ''}`;
      // The rule code ends the diagnostic: on its line, or on the hint line below it.
      const at = lines.findIndex((l, i) => l.startsWith(where) && (l.endsWith(`[${code}]`) || (lines[i + 1]?.startsWith('    hint: ') && lines[i + 1]!.endsWith(`[${code}]`))));
      expect(at, `${where}… [${code}] (${planted})`).toBeGreaterThanOrEqual(0);
    }
    const locations = lines.filter((l) => l.startsWith(`${BAD}/`)).map((l) => l.slice(0, l.indexOf(': ')));
    const key = (loc: string) => {
      const [file, line = '0', col = '0'] = loc.split(':');
      return [file!, Number(line), Number(col)] as const;
    };
    const sorted = [...locations].sort((a, b) => {
      const [fa, la, ca] = key(a);
      const [fb, lb, cb] = key(b);
      return fa.localeCompare(fb) || la - lb || ca - cb;
    });
    expect(locations).toEqual(sorted);
    const warnings = PLANTED.filter((p) => p[5] === 'warning').length;
    expect(lines.at(-2)).toBe(`${BAD_SKILLS.length} skills checked, ${PLANTED.length - warnings} errors, ${warnings} warnings`);
  });

  it('prints warnings but passes a skill that has nothing else', async () => {
    const r = await cli('validate', `${BAD}/parallel-writes`);
    expect(r.stdout).toContain(`${BAD}/parallel-writes/plan.yaml:16:11: warning: step "notice" changes state, and so does "issue"; nothing orders them, so they run at the same time`);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('1 skill checked, 0 errors, 2 warnings — all valid');
    expect(r.code, r.stderr).toBe(0);
  });

  it('gives the same diagnostics as JSON with --json', async () => {
    const r = await cli('validate', '--json', BAD);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; skills: Array<{ name: string; errors: number; warnings: number }>; diagnostics: Diagnostic[] };
    expect(out.ok).toBe(false);
    expect(out.skills.map((s) => s.name)).toEqual(BAD_SKILLS);
    expect(out.skills.find((s) => s.name === 'parallel-writes')).toMatchObject({ errors: 0, warnings: 2 });
    const got = out.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}:${d.code}:${d.severity}`).sort();
    expect(got).toEqual(PLANTED.map(([file, line, col, code, , severity]) => `${BAD}/${file}:${line}:${col}:${code}:${severity ?? 'error'}`).sort());
    const unreachable = out.diagnostics.find((d) => d.code === 'server-unreachable')!;
    expect(unreachable.message).toContain('server "ledger" is unreachable');
  });
});

describe('skillgate compile', () => {
  it('prints {hash, plan} with --json; the hash is the plan content hash', async () => {
    const r = await cli('compile', 'credit-issuance', '--json');
    expect(r.code, r.stderr).toBe(0);
    const { hash, plan } = JSON.parse(r.stdout) as { hash: string; plan: CompiledPlan };
    expect(hash).toBe(contentHash(plan));
    expect(plan.skill.name).toBe('credit-issuance');
    expect(plan.steps.map((s) => s.id)).toEqual(['customer', 'score', 'low_score', 'officer_approval', 'issue', 'notice']);
  });

  it('prints the plan and a hash line by default, for a path as well as a name', async () => {
    const r = await cli('compile', 'skills/account-review');
    expect(r.code, r.stderr).toBe(0);
    const hashLine = r.stdout.trim().split('\n').at(-1)!;
    expect(hashLine).toMatch(/^hash: sha256:[0-9a-f]{64}$/);
    const plan = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('hash: '))) as CompiledPlan;
    expect(hashLine).toBe(`hash: ${contentHash(plan)}`);
  });

  it('exits 1 with the diagnostics of a skill that does not compile', async () => {
    const r = await cli('compile', `${BAD}/tools`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${BAD}/tools/plan.yaml:13:11: server "core-banking" has no tool "list_acounts"`);
    expect(r.stderr).toContain('skillgate: skill "test/fixtures/bad-skills/tools" does not compile (10 errors)');
  });
});

describe('compile helpers on the real upstream pool', () => {
  it('lists the tools of the servers the skills use, once each', async () => {
    const loaded = loadConfig(configFile);
    const pool = createUpstreamPool(loaded, { log: () => {} });
    const listed: string[] = [];
    const counting: UpstreamPool = {
      ...pool,
      servers: () => pool.servers(),
      listTools: (s) => {
        listed.push(s);
        return pool.listTools(s);
      },
      callTool: (...a) => pool.callTool(...a),
      serverInfo: (s) => pool.serverInfo(s),
      inventory: (s) => pool.inventory(s),
      onToolListChanged: (l) => pool.onToolListChanged(l),
      url: (s) => pool.url(s),
      close: () => pool.close(),
    };
    try {
      const { results, diagnostics } = await compileSkills(loaded, counting);
      expect(diagnostics).toEqual([]);
      expect(results.map((r) => r.name)).toEqual(['account-review', 'credit-issuance', 'reply-to-teacher-email']);
      // `ledger` is configured but no skill uses it: it is never contacted.
      expect(listed.sort()).toEqual(['core-banking', 'credit-bureau', 'gmail', 'outlook']);
      const tools = (await pool.listTools('core-banking')).map((t) => t.name);
      const planTools = results.flatMap((r) => r.plan!.steps.flatMap((s) => (s.kind === 'tool' && s.tool.server === 'core-banking' ? [s.tool.name] : [])));
      expect(tools).toEqual(expect.arrayContaining(planTools));
    } finally {
      await pool.close();
    }
  });

  it('loadSkill compiles one skill by name and refuses unknown names and paths', async () => {
    const loaded = loadConfig(configFile);
    const pool = createUpstreamPool(loaded, { log: () => {} });
    try {
      const skill = await loadSkill(loaded, pool, 'account-review');
      expect(skill.plan.skill.name).toBe('account-review');
      expect(skill.hash).toBe(contentHash(skill.plan));

      const typo = await loadSkill(loaded, pool, 'acount-review').catch((e: unknown) => e);
      expect(typo).toBeInstanceOf(SkillCompileError);
      expect((typo as SkillCompileError).diagnostics.map((d) => [d.code, d.hint])).toEqual([['unknown-skill', 'did you mean "account-review"?']]);

      const escape = await loadSkill(loaded, pool, '../test/fixtures/good-skills/gated-credit').catch((e: unknown) => e);
      expect((escape as SkillCompileError).diagnostics[0]?.code).toBe('unknown-skill');
    } finally {
      await pool.close();
    }
  });
});
