/**
 * Bearer token verification for the MCP front door (MCP authorization spec 2025-11-25, OAuth
 * 2.1 resource server). A token is accepted only when:
 *   - it is at most `maxTokenBytes` long (checked before any parsing);
 *   - its `alg` is on its issuer's allow-list (never `none`, never HS*: RFC 8725 §3.1–3.2);
 *   - its `iss` is a configured issuer (exact match), and its signature verifies against that
 *     issuer's JWKS (see jwks.ts: discovery, caching, rotation);
 *   - its `aud` holds this gateway's resource URL (RFC 8707: a token for another gateway or
 *     service is refused);
 *   - `exp`/`nbf` hold, within the configured clock skew (RFC 7519 §4.1.4–4.1.5); `iat`, when
 *     present, is not later than now + skew (§4.1.6); and the token lives no longer than the
 *     configured maximum (exp − iat, or exp − now without iat) — a stolen token minted to last
 *     for years is refused, not honoured until then;
 *   - its client (the first of the configured agent claims, `azp` then `client_id`) is an
 *     agent registered in skillgate.yaml.
 *
 * Every request is verified, so the hot path is a cache: verified results are kept, keyed by
 * audience + SHA-256 of the token, in a bounded LRU until they expire; a hit costs one hash
 * and one time check, and expiry is still checked on every hit.
 */
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify, type ProtectedHeaderParameters } from 'jose';
import type { SkillgateConfig } from '../../src/config/schema.js';
import { parseDuration } from '../../src/pure/durations.js';
import { AuthError } from './errors.js';
import { type IssuerKeys, issuerKeys, type IssuerKeysOptions } from './jwks.js';
import type { Principal } from '../../src/contracts/principal.js';
import { LRUCache } from 'lru-cache';

export { AuthError, type AuthErrorCode } from './errors.js';

/** Who a verified token speaks for, and what the log may say about the token. */
export interface VerifiedIdentity {
  principal: Principal;
  issuer: string;
  /** The token's `sub` (= principal.user.id). */
  subject: string;
  /** The OAuth client id the agent was recognised by. */
  clientId: string;
  jti?: string;
  /** `exp`, seconds since the epoch. */
  expiresAt: number;
  /** The token's `scope` (RFC 9068 §2.2.3), split on spaces. */
  scopes: string[];
  /** `sha256:<first 16 hex>` of the token: what logs and audit lines may show. */
  tokenHash: string;
}

export interface TokenVerifierOptions {
  issuers: SkillgateConfig['identity']['issuers'];
  claims: SkillgateConfig['identity']['claims'];
  /** Seconds of tolerated clock difference for exp/nbf/iat. */
  clockSkewSec: number;
  /** Longest accepted lifetime in seconds (default 24 h). */
  maxLifetimeSec?: number;
  /** The registered agents (agent id → OAuth client id). */
  agents: SkillgateConfig['agents'];
  /** Known users: their `attributes` join the principal (skills read them as `user.attributes`). */
  users?: SkillgateConfig['users'];
  /** Longest accepted token, checked before parsing (default 8 KiB; a JWT is ASCII, so characters = bytes). */
  maxTokenBytes?: number;
  /** Verified tokens kept (default 10,000). */
  cacheSize?: number;
  /** JWKS and discovery timing (cooldown, max age, timeouts). */
  jwks?: IssuerKeysOptions;
  /** Override key resolution per issuer (tests of the verifier itself); default: the issuer's remote JWKS. */
  keys?: Record<string, JWTVerifyGetKey>;
  /** Clock in ms (tests freeze and advance it); default `Date.now`. */
  now?: () => number;
}

/** Verifies bearer tokens for a resource (gateway) URL. */
export interface TokenVerifier {
  /**
   * The identity a token carries, if it is valid for `audience` (the gateway's resource URL).
   * Throws `AuthError` (never anything else for a bad token).
   */
  verify(token: string, opts: { audience: string }): Promise<VerifiedIdentity>;
  /** Fetch every issuer's keys now, so the first request does not wait for discovery. Never throws. */
  warmUp(): Promise<Array<{ issuer: string; ok: boolean; detail?: string }>>;
  /** Tokens currently cached (for tests and metrics). */
  readonly cacheSize: number;
  /** Signature verifications run so far (cache misses that got that far). */
  readonly verifications: number;
}

