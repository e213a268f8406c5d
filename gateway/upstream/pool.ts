/**
 * One long-lived MCP client connection per configured upstream server (per process):
 * connected on first use, shared by concurrent callers, re-established after it drops.
 *
 * Both MCP eras: a server that answers `server/discover` is spoken to statelessly in the
 * 2026-07-28 way (`modern.ts`: `_meta` envelope per request, `resultType`, `input_required`
 * relayed to the caller); one that does not gets the 2025-11-25 `initialize` handshake (the
 * SDK's `Client`). The verdict is taken once per connection (`servers.<name>.era` can fix it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type CallToolResult,
  CallToolResultSchema,
  type CompleteResult,
  CompleteResultSchema,
  type GetPromptResult,
  GetPromptResultSchema,
  type JSONRPCMessage,
  ListPromptsResultSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesResultSchema,
  ListToolsResultSchema,
  LoggingMessageNotificationSchema,
  McpError,
  type MessageExtraInfo,
  type Prompt,
  PromptListChangedNotificationSchema,
  type ReadResourceResult,
  ReadResourceResultSchema,
  type RequestId,
  type Resource,
  ResourceListChangedNotificationSchema,
  type ResourceTemplate,
  type ServerCapabilities,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { LoadedConfig } from '../../src/config/load.js';
import { isStdioServer, type ServerConfig } from '../../src/config/schema.js';
import { resolveSecretMap, type SecretContext } from '../../src/config/secrets.js';
import type { Json } from '../../src/contracts/json.js';
import { HttpAuthError, HttpClientTransport, paramHeaders, SessionExpiredError } from './http-transport.js';
import { META_LOG_LEVEL, MODERN_PROTOCOL_VERSION, ModernUpstream, RpcError } from './modern.js';
import {
  type ListKind,
  type UpstreamCallOptions,
  UpstreamError,
  UpstreamInputRequired,
  type UpstreamLogMessage,
  type UpstreamPool,
  type UpstreamServerInfo,
} from './types.js';
import { META_AUTHORIZATION } from '../../src/contracts/meta.js';
import { type TokenIssuerInfo, tokenIssuerFor } from '../downstream/trinary.js';

export interface UpstreamPoolOptions {
  /** Where upstream stderr lines and connection events go (default: process.stderr). */
  log?: (line: string) => void;
  /** Client name announced to upstream servers. */
  clientName?: string;
  /** The environment `${env:NAME}` references in `env`/`headers` are read from, at each connect (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Who mints the trinary tokens stdio servers with `auth.audience` receive: they get
   * `SKILLGATE_ISSUER` and `SKILLGATE_JWKS_URI` (public values) to verify them. Default: from
   * the config's publicUrl. A function is read when the server starts.
   */
  tokenIssuer?: TokenIssuerInfo | (() => TokenIssuerInfo);
}

/** A Streamable HTTP server Skillgate started (`command` + `transport: http`). */
interface SpawnedServer {
  child: ChildProcess;
  url: Promise<URL>;
}

/** What both kinds of connection keep: cached lists, dropped when the server says they changed. */
interface Cached {
  closed: boolean;
  info: UpstreamServerInfo;
  capabilities: ServerCapabilities;
  instructions?: string;
  tools?: Promise<Tool[]>;
  resources?: Promise<Resource[]>;
  templates?: Promise<ResourceTemplate[]>;
  prompts?: Promise<Prompt[]>;
}

/** A 2025-11-25 connection: the SDK's Client after `initialize`. */
interface LegacyConnection extends Cached {
  era: 'legacy';
  client: Client;
  transport: Transport;
  /** Request id → the log sink of the caller that sent it (log messages are routed by request). */
  logSinks: Map<RequestId, (m: UpstreamLogMessage) => void>;
  /** `logging/setLevel debug` sent once, when a first caller asked for log messages. */
  logging?: Promise<void>;
}

/** A 2026-07-28 connection: stateless requests with the `_meta` envelope. */
interface ModernConnection extends Cached {
  era: 'modern';
  up: ModernUpstream;
  transport: Transport;
}

type Connection = LegacyConnection | ModernConnection;

