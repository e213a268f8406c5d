/**
 * The admin page and API over the audit trail — an adapter: reading is the store's, verifying
 * the monitor's, recording the log's.
 *
 *   GET  /admin                  events, filtered (user, agent, gateway, tool, skill, decision,
 *                                kind, time, run), newest first, paged; the chain's status
 *   GET  /admin/events/<seq>     one event: both sides' decision and policies, arguments, ids,
 *                                the run's Temporal UI page
 *   POST /admin/verify           verify the chain now
 *   GET  /admin/login            sign in through the IdP (OIDC authorization code + PKCE)
 *   GET  /admin/callback         … and back: the session cookie
 *   POST /admin/logout
 *   GET  /admin/audit            the same query as JSON, for scripts (Bearer token)
 *
 * Who may: a user holding one of `admin.roles`, signed in through the admin page's client
 * (`admin.clientId`, tokens for the resource `<publicUrl>/admin`). Anyone else is refused with
 * a page that says why; every refusal is logged and recorded; sign-ins, sign-outs, API queries
 * and verifications are `admin.action` events.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import * as oidc from 'openid-client';
import type { AuditSink } from '../../../src/contracts/audit.js';
import type { SkillgateConfig } from '../../../src/config/schema.js';
import { parseDuration } from '../../../src/pure/durations.js';
import { AuditError } from '../../audit/errors.js';
import { temporalUiBase } from '../../audit/links.js';
import type { ChainMonitor } from '../../audit/monitor.js';
import { parseAuditQuery } from '../../audit/query.js';
import type { AuditStore } from '../../audit/store.js';
import { bearerToken } from '../../identity/bearer.js';
import { AuthError } from '../../identity/errors.js';
import { adminResourceUrl } from '../../identity/resource-metadata.js';
import type { TokenVerifier } from '../../identity/verify.js';
import { type Logger, refusal } from '../../log.js';
import { esc, eventPage, eventsPage, type Filters, messagePage, type PageContext, STYLESHEET } from './page.js';

export interface AdminDeps {
  config: SkillgateConfig;
  store: AuditStore;
  monitor: ChainMonitor;
  /** Where admin actions are recorded. */
  audit: AuditSink;
  /** Verifies the admin page's tokens (audience `<publicUrl>/admin`, client `admin.clientId`). */
  verifier: TokenVerifier;
  /** The IdP people sign in with (undefined: none is configured, and sign-in says so). */
  issuer: string | undefined;
  log: Logger;
}

interface Session {
  user: string;
  roles: string[];
  expires: number;
}

