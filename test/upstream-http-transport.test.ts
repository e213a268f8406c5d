/**
 * gateway/upstream/http-transport.ts against the SDK's own Streamable HTTP server (real
 * sockets on 127.0.0.1): SSE and JSON answers, concurrency, progress, the standalone GET stream,
 * errors and session expiry as the pool sees them, and close().
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpError, type Progress, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { HttpClientTransport, SessionExpiredError } from '../gateway/upstream/http-transport.js';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import { UpstreamError } from '../gateway/upstream/types.js';
import { testWorkspace } from './helpers/workspace.js';

// Whatever goes wrong in the transport must surface as a rejection or onerror, never escape;
// and concurrent requests must not pile listeners on a shared emitter.
const escaped: unknown[] = [];
const onUnhandled = (reason: unknown) => escaped.push(reason);
const onWarning = (w: Error) => {
  if (w.name === 'MaxListenersExceededWarning') escaped.push(w);
};
process.on('unhandledRejection', onUnhandled);
process.on('warning', onWarning);

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  process.off('unhandledRejection', onUnhandled);
  process.off('warning', onWarning);
  expect(escaped).toEqual([]);
});

// ── a real upstream: McpServer per session over StreamableHTTPServerTransport ──────────────

interface Upstream {
  url: URL;
  http: Server;
  /** Live sessions; clearing it makes the server forget them (404 on their next request). */
  sessions: Map<string, StreamableHTTPServerTransport>;
  mcps: McpServer[];
  /** Headers of the last POST. */
  lastPost?: IncomingHttpHeaders;
  /** Answer every POST with this status instead of handling it. */
  failWith?: number;
  /** Open GET (standalone SSE) and POST responses. */
  gets: Set<ServerResponse>;
  posts: Set<ServerResponse>;
  stop(): Promise<void>;
}

function createMcp(): McpServer {
  const mcp = new McpServer({ name: 'test-upstream', version: '1.0.0' });
  mcp.registerTool(
    'echo',
    {
      inputSchema: { n: z.number().int(), text: z.string() },
      outputSchema: { n: z.number(), text: z.string(), nested: z.object({ list: z.array(z.number()), unicode: z.string() }) },
    },
    ({ n, text }) => {
      const structuredContent = { n, text, nested: { list: [n, n + 1], unicode: 'ünï — 😀' } };
      return { content: [{ type: 'text', text: JSON.stringify(structuredContent) }], structuredContent };
    },
  );
  mcp.registerTool('slow', { inputSchema: { steps: z.number().int() } }, async ({ steps }, extra) => {
    const token = extra._meta?.progressToken;
    for (let i = 1; i <= steps; i++) {
      if (token !== undefined) {
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps, message: `step ${i}` } });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return { content: [{ type: 'text', text: 'done' }] };
  });
  mcp.registerTool('hang', {}, (extra) => {
    return new Promise((resolve) => {
      extra.signal.addEventListener('abort', () => resolve({ content: [{ type: 'text', text: 'aborted' }] }));
    });
  });
  return mcp;
}

