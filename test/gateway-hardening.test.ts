/**
 * Token and request edge cases found by a black-box probe, each refused at the front door
 * with a clear answer and one log line: several Authorization headers, `iat` in the future,
 * tokens that live for years, revoked users opening sessions, one token opening thousands of
 * sessions, names that are Object.prototype's, malformed tool calls (non-string names,
 * non-object arguments, lone surrogates, 5,000-deep nesting) and over-long names echoed back.
 */
import { request } from 'node:http';
import { importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigningKey } from '../gateway/adapters/idp/dev-idp.js';
import { ownerKey } from '../gateway/adapters/mcp/sessions.js';
import { toCedarArguments } from '../gateway/policy/arguments.js';
import { inject, startTestGateway, type TestGateway } from './helpers/gateway.js';

let t: TestGateway;
let sign: (claims: Record<string, unknown>) => Promise<string>;
let token: string;
let url: string;

const LIMITS = { argumentDepth: 32, sessionsPerPrincipal: 4 };

beforeAll(async () => {
  t = await startTestGateway({ extra: { limits: LIMITS } });
  const jwk = await loadSigningKey(t.ws.loaded.path(t.ws.loaded.config.stateDir));
  const key = await importJWK(jwk, 'RS256');
  sign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid! }).sign(key);
  token = await t.token('intern', 'hr-assistant', 'hr-desk');
  url = t.gw.resourceUrl('hr-desk');
});
afterAll(async () => {
  await t?.close();
});

const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

function post(body: unknown, headers: Record<string, string> = {}, to = url, bearer = token): Promise<Response> {
  return fetch(to, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function openSession(bearer = token): Promise<Record<string, string>> {
  const res = await post(INIT, {}, url, bearer);
  expect(res.status, await res.clone().text()).toBe(200);
  const sid = res.headers.get('mcp-session-id')!;
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid });
  return { 'mcp-session-id': sid };
}

const refusalsOf = (code: string) => t.logs.filter((l) => l.event === 'refusal' && l.code === code);

describe('tokens', () => {
  it('refuses a request with two Authorization headers instead of taking the first', async () => {
    const other = await t.token('ceo', 'hr-assistant', 'hr-desk');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      // An array value sends one header line per element.
      req.setHeader('authorization', [`Bearer ${token}`, `Bearer ${other}`]);
      req.on('error', reject);
      req.end(JSON.stringify(INIT));
    });
    expect(status).toBe(401);
    expect(refusalsOf('ERR_TOKEN_SCHEME').at(-1)?.detail).toBe('2 Authorization headers');
  });

  it('refuses iat beyond the clock skew, and a lifetime beyond the maximum (default 24 h)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: `${t.gw.url}/idp`, sub: 'intern', aud: url, azp: 'hr-assistant', roles: ['intern'] };
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['iat in the future', { ...base, iat: now + 3600, exp: now + 4000 }, 'ERR_TOKEN_IAT_FUTURE'],
      ['expires in 9999', { ...base, iat: now, exp: Date.UTC(9999, 0, 1) / 1000 }, 'ERR_TOKEN_LIFETIME'],
      ['no iat, expires in a year', { ...base, exp: now + 365 * 86400 }, 'ERR_TOKEN_LIFETIME'],
    ];
    for (const [what, claims, code] of cases) {
      const res = await post(INIT, {}, url, await sign(claims));
      expect(res.status, what).toBe(401);
      expect(res.headers.get('www-authenticate'), what).toContain('error="invalid_token"');
      expect(refusalsOf(code).length, what).toBeGreaterThan(0);
    }
    // Within the bounds: accepted.
    const ok = await post(INIT, {}, url, await sign({ ...base, iat: now + 10, exp: now + 23 * 3600 }));
    expect(ok.status).toBe(200);
  });

  it('a revoked user cannot open a session (checked at authentication, not only per call)', async () => {
    await t.governance.revocations.revoke('intern', { by: 'test' });
    try {
      const res = await post(INIT);
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: 'forbidden', error_description: 'this user may not use this gateway' });
      expect(refusalsOf('ERR_USER_REVOKED').at(-1)).toMatchObject({ status: 403, user: 'intern', agent: 'hr-assistant', gateway: 'hr-desk' });
    } finally {
      await t.governance.revocations.restore('intern');
    }
  });
});

