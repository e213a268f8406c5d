/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as it reaches the gateway: in a
 * request's `params._meta` (MCP 2026-07-28 basic/index "OpenTelemetry trace context",
 * SEP-414) or in the HTTP `traceparent` header. Checked here, so that only well-formed values
 * are kept, put on the pipeline context and forwarded upstream — with tracing on or off.
 */
import type { Json } from '../../src/contracts/json.js';
import { META_TRACEPARENT, META_TRACESTATE } from '../../src/contracts/meta.js';

/** A caller's trace context, as received (validated). */
export interface TraceContext {
  traceparent: string;
  /** Vendor entries; dropped when malformed (§3.3.1.5: the traceparent still counts). */
  tracestate?: string;
}

// §3.2: version 00 is 55 characters; a higher version may append fields after a dash.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
// §3.3.1: up to 32 comma-separated key=value members, each key and value in the spec's alphabet.
const TRACESTATE_MEMBER = /^[a-z0-9][_0-9a-z\-*/]{0,255}(@[a-z0-9][_0-9a-z\-*/]{0,13})?=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * The trace id of a well-formed `traceparent`, or undefined (§3.2.2: version ff is invalid;
 * version 00 has exactly four fields; all-zero trace and parent ids are invalid).
 *
 * @example traceIdOf('00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01') // '0af7651916cd43dd8448eb211c80319c'
 */
export function traceIdOf(traceparent: string): string | undefined {
  if (traceparent.length > 512) return undefined;
  const m = TRACEPARENT.exec(traceparent);
  if (!m) return undefined;
  const [, version, traceId, parentId, , rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  return traceId;
}

function validTracestate(value: string): boolean {
  if (value.length > 512) return false;
  const members = value.split(',').map((m) => m.trim()).filter((m) => m !== '');
  return members.length > 0 && members.length <= 32 && members.every((m) => TRACESTATE_MEMBER.test(m));
}

/**
 * The caller's trace context: from `_meta` when it has a valid `traceparent` (the MCP
 * message's own context wins over the transport's, semantic conventions for MCP, "Context
 * propagation"), else from the HTTP headers; undefined when neither is valid.
 *
 * @example incomingTraceContext({ traceparent: '00-…-01' }, {}) // { traceparent: '00-…-01' }
 */
export function incomingTraceContext(meta: { [key: string]: unknown } | undefined, headers: { [key: string]: string | string[] | undefined } | undefined): TraceContext | undefined {
  const fromMeta = pick(meta?.[META_TRACEPARENT], meta?.[META_TRACESTATE]);
  if (fromMeta) return fromMeta;
  return headers ? pick(headers[META_TRACEPARENT], headers[META_TRACESTATE]) : undefined;
}

function pick(traceparent: unknown, tracestate: unknown): TraceContext | undefined {
  if (typeof traceparent !== 'string' || traceIdOf(traceparent) === undefined) return undefined;
  const state = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
  return typeof state === 'string' && validTracestate(state) ? { traceparent, tracestate: state } : { traceparent };
}

/** The `_meta` entries that carry a trace context to an upstream server. */
export function traceMeta(t: TraceContext): { [key: string]: Json } {
  return t.tracestate ? { [META_TRACEPARENT]: t.traceparent, [META_TRACESTATE]: t.tracestate } : { [META_TRACEPARENT]: t.traceparent };
}
