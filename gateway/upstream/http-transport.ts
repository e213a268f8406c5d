/**
 * MCP Streamable HTTP, client side (protocol 2025-11-25), on `node:http` keep-alive sockets.
 *
 * Why not the SDK's StreamableHTTPClientTransport: against a no-op upstream it spends ~1.0 ms of
 * CPU per tools/call (undici fetch, Request/Headers/AbortSignal objects, web streams,
 * TextDecoderStream + EventSourceParserStream), while a keep-alive `node:http` POST whose SSE
 * answer goes straight into eventsource-parser's `createParser` (no web streams; ~0.3 µs more
 * per event than the hand-written parser it replaced, with a buffer bound that one lacked —
 * BENCHMARKS.md) spends ~0.26 ms and answers ~0.5 ms sooner. The gateway's budget is
 * ≤ 1 ms added per call, so the upstream leg takes this lean path. The SDK's `Client` runs on it
 * unchanged: this is only the `Transport`.
 *
 * What it does:
 *  - every message is a POST; the answer is 202 (nothing to read), one JSON body, or an SSE
 *    stream that carries the response and anything related to the request (progress, server
 *    requests) and ends when the server is done. `send()` resolves once the status is known
 *    (like the SDK's); bodies reach `onmessage` as they arrive;
 *  - the session id (`mcp-session-id`) and the negotiated protocol version are sent once known;
 *    a 404 on a request that carried a session id means the server forgot the session:
 *    {@link SessionExpiredError}, and the id is dropped;
 *  - after `notifications/initialized`, a standalone GET stream receives server-initiated
 *    messages (e.g. `notifications/tools/list_changed`), reconnected with backoff while open;
 *  - a request whose answer stream ends without its response fails at once (a synthetic
 *    `ConnectionClosed` JSON-RPC error) instead of waiting for the SDK's request timeout; a
 *    request the SDK cancels (abort, timeout) has its POST stream torn down.
 *
 * Per-call credentials: a request whose `_meta` holds `dev.skillgate/authorization` has it
 * removed from the body and sent as that request's `Authorization` header.
 *
 * Not here: OAuth discovery (Skillgate brings its own credentials), resuming an interrupted POST stream with
 * Last-Event-ID (the standalone GET stream does send it when reconnecting), redirects, batches.
 */
import http from 'node:http';
import https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { createParser } from 'eventsource-parser';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

export interface HttpClientTransportOptions {
  /** Sent with every request (e.g. `authorization`). The transport's own headers win on conflict. */
  headers?: Record<string, string>;
  /** Keep-alive agent to use (an `https.Agent` for https URLs); default: one owned per transport. */
  agent?: http.Agent;
}

/**
 * The server refused the request's credential: HTTP 401, or 403 (RFC 6750 §3.1); its
 * `WWW-Authenticate` challenge is kept (e.g. `error="insufficient_scope", scope="…"`).
 */
export class HttpAuthError extends StreamableHTTPError {
  constructor(
    status: number,
    readonly wwwAuthenticate: string | undefined,
    body: string,
  ) {
    super(status, `Error POSTing to endpoint (HTTP ${status}): ${body}`);
  }

  /** The scopes of an `insufficient_scope` challenge, if that is what it says. */
  get insufficientScope(): string[] | undefined {
    const h = this.wwwAuthenticate ?? '';
    if (!/error="insufficient_scope"/.test(h)) return undefined;
    return /scope="([^"]*)"/.exec(h)?.[1]?.split(' ').filter(Boolean);
  }
}

/** The server no longer knows our session (HTTP 404 on a request that carried its id). */
export class SessionExpiredError extends StreamableHTTPError {
  constructor(
    readonly sessionId: string,
    body: string,
  ) {
    super(404, `Error POSTing to endpoint (HTTP 404): session ${sessionId} expired: ${body}`);
    this.name = 'SessionExpiredError';
  }
}

const MAX_SOCKETS = 64;
const RETRY_INITIAL_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** How much of an error body ends up in the error message. */
const ERROR_BODY_LIMIT = 4096;
/** Largest SSE event accepted from an upstream server (a tool result with a large file is a few MB). */
const MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;

