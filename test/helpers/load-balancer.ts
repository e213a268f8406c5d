/**
 * The load balancer in front of the gateway replicas in tests: the rules deploy/nginx.conf gives
 * the production one, on 127.0.0.1.
 *   - Legacy traffic (a request with `Mcp-Session-Id`, or not a 2026-07-28+ request: a
 *     2025-11-25 session lives in one replica's memory, and its `initialize` carries no session
 *     id yet) goes to the replica its bearer token hashes to; 2026-07-28+ requests without a
 *     session (stateless) and everything else go round-robin.
 *   - A replica that refuses the connection is skipped for a while and the request goes to the
 *     next one: nothing reached the refusing replica, so this is safe for any request. A replica
 *     that dies while answering is not retried here (the request may have acted): the client
 *     sees the connection close and retries itself, with its idempotency key.
 *   - Responses stream through unbuffered (SSE).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';

export interface Backend {
  host: string;
  port: number;
}

export interface LoadBalancer {
  url: string;
  port: number;
  /** Requests sent to each backend (`host:port`), and connection refusals that moved a request on. */
  stats(): { sent: Record<string, number>; failovers: number; noBackend: number };
  /**
   * Replace the replicas behind it (bench/scale.ts: one, then two). Requests already forwarded
   * finish where they are; a legacy session lives on the replica that created it, so clients
   * should start new sessions after a change (its token may now hash to another replica).
   */
  setBackends(backends: Backend[]): void;
  close(): Promise<void>;
}

/** How long a replica that refused a connection is left out of the rotation. */
const DOWN_MS = 1_000;

export async function startLoadBalancer(initial: Backend[], opts: { port?: number } = {}): Promise<LoadBalancer> {
  let backends = [...initial];
  const downUntil = new Map<number, number>();
  const sent: Record<string, number> = {};
  let failovers = 0;
  let noBackend = 0;
  let next = 0;
  const key = (b: Backend) => `${b.host}:${b.port}`;

  /** The order in which to try the backends for this request. */
  const order = (stickTo: string | undefined): number[] => {
    const n = backends.length;
    const first = stickTo !== undefined ? createHash('sha1').update(stickTo).digest().readUInt32BE(0) % n : next++ % n;
    const all = Array.from({ length: n }, (_, i) => (first + i) % n);
    const now = Date.now();
    const up = all.filter((i) => (downUntil.get(i) ?? 0) <= now);
    // All marked down: try them anyway (one may be back).
    return up.length ? up : all;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, list: Backend[], tries: number[]): void => {
    const i = tries.shift();
    if (i === undefined) {
      noBackend++;
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'no gateway replica answered' }));
      return;
    }
    const b = list[i]!;
    let responded = false;
    const up = request({ host: b.host, port: b.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      responded = true;
      sent[key(b)] = (sent[key(b)] ?? 0) + 1;
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
      // The replica died mid-answer: close the client's connection so that it sees it.
      r.on('error', () => res.destroy());
      r.on('aborted', () => res.destroy());
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (!responded && (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH')) {
        downUntil.set(i, Date.now() + DOWN_MS);
        failovers++;
        forward(req, res, body, list, tries);
        return;
      }
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `gateway replica failed: ${err.code ?? err.message}` }));
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    up.end(body);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const sid = req.headers['mcp-session-id'];
      const version = req.headers['mcp-protocol-version'];
      const stateless = sid === undefined && typeof version === 'string' && version >= '2026-07-28';
      // The list at this request's arrival: setBackends() may replace it while it is forwarded.
      forward(req, res, Buffer.concat(chunks), backends, order(stateless ? undefined : (req.headers.authorization ?? '')));
    });
    req.on('error', () => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats: () => ({ sent: { ...sent }, failovers, noBackend }),
    setBackends(list) {
      if (list.length === 0) throw new Error('a load balancer needs at least one backend');
      backends = [...list];
      // Indices name other replicas now.
      downUntil.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
