/**
 * The authorizing gateway end to end, with the real MCP SDK client over Streamable HTTP, the
 * real dev IdP's tokens, real Cedar policies and the real demo servers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject, startTestGateway, structured, type TestGateway, textOf } from './helpers/gateway.js';

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

describe('identity separation through one HR agent', () => {
  it('the intern reads their own compensation, not the CEO’s', async () => {
    const intern = await t.connect('intern', 'hr-assistant', 'hr-desk');
    const own = await intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'intern' } });
    expect(own.isError).toBeFalsy();
    expect(structured(own)).toMatchObject({ employeeId: 'intern', baseSalary: 21_000 });

    const ceos = await intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'ceo' } });
    expect(ceos.isError).toBe(true);
    expect(textOf(ceos)).toContain('not permitted for this user');
    expect(textOf(ceos)).not.toMatch(/policy|cedar|forbid|\bpermit\b|user\.everyone/i);
    // The log (audit side) records which side and which policy.
    const denial = t.logs.find((l) => l.event === 'refusal' && l.user === 'intern' && l.tool === 'hr.get_compensation');
    expect(denial?.code).toBe('ERR_USER_NOT_PERMITTED');
    expect(denial?.side).toBe('user');
    expect(String(denial?.detail)).toMatch(/user:/);
  });

  it('the CEO reads both through the same agent', async () => {
    const ceo = await t.connect('ceo', 'hr-assistant', 'hr-desk');
    const own = await ceo.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'ceo' } });
    const interns = await ceo.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'intern' } });
    expect(structured(own)).toMatchObject({ employeeId: 'ceo', baseSalary: 480_000 });
    expect(structured(interns)).toMatchObject({ employeeId: 'intern', baseSalary: 21_000 });
  });
});

describe('tool visibility per (gateway, agent, user)', () => {
  it('the coding agent sees no banking or HR tool at all', async () => {
    const dev = await t.connect('ceo', 'coding-agent', 'dev-tools');
    const { tools } = await dev.listTools();
    expect(tools.length).toBeGreaterThan(0);
    expect(tools.every((x) => x.name.startsWith('everything.'))).toBe(true);
    expect(tools.some((x) => /^(hr|core-banking|credit-bureau)\./.test(x.name))).toBe(false);
    // Not listed and not callable either: calling a hidden tool is an unknown tool.
    await expect(dev.callTool({ name: 'core-banking.get_customer', arguments: { customerId: 'C-1001' } })).rejects.toThrow(/unknown tool/);
  });

  it('the HR desk shows HR tools only, and the credit desk the banking tools and the skill', async () => {
    const hr = await t.connect('intern', 'hr-assistant', 'hr-desk');
    const names = (await hr.listTools()).tools.map((x) => x.name).sort();
    expect(names).toEqual(['hr.get_compensation', 'hr.get_employee']);
  });
});

describe('resource server', () => {
  it('a credit-desk token on /mcp/hr-desk is refused with 401 and a challenge', async () => {
    const token = await t.token('ceo', 'credit-assistant', 'credit-desk');
    const res = await fetch(t.gw.resourceUrl('hr-desk'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain('resource_metadata="');
    expect(challenge).toContain('error="invalid_token"');
    expect(t.logs.some((l) => l.event === 'refusal' && l.code === 'ERR_TOKEN_AUDIENCE')).toBe(true);
  });

  it('serves RFC 9728 metadata and asks for a token without one', async () => {
    const meta = (await inject(t, { method: 'GET', path: '/.well-known/oauth-protected-resource/mcp/hr-desk' })).json();
    expect(meta).toMatchObject({ resource: t.gw.resourceUrl('hr-desk'), authorization_servers: [`${t.gw.url}/idp`], bearer_methods_supported: ['header'] });
    const res = await inject(t, { method: 'POST', path: '/mcp/hr-desk', body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp\/hr-desk"/);
  });

  it('refuses a session id presented with another user’s token', async () => {
    const intern = await t.connect('intern', 'hr-assistant', 'hr-desk');
    const sid = (intern.transport as unknown as { sessionId?: string }).sessionId!;
    expect(sid).toBeTruthy();
    const ceoToken = await t.token('ceo', 'hr-assistant', 'hr-desk');
    const res = await fetch(t.gw.resourceUrl('hr-desk'), {
      method: 'POST',
      headers: { authorization: `Bearer ${ceoToken}`, 'mcp-session-id': sid, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }),
    });
    expect(res.status).toBe(403);
  });

  it('refuses foreign Host and Origin headers (DNS rebinding) with 403', async () => {
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(`${t.gw.url}/healthz`);
        const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status({})).toBe(200);
    expect(await status({ host: 'evil.example:80' })).toBe(403);
    expect(await status({ origin: 'http://evil.example' })).toBe(403);
  });

  it('refuses request bodies over the limit', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const res = await inject(t, {
      method: 'POST',
      path: '/mcp/hr-desk',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream' },
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { pad: 'x'.repeat(2 * 1024 * 1024) } },
    });
    expect(res.status).toBe(413);
  });
});
