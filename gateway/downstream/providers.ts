/**
 * Downstream OAuth 2 / OIDC providers, as an OAuth client (oauth4webapi): endpoint discovery
 * (RFC 8414 / OIDC Discovery, or RFC 9728 protected resource metadata of an MCP server, or
 * explicit), the authorization request with PKCE (RFC 7636) and `state`, the code exchange,
 * refresh, and revocation (RFC 7009). Client credentials are secret references, resolved at
 * use. Plain http is allowed for loopback hosts only (the demo's own authorization servers).
 */
import * as oauth from 'oauth4webapi';
import type { ProviderConfig } from '../../src/config/schema.js';
import { resolveSecretValue, type SecretContext } from '../../src/config/secrets.js';
import { DownstreamError } from './errors.js';

/** What a token endpoint gave. */
export interface TokenResult {
  accessToken: string;
  refreshToken?: string;
  tokenType: string;
  /** The granted scopes, when the provider said (RFC 6749 §5.1); else the ones requested. */
  scopes?: string[];
  /** Epoch ms. */
  expiresAt?: number;
  /** Validated ID token claims (web login only). */
  idClaims?: { sub: string; [k: string]: unknown };
}

/** One OAuth client registration at one authorization server. */
export interface OAuthClient {
  readonly name: string;
  /** `authorization_endpoint?…` with PKCE (S256), state and the scopes. */
  authorizationUrl(p: { scopes: readonly string[]; state: string; codeVerifier: string; redirectUri: string; nonce?: string; extra?: Record<string, string> }): Promise<URL>;
  /** The callback URL → tokens (checks `state`, the issuer when sent, PKCE). */
  exchangeCode(p: { callbackUrl: URL; state: string; codeVerifier: string; redirectUri: string; nonce?: string; requireIdToken?: boolean }): Promise<TokenResult>;
  refresh(refreshToken: string): Promise<TokenResult>;
  /** RFC 7009. False when the provider has no revocation endpoint. */
  revoke(token: string, hint: 'access_token' | 'refresh_token'): Promise<boolean>;
}

