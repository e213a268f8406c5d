/**
 * The official MCP conformance suites (`@modelcontextprotocol/conformance`), pinned, installed
 * outside the project's node_modules and run on Node ≥ 22 (the suites need it):
 *
 *   0.1.16          server scenarios at 2025-11-25   (`--suite all --spec-version 2025-11-25`)
 *   0.2.0-alpha.12  what 2026-07-28 requires, plus the scenarios it runs unscored — the tasks
 *                   extension and the pending ones   (`--requirements 2026-07-28`)
 *
 * Each version is installed with `npm ci` from the package.json + package-lock.json kept in
 * test/conformance/suites/<version>/ into `<tools>/conformance/<version>`, where `<tools>` is
 * `$SKILLGATE_CONFORMANCE_DIR` or `.tools/` (as scripts/fetch-node22.mjs keeps Node 22 there).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** One pinned suite and how it is run. */
export interface SuiteSpec {
  /** Short key, also the wire revision the scenarios run at. */
  id: '2025-11-25' | '2026-07-28';
  version: string;
  /** Arguments after `server --url <url>`. */
  args: string[];
  /**
   * Arguments after `server --url <url> --scenario <name>`: one scenario again, at the same
   * revision. None for alpha.12: alone, its scenarios do not run as under `--requirements` (it
   * bounds each scenario itself instead, `--timeout`).
   */
  oneScenario?: string[];
  /** What the args select, for the report. */
  selection: string;
}

export const SUITES: readonly SuiteSpec[] = [
  { id: '2025-11-25', version: '0.1.16', args: ['--suite', 'all', '--spec-version', '2025-11-25'], oneScenario: ['--spec-version', '2025-11-25'], selection: '`--suite all --spec-version 2025-11-25`' },
  { id: '2026-07-28', version: '0.2.0-alpha.12', args: ['--requirements', '2026-07-28'], selection: '`--requirements 2026-07-28` (scored, plus the tasks extension and pending scenarios it runs unscored)' },
];

/** Where the suites are installed. */
export function toolsDir(): string {
  return process.env.SKILLGATE_CONFORMANCE_DIR ? resolve(process.env.SKILLGATE_CONFORMANCE_DIR) : join(ROOT, '.tools', 'conformance');
}

const NODE_PKG = `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;

/** A Node ≥ 22: this one, or the one scripts/fetch-node22.mjs keeps in .tools/node22 (fetched if missing). */
export function node22(): string {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const bin = join(ROOT, '.tools', 'node22', 'node_modules', NODE_PKG, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (!existsSync(bin)) spawnSync(process.execPath, [join(ROOT, 'scripts', 'fetch-node22.mjs')], { stdio: 'inherit' });
  if (!existsSync(bin)) throw new Error(`the conformance suites need Node 22 or later; none at ${bin} (run \`node scripts/fetch-node22.mjs\`)`);
  return bin;
}