/** One POST and what we still expect from its answer. */
interface Exchange {
  req?: http.ClientRequest;
  /** The id of the request this POST carried, until its response arrived. */
  awaiting?: RequestId;
  /** Torn down on purpose (the SDK cancelled the request): end quietly. */
  cancelled?: boolean;
}

export class HttpClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  private readonly request: typeof http.request;
  private readonly target: http.RequestOptions;
  private readonly agent: http.Agent;
  private readonly ownsAgent: boolean;
  private readonly baseHeaders: http.OutgoingHttpHeaders;
  /** Every request on the wire (POST, GET, DELETE), destroyed by close(). */
  private readonly inflight = new Set<http.ClientRequest>();
  /** POSTs carrying a request, by request id: how a cancellation finds its stream. */
  private readonly exchanges = new Map<RequestId, Exchange>();
  private _sessionId: string | undefined;
  private protocolVersion: string | undefined;
  private closed = false;
  private standalone: http.ClientRequest | undefined;
  private standaloneUnsupported = false;
  private standaloneRetry: NodeJS.Timeout | undefined;
  private standaloneDelay = RETRY_INITIAL_MS;
  private lastEventId: string | undefined;

  constructor(
    readonly url: URL,
    opts: HttpClientTransportOptions = {},
  ) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`HttpClientTransport needs an http: or https: URL, got ${url.protocol} (${url.href})`);
    }
    const secure = url.protocol === 'https:';
    this.request = secure ? https.request : http.request;
    this.target = urlToHttpOptions(url);
    this.ownsAgent = opts.agent === undefined;
    // Idle sockets are closed by us before a server's keep-alive timeout closes them under a
    // request (Node's server default is 5 s): `timeout` on an agent applies to its free sockets.
    const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS, timeout: IDLE_SOCKET_MS };
    this.agent = opts.agent ?? (secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions));
    // Lower-case names so that ours (content-type, accept, session…) replace rather than duplicate.
    this.baseHeaders = Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  }

  get sessionId(): string | undefined {
    return this._sessionId;
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  /** Nothing to connect: the first POST (initialize) opens the session. */
  async start(): Promise<void> {
    if (this.closed) throw new Error(`HttpClientTransport to ${this.url.href} is closed and cannot be restarted`);
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new Error(`HttpClientTransport to ${this.url.href} is closed: cannot send ${describeMessage(message)}`);
    if (options?.resumptionToken) {
      throw new Error('HttpClientTransport does not resume interrupted streams (resumptionToken given)');
    }
    const exchange: Exchange = {};
    if ('method' in message && 'id' in message) {
      exchange.awaiting = message.id;
      this.exchanges.set(message.id, exchange);
    }
    const sentSession = this._sessionId;
    try {
      // A per-call credential travels as this one request's Authorization header, never in the
      // body: the connection is shared by every user (META_AUTHORIZATION, src/contracts/meta.ts).
      const { message: outgoing, authorization } = liftAuthorization(message);
      const body = JSON.stringify(outgoing);
      const { req, response } = this.open('POST', {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'content-length': Buffer.byteLength(body),
        ...modernHeaders(message),
        ...(message as { [EXTRA_HEADERS]?: Record<string, string> })[EXTRA_HEADERS],
        ...(authorization !== undefined ? { authorization } : {}),
      }, body, (again) => (exchange.req = again));
      exchange.req = req;
      const res = await response;
      this.captureSession(res);

      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        const text = await readText(res);
        if (status === 401 || status === 403) {
          const challenge = res.headers['www-authenticate'];
          throw new HttpAuthError(status, typeof challenge === 'string' ? challenge : undefined, text);
        }
        if (status === 404 && sentSession !== undefined) {
          if (this._sessionId === sentSession) this._sessionId = undefined;
          throw new SessionExpiredError(sentSession, text);
        }
        // 2026-07-28 servers answer some JSON-RPC errors with 4xx (400: -32020/-32021/-32022/-32602,
        // 404: -32601; streamable-http "Request Metadata"): the error is the answer to the request.
        const answer = exchange.awaiting !== undefined && Object.keys(modernHeaders(message)).length ? rpcError(text, exchange.awaiting) : undefined;
        if (answer) {
          this.forget(exchange);
          this.dispatch(answer);
          return;
        }
        throw new StreamableHTTPError(status, `Error POSTing to endpoint (HTTP ${status}): ${text}`);
      }
      const type = mediaType(res.headers['content-type']);
      if (type === 'text/event-stream' || (type === 'application/json' && exchange.awaiting !== undefined)) {
        res.once('close', () => this.finish(exchange, res.complete));
        if (type === 'text/event-stream') this.readSse(res, exchange);
        else this.readJson(res, exchange);
      } else {
        res.resume();
        if (exchange.awaiting !== undefined) {
          throw new StreamableHTTPError(-1, `Unexpected answer to ${describeMessage(message)}: HTTP ${status}, content type ${res.headers['content-type'] ?? '(none)'}`);
        }
      }
      if ('method' in message && message.method === 'notifications/initialized') this.openStandalone();
    } catch (err) {
      // send() reports the failure; the stream must not report it a second time.
      this.forget(exchange);
      const error = this.closed ? new Error(`HttpClientTransport to ${this.url.href} closed while sending ${describeMessage(message)}`, { cause: err }) : asError(err);
      if (!this.closed && !exchange.cancelled) this.onerror?.(error);
      throw error;
    } finally {
      if ('method' in message && message.method === 'notifications/cancelled') this.abandon(message.params?.requestId);
    }
  }

  /** Ask the server to end the session (DELETE). 405 means it does not let clients do that. */
  async terminateSession(): Promise<void> {
    const session = this._sessionId;
    if (session === undefined) return;
    if (this.closed) throw new Error(`HttpClientTransport to ${this.url.href} is closed: cannot terminate session ${session}`);
    const res = await this.open('DELETE', {}).response;
    const text = await readText(res);
    const status = res.statusCode ?? 0;
    if ((status < 200 || status >= 300) && status !== 405) {
      throw new StreamableHTTPError(status, `Error DELETEing session ${session} (HTTP ${status}): ${text}`);
    }
    if (this._sessionId === session) this._sessionId = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.standaloneRetry);
    for (const req of this.inflight) req.destroy();
    this.inflight.clear();
    this.exchanges.clear();
    this.standalone = undefined;
    if (this.ownsAgent) this.agent.destroy();
    this.onclose?.();
  }

  // ── requests ────────────────────────────────────────────────────────────────

  /**
   * Start a request with the session headers; `response` settles with the status line and
   * headers. A POST sent again on a new connection (see below) is handed to `onRetry`.
   */
  private open(
    method: 'POST' | 'GET' | 'DELETE',
    headers: http.OutgoingHttpHeaders,
    body?: string,
    onRetry?: (req: http.ClientRequest) => void,
  ): { req: http.ClientRequest; response: Promise<http.IncomingMessage> } {
    const all: http.OutgoingHttpHeaders = { ...this.baseHeaders, ...headers };
    if (this._sessionId !== undefined) all['mcp-session-id'] = this._sessionId;
    if (this.protocolVersion !== undefined) all['mcp-protocol-version'] = this.protocolVersion;
    const send = (retried: boolean): { req: http.ClientRequest; response: Promise<http.IncomingMessage> } => {
      const req = this.request({ ...this.target, method, headers: all, agent: this.agent });
      this.inflight.add(req);
      req.once('close', () => this.inflight.delete(req));
      const response = new Promise<http.IncomingMessage>((resolve, reject) => {
        req.once('response', resolve);
        // Kept for the request's life: an 'error' without a listener would crash the process.
        req.on('error', (err: NodeJS.ErrnoException) => {
          // A kept-alive socket the server closed just as we reused it: the request never got
          // an answer; send it once more on a new connection (Node's documented remedy).
          if (method === 'POST' && !retried && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && !this.closed) {
            const again = send(true);
            onRetry?.(again.req);
            again.response.then(resolve, reject);
            return;
          }
          reject(err);
        });
      });
      req.end(body);
      return { req, response };
    };
    return send(false);
  }

  private captureSession(res: http.IncomingMessage): void {
    const id = res.headers['mcp-session-id'];
    if (typeof id === 'string' && id !== '') this._sessionId = id;
  }

  /** The answer stream of a POST is over (ended or dropped). */
  private finish(exchange: Exchange, complete: boolean): void {
    const id = exchange.awaiting;
    this.forget(exchange);
    if (this.closed || exchange.cancelled) return;
    if (!complete) {
      this.onerror?.(new Error(`connection to ${this.url.href} dropped while reading the answer${id === undefined ? '' : ` to request ${id}`}`));
    }
    if (id !== undefined) {
      // Fail the request now rather than at the SDK's timeout: nothing else will answer it.
      this.dispatch({
        jsonrpc: '2.0',
        id,
        error: { code: ErrorCode.ConnectionClosed, message: `the answer stream from ${this.url.href} ended without a response to request ${id}` },
      });
    }
  }

  private forget(exchange: Exchange): void {
    if (exchange.awaiting !== undefined && this.exchanges.get(exchange.awaiting) === exchange) this.exchanges.delete(exchange.awaiting);
    exchange.awaiting = undefined;
  }

  /** The SDK gave up on a request (abort, timeout): stop reading its answer. */
  private abandon(id: unknown): void {
    const exchange = typeof id === 'string' || typeof id === 'number' ? this.exchanges.get(id) : undefined;
    if (!exchange) return;
    exchange.cancelled = true;
    this.forget(exchange);
    exchange.req?.destroy();
  }

  private readJson(res: http.IncomingMessage, exchange: Exchange): void {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (text += chunk));
    res.on('end', () => this.deliver(text, exchange));
    res.on('error', () => {}); // reported by finish() on 'close'
  }

  private readSse(res: http.IncomingMessage, exchange?: Exchange): void {
    const parser = createParser({
      maxBufferSize: MAX_SSE_EVENT_BYTES,
      onEvent: (e) => {
        if (e.id !== undefined && !exchange) this.lastEventId = e.id;
        if ((e.event ?? 'message') === 'message' && e.data !== '') this.deliver(e.data, exchange);
      },
      onError: (err) => {
        // An event that never ends would grow without bound: drop the stream (the request fails as unavailable).
        if (err.type === 'max-buffer-size-exceeded') {
          this.onerror?.(new Error(`${this.url.href} sent an SSE event larger than ${MAX_SSE_EVENT_BYTES} bytes; stream dropped`));
          res.destroy();
        }
      },
    });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => parser.feed(chunk));
    res.on('error', () => {}); // reported on 'close'
  }

  /** Parse and validate one JSON body or SSE `data`, then hand each message to the SDK. */
  private deliver(raw: string, exchange?: Exchange): void {
    if (this.closed) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      this.onerror?.(new Error(`${this.url.href} sent invalid JSON: ${asError(err).message}: ${raw.slice(0, 200)}`));
      return;
    }
    for (const item of Array.isArray(parsed) ? (parsed as unknown[]) : [parsed]) {
      const checked = JSONRPCMessageSchema.safeParse(item);
      if (!checked.success) {
        this.onerror?.(new Error(`${this.url.href} sent something that is not a JSON-RPC message: ${JSON.stringify(item).slice(0, 200)}`));
        continue;
      }
      const message = checked.data;
      const related = exchange?.awaiting;
      if (related !== undefined && !('method' in message) && 'id' in message && message.id === related) {
        this.forget(exchange!);
      }
      this.dispatch(message, related);
    }
  }

  /**
   * Hand one message on. A message that came on a POST's answer stream says which request it
   * belongs to (`relatedRequestId` in the extra info): request-scoped notifications (progress,
   * log messages) and server requests reach the caller of that request, not every caller of
   * the shared connection.
   */
  private dispatch(message: JSONRPCMessage, relatedRequestId?: RequestId): void {
    try {
      this.onmessage?.(message, relatedRequestId === undefined ? undefined : ({ relatedRequestId } as MessageExtraInfo));
    } catch (err) {
      // A throwing handler must not take the socket's 'data' listener (and the process) down.
      this.onerror?.(asError(err));
    }
  }

  // ── standalone GET stream ───────────────────────────────────────────────────

  /** Open the GET stream for server-initiated messages, unless one is open, pending, or refused. */
  private openStandalone(): void {
    if (this.closed || this.standalone || this.standaloneRetry || this.standaloneUnsupported) return;
    const headers: http.OutgoingHttpHeaders = { accept: 'text/event-stream' };
    if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId;
    const { req, response } = this.open('GET', headers);
    this.standalone = req;
    // A listener, not work in progress: it must not keep the process alive.
    req.on('socket', (socket) => socket.unref());
    response.then(
      (res) => {
        if (this.closed) return void res.resume();
        this.captureSession(res);
        const status = res.statusCode ?? 0;
        const type = mediaType(res.headers['content-type']);
        if (status === 200 && type === 'text/event-stream') {
          this.standaloneDelay = RETRY_INITIAL_MS;
          this.readSse(res);
          res.once('close', () => this.standaloneEnded(req, res.complete ? 'ended' : 'dropped'));
          return;
        }
        res.resume();
        this.standalone = undefined;
        if (status === 405) {
          this.standaloneUnsupported = true; // the server offers no such stream
          return;
        }
        this.onerror?.(new StreamableHTTPError(status, `Failed to open SSE stream (HTTP ${status}, ${res.headers['content-type'] ?? 'no content type'})`));
        // 404: the session is gone, the next POST finds out. Other client errors will not improve.
        const transient = status >= 500 || status === 408 || status === 409 || status === 429;
        if (transient) this.retryStandalone();
      },
      (err: unknown) => this.standaloneEnded(req, `failed: ${asError(err).message}`),
    );
  }

  private standaloneEnded(req: http.ClientRequest, how: string): void {
    if (this.standalone === req) this.standalone = undefined;
    if (this.closed) return;
    if (how !== 'ended') this.onerror?.(new Error(`standalone SSE stream from ${this.url.href} ${how}; reconnecting`));
    this.retryStandalone();
  }

  private retryStandalone(): void {
    if (this.closed || this.standaloneRetry) return;
    const delay = this.standaloneDelay;
    this.standaloneDelay = Math.min(delay * 2, RETRY_MAX_MS);
    this.standaloneRetry = setTimeout(() => {
      this.standaloneRetry = undefined;
      this.openStandalone();
    }, delay).unref();
  }
}

