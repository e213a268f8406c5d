/**
 * `skillgate curate` as a person runs it: a new server's command runs only with consent, a
 * configured one is scored and approved into tools.lock.json, a tool with error findings is not
 * approved without --accept-risk, and the reports are written.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readLock } from '../gateway/curation/lock.js';
import { definitionHash } from '../gateway/curation/definition.js';
import { TOOLS } from './fixtures/curation/poisoned-server.js';

const ROOT = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'skillgate-curate-'));
const configFile = join(tmp, 'skillgate.yaml');
const FIXTURE = ['--import', 'tsx', join(ROOT, 'test/fixtures/curation/poisoned-server.ts')];
writeFileSync(
  configFile,
  stringify({
    workspace: 'curate-test',
    stateDir: join(tmp, 'state'),
    logging: { destination: join(tmp, 'skillgate.log') },
    servers: { utilities: { command: 'node', args: FIXTURE, cwd: ROOT } },
  }),
);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('curate', ...args);
}

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/app/cli/main.ts', '--config', configFile, ...args],
      { cwd: ROOT, timeout: 60_000, env: { ...process.env, SKILLGATE_CONFIG: '' } },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe('a server that is not configured (--command)', () => {
  it('is shown and not run without consent when there is no terminal to ask', async () => {
    const marker = join(tmp, 'ran');
    const r = await cli('probe', '--command', `node -e "require('fs').writeFileSync('${marker}', '')"`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('skillgate curate will start this program to list its tools:');
    expect(r.stderr).toContain('args:    ["-e","require(\'fs\').writeFileSync(');
    expect(r.stderr).toContain('environment: PATH, HOME, LOGNAME, SHELL, TERM, USER only');
    expect(r.stderr).toContain('refused: no terminal to ask for consent; pass --yes to run it');
    expect(existsSync(marker)).toBe(false);
  });

  it('with --yes: scored, every finding with its rule id (JSON), exit 1 for error findings', async () => {
    // An ad-hoc server starts in the config's folder: tsx is named by its path there.
    const tsx = join(ROOT, 'node_modules/tsx/dist/loader.mjs');
    const r = await cli('fixture', '--yes', '--json', '--command', `node --import "${tsx}" "${FIXTURE[2]}"`);
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { reports: Array<{ server: string; grade: string; tools: Array<{ name: string; findings: Array<{ ruleId: string }> }> }>; rules: Array<{ id: string }> };
    expect(doc.reports[0]).toMatchObject({ server: 'fixture', grade: 'F' });
    expect(doc.reports[0]!.tools.find((t) => t.name === 'run_command')!.findings.map((f) => f.ruleId)).toContain('SG-SEC-009');
    expect(doc.rules.map((x) => x.id)).toContain('SG-SEC-009');
  });

  it('cannot be approved (only configured servers are)', async () => {
    const r = await cli('fixture', '--yes', '--approve', '--command', 'node x.js');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('only configured servers can be approved');
  });
});

describe('a configured server', () => {
  const lockFile = join(tmp, 'tools.lock.json');

  it('a tool with error findings is not approved without --accept-risk; nothing is written', async () => {
    const r = await cli('utilities', '--approve', 'lookup_user', 'add');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not approved: add (SG-SEC-001, SG-SEC-005, SG-SEC-007) has error findings');
    expect(r.stderr).toContain('nothing was approved');
    expect(existsSync(lockFile)).toBe(false);
  });

  it('--approve <tool> pins it in tools.lock.json with the server identity, grade, who and when; the HTML report is written', async () => {
    const html = join(tmp, 'report.html');
    const r = await cli('utilities', '--approve', 'lookup_user', '--by', 'alice', '--html', html);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/approved utilities\.lookup_user \(grade A\) sha256:[0-9a-f]{64}/);
    const lock = readLock(lockFile);
    const pins = lock.servers.utilities!;
    expect(pins.identity).toEqual({ name: 'poisoned-fixture', version: '0.0.1', command: 'node', args: FIXTURE });
    expect(pins.grade).toBe('F');
    expect(Object.keys(pins.tools)).toEqual(['lookup_user']);
    expect(pins.tools.lookup_user).toMatchObject({ hash: definitionHash(TOOLS.find((t) => t.name === 'lookup_user')!), grade: 'A', approvedBy: 'alice' });
    expect(Date.parse(pins.tools.lookup_user!.approvedAt)).toBeGreaterThan(Date.now() - 120_000);
    expect(readFileSync(html, 'utf8')).toContain('Curation report: utilities');
    // The approval is in the workspace's audit trail, read back with `skillgate audit`.
    const events = await run('audit', '--kind', 'catalog.approved', '--json');
    expect(events.code, events.stderr).toBe(0);
    const approved = events.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; tool: string; reason: string; detail?: { by?: string } });
    expect(approved.map((a) => [a.kind, a.tool])).toContainEqual(['catalog.approved', 'lookup_user']);
  });

  it('a corrupt lock is never overwritten: the approval is refused with how to recover', async () => {
    const good = readFileSync(lockFile, 'utf8');
    writeFileSync(lockFile, '{ "lockfileVersion": 1, ');
    const r = await cli('utilities', '--approve', 'lookup_users');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is corrupt (not JSON');
    expect(r.stderr).toContain('nothing was approved');
    expect(readFileSync(lockFile, 'utf8')).toBe('{ "lockfileVersion": 1, ');
    writeFileSync(lockFile, good);
  });

  it('unknown tools and servers are named with a suggestion', async () => {
    expect((await cli('utilities', '--approve', 'lookup_usr')).stderr).toContain('has no tool "lookup_usr" (did you mean "lookup_user"?)');
    expect((await cli('utilitys')).stderr).toContain('unknown server "utilitys" (did you mean "utilities"?)');
  });
});
