/**
 * The embedded dev IdP (`identity.devIdp: true`, never in production): oidc-provider at
 * `<publicUrl>/idp`, with the workspace's `users` as accounts and its `agents` as OAuth clients.
 *
 * - Authorization code + PKCE (required) for real MCP clients, loopback redirect URIs
 *   (RFC 8252 §7.3), dynamic client registration so clients can register themselves — a
 *   registered-by-itself client is still not a registered agent: the gateway refuses its
 *   tokens unless its client_id is in skillgate.yaml.
 * - Resource indicators (RFC 8707): access tokens are RS256 JWTs whose `aud` is the gateway
 *   resource URL asked for, carrying `azp`/`client_id`, `sub`, `roles`, `groups`, `scope`.
 * - Login: oidc-provider's development interactions (type a demo user id; no password).
 * - Signing keys persist in `<stateDir>/idp/jwks.json` (0600) so tokens survive restarts.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import Provider, { type Configuration, errors as oidcErrors } from 'oidc-provider';
import type { SkillgateConfig } from '../../src/config/schema.js';

export interface DevIdp {
  issuer: string;
  /** Handle a request whose URL starts with the issuer's path (e.g. `/idp/...`). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Mint an access token directly (for `skillgate token` and tests). */
  mintToken(opts: { user: string; agent: string; audience: string; ttlSec?: number; scope?: string }): Promise<string>;
  /** The public signing keys. */
  jwks(): { keys: JWK[] };
}

/** The dev IdP's issuer URL for a workspace. */
export function devIssuer(config: SkillgateConfig): string {
  return `${config.publicUrl.replace(/\/+$/, '')}/idp`;
}

/** Load the persisted signing key, creating it on first use. */
export async function loadSigningKey(stateDir: string): Promise<JWK> {
  const file = join(stateDir, 'idp', 'jwks.json');
  if (existsSync(file)) {
    const set = JSON.parse(readFileSync(file, 'utf8')) as { keys: JWK[] };
    const key = set.keys[0];
    if (!key?.d) throw new Error(`${file} holds no private signing key; delete it to generate a new one`);
    return key;
  }
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: `dev-${randomBytes(6).toString('hex')}` };
  mkdirSync(join(stateDir, 'idp'), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return jwk;
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}

/** Create the dev IdP for a workspace. */
export async function createDevIdp(config: SkillgateConfig, stateDir: string): Promise<DevIdp> {
  const issuer = devIssuer(config);
  const signingKey = await loadSigningKey(stateDir);
  const mountPath = new URL(issuer).pathname.replace(/\/+$/, '');
  const resourcePrefix = `${config.publicUrl.replace(/\/+$/, '')}/mcp/`;

  const clients: Configuration['clients'] = Object.values(config.agents).map((a) => ({
    client_id: a.clientId,
    client_name: a.name ?? a.clientId,
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback', 'http://localhost/callback'],
  }));

  const userClaims = (sub: string) => {
    const u = config.users[sub];
    return u ? { sub, name: u.name ?? sub, roles: u.roles, groups: u.groups } : undefined;
  };

  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [signingKey as never] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'mcp'],
    claims: { openid: ['sub'], profile: ['name'], roles: ['roles', 'groups'] },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? undefined,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (!resource.startsWith(resourcePrefix)) throw new oidcErrors.InvalidTarget(`unknown resource ${resource}`);
          return { scope: 'openid mcp', audience: resource, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    findAccount: async (_ctx, sub) => {
      const claims = userClaims(sub);
      return claims ? { accountId: sub, claims: async () => claims } : undefined;
    },
    extraTokenClaims: async (_ctx, token) => {
      const sub = (token as { accountId?: string }).accountId;
      const claims = sub ? userClaims(sub) : undefined;
      const clientId = (token as { clientId?: string }).clientId;
      return claims ? { roles: claims.roles, groups: claims.groups, ...(clientId ? { azp: clientId } : {}) } : undefined;
    },
    // Dev only: the demo user consents to everything the client asked for.
    loadExistingGrant: async (ctx) => {
      const accountId = ctx.oidc.session?.accountId;
      const client = ctx.oidc.client;
      if (!accountId || !client) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId });
      grant.addOIDCScope('openid offline_access');
      const resource = ctx.oidc.params?.resource;
      for (const r of Array.isArray(resource) ? resource : resource ? [resource as string] : []) grant.addResourceScope(r, 'openid mcp');
      await grant.save();
      return grant;
    },
    ttl: { AccessToken: 3600, AuthorizationCode: 120, IdToken: 3600, RefreshToken: 86_400, Session: 86_400, Interaction: 600, Grant: 86_400 },
  });
  // Loopback clients may use any port (RFC 8252 §7.3): oidc-provider compares ports unless told.
  provider.on('server_error', (_ctx, err) => process.stderr.write(`[idp] ${err.message}\n`));
  const callback = provider.callback();

  const privateKey = await importJWK(signingKey, 'RS256');

  return {
    issuer,
    handle(req, res) {
      const r = req as IncomingMessage & { originalUrl?: string };
      r.originalUrl = r.url;
      r.url = (r.url ?? '/').slice(mountPath.length) || '/';
      void callback(r, res);
    },
    async mintToken({ user, agent, audience, ttlSec = 3600, scope = 'openid mcp' }) {
      const claims = userClaims(user);
      if (!claims) throw new Error(`unknown user "${user}"`);
      const a = config.agents[agent];
      if (!a) throw new Error(`unknown agent "${agent}"`);
      return new SignJWT({ scope, client_id: a.clientId, azp: a.clientId, roles: claims.roles, groups: claims.groups, name: claims.name })
        .setProtectedHeader({ alg: 'RS256', kid: signingKey.kid!, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(user)
        .setAudience(audience)
        .setIssuedAt()
        .setJti(randomBytes(12).toString('base64url'))
        .setExpirationTime(`${ttlSec}s`)
        .sign(privateKey);
    },
    jwks: () => ({ keys: [publicPart(signingKey)] }),
  };
}
