/**
 * The conformance harness (`npm run conformance`): the official MCP conformance suites against
 * the conformance fixture server, once directly and once through a Skillgate gateway, with a
 * per-scenario report.
 *
 *   npm run conformance [-- --out <dir>] [--update-expected]
 *   npm run conformance -- --install-only        # just install the pinned suites
 *
 *   1. install the pinned suites (test/conformance/suites.ts) and find a Node ≥ 22;
 *   2. start the fixture server (test/conformance/fixture-server.ts);
 *   3. start a Skillgate front door whose `conformance` gateway fronts the fixture, unprefixed
 *      (test/conformance/gateway.ts), and the test-only proxy that adds its bearer token
 *      (test/conformance/proxy.ts);
 *   4. run each suite against the fixture and against the proxy;
 *   5. write `conformance.md` (the table) and `conformance.json` (every scenario's checks) into
 *      `--out` (default docs/), and compare the gateway column with
 *      test/conformance/expected-failures.yaml. Exit 1 when a scenario fails unexpectedly or an
 *      expected failure passes; `--update-expected` rewrites the file instead (reasons of entries
 *      that stay are kept; new entries get a reason to write).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startFixtureProcess } from './fixture-process.js';
import { startConformanceGateway } from './gateway.js';
import { startBearerProxy } from './proxy.js';
import { compareWithExpected, loadExpected, renderMarkdown, toJsonReport, updatedExpected, EXPECTED_FILE } from './report.js';
import { ensureSuite, node22, ROOT, runSuite, SUITES, type SuiteRun } from './suites.js';

export interface HarnessOptions {
  /** Where conformance.md and conformance.json go. */
  out: string;
  /** Upper bound of one suite run (each suite runs twice). */
  suiteTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface HarnessResult {
  runs: SuiteRun[];
  markdownFile: string;
  jsonFile: string;
}

/** Steps 1–5 above, without judging the result. */
export async function runHarness(opts: HarnessOptions): Promise<HarnessResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const fixture = await startFixtureProcess();
  const gateway = await startConformanceGateway(fixture.url);
  let token = await gateway.token();
  const proxy = await startBearerProxy(gateway.origin, () => token);
  const runs: SuiteRun[] = [];
  try {
    for (const suite of SUITES) {
      for (const [target, url] of [
        ['direct', fixture.url],
        ['gateway', `${proxy.origin}${gateway.path}`],
      ] as const) {
        log(`conformance ${suite.version} (${suite.id}) → ${target} ${url}`);
        token = await gateway.token();
        const run = await runSuite(suite, target, url, { timeoutMs: opts.suiteTimeoutMs ?? 240_000, scenarioTimeoutMs: 15_000, log });
        const passed = run.results.filter((r) => r.passed).length;
        log(`  ${passed}/${run.results.length} scenarios passed in ${(run.durationMs / 1000).toFixed(1)} s${run.timedOut ? ' (stopped at the time limit)' : ''}`);
        runs.push(run);
      }
    }
  } finally {
    await proxy.close();
    await gateway.close();
    await fixture.stop();
  }
  mkdirSync(opts.out, { recursive: true });
  const generated = new Date();
  const markdownFile = join(opts.out, 'conformance.md');
  const jsonFile = join(opts.out, 'conformance.json');
  writeFileSync(markdownFile, renderMarkdown(runs, loadExpected(), generated));
  writeFileSync(jsonFile, `${JSON.stringify(toJsonReport(runs, generated), null, 2)}\n`);
  return { runs, markdownFile, jsonFile };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const args = process.argv.slice(2);
  if (args.includes('--install-only')) {
    // CI (.ci/run) installs the pinned suites before the tests, so no test reaches the registry.
    node22();
    for (const suite of SUITES) process.stderr.write(`conformance ${suite.version}: ${ensureSuite(suite.version, (l) => process.stderr.write(`${l}\n`))}\n`);
    process.exit(0);
  }
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 && args[outAt + 1] ? resolve(args[outAt + 1]!) : join(ROOT, 'docs');
  const { runs, markdownFile } = await runHarness({ out });
  process.stderr.write(`report: ${markdownFile}\n`);
  if (args.includes('--update-expected')) {
    writeFileSync(EXPECTED_FILE, updatedExpected(runs, loadExpected()));
    // The page quotes the list's reasons: written again from the list just rewritten.
    writeFileSync(markdownFile, renderMarkdown(runs, loadExpected(), new Date()));
    process.stderr.write(`rewrote ${EXPECTED_FILE}: write a reason (in the spec's words) for every entry marked TODO\n`);
    process.exit(0);
  }
  const verdict = compareWithExpected(runs, loadExpected());
  for (const line of verdict.problems) process.stderr.write(`${line}\n`);
  process.exit(verdict.problems.length ? 1 : 0);
}