async function startUpstream(opts: { enableJsonResponse?: boolean } = {}): Promise<Upstream> {
  const up: Upstream = { sessions: new Map(), mcps: [], gets: new Set(), posts: new Set() } as unknown as Upstream;
  up.http = createServer((req, res) => {
    void (async () => {
      if (req.method === 'POST') {
        up.lastPost = req.headers;
        up.posts.add(res);
        res.once('close', () => up.posts.delete(res));
        if (up.failWith !== undefined) {
          req.resume();
          res.writeHead(up.failWith, { 'content-type': 'text/plain' }).end(`failing on purpose with ${up.failWith}`);
          return;
        }
      }
      if (req.method === 'GET') {
        up.gets.add(res);
        res.once('close', () => up.gets.delete(res));
      }
      const sid = req.headers['mcp-session-id'];
      let transport = typeof sid === 'string' ? up.sessions.get(sid) : undefined;
      if (!transport) {
        if (typeof sid === 'string') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
          return;
        }
        const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: opts.enableJsonResponse ?? false,
          onsessioninitialized: (id) => void up.sessions.set(id, t),
          onsessionclosed: (id) => void up.sessions.delete(id),
        });
        transport = t;
        const mcp = createMcp();
        up.mcps.push(mcp);
        await mcp.connect(t);
      }
      await transport.handleRequest(req, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => up.http.listen(0, '127.0.0.1', resolve));
  const addr = up.http.address();
  up.url = new URL(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/mcp`);
  let stopped = false;
  up.stop = async () => {
    if (stopped) return;
    stopped = true;
    const closed = new Promise<void>((resolve) => up.http.close(() => resolve()));
    up.http.closeAllConnections();
    await closed;
    await Promise.all(up.mcps.map((m) => m.close().catch(() => {})));
  };
  cleanups.push(up.stop);
  return up;
}

/** A server that answers every request with `status`. */
async function startFailing(status: number): Promise<URL> {
  const http = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain' }).end(`always ${status}`);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => (http.closeAllConnections(), http.close(() => resolve()))));
  const addr = http.address();
  return new URL(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/mcp`);
}

async function connectClient(url: URL): Promise<{ client: Client; transport: HttpClientTransport }> {
  const transport = new HttpClientTransport(url, { headers: { 'X-Test': 'yes' } });
  const client = new Client({ name: 'transport-test', version: '1.0.0' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

/** The standalone GET stream is registered with the server (headers written). */
async function getStreamOpen(up: Upstream): Promise<void> {
  await vi.waitFor(() => expect([...up.gets].some((r) => r.headersSent && r.statusCode === 200)).toBe(true), { timeout: 5000 });
}

function poolFor(servers: Record<string, URL>) {
  const ws = testWorkspace({ servers: Object.fromEntries(Object.entries(servers).map(([k, u]) => [k, { url: u.href }])) });
  const pool = createUpstreamPool(ws.loaded, { log: () => {} });
  cleanups.push(async () => {
    await pool.close();
    ws.cleanup();
  });
  return pool;
}

async function upstreamError(p: Promise<unknown>): Promise<UpstreamError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamError);
  return err as UpstreamError;
}

// ── tests ─────────────────────────────────────────────────────────────────────────────────

describe.each([
  ['SSE answers', false],
  ['JSON answers', true],
])('HttpClientTransport with %s', (_name, enableJsonResponse) => {
  it('initializes, lists and calls tools; keeps and sends the session id and protocol version', async () => {
    const up = await startUpstream({ enableJsonResponse });
    const { client, transport } = await connectClient(up.url);
    expect(transport.sessionId).toBeDefined();
    expect([...up.sessions.keys()]).toEqual([transport.sessionId]);

    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'hang', 'slow']);

    const res = await client.callTool({ name: 'echo', arguments: { n: 7, text: 'hi "there"\nline' } });
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toEqual({ n: 7, text: 'hi "there"\nline', nested: { list: [7, 8], unicode: 'ünï — 😀' } });
    expect(up.lastPost?.['mcp-session-id']).toBe(transport.sessionId);
    expect(up.lastPost?.['mcp-protocol-version']).toBe('2025-11-25');
    expect(up.lastPost?.['x-test']).toBe('yes');
    expect(up.lastPost?.accept).toBe('application/json, text/event-stream');
  });

  it('answers 200 concurrent calls (32 at a time) on one transport, each with its own result', async () => {
    const up = await startUpstream({ enableJsonResponse });
    const { client } = await connectClient(up.url);
    const seen: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 200) {
          const n = next++;
          const res = await client.callTool({ name: 'echo', arguments: { n, text: `t${n}` } });
          expect(res.structuredContent).toMatchObject({ n, text: `t${n}` });
          seen.push(n);
        }
      }),
    );
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});

