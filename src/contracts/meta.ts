/**
 * The `_meta` keys Skillgate reads from clients and sends to upstream servers (MCP
 * 2025-11-25 `_meta`: reverse-DNS prefixed keys). One place: the front door, the activities,
 * the demo servers and the tests all name them from here.
 */

/**
 * Idempotency key. From a client on `tools/call skill.<name>`: the same key names the same run.
 * To an upstream server on a skill step: `<runId>/<activityId>`, the same across retries.
 */
export const META_IDEMPOTENCY_KEY = 'dev.skillgate/idempotency-key';
/** To upstream servers: the skill a step belongs to. */
export const META_SKILL = 'dev.skillgate/skill';
/** To upstream servers: the step id. */
export const META_STEP = 'dev.skillgate/step';
/**
 * To upstream servers over stdio: the call's downstream credential, `Bearer <token>` — the
 * stdio equivalent of the `Authorization` header (stdio has no headers; docs/security.md,
 * "Downstream credentials"). Over Streamable HTTP the transport moves it into the
 * `Authorization` header of that one request and it never appears in the body. Never logged.
 */
export const META_AUTHORIZATION = 'dev.skillgate/authorization';

/**
 * W3C Trace Context in `_meta` (MCP 2026-07-28 basic/index "OpenTelemetry trace context",
 * SEP-414): reserved unprefixed keys. Read from clients' requests, sent to upstream servers.
 */
export const META_TRACEPARENT = 'traceparent';
/** W3C `tracestate`, beside `traceparent` (same section). */
export const META_TRACESTATE = 'tracestate';