/** A JSON-RPC error response to `id` in `text`, if that is what it is. */
function rpcError(text: string, id: RequestId): JSONRPCMessage | undefined {
  try {
    const parsed = JSONRPCMessageSchema.safeParse(JSON.parse(text));
    if (parsed.success && 'error' in parsed.data && (parsed.data.id === id || parsed.data.id === null)) return { ...parsed.data, id } as JSONRPCMessage;
  } catch {
    // Not JSON: the status line is all there is.
  }
  return undefined;
}

/** The `_meta` key a 2026-07-28 request carries its protocol version in. */
export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';

/**
 * The request metadata headers of MCP 2026-07-28 (Streamable HTTP, "Request Metadata"):
 * `MCP-Protocol-Version`, `Mcp-Method` and, for tools/call, resources/read and prompts/get,
 * `Mcp-Name` — for messages that carry the modern `_meta` envelope; none for 2025 messages.
 */
export function modernHeaders(message: JSONRPCMessage): Record<string, string> {
  if (!('method' in message)) return {};
  const params = message.params as { _meta?: Record<string, unknown>; name?: unknown; uri?: unknown } | undefined;
  const version = params?._meta?.[META_PROTOCOL_VERSION];
  if (typeof version !== 'string') return {};
  const headers: Record<string, string> = { 'mcp-protocol-version': version, 'mcp-method': message.method };
  const name = message.method === 'resources/read' ? params?.uri : message.method === 'tools/call' || message.method === 'prompts/get' ? params?.name : undefined;
  if (typeof name === 'string') headers['mcp-name'] = headerValue(name);
  return headers;
}

