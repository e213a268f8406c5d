/**
 * The embedded dev IdP (`identity.devIdp: true`; never in production, where any OIDC issuer
 * is configured instead and none of this runs): oidc-provider at `<publicUrl>/idp`, with the
 * workspace's `users` as accounts and its `agents` as OAuth clients.
 *
 * - Authorization code + PKCE (S256, required) for real MCP clients. Agents are public native
 *   clients (no secret) whose redirect URIs are loopback `/callback` URLs on any port
 *   (RFC 8252 §7.3; oidc-provider ignores the port of loopback URIs of native clients).
 * - Dynamic client registration (RFC 7591) is open so MCP clients can register themselves.
 *   A self-registered client is NOT a registered agent: it gets tokens, and every gateway
 *   refuses them (`ERR_AGENT_UNKNOWN`) until its client_id is listed under `agents`.
 * - Resource indicators (RFC 8707): a token is requested for one gateway resource URL
 *   (`<publicUrl>/mcp/<gateway>`); access tokens are RS256 JWTs (RFC 9068) whose `aud` is that
 *   URL, carrying `sub`, `client_id`, `azp`, `roles`, `groups` and `scope`.
 * - The admin page (`/admin`) is a client too (`admin.clientId`, a public web client with
 *   PKCE whose redirect URI is `<publicUrl>/admin/callback`); its tokens are for the resource
 *   `<publicUrl>/admin` and carry the user's roles, which the admin page checks.
 * - Login: a page listing the demo users, no password (login.ts); consent is automatic.
 * - State under `<stateDir>/idp/`: the signing key (jwks.json), cookie keys and sessions
 *   (store.json), all 0600, so tokens and logins survive a restart.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import Provider, { type Configuration, errors as oidcErrors, type KoaContextWithOIDC } from 'oidc-provider';
import type { SkillgateConfig } from '../../../src/config/schema.js';
import { adminResourceUrl, resourceUrl } from '../../identity/resource-metadata.js';
import { openFileStore } from './file-store.js';
import { idpDir, loadCookieKeys, loadSigningKeys } from './keys.js';
import { createLoginHandler, esc, htmlPage, interactionPath, PAGE_HEADERS } from './login.js';
import { createTokenMinter, devIssuer, type TokenMinter } from './mint.js';

export { devIssuer } from './mint.js';
export { loadSigningKey } from './keys.js';

export interface DevIdpOptions {
  config: SkillgateConfig;
  /** The workspace's state folder (absolute); the IdP keeps its files in `<stateDir>/idp/`. */
  stateDir: string;
  /** Default `<publicUrl>/idp`. Its path is where the IdP is mounted. */
  issuer?: string;
  /** Lifetime of access tokens from the code flow (default 1 h). */
  accessTokenTtlSec?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** A running dev IdP: mount it in the gateway's fastify (or any node:http server). */
