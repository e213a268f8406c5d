/**
 * Upstream MCP servers as the rest of Skillgate sees them: a pool of long-lived MCP client
 * connections (one per configured server and process), never a process per call.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Json } from '../../src/contracts/json.js';

/** Error codes of the upstream family (jose-style: one closed union, narrowed by `code`). */
export type UpstreamErrorCode =
  /** The server is not in skillgate.yaml. */
  | 'ERR_UPSTREAM_UNKNOWN_SERVER'
  /** The server does not list this tool. */
  | 'ERR_UPSTREAM_UNKNOWN_TOOL'
  /** Could not connect, the connection dropped, HTTP 5xx, timeout: worth retrying. */
  | 'ERR_UPSTREAM_UNAVAILABLE'
  /** The server answered with a JSON-RPC error (e.g. invalid params): retrying will not help. */
  | 'ERR_UPSTREAM_PROTOCOL';

export class UpstreamError extends Error {
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
    readonly server: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }

  /** Transport trouble is transient; everything else is not. */
  get retryable(): boolean {
    return this.code === 'ERR_UPSTREAM_UNAVAILABLE';
  }
}

export interface UpstreamCallOptions {
  /** Sent as the request's `_meta` (idempotency key, trace context, …). */
  meta?: { [key: string]: Json };
  signal?: AbortSignal;
  /** Request timeout; defaults to the SDK's. */
  timeoutMs?: number;
}

/** Who a server says it is (its `initialize` answer). */
export interface UpstreamServerInfo {
  name: string;
  version: string;
  title?: string;
}

/**
 * Everything a server offers, as it sent it (curation reads this): tools as raw JSON — not
 * parsed by the SDK, so a tool without an `inputSchema` is seen and reported instead of
 * failing the whole list — plus resources, resource templates and prompts.
 */
export interface UpstreamInventory {
  info: UpstreamServerInfo;
  /** The `initialize` answer's capabilities. */
  capabilities: { [key: string]: unknown };
  /** The server's `instructions` (text a client may hand to the model). */
  instructions?: string;
  tools: Array<{ [key: string]: unknown }>;
  resources: Array<{ [key: string]: unknown }>;
  resourceTemplates: Array<{ [key: string]: unknown }>;
  prompts: Array<{ [key: string]: unknown }>;
  /** Lists the server failed to answer (e.g. `resources/list: …`); the others are still here. */
  errors: string[];
}

export interface UpstreamPool {
  /** Names of the configured servers. */
  servers(): string[];
  /** The server's tools (cached per connection; refreshed on `notifications/tools/list_changed`). */
  listTools(server: string): Promise<Tool[]>;
  /** Who the server says it is (connects if needed). */
  serverInfo(server: string): Promise<UpstreamServerInfo>;
  /** Tools (raw), resources, templates and prompts, fetched now, every page. Not cached. */
  inventory(server: string): Promise<UpstreamInventory>;
  /**
   * Be told when a server announces `notifications/tools/list_changed` (after the cached list
   * is dropped, so the next `listTools` fetches the new one). Returns the unsubscribe.
   */
  onToolListChanged(listener: (server: string) => void): () => void;
  /** Call a tool. `isError` results are returned, not thrown; transport and protocol failures throw UpstreamError. */
  callTool(server: string, tool: string, args: { [key: string]: Json }, opts?: UpstreamCallOptions): Promise<CallToolResult>;
  /** Close every connection (stdio children exit). */
  close(): Promise<void>;
}
