/**
 * Runs a demo MCP server over stdio (default) or Streamable HTTP (`--http <port>`), with its
 * data in memory or under `--state <dir>`.
 *
 *   node dist/demo/core-banking/main.js --state .skillgate/demo
 *   node dist/demo/core-banking/main.js --http 8801
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { parseArgs } from 'node:util';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireTrinaryToken } from './auth.js';

export interface DemoMainOptions<S> {
  name: string;
  /**
   * A company system that takes only Skillgate's trinary tokens: its default audience
   * (`--audience` overrides) and the scopes each tool needs (demo/auth.ts).
   */
  auth?: { audience: string; scopes: Record<string, string[]> };
  /** Opens the system's data (persisted under `stateDir`, or in memory). Called once. */
  open: (stateDir: string | undefined) => S;
  /** Builds one MCP server over the data (one per HTTP session, sharing the data). */
  create: (state: S, guard?: (server: McpServer) => void) => McpServer;
}

/** Parse argv and serve. */
export async function demoMain<S>(opts: DemoMainOptions<S>, argv = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { http: { type: 'string' }, state: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, audience: { type: 'string' } },
    strict: true,
  });
  const auth = opts.auth;
  const guard = auth
    ? (server: McpServer) => requireTrinaryToken(server, { system: opts.name, audience: values.audience ?? auth.audience, scopes: auth.scopes, ...(values.state ? { stateDir: values.state } : {}) })
    : undefined;
  if (values.http !== undefined) {
    const server = await serveHttp({ create: (st) => opts.create(st, guard) }, opts.open(values.state), { port: Number(values.http), host: values.host });
    const addr = server.address();
    process.stderr.write(`${opts.name}: MCP over Streamable HTTP at http://${values.host}:${typeof addr === 'object' && addr ? addr.port : values.http}/mcp\n`);
    return;
  }
  const server = opts.create(opts.open(values.state), guard);
  await server.connect(new StdioServerTransport());
  // stdin closing means the client is gone: leave instead of lingering as an orphan.
  process.stdin.on('close', () => process.exit(0));
}

/**
 * Serve over Streamable HTTP at `/mcp` (stateful sessions: one McpServer per session, sharing
 * one store).
 */
export async function serveHttp<S>(
  opts: Pick<DemoMainOptions<S>, 'create'>,
  state: S,
  listen: { port: number; host?: string },
): Promise<Server> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer((req, res) => {
    void (async () => {
      if (!req.url?.startsWith('/mcp')) {
        res.writeHead(404).end();
        return;
      }
      const sid = req.headers['mcp-session-id'];
      let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (!transport) {
        if (typeof sid === 'string') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(
            JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'session not found' }, id: null }),
          );
          return;
        }
        const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void sessions.set(id, t),
          onsessionclosed: (id) => void sessions.delete(id),
        });
        transport = t;
        await opts.create(state).connect(t);
      }
      await transport.handleRequest(req as IncomingMessage, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String((err as Error).message));
    });
  });
  await new Promise<void>((resolve) => http.listen(listen.port, listen.host ?? '127.0.0.1', resolve));
  return http;
}
