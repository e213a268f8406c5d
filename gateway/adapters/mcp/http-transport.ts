/**
 * The front door's MCP Streamable HTTP server transport (one per session), writing straight
 * to Node's `ServerResponse`.
 *
 * Why not the SDK's `StreamableHTTPServerTransport`: it is built on web `Request`/`Response`
 * and `ReadableStream`, bridged to Node by an adapter, and answers every request as an SSE
 * stream. Measured on the benchmark machine, the gateway spent more time in that machinery
 * than in everything else it does per call (BENCHMARKS.md). The protocol (`Server`, zod
 * schemas, handlers) is still the SDK's; only the HTTP framing is here.
 *
 * What it does, per the MCP Streamable HTTP transport (2025-11-25):
 * - POST carries one JSON-RPC message. A batch (an array) is refused with -32600 before
 *   anything runs: batching was removed from MCP in 2025-06-18, and a batch whose calls ran
 *   while only one answer came back lost results. Notifications and responses → 202.
 *   Requests are answered with `application/json` — unless one of them carries a
 *   `progressToken`, or a notification about it comes before its answer (log messages), then
 *   with an SSE stream so that those reach the caller before the result (the spec lets the
 *   server choose per request).
 * - GET opens the standalone SSE stream for server-initiated messages (`tools/list_changed`);
 *   one per session.
 * - DELETE ends the session.
 * - Session id, `Mcp-Protocol-Version`, `Accept` and content type are checked like the SDK's
 *   transport does, with the same status codes and JSON-RPC error bodies.
 * Not done: SSE resumption (`Last-Event-ID`, event store) — a dropped stream loses its
 * remaining notifications; the run itself is unaffected and `skillgate.run_status` reports it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isInitializeRequest,
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
  JSONRPCMessageSchema,
  type RequestId,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';

/** A comment line on open SSE streams this often keeps proxies and idle timers from cutting them. */
const DEFAULT_KEEP_ALIVE_MS = 15_000;

/** One POST that carries requests: where their answers go. */
interface Exchange {
  res: ServerResponse;
  mode: 'json' | 'sse';
  /** Request ids still unanswered. */
  pending: Set<RequestId>;
  /** JSON mode: answers so far, in arrival order. */
  answers: JSONRPCMessage[];
  keepAlive?: NodeJS.Timeout;
  done: boolean;
}

export interface HttpServerTransportOptions {
  /** Called once the session id is assigned (on `initialize`). */
  onsessioninitialized?: (sessionId: string) => void;
  /** Called when the client ends the session with DELETE. */
  onsessionclosed?: (sessionId: string) => void;
  keepAliveMs?: number;
  /**
   * Looks at each request before the MCP server sees it; an answer is sent back as that
   * request's JSON-RPC error and the request goes no further (front-door parameter checks).
   */
  inspect?: (request: JSONRPCRequest) => InspectRefusal | undefined;
  /** Told of every refusal this transport answers (for the log). */
  onrefusal?: RefusalSink;
}

/** A request refused by `inspect`: the JSON-RPC error, and the code the log gets. */
export interface InspectRefusal {
  code: number;
  message: string;
  /** Stable refusal code for the log, e.g. ERR_ARGUMENTS_TOO_DEEP. */
  refusal: string;
  detail?: string;
}

/** Where refusals are reported: status (HTTP), the refusal code and its detail. */
export type RefusalSink = (r: { code: string; status: number; rpcCode?: number; detail?: string; tool?: string }) => void;

export class HttpServerTransport implements Transport {
  sessionId?: string;
  onmessage?: Transport['onmessage'];
  onerror?: (error: Error) => void;
  onclose?: () => void;

  private closed = false;
  /** Request id → the exchange its answer belongs to. */
  private readonly byRequest = new Map<RequestId, Exchange>();
  private standalone?: { res: ServerResponse; keepAlive: NodeJS.Timeout };
  private readonly keepAliveMs: number;

  constructor(private readonly opts: HttpServerTransportOptions = {}) {
    this.keepAliveMs = opts.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
  }

  async start(): Promise<void> {
    // Connections are per HTTP request; nothing to open.
  }

  /** Whether the client holds the standalone GET stream open (server-initiated messages reach it). */
  get hasStandaloneStream(): boolean {
    return this.standalone !== undefined;
  }

