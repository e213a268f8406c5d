/**
 * Bearer token verification for the MCP front door (MCP authorization spec 2025-11-25, OAuth
 * 2.1 resource server). A token is accepted only when:
 *   - it is at most `maxTokenBytes` long (checked before any parsing);
 *   - its `alg` is on the issuer's allow-list (never `none`, never HS*: RFC 8725 §3.1-3.2);
 *   - its issuer is configured, and its signature verifies against that issuer's JWKS
 *     (fetched by discovery, cached; an unknown `kid` refetches once per cooldown = rotation);
 *   - `aud` is this gateway's resource URL (RFC 8707: a token for another gateway is refused);
 *   - `exp`/`nbf` hold, with the configured clock skew;
 *   - its client (`azp`/`client_id`) is an agent registered in skillgate.yaml.
 * Verified tokens are cached by SHA-256 until they expire; expiry is still checked per request.
 */
import { createHash } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { SkillgateConfig } from '../../src/config/schema.js';
import { parseDuration } from '../../src/duration.js';
import type { Principal } from './principal.js';

/** Why a token was refused; one closed family. */
export type AuthErrorCode =
  | 'ERR_TOKEN_TOO_LARGE'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_ALG_NOT_ALLOWED'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_KID_UNKNOWN'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_ISSUER'
  | 'ERR_TOKEN_AUDIENCE'
  | 'ERR_TOKEN_CLAIMS'
  | 'ERR_AGENT_UNKNOWN'
  | 'ERR_ISSUER_UNREACHABLE';

const PUBLIC: Record<AuthErrorCode, string> = {
  ERR_TOKEN_TOO_LARGE: 'the token is too large',
  ERR_TOKEN_MALFORMED: 'the token is not a well-formed JWT',
  ERR_TOKEN_ALG_NOT_ALLOWED: 'the token is signed with an algorithm this server does not accept',
  ERR_TOKEN_SIGNATURE: 'the token signature is invalid',
  ERR_TOKEN_KID_UNKNOWN: 'the token was signed with an unknown key',
  ERR_TOKEN_EXPIRED: 'the token has expired',
  ERR_TOKEN_NOT_YET_VALID: 'the token is not valid yet',
  ERR_TOKEN_ISSUER: 'the token comes from an issuer this server does not trust',
  ERR_TOKEN_AUDIENCE: 'the token was not issued for this resource',
  ERR_TOKEN_CLAIMS: 'the token lacks required claims',
  ERR_AGENT_UNKNOWN: 'the token was issued to a client that is not a registered agent',
  ERR_ISSUER_UNREACHABLE: 'the token issuer could not be reached to verify the token',
};

/** A refused token: `publicMessage` goes to the client (RFC 6750 error_description), `detail` to the log. */
export class AuthError extends Error {
  readonly publicMessage: string;
  constructor(
    readonly code: AuthErrorCode,
    /** Internal detail for logs and audit; never contains the token. */
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'AuthError';
    this.publicMessage = PUBLIC[code];
  }
}

export interface VerifiedIdentity {
  principal: Principal;
  issuer: string;
  subject: string;
  jti?: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  scopes: string[];
  /** `sha256:<first 16 hex>` of the token: what logs may show. */
  tokenHash: string;
}

export interface TokenVerifierOptions {
  issuers: SkillgateConfig['identity']['issuers'];
  claims: SkillgateConfig['identity']['claims'];
  /** Seconds of tolerated clock difference. */
  clockSkewSec: number;
  agents: SkillgateConfig['agents'];
  maxTokenBytes?: number;
  cacheSize?: number;
  /** Override key resolution per issuer (tests of the verifier itself); default: remote JWKS. */
  keys?: Record<string, JWTVerifyGetKey>;
  now?: () => number;
}

export interface TokenVerifier {
  verify(token: string, opts: { audience: string }): Promise<VerifiedIdentity>;
  /** Tokens currently cached (for tests and metrics). */
  readonly cacheSize: number;
  /** How many signature verifications ran (cache misses). */
  readonly verifications: number;
}