/** The `_meta` key the pool uses to learn which JSON-RPC id the SDK gave one of its requests; never sent. */
const RELAY_KEY = 'dev.skillgate/relay';

/** How long a stdio server may take to answer the era question before it is taken for a 2025 one. */
const STDIO_PROBE_MS = 5_000;

/** A transport already started by the era probe, handed to the SDK's Client as if new. */
class StartedTransport implements Transport {
  constructor(private readonly inner: Transport) {}
  set onmessage(fn: Transport['onmessage']) {
    this.inner.onmessage = fn;
  }
  get onmessage(): Transport['onmessage'] {
    return this.inner.onmessage;
  }
  set onclose(fn: Transport['onclose']) {
    this.inner.onclose = fn;
  }
  get onclose(): Transport['onclose'] {
    return this.inner.onclose;
  }
  set onerror(fn: Transport['onerror']) {
    this.inner.onerror = fn;
  }
  get onerror(): Transport['onerror'] {
    return this.inner.onerror;
  }
  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }
  setProtocolVersion(v: string): void {
    this.inner.setProtocolVersion?.(v);
  }
  async start(): Promise<void> {}
  send(message: JSONRPCMessage, options?: Parameters<Transport['send']>[1]): Promise<void> {
    return this.inner.send(message, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** JSON-RPC codes that mean "this request was wrong", as opposed to the server being unwell. */
// -32021: the server needs a client capability the request did not declare (2026-07-28).
const CLIENT_FAULT_CODES = new Set([-32600, -32601, -32602, -32700, -32021]);

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
  let closing = false;

  function configOf(server: string): ServerConfig {
    const cfg = servers[server];
    if (!cfg) {
      throw new UpstreamError('ERR_UPSTREAM_UNKNOWN_SERVER', `unknown server "${server}" (not in ${loaded.file})`, server);
    }
    return cfg;
  }

  /**
   * What a server Skillgate starts needs to know about Skillgate (public values, never
   * secrets): one that verifies trinary tokens gets the issuer and its JWKS; one that is a
   * provider's system gets Skillgate's public URL (its OAuth redirect URIs live there).
   */
  function issuerEnv(cfg: ServerConfig): Record<string, string> {
    if (cfg.auth?.provider !== undefined) return { SKILLGATE_PUBLIC_URL: loaded.config.publicUrl.replace(/\/+$/, '') };
    if (cfg.auth?.audience === undefined) return {};
    const t = opts.tokenIssuer;
    const info = typeof t === 'function' ? t() : (t ?? tokenIssuerFor(loaded.config.publicUrl));
    return { SKILLGATE_ISSUER: info.issuer, SKILLGATE_JWKS_URI: info.jwksUri };
  }

  const spawned = new Map<string, SpawnedServer>();

  /**
   * Start (once) a server that serves MCP over Streamable HTTP on a loopback port: the first
   * line of its standard output is its MCP URL. It lives as long as the pool.
   */
  function spawnHttp(server: string, cfg: ServerConfig, secrets: SecretContext): SpawnedServer {
    const running = spawned.get(server);
    if (running && running.child.exitCode === null && running.child.signalCode === null) return running;
    const child = spawn(cfg.command === 'node' ? process.execPath : cfg.command!, cfg.args ?? [], {
      cwd: cfg.cwd ? loaded.path(cfg.cwd) : loaded.baseDir,
      env: { ...getDefaultEnvironment(), ...issuerEnv(cfg), ...resolveSecretMap(cfg.env, ['servers', server, 'env'], secrets) },
      // Standard input stays open for the child's life and closes when Skillgate's process ends,
      // however it ends (a kill -9 too): a server may stop then instead of living on orphaned.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin!.on('error', () => {});
    const url = new Promise<URL>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const nl = out.indexOf('\n');
        if (nl === -1) return;
        child.stdout!.off('data', onData);
        const line = out.slice(0, nl).trim();
        const u = URL.parse(line);
        if (u && u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) resolve(u);
        else reject(new Error(`server "${server}" printed ${JSON.stringify(line.slice(0, 100))} instead of its loopback MCP URL`));
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code, signal) => reject(new Error(`server "${server}" exited (${signal ?? code}) before printing its URL`)));
      child.once('error', reject);
    });
    url.catch(() => {});
    let buffered = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        log(`[${server}] ${buffered.slice(0, nl)}`);
        buffered = buffered.slice(nl + 1);
      }
    });
    const s = { child, url };
    spawned.set(server, s);
    return s;
  }

  async function makeTransport(server: string, cfg: ServerConfig): Promise<Transport> {
    // Resolved now, not at load: the loaded config only ever holds the references.
    const secrets: SecretContext = { env: opts.env ?? process.env, baseDir: loaded.baseDir };
    if (isStdioServer(cfg) && cfg.transport === 'http') {
      return new HttpClientTransport(await spawnHttp(server, cfg, secrets).url);
    }
    if (isStdioServer(cfg)) {
      const transport = new StdioClientTransport({
        command: cfg.command === 'node' ? process.execPath : cfg.command,
        args: cfg.args ?? [],
        cwd: cfg.cwd ? loaded.path(cfg.cwd) : loaded.baseDir,
        // The SDK's short list (PATH, HOME, …) and this server's own `env:`, nothing else: the
        // gateway's environment holds every server's secrets, and a child can hand its
        // environment to whoever calls its tools.
        env: { ...getDefaultEnvironment(), ...issuerEnv(cfg), ...resolveSecretMap(cfg.env, ['servers', server, 'env'], secrets) },
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

  const listeners = new Set<(server: string, kind: ListKind) => void>();
  const changed = (server: string, conn: Cached, kind: ListKind) => {
    if (kind === 'tools') conn.tools = undefined;
    if (kind === 'resources') conn.resources = conn.templates = undefined;
    if (kind === 'prompts') conn.prompts = undefined;
    for (const l of listeners) {
      try {
        l(server, kind);
      } catch (err) {
        log(`[${server}] list-changed listener failed: ${describe(err)}`);
      }
    }
  };

  /**
   * Ask a freshly started transport whether the server is of the modern era. Modern: its
   * discover answer. Legacy: undefined (the transport stays usable for `initialize`). A
   * recognised modern error (e.g. no common version) is thrown: that server is modern but
   * cannot be spoken to (basic/versioning, "Backward Compatibility").
   */
  async function probe(server: string, up: ModernUpstream, stdio: boolean): Promise<ModernUpstream | undefined> {
    try {
      const d = await up.discover();
      if (!Array.isArray(d.supportedVersions) || !d.supportedVersions.includes(MODERN_PROTOCOL_VERSION)) {
        throw new UpstreamError('ERR_UPSTREAM_PROTOCOL', `server "${server}" speaks ${JSON.stringify(d.supportedVersions)}, not ${MODERN_PROTOCOL_VERSION}`, server);
      }
      return up;
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      if (err instanceof RpcError && (err.code === -32022 || err.code === -32020 || err.code === -32021)) {
        throw new UpstreamError('ERR_UPSTREAM_PROTOCOL', `server "${server}" is of the 2026 era but refused us: ${err.message}`, server, { cause: err });
      }
      if (err instanceof StreamableHTTPError && err.code === 400 && /"code"\s*:\s*-3202[012]\b/.test(err.message)) {
        throw new UpstreamError('ERR_UPSTREAM_PROTOCOL', `server "${server}" is of the 2026 era but refused us: ${err.message.slice(0, 300)}`, server, { cause: err });
      }
      // Anything else — an unknown method, a 4xx without a modern error, silence on stdio — is a 2025 server.
      if (!stdio && !(err instanceof StreamableHTTPError || err instanceof RpcError)) throw err;
      return undefined;
    }
  }

  /** Connect once: concurrent callers share the attempt (registered before its first await). */
  function connect(server: string): Promise<Connection> {
    const attempt = connectNow(server);
    if (!connections.has(server)) connections.set(server, attempt);
    attempt.catch(() => {
      if (connections.get(server) === attempt) connections.delete(server);
    });
    return attempt;
  }

  async function connectNow(server: string): Promise<Connection> {
    const cfg = configOf(server);
    // A server Skillgate starts over HTTP is spoken to like any HTTP server.
    const stdio = isStdioServer(cfg) && cfg.transport !== 'http';
    let transport: Transport;
    try {
      transport = await makeTransport(server, cfg);
    } catch (err) {
      throw new UpstreamError('ERR_UPSTREAM_PROTOCOL', `cannot connect to server "${server}": ${describe(err)}`, server, { cause: err });
    }
    const clientInfo = { name: opts.clientName ?? 'skillgate', version: '0.1.0' };
    const current = (async (): Promise<Connection> => {
      try {
        let modern: ModernUpstream | undefined;
        let legacyTransport: Transport = transport;
        if (cfg.era !== 'legacy') {
          const up = new ModernUpstream(transport, clientInfo);
          await up.start();
          modern = cfg.era === 'modern' ? (await up.discover(), up) : await Promise.race([
            probe(server, up, stdio),
            // A stdio server that never answers an unknown request is a 2025 one (stdio "Backward Compatibility").
            ...(stdio ? [new Promise<undefined>((r) => setTimeout(() => r(undefined), STDIO_PROBE_MS).unref())] : []),
          ]);
          // Over HTTP each request is its own POST: a fresh transport for the session. Over stdio
          // the probed process stays, handed on as already started.
          if (!modern) legacyTransport = stdio ? new StartedTransport(transport) : await makeTransport(server, cfg);
        }
        return modern ? modernConnection(server, modern, transport) : await legacyConnection(server, legacyTransport, clientInfo);
      } catch (err) {
        connections.delete(server);
        await transport.close().catch(() => {});
        if (err instanceof UpstreamError) throw err;
        // Unreachable or unwell is worth retrying; refused (HTTP 4xx, invalid params) is not.
        const { code } = classify(server, 'initialize', err);
        throw new UpstreamError(code, `cannot connect to server "${server}": ${describe(err)}`, server, { cause: err });
      }
    })();
    connections.set(server, current);
    return current;
  }

  function modernConnection(server: string, up: ModernUpstream, transport: Transport): ModernConnection {
    const d = up.discoverResult!;
    const info = (d._meta as Record<string, unknown> | undefined)?.['io.modelcontextprotocol/serverInfo'] as Partial<UpstreamServerInfo> | undefined;
    const conn: ModernConnection = {
      era: 'modern',
      up,
      transport,
      closed: false,
      info: { name: String(info?.name ?? ''), version: String(info?.version ?? ''), ...(typeof info?.title === 'string' ? { title: info.title } : {}) },
      capabilities: (d.capabilities ?? {}) as ServerCapabilities,
      ...(typeof d.instructions === 'string' ? { instructions: d.instructions } : {}),
    };
    up.onclose = () => {
      conn.closed = true;
      if (connections.get(server) !== undefined) void connections.get(server)!.then((c) => c === conn && connections.delete(server)).catch(() => {});
      if (!closing) log(`[${server}] connection closed`);
    };
    up.onnotification = (method) => {
      if (method === 'notifications/tools/list_changed') changed(server, conn, 'tools');
      if (method === 'notifications/resources/list_changed') changed(server, conn, 'resources');
      if (method === 'notifications/prompts/list_changed') changed(server, conn, 'prompts');
    };
    // Change notifications come on a listen stream (basic/patterns/subscriptions), if the server has any.
    const caps = conn.capabilities;
    const filter = {
      ...(caps.tools?.listChanged ? { toolsListChanged: true } : {}),
      ...(caps.resources?.listChanged ? { resourcesListChanged: true } : {}),
      ...(caps.prompts?.listChanged ? { promptsListChanged: true } : {}),
    };
    if (Object.keys(filter).length) {
      void up.request('subscriptions/listen', { notifications: filter }, { timeoutMs: 2 ** 31 - 1 }).catch(() => {});
    }
    return conn;
  }

  async function legacyConnection(server: string, transport: Transport, clientInfo: { name: string; version: string }): Promise<LegacyConnection> {
    const client = new Client(clientInfo, { capabilities: {} });
    const conn: LegacyConnection = { era: 'legacy', client, transport, closed: false, info: { name: '', version: '' }, capabilities: {}, logSinks: new Map() };
    client.onclose = () => {
      conn.closed = true;
      // Forget the dead connection so the next call reconnects.
      void connections.get(server)?.then((c) => c === conn && connections.delete(server)).catch(() => {});
      if (!closing) log(`[${server}] connection closed`);
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => changed(server, conn, 'tools'));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => changed(server, conn, 'resources'));
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => changed(server, conn, 'prompts'));
    // Log lines that belong to no request of ours (stdio, or sent outside a request) are only logged.
    client.setNotificationHandler(LoggingMessageNotificationSchema, () => {});
    await client.connect(transport);
    // Route each log message to the caller whose request it came with (HTTP: the request's own
    // answer stream says which; see http-transport.ts `dispatch`). The SDK's handler sees it too.
    const deliver = transport.onmessage!;
    transport.onmessage = (message: JSONRPCMessage, extra?: MessageExtraInfo) => {
      if ('method' in message && message.method === 'notifications/message' && !('id' in message)) {
        const related = (extra as { relatedRequestId?: RequestId } | undefined)?.relatedRequestId;
        const sink = related === undefined ? undefined : conn.logSinks.get(related);
        const parsed = LoggingMessageNotificationSchema.safeParse(message);
        if (sink && parsed.success) sink(parsed.data.params as UpstreamLogMessage);
      }
      deliver(message, extra);
    };
    // Learn the id of a request that asked for log routing (RELAY_KEY), and keep the key to ourselves.
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
      if ('method' in message && 'id' in message) {
        const meta = (message.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
        const relay = meta?.[RELAY_KEY];
        if (relay !== undefined) {
          const { [RELAY_KEY]: _, ...rest } = meta!;
          const pending = relays.get(relay as number);
          if (pending) {
            conn.logSinks.set(message.id, pending);
            relays.delete(relay as number);
            relayIds.set(relay as number, message.id);
          }
          message = { ...message, params: { ...message.params, _meta: rest } } as JSONRPCMessage;
        }
      }
      return send(message, options);
    };
    conn.capabilities = client.getServerCapabilities() ?? {};
    const v = client.getServerVersion();
    conn.info = { name: v?.name ?? '', version: v?.version ?? '', ...(v?.title ? { title: v.title } : {}) };
    const instructions = client.getInstructions();
    if (instructions) conn.instructions = instructions;
    return conn;
  }

  /** Relay number → log sink, until the SDK assigns the request an id (see legacyConnection). */
  const relays = new Map<number, (m: UpstreamLogMessage) => void>();
  const relayIds = new Map<number, RequestId>();
  let nextRelay = 1;

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
    if (err instanceof McpError || err instanceof RpcError) {
      // The SDK reports its own request timeout (-32001) and a closed connection (-32000) as McpErrors.
      if (CLIENT_FAULT_CODES.has(err.code)) {
        return new UpstreamError('ERR_UPSTREAM_PROTOCOL', `server "${server}" refused ${what}: ${err.message}`, server, { cause: err });
      }
      return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `server "${server}" failed ${what}: ${err.message}`, server, { cause: err });
    }
    if (err instanceof HttpAuthError && (err.code === 401 || err.insufficientScope)) {
      const scopes = err.insufficientScope;
      return new UpstreamError('ERR_UPSTREAM_UNAUTHORIZED', `server "${server}" refused the credential of ${what} (HTTP ${err.code})`, server, {
        cause: err,
        ...(scopes ? { challenge: { insufficientScope: scopes } } : {}),
      });
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
    const inner = conn.transport instanceof StartedTransport ? undefined : conn.transport;
    const dead = inner instanceof StdioClientTransport ? inner.pid === null : err instanceof SessionExpiredError;
    if (dead) {
      connections.delete(server);
      await closeConnection(conn);
    }
  }

  function closeConnection(conn: Connection): Promise<void> {
    return (conn.era === 'legacy' ? conn.client.close() : conn.up.close()).catch(() => {});
  }

  /**
   * One request of either era. Legacy: the SDK's typed call. Modern: the envelope, relaying
   * progress and log messages, and `input_required` as UpstreamInputRequired.
   */
  async function request<T>(
    server: string,
    what: string,
    callOpts: UpstreamCallOptions,
    legacy: (conn: LegacyConnection, options: { signal?: AbortSignal; timeout?: number; onprogress?: (p: { progress: number; total?: number; message?: string }) => void }, meta: Record<string, unknown> | undefined) => Promise<T>,
    modern: { method: string; params: Record<string, unknown>; schema: z.ZodType<T> },
  ): Promise<T> {
    const conn = await connection(server);
    try {
      if (conn.era === 'legacy') {
        let meta: Record<string, unknown> | undefined = callOpts.meta ? { ...callOpts.meta } : undefined;
        let relay: number | undefined;
        if (callOpts.onlog) {
          if (conn.capabilities.logging) {
            conn.logging ??= conn.client.setLoggingLevel('debug').then(
              () => {},
              () => {},
            );
            await conn.logging;
          }
          relay = nextRelay++;
          relays.set(relay, filterLevel(callOpts.onlog, callOpts.logLevel));
          meta = { ...meta, [RELAY_KEY]: relay };
        }
        try {
          return await legacy(
            conn,
            {
              ...(callOpts.signal ? { signal: callOpts.signal } : {}),
              ...(callOpts.timeoutMs ? { timeout: callOpts.timeoutMs } : {}),
              ...(callOpts.onprogress ? { onprogress: callOpts.onprogress } : {}),
            },
            meta,
          );
        } finally {
          if (relay !== undefined) {
            relays.delete(relay);
            const id = relayIds.get(relay);
            relayIds.delete(relay);
            if (id !== undefined) conn.logSinks.delete(id);
          }
        }
      }
      const meta: Record<string, unknown> = { ...callOpts.meta };
      let token: string | undefined;
      if (callOpts.onprogress) meta.progressToken = token = `p${nextRelay++}`;
      if (callOpts.onlog && callOpts.logLevel) meta[META_LOG_LEVEL] = callOpts.logLevel;
      const params: Record<string, unknown> = { ...modern.params };
      if (callOpts.inputResponses) params.inputResponses = callOpts.inputResponses;
      if (callOpts.requestState !== undefined) params.requestState = callOpts.requestState;
      // A tool's `x-mcp-header` parameters travel as Mcp-Param-* headers too (streamable-http "Custom Headers").
      const headers = modern.method === 'tools/call' ? paramHeaders((await cachedList<Tool>(server, 'tools', 'tools/list', 'tools', 'tools').catch(() => [])).find((t) => t.name === modern.params.name)?.inputSchema, modern.params.arguments as Record<string, unknown>) : {};
      const raw = await conn.up.request(modern.method, params, {
        meta,
        ...(Object.keys(headers).length ? { headers } : {}),
        ...(callOpts.clientCapabilities ? { capabilities: callOpts.clientCapabilities } : {}),
        ...(callOpts.signal ? { signal: callOpts.signal } : {}),
        ...(callOpts.timeoutMs ? { timeoutMs: callOpts.timeoutMs } : {}),
        onnotification: (method, p) => {
          if (method === 'notifications/progress' && p && callOpts.onprogress && p.progressToken === token) {
            callOpts.onprogress({ progress: Number(p.progress), ...(typeof p.total === 'number' ? { total: p.total } : {}), ...(typeof p.message === 'string' ? { message: p.message } : {}) });
          }
          if (method === 'notifications/message' && p && callOpts.onlog) callOpts.onlog(p as unknown as UpstreamLogMessage);
        },
      });
      if (raw.resultType === 'input_required') {
        throw new UpstreamInputRequired(server, raw.inputRequests as { [k: string]: Json } | undefined, typeof raw.requestState === 'string' ? raw.requestState : undefined);
      }
      const parsed = modern.schema.safeParse(withoutProtocolMeta(raw));
      if (!parsed.success) throw new UpstreamError('ERR_UPSTREAM_PROTOCOL', `server "${server}" answered ${what} with an invalid result: ${parsed.error.message.slice(0, 300)}`, server);
      return parsed.data;
    } catch (err) {
      if (err instanceof UpstreamInputRequired) throw err;
      await dropIfDead(server, conn, err);
      throw classify(server, what, err);
    }
  }

  /** All pages of a list, cached on the connection until the server says it changed. */
  async function cachedList<T>(server: string, slot: 'tools' | 'resources' | 'templates' | 'prompts', method: string, field: string, capability: keyof ServerCapabilities): Promise<T[]> {
    const conn = await connection(server);
    const existing = conn[slot] as Promise<T[]> | undefined;
    if (existing) return existing;
    if (!conn.capabilities[capability]) return [];
    const fetching = (async () => {
      const all: T[] = [];
      let cursor: string | undefined;
      do {
        const page =
          conn.era === 'legacy'
            ? ((await conn.client.request({ method, params: cursor ? { cursor } : {} } as never, listSchemas[method]!)) as Record<string, unknown>)
            : await conn.up.request(method, cursor ? { cursor } : {});
        all.push(...((page[field] as T[] | undefined) ?? []));
        cursor = typeof page.nextCursor === 'string' ? page.nextCursor : undefined;
      } while (cursor);
      return all;
    })().catch(async (err: unknown) => {
      (conn as unknown as Record<string, unknown>)[slot] = undefined;
      await dropIfDead(server, conn, err);
      throw classify(server, method, err);
    });
    (conn as unknown as Record<string, unknown>)[slot] = fetching;
    return fetching;
  }

  return {
    servers: () => Object.keys(servers),

    async describe(server) {
      const conn = await connection(server);
      return { era: conn.era, capabilities: conn.capabilities, ...(conn.instructions ? { instructions: conn.instructions } : {}) };
    },

    listTools: (server) => cachedList<Tool>(server, 'tools', 'tools/list', 'tools', 'tools'),

    async serverInfo(server) {
      return (await connection(server)).info;
    },

    async inventory(server) {
      const conn = await connection(server);
      const caps = conn.capabilities as { [key: string]: unknown };
      const errors: string[] = [];
      const all = async (method: string, key: string): Promise<Array<{ [key: string]: unknown }>> => {
        const out: Array<{ [key: string]: unknown }> = [];
        let cursor: string | undefined;
        try {
          do {
            const params = cursor ? { cursor } : {};
            const body = (conn.era === 'legacy' ? await conn.client.request({ method, params } as never, rawPage(key)) : await conn.up.request(method, params)) as { [k: string]: unknown };
            const items = body[key];
            if (!Array.isArray(items)) throw new UpstreamError('ERR_UPSTREAM_PROTOCOL', `server "${server}" answered ${method} without a ${key} list`, server);
            out.push(...(items as Array<{ [key: string]: unknown }>));
            cursor = typeof body.nextCursor === 'string' ? body.nextCursor : undefined;
          } while (cursor);
        } catch (err) {
          await dropIfDead(server, conn, err);
          errors.push(`${method}: ${classify(server, method, err).message}`);
        }
        return out;
      };
      return {
        info: conn.info,
        capabilities: caps,
        ...(conn.instructions !== undefined ? { instructions: conn.instructions } : {}),
        tools: caps.tools ? await all('tools/list', 'tools') : [],
        resources: caps.resources ? await all('resources/list', 'resources') : [],
        resourceTemplates: caps.resources ? await all('resources/templates/list', 'resourceTemplates') : [],
        prompts: caps.prompts ? await all('prompts/list', 'prompts') : [],
        errors,
      };
    },

    onToolListChanged(listener) {
      const wrapped = (server: string, kind: ListKind) => {
        if (kind === 'tools') listener(server);
      };
      listeners.add(wrapped);
      return () => void listeners.delete(wrapped);
    },
    listResources: (server) => cachedList<Resource>(server, 'resources', 'resources/list', 'resources', 'resources'),
    listResourceTemplates: (server) => cachedList<ResourceTemplate>(server, 'templates', 'resources/templates/list', 'resourceTemplates', 'resources'),
    listPrompts: (server) => cachedList<Prompt>(server, 'prompts', 'prompts/list', 'prompts', 'prompts'),

    callTool(server, tool, args, callOpts: UpstreamCallOptions = {}) {
      // The call's credential: over stdio in `_meta` (its only way); over HTTP the transport lifts it into the header.
      const opts = callOpts.authorization !== undefined ? { ...callOpts, meta: { ...callOpts.meta, [META_AUTHORIZATION]: callOpts.authorization } } : callOpts;
      return request<CallToolResult>(
        server,
        `tools/call ${tool}`,
        opts,
        async (conn, options, meta) =>
          (await conn.client.callTool({ name: tool, arguments: args, ...(meta ? { _meta: meta } : {}) }, CallToolResultSchema, options)) as CallToolResult,
        { method: 'tools/call', params: { name: tool, arguments: args }, schema: CallToolResultSchema as unknown as z.ZodType<CallToolResult> },
      );
    },

    readResource(server, uri, callOpts: UpstreamCallOptions = {}) {
      return request<ReadResourceResult>(
        server,
        'resources/read',
        callOpts,
        (conn, options, meta) => conn.client.readResource({ uri, ...(meta ? { _meta: meta } : {}) }, options),
        { method: 'resources/read', params: { uri }, schema: ReadResourceResultSchema as unknown as z.ZodType<ReadResourceResult> },
      );
    },

    getPrompt(server, name, args, callOpts: UpstreamCallOptions = {}) {
      return request<GetPromptResult>(
        server,
        `prompts/get ${name}`,
        callOpts,
        (conn, options, meta) => conn.client.getPrompt({ name, ...(args ? { arguments: args } : {}), ...(meta ? { _meta: meta } : {}) }, options),
        { method: 'prompts/get', params: { name, ...(args ? { arguments: args } : {}) }, schema: GetPromptResultSchema as unknown as z.ZodType<GetPromptResult> },
      );
    },

    complete(server, params, callOpts: UpstreamCallOptions = {}) {
      return request<CompleteResult>(
        server,
        'completion/complete',
        callOpts,
        (conn, options) => conn.client.complete(params, options),
        { method: 'completion/complete', params: params as unknown as Record<string, unknown>, schema: CompleteResultSchema as unknown as z.ZodType<CompleteResult> },
      );
    },

    onListChanged(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },

    async url(server) {
      const cfg = configOf(server);
      if (cfg.url) return new URL(cfg.url);
      if (cfg.transport === 'http') return spawnHttp(server, cfg, { env: opts.env ?? process.env, baseDir: loaded.baseDir }).url;
      throw new UpstreamError('ERR_UPSTREAM_PROTOCOL', `server "${server}" is a stdio server: it has no URL`, server);
    },

    async close() {
      closing = true;
      for (const s of spawned.values()) s.child.kill('SIGTERM');
      spawned.clear();
      const all = [...connections.values()];
      connections.clear();
      await Promise.all(
        all.map(async (p) => {
          const conn = await p.catch(() => undefined);
          if (conn) await closeConnection(conn);
        }),
      );
    },
  };
}

