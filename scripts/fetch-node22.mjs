#!/usr/bin/env node
/**
 * Some MCP tools used by the tests need Node 22 (the MCP Inspector CLI; the conformance
 * suite uses fs.globSync). The npm registry ships Node itself as `node-<platform>-<arch>`
 * packages; this installs one into .tools/node22 (not into node_modules, where its `node`
 * bin would shadow the project's own Node for every npm script).
 *
 * Best effort and quiet when already present; `SKILLGATE_SKIP_NODE22_FETCH=1` skips it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;
const prefix = join(root, '.tools', 'node22');
const bin = join(prefix, 'node_modules', pkg, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');

if (process.env.SKILLGATE_SKIP_NODE22_FETCH === '1' || existsSync(bin)) process.exit(0);
if (Number(process.versions.node.split('.')[0]) >= 22) process.exit(0);

const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
const res = spawnSync(npm[0], [...npm[1], 'install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${pkg}@22`], {
  stdio: ['ignore', 'ignore', 'pipe'],
  encoding: 'utf8',
});
if (res.status !== 0 || !existsSync(bin)) {
  process.stderr.write(`skillgate: could not fetch Node 22 (${pkg}@22) for the MCP Inspector test; it will fail until Node 22 is available.\n${(res.stderr ?? '').slice(-400)}\n`);
} else {
  process.stderr.write(`skillgate: Node 22 for MCP tooling in ${bin}\n`);
}
