/**
 * The front door's Streamable HTTP framing (gateway/mcp/http-transport.ts): JSON answers for
 * plain calls, SSE when the caller asked for progress, the standalone GET stream carrying
 * tools/list_changed after a policy change, session end, and the refusals of malformed requests.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { eventually } from './helpers/skill-harness.js';
import { ROOT } from './helpers/workspace.js';

const policyDir = mkdtempSync(join(tmpdir(), 'skillgate-policies-'));
for (const f of ['agents.cedar', 'users.cedar', 'arguments.cedarschema']) copyFileSync(join(ROOT, 'policies', f), join(policyDir, f));
let t: TestGateway;
let token: string;
let url: string;

beforeAll(async () => {
  t = await startTestGateway({ extra: { policies: [join(policyDir, '*.cedar')] } });
  token = await t.token('ceo', 'hr-assistant', 'hr-desk');
  url = t.gw.resourceUrl('hr-desk');
});
afterAll(async () => {
  await t?.close();
  rmSync(policyDir, { recursive: true, force: true });
});

const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: JSON.stringify(body),
  });
}

async function openSession(): Promise<Record<string, string>> {
  const res = await post(INIT);
  expect(res.status).toBe(200);
  const sid = res.headers.get('mcp-session-id');
  expect(sid).toBeTruthy();
  await res.text();
  const headers = { 'mcp-session-id': sid!, 'mcp-protocol-version': '2025-11-25' };
  expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(202);
  return headers;
}

describe('answers', () => {
  it('a plain call is answered with JSON; a call asking for progress with an SSE stream', async () => {
    const h = await openSession();
    const call = (id: number, meta?: object) =>
      post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'hr.get_employee', arguments: { employeeId: 'intern' }, ...(meta ? { _meta: meta } : {}) } }, h);

    const plain = await call(1);
    expect(plain.headers.get('content-type')).toBe('application/json');
    expect(plain.headers.get('mcp-session-id')).toBe(h['mcp-session-id']);
    const body = (await plain.json()) as { id: number; result: { structuredContent: { employeeId: string } } };
    expect(body.id).toBe(1);
    expect(body.result.structuredContent.employeeId).toBe('intern');

    const streamed = await call(2, { progressToken: 'p-2' });
    expect(streamed.headers.get('content-type')).toBe('text/event-stream');
    const events = (await streamed.text()).split('\n\n').filter((e) => e.startsWith('event: message'));
    const last = JSON.parse(events.at(-1)!.split('data: ')[1]!) as { id: number; result: unknown };
    expect(last.id).toBe(2);
  });

  it('a batch is refused with -32600 before anything in it runs (batches left MCP in 2025-06-18)', async () => {
    const h = await openSession();
    const calls = (tag: string) => ({ jsonrpc: '2.0', id: tag, method: 'tools/call', params: { name: 'hr.get_employee', arguments: { employeeId: 'intern' } } });
    const res = await post([calls('a'), calls('b')], h);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: number; message: string }; id: null };
    expect(body.error.code).toBe(-32600);
    expect(body.error.message).toMatch(/batches are not supported/);
    const line = t.logs.find((l) => l.event === 'refusal' && l.code === 'ERR_JSONRPC_BATCH');
    expect(line).toMatchObject({ status: 400, gateway: 'hr-desk', agent: 'hr-assistant', requestId: expect.any(String) });
  });
});

describe('refusals', () => {
  it('refuses what the transport spec refuses, with a JSON-RPC error body', async () => {
    const h = await openSession();
    const cases: Array<[Response, number, RegExp]> = [
      [await post(INIT, { accept: 'application/json' }), 406, /must accept both/],
      [await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), 400, /not initialized/],
      [await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...h, 'mcp-protocol-version': '1999-01-01' }), 400, /Unsupported protocol version/],
      [await post(INIT, h), 400, /already initialized/],
      [await post({ hello: 'world' }, h), 400, /Invalid JSON-RPC/],
      [await post([], h), 400, /batches are not supported/],
    ];
    for (const [res, status, message] of cases) {
      expect(res.status).toBe(status);
      const body = (await res.json()) as { jsonrpc: string; error: { message: string } };
      expect(body.jsonrpc).toBe('2.0');
      expect(body.error.message).toMatch(message);
    }
  });

  it('DELETE ends the session; its id is then unknown', async () => {
    const h = await openSession();
    const del = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, ...h } });
    expect(del.status).toBe(200);
    const after = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, h);
    expect(after.status).toBe(404);
    await after.text();
  });
});

describe('server-initiated messages', () => {
  it('a policy change reaches open sessions as tools/list_changed on the GET stream, and the new list applies', async () => {
    const client = await t.connect('intern', 'hr-assistant', 'hr-desk');
    expect((await client.listTools()).tools.map((x) => x.name)).toContain('hr.get_employee');
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    // The SDK client opens the GET stream right after initialization: wait until the server holds it.
    await eventually(() => t.gw.sessions.all().some((s) => s.owner.includes('intern') && s.transport.hasStandaloneStream), 'the GET stream');

    const users = join(policyDir, 'users.cedar');
    writeFileSync(
      users,
      `${readFileSync(users, 'utf8')}\n@id("test.no-directory") forbid (principal, action, resource == Skillgate::Tool::"hr.get_employee");\n`,
    );
    await changed;
    const names = (await client.listTools()).tools.map((x) => x.name);
    expect(names).not.toContain('hr.get_employee');
    expect(names).toContain('hr.get_compensation');
  });
});