/** The suite's CLI entry, installing the pinned version first when it is not there. */
export function ensureSuite(version: string, log: (line: string) => void = () => {}): string {
  // The real path: npm ci with a --prefix through a symlink sees its root as a link and refuses the lock file.
  mkdirSync(toolsDir(), { recursive: true });
  const dir = join(realpathSync(toolsDir()), version);
  const pkg = join(dir, 'node_modules', '@modelcontextprotocol', 'conformance', 'package.json');
  const installed = existsSync(pkg) ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version : undefined;
  if (installed !== version) {
    const pinned = join(ROOT, 'test', 'conformance', 'suites', version);
    if (!existsSync(join(pinned, 'package-lock.json'))) throw new Error(`no pinned lock file for conformance ${version} in ${pinned}`);
    log(`installing @modelcontextprotocol/conformance@${version} into ${dir}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    cpSync(join(pinned, 'package.json'), join(dir, 'package.json'));
    cpSync(join(pinned, 'package-lock.json'), join(dir, 'package-lock.json'));
    const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
    // Under `npm run`, npm exports its own settings as npm_config_* (some empty, which a
    // newer npm refuses as option values): the child npm reads its own config instead.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_config_')));
    const res = spawnSync(npm[0]!, [...npm.slice(1), 'ci', '--prefix', dir, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    if (res.status !== 0 || !existsSync(pkg)) throw new Error(`npm ci of conformance ${version} failed (exit ${res.status}):\n${(res.stderr ?? '').slice(0, 2000)}`);
  }
  return join(dir, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
}

/** One check of a scenario, as the suite writes it to `checks.json`. */
const checkSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  description: z.string().optional(),
  status: z.enum(['SUCCESS', 'FAILURE', 'WARNING', 'SKIPPED', 'INFO']),
  errorMessage: z.string().optional(),
});
export type Check = z.infer<typeof checkSchema>;

/** A scenario's outcome: passed = it ran and no check failed (the suite's own rule). */
export interface ScenarioResult {
  scenario: string;
  passed: boolean;
  /** Counts by status. */
  checks: Record<Check['status'], number>;
  /** The failed checks: `id: message` (bounded), or why the scenario did not run. */
  failures: string[];
  /** Run but not scored by the requirement set, and why (`extension`, `pending`, …). */
  notScored?: string;
  /** Why the scenario was run a second time (its first run's failures); the result is the second run's. */
  retried?: string[];
}

export interface SuiteRun {
  suite: SuiteSpec;
  target: 'direct' | 'gateway';
  url: string;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  results: ScenarioResult[];
}

function summarize(scenario: string, checks: Check[]): ScenarioResult {
  const counts = { SUCCESS: 0, FAILURE: 0, WARNING: 0, SKIPPED: 0, INFO: 0 };
  for (const c of checks) counts[c.status]++;
  const failures = checks.filter((c) => c.status === 'FAILURE').map((c) => `${c.id}: ${(c.errorMessage ?? c.description ?? '').replace(/\s+/g, ' ').slice(0, 300)}`);
  return { scenario, passed: counts.FAILURE === 0, checks: counts, failures };
}

/**
 * Read a finished run: the scenarios the runner announced on stdout (`=== Running scenario: X ===`),
 * each with the checks it saved (`<out>/server-<X>-<timestamp>/checks.json`). A scenario that
 * was announced but saved nothing threw or was cut off: it failed.
 */
export function readResults(outDir: string, stdout: string, cutOff: boolean): ScenarioResult[] {
  // A run of one scenario (`--scenario X`) announces it as `Running client scenario 'X' against server: …`.
  // A whole run prints both lines for each scenario: each scenario once, in order.
  const announced = [...new Set([...stdout.matchAll(/^(?:=== Running scenario: (\S+) ===|Running client scenario '([^']+)' against server)/gm)].map((m) => (m[1] ?? m[2])!))];
  const dirs = existsSync(outDir) ? readdirSync(outDir) : [];
  // The runner's closing list of what a requirement set runs without scoring: `  ✗ tasks-lifecycle (extension)`.
  const unscored = new Map([...stdout.matchAll(/^\s+[✓✗] (\S+) \(([a-z-]+)\)$/gm)].map((m) => [m[1]!, m[2]!]));
  return announced.map((scenario) => withNotScored(unscored.get(scenario), readOne(scenario)));
  function readOne(scenario: string): ScenarioResult {
    // `server-<scenario>-<ISO timestamp with dashes>`; the timestamp starts with a 4-digit year.
    const dir = dirs.find((d) => d.startsWith(`server-${scenario}-`) && /^\d{4}-/.test(d.slice(`server-${scenario}-`.length)));
    const file = dir ? join(outDir, dir, 'checks.json') : undefined;
    if (!file || !existsSync(file)) {
      const thrown = new RegExp(`^Failed to run scenario ${scenario.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(.*)$`, 'm').exec(stdout);
      const why = thrown ? `the scenario threw:${thrown[1]}` : cutOff ? 'not finished: the suite run hit its time limit' : 'no checks were saved';
      return { scenario, passed: false, checks: { SUCCESS: 0, FAILURE: 1, WARNING: 0, SKIPPED: 0, INFO: 0 }, failures: [why] };
    }
    const parsed = z.array(checkSchema).safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`${file}: not the suite's checks.json format: ${parsed.error.message}`);
    return summarize(scenario, parsed.data);
  }
}

function withNotScored(reason: string | undefined, r: ScenarioResult): ScenarioResult {
  return reason ? { ...r, notScored: reason } : r;
}

/**
 * Run one suite's server scenarios against `url` (in a scratch folder: the suite writes its
 * results there). Bounded: past `timeoutMs` the run is stopped and what finished is kept.
 */
export async function runSuite(suite: SuiteSpec, target: SuiteRun['target'], url: string, opts: { timeoutMs: number; scenarioTimeoutMs?: number; log?: (line: string) => void }): Promise<SuiteRun> {
  const entry = ensureSuite(suite.version, opts.log);
  const started = Date.now();
  const first = await runOnce(suite, entry, url, suite.args, opts);
  if (first.results.length === 0) throw new Error(`conformance ${suite.version} against ${url} ran no scenario (exit ${first.exitCode}):\n${first.stdout.slice(-3000)}`);
  // A scenario whose only failure is a request that hit the suite's own timeout (-32001) is run
  // once more, alone: on a loaded machine (the whole test suite runs beside it) a slow answer is
  // not a conformance failure. Any other failure, or a second timeout, stands.
  const results: ScenarioResult[] = [];
  for (const r of first.results) {
    if (!suite.oneScenario || r.passed || first.timedOut || !r.failures.every((f) => TIMED_OUT.test(f))) {
      results.push(r);
      continue;
    }
    opts.log?.(`conformance ${suite.version} ${target}: ${r.scenario} timed out (${r.failures.join('; ')}); running it once more`);
    const again = await runOnce(suite, entry, url, ['--scenario', r.scenario, ...suite.oneScenario], { ...opts, timeoutMs: Math.min(opts.timeoutMs, 60_000) });
    const second = again.results.find((x) => x.scenario === r.scenario);
    results.push(second ? { ...withNotScored(r.notScored, second), retried: r.failures } : r);
  }
  return { suite, target, url, exitCode: first.exitCode, timedOut: first.timedOut, durationMs: Date.now() - started, results };
}

/** A check failed only because the suite's request timed out (MCP error -32001). */
const TIMED_OUT = /-32001|Request timed out/i;

async function runOnce(suite: SuiteSpec, entry: string, url: string, select: string[], opts: { timeoutMs: number; scenarioTimeoutMs?: number }): Promise<{ exitCode: number | null; timedOut: boolean; stdout: string; results: ScenarioResult[] }> {
  const work = mkdtempSync(join(tmpdir(), `skillgate-conformance-${suite.id}-`));
  const out = join(work, 'results');
  // alpha.12 bounds each scenario itself; 0.1.16 has no such option (the overall bound applies).
  const perScenario = suite.version.startsWith('0.2') && opts.scenarioTimeoutMs ? ['--timeout', String(opts.scenarioTimeoutMs)] : [];
  const args = [entry, 'server', '--url', url, ...select, ...perScenario, '-o', out];
  let stdout = '';
  const child = spawn(node22(), args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', NODE_NO_WARNINGS: '1' } });
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  const exitCode = await new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  clearTimeout(timer);
  const results = readResults(out, stdout, timedOut);
  rmSync(work, { recursive: true, force: true });
  return { exitCode, timedOut, stdout, results };
}