describe('sessions', () => {
  it('one token cannot pile up sessions: past the cap the oldest is closed, others are untouched', async () => {
    const ceoToken = await t.token('ceo', 'hr-assistant', 'hr-desk');
    const ceoSession = await openSession(ceoToken);
    const mine: Array<Record<string, string>> = [];
    for (let i = 0; i < LIMITS.sessionsPerPrincipal + 3; i++) mine.push(await openSession());
    const owner = ownerKey({ user: { id: 'intern', roles: [], groups: [] }, agent: { id: 'hr-assistant' } }, 'hr-desk');
    expect(t.gw.sessions.countOf(owner)).toBe(LIMITS.sessionsPerPrincipal);
    // The oldest three are gone (404: the client re-initializes); the newest and the CEO's work.
    const oldest = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, mine[0]);
    expect(oldest.status).toBe(404);
    const newest = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, mine.at(-1));
    expect(newest.status).toBe(200);
    const other = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, ceoSession, url, ceoToken);
    expect(other.status).toBe(200);
    expect(t.logs.filter((l) => l.msg === 'session evicted').length).toBeGreaterThanOrEqual(3);
  });
});

describe('names that are Object.prototype properties', () => {
  it('are unknown gateways on every route: 404 or 400, never 500 and never a challenge for them', async () => {
    const mcpHeaders = { accept: ACCEPT };
    for (const name of PROTOTYPE_NAMES) {
      expect((await inject(t, { method: 'GET', path: `/.well-known/oauth-protected-resource/mcp/${name}` })).status, name).toBe(404);
      const anonymous = await inject(t, { method: 'POST', path: `/mcp/${name}`, headers: mcpHeaders, body: INIT });
      expect(anonymous.status, name).toBe(404);
      expect(anonymous.headers['www-authenticate'], name).toBeUndefined();
      // A token minted for that audience does not make it a gateway.
      const minted = await t.gw.idp!.mintToken({ user: 'intern', agent: 'hr-assistant', audience: `${t.gw.url}/mcp/${name}` });
      expect((await inject(t, { method: 'POST', path: `/mcp/${name}`, headers: { ...mcpHeaders, authorization: `Bearer ${minted}` }, body: INIT })).status, name).toBe(404);
      for (const route of ['approve', 'cancel']) {
        const run = await inject(t, { method: 'POST', path: `/runs/x/${route}`, headers: { authorization: `Bearer ${token}` }, body: { gateway: name, decision: 'approve' } });
        expect(run.status, `${route} ${name}`).toBe(400);
      }
      expect((await inject(t, { method: 'GET', path: `/runs/x?gateway=${name}`, headers: { authorization: `Bearer ${token}` } })).status, name).toBe(400);
    }
  });

  it('are unknown servers and tools in tools/call: -32602, never 500', async () => {
    const h = await openSession();
    for (const name of PROTOTYPE_NAMES.flatMap((n) => [`${n}.get_employee`, `hr.${n}`, `skill.${n}`, n])) {
      const res = await post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: { employeeId: 'intern' } } }, h);
      expect(res.status, name).toBe(200);
      const body = (await res.json()) as { error?: { code: number; message: string }; result?: { isError?: boolean } };
      // An unknown server or skill is a protocol error; hr.<name> is on a visible server, so the
      // AND-gate answers first (the intern may not call it) — a refusal either way, never a crash.
      const answer = body.error?.code ?? (body.result?.isError ? 'tool-error' : 'ok');
      expect(name.startsWith('hr.') ? ['tool-error', -32602] : [-32602], name).toContain(answer);
    }
  });
});

