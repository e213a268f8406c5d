/**
 * The expected-failures list of the conformance run (test/conformance/report.ts): what makes a
 * run disagree with it, and what makes the file itself unreadable. Runs are built here from
 * results, as the suites report them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareWithExpected, type Expected, loadExpected } from './conformance/report.js';
import { readResults, type ScenarioResult, SUITES, type SuiteRun } from './conformance/suites.js';

const suite = SUITES.find((s) => s.id === '2025-11-25')!;
const pass = (scenario: string): ScenarioResult => ({ scenario, passed: true, checks: { SUCCESS: 1, FAILURE: 0, WARNING: 0, SKIPPED: 0, INFO: 0 }, failures: [] });
const fail = (scenario: string): ScenarioResult => ({ scenario, passed: false, checks: { SUCCESS: 0, FAILURE: 1, WARNING: 0, SKIPPED: 0, INFO: 0 }, failures: [`${scenario}: Method not found`] });
const run = (...results: ScenarioResult[]): SuiteRun => ({ suite, target: 'gateway', url: 'http://127.0.0.1/mcp', exitCode: 1, timedOut: false, durationMs: 1, results });
const listing = (entries: Record<string, string>): Expected => ({ gateway: { '2025-11-25': entries }, direct: {} });

describe('comparing a run with the expected failures', () => {
  it('agrees when exactly the listed scenarios fail', () => {
    expect(compareWithExpected([run(pass('ping'), fail('prompts-list'))], listing({ 'prompts-list': 'not exposed yet' })).problems).toEqual([]);
  });

  it('a listed scenario that passes is a problem: the list only shrinks', () => {
    const { problems } = compareWithExpected([run(pass('prompts-list'))], listing({ 'prompts-list': 'not exposed yet' }));
    expect(problems).toEqual([expect.stringMatching(/gateway 2025-11-25 .*prompts-list passes now: remove it from/)]);
  });

  it('an unlisted failure is a problem naming the failing checks', () => {
    const { problems } = compareWithExpected([run(fail('tools-list'))], listing({}));
    expect(problems).toEqual([expect.stringMatching(/tools-list fails and is not in .*expected-failures\.yaml: tools-list: Method not found/)]);
  });

  it('a listed scenario the suite did not run is a problem, and so is a reason still to be written', () => {
    const { problems } = compareWithExpected([run(fail('prompts-list'))], listing({ 'prompts-list': 'TODO: prompts-list: Method not found', 'gone-scenario': 'was renamed' }));
    expect(problems).toEqual([expect.stringMatching(/prompts-list: write the reason/), expect.stringMatching(/gone-scenario is listed .* but the suite did not run it/)]);
  });
});

describe('reading the expected-failures file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-expected-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const load = (text: string) => {
    const file = join(dir, 'expected.yaml');
    writeFileSync(file, text);
    return () => loadExpected(file);
  };

  it('the committed list reads, with a one-line reason per entry', () => {
    const expected = loadExpected();
    for (const bySuite of [expected.gateway, expected.direct]) {
      for (const entries of Object.values(bySuite)) for (const why of Object.values(entries ?? {})) expect(why).toMatch(/^[^\n]{20,}$/);
    }
  });

  it.each([
    ['an entry without a reason', 'gateway:\n  "2025-11-25":\n    tools-list: ""\n', /gateway\.2025-11-25\.tools-list: a reason is required/],
    ['a reason over two lines', 'gateway:\n  "2025-11-25":\n    tools-list: |\n      one\n      two\n', /gateway\.2025-11-25\.tools-list: one line per reason/],
    ['an unknown suite run', 'gateway:\n  "2024-11-05": {}\n', /gateway: Unrecognized key: "2024-11-05"/],
    ['an unknown section', 'proxy: {}\n', /unrecognized key.*proxy/i],
  ])('refuses %s, naming the key', (_what, text, message) => {
    expect(load(text)).toThrow(message);
  });
});

describe('reading a suite run', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const outWith = (scenario: string, checks: unknown[]): string => {
    const out = mkdtempSync(join(tmpdir(), 'skillgate-conformance-read-'));
    dirs.push(out);
    mkdirSync(join(out, `server-${scenario}-2026-12-06T09-15-52-945Z`));
    writeFileSync(join(out, `server-${scenario}-2026-12-06T09-15-52-945Z`, 'checks.json'), JSON.stringify(checks));
    return out;
  };

  it('reads a whole run (=== Running scenario ===) and a run of one scenario (--scenario) alike', () => {
    const failed = [{ id: 'tools-call-sampling', status: 'FAILURE', errorMessage: 'MCP error -32001: Request timed out' }];
    const out = outWith('tools-call-sampling', failed);
    // A whole run announces each scenario twice (both lines); it is read once.
    const whole = readResults(out, "=== Running scenario: tools-call-sampling ===\nRunning client scenario 'tools-call-sampling' against server: http://127.0.0.1:1/mcp\n", false);
    const one = readResults(out, "Running client scenario 'tools-call-sampling' against server: http://127.0.0.1:1/mcp\nPassed: 0/1\n", false);
    expect(one).toEqual(whole);
    expect(one).toEqual([{ scenario: 'tools-call-sampling', passed: false, checks: { SUCCESS: 0, FAILURE: 1, WARNING: 0, SKIPPED: 0, INFO: 0 }, failures: ['tools-call-sampling: MCP error -32001: Request timed out'] }]);
  });

  it('a scenario announced but with no checks saved failed, and says why', () => {
    const out = outWith('other', []);
    expect(readResults(out, "Running client scenario 'tools-call-sampling' against server: x\n", true)[0]).toMatchObject({ passed: false, failures: ['not finished: the suite run hit its time limit'] });
  });
});