/** `sha256:` + 16 hex chars of a token: enough to correlate log lines, useless to an attacker. */
export function tokenHash(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

/** A verifier from the workspace config (its issuers, claim mapping, skew and agents). */
export function verifierFromConfig(config: SkillgateConfig, extra: Partial<TokenVerifierOptions> = {}): TokenVerifier {
  const skewMs = parseDuration(config.identity.clockSkew);
  if (skewMs === undefined) throw new Error(`identity.clockSkew: not a duration: ${config.identity.clockSkew}`);
  const lifetimeMs = parseDuration(config.identity.maxTokenLifetime);
  if (lifetimeMs === undefined) throw new Error(`identity.maxTokenLifetime: not a duration: ${config.identity.maxTokenLifetime}`);
  return createTokenVerifier({
    issuers: config.identity.issuers,
    claims: config.identity.claims,
    clockSkewSec: Math.round(skewMs / 1000),
    maxLifetimeSec: Math.round(lifetimeMs / 1000),
    agents: config.agents,
    users: config.users,
    ...extra,
  });
}

/** What the cache holds: the identity plus the not-before time, checked on every hit. */
interface Cached {
  id: VerifiedIdentity;
  nbf: number | undefined;
}

// The JWS Compact Serialization (RFC 7515 §7.1): three base64url parts; `alg: none` has an empty third.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * A token verifier. See the module comment for what is checked.
 *
 * @example
 *   const verifier = verifierFromConfig(config);
 *   const { principal } = await verifier.verify(token, { audience: resourceUrl(config.publicUrl, 'hr-desk') });
 */
export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  const maxTokenBytes = opts.maxTokenBytes ?? 8192;
  const skew = opts.clockSkewSec;
  const maxLifetime = opts.maxLifetimeSec ?? 24 * 3600;
  const now = opts.now ?? Date.now;
  const issuers = new Map(opts.issuers.map((i) => [i.issuer, i]));
  const allAlgs = new Set<string>(opts.issuers.flatMap((i) => i.algorithms));
  // Never, whatever the config says (RFC 8725 §3.1–3.2); the schema already refuses them.
  for (const a of allAlgs) if (a === 'none' || a.startsWith('HS')) throw new Error(`algorithm ${a} may not be accepted`);
  const agentByClient = new Map(Object.entries(opts.agents).map(([id, a]) => [a.clientId, id]));
  const attributesOf = (sub: string) => {
    const a = opts.users && Object.hasOwn(opts.users, sub) ? opts.users[sub]!.attributes : undefined;
    return a && Object.keys(a).length ? { attributes: { ...a } } : {};
  };
  const keys = new Map<string, JWTVerifyGetKey>(Object.entries(opts.keys ?? {}));
  const remoteKeys = new Map<string, IssuerKeys>();
  for (const cfg of opts.issuers) {
    if (keys.has(cfg.issuer)) continue;
    const k = issuerKeys(cfg, opts.jwks);
    remoteKeys.set(cfg.issuer, k);
    keys.set(cfg.issuer, k.getKey);
  }
  const cache = new LRUCache<string, Cached>({ max: opts.cacheSize ?? 10_000 });
  const inflight = new Map<string, Promise<VerifiedIdentity>>();
  let verifications = 0;

  /** exp/nbf against the current time, as jose does it (RFC 7519 §4.1.4: expired when exp <= now - skew). */
  const checkTimes = (c: Cached): void => {
    const t = Math.floor(now() / 1000);
    if (c.id.expiresAt <= t - skew) {
      throw new AuthError('ERR_TOKEN_EXPIRED', `exp ${c.id.expiresAt} <= now ${t} - skew ${skew}s; sub ${c.id.subject}, ${c.id.tokenHash}`);
    }
    if (c.nbf !== undefined && c.nbf > t + skew) throw new AuthError('ERR_TOKEN_NOT_YET_VALID', `nbf ${c.nbf} > now ${t} + skew ${skew}s; ${c.id.tokenHash}`);
  };

  const verifySlow = async (token: string, audience: string, hash: string): Promise<Cached> => {
    if (!COMPACT_JWS.test(token)) throw new AuthError('ERR_TOKEN_MALFORMED', `not a JWS compact serialization; ${hash}`);
    let header: ProtectedHeaderParameters;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch (err) {
      throw new AuthError('ERR_TOKEN_MALFORMED', `undecodable: ${(err as Error).message}; ${hash}`);
    }
    // Refuse by algorithm before anything else: `none` and HS* tokens (RFC 8725 §2.1, §3.1) never
    // reach a key lookup, whatever issuer they claim.
    if (typeof header.alg !== 'string' || (allAlgs.size > 0 && !allAlgs.has(header.alg))) {
      throw new AuthError('ERR_TOKEN_ALG_NOT_ALLOWED', `alg ${show(header.alg)} is not accepted from any issuer; ${hash}`);
    }
    const iss = unverified.iss;
    const cfg = typeof iss === 'string' ? issuers.get(iss) : undefined;
    if (!cfg) throw new AuthError('ERR_TOKEN_ISSUER', `untrusted issuer ${show(iss)}; ${hash}`);
    if (!(cfg.algorithms as readonly string[]).includes(header.alg)) {
      throw new AuthError('ERR_TOKEN_ALG_NOT_ALLOWED', `alg ${header.alg} is not accepted from ${cfg.issuer}; ${hash}`);
    }

    let payload: JWTPayload;
    try {
      verifications++;
      ({ payload } = await jwtVerify(token, keys.get(cfg.issuer)!, {
        issuer: cfg.issuer,
        audience,
        algorithms: cfg.algorithms,
        clockTolerance: skew,
        currentDate: new Date(now()),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      throw fromJose(err, hash, audience, header);
    }

    const t = Math.floor(now() / 1000);
    const iat = typeof payload.iat === 'number' ? payload.iat : undefined;
    if (iat !== undefined && iat > t + skew) throw new AuthError('ERR_TOKEN_IAT_FUTURE', `iat ${iat} > now ${t} + skew ${skew}s; sub ${show(payload.sub)}, ${hash}`);
    const lifetime = payload.exp! - (iat ?? t);
    if (lifetime > maxLifetime + skew) {
      throw new AuthError('ERR_TOKEN_LIFETIME', `lifetime ${lifetime}s (exp ${payload.exp} − ${iat === undefined ? 'now' : 'iat'}) > ${maxLifetime}s; sub ${show(payload.sub)}, ${hash}`);
    }

    const clientId = opts.claims.agent.map((c) => claim(payload, c)).find((v): v is string => typeof v === 'string' && v !== '');
    if (clientId === undefined) throw new AuthError('ERR_TOKEN_CLAIMS', `none of the agent claims ${opts.claims.agent.join(', ')} is present; sub ${show(payload.sub)}, ${hash}`);
    const agentId = agentByClient.get(clientId);
    if (agentId === undefined) throw new AuthError('ERR_AGENT_UNKNOWN', `client ${show(clientId)} is not a registered agent; sub ${show(payload.sub)}, ${hash}`);
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new AuthError('ERR_TOKEN_CLAIMS', `sub is not a non-empty string; ${hash}`);

    const id: VerifiedIdentity = {
      principal: {
        user: { id: payload.sub, roles: stringList(claim(payload, opts.claims.roles)), groups: stringList(claim(payload, opts.claims.groups)), ...attributesOf(payload.sub) },
        agent: { id: agentId },
      },
      issuer: cfg.issuer,
      subject: payload.sub,
      clientId,
      ...(typeof payload.jti === 'string' ? { jti: payload.jti } : {}),
      expiresAt: payload.exp!,
      scopes: stringList(payload.scope),
      tokenHash: hash,
    };
    return { id, nbf: typeof payload.nbf === 'number' ? payload.nbf : undefined };
  };

  return {
    get cacheSize() {
      return cache.size;
    },
    get verifications() {
      return verifications;
    },

    async verify(token, { audience }) {
      // Without an audience jose would accept a token minted for any resource (RFC 8707).
      if (typeof audience !== 'string' || audience === '') throw new TypeError('verify() needs the audience (the gateway resource URL)');
      if (typeof token !== 'string' || token === '') throw new AuthError('ERR_TOKEN_MISSING', 'empty token');
      if (token.length > maxTokenBytes) throw new AuthError('ERR_TOKEN_TOO_LARGE', `${token.length} bytes > ${maxTokenBytes}`);
      const digest = createHash('sha256').update(token).digest('hex');
      const key = `${audience}\u0000${digest}`;
      const hit = cache.get(key);
      if (hit) {
        try {
          checkTimes(hit);
        } catch (err) {
          cache.delete(key);
          throw err;
        }
        return hit.id;
      }
      // Concurrent first uses of one token share one verification.
      let pending = inflight.get(key);
      if (!pending) {
        pending = verifySlow(token, audience, `sha256:${digest.slice(0, 16)}`)
          .then((c) => {
            checkTimes(c);
            cache.set(key, c);
            return c.id;
          })
          .finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      return pending;
    },

    async warmUp() {
      return Promise.all(
        [...remoteKeys.values()].map(async (k) => {
          try {
            await k.warmUp();
            return { issuer: k.issuer, ok: true };
          } catch (err) {
            return { issuer: k.issuer, ok: false, detail: err instanceof AuthError ? err.detail : (err as Error).message };
          }
        }),
      );
    },
  };
}

/** A claim by name, or by dotted path for nested claims (Keycloak's `realm_access.roles`). */
function claim(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  if (!name.includes('.')) return undefined;
  let v: unknown = payload;
  for (const part of name.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Roles, groups and scopes arrive as an array of strings or one space-separated string. */
function stringList(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '');
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  return [];
}

/** An unverified value for a log line: quoted, bounded, no control characters. */
function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function fromJose(err: unknown, hash: string, audience: string, header: ProtectedHeaderParameters): AuthError {
  if (err instanceof AuthError) return err;
  const who = (p: JWTPayload) => `sub ${show(p.sub)}, client ${show(p.azp ?? p.client_id)}`;
  if (err instanceof errors.JWTExpired) return new AuthError('ERR_TOKEN_EXPIRED', `exp ${show(err.payload.exp)}; ${who(err.payload)}; ${hash}`);
  if (err instanceof errors.JWTClaimValidationFailed) {
    const p = err.payload;
    switch (err.claim) {
      case 'nbf':
        return new AuthError('ERR_TOKEN_NOT_YET_VALID', `nbf ${show(p.nbf)}; ${who(p)}; ${hash}`);
      case 'aud':
        // RFC 8707 §2: a token minted for one resource is not good for another.
        return new AuthError('ERR_TOKEN_AUDIENCE', `aud ${show(p.aud)} does not include ${audience}; ${who(p)}; ${hash}`);
      case 'iss':
        return new AuthError('ERR_TOKEN_ISSUER', `iss ${show(p.iss)}; ${hash}`);
      default:
        return new AuthError('ERR_TOKEN_CLAIMS', `${err.claim} ${err.reason}: ${err.message}; ${who(p)}; ${hash}`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new AuthError('ERR_TOKEN_ALG_NOT_ALLOWED', `alg ${show(header.alg)}; ${hash}`);
  if (err instanceof errors.JWKSNoMatchingKey) return new AuthError('ERR_TOKEN_KID_UNKNOWN', `no key in the issuer's JWKS matches kid ${show(header.kid)}, alg ${show(header.alg)}; ${hash}`);
  if (err instanceof errors.JWKSMultipleMatchingKeys) return new AuthError('ERR_TOKEN_KID_UNKNOWN', `several keys match a token without a kid; ${hash}`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AuthError('ERR_TOKEN_SIGNATURE', `signature verification failed (kid ${show(header.kid)}); ${hash}`);
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return new AuthError('ERR_TOKEN_MALFORMED', `${err.message}; ${hash}`);
  }
  // A key that does not fit the algorithm and the like: the token cannot be verified as sent.
  if (err instanceof TypeError) return new AuthError('ERR_TOKEN_MALFORMED', `${err.message}; ${hash}`);
  return new AuthError('ERR_TOKEN_MALFORMED', `unexpected verification failure: ${(err as Error).message}; ${hash}`, { cause: err });
}