describe('malformed tool calls', () => {
  async function call(params: unknown): Promise<{ code?: number; message?: string }> {
    const h = await openSession();
    const res = await post(typeof params === 'string' ? `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":${params}}` : { jsonrpc: '2.0', id: 9, method: 'tools/call', params }, h);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { error?: { code: number; message: string } };
    return body.error ?? {};
  }

  it('answers -32602 with a short message naming what is wrong and where', async () => {
    expect(await call({ name: 42, arguments: {} })).toEqual({ code: -32602, message: 'tools/call: `name` must be a non-empty string' });
    expect(await call({ name: 'hr.get_employee', arguments: ['intern'] })).toEqual({ code: -32602, message: 'tools/call hr.get_employee: `arguments` must be an object' });
    expect(await call({ name: 'hr.get_employee', arguments: { employeeId: 'in\ud800tern' } })).toEqual({
      code: -32602,
      message: 'tools/call hr.get_employee: argument `employeeId` is not well-formed Unicode (lone surrogate)',
    });
    expect(await call({ name: 'hr.get_employee', arguments: { filter: { tags: ['a', { x: '\udc00' }] } } })).toMatchObject({
      message: expect.stringContaining('argument `filter.tags[1].x` is not well-formed Unicode'),
    });
    // 5,000 levels, written as text (JSON.stringify itself recurses that deep).
    const deep = `${'{"d":'.repeat(5000)}"bottom"${'}'.repeat(5000)}`;
    const tooDeep = await call(`{"name":"hr.get_employee","arguments":{"employeeId":"intern","deep":${deep}}}`);
    expect(tooDeep.code).toBe(-32602);
    expect(tooDeep.message).toMatch(/^tools\/call hr\.get_employee: arguments are nested more than 32 levels deep \(at `deep(\.d)+`\)$/);
    for (const code of ['ERR_TOOL_NAME', 'ERR_TOOL_ARGUMENTS', 'ERR_ARGUMENT_UNICODE', 'ERR_ARGUMENTS_TOO_DEEP']) {
      expect(refusalsOf(code).length, code).toBeGreaterThan(0);
    }
    // Nothing of it went upstream or to Cedar: no denial and no upstream failure was logged.
    expect(t.logs.some((l) => l.msg === 'upstream failure')).toBe(false);
  });

  it('echoes at most a short prefix of an unknown tool name', async () => {
    const long = `nosuch.${'x'.repeat(250)}`;
    const err = await call({ name: long, arguments: {} });
    expect(err.code).toBe(-32602);
    expect(err.message!.length).toBeLessThan(100);
    expect(err.message).toBe(`MCP error -32602: unknown tool "${long.slice(0, 64)}…"`);
  });
});

describe('request data used as keys', () => {
  it('a user named after a prototype property is revoked like any other, and only when revoked', async () => {
    const store = t.governance.revocations;
    for (const name of PROTOTYPE_NAMES) expect(store.isRevoked(name), name).toBeUndefined();
    for (const name of PROTOTYPE_NAMES) await store.revoke(name, { by: 'test' });
    try {
      for (const name of PROTOTYPE_NAMES) expect(store.isRevoked(name)?.by, name).toBe('test');
      expect(Object.keys(await store.list()).sort()).toEqual([...PROTOTYPE_NAMES].sort());
    } finally {
      for (const name of PROTOTYPE_NAMES) await store.restore(name);
    }
    expect(await store.list()).toEqual({});
  });

  it('an argument named __proto__ reaches Cedar as an argument, not as a prototype', () => {
    const args = JSON.parse('{"__proto__": {"amount": 1}, "constructor": 2}') as Record<string, unknown>;
    const r = toCedarArguments(args, undefined, undefined);
    expect(r.ok).toBe(true);
    expect(Object.keys((r as { value: object }).value).sort()).toEqual(['__proto__', 'constructor']);
  });
});
