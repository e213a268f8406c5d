#!/usr/bin/env node
/**
 * The MCP Inspector CLI, as the README uses it:
 *
 *   npm run inspector -- http://127.0.0.1:8787/mcp/hr-desk --transport http \
 *       --header "Authorization: Bearer $TOKEN" --method tools/list
 *
 * The pinned `@modelcontextprotocol/inspector-cli` (a devDependency) needs Node ≥ 22 and runs
 * only from its own build folder (it reads its package.json relative to the working
 * directory). This runs it with this Node when it is ≥ 22, else with the Node 22 that
 * `npm install` put in .tools/node22 (scripts/fetch-node22.mjs) — never an unpinned `npx`
 * download.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'node_modules', '@modelcontextprotocol', 'inspector-cli', 'build');
const entry = join(build, 'index.js');
if (!existsSync(entry)) {
  process.stderr.write('skillgate: the MCP Inspector CLI is not installed: run `npm install` in the project folder\n');
  process.exit(2);
}
const pkg = `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;
const bundled = join(root, '.tools', 'node22', 'node_modules', pkg, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
const node = Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : bundled;
if (!existsSync(node)) {
  process.stderr.write('skillgate: the MCP Inspector CLI needs Node 22 or later: install it, or run `node scripts/fetch-node22.mjs`\n');
  process.exit(2);
}
const res = spawnSync(node, [entry, ...process.argv.slice(2)], { cwd: build, stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
process.exit(res.status ?? 1);
