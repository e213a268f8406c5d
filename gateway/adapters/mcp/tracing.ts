/**
 * The front door's span around an MCP request handler (gateway/telemetry/ `inServerSpan`):
 * named `{mcp.method.name} {gen_ai.tool.name}`, parented by the trace context in
 * `params._meta` or the HTTP `traceparent`. Without telemetry the handler is returned as it
 * is: tracing off costs nothing per request.
 */
import type { Principal } from '../../../src/contracts/principal.js';
import { ATTR, type Telemetry } from '../../telemetry/telemetry.js';
import type { Extra } from './server.js';

export function traced<Req, Res>(
  telemetry: Telemetry | undefined,
  method: string,
  gateway: string,
  handler: (req: Req, extra: Extra) => Promise<Res>,
): (req: Req, extra: Extra) => Promise<Res> {
  if (!telemetry) return handler;
  return (req, extra) => {
    const principal = extra.authInfo?.extra?.principal as Principal | undefined;
    const name = (req as { params?: { name?: unknown } }).params?.name;
    return telemetry.inServerSpan(
      {
        method,
        ...(typeof name === 'string' ? { target: name.slice(0, 200) } : {}),
        ...(extra._meta ? { meta: extra._meta } : {}),
        ...(extra.requestInfo?.headers ? { headers: extra.requestInfo.headers } : {}),
        ...(extra.sessionId ? { sessionId: extra.sessionId } : {}),
        requestId: extra.requestId,
        attributes: { [ATTR.gateway]: gateway, ...(principal ? { [ATTR.user]: principal.user.id, [ATTR.agent]: principal.agent.id } : {}) },
      },
      () => handler(req, extra),
    );
  };
}
