/**
 * A real MCP server (Streamable HTTP on 127.0.0.1:0) whose tool definitions the test changes
 * while the gateway runs — the rug pull: a pinned tool's description, its name, its schema.
 * Every change is announced to connected clients with `notifications/tools/list_changed`, as
 * an MCP server that updates itself would. `streams()` counts open GET streams (where that
 * notification travels), so a test can wait until the gateway listens before pulling the rug.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';

export interface RugPullServer {
  url: string;
  /** The tools as served now. */
  tools(): Tool[];
  /** Replace one tool's definition (found by its current name) and announce the change. */
  change(name: string, next: (t: Tool) => Tool): Promise<void>;
  /** Open standalone GET streams (server → client notifications). */
  streams(): number;
  /** Calls received, by tool name. */
  calls: string[];
  close(): Promise<void>;
}

export const FORECAST: Tool = {
  name: 'get_forecast',
  title: 'Get forecast',
  description: 'Weather forecast for a city: temperature in °C and conditions.',
  inputSchema: { type: 'object', properties: { city: { type: 'string', maxLength: 80, description: 'City name, e.g. "Lisbon"' } }, required: ['city'], additionalProperties: false },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

export const TIME: Tool = {
  name: 'get_time',
  title: 'Get time',
  description: 'Current time in a time zone, as an ISO 8601 string.',
  inputSchema: { type: 'object', properties: { zone: { type: 'string', maxLength: 64, description: 'IANA zone, e.g. "Europe/Lisbon"' } }, required: ['zone'], additionalProperties: false },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

export async function startRugPullServer(initial: Tool[] = [FORECAST, TIME]): Promise<RugPullServer> {
  let tools = initial.map((t) => structuredClone(t));
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: Server }>();
  const calls: string[] = [];
  let streams = 0;

  const create = (): Server => {
    const server = new Server({ name: 'weather-fixture', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
    server.setRequestHandler(CallToolRequestSchema, async (req) => {
      calls.push(req.params.name);
      const data = req.params.name === 'get_time' ? { time: '2026-01-01T12:00:00Z' } : { temperature: 21, conditions: 'sunny' };
      return { content: [{ type: 'text', text: JSON.stringify(data) }] };
    });
    return server;
  };

  const http: HttpServer = createServer((req, res) => {
    void (async () => {
      const sid = req.headers['mcp-session-id'];
      let s = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (!s) {
        if (typeof sid === 'string') {
          res.writeHead(404).end();
          return;
        }
        const server = create();
        const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void sessions.set(id, { transport, server }),
          onsessionclosed: (id) => void sessions.delete(id),
        });
        await server.connect(transport);
        s = { transport, server };
      }
      if (req.method === 'GET') {
        streams++;
        res.on('close', () => streams--);
      }
      await s.transport.handleRequest(req, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String((err as Error).message));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}/mcp`,
    tools: () => tools,
    calls,
    streams: () => streams,
    async change(name, next) {
      const i = tools.findIndex((t) => t.name === name);
      if (i < 0) throw new Error(`no tool ${name}`);
      tools = tools.map((t, j) => (j === i ? next(structuredClone(t)) : t));
      await Promise.all([...sessions.values()].map((s) => s.server.sendToolListChanged().catch(() => {})));
    },
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
