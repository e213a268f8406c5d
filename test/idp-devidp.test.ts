/**
 * The embedded dev IdP over real HTTP (oidc-provider mounted in a bare fastify on a free
 * port), driven like a browser with plain fetch: authorization code + PKCE with a resource
 * indicator, the demo-user login page, automatic consent, the token endpoint — and the JWT it
 * issues is accepted by the real verifier (JWKS discovered over HTTP) with the right principal,
 * for that gateway only. Also: dynamic registration (tokens refused: not a registered agent),
 * loopback redirects, PKCE enforcement, and keys + sessions surviving a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError } from '../gateway/identity/errors.js';
import { resourceUrl } from '../gateway/identity/resource-metadata.js';
import { type TokenVerifier, verifierFromConfig } from '../gateway/identity/verify.js';
import { createDevIdp, type DevIdp } from '../gateway/adapters/idp/dev-idp.js';
import { MintError } from '../gateway/adapters/idp/mint.js';
import { configSchema, type SkillgateConfig } from '../src/config/schema.js';
import { browser, type Browser } from './helpers/browser.js';
import { freePort } from './helpers/dev-process.js';

function workspace(port: number): SkillgateConfig {
  return configSchema.parse({
    workspace: 'acme',
    publicUrl: `http://127.0.0.1:${port}`,
    identity: { devIdp: true },
    users: {
      ceo: { name: 'Carla Ortiz', roles: ['executive'] },
      intern: { name: 'Ian Park', roles: ['intern'], groups: ['staff'] },
      'credit-officer': { roles: ['credit-officer'] },
      'loan-clerk': { roles: ['loan-clerk'] },
    },
    agents: {
      'hr-assistant': { clientId: 'hr-assistant', name: 'HR assistant' },
      'credit-assistant': { clientId: 'credit-assistant' },
      'coding-agent': { clientId: 'coding-agent' },
    },
    gateways: {
      'hr-desk': { agents: ['hr-assistant'] },
      'credit-desk': { agents: ['credit-assistant'] },
      'dev-tools': { agents: ['coding-agent'] },
    },
  });
}

interface Running {
  config: SkillgateConfig;
  idp: DevIdp;
  app: FastifyInstance;
  base: string;
  verifier: TokenVerifier;
}

async function start(stateDir: string, port: number): Promise<Running> {
  const config = workspace(port);
  const idp = await createDevIdp({ config, stateDir });
  const app = Fastify();
  idp.mount(app);
  app.get('/healthz', async () => ({ ok: true }));
  await app.listen({ host: '127.0.0.1', port });
  // What the gateway does: trust the dev IdP as an issuer, keys by discovery over HTTP.
  const verifier = verifierFromConfig({ ...config, identity: { ...config.identity, issuers: [{ issuer: idp.issuer, algorithms: ['RS256'] }] } });
  return { config, idp, app, base: config.publicUrl, verifier };
}


interface FlowResult {
  /** The final redirect to the client. */
  callback: URL;
  /** Login pages shown on the way (HTML). */
  pages: string[];
  verifier: string;
}

/**
 * Authorization request → (login page → pick `user`) → automatic consent → redirect to the
 * client. Returns the callback URL (with `code` or `error`).
 */
async function authorize(
  r: Running,
  go: Browser,
  o: { clientId: string; redirectUri: string; resource?: string; user?: string; pkce?: boolean; scope?: string; onPage?: (html: string, action: string) => { path: string; body: Record<string, string> } },
): Promise<FlowResult> {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${r.idp.issuer}/auth`);
  const params: Record<string, string> = { client_id: o.clientId, response_type: 'code', redirect_uri: o.redirectUri, scope: o.scope ?? 'openid mcp', state: 'st-1' };
  if (o.pkce !== false) Object.assign(params, { code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' });
  if (o.resource) params.resource = o.resource;
  for (const [k, v] of Object.entries(params)) auth.searchParams.set(k, v);

  const pages: string[] = [];
  let res = await go(auth.href);
  for (let hop = 0; hop < 12; hop++) {
    if (res.status === 200 || (res.status === 400 && res.headers.get('content-type')?.startsWith('text/html'))) {
      const html = await res.text();
      pages.push(html);
      const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
      if (!action) throw new Error(`a page without a form: ${html.slice(0, 300)}`);
      const next = o.onPage?.(html, action) ?? { path: action, body: { user: o.user ?? 'intern' } };
      res = await go(new URL(next.path, r.base).href, { method: 'POST', body: new URLSearchParams(next.body), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      continue;
    }
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) throw new Error(`hop ${hop}: HTTP ${res.status} ${await res.text()}`);
    const url = new URL(location, r.base);
    if (url.href.startsWith(o.redirectUri)) return { callback: url, pages, verifier };
    res = await go(url.href);
  }
  throw new Error('too many redirects');
}

async function exchange(r: Running, code: string, o: { clientId: string; redirectUri: string; verifier: string; resource?: string }) {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: o.redirectUri, client_id: o.clientId, code_verifier: o.verifier });
  if (o.resource) body.set('resource', o.resource);
  const res = await fetch(`${r.idp.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  return { status: res.status, json: (await res.json()) as { access_token?: string; token_type?: string; error?: string; expires_in?: number } };
}

async function refused(p: Promise<unknown>): Promise<AuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AuthError)) throw new Error(`expected an AuthError, got ${String(err)}`);
  return err;
}