/** Only log messages at `level` or above reach the sink (RFC 5424 order, MCP logging). */
function filterLevel(sink: (m: UpstreamLogMessage) => void, level: string | undefined): (m: UpstreamLogMessage) => void {
  const order = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
  const min = level ? order.indexOf(level) : 0;
  return (m) => {
    if (order.indexOf(m.level) >= min) sink(m);
  };
}

/** A list page as sent: items kept as raw JSON objects, for curation to judge (not to serve). */
const rawPage = (key: string) => z.object({ [key]: z.array(z.record(z.string(), z.unknown())), nextCursor: z.string().optional() }).loose();

/** Result schemas of the list methods, for the SDK's typed request on legacy connections. */
const listSchemas: Record<string, z.ZodType> = {
  'tools/list': ListToolsResultSchema,
  'resources/list': ListResourcesResultSchema,
  'resources/templates/list': ListResourceTemplatesResultSchema,
  'prompts/list': ListPromptsResultSchema,
};

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${code ? `${code} ` : ''}${err.message}${cause}`;
  }
  return String(err);
}

/**
 * A 2026-07-28 result without the upstream's own envelope: `resultType` (read before this) and
 * its protocol `_meta` (`io.modelcontextprotocol/…`: its serverInfo, its protocol version).
 * Those describe the upstream's exchange with Skillgate, not the answer; each front door era
 * adds its own envelope. Other `_meta` keys are the tool's and stay.
 */
function withoutProtocolMeta(raw: Record<string, unknown>): Record<string, unknown> {
  const { _meta: meta, resultType: _resultType, ...rest } = raw;
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return rest;
  const kept = Object.fromEntries(Object.entries(meta as Record<string, unknown>).filter(([k]) => !k.startsWith('io.modelcontextprotocol/')));
  return Object.keys(kept).length ? { ...rest, _meta: kept } : rest;
}