export interface OAuthClientOptions {
  name: string;
  /** How to find the endpoints. */
  endpoints:
    | { issuer: string }
    | { resource: () => Promise<URL> }
    | { authorizationEndpoint: string; tokenEndpoint: string; revocationEndpoint?: string };
  clientId: string;
  clientSecret?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const insecureOk = (u: URL) => u.protocol === 'http:' && LOOPBACK.has(u.hostname);
const httpOptions = (u: URL) => ({ [oauth.allowInsecureRequests]: insecureOk(u), signal: AbortSignal.timeout(10_000) });

/** An OAuth client over oauth4webapi. */
export function createOAuthClient(opts: OAuthClientOptions): OAuthClient {
  const client: oauth.Client = { client_id: opts.clientId };
  const auth = opts.clientSecret !== undefined ? oauth.ClientSecretBasic(opts.clientSecret) : oauth.None();
  let server: Promise<oauth.AuthorizationServer> | undefined;

  const fail = (what: string, err: unknown): never => {
    if (err instanceof DownstreamError) throw err;
    const refused = err instanceof oauth.ResponseBodyError || err instanceof oauth.AuthorizationResponseError;
    const detail = refused ? `${(err as oauth.ResponseBodyError).error}: ${(err as oauth.ResponseBodyError).error_description ?? ''}` : (err as Error).message;
    throw new DownstreamError(refused ? 'ERR_PROVIDER_REFUSED' : 'ERR_PROVIDER_UNAVAILABLE', `${opts.name}: ${what} failed`, detail, { cause: err });
  };

  const discover = async (issuer: URL): Promise<oauth.AuthorizationServer> => {
    // OIDC Discovery first (most providers), then RFC 8414's path-inserted form.
    for (const algorithm of ['oidc', 'oauth2'] as const) {
      try {
        const res = await oauth.discoveryRequest(issuer, { algorithm, ...httpOptions(issuer) });
        return await oauth.processDiscoveryResponse(issuer, res);
      } catch (err) {
        if (algorithm === 'oauth2') throw err;
      }
    }
    throw new Error('unreachable');
  };

  const as = (): Promise<oauth.AuthorizationServer> => {
    server ??= (async () => {
      const e = opts.endpoints;
      if ('issuer' in e) return discover(new URL(e.issuer));
      if ('resource' in e) {
        // RFC 9728: the MCP server names its authorization server (MCP authorization 2025-11-25).
        const resource = await e.resource();
        const res = await oauth.resourceDiscoveryRequest(resource, httpOptions(resource));
        const rs = await oauth.processResourceDiscoveryResponse(resource, res);
        const issuer = rs.authorization_servers?.[0];
        if (!issuer) throw new Error(`${resource.href} names no authorization server`);
        return discover(new URL(issuer));
      }
      return {
        issuer: new URL(e.tokenEndpoint).origin,
        authorization_endpoint: e.authorizationEndpoint,
        token_endpoint: e.tokenEndpoint,
        ...(e.revocationEndpoint ? { revocation_endpoint: e.revocationEndpoint } : {}),
      };
    })().catch((err: unknown) => {
      server = undefined; // try again next time
      return fail('discovering its endpoints', err);
    });
    return server;
  };

  const tokens = (r: oauth.TokenEndpointResponse, requested?: readonly string[]): TokenResult => ({
    accessToken: r.access_token,
    ...(r.refresh_token ? { refreshToken: r.refresh_token } : {}),
    tokenType: r.token_type,
    ...(typeof r.scope === 'string' ? { scopes: r.scope.split(' ').filter(Boolean) } : requested ? { scopes: [...requested] } : {}),
    ...(typeof r.expires_in === 'number' ? { expiresAt: Date.now() + r.expires_in * 1000 } : {}),
  });

  return {
    name: opts.name,
    async authorizationUrl(p) {
      const a = await as();
      if (!a.authorization_endpoint) throw new DownstreamError('ERR_PROVIDER_UNAVAILABLE', `${opts.name} has no authorization endpoint`);
      const url = new URL(a.authorization_endpoint);
      const params: Record<string, string> = {
        response_type: 'code',
        client_id: client.client_id,
        redirect_uri: p.redirectUri,
        scope: p.scopes.join(' '),
        state: p.state,
        code_challenge: await oauth.calculatePKCECodeChallenge(p.codeVerifier),
        code_challenge_method: 'S256',
        ...(p.nonce ? { nonce: p.nonce } : {}),
        ...p.extra,
      };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return url;
    },
    async exchangeCode(p) {
      try {
        const a = await as();
        const params = oauth.validateAuthResponse(a, client, p.callbackUrl, p.state);
        const res = await oauth.authorizationCodeGrantRequest(a, client, auth, params, p.redirectUri, p.codeVerifier, httpOptions(new URL(a.token_endpoint!)));
        const r = await oauth.processAuthorizationCodeResponse(a, client, res, {
          ...(p.nonce ? { expectedNonce: p.nonce } : {}),
          ...(p.requireIdToken ? { requireIdToken: true } : {}),
        });
        const claims = oauth.getValidatedIdTokenClaims(r);
        return { ...tokens(r), ...(claims ? { idClaims: claims as TokenResult['idClaims'] & object } : {}) };
      } catch (err) {
        return fail('the code exchange', err);
      }
    },
    async refresh(refreshToken) {
      try {
        const a = await as();
        const res = await oauth.refreshTokenGrantRequest(a, client, auth, refreshToken, httpOptions(new URL(a.token_endpoint!)));
        return tokens(await oauth.processRefreshTokenResponse(a, client, res));
      } catch (err) {
        return fail('the refresh', err);
      }
    },
    async revoke(token, hint) {
      try {
        const a = await as();
        if (!a.revocation_endpoint) return false;
        const res = await oauth.revocationRequest(a, client, auth, token, { additionalParameters: { token_type_hint: hint }, ...httpOptions(new URL(a.revocation_endpoint)) });
        await oauth.processRevocationResponse(res);
        return true;
      } catch (err) {
        return fail('the revocation', err);
      }
    },
  };
}

/** A configured provider's client (its secrets resolved now). */
export function providerClient(name: string, p: ProviderConfig, secrets: SecretContext, resource: (server: string) => Promise<URL>): OAuthClient {
  const endpoints: OAuthClientOptions['endpoints'] =
    p.issuer !== undefined
      ? { issuer: p.issuer }
      : p.server !== undefined
        ? { resource: () => resource(p.server!) }
        : { authorizationEndpoint: p.authorizationEndpoint!, tokenEndpoint: p.tokenEndpoint!, ...(p.revocationEndpoint ? { revocationEndpoint: p.revocationEndpoint } : {}) };
  return createOAuthClient({
    name: p.name ?? name,
    endpoints,
    clientId: resolveSecretValue(p.clientId, ['providers', name, 'clientId'], secrets),
    ...(p.clientSecret !== undefined ? { clientSecret: resolveSecretValue(p.clientSecret, ['providers', name, 'clientSecret'], secrets) } : {}),
  });
}
