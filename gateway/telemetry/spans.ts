/**
 * Spans of the gateway, named and attributed per the OpenTelemetry semantic conventions for
 * MCP (semantic-conventions-genai, docs/gen-ai/mcp.md): the front door's SERVER span per MCP
 * request and the pipeline's CLIENT span per upstream tool call, both named
 * `{mcp.method.name} {gen_ai.tool.name}`. Tracing is off unless the runtime builds a
 * `Telemetry` (src/app/runtime/telemetry.ts); without one nothing here runs.
 *
 * Tool arguments and results are recorded only when `telemetry.captureContent` is on, and
 * only on the upstream span, after the data-loss filters: what left for the upstream server
 * and what the caller got — never a value a filter removed.
 */
import {
  type Attributes,
  type Context,
  context,
  defaultTextMapSetter,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Json } from '../../src/contracts/json.js';
import { incomingTraceContext, type TraceContext } from './trace-context.js';

/** What the gateway needs to trace: built by the runtime when an OTLP endpoint is configured. */
export interface Telemetry {
  tracer: Tracer;
  /** W3C Trace Context: reads a caller's context, writes the upstream `_meta`. */
  propagator: TextMapPropagator;
  /** Record `gen_ai.tool.call.arguments` / `.result` (opt-in: they may hold personal data). */
  captureContent: boolean;
}

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

const getter = {
  keys: (c: TraceContext) => Object.keys(c),
  get: (c: TraceContext, key: string) => (key === 'traceparent' ? c.traceparent : key === 'tracestate' ? c.tracestate : undefined),
};

/** The context a caller's trace context names as parent (ROOT when there is none). */
function remote(t: Telemetry, tc: TraceContext | undefined): Context {
  return tc ? t.propagator.extract(ROOT_CONTEXT, tc, getter) : ROOT_CONTEXT;
}

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
  attributes?: Attributes;
}

/**
 * Run `fn` inside the front door's SERVER span of one MCP request. Its parent is the trace
 * context in `params._meta`, else the HTTP `traceparent`; when both are there and differ, the
 * HTTP one is linked (semantic conventions for MCP, "Context propagation": one MCP request
 * may span several HTTP requests and the reverse). `outcome` reads the answer: a tool result
 * with `isError` is `error.type=tool_error`; a thrown JSON-RPC error is its code.
 */
export async function inServerSpan<T>(t: Telemetry, req: ServerRequest, fn: () => Promise<T>, outcome: (result: T) => { errorType?: string; message?: string } = () => ({})): Promise<T> {
  const fromMeta = incomingTraceContext(req.meta, undefined);
  const fromHttp = incomingTraceContext(undefined, req.headers);
  const parent = remote(t, fromMeta ?? fromHttp);
  const links: Link[] = [];
  if (fromMeta && fromHttp && fromHttp.traceparent !== fromMeta.traceparent) {
    const linked = trace.getSpanContext(remote(t, fromHttp));
    if (linked) links.push({ context: linked });
  }
  const protocolVersion = req.headers?.['mcp-protocol-version'];
  const span = t.tracer.startSpan(
    req.target ? `${req.method} ${req.target}` : req.method,
    {
      kind: SpanKind.SERVER,
      links,
      attributes: {
        [ATTR.mcpMethod]: req.method,
        [ATTR.networkTransport]: 'tcp',
        [ATTR.networkProtocol]: 'http',
        ...(req.method === 'tools/call' ? { [ATTR.operation]: 'execute_tool' } : {}),
        ...(req.target ? { [ATTR.toolName]: req.target } : {}),
        ...(req.sessionId ? { [ATTR.mcpSession]: req.sessionId } : {}),
        ...(req.requestId !== undefined ? { [ATTR.jsonrpcRequestId]: String(req.requestId) } : {}),
        ...(typeof protocolVersion === 'string' ? { [ATTR.mcpProtocolVersion]: protocolVersion } : {}),
        ...req.attributes,
      },
    },
    parent,
  );
  try {
    const result = await context.with(trace.setSpan(parent, span), fn);
    const o = outcome(result);
    if (o.errorType) {
      span.setAttribute(ATTR.errorType, o.errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, ...(o.message ? { message: o.message } : {}) });
    }
    return result;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const type = typeof code === 'number' || typeof code === 'string' ? String(code) : '_OTHER';
    span.setAttribute(ATTR.errorType, type);
    if (typeof code === 'number') span.setAttribute(ATTR.rpcStatusCode, String(code));
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/** The trace id of the span active here, if a valid one is. */
export function activeTraceId(): string | undefined {
  const sc = trace.getSpanContext(context.active());
  return sc && trace.isSpanContextValid(sc) ? sc.traceId : undefined;
}

/** One upstream tool call, as the pipeline's call-upstream step makes it. */
export interface UpstreamCall {
  server: string;
  tool: string;
  gateway: string;
  skill?: { name: string; stepId: string };
}

/**
 * Start the CLIENT span of an upstream `tools/call` (child of the active span: the front
 * door's, or the Temporal activity's) and the `_meta` entries that carry it upstream.
 */
export function startUpstreamSpan(t: Telemetry, call: UpstreamCall): { span: Span; meta: { [key: string]: Json } } {
  const active = context.active();
  const span = t.tracer.startSpan(
    `tools/call ${call.tool}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR.mcpMethod]: 'tools/call',
        [ATTR.toolName]: call.tool,
        [ATTR.operation]: 'execute_tool',
        [ATTR.server]: call.server,
        [ATTR.gateway]: call.gateway,
        ...(call.skill ? { [ATTR.skill]: call.skill.name, [ATTR.step]: call.skill.stepId } : {}),
      },
    },
    active,
  );
  const carrier: { [key: string]: string } = {};
  t.propagator.inject(trace.setSpan(active, span), carrier, defaultTextMapSetter);
  return { span, meta: carrier };
}

/** JSON for a content attribute, bounded (attribute values are not the place for megabytes). */
function content(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 8192 ? `${text.slice(0, 8191)}…` : text;
}

/**
 * End an upstream call's span: `error.type=tool_error` for an `isError` result, the error's
 * code for a failure; the arguments sent and the result returned when content is captured.
 */
export function endUpstreamSpan(t: Telemetry, span: Span, end: { arguments?: unknown; result?: CallToolResult; error?: unknown }): void {
  if (t.captureContent && end.arguments !== undefined) span.setAttribute(ATTR.toolArguments, content(end.arguments));
  if (end.error !== undefined) {
    const code = (end.error as { code?: unknown }).code;
    span.setAttribute(ATTR.errorType, typeof code === 'string' || typeof code === 'number' ? String(code) : '_OTHER');
    span.setStatus({ code: SpanStatusCode.ERROR, message: (end.error as Error).message });
  } else if (end.result?.isError) {
    span.setAttribute(ATTR.errorType, TOOL_ERROR);
    span.setStatus({ code: SpanStatusCode.ERROR });
  } else if (t.captureContent && end.result) {
    span.setAttribute(ATTR.toolResult, content(end.result.structuredContent ?? end.result.content));
  }
  span.end();
}