export interface DevIdp extends TokenMinter {
  /** The oidc-provider instance (for events and advanced use). */
  readonly provider: Provider;
  readonly issuer: string;
  /** The path the IdP answers under, e.g. `/idp`. */
  readonly mountPath: string;
  /** Whether a request URL (path + query) is the IdP's: its prefix or its RFC 8414 metadata. */
  handles(url: string): boolean;
  /** Handle one request whose URL `handles` accepted (a raw node:http handler). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Route the IdP's requests in a fastify app, before fastify parses their bodies. */
  mount(app: FastifyInstance): void;
  /** Detach event listeners. State is written on every change, so there is nothing to flush. */
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** Callback paths of common MCP clients (Claude Code `/callback`, the MCP Inspector `/oauth/callback`). */
const CALLBACK_PATHS = ['/callback', '/oauth/callback', '/oauth/callback/debug'];

/**
 * Start the dev IdP for a workspace.
 *
 * @example
 *   const idp = await createDevIdp({ config, stateDir: loaded.path(config.stateDir) });
 *   idp.mount(app); // fastify
 */
export async function createDevIdp(opts: DevIdpOptions): Promise<DevIdp> {
  const { config, stateDir } = opts;
  // Without a logger, failures still reach stderr; routine events (logins) stay quiet.
  const log =
    opts.log ??
    ((msg: string, fields?: Record<string, unknown>) => {
      if (/error|failed|unreadable/.test(msg)) process.stderr.write(`[idp] ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
    });
  const issuer = opts.issuer ?? devIssuer(config);
  const mountPath = new URL(issuer).pathname.replace(/\/+$/, '');
  if (!mountPath) throw new Error(`the dev IdP issuer needs a path to be mounted at (got ${issuer})`);
  const accessTokenTTL = opts.accessTokenTtlSec ?? 3600;

  const [signingKeys, cookieKeys, minter] = await Promise.all([loadSigningKeys(stateDir), loadCookieKeys(stateDir), createTokenMinter({ config, stateDir, issuer })]);
  const store = openFileStore(join(idpDir(stateDir), 'store.json'), { onWarning: (m) => log(m) });

  /** Gateway resource URL → gateway name: the only resources tokens are issued for. */
  const resources = new Map(Object.keys(config.gateways).map((g) => [resourceUrl(config.publicUrl, g), g]));
  const adminResource = adminResourceUrl(config.publicUrl);
  const agentByClient = new Map(Object.entries(config.agents).map(([id, a]) => [a.clientId, id]));

  const clients: Array<NonNullable<Configuration['clients']>[number]> = Object.values(config.agents).map((agent) => ({
    client_id: agent.clientId,
    client_name: agent.name ?? agent.clientId,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['127.0.0.1', 'localhost'].flatMap((h) => CALLBACK_PATHS.map((p) => `http://${h}${p}`)),
  }));
  if (!agentByClient.has(config.admin.clientId)) {
    clients.push({
      client_id: config.admin.clientId,
      client_name: 'Skillgate admin page',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${adminResource}/callback`],
    });
  }

  // Skillgate's own /connect pages sign users in here (gateway/adapters/connect): a public web
  // client with PKCE whose tokens are refused by every gateway (it is not an agent).
  clients.push({
    client_id: 'skillgate-web',
    client_name: 'Skillgate (connect a service)',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${config.publicUrl.replace(/\/+$/, '')}/connect/callback/login`],
  });

  const account = (sub: string) => {
    const u = Object.hasOwn(config.users, sub) ? config.users[sub] : undefined;
    return u ? { sub, name: u.name ?? sub, roles: u.roles, groups: u.groups } : undefined;
  };

  const provider = new Provider(issuer, {
    clients,
    adapter: store.adapter,
    jwks: { keys: signingKeys as never },
    cookies: { keys: cookieKeys },
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'roles'],
    claims: { openid: ['sub'], profile: ['name'], roles: ['roles', 'groups'] },
    interactions: { url: (_ctx, interaction) => interactionPath(mountPath, interaction.uid) },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true, initialAccessToken: false },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // MCP clients send `resource` (MCP authorization 2025-11-25); for one that does not, an
        // agent allowed on exactly one gateway gets a token for that gateway.
        defaultResource: async (_ctx, client, oneOf) => {
          if (oneOf) return oneOf;
          if (client?.clientId === config.admin.clientId) return adminResource;
          const agent = client ? agentByClient.get(client.clientId) : undefined;
          const allowed = agent ? Object.entries(config.gateways).filter(([, g]) => g.agents.includes(agent)) : [];
          return allowed.length === 1 ? resourceUrl(config.publicUrl, allowed[0]![0]) : undefined;
        },
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource, client) => {
          if (resource === adminResource) {
            // Only the admin page's own client gets tokens for the admin page.
            if (client.clientId !== config.admin.clientId) throw new oidcErrors.InvalidTarget(`${resource} is only for the admin page's client`);
            return { scope: 'audit', audience: resource, accessTokenTTL: Math.min(accessTokenTTL, 3600), accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
          }
          if (!resources.has(resource)) throw new oidcErrors.InvalidTarget(`${resource} is not a gateway of this workspace`);
          return { scope: 'mcp', audience: resource, accessTokenTTL, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    findAccount: async (_ctx, sub) => {
      const claims = account(sub);
      return claims ? { accountId: sub, claims: async () => claims } : undefined;
    },
    // RFC 9068 §2.2.3.1: roles and groups travel in the access token; azp names the agent too.
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken') return undefined;
      const claims = token.accountId ? account(token.accountId) : undefined;
      return claims ? { azp: token.clientId, roles: claims.roles, groups: claims.groups } : undefined;
    },
    // Browser-based MCP clients (the Inspector) call the token and registration endpoints from a loopback page.
    clientBasedCORS: (_ctx: KoaContextWithOIDC, origin: string) => {
      const u = URL.parse(origin);
      return u !== null && u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname);
    },
    // Errors that cannot go back to the client (a bad redirect_uri, an unknown client) are shown here.
    renderError: async (ctx, out) => {
      ctx.set(PAGE_HEADERS);
      ctx.body = htmlPage('Sign-in error', `<p><code>${esc(String(out.error))}</code>: ${esc(String(out.error_description ?? ''))}</p><p>Start again from your client.</p>`);
    },
    ttl: { AccessToken: accessTokenTTL, AuthorizationCode: 120, IdToken: 3600, RefreshToken: 86_400, Session: 86_400, Interaction: 600, Grant: 86_400 },
  });
  // Behind a TLS-terminating proxy the public URL is https while the socket is not.
  provider.proxy = true;
  provider.on('server_error', (_ctx, err) => log('dev IdP server error', { error: err.message }));

  const callback = provider.callback();
  const login = createLoginHandler({ provider, config, mountPath, log });
  // RFC 8414 §3.1 puts the well-known segment before the issuer's path; MCP clients try it first.
  const metadataAliases = new Set([`/.well-known/oauth-authorization-server${mountPath}`, `/.well-known/openid-configuration${mountPath}`]);

  const pathOf = (url: string) => {
    const q = url.indexOf('?');
    return q === -1 ? url : url.slice(0, q);
  };
  const handles = (url: string) => {
    const path = pathOf(url);
    return path === mountPath || path.startsWith(`${mountPath}/`) || metadataAliases.has(path);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const path = pathOf(url);
    void (async () => {
      if (await login(req, res, path)) return;
      const r = req as IncomingMessage & { originalUrl?: string };
      r.originalUrl = url;
      // oidc-provider routes relative to its mount point, like an express sub-app.
      r.url = metadataAliases.has(path) ? '/.well-known/openid-configuration' : url.slice(mountPath.length) || '/';
      await callback(r, res);
    })().catch((err: unknown) => {
      log('dev IdP request failed', { error: (err as Error).message });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('dev IdP error');
    });
  };

  return {
    ...minter,
    provider,
    issuer,
    mountPath,
    handles,
    handle,
    mount(app) {
      // onRequest runs before fastify's body parsing: oidc-provider reads its form and JSON bodies itself.
      app.addHook('onRequest', async (req, reply) => {
        if (!handles(req.url)) return;
        reply.hijack();
        handle(req.raw, reply.raw);
      });
    },
    async close() {
      provider.removeAllListeners();
    },
  };
}
