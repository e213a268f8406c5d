/**
 * Upstream MCP servers as the rest of Skillgate sees them: a pool of long-lived MCP client
 * connections (one per configured server and process), never a process per call.
 */
import type {
  CallToolResult,
  CompleteRequest,
  CompleteResult,
  GetPromptResult,
  LoggingLevel,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  ServerCapabilities,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
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
  | 'ERR_UPSTREAM_PROTOCOL'
  /** HTTP 401 (or 403 insufficient_scope) to the call's credential: the provider no longer honours it. */
  | 'ERR_UPSTREAM_UNAUTHORIZED';

export class UpstreamError extends Error {
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
    readonly server: string,
    options?: { cause?: unknown; challenge?: { insufficientScope?: string[] } },
  ) {
    super(message, options);
    if (options?.challenge) this.challenge = options.challenge;
    this.name = 'UpstreamError';
  }

  /** ERR_UPSTREAM_UNAUTHORIZED: what the server's `WWW-Authenticate` asked for (RFC 6750 §3.1). */
  readonly challenge?: { insufficientScope?: string[] };

  /** Transport trouble is transient; everything else is not. */
  get retryable(): boolean {
    return this.code === 'ERR_UPSTREAM_UNAVAILABLE';
  }
}

/** Progress an upstream reports for one request. */
export interface UpstreamProgress {
  progress: number;
  total?: number;
  message?: string;
}

/** A log message an upstream sends for one request (`notifications/message` params). */
export interface UpstreamLogMessage {
  level: LoggingLevel;
  logger?: string;
  data: unknown;
}

export interface UpstreamCallOptions {
  /** Sent as the request's `_meta` (idempotency key, trace context, …). */
  meta?: { [key: string]: Json };
  signal?: AbortSignal;
  /** Request timeout; defaults to the SDK's. */
  timeoutMs?: number;
  /** Progress the upstream reports for this request (a progress token is sent for it). */
  onprogress?: (p: UpstreamProgress) => void;
  /**
   * Log messages the upstream sends about this request, at `logLevel` and above. Routed by
   * request over Streamable HTTP (each request has its own answer stream); over stdio, by the
   * progress token a modern server echoes — a legacy stdio server's log lines belong to no request
   * and are not relayed.
   */
  onlog?: (m: UpstreamLogMessage) => void;
  logLevel?: LoggingLevel;
  /**
   * What the caller's client can answer (its elicitation, sampling, roots capabilities): a
   * 2026-07-28 upstream is told so on this request and may answer `input_required` for it. A
   * 2025 upstream's capabilities are fixed at `initialize` (none: it asks nothing).
   */
  clientCapabilities?: { [key: string]: Json };
  /** The retry of a request the upstream answered `input_required` (MRTR): its answers and its own state. */
  inputResponses?: { [key: string]: Json };
  requestState?: string;
  /**
   * The call's downstream credential (`Bearer …`): the `Authorization` header of this one
   * request over HTTP, `_meta["dev.skillgate/authorization"]` over stdio. Never logged.
   */
  authorization?: string;
}

/**
 * The upstream needs more input before it can answer (MCP 2026-07-28 `input_required`, MRTR):
 * its questions and its opaque state, for the caller to relay and retry with. A typed error,
 * so a caller that cannot relay (a skill step: nobody to ask) fails instead of mistaking it
 * for a result.
 */
export class UpstreamInputRequired extends Error {
  constructor(
    readonly server: string,
    readonly inputRequests: { [key: string]: Json } | undefined,
    readonly requestState: string | undefined,
  ) {
    super(`server "${server}" needs more input to answer (input_required)`);
    this.name = 'UpstreamInputRequired';
  }
}

/** Which list of a server changed. */
export type ListKind = 'tools' | 'resources' | 'prompts';

/** Who a server says it is (its `initialize` answer, or its discover result's `serverInfo`). */
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
  /** The server's capabilities (`initialize` or `server/discover`). */
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
  /** What the server offers (its capabilities, from `initialize` or `server/discover`) and its era. */
  describe(server: string): Promise<{ era: 'legacy' | 'modern'; capabilities: ServerCapabilities; instructions?: string }>;
  /** The server's tools (cached per connection; refreshed when the server says they changed). */
  listTools(server: string): Promise<Tool[]>;
  /** Who the server says it is (connects if needed). */
  serverInfo(server: string): Promise<UpstreamServerInfo>;
  /** Tools (raw), resources, templates and prompts, fetched now, every page. Not cached. */
  inventory(server: string): Promise<UpstreamInventory>;
  /**
   * Be told when a server announces that its tools changed (after the cached list is dropped,
   * so the next `listTools` fetches the new one). Returns the unsubscribe.
   */
  onToolListChanged(listener: (server: string) => void): () => void;
  /** Call a tool. `isError` results are returned, not thrown; transport and protocol failures throw UpstreamError; `input_required` throws UpstreamInputRequired. */
  callTool(server: string, tool: string, args: { [key: string]: Json }, opts?: UpstreamCallOptions): Promise<CallToolResult>;
  /** Resources and resource templates (cached like tools; empty when the server has no resources). */
  listResources(server: string): Promise<Resource[]>;
  listResourceTemplates(server: string): Promise<ResourceTemplate[]>;
  readResource(server: string, uri: string, opts?: UpstreamCallOptions): Promise<ReadResourceResult>;
  /** Prompts (cached like tools; empty when the server has no prompts). */
  listPrompts(server: string): Promise<Prompt[]>;
  getPrompt(server: string, name: string, args: { [key: string]: string } | undefined, opts?: UpstreamCallOptions): Promise<GetPromptResult>;
  /** Argument completion (`completion/complete`) for one of the server's prompts or resource templates. */
  complete(server: string, params: CompleteRequest['params'], opts?: UpstreamCallOptions): Promise<CompleteResult>;
  /** Told when a server says one of its lists changed (after the pool's cache is dropped). */
  onListChanged(listener: (server: string, kind: ListKind) => void): () => void;
  /** The HTTP URL of a server (`url`, or the one a server Skillgate started announced). */
  url(server: string): Promise<URL>;
  /** Close every connection (stdio children exit). */
  close(): Promise<void>;
}
