/**
 * Clients nobody here wrote, and many at once:
 *  - the MCP Inspector CLI lists a gateway's tools with a bearer token;
 *  - 50 users × 20 calls through one agent's gateway: every answer belongs to its caller.
 */
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedHr } from '../demo/hr/server.js';
import { startTestGateway, structured, type TestGateway } from './helpers/gateway.js';
import { ROOT } from './helpers/workspace.js';

const run = promisify(execFile);

/** Node ≥ 22 for the Inspector: this one if it is, else the copy scripts/fetch-node22.mjs installed. */
function node22Path(): string {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const p = join(ROOT, '.tools/node22/node_modules', `node-${process.platform}-${process.arch}`, 'bin/node');
  if (!existsSync(p)) throw new Error(`Node 22 is needed for the MCP Inspector CLI: run \`node scripts/fetch-node22.mjs\` (looked for ${p})`);
  return p;
}
const USERS = Array.from({ length: 50 }, (_, i) => `emp-${String(i + 1).padStart(2, '0')}`);

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ extra: { users: Object.fromEntries(USERS.map((u) => [u, { roles: ['employee'] }])) } });
  // The HR system knows the 50 employees too (each with a distinct salary).
  const hr = seedHr();
  USERS.forEach((u, i) => {
    hr.employees[u] = { employeeId: u, name: `Employee ${i + 1}`, title: 'Analyst', department: 'Ops', managerId: 'ceo', hrAdmin: false, compensation: { baseSalary: 50_000 + i, bonusTarget: 0, currency: 'EUR' } };
  });
  writeFileSync(join(t.ws.stateDir, 'hr.json'), JSON.stringify(hr));
});
afterAll(async () => {
  await t?.close();
});

describe('real clients', () => {
  it('the MCP Inspector CLI lists the gateway tools with a bearer token', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const node22 = node22Path();
    // The Inspector's CLI proper; it looks for its package.json relative to the working directory.
    const buildDir = join(ROOT, 'node_modules/@modelcontextprotocol/inspector-cli/build');
    const { stdout } = await run(node22, [join(buildDir, 'index.js'), t.gw.resourceUrl('hr-desk'), '--transport', 'http', '--header', `Authorization: Bearer ${token}`, '--method', 'tools/list'], {
      timeout: 60_000,
      cwd: buildDir,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    const listed = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { tools: Array<{ name: string }> };
    expect(listed.tools.map((x) => x.name).sort()).toEqual(['hr.get_compensation', 'hr.get_employee']);
  });

  it('50 concurrent users × 20 calls through one agent: every answer is the caller’s own, zero errors', async () => {
    const clients = await Promise.all(USERS.map((u) => t.connect(u, 'hr-assistant', 'hr-desk')));
    let errors = 0;
    let mismatched = 0;
    await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; k < 20; k++) {
          const r = await c.callTool({ name: 'hr.get_compensation', arguments: { employeeId: USERS[i]! } }).catch(() => undefined);
          if (!r || r.isError) {
            errors++;
            continue;
          }
          const s = structured<{ employeeId: string; baseSalary: number }>(r);
          if (s.employeeId !== USERS[i] || s.baseSalary !== 50_000 + i) mismatched++;
        }
      }),
    );
    expect({ errors, mismatched }).toEqual({ errors: 0, mismatched: 0 });
    // And nobody can read a colleague's record through the same agent.
    const peek = await clients[0]!.callTool({ name: 'hr.get_compensation', arguments: { employeeId: USERS[1]! } });
    expect(peek.isError).toBe(true);
  });
});