/**
 * A value as an HTTP header carries it: plain when it is visible ASCII without surrounding
 * spaces and not itself sentinel-shaped, else `=?base64?<UTF-8 base64>?=` (Streamable HTTP,
 * "Value Encoding").
 */
export function headerValue(value: string): string {
  const plain = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !(value.startsWith('=?base64?') && value.endsWith('?='));
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** Undo `headerValue`; undefined when the sentinel wraps something that is not base64. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Free keep-alive sockets are closed after this long (below the 5 s of Node's HTTP server). */
const IDLE_SOCKET_MS = 4_000;

export function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith('=?base64?') && value.endsWith('?='))) return value;
  const b64 = value.slice('=?base64?'.length, -2);
  // RFC 4648 §4 strictly: whole quanta, padding only to complete the last one, and UTF-8 inside
  // (SEP-2243: "reject … invalid Base64 padding or characters").
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) return undefined;
  try {
    return STRICT_UTF8.decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}

/** The `x-mcp-header` parameters of a tool's inputSchema: header name → property path. */
export function headerParams(schema: unknown): Array<{ header: string; path: string[] }> {
  const out: Array<{ header: string; path: string[] }> = [];
  const walk = (s: unknown, path: string[]) => {
    const props = (s as { properties?: Record<string, unknown> } | null)?.properties;
    if (!props || typeof props !== 'object') return;
    for (const [k, v] of Object.entries(props)) {
      const h = (v as { 'x-mcp-header'?: unknown } | null)?.['x-mcp-header'];
      if (typeof h === 'string') out.push({ header: h, path: [...path, k] });
      walk(v, [...path, k]);
    }
  };
  walk(schema, []);
  return out;
}

