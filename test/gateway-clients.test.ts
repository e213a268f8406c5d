/**
 * Clients nobody here wrote, and many at once:
 *  - the MCP Inspector CLI (2.x, pinned in scripts/inspector/) lists and calls a gateway's tools
 *    with a bearer token, in the 2025-11-25 era and in the 2026-07-28 era;
 *  - 50 users × 20 calls through one agent's gateway: every answer belongs to its caller.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedHr } from '../demo/hr/server.js';
import { startTestGateway, structured, type TestGateway } from './helpers/gateway.js';
import { ROOT } from './helpers/workspace.js';

const run = promisify(execFile);

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
  it.each(['legacy', 'modern'])('the MCP Inspector CLI (%s era) lists the gateway tools and calls one with a bearer token', async (era) => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const sessionsBefore = t.gw.sessions.size;
    const inspector = async (args: string[]): Promise<unknown> => {
      const { stdout, stderr } = await run(
        process.execPath,
        [join(ROOT, 'scripts/inspector.mjs'), t.gw.resourceUrl('hr-desk'), '--transport', 'http', '--header', `Authorization: Bearer ${token}`, '--protocol-era', era, '--format', 'json', ...args],
        { timeout: 90_000, env: { ...process.env, NODE_NO_WARNINGS: '1' } },
      );
      expect(stdout, stderr).not.toBe('');
      // --format json: one object, the method's result under `result`.
      return (JSON.parse(stdout) as { result: unknown }).result;
    };
    const listed = (await inspector(['--method', 'tools/list'])) as { tools: Array<{ name: string }> };
    expect(listed.tools.map((x) => x.name).sort()).toEqual(['hr.get_compensation', 'hr.get_employee']);
    const called = (await inspector(['--method', 'tools/call', '--tool-name', 'hr.get_employee', '--tool-arg', 'employeeId=intern'])) as {
      structuredContent?: { employeeId?: string };
      isError?: boolean;
    };
    expect(called.isError).toBeFalsy();
    expect(called.structuredContent?.employeeId).toBe('intern');
    // The modern era opened no session on the way.
    if (era === 'modern') expect(t.gw.sessions.size).toBe(sessionsBefore);
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
