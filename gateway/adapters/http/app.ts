/**
 * The HTTP front door (fastify): MCP over Streamable HTTP at `/mcp/<gateway>`, protected as an
 * OAuth 2.1 resource server per the MCP authorization spec (2025-11-25):
 *
 *   GET  /healthz                                              readiness
 *   GET  /.well-known/oauth-protected-resource/mcp/<gateway>   RFC 9728 metadata
 *   POST|GET|DELETE /mcp/<gateway>                             MCP (Bearer token required)
 *   POST /runs/<runId>/approve   { gateway, decision, step?, comment? }   (Bearer)
 *   POST /runs/<runId>/cancel    { gateway, reason? }                     (Bearer)
 *   GET  /runs/<runId>?gateway=<g>                                        (Bearer)
 *
 * Every request: request id (echoed as `x-request-id`) → Host/Origin check (DNS rebinding) →
 * token from the Authorization header only (exactly one) → verify (issuer, JWKS, audience =
 * this gateway's resource URL, expiry, lifetime, algorithms) → principal {user, agent} →
 * admitted (user not revoked, agent on this gateway) → session bound to that principal → MCP.
 * The /runs routes are adapters over the run-actions service, which authorizes the action.
 * Every refusal is one log line (gateway/log.ts `refusal`): code, status, gateway, agent,
 * user, request id — never the token, never the body.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { SkillgateConfig } from '../../../src/config/schema.js';
import { parseDuration } from '../../../src/pure/durations.js';
import { own } from '../../../src/shared/own.js';
import { RUN_ERROR_STATUS, type RunActions } from '../../../src/skills/run-actions.js';
import { RunError } from '../../../src/skills/runs.js';
import { AuthzError, type Authorizer } from '../../authz/authorizer.js';
import { bearerRefusal, bearerToken } from '../../identity/bearer.js';
import { AuthError } from '../../identity/errors.js';
import { protectedResourceMetadata, resourceMetadataUrl, resourceUrl } from '../../identity/resource-metadata.js';
import type { Principal } from '../../../src/contracts/principal.js';
import { type Logger, refusal, withoutQueryValues } from '../../log.js';
import type { McpServerDeps } from '../mcp/server.js';
import { createGatewayMcpServer } from '../mcp/server.js';
import { HttpServerTransport } from '../mcp/http-transport.js';
import { createModernHandler, isModernRequest, ListenRegistry } from '../mcp/modern.js';
import { ownerKey, type Session, SessionRegistry } from '../mcp/sessions.js';
import { checkHost, type HostPolicy } from './host-check.js';
import type { ListKind } from '../../upstream/types.js';

/** What the front door needs from token verification (gateway/identity/verify.ts). */
export interface BearerVerifier {
  verify(token: string, opts: { audience: string }): Promise<{ principal: Principal; scopes: string[]; expiresAt: number; tokenHash: string; jti?: string }>;
}

export interface GatewayAppOptions {
  config: SkillgateConfig;
  mcp: McpServerDeps;
  verifier: BearerVerifier;
  /** Admits a verified principal to a gateway (revocation, agent listed). Required. */
  authorizer: Authorizer;
  /** Run actions over HTTP (absent when no Temporal is attached: the /runs routes answer 503). */
  runs?: RunActions;
  hostPolicy: () => HostPolicy;
  /** Extra routes (dev IdP) mounted by the runtime. */
  plugins?: Array<(app: FastifyInstance) => void | Promise<void>>;
  /** What /healthz reports beyond "the front door answers" (Temporal, the worker). */
  health?: () => HealthReport;
  log: Logger;
}

/** `/healthz`: `ok` (200) or `degraded` (503), with one line per part that is not well. */
export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: Record<string, string>;
}

export { resourceMetadataUrl, resourceUrl };

