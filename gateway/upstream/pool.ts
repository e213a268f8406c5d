/**
 * One long-lived MCP client connection per configured upstream server (per process):
 * connected on first use, shared by concurrent callers, re-established after it drops.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type CallToolResult,
  CallToolResultSchema,
  McpError,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { isStdioServer, type ServerConfig } from '../../src/config/schema.js';
import { resolveSecretMap, type SecretContext } from '../../src/config/secrets.js';
import type { Json } from '../../src/contracts/json.js';
import { z } from 'zod';
import { HttpClientTransport, SessionExpiredError } from './http-transport.js';
import { type UpstreamCallOptions, UpstreamError, type UpstreamInventory, type UpstreamPool } from './types.js';

export interface UpstreamPoolOptions {
  /** Where upstream stderr lines and connection events go (default: process.stderr). */
  log?: (line: string) => void;
  /** Client name announced to upstream servers. */
  clientName?: string;
  /** The environment `${env:NAME}` references in `env`/`headers` are read from, at each connect (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

interface Connection {
  client: Client;
  transport: Transport;
  tools?: Promise<Tool[]>;
  closed: boolean;
}

/** A list page as sent: items kept as raw JSON objects, for curation to judge (not to serve). */
const rawPage = (key: string) => z.object({ [key]: z.array(z.record(z.string(), z.unknown())), nextCursor: z.string().optional() }).loose();

/** JSON-RPC codes that mean "this request was wrong", as opposed to the server being unwell. */
const CLIENT_FAULT_CODES = new Set([-32600, -32601, -32602, -32700]);

/**
 * Create the pool for the servers of a loaded config.
 *
 * @example
 * const pool = createUpstreamPool(loadConfig());
 * const tools = await pool.listTools('core-banking');
 * const res = await pool.callTool('core-banking', 'get_customer', { customerId: 'C-1001' });
 */
