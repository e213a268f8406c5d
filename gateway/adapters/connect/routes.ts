/**
 * `/connect/<provider>?e=<elicitation id>` — where a URL elicitation sends the user (MCP
 * client/elicitation, "URL Mode Elicitation for OAuth Flows"):
 *
 *   GET /connect/<provider>?e=<id>        the elicitation must be pending for this provider →
 *                                          sign the person in at Skillgate's IdP (OIDC code +
 *                                          PKCE, identity.webLogin or the dev IdP)
 *   GET /connect/callback/login           their `sub` must be the user the elicitation was made
 *                                          for (the phishing defence: a link opened by someone
 *                                          else grants nothing) → the provider's authorize
 *                                          endpoint with PKCE, `state`, and only the scopes
 *                                          needed (plus those granted before)
 *   GET /connect/<provider>/callback      code → tokens → the vault; the elicitation completes
 *
 * Between the steps the browser holds one cookie (`sg_connect`, HttpOnly, SameSite=Lax, path
 * /connect): the flow — elicitation, both PKCE verifiers, both states, the verified user —
 * sealed with AES-256-GCM under a key derived from the vault key, expiring after 10 minutes.
 * `state` sent to either server is random and must equal the cookie's, so it is bound to
 * user + agent + elicitation without naming them. No URL carries personal data or a credential.
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CredentialService } from '../../downstream/credentials.js';
import { DownstreamError } from '../../downstream/errors.js';
import type { OAuthClient } from '../../downstream/providers.js';
import { open, seal } from '../../downstream/seal.js';
import type { Elicitation } from '../../downstream/vault.js';
import { type Logger, refusal } from '../../log.js';
import { own } from '../../../src/shared/own.js';
import type { SkillgateConfig } from '../../../src/config/schema.js';

const COOKIE = 'sg_connect';
const FLOW_TTL_MS = 10 * 60_000;

interface Flow {
  e: string;
  stage: 'login' | 'provider';
  state: string;
  verifier: string;
  nonce?: string;
  /** The verified user (after login). */
  user?: string;
  scopes?: string[];
  exp: number;
}

export interface ConnectRoutesOptions {
  config: SkillgateConfig;
  credentials: CredentialService;
  /** Signs in the person opening the page at Skillgate's IdP (OIDC). */
  webLogin: OAuthClient;
  /** Seals the flow cookie (derived from the vault key: every replica opens it). */
  cookieKey: Buffer;
  log: Logger;
}

/** The flow-cookie key for a vault key (HKDF-SHA256, its own label). */
export function connectCookieKey(vaultKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', vaultKey, Buffer.alloc(0), 'skillgate connect flow cookie v1', 32));
}

