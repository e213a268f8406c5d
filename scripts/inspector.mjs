#!/usr/bin/env node
/**
 * The MCP Inspector CLI (2.x), as the README uses it:
 *
 *   npm run inspector -- http://127.0.0.1:8787/mcp/hr-desk --transport http \
 *       --header "Authorization: Bearer $TOKEN" --method tools/list
 *
 * (`--protocol-era modern` speaks MCP 2026-07-28; the default is 2025-11-25.)
 *
 * The Inspector is pinned (scripts/inspector/package.json + package-lock.json) and installed
 * with `npm ci` into .tools/inspector on first use — never an unpinned `npx` download, and
 * not in the project's node_modules (it brings its own SDK, React and Vite for its web UI).
 * It needs Node ≥ 22.19: this Node when it is, else the Node 22 that `npm install` put in
 * .tools/node22 (scripts/fetch-node22.mjs). `--install-only` installs and exits (CI).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = join(root, 'scripts', 'inspector');
const want = JSON.parse(readFileSync(join(pinned, 'package.json'), 'utf8')).dependencies['@modelcontextprotocol/inspector'];
const dir = join(root, '.tools', 'inspector');
const pkgJson = join(dir, 'node_modules', '@modelcontextprotocol', 'inspector', 'package.json');
const entry = join(dir, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'cli', 'build', 'index.js');

const fail = (message) => {
  process.stderr.write(`skillgate: ${message}\n`);
  process.exit(2);
};

const plat = `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;
const bundled = join(root, '.tools', 'node22', 'node_modules', plat, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
const [major, minor] = process.versions.node.split('.').map(Number);
const node = major > 22 || (major === 22 && minor >= 19) ? process.execPath : bundled;
if (!existsSync(node)) fail('the MCP Inspector needs Node 22.19 or later: install it, or run `node scripts/fetch-node22.mjs`');

const installed = existsSync(pkgJson) ? JSON.parse(readFileSync(pkgJson, 'utf8')).version : undefined;
if (installed !== want) {
  process.stderr.write(`skillgate: installing the MCP Inspector ${want} into .tools/inspector (once)\n`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(join(pinned, 'package.json'), join(dir, 'package.json'));
  cpSync(join(pinned, 'package-lock.json'), join(dir, 'package-lock.json'));
  // npm takes a prefix reached through a symlink (.tools may be one) for a link to a dependency.
  const target = realpathSync(dir);
  // npm itself runs on the Node that runs the Inspector (the Inspector's engines say ≥ 22.19).
  const npm = process.env.npm_execpath ?? join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  const res = spawnSync(node, [npm, 'ci', '--prefix', target, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, INSPECTOR_SKIP_CLIENT_INSTALL: '1' },
  });
  if (res.status !== 0 || !existsSync(entry)) fail(`could not install the MCP Inspector ${want} (npm ci exit ${res.status})`);
}
if (process.argv.includes('--install-only')) process.exit(0);

// The CLI runs only when argv[1] is its own real path (it compares them), so no symlinked path.
const res = spawnSync(node, [realpathSync(entry), ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
process.exit(res.status ?? 1);
