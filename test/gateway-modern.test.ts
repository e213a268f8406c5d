/**
 * The front door in the 2026-07-28 era: stateless requests on the same URL as 2025 sessions,
 * each authorized by its own token. Clients: the MCP TypeScript SDK v2 client pinned to
 * 2026-07-28 (written by the SDK's authors, not us), and raw HTTP for what a client would
 * never send (wrong headers, unknown versions).
 */
import { appendFileSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, structured, type TestGateway } from './helpers/gateway.js';

const ROOT = join(import.meta.dirname, '..');
const policyDir = mkdtempSync(join(tmpdir(), 'skillgate-policies-'));
for (const f of ['agents.cedar', 'users.cedar', 'arguments.cedarschema']) copyFileSync(join(ROOT, 'policies', f), join(policyDir, f));

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ extra: { policies: [join(policyDir, '*.cedar')] } });
});
afterAll(async () => {
  await t?.close();
  rmSync(policyDir, { recursive: true, force: true });
});

async function modernClient(user: string, agent: string, gateway: string): Promise<V2Client> {
  const token = await t.token(user, agent, gateway);
  const c = new V2Client({ name: `modern-${user}`, version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await c.connect(new V2Transport(new URL(t.gw.resourceUrl(gateway)), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return c;
}

const META = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '0' },
  ...extra,
});

/** One raw POST with the standard headers (override any), answer parsed from JSON or SSE. */
async function post(gateway: string, token: string, body: Record<string, unknown>, headers: Record<string, string | undefined> = {}) {
  const params = (body.params ?? {}) as { name?: string; uri?: string };
  const h: Record<string, string> = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': String(body.method),
    ...(params.name ?? params.uri ? { 'mcp-name': String(params.name ?? params.uri) } : {}),
  };
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete h[k];
    else h[k] = v;
  }
  const res = await fetch(t.gw.resourceUrl(gateway), { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 7, ...body }) });
  const text = await res.text();
  const json = res.headers.get('content-type')?.includes('text/event-stream')
    ? JSON.parse(text.split('\n').filter((l) => l.startsWith('data: ')).at(-1)!.slice(6))
    : text
      ? JSON.parse(text)
      : undefined;
  return { status: res.status, json, headers: res.headers };
}

