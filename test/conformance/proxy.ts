/**
 * TEST ONLY. A loopback reverse proxy that adds a bearer token to every request and forwards
 * everything else as it came: method, path, query, headers, body (streamed), status, response
 * headers and body (SSE streams flow as they are written). It exists because the conformance
 * suites send no token and the gateway refuses requests without one.
 *
 * Two things a reverse proxy must do differently, and nothing more:
 *   - hop-by-hop headers (RFC 9110 §7.6.1: Connection and the fields it names, Keep-Alive,
 *     Transfer-Encoding, TE, Upgrade, Proxy-*) are not forwarded;
 *   - a `Host` (and an `Origin`) naming this proxy is rewritten to name the gateway, as the
 *     client meant the gateway. Any other value — e.g. the DNS-rebinding scenario's
 *     `evil.example.com` — reaches the gateway unchanged, so the gateway's own Host/Origin check
 *     is what the scenario measures.
 */
import { createServer, type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BearerProxy {
  /** Base URL of the proxy: `http://127.0.0.1:<port>`; the path is forwarded as is. */
  origin: string;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection']);

function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || named.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Start the proxy in front of `target` (the gateway's origin, `http://127.0.0.1:<port>`).
 * `token()` is asked for every request, so a caller can hand out fresh tokens.
 */
export async function startBearerProxy(target: string, token: () => string): Promise<BearerProxy> {
  const upstream = new URL(target);
  let self = '';
  const selfNames = () => ['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${self}`);
  const server = createServer((req, res) => {
    const headers = forwardable(req.headers);
    if (typeof headers.host === 'string' && selfNames().includes(headers.host.toLowerCase())) headers.host = upstream.host;
    if (typeof headers.origin === 'string' && selfNames().some((n) => headers.origin === `http://${n}`)) headers.origin = upstream.origin;
    headers.authorization = `Bearer ${token()}`;
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.statusMessage, forwardable(up.headers));
      res.flushHeaders();
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    out.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`conformance proxy: gateway unreachable: ${err.message}`);
    });
    // The client hung up (e.g. closed an SSE stream): close the gateway side too.
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  self = String((server.address() as AddressInfo).port);
  return {
    origin: `http://127.0.0.1:${self}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