const SESSION_COOKIE = 'sg_admin';
const STATE_COOKIE = 'sg_admin_login';
/** The page's own headers: no script, nothing framed, nothing from elsewhere. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

function cookies(req: FastifyRequest): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) jar.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return jar;
}

/** Mount the admin routes on the front door's fastify app. */
export function mountAdmin(app: FastifyInstance, deps: AdminDeps): void {
  const { config, store, monitor, audit, verifier, log } = deps;
  const resource = adminResourceUrl(config.publicUrl);
  const redirectUri = `${resource}/callback`;
  const secure = config.publicUrl.startsWith('https:') ? '; Secure' : '';
  const sessionMs = parseDuration(config.admin.session) ?? 8 * 3_600_000;
  const sessions = new LRUCache<string, Session>({ max: 1000, ttl: sessionMs });
  const logins = new LRUCache<string, { verifier: string; next: string }>({ max: 1000, ttl: 10 * 60_000 });
  const adminRoles = new Set(config.admin.roles);
  const isAdmin = (roles: readonly string[]) => roles.some((r) => adminRoles.has(r));
  const ui = temporalUiBase(config);
  const known = {
    users: Object.keys(config.users),
    agents: Object.keys(config.agents),
    gateways: Object.keys(config.gateways),
    tools: [...new Set(Object.values(config.gateways).flatMap((g) => g.tools))],
    skills: [...new Set(Object.values(config.gateways).flatMap((g) => g.skills))],
  };
  const record = (reason: string, user: string, detail: Record<string, string | number>, requestId: string) =>
    audit.record({ kind: 'admin.action', outcome: 'ok', reason, workspace: config.workspace, user, ids: { requestId }, detail: { action: reason, ...detail } });

  let discovered: Promise<oidc.Configuration> | undefined;
  const idp = (issuer: string) =>
    (discovered ??= oidc
      .discovery(new URL(issuer), config.admin.clientId, undefined, oidc.None(), issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : undefined)
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      }));

  const page = (reply: FastifyReply, status: number, html: string) => reply.code(status).headers(PAGE_HEADERS).send(html);

  /** The signed-in admin, or undefined after answering (a redirect to sign in, or a refusal page). */
  const session = (req: FastifyRequest, reply: FastifyReply): Session | undefined => {
    const id = cookies(req).get(SESSION_COOKIE);
    const s = id ? sessions.get(id) : undefined;
    if (s && s.expires > Date.now()) return s;
    if (req.method === 'GET') void reply.redirect(`/admin/login?next=${encodeURIComponent(req.url)}`, 302);
    else {
      refusal(log, { code: 'ERR_ADMIN_SESSION', status: 401, requestId: req.id, path: req.url.slice(0, 200) });
      void page(reply, 401, messagePage('Signed out', '<p>Your session has ended. <a href="/admin/login">Sign in again</a>.</p>'));
    }
    return undefined;
  };

  const context = (s: Session): PageContext => ({
    workspace: config.workspace,
    user: { id: s.user, roles: s.roles },
    ...(ui ? { temporal: { ui, namespace: config.temporal.namespace } } : {}),
    chain: monitor.status(),
    known,
  });

  app.get('/admin/admin.css', async (_req, reply) => reply.headers({ 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=300' }).send(STYLESHEET));

  app.get<{ Querystring: { next?: string } }>('/admin/login', async (req, reply) => {
    const issuer = deps.issuer;
    if (!issuer) return page(reply, 503, messagePage('Sign-in unavailable', '<p>No identity provider is configured for the admin page: set <code>admin.issuer</code> (or <code>identity.issuers</code>, or <code>identity.devIdp</code>) in skillgate.yaml.</p>'));
    let cfg: oidc.Configuration;
    try {
      cfg = await idp(issuer);
    } catch (err) {
      log.error('admin sign-in: the IdP cannot be reached', { requestId: req.id, issuer, error: (err as Error).message });
      return page(reply, 503, messagePage('Sign-in unavailable', `<p>The identity provider <code>${esc(issuer)}</code> does not answer. Try again later.</p>`));
    }
    const next = typeof req.query.next === 'string' && req.query.next.startsWith('/admin') && !req.query.next.startsWith('/admin/login') ? req.query.next : '/admin';
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    logins.set(state, { verifier: codeVerifier, next });
    const url = oidc.buildAuthorizationUrl(cfg, {
      redirect_uri: redirectUri,
      scope: 'openid roles',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      resource,
    });
    // The state is also bound to this browser: a login finished in another one is refused.
    return reply.header('set-cookie', `${STATE_COOKIE}=${state}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=600${secure}`).redirect(url.href, 302);
  });

  app.get('/admin/callback', async (req, reply) => {
    const state = cookies(req).get(STATE_COOKIE);
    const params = new URL(req.url, resource).searchParams;
    const pending = state && params.get('state') === state ? logins.get(state) : undefined;
    const clearState = `${STATE_COOKIE}=; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=0${secure}`;
    if (!state || !pending) {
      refusal(log, { code: 'ERR_ADMIN_STATE', status: 400, requestId: req.id, detail: 'the sign-in state is missing, expired or from another browser' });
      return page(reply.header('set-cookie', clearState), 400, messagePage('Sign-in expired', '<p>This sign-in is unknown or expired. <a href="/admin/login">Start again</a>.</p>'));
    }
    logins.delete(state);
    if (params.has('error')) {
      refusal(log, { code: 'ERR_ADMIN_SIGN_IN', status: 403, requestId: req.id, detail: `the IdP answered ${String(params.get('error')).slice(0, 100)}` });
      return page(reply.header('set-cookie', clearState), 403, messagePage('Not signed in', '<p>Sign-in was cancelled or refused. <a href="/admin/login">Try again</a>.</p>'));
    }
    let accessToken: string;
    try {
      const tokens = await oidc.authorizationCodeGrant(await idp(deps.issuer!), new URL(req.url, resource), { pkceCodeVerifier: pending.verifier, expectedState: state }, { resource });
      accessToken = tokens.access_token;
    } catch (err) {
      refusal(log, { code: 'ERR_ADMIN_SIGN_IN', status: 403, requestId: req.id, detail: `code exchange failed: ${(err as Error).message.slice(0, 200)}` });
      return page(reply.header('set-cookie', clearState), 403, messagePage('Not signed in', '<p>The identity provider did not confirm the sign-in. <a href="/admin/login">Try again</a>.</p>'));
    }
    let principal;
    try {
      ({ principal } = await verifier.verify(accessToken, { audience: resource }));
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      refusal(log, { code: err.code, status: 403, requestId: req.id, path: '/admin/callback', detail: err.detail });
      return page(reply.header('set-cookie', clearState), 403, messagePage('Not signed in', '<p>The token from the identity provider was not accepted.</p>'));
    }
    const { id: user, roles } = principal.user;
    if (!isAdmin(roles)) {
      refusal(log, { code: 'ERR_ADMIN_ROLE', status: 403, requestId: req.id, user, detail: `roles ${roles.join(', ') || '(none)'}; the audit trail is for ${[...adminRoles].join(', ') || 'nobody (admin.roles is empty)'}` });
      return page(
        reply.header('set-cookie', clearState),
        403,
        messagePage(
          'Not an auditor',
          `<p>You are signed in as <b>${esc(user)}</b>${roles.length ? ` (${esc(roles.join(', '))})` : ''}. The audit trail is open to ${adminRoles.size ? [...adminRoles].map((r) => `<b>${esc(r)}</b>`).join(' or ') : 'nobody: <code>admin.roles</code> is empty'} only.</p><p>This refusal has been recorded.</p>`,
        ),
      );
    }
    const id = randomBytes(32).toString('base64url');
    sessions.set(id, { user, roles, expires: Date.now() + sessionMs });
    record('sign-in', user, { roles: roles.join(',') }, req.id);
    return reply
      .header('set-cookie', [clearState, `${SESSION_COOKIE}=${id}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(sessionMs / 1000)}${secure}`])
      .redirect(pending.next, 303);
  });

  app.post('/admin/logout', async (req, reply) => {
    const id = cookies(req).get(SESSION_COOKIE);
    const s = id ? sessions.get(id) : undefined;
    if (id) sessions.delete(id);
    if (s) record('sign-out', s.user, {}, req.id);
    return page(reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=0${secure}`), 200, messagePage('Signed out', '<p><a href="/admin/login">Sign in again</a>.</p>'));
  });

  app.get<{ Querystring: Filters }>('/admin', async (req, reply) => {
    const s = session(req, reply);
    if (!s) return reply;
    const f: Filters = {};
    for (const k of ['user', 'agent', 'gateway', 'tool', 'skill', 'decision', 'kind', 'since', 'until', 'run', 'request', 'before'] as const) {
      const v = req.query[k];
      if (typeof v === 'string' && v.trim() !== '') f[k] = v.trim().slice(0, 200);
    }
    // The chain's status covers the newest events too (verified since the last look).
    await monitor.refresh();
    try {
      const q = parseAuditQuery(f);
      const [result, total] = await Promise.all([store.query({ ...q, limit: 50 }), store.count(q)]);
      return page(reply, 200, eventsPage(context(s), f, { ...result, total }));
    } catch (err) {
      if (!(err instanceof AuditError) || err.code !== 'ERR_AUDIT_INPUT') throw err;
      return page(reply, 400, eventsPage(context(s), f, { events: [], total: 0 }, err.message));
    }
  });

  app.get<{ Params: { seq: string } }>('/admin/events/:seq', async (req, reply) => {
    const s = session(req, reply);
    if (!s) return reply;
    const seq = /^\d{1,15}$/.test(req.params.seq) ? Number(req.params.seq) : NaN;
    const e = Number.isSafeInteger(seq) ? await store.get(seq) : undefined;
    if (!e) return page(reply, 404, messagePage('No such event', `<p>There is no event #${esc(req.params.seq.slice(0, 20))}. <a href="/admin">Back to the events</a>.</p>`));
    return page(reply, 200, eventPage(context(s), e));
  });

  app.post('/admin/verify', async (req, reply) => {
    const s = session(req, reply);
    if (!s) return reply;
    const status = await monitor.verifyNow();
    record('verify', s.user, { result: status.report ? (status.report.ok ? 'ok' : `broken at ${status.report.issue!.seq}`) : `error: ${status.error ?? ''}`.slice(0, 200) }, req.id);
    return reply.redirect('/admin#chain', 303);
  });

  // For scripts and SIEM pulls: the same filters as the page, as JSON, with a Bearer token.
  app.get<{ Querystring: Record<string, string> }>('/admin/audit', async (req, reply) => {
    let principal;
    try {
      const token = bearerToken({ authorization: req.headers.authorization, rawHeaders: req.raw.rawHeaders, url: req.url });
      ({ principal } = await verifier.verify(token, { audience: resource }));
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      refusal(log, { code: err.code, status: err.status, requestId: req.id, path: '/admin/audit', detail: err.detail });
      // RFC 6750 §3: the challenge, and only the public description.
      return reply
        .code(err.status)
        .header('www-authenticate', err.bearerError ? `Bearer error="${err.bearerError}"` : 'Bearer')
        .send({ error: err.bearerError ?? 'invalid_request', error_description: err.publicMessage });
    }
    const { id: user, roles } = principal.user;
    if (!isAdmin(roles)) {
      refusal(log, { code: 'ERR_ADMIN_ROLE', status: 403, requestId: req.id, user, agent: principal.agent.id, path: '/admin/audit' });
      return reply.code(403).send({ error: 'forbidden', error_description: 'the audit trail is for admin roles only' });
    }
    let q;
    try {
      q = parseAuditQuery(req.query);
    } catch (err) {
      if (!(err instanceof AuditError)) throw err;
      return reply.code(400).send({ error: 'invalid_request', error_description: err.message });
    }
    const result = await store.query(q);
    record('query', user, { query: JSON.stringify(q).slice(0, 500), events: result.events.length }, req.id);
    return reply.header('cache-control', 'no-store').send({ events: result.events, ...(result.next !== undefined ? { next: result.next } : {}) });
  });
}