export function createUpstreamPool(loaded: LoadedConfig, opts: UpstreamPoolOptions = {}): UpstreamPool {
  const servers = loaded.config.servers;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const connections = new Map<string, Promise<Connection>>();
  const toolListeners = new Set<(server: string) => void>();
  let closing = false;

  function configOf(server: string): ServerConfig {
    const cfg = servers[server];
    if (!cfg) {
      throw new UpstreamError('ERR_UPSTREAM_UNKNOWN_SERVER', `unknown server "${server}" (not in ${loaded.file})`, server);
    }
    return cfg;
  }

  function makeTransport(server: string, cfg: ServerConfig): Transport {
    // Resolved now, not at load: the loaded config only ever holds the references.
    const secrets: SecretContext = { env: opts.env ?? process.env, baseDir: loaded.baseDir };
    if (isStdioServer(cfg)) {
      const transport = new StdioClientTransport({
        command: cfg.command === 'node' ? process.execPath : cfg.command,
        args: cfg.args ?? [],
        cwd: cfg.cwd ? loaded.path(cfg.cwd) : loaded.baseDir,
        // The SDK's short list (PATH, HOME, …) and this server's own `env:`, nothing else: the
        // gateway's environment holds every server's secrets, and a child can hand its
        // environment to whoever calls its tools.
        env: { ...getDefaultEnvironment(), ...resolveSecretMap(cfg.env, ['servers', server, 'env'], secrets) },
        stderr: 'pipe',
      });
      let buffered = '';
      transport.stderr?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          log(`[${server}] ${buffered.slice(0, nl)}`);
          buffered = buffered.slice(nl + 1);
        }
      });
      return transport;
    }
    // Not the SDK's StreamableHTTPClientTransport: see http-transport.ts for what it costs.
    return new HttpClientTransport(new URL(cfg.url!), { headers: resolveSecretMap(cfg.headers, ['servers', server, 'headers'], secrets) });
  }

  async function connect(server: string): Promise<Connection> {
    const cfg = configOf(server);
    const client = new Client({ name: opts.clientName ?? 'skillgate', version: '0.1.0' }, { capabilities: {} });
    let transport: Transport;
    try {
      transport = makeTransport(server, cfg);
    } catch (err) {
      throw new UpstreamError('ERR_UPSTREAM_PROTOCOL', `cannot connect to server "${server}": ${describe(err)}`, server, { cause: err });
    }
    const conn: Connection = { client, transport, closed: false };
    client.onclose = () => {
      conn.closed = true;
      // Forget the dead connection so the next call reconnects.
      if (connections.get(server) === current) connections.delete(server);
      if (!closing) log(`[${server}] connection closed`);
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      conn.tools = undefined;
      for (const l of toolListeners) l(server);
    });
    const current = (async () => {
      try {
        await client.connect(transport);
      } catch (err) {
        connections.delete(server);
        await transport.close().catch(() => {});
        // Unreachable or unwell is worth retrying; refused (HTTP 4xx, invalid params) is not.
        const { code } = classify(server, 'initialize', err);
        throw new UpstreamError(code, `cannot connect to server "${server}": ${describe(err)}`, server, { cause: err });
      }
      return conn;
    })();
    connections.set(server, current);
    return current;
  }

  function connection(server: string): Promise<Connection> {
    if (closing) return Promise.reject(new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'the upstream pool is closed', server));
    const existing = connections.get(server);
    return existing ?? connect(server);
  }

  function classify(server: string, what: string, err: unknown): UpstreamError {
    if (err instanceof UpstreamError) return err;
    if (err instanceof SessionExpiredError) {
      return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `server "${server}" forgot the session during ${what}; the next call reconnects`, server, {
        cause: err,
      });
    }
    if (err instanceof McpError) {
      // The SDK reports its own request timeout (-32001) and a closed connection (-32000) as McpErrors.
      if (CLIENT_FAULT_CODES.has(err.code)) {
        return new UpstreamError('ERR_UPSTREAM_PROTOCOL', `server "${server}" refused ${what}: ${err.message}`, server, { cause: err });
      }
      return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `server "${server}" failed ${what}: ${err.message}`, server, { cause: err });
    }
    if (err instanceof StreamableHTTPError && err.code !== undefined && err.code >= 400 && err.code < 500 && err.code !== 408 && err.code !== 429) {
      return new UpstreamError('ERR_UPSTREAM_PROTOCOL', `server "${server}" refused ${what} (HTTP ${err.code})`, server, { cause: err });
    }
    return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `server "${server}" unavailable during ${what}: ${describe(err)}`, server, {
      cause: err,
    });
  }

  async function dropIfDead(server: string, conn: Connection, err: unknown): Promise<void> {
    if (conn.closed) return;
    // A transport-level failure may leave a half-open connection (HTTP 5xx does not close it,
    // a crashed stdio child does, an expired HTTP session cannot be used again). Closing is
    // cheap and the next call reconnects.
    const dead = conn.transport instanceof StdioClientTransport ? conn.transport.pid === null : err instanceof SessionExpiredError;
    if (dead) {
      connections.delete(server);
      await conn.client.close().catch(() => {});
    }
  }

  return {
    servers: () => Object.keys(servers),

    async listTools(server) {
      const conn = await connection(server);
      conn.tools ??= (async () => {
        const all: Tool[] = [];
        let cursor: string | undefined;
        do {
          const page = await conn.client.listTools(cursor ? { cursor } : {});
          all.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor);
        return all;
      })().catch(async (err: unknown) => {
        conn.tools = undefined;
        await dropIfDead(server, conn, err);
        throw classify(server, 'tools/list', err);
      });
      return conn.tools;
    },

    async serverInfo(server) {
      const conn = await connection(server);
      const v = conn.client.getServerVersion();
      return { name: v?.name ?? '', version: v?.version ?? '', ...(v?.title ? { title: v.title } : {}) };
    },

    async inventory(server) {
      const conn = await connection(server);
      const { client } = conn;
      const caps = (client.getServerCapabilities() ?? {}) as { [key: string]: unknown };
      const errors: string[] = [];
      const all = async (method: string, key: string): Promise<Array<{ [key: string]: unknown }>> => {
        const out: Array<{ [key: string]: unknown }> = [];
        let cursor: string | undefined;
        try {
          do {
            const page = await client.request({ method, params: cursor ? { cursor } : {} }, rawPage(key));
            const body = page as { [k: string]: unknown };
            out.push(...(body[key] as Array<{ [key: string]: unknown }>));
            cursor = typeof body.nextCursor === 'string' ? body.nextCursor : undefined;
          } while (cursor);
        } catch (err) {
          await dropIfDead(server, conn, err);
          errors.push(`${method}: ${classify(server, method, err).message}`);
        }
        return out;
      };
      const v = client.getServerVersion();
      const inv: UpstreamInventory = {
        info: { name: v?.name ?? '', version: v?.version ?? '', ...(v?.title ? { title: v.title } : {}) },
        capabilities: caps,
        ...(client.getInstructions() !== undefined ? { instructions: client.getInstructions() } : {}),
        tools: caps.tools ? await all('tools/list', 'tools') : [],
        resources: caps.resources ? await all('resources/list', 'resources') : [],
        resourceTemplates: caps.resources ? await all('resources/templates/list', 'resourceTemplates') : [],
        prompts: caps.prompts ? await all('prompts/list', 'prompts') : [],
        errors,
      };
      return inv;
    },

    onToolListChanged(listener) {
      toolListeners.add(listener);
      return () => toolListeners.delete(listener);
    },

    async callTool(server, tool, args, callOpts: UpstreamCallOptions = {}) {
      const conn = await connection(server);
      try {
        const params: { name: string; arguments: { [k: string]: Json }; _meta?: { [k: string]: Json } } = { name: tool, arguments: args };
        if (callOpts.meta) params._meta = callOpts.meta;
        const result = await conn.client.callTool(params, CallToolResultSchema, {
          signal: callOpts.signal,
          ...(callOpts.timeoutMs ? { timeout: callOpts.timeoutMs } : {}),
        });
        return result as CallToolResult;
      } catch (err) {
        await dropIfDead(server, conn, err);
        throw classify(server, `tools/call ${tool}`, err);
      }
    },

    async close() {
      closing = true;
      const all = [...connections.values()];
      connections.clear();
      await Promise.all(
        all.map(async (p) => {
          const conn = await p.catch(() => undefined);
          await conn?.client.close().catch(() => {});
        }),
      );
    },
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${code ? `${code} ` : ''}${err.message}${cause}`;
  }
  return String(err);
}
