/**
 * What the gateway asks of tracing, as an interface: the pipeline and the front door import
 * this type only, so with tracing off no OpenTelemetry code is even loaded. The
 * implementation (spans.ts `createTelemetry`) is loaded by the runtime when an OTLP endpoint
 * is configured (src/app/runtime/telemetry.ts).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Json } from '../../src/contracts/json.js';

/** Attribute names (semantic conventions for MCP and GenAI; `skillgate.*` are Skillgate's own). */
export const ATTR = {
  mcpMethod: 'mcp.method.name',
  mcpSession: 'mcp.session.id',
  mcpProtocolVersion: 'mcp.protocol.version',
  jsonrpcRequestId: 'jsonrpc.request.id',
  rpcStatusCode: 'rpc.response.status_code',
  toolName: 'gen_ai.tool.name',
  operation: 'gen_ai.operation.name',
  toolArguments: 'gen_ai.tool.call.arguments',
  toolResult: 'gen_ai.tool.call.result',
  errorType: 'error.type',
  networkTransport: 'network.transport',
  networkProtocol: 'network.protocol.name',
  gateway: 'skillgate.gateway',
  server: 'skillgate.server',
  user: 'skillgate.user.id',
  agent: 'skillgate.agent.id',
  skill: 'skillgate.skill',
  step: 'skillgate.step',
} as const;

/** `error.type` of a CallToolResult with `isError` (semantic conventions for MCP, note [1]). */
export const TOOL_ERROR = 'tool_error';

/** One incoming MCP request, as the front door sees it. */
export interface ServerRequest {
  /** `mcp.method.name`: `tools/call`, `tools/list`, … */
  method: string;
  /** The tool (or prompt) the request names: the span name's target. */
  target?: string;
  /** The request's `params._meta`. */
  meta?: { [key: string]: unknown };
  /** The HTTP request's headers. */
  headers?: { [key: string]: string | string[] | undefined };
  sessionId?: string;
  requestId?: string | number;
  /** Skillgate's own attributes (gateway, user and agent ids). */
  attributes?: { [key: string]: string };
}

/** One upstream tool call, as the pipeline's call-upstream step makes it. */
export interface UpstreamCall {
  server: string;
  tool: string;
  gateway: string;
  skill?: { name: string; stepId: string };
}

/** An upstream call's span, open until `endUpstreamSpan`. */
export interface UpstreamSpan {
  traceId: string;
  /** `_meta` entries that carry this span's context to the upstream server (SEP-414). */
  meta: { [key: string]: Json };
}

/** Tracing, when on. */
export interface Telemetry {
  /** Record `gen_ai.tool.call.arguments` / `.result` (opt-in: they may hold personal data). */
  captureContent: boolean;
  /**
   * Run `fn` inside the front door's SERVER span of one MCP request; a result with `isError`
   * is `error.type=tool_error`, a thrown error its code.
   */
  inServerSpan<T>(req: ServerRequest, fn: () => Promise<T>): Promise<T>;
  /** The trace id of the span active here, if any. */
  activeTraceId(): string | undefined;
  /** Start the CLIENT span of an upstream `tools/call`, child of the active span. */
  startUpstreamSpan(call: UpstreamCall): UpstreamSpan;
  /** End it: `error.type` from a failure or an `isError` result; content when captured. */
  endUpstreamSpan(span: UpstreamSpan, end: { arguments?: unknown; result?: CallToolResult; error?: unknown }): void;
}