describe('HttpClientTransport, server-initiated messages', () => {
  it('delivers the progress notifications of a call', async () => {
    const up = await startUpstream();
    const { client } = await connectClient(up.url);
    const progress: Progress[] = [];
    const res = await client.callTool({ name: 'slow', arguments: { steps: 3 } }, undefined, { onprogress: (p) => progress.push(p) });
    expect(res.content).toEqual([{ type: 'text', text: 'done' }]);
    expect(progress.map((p) => [p.progress, p.total, p.message])).toEqual([
      [1, 3, 'step 1'],
      [2, 3, 'step 2'],
      [3, 3, 'step 3'],
    ]);
  });

  it('receives tools/list_changed on the standalone GET stream', async () => {
    const up = await startUpstream();
    const { client } = await connectClient(up.url);
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    await getStreamOpen(up);
    expect(up.gets.size).toBe(1);
    up.mcps[0]!.registerTool('late', {}, () => ({ content: [] }));
    await changed;
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('late');
  });

  it('reopens the GET stream after the server drops it', async () => {
    const up = await startUpstream();
    const { client } = await connectClient(up.url);
    await getStreamOpen(up);
    const [first] = up.gets;
    first!.destroy();
    // Reconnects after ~1 s; the server lets go of the old stream first (else 409, retried).
    await vi.waitFor(() => expect([...up.gets].some((r) => r !== first && r.headersSent && r.statusCode === 200)).toBe(true), { timeout: 8000 });
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    up.mcps[0]!.registerTool('later', {}, () => ({ content: [] }));
    await changed;
  });

  it('the pool drops its tool cache on tools/list_changed', async () => {
    const up = await startUpstream();
    const pool = poolFor({ up: up.url });
    expect((await pool.listTools('up')).map((t) => t.name)).not.toContain('late');
    await getStreamOpen(up);
    for (const m of up.mcps) m.registerTool('late', {}, () => ({ content: [] }));
    await vi.waitFor(async () => expect((await pool.listTools('up')).map((t) => t.name)).toContain('late'), { timeout: 5000 });
  });
});

