#!/usr/bin/env node
/**
 * Makes sure Temporal's own server (not the dev server) is built for the tests that run
 * Skillgate on a real cluster (test/temporal-server.test.ts): `temporal-server` and
 * `temporal-sql-tool` (which embeds the SQL schemas: `--schema-name postgresql/v12/temporal`)
 * in .tools/temporal-server/<version>/.
 *
 * Why from source: the server's release binaries live on GitHub and temporal.download, hosts
 * that machines limited to package registries cannot reach; the Go module proxy serves the
 * source, and `go install` builds it (`-trimpath`: no local paths in the binaries).
 *
 * Heavy (minutes from an empty Go cache, ~270 MB of binaries), so not part of `npm ci`;
 * `.ci/run` runs it before the tests, and the test calls ensureTemporalServer() itself.
 * Idempotent: when both binaries are there it only says so. It exits non-zero with one line
 * when Go is missing or the build fails. $GO names the `go` binary (default: `go` on PATH).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { executable, onPath } from './lib.mjs';

/** The pinned server version (v1.32.2 needs go >= 1.26.10). */
export const TEMPORAL_SERVER_VERSION = 'v1.32.1';
const MODULE = 'go.temporal.io/server';
/** The binaries `go install` writes (named after their package folders) and what they are called here. */
const BINARIES = [
  { pkg: 'cmd/server', built: 'server', name: 'temporal-server' },
  { pkg: 'cmd/tools/sql', built: 'sql', name: 'temporal-sql-tool' },
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function findGo() {
  if (process.env.GO) return process.env.GO;
  return onPath('go') ?? ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find(executable);
}

/** Why ensureTemporalServer() could not provide the binaries (one line). */
export class TemporalServerBuildError extends Error {
  name = 'TemporalServerBuildError';
}

/**
 * The folder and binaries of the pinned server, built when missing.
 * @param {{ log?: (line: string) => void, toolsDir?: string }} [opts]
 * @returns {{ version: string, dir: string, server: string, sqlTool: string, built: boolean, seconds: number }}
 */
export function ensureTemporalServer(opts = {}) {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  const dir = join(opts.toolsDir ?? join(root, '.tools'), 'temporal-server', TEMPORAL_SERVER_VERSION);
  const out = {
    version: TEMPORAL_SERVER_VERSION,
    dir,
    server: join(dir, 'temporal-server'),
    sqlTool: join(dir, 'temporal-sql-tool'),
    built: false,
    seconds: 0,
  };
  if (executable(out.server) && executable(out.sqlTool)) {
    out.seconds = (Date.now() - started) / 1000;
    return out;
  }

  const go = findGo();
  if (process.env.GO && !executable(process.env.GO)) throw new TemporalServerBuildError(`GO=${process.env.GO} is not an executable: needed to build ${MODULE}@${TEMPORAL_SERVER_VERSION}`);
  if (!go) throw new TemporalServerBuildError(`Go is not installed (no \`go\` on PATH, set GO=/path/to/go): needed to build ${MODULE}@${TEMPORAL_SERVER_VERSION}`);
  const goVersion = spawnSync(go, ['env', 'GOVERSION'], { encoding: 'utf8' });
  if (goVersion.status !== 0) throw new TemporalServerBuildError(`${go} does not run: ${(goVersion.stderr || goVersion.error?.message || '').trim().split('\n')[0]}`);

  mkdirSync(dir, { recursive: true });
  // Built into a fresh folder beside the final one and moved in when both are there: an
  // interrupted build leaves nothing that looks finished.
  const staging = mkdtempSync(join(dir, '.build-'));
  const targets = BINARIES.map((b) => `${MODULE}/${b.pkg}@${TEMPORAL_SERVER_VERSION}`);
  log(`building ${MODULE}@${TEMPORAL_SERVER_VERSION} (${BINARIES.map((b) => b.name).join(', ')}) with ${goVersion.stdout.trim()}: minutes from an empty Go cache…`);
  const r = spawnSync(go, ['install', '-trimpath', ...targets], {
    cwd: staging,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GOBIN: staging },
    maxBuffer: 64 * 1024 * 1024,
  });
  try {
    if (r.error || r.status !== 0) {
      const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').filter((l) => l && !l.startsWith('go: downloading'));
      if (lines.length) log(lines.slice(-15).join('\n'));
      const last = r.error?.message ?? lines.pop() ?? `exit code ${r.status}`;
      throw new TemporalServerBuildError(`go install ${MODULE}@${TEMPORAL_SERVER_VERSION} failed: ${last.slice(0, 300)}`);
    }
    for (const b of BINARIES) {
      const built = join(staging, b.built);
      if (!executable(built)) throw new TemporalServerBuildError(`go install wrote no ${b.built} binary for ${MODULE}/${b.pkg}`);
      renameSync(built, join(dir, b.name));
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  out.built = true;
  out.seconds = (Date.now() - started) / 1000;
  log(`temporal-server ${TEMPORAL_SERVER_VERSION} built in ${out.seconds.toFixed(1)} s: ${dir}`);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const say = (line) => process.stdout.write(`skillgate: ${line}\n`);
  try {
    const r = ensureTemporalServer({ log: say });
    if (!r.built) say(`temporal-server ${r.version} is there (${r.dir}; checked in ${(r.seconds * 1000).toFixed(0)} ms)`);
  } catch (err) {
    process.stderr.write(`skillgate: ${err instanceof TemporalServerBuildError ? err.message : err?.stack ?? err}\n`);
    process.exit(1);
  }
}