const cb = (port: number, path = '/callback') => `http://127.0.0.1:${port}${path}`;

let stateDir: string;
let port: number;
let r: Running;
/** The browser of the first full flow, kept for the restart test. */
let loggedIn: Browser;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'skillgate-idp-'));
  port = await freePort();
  r = await start(stateDir, port);
});
afterAll(async () => {
  await r?.app.close();
  await r?.idp.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('discovery', () => {
  it('serves OIDC discovery under the issuer and the RFC 8414 path-inserted alias', async () => {
    const direct = (await (await fetch(`${r.idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(direct).toMatchObject({
      issuer: `${r.base}/idp`,
      authorization_endpoint: `${r.base}/idp/auth`,
      token_endpoint: `${r.base}/idp/token`,
      registration_endpoint: `${r.base}/idp/reg`,
      code_challenge_methods_supported: ['S256'],
    });
    const alias = (await (await fetch(`${r.base}/.well-known/oauth-authorization-server/idp`)).json()) as Record<string, unknown>;
    expect(alias.issuer).toBe(direct.issuer);
    // Everything else is left to the host app.
    expect((await fetch(`${r.base}/healthz`)).status).toBe(200);
  });

  it('publishes the persisted signing key, public half only', async () => {
    const jwks = (await (await fetch(`${r.idp.issuer}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(r.idp.jwks().keys.map((k) => k.kid));
    for (const k of jwks.keys) expect(Object.keys(k).filter((x) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].includes(x))).toEqual([]);
    for (const f of ['jwks.json', 'cookie-keys.json']) expect(statSync(join(stateDir, 'idp', f)).mode & 0o777, f).toBe(0o600);
  });
});

describe('authorization code + PKCE with a resource indicator', () => {
  it('issues a JWT for the gateway asked for, which the verifier accepts with the right principal', async () => {
    loggedIn = browser();
    const resource = resourceUrl(r.base, 'hr-desk');
    const redirectUri = cb(53682);
    const flow = await authorize(r, loggedIn, { clientId: 'hr-assistant', redirectUri, resource, user: 'intern' });

    // The login page: clearly dev, lists every demo user, names the agent and the gateway.
    expect(flow.pages).toHaveLength(1);
    const page = flow.pages[0]!;
    expect(page).toContain('DEVELOPMENT IdP');
    for (const u of ['ceo', 'intern', 'credit-officer', 'loan-clerk']) expect(page).toContain(`value="${u}"`);
    expect(page).toContain('HR assistant');
    expect(page).toContain(resource);

    expect(flow.callback.searchParams.get('state')).toBe('st-1');
    const code = flow.callback.searchParams.get('code');
    expect(code).toBeTruthy();
    const { status, json } = await exchange(r, code!, { clientId: 'hr-assistant', redirectUri, verifier: flow.verifier, resource });
    expect(status, JSON.stringify(json)).toBe(200);
    expect(json.token_type).toBe('Bearer');
    const token = json.access_token!;

    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: r.idp.jwks().keys[0]!.kid });
    expect(decodeJwt(token)).toMatchObject({ iss: r.idp.issuer, sub: 'intern', aud: resource, client_id: 'hr-assistant', azp: 'hr-assistant', roles: ['intern'], groups: ['staff'] });

    const id = await r.verifier.verify(token, { audience: resource });
    expect(id.principal).toEqual({ user: { id: 'intern', roles: ['intern'], groups: ['staff'] }, agent: { id: 'hr-assistant' } });
    expect(id.scopes).toContain('mcp');
    // Bound to hr-desk: worthless on another gateway.
    expect((await refused(r.verifier.verify(token, { audience: resourceUrl(r.base, 'credit-desk') }))).code).toBe('ERR_TOKEN_AUDIENCE');
    // The code is single-use.
    expect((await exchange(r, code!, { clientId: 'hr-assistant', redirectUri, verifier: flow.verifier, resource })).json.error).toBe('invalid_grant');
  });

  it('remembers the login and the consent: the next authorization goes straight back to the client', async () => {
    const resource = resourceUrl(r.base, 'hr-desk');
    const flow = await authorize(r, loggedIn, { clientId: 'hr-assistant', redirectUri: cb(40001), resource });
    expect(flow.pages).toEqual([]);
    const { json } = await exchange(r, flow.callback.searchParams.get('code')!, { clientId: 'hr-assistant', redirectUri: cb(40001), verifier: flow.verifier, resource });
    expect(decodeJwt(json.access_token!).sub).toBe('intern');
  });

  it('requires PKCE and checks the verifier', async () => {
    const go = browser();
    const resource = resourceUrl(r.base, 'credit-desk');
    const noPkce = await authorize(r, go, { clientId: 'credit-assistant', redirectUri: cb(40002), resource, pkce: false });
    expect(noPkce.callback.searchParams.get('error')).toBe('invalid_request');
    expect(noPkce.callback.searchParams.get('error_description')).toMatch(/PKCE/);

    const flow = await authorize(r, go, { clientId: 'credit-assistant', redirectUri: cb(40002), resource, user: 'credit-officer' });
    const wrong = await exchange(r, flow.callback.searchParams.get('code')!, { clientId: 'credit-assistant', redirectUri: cb(40002), verifier: randomBytes(32).toString('base64url'), resource });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toBe('invalid_grant');
  });

  it('issues tokens only for gateways of the workspace', async () => {
    const flow = await authorize(r, browser(), { clientId: 'hr-assistant', redirectUri: cb(40003), resource: 'https://graph.example.com/' });
    expect(flow.callback.searchParams.get('error')).toBe('invalid_target');
  });

  it('gives an agent allowed on one gateway a token for it when the client sends no resource', async () => {
    const go = browser();
    const flow = await authorize(r, go, { clientId: 'coding-agent', redirectUri: cb(40004), user: 'ceo' });
    const { json } = await exchange(r, flow.callback.searchParams.get('code')!, { clientId: 'coding-agent', redirectUri: cb(40004), verifier: flow.verifier });
    expect(decodeJwt(json.access_token!).aud).toBe(resourceUrl(r.base, 'dev-tools'));
    expect((await r.verifier.verify(json.access_token!, { audience: resourceUrl(r.base, 'dev-tools') })).principal).toMatchObject({ user: { id: 'ceo' }, agent: { id: 'coding-agent' } });
  });

  it('accepts loopback redirects on any port and on the Inspector path, and nothing else', async () => {
    const ok = await authorize(r, browser(), { clientId: 'hr-assistant', redirectUri: 'http://localhost:6274/oauth/callback', resource: resourceUrl(r.base, 'hr-desk') });
    expect(ok.callback.searchParams.get('code')).toBeTruthy();
    for (const bad of ['https://evil.example/callback', 'http://127.0.0.1:8080/elsewhere']) {
      const res = await fetch(`${r.idp.issuer}/auth?${new URLSearchParams({ client_id: 'hr-assistant', response_type: 'code', redirect_uri: bad, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`, { redirect: 'manual' });
      expect(res.status, bad).toBe(400);
      expect(res.headers.get('location'), bad).toBeNull();
    }
  });

  it('refuses an unknown user on the login page, and lets the user cancel', async () => {
    const resource = resourceUrl(r.base, 'hr-desk');
    let tries = 0;
    const cancelled = await authorize(r, browser(), {
      clientId: 'hr-assistant',
      redirectUri: cb(40005),
      resource,
      onPage: (html, action): { path: string; body: Record<string, string> } => {
        tries++;
        if (tries === 1) return { path: action, body: { user: 'mallory' } };
        expect(html).toContain('There is no demo user &#34;mallory&#34;');
        return { path: action.replace(/\/login$/, '/abort'), body: {} };
      },
    });
    expect(tries).toBe(2);
    expect(cancelled.callback.searchParams.get('error')).toBe('access_denied');
  });
});

describe('dynamic client registration', () => {
  it('lets an MCP client register and get tokens, which the gateway refuses: not a registered agent', async () => {
    const redirectUri = 'http://127.0.0.1:33418/callback';
    const reg = await fetch(`${r.idp.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'some MCP client', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] }),
    });
    expect(reg.status).toBe(201);
    const { client_id } = (await reg.json()) as { client_id: string };
    const resource = resourceUrl(r.base, 'hr-desk');
    const flow = await authorize(r, browser(), { clientId: client_id, redirectUri, resource });
    expect(flow.pages[0]).toContain('It is not a registered agent');
    const { json } = await exchange(r, flow.callback.searchParams.get('code')!, { clientId: client_id, redirectUri, verifier: flow.verifier, resource });
    expect(decodeJwt(json.access_token!)).toMatchObject({ sub: 'intern', aud: resource, client_id });
    const err = await refused(r.verifier.verify(json.access_token!, { audience: resource }));
    expect(err.code).toBe('ERR_AGENT_UNKNOWN');
    expect(err.detail).toContain(client_id);
  });

  it('answers CORS for loopback browser clients (the MCP Inspector) on the token endpoint', async () => {
    const res = await fetch(`${r.idp.issuer}/token`, {
      method: 'POST',
      headers: { origin: 'http://localhost:6274', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'nope', client_id: 'hr-assistant', redirect_uri: cb(1), code_verifier: 'x'.repeat(43) }),
    });
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
    const evil = await fetch(`${r.idp.issuer}/token`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'nope', client_id: 'hr-assistant', redirect_uri: cb(1), code_verifier: 'x'.repeat(43) }),
    });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('mintToken (what `skillgate token` signs)', () => {
  it('mints tokens the verifier accepts, with the same shape as the code flow', async () => {
    const audience = resourceUrl(r.base, 'credit-desk');
    const token = await r.idp.mintToken({ user: 'loan-clerk', agent: 'credit-assistant', audience, ttl: '15m' });
    const id = await r.verifier.verify(token, { audience });
    expect(id.principal).toEqual({ user: { id: 'loan-clerk', roles: ['loan-clerk'], groups: [] }, agent: { id: 'credit-assistant' } });
    const c = decodeJwt(token);
    expect(c.exp! - c.iat!).toBe(900);
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
  });

  it('refuses unknown users and agents and silly lifetimes', async () => {
    const audience = resourceUrl(r.base, 'hr-desk');
    await expect(r.idp.mintToken({ user: 'mallory', agent: 'hr-assistant', audience })).rejects.toMatchObject({ code: 'ERR_MINT_USER_UNKNOWN' });
    await expect(r.idp.mintToken({ user: 'intern', agent: 'rogue', audience })).rejects.toBeInstanceOf(MintError);
    await expect(r.idp.mintToken({ user: 'intern', agent: 'hr-assistant', audience, ttl: '30d' })).rejects.toMatchObject({ code: 'ERR_MINT_TTL' });
  });
});

describe('restart', () => {
  it('keeps the signing key, the sessions and the grants: old tokens verify, logged-in users stay logged in', async () => {
    const audience = resourceUrl(r.base, 'hr-desk');
    const before = await r.idp.mintToken({ user: 'ceo', agent: 'hr-assistant', audience });
    const kid = r.idp.jwks().keys[0]!.kid;
    expect(statSync(join(stateDir, 'idp', 'store.json')).mode & 0o777).toBe(0o600);

    await r.app.close();
    await r.idp.close();
    r = await start(stateDir, port);

    expect(r.idp.jwks().keys[0]!.kid).toBe(kid);
    expect((await r.verifier.verify(before, { audience })).principal.user.id).toBe('ceo');
    // The browser that logged in as intern before the restart goes straight through.
    const flow = await authorize(r, loggedIn, { clientId: 'hr-assistant', redirectUri: cb(40006), resource: audience });
    expect(flow.pages).toEqual([]);
    const { json } = await exchange(r, flow.callback.searchParams.get('code')!, { clientId: 'hr-assistant', redirectUri: cb(40006), verifier: flow.verifier, resource: audience });
    expect((await r.verifier.verify(json.access_token!, { audience })).principal.user.id).toBe('intern');
  });
});