describe('HttpClientTransport, failures', () => {
  it('rejects calls once the server is gone; the pool says unavailable', async () => {
    const up = await startUpstream();
    const { client } = await connectClient(up.url);
    const pool = poolFor({ up: up.url });
    await pool.callTool('up', 'echo', { n: 1, text: 'x' });
    await up.stop();
    const err = await client.callTool({ name: 'echo', arguments: { n: 1, text: 'x' } }).catch((e: unknown) => e);
    // Refused, or reset when the call raced the close of its idle keep-alive socket.
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain((err as NodeJS.ErrnoException).code);
    const pe = await upstreamError(pool.callTool('up', 'echo', { n: 1, text: 'x' }));
    expect(pe.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(pe.message).toMatch(/ECONNREFUSED|ECONNRESET/);
  });

  it('HTTP 500 is unavailable, HTTP 400 is a protocol error, at connect and mid-session', async () => {
    const pool = poolFor({ five: await startFailing(500), four: await startFailing(400) });
    const five = await upstreamError(pool.callTool('five', 'echo', {}));
    expect(five.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(five.message).toContain('HTTP 500');
    expect(five.message).toContain('always 500');
    const four = await upstreamError(pool.listTools('four'));
    expect(four.code).toBe('ERR_UPSTREAM_PROTOCOL');
    expect(four.message).toContain('HTTP 400');

    const up = await startUpstream();
    const pool2 = poolFor({ up: up.url });
    await pool2.callTool('up', 'echo', { n: 1, text: 'x' });
    up.failWith = 500;
    const e500 = await upstreamError(pool2.callTool('up', 'echo', { n: 1, text: 'x' }));
    expect([e500.code, (e500.cause as StreamableHTTPError).code]).toEqual(['ERR_UPSTREAM_UNAVAILABLE', 500]);
    up.failWith = 400;
    const e400 = await upstreamError(pool2.callTool('up', 'echo', { n: 1, text: 'x' }));
    expect([e400.code, (e400.cause as StreamableHTTPError).code]).toEqual(['ERR_UPSTREAM_PROTOCOL', 400]);
    up.failWith = undefined;
    // The connection survived both.
    expect((await pool2.callTool('up', 'echo', { n: 2, text: 'y' })).structuredContent).toMatchObject({ n: 2 });
    expect(up.sessions.size).toBe(1);
  });

  it('a forgotten session (404) clears the session id; the pool reconnects on the next call', async () => {
    const up = await startUpstream();
    const { client, transport } = await connectClient(up.url);
    const sid = transport.sessionId;
    up.sessions.clear();
    const err = await client.callTool({ name: 'echo', arguments: { n: 1, text: 'x' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionExpiredError);
    expect(err).toBeInstanceOf(StreamableHTTPError);
    expect((err as StreamableHTTPError).code).toBe(404);
    expect((err as Error).message).toContain(sid);
    expect(transport.sessionId).toBeUndefined();

    const pool = poolFor({ up: up.url });
    await pool.callTool('up', 'echo', { n: 1, text: 'x' });
    const before = [...up.sessions.keys()];
    up.sessions.clear();
    const expired = await upstreamError(pool.callTool('up', 'echo', { n: 2, text: 'x' }));
    expect(expired.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(expired.cause).toBeInstanceOf(SessionExpiredError);
    const again = await pool.callTool('up', 'echo', { n: 3, text: 'x' });
    expect(again.structuredContent).toMatchObject({ n: 3 });
    expect(up.sessions.size).toBe(1);
    expect(before).not.toContain([...up.sessions.keys()][0]);
  });

  it('an answer stream that ends without the response fails the call at once', async () => {
    const up = await startUpstream();
    const { client } = await connectClient(up.url);
    const call = client.callTool({ name: 'hang', arguments: {} });
    await vi.waitFor(() => expect(up.posts.size).toBe(1));
    for (const r of up.posts) r.destroy();
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32000);
    expect((err as McpError).message).toMatch(/ended without a response to request \d+/);
  });

  it('a cancelled call (abort) tears its POST stream down', async () => {
    const up = await startUpstream();
    const { client } = await connectClient(up.url);
    const ac = new AbortController();
    const call = client.callTool({ name: 'hang', arguments: {} }, undefined, { signal: ac.signal });
    await vi.waitFor(() => expect(up.posts.size).toBe(1));
    ac.abort();
    await expect(call).rejects.toThrow();
    await vi.waitFor(() => expect(up.posts.size).toBe(0));
    expect((await client.callTool({ name: 'echo', arguments: { n: 5, text: 'x' } })).structuredContent).toMatchObject({ n: 5 });
  });
});

describe('HttpClientTransport, kept-alive sockets', () => {
  it('a POST whose reused socket the server resets is sent once more on a new connection', async () => {
    // A server that answers the first request of each connection and resets the connection at the
    // second one: what a server closing an idle keep-alive socket looks like to a reusing client.
    const { createServer: createTcpServer } = await import('node:net');
    let connections = 0;
    const bodies: string[] = [];
    const tcp = createTcpServer((socket) => {
      connections++;
      let seen = 0;
      let buffer = '';
      socket.on('data', (d) => {
        buffer += d.toString('latin1');
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const body = buffer.slice(end + 4, end + 4 + length);
        buffer = buffer.slice(end + 4 + length);
        if (++seen > 1) return void socket.resetAndDestroy();
        bodies.push(body);
        const id = (JSON.parse(body) as { id?: number }).id;
        const answer = JSON.stringify({ jsonrpc: '2.0', id, result: { ok: true } });
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(answer)}\r\nconnection: keep-alive\r\n\r\n${answer}`);
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as { port: number }).port;
    const transport = new HttpClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
    const answers: unknown[] = [];
    transport.onmessage = (m) => void answers.push(m);
    try {
      await transport.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
      await new Promise((r) => setTimeout(r, 50));
      await transport.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
      await new Promise((r) => setTimeout(r, 50));
      expect(answers).toEqual([
        { jsonrpc: '2.0', id: 1, result: { ok: true } },
        { jsonrpc: '2.0', id: 2, result: { ok: true } },
      ]);
      expect(connections).toBe(2);
      expect(bodies.map((b) => (JSON.parse(b) as { id: number }).id)).toEqual([1, 2]);
    } finally {
      await transport.close();
      await new Promise((r) => tcp.close(r));
    }
  });
});

describe('HttpClientTransport.close()', () => {
  it('rejects the in-flight call, fires onclose once, leaves no socket open', async () => {
    const up = await startUpstream();
    const { client, transport } = await connectClient(up.url);
    let closes = 0;
    const prev = transport.onclose;
    transport.onclose = () => {
      closes++;
      prev?.();
    };
    await getStreamOpen(up);
    const call = client.callTool({ name: 'hang', arguments: {} });
    await vi.waitFor(() => expect(up.posts.size).toBe(1));
    await transport.close();
    await transport.close();
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32000); // ConnectionClosed
    expect(closes).toBe(1);
    await expect(transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' })).rejects.toThrow(/closed/);
    // Every socket of this transport is gone: the server holds no connection any more.
    await vi.waitFor(async () => expect(await new Promise<number>((r) => up.http.getConnections((_e, n) => r(n)))).toBe(0));
  });

  it('terminateSession() ends the session with DELETE', async () => {
    const up = await startUpstream();
    const { transport } = await connectClient(up.url);
    expect(up.sessions.size).toBe(1);
    await transport.terminateSession();
    expect(transport.sessionId).toBeUndefined();
    expect(up.sessions.size).toBe(0);
  });

  it('refuses URLs that are not http(s)', () => {
    expect(() => new HttpClientTransport(new URL('ftp://example.com/mcp'))).toThrow(/http: or https: URL, got ftp:/);
  });
});

describe('SSE framing (eventsource-parser)', () => {
  /**
   * A raw upstream that answers every request with the SSE text `frame(id)`, written in
   * `chunk`-sized pieces: what the transport must reassemble whatever the server's framing.
   */
  async function rawSse(frame: (id: unknown) => string, chunk: number): Promise<{ url: URL; close(): Promise<void> }> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const msg = JSON.parse(body) as { id?: unknown };
        if (msg.id === undefined) return void res.writeHead(202).end();
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // Cut by bytes: a multi-byte character may straddle two writes, as on a real socket.
        const bytes = Buffer.from(frame(msg.id), 'utf8');
        const pieces: Buffer[] = [];
        for (let k = 0; k < bytes.length; k += chunk) pieces.push(bytes.subarray(k, k + chunk));
        const write = () => {
          const next = pieces.shift();
          if (next === undefined) return void res.end();
          res.write(next, () => setImmediate(write));
        };
        write();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    return { url: new URL(`http://127.0.0.1:${port}/mcp`), close: () => new Promise((r) => server.close(() => r())) };
  }

  it('reassembles events across CRLF / CR line ends, a BOM, comments, multi-line data and one-character chunks', async () => {
    const result = { content: [{ type: 'text', text: 'ünï — 😀' }] };
    // Multi-line data joins with "\n", which JSON tolerates between tokens: split at a comma.
    const frame = (id: unknown) => {
      const json = JSON.stringify({ jsonrpc: '2.0', id, result });
      const cut = json.indexOf(',') + 1;
      return `\uFEFF: keep-alive\r\n\r\nevent: message\r\nid: 7\rdata: ${json.slice(0, cut)}\r\ndata:${json.slice(cut)}\n\n`;
    };
    for (const size of [1, 7, 4096]) {
      const up = await rawSse(frame, size);
      const t = new HttpClientTransport(up.url);
      const received: unknown[] = [];
      t.onmessage = (m) => received.push(m);
      await t.start();
      await t.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } });
      await vi.waitFor(() => expect(received).toEqual([{ jsonrpc: '2.0', id: 1, result }]), { timeout: 5000 });
      await t.close();
      await up.close();
    }
  });

  it('drops a stream whose event grows past the bound instead of buffering it', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: ');
        const block = 'x'.repeat(1024 * 1024);
        let sent = 0;
        // 40 MiB without a line end, unless the client hangs up first.
        const more = () => {
          if (sent++ >= 40 || res.destroyed) return void res.end();
          res.write(block, () => setImmediate(more));
        };
        more();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const t = new HttpClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
    const errors: string[] = [];
    t.onerror = (e) => errors.push(e.message);
    await t.start();
    await t.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } });
    await vi.waitFor(() => expect(errors.some((e) => e.includes('SSE event larger than 16777216 bytes; stream dropped'))).toBe(true), { timeout: 20_000 });
    await t.close();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
