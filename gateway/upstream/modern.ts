/**
 * A client connection to an upstream server of the modern MCP era (2026-07-28): no
 * `initialize` and no session — every request carries the protocol version, the client's
 * capabilities and identity in `_meta` (basic/index "_meta", basic/versioning), and results
 * carry `resultType`. The server's `server/discover` answer is fetched once and kept for the
 * connection (the SDK's gateway guide: probe once, reuse the verdict).
 *
 * It runs over any transport of the SDK's `Transport` shape: the pool's own Streamable HTTP
 * client (`http-transport.ts`, which adds the `MCP-Protocol-Version` / `Mcp-Method` /
 * `Mcp-Name` headers for enveloped messages) or the SDK's stdio client. JSON-RPC ids and
 * request-scoped notifications (progress, log messages — on HTTP they arrive on the request's
 * own answer stream; on stdio they carry the progress token) are matched here.
 *
 * `input_required` results are returned as they are, for the caller to relay (MRTR,
 * basic/patterns/mrtr): the gateway is not the one to answer an upstream's questions.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { EXTRA_HEADERS, META_PROTOCOL_VERSION } from './http-transport.js';

/** The protocol revision this client speaks in the modern era. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
export const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';

/** A JSON-RPC error answer, kept as data (code, message, data). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** What `server/discover` answered. */
export interface DiscoverResult {
  supportedVersions: string[];
  capabilities: Record<string, unknown>;
  instructions?: string;
  [key: string]: unknown;
}

export interface ModernRequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Request-scoped notifications (progress, log messages) for this request. */
  onnotification?: (method: string, params: Record<string, unknown> | undefined) => void;
  /** Extra `_meta` entries (idempotency key, trace context, progress token, log level, …). */
  meta?: Record<string, unknown>;
  /**
   * The capabilities to declare on this request (default: the connection's own, none). A
   * gateway declares what its caller declared, so that the server asks only what the caller
   * can answer (its `input_required` questions are relayed, basic/patterns/mrtr).
   */
  capabilities?: Record<string, unknown>;
  /** Extra HTTP headers for this request (over Streamable HTTP; ignored on stdio). */
  headers?: Record<string, string>;
}

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
  onnotification?: ModernRequestOptions['onnotification'];
  progressToken?: string | number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * One modern-era connection. Call `start()` once; then `discover()` and `request()`.
 *
 * @example
 * const up = new ModernUpstream(transport, { name: 'skillgate', version: '0.1.0' });
 * await up.start();
 * const d = await up.discover();
 * const r = await up.request('tools/call', { name: 'echo', arguments: { message: 'hi' } });
 */
export class ModernUpstream {
  private readonly pending = new Map<RequestId, Pending>();
  private nextId = 1;
  private closed = false;
  private discovered: DiscoverResult | undefined;
  /** Server-initiated notifications outside any request (list changes on a listen stream). */
  onnotification?: (method: string, params: Record<string, unknown> | undefined) => void;
  onclose?: () => void;

  constructor(
    private readonly transport: Transport,
    private readonly clientInfo: { name: string; version: string },
    private readonly capabilities: Record<string, unknown> = {},
  ) {}

  async start(): Promise<void> {
    this.transport.onmessage = (message: JSONRPCMessage, extra?: MessageExtraInfo) => this.receive(message, extra);
    this.transport.onclose = () => this.ended(new RpcError(-32000, 'connection closed'));
    this.transport.onerror = () => {};
    await this.transport.start();
  }

  /** The server's advertisement (fetched once). Throws RpcError when the server refuses it. */
  async discover(): Promise<DiscoverResult> {
    this.discovered ??= (await this.request('server/discover', {})) as unknown as DiscoverResult;
    return this.discovered;
  }

  get discoverResult(): DiscoverResult | undefined {
    return this.discovered;
  }

  /**
   * Send one request with the modern `_meta` envelope; resolves with its result (any
   * `resultType`), rejects with RpcError for an error answer or a closed connection.
   */
  request(method: string, params: Record<string, unknown>, opts: ModernRequestOptions = {}): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new RpcError(-32000, 'connection closed'));
    const id = this.nextId++;
    const meta: Record<string, unknown> = {
      ...opts.meta,
      [META_PROTOCOL_VERSION]: MODERN_PROTOCOL_VERSION,
      [META_CLIENT_CAPABILITIES]: opts.capabilities ?? this.capabilities,
      [META_CLIENT_INFO]: this.clientInfo,
    };
    const message = { jsonrpc: '2.0' as const, id, method, params: { ...params, _meta: meta }, ...(opts.headers ? { [EXTRA_HEADERS]: opts.headers } : {}) };
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      const onAbort = () => {
        done();
        reject(opts.signal?.reason instanceof Error ? opts.signal.reason : new RpcError(-32000, 'request aborted'));
        // Over HTTP, closing the answer stream is the cancellation (streamable-http "Cancellation");
        // on stdio, notifications/cancelled says it.
        void this.transport.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'aborted by the caller' } }).catch(() => {});
      };
      const progressToken = meta.progressToken;
      this.pending.set(id, {
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
        ...(opts.onnotification ? { onnotification: opts.onnotification } : {}),
        ...(typeof progressToken === 'string' || typeof progressToken === 'number' ? { progressToken } : {}),
      });
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => {
        done();
        reject(new RpcError(-32001, `request ${method} timed out`));
      }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      timer.unref();
      this.transport.send(message as JSONRPCMessage).catch((err: unknown) => {
        done();
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.transport.close().catch(() => {});
    this.ended(new RpcError(-32000, 'connection closed'));
  }

  private ended(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.pending.values()]) p.reject(err);
    this.pending.clear();
    this.onclose?.();
  }

  private receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if ('id' in message && !('method' in message)) {
      const p = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!p) return;
      if ('error' in message) p.reject(new RpcError(message.error.code, message.error.message, message.error.data));
      else p.resolve(message.result as Record<string, unknown>);
      return;
    }
    if (!('method' in message)) return;
    if ('id' in message) {
      // Modern servers send no requests (MRTR replaces them); refuse anything that arrives.
      void this.transport.send({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'the client accepts no server requests (MCP 2026-07-28 uses input_required results)' } }).catch(() => {});
      return;
    }
    const params = message.params as Record<string, unknown> | undefined;
    const related = (extra as { relatedRequestId?: RequestId } | undefined)?.relatedRequestId;
    let owner = related === undefined ? undefined : this.pending.get(related);
    if (!owner && message.method === 'notifications/progress') {
      const token = params?.progressToken;
      owner = [...this.pending.values()].find((p) => p.progressToken !== undefined && p.progressToken === token);
    }
    if (owner) owner.onnotification?.(message.method, params);
    else this.onnotification?.(message.method, params);
  }
}
