/**
 * Access tokens signed directly with the dev IdP's persisted key, without running
 * oidc-provider: what `skillgate token` and tests use. They have the same shape as the tokens
 * the dev IdP issues through the authorization code flow (RFC 9068 JWT access tokens).
 */
import { randomBytes } from 'node:crypto';
import { importJWK, type JWK, SignJWT } from 'jose';
import type { SkillgateConfig } from '../../../src/config/schema.js';
import { parseDuration } from '../../../src/pure/durations.js';
import { loadSigningKeys, publicJwk } from './keys.js';

/** The dev IdP's issuer for a workspace: `<publicUrl>/idp`. */
export function devIssuer(config: SkillgateConfig): string {
  return `${config.publicUrl.replace(/\/+$/, '')}/idp`;
}

/** Longest lifetime of a minted token. */
export const MAX_TOKEN_TTL_SEC = 86_400;

/** What to mint. */
export interface MintOptions {
  /** A key of the config's `users`: becomes `sub`, with that user's roles and groups. */
  user: string;
  /** A key of the config's `agents`: its clientId becomes `client_id` and `azp`. */
  agent: string;
  /** Mint for this OAuth client instead of the agent's (the admin page's client, `admin.clientId`). */
  clientId?: string;
  /** The resource (gateway URL) the token is for: becomes `aud` (RFC 8707). */
  audience: string;
  /** Lifetime as a duration (`"15m"`, `"1h"`); default 1 h, at most 24 h. */
  ttl?: string;
  /** Lifetime in seconds (alternative to `ttl`). */
  ttlSec?: number;
  /** Default `"openid mcp"`. */
  scope?: string;
  /** Override the issue time (seconds); tests of expiry. */
  iat?: number;
}

/** Refusals of `mintToken`; `code` says which input was wrong. */
export class MintError extends Error {
  override readonly name = 'MintError';
  constructor(
    readonly code: 'ERR_MINT_USER_UNKNOWN' | 'ERR_MINT_AGENT_UNKNOWN' | 'ERR_MINT_TTL',
    message: string,
  ) {
    super(message);
  }
}

/** Signs dev access tokens for a workspace. */
export interface TokenMinter {
  readonly issuer: string;
  mintToken(opts: MintOptions): Promise<string>;
  /** The public signing keys (what the IdP's JWKS endpoint serves). */
  jwks(): { keys: JWK[] };
}

/**
 * A minter over the key persisted in `<stateDir>/idp/jwks.json` (created if missing).
 *
 * @example
 *   const m = await createTokenMinter({ config, stateDir });
 *   const token = await m.mintToken({ user: 'intern', agent: 'hr-assistant', audience: 'http://127.0.0.1:8787/mcp/hr-desk', ttl: '15m' });
 */
export async function createTokenMinter(opts: { config: SkillgateConfig; stateDir: string; issuer?: string }): Promise<TokenMinter> {
  const { config } = opts;
  const issuer = opts.issuer ?? devIssuer(config);
  const keys = await loadSigningKeys(opts.stateDir);
  const current = keys[0]!;
  const privateKey = await importJWK(current, 'RS256');
  return {
    issuer,
    jwks: () => ({ keys: keys.map(publicJwk) }),
    async mintToken(m) {
      const u = Object.hasOwn(config.users, m.user) ? config.users[m.user] : undefined;
      if (!u) throw new MintError('ERR_MINT_USER_UNKNOWN', `unknown user "${m.user}"`);
      const a = m.clientId !== undefined && m.clientId === config.admin.clientId ? { clientId: m.clientId } : Object.hasOwn(config.agents, m.agent) ? config.agents[m.agent] : undefined;
      if (!a) throw new MintError('ERR_MINT_AGENT_UNKNOWN', `unknown agent "${m.agent}"`);
      const ttlSec = m.ttlSec ?? (m.ttl !== undefined ? (parseDuration(m.ttl) ?? NaN) / 1000 : 3600);
      if (!Number.isFinite(ttlSec) || ttlSec < 1 || ttlSec > MAX_TOKEN_TTL_SEC) {
        throw new MintError('ERR_MINT_TTL', `token lifetime must be between 1s and 24h, got ${m.ttl ?? m.ttlSec}`);
      }
      const iat = m.iat ?? Math.floor(Date.now() / 1000);
      // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti; plus azp and the user's roles/groups.
      return new SignJWT({ scope: m.scope ?? 'openid mcp', client_id: a.clientId, azp: a.clientId, roles: u.roles, groups: u.groups, ...(u.name ? { name: u.name } : {}) })
        .setProtectedHeader({ alg: 'RS256', kid: current.kid!, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(m.user)
        .setAudience(m.audience)
        .setIssuedAt(iat)
        .setJti(randomBytes(12).toString('base64url'))
        .setExpirationTime(iat + Math.floor(ttlSec))
        .sign(privateKey);
    },
  };
}
