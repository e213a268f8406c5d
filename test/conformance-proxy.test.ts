/**
 * The conformance run's test-only proxy (test/conformance/proxy.ts): it adds the bearer token and
 * forwards everything else as it came — headers, body, status, response headers, SSE streams as
 * they are written — rewriting only a Host/Origin that names the proxy itself and dropping
 * hop-by-hop headers. Against a real HTTP server on loopback that records what reaches it.
 */
import { createServer, type IncomingHttpHeaders, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BearerProxy, startBearerProxy } from './conformance/proxy.js';

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let upstream: Server;
let upstreamOrigin: string;
let proxy: BearerProxy;
const seen: Seen[] = [];
let sse: ServerResponse | undefined;
let sseClosed = false;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url === '/teapot') {
        res.writeHead(418, { 'x-upstream': 'yes', 'mcp-session-id': 'abc', connection: 'x-hop', 'x-hop': 'gone' }).end('short and stout');
      } else if (req.url === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: message\ndata: {"n":1}\n\n');
        sse = res;
        res.on('close', () => (sseClosed = true));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamOrigin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = await startBearerProxy(upstreamOrigin, () => 'the-token');
});

afterAll(async () => {
  await proxy?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((r) => upstream?.close(() => r()));
});

/** A raw request (node:http keeps the Host header we give it). */
function send(path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const url = new URL(path, proxy.origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the conformance proxy', () => {
  it('adds the bearer token and forwards method, path, query, body and the other headers unchanged', async () => {
    const proxyHost = new URL(proxy.origin).host;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const res = await send('/mcp/conformance?x=1', { host: proxyHost, 'content-type': 'application/json', 'mcp-session-id': 's-1', 'mcp-protocol-version': '2025-11-25', 'x-custom': 'kept', authorization: 'Bearer from-client' }, body);
    expect(res.status).toBe(200);
    const got = seen.at(-1)!;
    expect(got).toMatchObject({ method: 'POST', url: '/mcp/conformance?x=1', body });
    expect(got.headers.authorization).toBe('Bearer the-token');
    expect(got.headers).toMatchObject({ 'content-type': 'application/json', 'mcp-session-id': 's-1', 'mcp-protocol-version': '2025-11-25', 'x-custom': 'kept' });
    // The client addressed the proxy; it meant the gateway behind it.
    expect(got.headers.host).toBe(new URL(upstreamOrigin).host);
  });

  it('forwards any other Host and Origin as they came (the gateway judges DNS rebinding itself)', async () => {
    await send('/mcp', { host: 'evil.example.com', origin: 'http://evil.example.com' }, '{}');
    expect(seen.at(-1)!.headers).toMatchObject({ host: 'evil.example.com', origin: 'http://evil.example.com' });
    await send('/mcp', { host: new URL(proxy.origin).host, origin: proxy.origin }, '{}');
    expect(seen.at(-1)!.headers).toMatchObject({ host: new URL(upstreamOrigin).host, origin: upstreamOrigin });
  });

  it('returns the status, headers and body of the answer, minus hop-by-hop headers', async () => {
    const res = await send('/teapot', { host: new URL(proxy.origin).host, connection: 'keep-alive, x-client-hop', 'x-client-hop': 'drop me' });
    expect(res.status).toBe(418);
    expect(res.body).toBe('short and stout');
    expect(res.headers).toMatchObject({ 'x-upstream': 'yes', 'mcp-session-id': 'abc' });
    expect(res.headers['x-hop']).toBeUndefined();
    expect(seen.at(-1)!.headers['x-client-hop']).toBeUndefined();
  });

  it('streams SSE events as they are written, and closes the upstream stream when the client goes away', async () => {
    const url = new URL('/sse', proxy.origin);
    let received = '';
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { accept: 'text/event-stream' } }, (res) => {
      expect(res.headers['content-type']).toBe('text/event-stream');
      res.setEncoding('utf8').on('data', (d: string) => (received += d));
    });
    req.on('error', () => {});
    req.end();
    // The first event arrives while the upstream response is still open.
    await until(() => received.includes('"n":1'), 'the first event');
    expect(sse?.writableEnded).toBe(false);
    sse!.write('event: message\ndata: {"n":2}\n\n');
    await until(() => received.includes('"n":2'), 'the second event');
    req.destroy();
    await until(() => sseClosed, 'the upstream stream to close');
  });
});
