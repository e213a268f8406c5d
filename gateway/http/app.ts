/**
 * The HTTP front door (fastify): MCP over Streamable HTTP at `/mcp/<gateway>`, protected as an
 * OAuth 2.1 resource server per the MCP authorization spec (2025-11-25):
 *
 *   GET  /healthz                                              readiness
 *   GET  /.well-known/oauth-protected-resource/mcp/<gateway>   RFC 9728 metadata
 *   POST|GET|DELETE /mcp/<gateway>                             MCP (Bearer token required)
 *   POST /runs/<runId>/approve                                 approval over plain HTTP (Bearer)
 *
 * Every request: Host/Origin check (DNS rebinding) → token from the Authorization header only →
 * verify (issuer, JWKS, audience = this gateway's resource URL, expiry, algorithms) → principal
 * {user, agent} → agent registered on this gateway → session bound to that principal → MCP.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { SkillgateConfig } from '../../src/config/schema.js';
import { bearerRefusal, bearerToken } from '../identity/bearer.js';
import { AuthError } from '../identity/errors.js';
import { protectedResourceMetadata, resourceMetadataUrl, resourceUrl } from '../identity/resource-metadata.js';
import type { Principal } from '../identity/principal.js';
import type { Extra, McpServerDeps } from '../mcp/server.js';
import { APPROVE_TOOL } from '../mcp/skill-tools.js';
import { createGatewayMcpServer } from '../mcp/server.js';
import { HttpServerTransport } from '../mcp/http-transport.js';
import { ownerKey, type Session, SessionRegistry } from '../mcp/sessions.js';
import { checkHost, type HostPolicy } from './host-check.js';

/** What the front door needs from token verification (gateway/identity/verify.ts). */
export interface BearerVerifier {
  verify(token: string, opts: { audience: string }): Promise<{ principal: Principal; scopes: string[]; expiresAt: number; tokenHash: string; jti?: string }>;
}