export async function createGatewayApp(
  opts: GatewayAppOptions,
): Promise<{ app: FastifyInstance; sessions: SessionRegistry; listChanged(kinds: ListKind[], gateways?: (gateway: string) => boolean): void }> {
  const { config, verifier, log, authorizer } = opts;
  const limits = config.limits;
  const listens = new ListenRegistry();
  const modern = createModernHandler({
    service: opts.mcp.service,
    ...(opts.mcp.skills ? { skills: opts.mcp.skills } : {}),
    listens,
    hasSkills: (g) => opts.mcp.skills !== undefined && (own(config.gateways, g)?.skills.length ?? 0) > 0,
    ...(opts.mcp.inspect ? { inspect: opts.mcp.inspect } : {}),
    ...(opts.mcp.telemetry ? { telemetry: opts.mcp.telemetry } : {}),
  });
  const sessions = new SessionRegistry({ perOwner: limits.sessionsPerPrincipal, total: limits.sessions });
  const app = Fastify({
    logger: false,
    bodyLimit: limits.bodyBytes,
    routerOptions: { maxParamLength: 200 },
    // A 100 KB Authorization header must reach us (to be refused with a reason), not die in the parser.
    http: { maxHeaderSize: 256 * 1024 } as never,
    genReqId: () => randomUUID(),
  });

  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
    const reason = checkHost(opts.hostPolicy(), req.headers.host, req.headers.origin);
    if (reason) {
      refusal(log, { code: 'ERR_HOST_NOT_ALLOWED', status: 403, requestId: req.id, path: req.url.slice(0, 200), detail: reason });
      return reply.code(403).send({ error: 'forbidden', error_description: 'this host or origin may not use this server' });
    }
  });

  // Bodies fastify refuses before a route runs (too large, not JSON) are refusals too.
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      log.error('request failed', { requestId: req.id, path: withoutQueryValues(req.url.slice(0, 200)), error: err.message });
      return reply.code(500).send({ error: 'server_error', error_description: 'internal error', request_id: req.id });
    }
    refusal(log, { code: err.code ?? 'ERR_BAD_REQUEST', status, requestId: req.id, path: req.url.slice(0, 200), detail: err.message });
    // fastify's own 4xx messages name the problem, not the content (oidc-provider's expose = status < 500).
    const description = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `the request body is larger than ${limits.bodyBytes} bytes` : err.message;
    return reply.code(status).send({ error: 'invalid_request', error_description: description, request_id: req.id });
  });
  app.setNotFoundHandler((req, reply) => {
    refusal(log, { code: 'ERR_NOT_FOUND', status: 404, requestId: req.id, path: req.url.slice(0, 200) });
    return reply.code(404).send({ error: 'not_found' });
  });

  app.get('/healthz', async (_req, reply) => {
    const report = opts.health?.() ?? { status: 'ok', checks: {} };
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  app.get<{ Params: { gateway: string } }>('/.well-known/oauth-protected-resource/mcp/:gateway', async (req, reply) => {
    const doc = protectedResourceMetadata(config, req.params.gateway);
    if (doc) return doc;
    refusal(log, { code: 'ERR_GATEWAY_UNKNOWN', status: 404, requestId: req.id, gateway: req.params.gateway.slice(0, 64) });
    return reply.code(404).send({ error: 'not_found' });
  });

  /** Refuse with the challenge that tells a client where to get a token (RFC 9728 §5.1, RFC 6750 §3). */
  const refuse = (req: FastifyRequest, reply: FastifyReply, gateway: string, err: AuthError) => {
    refusal(log, { code: err.code, status: err.status, requestId: req.id, gateway, detail: err.detail });
    const r = bearerRefusal(err, { resourceMetadataUrl: resourceMetadataUrl(config.publicUrl, gateway) });
    return reply.code(r.status).headers(r.headers).send(r.body);
  };

  /** Authenticate a request for `gateway` (which exists); answers the refusal itself and returns undefined. */
  const authenticate = async (req: FastifyRequest, reply: FastifyReply, gateway: string): Promise<{ principal: Principal; auth: AuthInfo } | undefined> => {
    let token: string;
    let verified;
    try {
      token = bearerToken({ authorization: req.headers.authorization, rawHeaders: req.raw.rawHeaders, url: req.url, body: req.body });
      verified = await verifier.verify(token, { audience: resourceUrl(config.publicUrl, gateway) });
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      // A missing token gets the bare challenge (RFC 6750 §3.1); bearerRefusal knows the difference.
      await refuse(req, reply, gateway, err);
      return undefined;
    }
    const { principal } = verified;
    try {
      authorizer.admit(principal, gateway);
    } catch (err) {
      if (!(err instanceof AuthzError)) throw err;
      if (err.code === 'ERR_REVOCATIONS_UNAVAILABLE') {
        // Not a refusal of this user: the list cannot be checked now. Retryable (RFC 9110 §15.6.4).
        refusal(log, { code: err.code, status: 503, requestId: req.id, gateway, user: principal.user.id, agent: principal.agent.id, detail: err.detail });
        await reply.code(503).header('retry-after', '2').send({ error: 'temporarily_unavailable', error_description: 'the revocation list cannot be checked right now; try again shortly' });
        return undefined;
      }
      refusal(log, { code: err.code, status: 403, requestId: req.id, gateway, user: principal.user.id, agent: principal.agent.id, detail: err.detail });
      const what = err.code === 'ERR_USER_REVOKED' ? 'this user may not use this gateway' : 'this agent may not use this gateway';
      await reply.code(403).send({ error: 'forbidden', error_description: what });
      return undefined;
    }
    const auth: AuthInfo = {
      token,
      clientId: principal.agent.id,
      scopes: verified.scopes,
      expiresAt: verified.expiresAt,
      resource: new URL(resourceUrl(config.publicUrl, gateway)),
      extra: { principal, gateway, tokenHash: verified.tokenHash, requestId: req.id },
    };
    return { principal, auth };
  };

  /** A known gateway by name from the URL (own properties only), or a logged 404. */
  const knownGateway = (req: FastifyRequest, reply: FastifyReply, name: string): boolean => {
    if (own(config.gateways, name)) return true;
    refusal(log, { code: 'ERR_GATEWAY_UNKNOWN', status: 404, requestId: req.id, gateway: name.slice(0, 64) });
    void reply.code(404).send({ error: 'not_found', error_description: `no gateway "${name.slice(0, 64)}"` });
    return false;
  };

  app.all<{ Params: { gateway: string } }>('/mcp/:gateway', async (req, reply) => {
    const gateway = req.params.gateway;
    if (!knownGateway(req, reply, gateway)) return reply;
    const who = await authenticate(req, reply, gateway);
    if (!who) return reply;
    const ids = { requestId: req.id, gateway, user: who.principal.user.id, agent: who.principal.agent.id };
    if (req.method === 'POST' && isModernRequest(req.body, req.headers)) {
      // 2026-07-28: stateless, this request's own token and nothing else (any session id is ignored).
      reply.hijack();
      await modern(req.raw, reply.raw, req.body, { principal: who.principal, gateway, requestId: req.id }, (r) => refusal(log, { ...ids, ...r }));
      return reply;
    }
    const sid = req.headers['mcp-session-id'];
    let session: Session | undefined;
    if (typeof sid === 'string') {
      session = sessions.get(sid);
      if (!session) {
        refusal(log, { code: 'ERR_SESSION_UNKNOWN', status: 404, ...ids });
        return reply.code(404).send({ jsonrpc: '2.0', error: { code: -32001, message: 'session not found; initialize a new one' }, id: null });
      }
      if (session.owner !== ownerKey(who.principal, gateway)) {
        refusal(log, { code: 'ERR_SESSION_OWNER', status: 403, ...ids });
        return reply.code(403).send({ jsonrpc: '2.0', error: { code: -32001, message: 'this session belongs to another user or agent' }, id: null });
      }
      session.lastSeen = Date.now();
    } else if (req.method === 'POST') {
      if (sessions.full()) {
        refusal(log, { code: 'ERR_SESSIONS_FULL', status: 503, ...ids, detail: `${sessions.size} sessions open` });
        return reply.code(503).header('retry-after', '30').send({ jsonrpc: '2.0', error: { code: -32000, message: 'too many open sessions; try again shortly' }, id: null });
      }
      const server = createGatewayMcpServer(opts.mcp, gateway);
      const owner = ownerKey(who.principal, gateway);
      const transport: HttpServerTransport = new HttpServerTransport({
        onsessioninitialized: (id) => {
          const evicted = sessions.add({ id, gateway, owner, transport, server, lastSeen: Date.now() });
          if (evicted) log.info('session evicted', { ...ids, evicted: evicted.id, reason: `more than ${limits.sessionsPerPrincipal} sessions for this user and agent` });
        },
        onsessionclosed: (id) => sessions.delete(id),
        inspect: opts.mcp.inspect,
        onrefusal: (r) => refusal(log, { ...ids, ...r }),
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await server.connect(transport);
      reply.hijack();
      await transport.handleRequest(req.raw, reply.raw, req.body, who.auth);
      // Not an initialize request: nothing was opened, nothing to keep.
      if (!transport.sessionId) await server.close();
      return reply;
    } else {
      refusal(log, { code: 'ERR_SESSION_MISSING', status: 400, ...ids });
      return reply.code(400).send({ jsonrpc: '2.0', error: { code: -32000, message: 'missing Mcp-Session-Id header' }, id: null });
    }
    reply.hijack();
    await session.transport.handleRequest(req.raw, reply.raw, req.body, who.auth, (r) => refusal(log, { ...ids, ...r }));
    return reply;
  });

  // Run actions without an MCP client (a web form, a chat bot): the same service as the MCP tools.
  type RunBody = { gateway?: unknown; decision?: unknown; comment?: unknown; step?: unknown; reason?: unknown };
  const runRoute = async (
    req: FastifyRequest<{ Params: { runId: string } }>,
    reply: FastifyReply,
    gatewayName: unknown,
    act: (runs: RunActions, who: Principal, gateway: string) => Promise<unknown>,
  ) => {
    const gateway = typeof gatewayName === 'string' ? gatewayName : '';
    if (!own(config.gateways, gateway)) {
      refusal(log, { code: 'ERR_GATEWAY_UNKNOWN', status: 400, requestId: req.id, runId: req.params.runId.slice(0, 200) });
      return reply.code(400).send({ error: 'invalid_request', error_description: '`gateway` must name the gateway your token is for' });
    }
    if (!opts.runs) return reply.code(503).send({ error: 'unavailable', error_description: 'skill runs are not enabled on this server' });
    const who = await authenticate(req, reply, gateway);
    if (!who) return reply;
    try {
      return await act(opts.runs, who.principal, gateway);
    } catch (err) {
      // The service has logged the refusal with its reason; the client gets the public message.
      if (err instanceof RunError) return reply.code(RUN_ERROR_STATUS[err.code]).send({ error: err.code, error_description: err.message, request_id: req.id });
      throw err;
    }
  };

  app.post<{ Params: { runId: string }; Body: RunBody }>('/runs/:runId/approve', async (req, reply) => {
    const body: RunBody = req.body !== null && typeof req.body === 'object' ? req.body : {};
    return runRoute(req, reply, body.gateway, async (runs, who, gateway) => {
      if (body.decision !== 'approve' && body.decision !== 'reject') {
        throw new RunError('ERR_RUN_INPUT_INVALID', '`decision` must be "approve" or "reject"');
      }
      const record = await runs.decide(who, gateway, req.params.runId, {
        decision: body.decision,
        ...(typeof body.comment === 'string' ? { comment: body.comment.slice(0, 1000) } : {}),
        ...(typeof body.step === 'string' ? { step: body.step } : {}),
      });
      return { run: { id: req.params.runId, status: 'running' }, decision: record };
    });
  });

  app.post<{ Params: { runId: string }; Body: RunBody }>('/runs/:runId/cancel', async (req, reply) => {
    const body: RunBody = req.body !== null && typeof req.body === 'object' ? req.body : {};
    return runRoute(req, reply, body.gateway, async (runs, who, gateway) => {
      await runs.cancel(who, gateway, req.params.runId, typeof body.reason === 'string' ? body.reason : undefined);
      return { run: { id: req.params.runId, status: 'cancelling' } };
    });
  });

  app.get<{ Params: { runId: string }; Querystring: { gateway?: string } }>('/runs/:runId', async (req, reply) =>
    runRoute(req, reply, req.query.gateway, (runs, who, gateway) => runs.status(who, gateway, req.params.runId)),
  );

  for (const plugin of opts.plugins ?? []) await plugin(app);

  const idleMs = parseDuration(limits.sessionIdle) ?? 30 * 60_000;
  const sweep = setInterval(() => void sessions.sweep(idleMs), Math.min(60_000, idleMs));
  sweep.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweep);
    listens.closeAll();
    await sessions.closeAll();
  });
  /**
   * Tell every open 2025 session, and every 2026 listen stream that opted in, on the gateways
   * `gateways` selects (default: all), that these lists may have changed.
   */
  const listChanged = (kinds: ListKind[], gateways: (gateway: string) => boolean = () => true) => {
    listens.notify(kinds, gateways);
    for (const s of sessions.all()) {
      if (!gateways(s.gateway)) continue;
      if (kinds.includes('tools')) void s.server.sendToolListChanged().catch(() => {});
      if (kinds.includes('resources')) void s.server.sendResourceListChanged().catch(() => {});
      if (kinds.includes('prompts')) void s.server.sendPromptListChanged().catch(() => {});
    }
  };
  return { app, sessions, listChanged };
}