/** A parameter's value as its `Mcp-Param-*` header must carry it; undefined when it has none. */
export function headerForm(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Extra headers for one outgoing message, set by its sender (the `Mcp-Param-*` headers of a
 * tools/call to a 2026-07-28 server). A symbol key: never serialized into the body.
 */
export const EXTRA_HEADERS = Symbol('skillgate.extraHeaders');

/** The `Mcp-Param-*` headers a tools/call must carry for this tool's `x-mcp-header` parameters. */
export function paramHeaders(inputSchema: unknown, args: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { header, path } of headerParams(inputSchema)) {
    let value: unknown = args;
    for (const k of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[k] : undefined;
    const text = headerForm(value);
    if (text !== undefined) out[`mcp-param-${header.toLowerCase()}`] = headerValue(text);
  }
  return out;
}

/** The `_meta` key whose value becomes the request's Authorization header (src/contracts/meta.ts META_AUTHORIZATION). */
const AUTHORIZATION_META = 'dev.skillgate/authorization';

/** Move a request's `_meta` credential out of the body (a copy; the SDK's message is not changed). */
function liftAuthorization(message: JSONRPCMessage): { message: JSONRPCMessage; authorization?: string } {
  if (!('method' in message) || !message.params || typeof message.params !== 'object') return { message };
  const meta = (message.params as { _meta?: Record<string, unknown> })._meta;
  if (!meta || !Object.hasOwn(meta, AUTHORIZATION_META)) return { message };
  const { [AUTHORIZATION_META]: value, ...rest } = meta;
  const params = { ...(message.params as Record<string, unknown>) };
  if (Object.keys(rest).length) params._meta = rest;
  else delete params._meta;
  return { message: { ...message, params } as JSONRPCMessage, ...(typeof value === 'string' ? { authorization: value } : {}) };
}

/** The body as text, at most ERROR_BODY_LIMIT characters of it (the rest is drained). */
function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (text.length < ERROR_BODY_LIMIT) text += chunk;
    });
    res.on('end', () => resolve(text.slice(0, ERROR_BODY_LIMIT)));
    res.on('error', () => resolve(text.slice(0, ERROR_BODY_LIMIT)));
    res.on('close', () => resolve(text.slice(0, ERROR_BODY_LIMIT)));
  });
}

/** `text/event-stream; charset=utf-8` → `text/event-stream`. */
function mediaType(header: string | undefined): string {
  if (!header) return '';
  const semi = header.indexOf(';');
  return (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
}

function describeMessage(message: JSONRPCMessage): string {
  if ('method' in message) return 'id' in message ? `${message.method} (request ${message.id})` : message.method;
  return `the response to request ${'id' in message ? String(message.id) : '?'}`;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