export interface GatewayAppOptions {
  config: SkillgateConfig;
  mcp: McpServerDeps;
  verifier: BearerVerifier;
  hostPolicy: () => HostPolicy;
  /** Largest accepted request body (default 1 MiB). */
  bodyLimit?: number;
  /** Sessions idle longer than this are closed (default 30 min). */
  sessionIdleMs?: number;
  /** Extra routes (dev IdP, approvals over HTTP) mounted by the runtime. */
  plugins?: Array<(app: FastifyInstance) => void | Promise<void>>;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export { resourceMetadataUrl, resourceUrl };

export async function createGatewayApp(opts: GatewayAppOptions): Promise<{ app: FastifyInstance; sessions: SessionRegistry }> {
  const { config, verifier, log } = opts;
  const sessions = new SessionRegistry();
  // A 100 KB Authorization header must reach us (to be refused with a reason), not die in the parser.
  const app = Fastify({ logger: false, bodyLimit: opts.bodyLimit ?? 1024 * 1024, routerOptions: { maxParamLength: 200 }, http: { maxHeaderSize: 256 * 1024 } as never });

  app.addHook('onRequest', async (req, reply) => {
    const reason = checkHost(opts.hostPolicy(), req.headers.host, req.headers.origin);
    if (reason) {
      log('refused by host check', { reason, path: req.url });
      return reply.code(403).send({ error: 'forbidden', error_description: 'this host or origin may not use this server' });
    }
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get<{ Params: { gateway: string } }>('/.well-known/oauth-protected-resource/mcp/:gateway', async (req, reply) => {
    const doc = protectedResourceMetadata(config, req.params.gateway);
    return doc ?? reply.code(404).send({ error: 'not_found' });
  });

  /** Refuse with the challenge that tells a client where to get a token (RFC 9728 §5.1, RFC 6750 §3). */
  const refuse = (reply: FastifyReply, gateway: string, err: AuthError) => {
    const r = bearerRefusal(err, { resourceMetadataUrl: resourceMetadataUrl(config.publicUrl, gateway) });
    return reply.code(r.status).headers(r.headers).send(r.body);
  };

  /** Authenticate a request for `gateway`; answers the refusal itself and returns undefined. */
  const authenticate = async (req: FastifyRequest, reply: FastifyReply, gateway: string): Promise<{ principal: Principal; auth: AuthInfo } | undefined> => {
    let token: string;
    let verified;
    try {
      token = bearerToken({ authorization: req.headers.authorization, url: req.url, body: req.body });
      verified = await verifier.verify(token, { audience: resourceUrl(config.publicUrl, gateway) });
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      // The log gets the code and internal detail, never the token.
      log('auth refused', { gateway, code: err.code, detail: err.detail });
      // A missing token gets the bare challenge (RFC 6750 §3.1); bearerRefusal knows the difference.
      await refuse(reply, gateway, err);
      return undefined;
    }
    const { principal } = verified;
    const gw = config.gateways[gateway]!;
    if (!gw.agents.includes(principal.agent.id)) {
      log('auth refused', { gateway, code: 'ERR_AGENT_NOT_ON_GATEWAY', agent: principal.agent.id, user: principal.user.id });
      await reply.code(403).send({ error: 'forbidden', error_description: 'this agent may not use this gateway' });
      return undefined;
    }
    const auth: AuthInfo = {
      token,
      clientId: principal.agent.id,
      scopes: verified.scopes,
      expiresAt: verified.expiresAt,
      resource: new URL(resourceUrl(config.publicUrl, gateway)),
      extra: { principal, gateway, tokenHash: verified.tokenHash },
    };
    return { principal, auth };
  };

  app.all<{ Params: { gateway: string } }>('/mcp/:gateway', async (req, reply) => {
    const gateway = req.params.gateway;
    if (!config.gateways[gateway]) return reply.code(404).send({ error: 'not_found', error_description: `no gateway "${gateway}"` });
    const who = await authenticate(req, reply, gateway);
    if (!who) return reply;
    const sid = req.headers['mcp-session-id'];
    let session: Session | undefined;
    if (typeof sid === 'string') {
      session = sessions.get(sid);
      if (!session) {
        return reply.code(404).send({ jsonrpc: '2.0', error: { code: -32001, message: 'session not found; initialize a new one' }, id: null });
      }
      if (session.owner !== ownerKey(who.principal, gateway)) {
        log('session refused', { gateway, code: 'ERR_SESSION_OWNER', user: who.principal.user.id, agent: who.principal.agent.id });
        return reply.code(403).send({ jsonrpc: '2.0', error: { code: -32001, message: 'this session belongs to another user or agent' }, id: null });
      }
      session.lastSeen = Date.now();
    } else if (req.method === 'POST') {
      const server = createGatewayMcpServer(opts.mcp, gateway);
      const owner = ownerKey(who.principal, gateway);
      const transport: HttpServerTransport = new HttpServerTransport({
        onsessioninitialized: (id) => sessions.add({ id, gateway, owner, transport, server, lastSeen: Date.now() }),
        onsessionclosed: (id) => sessions.delete(id),
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
      return reply.code(400).send({ jsonrpc: '2.0', error: { code: -32000, message: 'missing Mcp-Session-Id header' }, id: null });
    }
    reply.hijack();
    await session.transport.handleRequest(req.raw, reply.raw, req.body, who.auth);
    return reply;
  });

  // Approvals without an MCP client (a web form, a chat bot): same checks as skillgate.approve.
  app.post<{ Params: { runId: string }; Body: { gateway?: unknown; decision?: unknown; comment?: unknown; step?: unknown } }>(
    '/runs/:runId/approve',
    async (req, reply) => {
      const body = (req.body ?? {}) as { gateway?: unknown; decision?: unknown; comment?: unknown; step?: unknown };
      const gateway = typeof body.gateway === 'string' ? body.gateway : '';
      if (!config.gateways[gateway]) return reply.code(400).send({ error: 'invalid_request', error_description: 'body.gateway must name the gateway your token is for' });
      if (!opts.mcp.skills) return reply.code(503).send({ error: 'unavailable', error_description: 'skill runs are not enabled on this server' });
      const who = await authenticate(req, reply, gateway);
      if (!who) return reply;
      const res = await opts.mcp.skills.call(
        who.principal,
        gateway,
        APPROVE_TOOL,
        { runId: req.params.runId, decision: body.decision as string, ...(typeof body.comment === 'string' ? { comment: body.comment } : {}), ...(typeof body.step === 'string' ? { step: body.step } : {}) },
        { signal: new AbortController().signal } as Extra,
      );
      const text = res.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
      if (res.isError) return reply.code(/not permitted/.test(text) ? 403 : /no skill run/.test(text) ? 404 : 409).send({ error: 'refused', error_description: text });
      return res.structuredContent;
    },
  );

  for (const plugin of opts.plugins ?? []) await plugin(app);

  const sweep = setInterval(() => void sessions.sweep(opts.sessionIdleMs ?? 30 * 60_000), 60_000);
  sweep.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweep);
    await sessions.closeAll();
  });
  return { app, sessions };
}