  /**
   * Answer one HTTP request of this session. `body` is the parsed JSON body (POST);
   * `authInfo` is what the front door verified for THIS request, handed to the handlers.
   */
  async handleRequest(req: IncomingMessage, res: ServerResponse, body: unknown, authInfo?: AuthInfo, onrefusal?: RefusalSink): Promise<void> {
    const refused = onrefusal ?? this.opts.onrefusal;
    if (this.closed) return this.fail(res, 404, -32001, 'Session not found', refused);
    switch (req.method) {
      case 'POST':
        return this.handlePost(req, res, body, authInfo, refused);
      case 'GET':
        return this.handleGet(req, res, refused);
      case 'DELETE':
        return this.handleDelete(req, res, refused);
      default:
        res.setHeader('allow', 'GET, POST, DELETE');
        return this.fail(res, 405, -32000, 'Method not allowed.', refused);
    }
  }

  private handlePost(req: IncomingMessage, res: ServerResponse, body: unknown, authInfo: AuthInfo | undefined, refused: RefusalSink | undefined): void {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      return this.fail(res, 406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream', refused);
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'application/json') {
      return this.fail(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json', refused);
    }
    if (Array.isArray(body)) {
      return this.fail(res, 400, -32600, 'Invalid Request: JSON-RPC batches are not supported (removed from MCP in 2025-06-18); send one message per request', refused, 'ERR_JSONRPC_BATCH');
    }
    const parsed = JSONRPCMessageSchema.safeParse(body);
    if (!parsed.success) return this.fail(res, 400, -32700, 'Parse error: Invalid JSON-RPC message', refused);
    const message: JSONRPCMessage = parsed.data;

    if (isInitializeRequest(message)) {
      if (this.sessionId) return this.fail(res, 400, -32600, 'Invalid Request: Server already initialized', refused);
      this.sessionId = randomUUID();
      this.opts.onsessioninitialized?.(this.sessionId);
    } else if (!this.checkSession(req, res, refused)) {
      return;
    }

    const requestInfo = { headers: req.headers as IncomingHttpHeaders & Record<string, string> };
    if (!isJSONRPCRequest(message)) {
      res.writeHead(202, this.sessionHeaders()).end();
      this.onmessage?.(message, { authInfo, requestInfo });
      return;
    }
    if (this.byRequest.has(message.id)) {
      // Its answer would go to the other exchange: the id names one request at a time.
      return this.fail(res, 400, -32600, 'Invalid Request: a request with this id is still in progress', refused, 'ERR_JSONRPC_ID_IN_USE');
    }
    const inspected = this.opts.inspect?.(message);
    if (inspected) {
      refused?.({ code: inspected.refusal, status: 200, rpcCode: inspected.code, ...(inspected.detail ? { detail: inspected.detail } : {}) });
      const payload = JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: inspected.code, message: inspected.message } });
      res.writeHead(200, { ...this.sessionHeaders(), 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }).end(payload);
      return;
    }

    const streaming = (message.params?._meta as { progressToken?: unknown } | undefined)?.progressToken !== undefined;
    const ex: Exchange = { res, mode: streaming ? 'sse' : 'json', pending: new Set([message.id]), answers: [], done: false };
    this.byRequest.set(message.id, ex);
    res.on('close', () => {
      // The client went away (or we finished): late answers have nowhere to go.
      if (!ex.done) this.finish(ex, false);
    });
    if (streaming) this.openStream(ex);
    this.onmessage?.(message, { authInfo, requestInfo });
  }

  /** Answer an exchange as an SSE stream from now on (its headers are not sent yet). */
  private openStream(ex: Exchange): void {
    ex.mode = 'sse';
    ex.res.writeHead(200, { ...this.sessionHeaders(), 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive' });
    ex.res.flushHeaders();
    ex.keepAlive = setInterval(() => ex.res.write(': keepalive\n\n'), this.keepAliveMs);
    ex.keepAlive.unref();
  }

  private handleGet(req: IncomingMessage, res: ServerResponse, refused: RefusalSink | undefined): void {
    if (!(req.headers.accept ?? '').includes('text/event-stream')) {
      return this.fail(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream', refused);
    }
    if (!this.checkSession(req, res, refused)) return;
    if (this.standalone) return this.fail(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session', refused);
    res.writeHead(200, { ...this.sessionHeaders(), 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive' });
    res.flushHeaders();
    const keepAlive = setInterval(() => res.write(': keepalive\n\n'), this.keepAliveMs);
    keepAlive.unref();
    const stream = { res, keepAlive };
    this.standalone = stream;
    res.on('close', () => {
      clearInterval(keepAlive);
      if (this.standalone === stream) this.standalone = undefined;
    });
  }

  private async handleDelete(req: IncomingMessage, res: ServerResponse, refused: RefusalSink | undefined): Promise<void> {
    if (!this.checkSession(req, res, refused)) return;
    const id = this.sessionId!;
    res.writeHead(200).end();
    this.opts.onsessionclosed?.(id);
    await this.close();
  }

  /** Session id and protocol version of a non-initialize request; answers the refusal itself. */
  private checkSession(req: IncomingMessage, res: ServerResponse, refused: RefusalSink | undefined): boolean {
    if (!this.sessionId) {
      this.fail(res, 400, -32000, 'Bad Request: Server not initialized', refused);
      return false;
    }
    const sid = req.headers['mcp-session-id'];
    if (!sid) {
      this.fail(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required', refused);
      return false;
    }
    if (sid !== this.sessionId) {
      this.fail(res, 404, -32001, 'Session not found', refused);
      return false;
    }
    const version = req.headers['mcp-protocol-version'];
    if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      this.fail(res, 400, -32000, `Bad Request: Unsupported protocol version: ${version.slice(0, 40)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`, refused);
      return false;
    }
    return true;
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const isAnswer = isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message);
    const requestId = isAnswer ? message.id : options?.relatedRequestId;
    const ex = requestId === undefined ? undefined : this.byRequest.get(requestId);
    if (!ex) {
      // Not tied to a live request: server-initiated (list_changed), or its caller is gone.
      if (!isAnswer && this.standalone) writeEvent(this.standalone.res, message);
      return;
    }
    if (!isAnswer) {
      // A notification about a request that was to be answered with JSON (log messages of a
      // session that set a level, an upstream's progress): the answer becomes a stream, so
      // nothing is dropped, and calls without notifications keep the cheaper JSON answer.
      if (ex.mode === 'json' && !isJSONRPCRequest(message) && !ex.res.headersSent && !ex.res.writableEnded) this.openStream(ex);
      if (ex.mode === 'sse') writeEvent(ex.res, message);
      // A server → client request reaches the client on the standalone stream when the answer is JSON.
      else if (isJSONRPCRequest(message) && this.standalone) writeEvent(this.standalone.res, message);
      return;
    }
    this.byRequest.delete(requestId!);
    ex.pending.delete(requestId!);
    if (ex.mode === 'sse') writeEvent(ex.res, message);
    else ex.answers.push(message);
    if (ex.pending.size === 0) this.finish(ex, true);
  }

  /** End an exchange: write the JSON answer or end the stream (when `deliver`), forget its ids. */
  private finish(ex: Exchange, deliver: boolean): void {
    ex.done = true;
    clearInterval(ex.keepAlive);
    for (const id of ex.pending) this.byRequest.delete(id);
    if (ex.res.writableEnded || ex.res.destroyed) return;
    if (ex.mode === 'sse') {
      ex.res.end();
      return;
    }
    if (!deliver) return;
    const payload = JSON.stringify(ex.answers[0]);
    ex.res.writeHead(200, { ...this.sessionHeaders(), 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }).end(payload);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const open = new Set(this.byRequest.values());
    this.byRequest.clear();
    for (const ex of open) {
      // Requests still in flight learn that the session ended instead of hanging.
      if (ex.mode === 'json' && !ex.res.headersSent) {
        for (const id of ex.pending) ex.answers.push({ jsonrpc: '2.0', id, error: { code: -32001, message: 'session closed' } });
        ex.pending.clear();
        this.finish(ex, true);
      } else {
        this.finish(ex, false);
      }
    }
    if (this.standalone) {
      clearInterval(this.standalone.keepAlive);
      this.standalone.res.end();
      this.standalone = undefined;
    }
    this.onclose?.();
  }

  private sessionHeaders(): Record<string, string> {
    return this.sessionId ? { 'mcp-session-id': this.sessionId } : {};
  }

  private fail(res: ServerResponse, status: number, code: number, message: string, refused?: RefusalSink, refusalCode?: string): void {
    this.onerror?.(new Error(message));
    refused?.({ code: refusalCode ?? TRANSPORT_REFUSALS[status] ?? 'ERR_TRANSPORT', status, rpcCode: code, detail: message });
    const payload = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }).end(payload);
  }
}

/** Refusal codes of the transport's own answers, by HTTP status. */
const TRANSPORT_REFUSALS: Record<number, string> = {
  400: 'ERR_MCP_BAD_REQUEST',
  404: 'ERR_SESSION_UNKNOWN',
  405: 'ERR_METHOD_NOT_ALLOWED',
  406: 'ERR_NOT_ACCEPTABLE',
  409: 'ERR_STREAM_CONFLICT',
  415: 'ERR_CONTENT_TYPE',
};

function writeEvent(res: ServerResponse, message: JSONRPCMessage): void {
  if (res.writableEnded || res.destroyed) return;
  res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
}
