/**
 * The official MCP conformance suites through the gateway (issue 10): `npm run conformance` as
 * the README shows it — the pinned suites (0.1.16 at 2025-11-25, 0.2.0-alpha.12 with
 * `--requirements 2026-07-28`) against the conformance fixture directly and through a Skillgate
 * gateway — then its report is held against test/conformance/expected-failures.yaml:
 *
 *   - directly, the fixture passes every scenario (it is the reference for what follows);
 *   - through Skillgate, every scenario passes except the listed ones, each with its reason;
 *     a listed scenario that passes fails the test, so the list only shrinks;
 *   - docs/conformance.md shows what this run measured.
 *
 * Bounded: each suite run stops after SUITE_LIMIT_MS (unfinished scenarios count as failed),
 * the whole command after RUN_LIMIT_MS. The suites are installed beforehand by .ci/run
 * (`npm run conformance -- --install-only`); locally the first run installs them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithExpected, EXPECTED_FILE, loadExpected, readJsonReport } from './conformance/report.js';
import { SUITES, type SuiteRun } from './conformance/suites.js';
import { ROOT } from './helpers/workspace.js';

const RUN_LIMIT_MS = 420_000;

let out: string;
let runs: SuiteRun[];
let exitCode: number | null;
let output = '';

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'skillgate-conformance-report-'));
  const child = spawn('npm', ['run', 'conformance', '--', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
  exitCode = await new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  clearTimeout(timer);
  runs = readJsonReport(join(out, 'conformance.json'));
}, RUN_LIMIT_MS + 30_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Each row of a generated conformance.md as `scenario direct gateway why`, without counts (they may vary) or the date. */
function tableOf(markdown: string): string[] {
  const verdict = (cell: string) => (cell.includes('fail') ? 'fail' : 'pass');
  return [...markdown.matchAll(/^\| `([^`]+)`[^|]*\| ([^|]+) \| ([^|]+) \| (.*) \|$/gm)].map((m) => `${m[1]} ${verdict(m[2]!)} ${verdict(m[3]!)} ${m[4]!.trim()}`);
}

describe('MCP conformance suites, direct and through Skillgate', () => {
  it('ran both pinned suites against both targets, within their time limits', () => {
    expect(runs.map((r) => `${r.suite.id} ${r.target}`).sort()).toEqual(SUITES.flatMap((s) => [`${s.id} direct`, `${s.id} gateway`]).sort());
    for (const r of runs) {
      expect(r.timedOut, `${r.suite.id} ${r.target} hit its time limit:\n${output.slice(-2000)}`).toBe(false);
      expect(r.results.length).toBeGreaterThan(25);
    }
  });

  it('the fixture passes every scenario of both suites directly', () => {
    for (const r of runs.filter((x) => x.target === 'direct')) {
      const failed = r.results.filter((x) => !x.passed).map((x) => `${x.scenario}: ${x.failures.join(' | ')}`);
      expect(failed, `conformance ${r.suite.version} against the fixture`).toEqual([]);
    }
    expect(loadExpected().direct).toEqual({});
  });

  it('through Skillgate, every scenario passes except the listed ones — and a listed one that passes fails the test', () => {
    const { problems } = compareWithExpected(runs, loadExpected());
    expect(problems, `the runs disagree with ${EXPECTED_FILE}; after a deliberate change run \`npm run conformance -- --update-expected\``).toEqual([]);
    // The command says the same with its exit code.
    expect(exitCode, output.slice(-3000)).toBe(0);
  });

  it('docs/conformance.md shows what this run measured', () => {
    const committed = tableOf(readFileSync(join(ROOT, 'docs', 'conformance.md'), 'utf8'));
    const now = tableOf(readFileSync(join(out, 'conformance.md'), 'utf8'));
    expect(now.length).toBe(runs.filter((r) => r.target === 'direct').reduce((n, r) => n + r.results.length, 0));
    expect(committed, 'docs/conformance.md is out of date: run `npm run conformance`').toEqual(now);
  });
});