/** Mount the /connect routes. */
export function connectRoutes(opts: ConnectRoutesOptions): (app: FastifyInstance) => void {
  const { config, credentials, log } = opts;
  const base = config.publicUrl.replace(/\/+$/, '');
  const loginRedirect = `${base}/connect/callback/login`;
  const providerRedirect = (p: string) => `${base}/connect/${encodeURIComponent(p)}/callback`;

  const setFlow = (reply: FastifyReply, flow: Flow) =>
    reply.header('set-cookie', `${COOKIE}=${seal(opts.cookieKey, JSON.stringify(flow), COOKIE)}; Path=/connect; HttpOnly; SameSite=Lax; Max-Age=${FLOW_TTL_MS / 1000}${base.startsWith('https:') ? '; Secure' : ''}`);
  const clearFlow = (reply: FastifyReply) => reply.header('set-cookie', `${COOKIE}=; Path=/connect; HttpOnly; SameSite=Lax; Max-Age=0`);
  const readFlow = (req: FastifyRequest): Flow | undefined => {
    const raw = /(?:^|;\s*)sg_connect=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const text = raw ? open(opts.cookieKey, raw, COOKIE) : undefined;
    if (!text) return undefined;
    const flow = JSON.parse(text) as Flow;
    return flow.exp > Date.now() ? flow : undefined;
  };

  const page = (reply: FastifyReply, status: number, title: string, body: string) =>
    reply
      .code(status)
      .headers({
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      })
      .send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — Skillgate</title><style>body{font:16px system-ui;max-width:40em;margin:2em auto}</style></head><body><h1>${esc(title)}</h1>${body}</body></html>`);

  const refuse = (req: FastifyRequest, reply: FastifyReply, code: string, status: number, title: string, text: string, fields: Record<string, unknown> = {}) => {
    refusal(log, { code, status, requestId: req.id, path: req.url.split('?')[0]!.slice(0, 200), ...fields });
    clearFlow(reply);
    return page(reply, status, title, `<p>${esc(text)}</p>`);
  };

  const pendingElicitation = async (id: string, provider: string): Promise<Elicitation | undefined> => {
    const e = /^[A-Za-z0-9_-]{10,64}$/.test(id) ? await credentials.elicitation(id) : undefined;
    return e && e.provider === provider && e.status === 'pending' && e.expiresAt > Date.now() ? e : undefined;
  };

  return (app) => {
    app.get<{ Params: { provider: string }; Querystring: { e?: string } }>('/connect/:provider', async (req, reply) => {
      const provider = req.params.provider;
      if (!own(config.providers, provider)) return refuse(req, reply, 'ERR_PROVIDER_UNKNOWN', 404, 'Unknown service', 'This link names a service Skillgate does not know.');
      const e = await pendingElicitation(String(req.query.e ?? ''), provider);
      if (!e) return refuse(req, reply, 'ERR_CONNECT_LINK_INVALID', 404, 'Link not valid', 'This link is not valid, has expired or was already used. Ask your agent again for a new one.', { provider });
      const flow: Flow = { e: e.id, stage: 'login', state: randomBytes(16).toString('base64url'), verifier: randomBytes(32).toString('base64url'), nonce: randomBytes(16).toString('base64url'), exp: Date.now() + FLOW_TTL_MS };
      const url = await opts.webLogin.authorizationUrl({ scopes: ['openid'], state: flow.state, codeVerifier: flow.verifier, nonce: flow.nonce!, redirectUri: loginRedirect });
      setFlow(reply, flow);
      return reply.redirect(url.href, 303);
    });

    app.get<{ Querystring: Record<string, string> }>('/connect/callback/login', async (req, reply) => {
      const flow = readFlow(req);
      if (!flow || flow.stage !== 'login') return refuse(req, reply, 'ERR_CONNECT_FLOW', 400, 'Sign-in expired', 'This sign-in has expired or was started in another browser. Open the link from your agent again.');
      const e = await credentials.elicitation(flow.e);
      if (!e || e.status !== 'pending') return refuse(req, reply, 'ERR_CONNECT_LINK_INVALID', 404, 'Link not valid', 'This request was already completed or has expired.');
      let sub: string | undefined;
      try {
        const t = await opts.webLogin.exchangeCode({ callbackUrl: new URL(req.url, base), state: flow.state, codeVerifier: flow.verifier, redirectUri: loginRedirect, nonce: flow.nonce!, requireIdToken: true });
        sub = t.idClaims?.sub;
      } catch (err) {
        if (!(err instanceof DownstreamError)) throw err;
        return refuse(req, reply, 'ERR_CONNECT_LOGIN', 400, 'Sign-in failed', 'Skillgate could not sign you in. Open the link from your agent again.', { detail: err.detail ?? err.message });
      }
      if (sub !== e.user) {
        // MCP elicitation "phishing" defence: only the user the link was made for may grant it.
        return refuse(req, reply, 'ERR_CONNECT_WRONG_USER', 403, 'Not your request', 'You are signed in as a different user than the one this request was made for. Nothing was connected.', {
          provider: e.provider,
          user: e.user,
          agent: e.agent,
          detail: `signed in as sha256:${createHash('sha256').update(sub ?? '').digest('hex').slice(0, 16)}`,
        });
      }
      const scopes = await credentials.scopesToRequest(e);
      const p = own(config.providers, e.provider)!;
      const next: Flow = { e: e.id, stage: 'provider', state: randomBytes(16).toString('base64url'), verifier: randomBytes(32).toString('base64url'), user: sub, scopes, exp: Date.now() + FLOW_TTL_MS };
      let url: URL;
      try {
        url = await credentials.providerClient(e.provider).authorizationUrl({ scopes, state: next.state, codeVerifier: next.verifier, redirectUri: providerRedirect(e.provider), extra: p.authorizeParams });
      } catch (err) {
        if (!(err instanceof DownstreamError)) throw err;
        log.warn('provider unavailable', { provider: e.provider, code: err.code, detail: err.detail });
        return page(reply, 502, 'Service unavailable', `<p>${esc(credentials.providerName(e.provider))} cannot be reached right now. Try the link again later.</p>`);
      }
      setFlow(reply, next);
      return reply.redirect(url.href, 303);
    });

    app.get<{ Params: { provider: string }; Querystring: Record<string, string> }>('/connect/:provider/callback', async (req, reply) => {
      const flow = readFlow(req);
      const provider = req.params.provider;
      if (!flow || flow.stage !== 'provider') return refuse(req, reply, 'ERR_CONNECT_FLOW', 400, 'Request expired', 'This authorization has expired or was started in another browser. Open the link from your agent again.');
      const e = await credentials.elicitation(flow.e);
      if (!e || e.provider !== provider || e.user !== flow.user) return refuse(req, reply, 'ERR_CONNECT_FLOW', 400, 'Request mismatch', 'This answer does not belong to the request you started.');
      const name = credentials.providerName(provider);
      if (typeof req.query.error === 'string') {
        return refuse(req, reply, 'ERR_CONNECT_DENIED', 403, 'Not connected', `${name} did not grant access (${req.query.error.slice(0, 64)}). You can open the link from your agent again.`, { provider, user: e.user, agent: e.agent });
      }
      let event;
      try {
        const tokens = await credentials.providerClient(provider).exchangeCode({ callbackUrl: new URL(req.url, base), state: flow.state, codeVerifier: flow.verifier, redirectUri: providerRedirect(provider) });
        event = await credentials.completeConnect(e, tokens, flow.scopes ?? e.scopes);
      } catch (err) {
        if (!(err instanceof DownstreamError)) throw err;
        return refuse(req, reply, err.code, 502, 'Not connected', `${name} did not complete the authorization. Open the link from your agent again.`, { provider, user: e.user, agent: e.agent, detail: err.detail ?? err.message });
      }
      log.info('grant connected', { event: 'grant.connected', provider, user: e.user, agent: e.agent, scopes: event.scopes, elicitations: event.completed.map((c) => c.id) });
      clearFlow(reply);
      return page(reply, 200, 'Connected', `<p>${esc(name)} is connected for <b>${esc(e.agent)}</b> (${event.scopes.map(esc).join(', ')}). You can return to your agent.</p>`);
    });
  };
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