/** `sha256:` + 16 hex chars: enough to correlate log lines, useless to an attacker. */
export function tokenHash(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

/** Verifier from the workspace config (its issuers, claims, skew and agents). */
export function verifierFromConfig(config: SkillgateConfig, extra: Partial<TokenVerifierOptions> = {}): TokenVerifier {
  return createTokenVerifier({
    issuers: config.identity.issuers,
    claims: config.identity.claims,
    clockSkewSec: Math.round((parseDuration(config.identity.clockSkew) ?? 30_000) / 1000),
    agents: config.agents,
    ...extra,
  });
}

export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  const maxTokenBytes = opts.maxTokenBytes ?? 8192;
  const cacheLimit = opts.cacheSize ?? 10_000;
  const now = opts.now ?? (() => Date.now());
  const byIssuer = new Map(opts.issuers.map((i) => [i.issuer, i]));
  const allAlgs = new Set(opts.issuers.flatMap((i) => i.algorithms));
  const agentByClient = new Map(Object.entries(opts.agents).map(([id, a]) => [a.clientId, id]));
  const keySets = new Map<string, JWTVerifyGetKey>(Object.entries(opts.keys ?? {}));
  const cache = new Map<string, VerifiedIdentity>();
  let verifications = 0;

  const keysFor = async (issuer: string): Promise<JWTVerifyGetKey> => {
    let ks = keySets.get(issuer);
    if (ks) return ks;
    const cfg = byIssuer.get(issuer)!;
    let jwksUri = cfg.jwksUri;
    if (!jwksUri) {
      // OIDC Discovery 1.0 §4: the JWKS location comes from the issuer's metadata.
      const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        jwksUri = ((await res.json()) as { jwks_uri?: string }).jwks_uri;
        if (!jwksUri) throw new Error('no jwks_uri in the discovery document');
      } catch (err) {
        throw new AuthError('ERR_ISSUER_UNREACHABLE', `discovery of ${issuer} failed: ${(err as Error).message}`);
      }
    }
    ks = createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5000 });
    keySets.set(issuer, ks);
    return ks;
  };

  const checkTimes = (id: VerifiedIdentity, payload: { nbf?: number }): void => {
    const t = Math.floor(now() / 1000);
    if (id.expiresAt + opts.clockSkewSec <= t) throw new AuthError('ERR_TOKEN_EXPIRED', `expired at ${id.expiresAt}, now ${t} (${id.tokenHash})`);
    if (payload.nbf !== undefined && payload.nbf - opts.clockSkewSec > t) throw new AuthError('ERR_TOKEN_NOT_YET_VALID', `nbf ${payload.nbf}, now ${t} (${id.tokenHash})`);
  };

  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : []);

  return {
    get cacheSize() {
      return cache.size;
    },
    get verifications() {
      return verifications;
    },

    async verify(token, { audience }) {
      if (token.length > maxTokenBytes) throw new AuthError('ERR_TOKEN_TOO_LARGE', `${token.length} bytes > ${maxTokenBytes}`);
      const digest = createHash('sha256').update(token).digest('hex');
      const hash = `sha256:${digest.slice(0, 16)}`;
      const key = `${audience}\u0000${digest}`;
      const hit = cache.get(key);
      if (hit) {
        checkTimes(hit, { nbf: undefined });
        return hit;
      }

      let header;
      let unverified: JWTPayload;
      try {
        header = decodeProtectedHeader(token);
        unverified = decodeJwt(token);
      } catch {
        throw new AuthError('ERR_TOKEN_MALFORMED', `undecodable token (${hash})`);
      }
      if (!header.alg || !allAlgs.has(header.alg as never)) {
        throw new AuthError('ERR_TOKEN_ALG_NOT_ALLOWED', `alg ${String(header.alg)} not in the allow-list (${hash})`);
      }
      const iss = unverified.iss;
      const cfg = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
      if (!cfg) throw new AuthError('ERR_TOKEN_ISSUER', `untrusted issuer ${JSON.stringify(iss)} (${hash})`);

      let payload: JWTPayload;
      try {
        verifications++;
        ({ payload } = await jwtVerify(token, await keysFor(cfg.issuer), {
          issuer: cfg.issuer,
          audience,
          algorithms: cfg.algorithms,
          clockTolerance: opts.clockSkewSec,
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (err) {
        throw mapJoseError(err, hash, audience);
      }

      const agentClaim = opts.claims.agent.map((c) => payload[c]).find((v) => typeof v === 'string') as string | undefined;
      if (!agentClaim) throw new AuthError('ERR_TOKEN_CLAIMS', `no ${opts.claims.agent.join('/')} claim (${hash})`);
      const agentId = agentByClient.get(agentClaim);
      if (!agentId) throw new AuthError('ERR_AGENT_UNKNOWN', `client ${agentClaim} is not a registered agent (${hash})`);

      const id: VerifiedIdentity = {
        principal: {
          user: { id: payload.sub!, roles: list(payload[opts.claims.roles]), groups: list(payload[opts.claims.groups]) },
          agent: { id: agentId },
        },
        issuer: cfg.issuer,
        subject: payload.sub!,
        ...(typeof payload.jti === 'string' ? { jti: payload.jti } : {}),
        expiresAt: payload.exp!,
        scopes: list(payload.scope),
        tokenHash: hash,
      };
      if (cache.size >= cacheLimit) cache.delete(cache.keys().next().value!);
      cache.set(key, id);
      return id;
    },
  };
}

function mapJoseError(err: unknown, hash: string, audience: string): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof errors.JWTExpired) return new AuthError('ERR_TOKEN_EXPIRED', `${err.message} (${hash})`);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return new AuthError('ERR_TOKEN_NOT_YET_VALID', `${err.message} (${hash})`);
    if (err.claim === 'aud') return new AuthError('ERR_TOKEN_AUDIENCE', `audience is not ${audience} (${hash})`);
    if (err.claim === 'iss') return new AuthError('ERR_TOKEN_ISSUER', `${err.message} (${hash})`);
    return new AuthError('ERR_TOKEN_CLAIMS', `${err.claim}: ${err.message} (${hash})`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new AuthError('ERR_TOKEN_ALG_NOT_ALLOWED', `${err.message} (${hash})`);
  if (err instanceof errors.JWKSNoMatchingKey) return new AuthError('ERR_TOKEN_KID_UNKNOWN', `no JWKS key matches the token's kid (${hash})`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AuthError('ERR_TOKEN_SIGNATURE', `signature verification failed (${hash})`);
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return new AuthError('ERR_ISSUER_UNREACHABLE', `${err.message} (${hash})`);
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return new AuthError('ERR_TOKEN_MALFORMED', `${err.message} (${hash})`);
  }
  if (err instanceof TypeError || (err as { name?: string }).name === 'AbortError') {
    return new AuthError('ERR_ISSUER_UNREACHABLE', `JWKS fetch failed: ${(err as Error).message} (${hash})`);
  }
  return new AuthError('ERR_TOKEN_MALFORMED', `${(err as Error).message} (${hash})`);
}