describe('2026-07-28 clients (stateless) on the same URL as 2025 sessions', () => {
  it('the AND-gate holds without any session: the intern reads their own compensation, not the CEO’s', async () => {
    const intern = await modernClient('intern', 'hr-assistant', 'hr-desk');
    const ceo = await modernClient('ceo', 'hr-assistant', 'hr-desk');
    try {
      const own = await intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'intern' } });
      expect(own.isError).toBeFalsy();
      expect(structured<{ employeeId: string }>(own).employeeId).toBe('intern');
      const theirs = await intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'ceo' } });
      expect(theirs.isError).toBe(true);
      expect(JSON.stringify(theirs.content)).toContain('not permitted for this user');
      const ceoOwn = await ceo.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'ceo' } });
      expect(ceoOwn.isError).toBeFalsy();
    } finally {
      await intern.close();
      await ceo.close();
    }
    // No session was opened by either client.
    expect(t.gw.sessions.size).toBe(0);
  });

  it('tools/list is per principal, deterministic, and carries caching hints and resultType', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const a = await post('hr-desk', token, { method: 'tools/list', params: { _meta: META() } });
    const b = await post('hr-desk', token, { method: 'tools/list', params: { _meta: META() } });
    expect(a.status).toBe(200);
    const names = (a.json.result.tools as Array<{ name: string }>).map((x) => x.name);
    expect(names).toEqual([...names].sort());
    expect(names.every((n) => n.startsWith('hr.'))).toBe(true);
    expect(b.json.result.tools).toEqual(a.json.result.tools);
    expect(a.json.result).toMatchObject({ resultType: 'complete', cacheScope: 'private', ttlMs: expect.any(Number) });
    expect(a.json.result._meta['io.modelcontextprotocol/serverInfo']).toEqual({ name: 'skillgate/hr-desk', version: expect.any(String) });
  });

  it('server/discover names the versions and capabilities', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const r = await post('hr-desk', token, { method: 'server/discover', params: { _meta: META() } });
    expect(r.status).toBe(200);
    expect(r.json.result.supportedVersions).toEqual(expect.arrayContaining(['2026-07-28', '2025-11-25']));
    expect(r.json.result.capabilities.tools).toEqual({ listChanged: true });
    expect(r.json.result.resultType).toBe('complete');
  });

  it('a mismatched Mcp-Method header is refused with 400 and -32020 before anything runs', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const r = await post('hr-desk', token, { method: 'tools/list', params: { _meta: META() } }, { 'mcp-method': 'prompts/list' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe(-32020);
    expect(r.json.id).toBe(7);
    const noName = await post('hr-desk', token, { method: 'tools/call', params: { name: 'hr.get_employee', arguments: { employeeId: 'intern' }, _meta: META() } }, { 'mcp-name': undefined });
    expect([noName.status, noName.json.error.code]).toEqual([400, -32020]);
    const wrongName = await post('hr-desk', token, { method: 'tools/call', params: { name: 'hr.get_employee', arguments: { employeeId: 'intern' }, _meta: META() } }, { 'mcp-name': 'hr.get_compensation' });
    expect([wrongName.status, wrongName.json.error.code]).toEqual([400, -32020]);
    const b64 = await post('hr-desk', token, { method: 'tools/call', params: { name: 'hr.get_employee', arguments: { employeeId: 'intern' }, _meta: META() } }, { 'mcp-name': `=?base64?${Buffer.from('hr.get_employee').toString('base64')}?=` });
    expect(b64.status).toBe(200);
    const versionHeader = await post('hr-desk', token, { method: 'tools/list', params: { _meta: META() } }, { 'mcp-protocol-version': '2025-11-25' });
    expect([versionHeader.status, versionHeader.json.error.code]).toEqual([400, -32020]);
  });

  it('an unsupported version gets -32022 listing the supported ones; missing _meta fields get -32602', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const r = await post('hr-desk', token, { method: 'tools/list', params: { _meta: META({ 'io.modelcontextprotocol/protocolVersion': '1900-01-01' }) } }, { 'mcp-protocol-version': '1900-01-01' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe(-32022);
    expect(r.json.error.data).toEqual({ supported: expect.arrayContaining(['2026-07-28', '2025-11-25']), requested: '1900-01-01' });
    const noCaps = await post('hr-desk', token, { method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } });
    expect([noCaps.status, noCaps.json.error.code]).toEqual([400, -32602]);
  });

  it('initialize, ping, logging/setLevel and unknown methods are 404 / -32601 in this era', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    for (const method of ['initialize', 'ping', 'logging/setLevel', 'no/such']) {
      const r = await post('hr-desk', token, { method, params: { _meta: META() } });
      expect([method, r.status, r.json.error.code]).toEqual([method, 404, -32601]);
    }
  });

  it('every request is authorized by its own token: a token for another gateway is refused, a revoked user too', async () => {
    const credit = await t.token('intern', 'credit-assistant', 'credit-desk');
    const r = await post('hr-desk', credit, { method: 'tools/list', params: { _meta: META() } });
    expect(r.status).toBe(401);
    const token = await t.token('loan-clerk', 'hr-assistant', 'hr-desk');
    expect((await post('hr-desk', token, { method: 'tools/list', params: { _meta: META() } })).status).toBe(200);
    await t.governance.revocations.revoke('loan-clerk', { by: 'test' });
    try {
      expect((await post('hr-desk', token, { method: 'tools/list', params: { _meta: META() } })).status).toBe(403);
    } finally {
      await t.governance.revocations.restore('loan-clerk');
    }
  });

  it('subscriptions/listen acknowledges the filter first, then delivers list changes tagged with its id', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const ac = new AbortController();
    const res = await fetch(t.gw.resourceUrl('hr-desk'), {
      method: 'POST',
      signal: ac.signal,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'sub-1', method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true, nonsense: true }, _meta: META() } }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const frames: Array<{ method?: string; params?: { notifications?: unknown; _meta?: Record<string, unknown> } }> = [];
    let buf = '';
    const next = async () => {
      while (!buf.includes('\n\n')) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += new TextDecoder().decode(value);
      }
      const [chunk, ...rest] = buf.split('\n\n');
      buf = rest.join('\n\n');
      const data = chunk!.split('\n').find((l) => l.startsWith('data: '));
      if (!data) return next();
      frames.push(JSON.parse(data.slice(6)));
      return frames.at(-1)!;
    };
    const ack = await next();
    expect(ack.method).toBe('notifications/subscriptions/acknowledged');
    expect(ack.params?.notifications).toEqual({ toolsListChanged: true });
    expect(ack.params?._meta?.['io.modelcontextprotocol/subscriptionId']).toBe('sub-1');
    // A policy reload changes what may be visible: the stream hears of it.
    const changed = next();
    appendFileSync(join(policyDir, 'users.cedar'), '\n// touched by the listen test\n');
    const n = await Promise.race([changed, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no list_changed within 5 s')), 5000))]);
    expect(n.method).toBe('notifications/tools/list_changed');
    expect(n.params?._meta?.['io.modelcontextprotocol/subscriptionId']).toBe('sub-1');
    ac.abort();
  });
});

describe('Base64 header values (SEP-2243)', () => {
  it('decodes whole RFC 4648 quanta with their padding, and refuses bad padding, bad characters and non-UTF-8', async () => {
    const { decodeHeaderValue } = await import('../gateway/upstream/http-transport.js');
    const enc = (s: string) => `=?base64?${Buffer.from(s).toString('base64')}?=`;
    for (const s of ['', 'a', 'ab', 'abc', 'abcd', 'Zürich ✓']) expect(decodeHeaderValue(enc(s))).toBe(s);
    expect(decodeHeaderValue('plain value')).toBe('plain value');
    for (const bad of ['=?base64?YQ?=', '=?base64?YW=J?=', '=?base64?YQ===?=', '=?base64?Y$E=?=', '=?base64?YWJjZA=?=', `=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`]) {
      expect(decodeHeaderValue(bad), bad).toBeUndefined();
    }
  });
});
