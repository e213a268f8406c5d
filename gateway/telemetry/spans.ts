/**
 * Spans of the gateway, named and attributed per the OpenTelemetry semantic conventions for
 * MCP (semantic-conventions-genai, docs/gen-ai/mcp.md): the front door's SERVER span per MCP
 * request and the pipeline's CLIENT span per upstream tool call, both named
 * `{mcp.method.name} {gen_ai.tool.name}`. The implementation of `Telemetry` (telemetry.ts),
 * loaded only when tracing is on (src/app/runtime/telemetry.ts).
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
import { ATTR, type ServerRequest, type Telemetry, TOOL_ERROR, type UpstreamCall, type UpstreamSpan } from './telemetry.js';
import { incomingTraceContext, type TraceContext } from './trace-context.js';

/** What the spans are made with. */
interface Tracing {
  tracer: Tracer;
  /** W3C Trace Context: reads a caller's context, writes the upstream `_meta`. */
  propagator: TextMapPropagator;
  captureContent: boolean;
}

interface OpenUpstreamSpan extends UpstreamSpan {
  span: Span;
}

/**
 * The gateway's tracing over a tracer and a W3C propagator.
 *
 * @example const telemetry = createTelemetry({ tracer, propagator: new W3CTraceContextPropagator(), captureContent: false });
 */
export function createTelemetry(t: Tracing): Telemetry {
  return {
    get captureContent() {
      return t.captureContent;
    },
    set captureContent(on: boolean) {
      t.captureContent = on;
    },
    inServerSpan: (req, fn) => inServerSpan(t, req, fn),
    activeTraceId,
    startUpstreamSpan: (call) => startUpstreamSpan(t, call),
    endUpstreamSpan: (span, end) => endUpstreamSpan(t, span, end),
  };
}

const getter = {
  keys: (c: TraceContext) => Object.keys(c),
  get: (c: TraceContext, key: string) => (key === 'traceparent' ? c.traceparent : key === 'tracestate' ? c.tracestate : undefined),
};

/** The context a caller's trace context names as parent (ROOT when there is none). */
function remote(t: Tracing, tc: TraceContext | undefined): Context {
  return tc ? t.propagator.extract(ROOT_CONTEXT, tc, getter) : ROOT_CONTEXT;
}

/**
 * Run `fn` inside the front door's SERVER span of one MCP request. Its parent is the trace
 * context in `params._meta`, else the HTTP `traceparent`; when both are there and differ, the
 * HTTP one is linked (semantic conventions for MCP, "Context propagation": one MCP request
 * may span several HTTP requests and the reverse). `outcome` reads the answer: a tool result
 * with `isError` is `error.type=tool_error`; a thrown JSON-RPC error is its code.
 */
async function inServerSpan<T>(t: Tracing, req: ServerRequest, fn: () => Promise<T>): Promise<T> {
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
      } as Attributes,
    },
    parent,
  );
  try {
    const result = await context.with(trace.setSpan(parent, span), fn);
    if ((result as CallToolResult | undefined)?.isError === true) {
      span.setAttribute(ATTR.errorType, TOOL_ERROR);
      span.setStatus({ code: SpanStatusCode.ERROR });
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

function activeTraceId(): string | undefined {
  const sc = trace.getSpanContext(context.active());
  return sc && trace.isSpanContextValid(sc) ? sc.traceId : undefined;
}

/**
 * Start the CLIENT span of an upstream `tools/call` (child of the active span: the front
 * door's, or the Temporal activity's) and the `_meta` entries that carry it upstream.
 */
function startUpstreamSpan(t: Tracing, call: UpstreamCall): OpenUpstreamSpan {
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
  return { traceId: span.spanContext().traceId, meta: carrier, span };
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
function endUpstreamSpan(t: Tracing, open: UpstreamSpan, end: { arguments?: unknown; result?: CallToolResult; error?: unknown }): void {
  const span = (open as OpenUpstreamSpan).span;
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
