/**
 * Every refusal leaves a trace an operator can read: a running `skillgate dev` is sent one
 * request of each refusal kind, and its structured log (JSON lines, `logging.destination`) is
 * read back: one `refusal` line per kind with its code, status, gateway, agent, user and
 * request id, the deciding side and policy for Cedar denials — and never a token, never a body.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenMinter } from '../gateway/adapters/idp/mint.js';
import { loadConfig } from '../src/config/load.js';
import { demoWorkspace, type DemoWorkspace, type DevProcess, skillgate, startDev } from './helpers/dev-process.js';
import { eventually } from './helpers/skill-harness.js';

let ws: DemoWorkspace;
let dev: DevProcess;
const tokens: Record<string, string> = {};
const BODY_MARKER = `body-marker-${Date.now()}`;

const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

beforeAll(async () => {
  ws = await demoWorkspace();
  dev = startDev(ws.configFile);
  await dev.ready();
  // Minted as `skillgate token` does (its own test runs the CLI), with the runtime's dev IdP key.
  const loaded = loadConfig(ws.configFile);
  const minter = await createTokenMinter({ config: loaded.config, stateDir: loaded.path(loaded.config.stateDir) });
  for (const [name, user, agent, gateway] of [
    ['intern', 'intern', 'hr-assistant', 'hr-desk'],
    ['ceo', 'ceo', 'hr-assistant', 'hr-desk'],
    ['credit', 'loan-clerk', 'credit-assistant', 'credit-desk'],
    ['coder', 'ceo', 'coding-agent', 'dev-tools'],
  ] as const) {
    tokens[name] = await minter.mintToken({ user, agent, audience: `${base()}/mcp/${gateway}` });
  }
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  ws?.cleanup();
});

const base = () => `http://127.0.0.1:${ws.gatewayPort}`;

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base()}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function session(token: string, gateway = 'hr-desk'): Promise<Record<string, string>> {
  const res = await post(`/mcp/${gateway}`, INIT, { authorization: `Bearer ${token}` });
  expect(res.status).toBe(200);
  const h = { authorization: `Bearer ${token}`, 'mcp-session-id': res.headers.get('mcp-session-id')! };
  await post(`/mcp/${gateway}`, { jsonrpc: '2.0', method: 'notifications/initialized' }, h);
  return h;
}

const call = (h: Record<string, string>, name: unknown, args: unknown, gateway = 'hr-desk') =>
  post(`/mcp/${gateway}`, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }, h).then((r) => r.text());

type Line = Record<string, unknown> & { level: string; msg: string };
function lines(): Line[] {
  if (!existsSync(ws.logFile)) return [];
  return readFileSync(ws.logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

describe('the refusal log of a running runtime', () => {
  it('has one line for each refusal kind, with who, where and why', async () => {
    // Provoke each kind once.
    // (fetch does not let a caller set Host.)
    await new Promise<void>((resolve, reject) => {
      const req = request(`${base()}/healthz`, { headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    await post('/mcp/hr-desk', INIT);
    await post('/mcp/hr-desk', INIT, { authorization: 'Bearer not-a-jwt' });
    await post('/mcp/credit-desk', INIT, { authorization: `Bearer ${tokens.intern}` });
    await post('/mcp/no-such-gateway', INIT, { authorization: `Bearer ${tokens.intern}` });
    const intern = await session(tokens.intern!);
    await post('/mcp/hr-desk', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...intern, authorization: `Bearer ${tokens.ceo}` });
    await post('/mcp/hr-desk', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...intern, 'mcp-session-id': 'no-such-session' });
    await call(intern, 'hr.get_compensation', { employeeId: 'ceo', note: BODY_MARKER });
    await call(intern, 'core-banking.get_customer', { customerId: 'C-1001' });
    await call(intern, 'nosuch.tool', {});
    await call(intern, 42, {});
    await post('/mcp/hr-desk', [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }], intern);
    await post('/mcp/hr-desk', `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}}`, intern);
    await post('/runs/no-such-run/approve', { gateway: 'credit-desk', decision: 'approve' }, { authorization: `Bearer ${tokens.credit}` });
    const coder = await session(tokens.coder!, 'dev-tools');
    await call(coder, 'everything.get-env', {}, 'dev-tools');
    const revoked = await skillgate(ws.configFile, ['revoke', '--user', 'intern']);
    expect(revoked.code, revoked.stderr).toBe(0);
    await post('/mcp/hr-desk', INIT, { authorization: `Bearer ${tokens.intern}` });
    await skillgate(ws.configFile, ['revoke', '--user', 'intern', '--restore']);

    const expected: Array<[code: string, fields: Record<string, unknown>]> = [
      ['ERR_HOST_NOT_ALLOWED', { status: 403 }],
      ['ERR_TOKEN_MISSING', { status: 401, gateway: 'hr-desk' }],
      ['ERR_TOKEN_MALFORMED', { status: 401, gateway: 'hr-desk' }],
      ['ERR_TOKEN_AUDIENCE', { status: 401, gateway: 'credit-desk' }],
      ['ERR_GATEWAY_UNKNOWN', { status: 404 }],
      ['ERR_SESSION_OWNER', { status: 403, gateway: 'hr-desk', user: 'ceo', agent: 'hr-assistant' }],
      ['ERR_SESSION_UNKNOWN', { status: 404, user: 'intern' }],
      ['ERR_USER_NOT_PERMITTED', { gateway: 'hr-desk', user: 'intern', agent: 'hr-assistant', tool: 'hr.get_compensation', side: 'user' }],
      ['ERR_TOOL_NOT_VISIBLE', { gateway: 'hr-desk', user: 'intern', tool: 'core-banking.get_customer' }],
      ['ERR_TOOL_UNKNOWN', { gateway: 'hr-desk', user: 'intern' }],
      ['ERR_TOOL_NAME', { gateway: 'hr-desk', user: 'intern', rpcCode: -32602 }],
      ['ERR_JSONRPC_BATCH', { status: 400, gateway: 'hr-desk', user: 'intern' }],
      ['FST_ERR_CTP_BODY_TOO_LARGE', { status: 413 }],
      ['ERR_RUN_NOT_FOUND', { gateway: 'credit-desk', user: 'loan-clerk', agent: 'credit-assistant', runId: 'no-such-run' }],
      ['ERR_TOOL_NOT_VISIBLE', { gateway: 'dev-tools', agent: 'coding-agent', tool: 'everything.get-env' }],
      ['ERR_USER_REVOKED', { status: 403, gateway: 'hr-desk', user: 'intern' }],
    ];
    const missing = () => expected.filter(([code]) => !lines().some((l) => l.code === code)).map(([code]) => code);
    await eventually(() => missing().length === 0, 'every refusal line', 10_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; missing: ${missing().join(', ')}`);
    });
    const all = lines();
    for (const [code, fields] of expected) {
      const matching = all.filter((l) => l.event === 'refusal' && l.code === code && Object.entries(fields).every(([k, v]) => l[k] === v));
      expect(matching.length, `${code} ${JSON.stringify(fields)} in:\n${all.filter((l) => l.code === code).map((l) => JSON.stringify(l)).join('\n')}`).toBeGreaterThan(0);
      const line = matching[0]!;
      expect(line.level).toBe('warn');
      expect(typeof line.requestId === 'string' || code === 'ERR_RUN_NOT_FOUND', code).toBe(true);
    }
    // The Cedar denial names the deciding policy set revision and, for a forbid, the policy (here: no permit matched).
    const denial = all.find((l) => l.code === 'ERR_USER_NOT_PERMITTED')!;
    expect(denial.policyVersion).toEqual(expect.any(String));
    expect(String(denial.detail)).toMatch(/^user: /);
  });

  it('never holds a token, a token hash aside, nor a request body', () => {
    const text = readFileSync(ws.logFile, 'utf8');
    for (const [name, token] of Object.entries(tokens)) {
      expect(text, name).not.toContain(token);
      // Not even the signature part on its own.
      expect(text, name).not.toContain(token.split('.')[2]!);
    }
    expect(text).not.toContain(BODY_MARKER);
    expect(text).not.toContain('x'.repeat(100));
  });
});
