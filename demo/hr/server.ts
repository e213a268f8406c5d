/**
 * Demo HR system as an MCP server: employees and their compensation. Compensation is readable
 * by the employee, their managers (up the chain) and HR admins only — enforced HERE, in the
 * business system, on top of Skillgate's policies (defence in depth; PRODUCT.md "Authorization
 * depth").
 *
 * Who is asking: the `sub` of the trinary token Skillgate minted for this call (demo/auth.ts:
 * verified against Skillgate's JWKS, audience `urn:acme:hr`), never anything the caller says.
 */
import { callerOf } from '../auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { openStore, type Store } from '../store.js';



export interface Employee {
  employeeId: string;
  name: string;
  title: string;
  department: string;
  managerId: string | null;
  hrAdmin: boolean;
  compensation: { baseSalary: number; bonusTarget: number; currency: 'EUR' };
}

export interface HrData {
  employees: Record<string, Employee>;
}

export function seedHr(): HrData {
  const list: Employee[] = [
    { employeeId: 'ceo', name: 'Carla Ortiz', title: 'Chief Executive Officer', department: 'Executive', managerId: null, hrAdmin: false, compensation: { baseSalary: 480_000, bonusTarget: 240_000, currency: 'EUR' } },
    { employeeId: 'hr-admin', name: 'Hana Ruiz', title: 'HR Business Partner', department: 'People', managerId: 'ceo', hrAdmin: true, compensation: { baseSalary: 78_000, bonusTarget: 6_000, currency: 'EUR' } },
    { employeeId: 'credit-officer', name: 'Olga Chen', title: 'Senior Credit Officer', department: 'Credit', managerId: 'ceo', hrAdmin: false, compensation: { baseSalary: 95_000, bonusTarget: 12_000, currency: 'EUR' } },
    { employeeId: 'loan-clerk', name: 'Luis Moreno', title: 'Loan Clerk', department: 'Credit', managerId: 'credit-officer', hrAdmin: false, compensation: { baseSalary: 48_000, bonusTarget: 2_000, currency: 'EUR' } },
    { employeeId: 'intern', name: 'Ian Park', title: 'Intern', department: 'Credit', managerId: 'credit-officer', hrAdmin: false, compensation: { baseSalary: 21_000, bonusTarget: 0, currency: 'EUR' } },
  ];
  return { employees: Object.fromEntries(list.map((e) => [e.employeeId, e])) };
}

export function openHr(stateDir: string | undefined): Store<HrData> {
  return openStore('hr', stateDir, seedHr);
}

/** True when `viewer` may see `subject`'s compensation: self, a manager up the chain, or HR admin. */
export function mayReadCompensation(data: HrData, viewer: string, subject: string): boolean {
  if (viewer === subject) return true;
  if (data.employees[viewer]?.hrAdmin) return true;
  const seen = new Set<string>();
  for (let m = data.employees[subject]?.managerId; m && !seen.has(m); m = data.employees[m]?.managerId) {
    if (m === viewer) return true;
    seen.add(m);
  }
  return false;
}

const employeeId = z.string().min(1).max(64).describe('Employee id (the same as the user id), e.g. "intern"');

function ok<T extends Record<string, unknown>>(data: T): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

function fail(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** The scopes each HR tool needs (skillgate.yaml `servers.hr.auth` asks for the same). */
export const HR_AUTH = { audience: 'urn:acme:hr', scopes: { get_employee: ['hr.directory.read'], get_compensation: ['hr.compensation.read'] } };

export function createHrServer(store: Store<HrData>, guard?: (server: McpServer) => void): McpServer {
  const server = new McpServer(
    { name: 'demo-hr', version: '1.0.0' },
    { instructions: 'Acme Bank HR: employee directory and compensation. Compensation is visible to the employee, their managers and HR admins only.' },
  );

  guard?.(server);
  const caller = (extra: Parameters<typeof callerOf>[0]): string | undefined => callerOf(extra)?.user;

  server.registerTool(
    'get_employee',
    {
      title: 'Get employee',
      description: "Directory entry of one employee: name, title, department and manager. Visible to every employee.",
      inputSchema: { employeeId },
      outputSchema: { employeeId: z.string(), name: z.string(), title: z.string(), department: z.string(), managerId: z.string().nullable() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ employeeId: id }, extra) => {
      if (!caller(extra)) return fail('no acting user on this request');
      const e = store.read().employees[id];
      if (!e) return fail(`no employee with id ${id}`);
      return ok({ employeeId: e.employeeId, name: e.name, title: e.title, department: e.department, managerId: e.managerId });
    },
  );

  server.registerTool(
    'get_compensation',
    {
      title: 'Get compensation',
      description: "An employee's base salary and bonus target. Only the employee, their managers and HR admins may read it.",
      inputSchema: { employeeId },
      outputSchema: { employeeId: z.string(), baseSalary: z.number(), bonusTarget: z.number(), currency: z.literal('EUR') },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ employeeId: id }, extra) => {
      const viewer = caller(extra);
      if (!viewer) return fail('no acting user on this request');
      const data = store.read();
      const e = data.employees[id];
      // Same answer for "unknown" and "not yours": do not confirm who exists.
      if (!e || !mayReadCompensation(data, viewer, id)) return fail(`compensation of ${id} is not available to ${viewer}`);
      return ok({ employeeId: id, ...e.compensation });
    },
  );

  return server;
}
