/**
 * Contract test of the front door's hand-written Streamable HTTP framing
 * (gateway/adapters/mcp/http-transport.ts) against the SDK transport it mirrors
 * (@modelcontextprotocol/sdk's StreamableHTTPServerTransport, in JSON-response mode): the same
 * requests, sent raw to both, get the same statuses, content types and JSON-RPC bodies. The
 * differences are deliberate and listed in DIFFERENCES; a new SDK version that changes what
 * it answers makes this fail, so the framing is revisited rather than silently drifting.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HttpServerTransport } from '../gateway/adapters/mcp/http-transport.js';

interface Side {
  url: string;
  server: Server;
}

function mcp(): McpServer {
  const m = new McpServer({ name: 'framing', version: '1.0.0' });
  m.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }) => ({ content: [{ type: 'text', text }] }));
  return m;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += (chunk as Buffer).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** An HTTP server keeping one transport per session, as the SDK's examples and the front door do. */
async function serve(kind: 'sdk' | 'ours'): Promise<Side> {
  const sessions = new Map<string, { handleRequest(req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void> }>();
  const server = createServer((req, res) => {
    void (async () => {
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      const sid = req.headers['mcp-session-id'];
      const known = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (known) return known.handleRequest(req, res, body);
      if (typeof sid === 'string' && sid !== 'new') {
        // Both answer an unknown session the same way only once they own it: model the front door's 404.
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      if (kind === 'sdk') {
        const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: true,
          onsessioninitialized: (id) => void sessions.set(id, t),
          onsessionclosed: (id) => void sessions.delete(id),
        });
        await mcp().connect(t);
        return t.handleRequest(req, res, body);
      }
      const t: HttpServerTransport = new HttpServerTransport({
        onsessioninitialized: (id) => void sessions.set(id, t),
        onsessionclosed: (id) => void sessions.delete(id),
      });
      await mcp().connect(t);
      return t.handleRequest(req, res, body);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`, server };
}

let sdk: Side;
let ours: Side;
beforeAll(async () => {
  [sdk, ours] = await Promise.all([serve('sdk'), serve('ours')]);
});
afterAll(async () => {
  for (const s of [sdk, ours]) await new Promise((r) => s?.server.close(r));
});

const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

interface Answer {
  status: number;
  type: string;
  body: unknown;
}

async function send(side: Side, method: string, body: unknown, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(side.url, {
    method,
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
  const text = type === 'text/event-stream' ? '' : await res.text();
  if (type === 'text/event-stream') void res.body?.cancel();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : '';
  } catch {
    /* keep text */
  }
  return { status: res.status, type, body: parsed };
}

/** Open a session on a side; its headers for later requests. */
async function session(side: Side): Promise<Record<string, string>> {
  const res = await fetch(side.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT }, body: JSON.stringify(INIT) });
  expect(res.status).toBe(200);
  await res.text();
  const h = { 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
  await send(side, 'POST', { jsonrpc: '2.0', method: 'notifications/initialized' }, h);
  return h;
}

/** What differs on purpose, and why (docs/security.md, "Sessions and transport"). */
const DIFFERENCES = {
  batch: 'the front door refuses JSON-RPC batches with -32600 (removed from MCP in 2025-06-18)',
};

describe('the front door framing answers like the SDK transport', () => {
  it('initialize, initialized, tools/list, tools/call: same statuses, types and results', async () => {
    const [a, b] = [await send(sdk, 'POST', INIT, {}), await send(ours, 'POST', INIT, {})];
    expect(b.status).toBe(a.status);
    expect(b.type).toBe(a.type);
    expect(b.body).toEqual(a.body);
    const [ha, hb] = [await session(sdk), await session(ours)];
    for (const msg of [
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'ünï' } } },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'nope', arguments: {} } },
      { jsonrpc: '2.0', id: 4, method: 'no/such/method' },
      { jsonrpc: '2.0', id: 5, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 99 } },
    ]) {
      const [x, y] = [await send(sdk, 'POST', msg, ha), await send(ours, 'POST', msg, hb)];
      expect({ status: y.status, type: y.type, body: y.body }, JSON.stringify(msg)).toEqual({ status: x.status, type: x.type, body: x.body });
    }
  });

  it('refusals: same status and JSON-RPC error code for each malformed request', async () => {
    const [ha, hb] = [await session(sdk), await session(ours)];
    const cases: Array<[string, string, unknown, (h: Record<string, string>) => Record<string, string>]> = [
      ['no Accept for SSE', 'POST', { jsonrpc: '2.0', id: 1, method: 'ping' }, (h) => ({ ...h, accept: 'application/json' })],
      ['wrong content type', 'POST', { jsonrpc: '2.0', id: 1, method: 'ping' }, (h) => ({ ...h, 'content-type': 'text/plain' })],
      ['unsupported protocol version', 'POST', { jsonrpc: '2.0', id: 1, method: 'ping' }, (h) => ({ ...h, 'mcp-protocol-version': '1999-01-01' })],
      ['second initialize', 'POST', INIT, (h) => h],
      ['not JSON-RPC', 'POST', { hello: 'world' }, (h) => h],
      ['GET without Accept: text/event-stream', 'GET', undefined, (h) => ({ ...h, accept: 'application/json' })],
      ['PUT', 'PUT', undefined, (h) => h],
    ];
    for (const [what, method, body, headers] of cases) {
      const [x, y] = [await send(sdk, method, body, headers(ha)), await send(ours, method, body, headers(hb))];
      expect(y.status, what).toBe(x.status);
      const code = (v: Answer) => (v.body as { error?: { code?: number } }).error?.code;
      expect(code(y), what).toBe(code(x));
    }
  });

  it('the GET stream and DELETE: same statuses', async () => {
    const [ha, hb] = [await session(sdk), await session(ours)];
    const open = async (side: Side, h: Record<string, string>) => {
      const ctl = new AbortController();
      const res = await fetch(side.url, { method: 'GET', headers: { accept: 'text/event-stream', ...h }, signal: ctl.signal });
      return { status: res.status, type: res.headers.get('content-type'), close: () => ctl.abort() };
    };
    const [ga, gb] = [await open(sdk, ha), await open(ours, hb)];
    expect([gb.status, gb.type]).toEqual([ga.status, ga.type]);
    const [second_a, second_b] = [await send(sdk, 'GET', undefined, { ...ha, accept: 'text/event-stream' }), await send(ours, 'GET', undefined, { ...hb, accept: 'text/event-stream' })];
    expect(second_b.status).toBe(second_a.status);
    ga.close();
    gb.close();
    const [da, db] = [await send(sdk, 'DELETE', undefined, ha), await send(ours, 'DELETE', undefined, hb)];
    expect(db.status).toBe(da.status);
  });

  it('differs only where it says so', async () => {
    const [ha, hb] = [await session(sdk), await session(ours)];
    const batch = [
      { jsonrpc: '2.0', id: 'a', method: 'ping' },
      { jsonrpc: '2.0', id: 'b', method: 'ping' },
    ];
    const [x, y] = [await send(sdk, 'POST', batch, ha), await send(ours, 'POST', batch, hb)];
    expect(y, DIFFERENCES.batch).toMatchObject({ status: 400, body: { error: { code: -32600 } } });
    // The SDK still answers it; if it ever refuses batches too, this difference can go.
    expect(x.status, DIFFERENCES.batch).toBe(200);
  });
});
