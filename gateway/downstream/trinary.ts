/**
 * Trinary tokens: for each call to a company system that is an OAuth resource server,
 * Skillgate mints a short-lived JWT for exactly (user, agent, that system):
 *
 *   header  { alg: ES256 | EdDSA, kid, typ: "at+jwt" }                      RFC 9068 §2.1
 *   iss     Skillgate (its public URL)         sub  the user
 *   act     { sub: the agent }                 RFC 8693 §4.1 (the actor acting for sub)
 *   aud     the system's resource identifier   scope  only what the tool needs
 *   iat, exp (≤ 5 min), jti, client_id "skillgate"
 *
 * Cached per (user, agent, audience, scopes) until `reuseMargin` before expiry, so a burst of
 * calls signs once. Fetched per call (and so per activity attempt), never stored, never
 * logged (a log names a token by its `jti`).
 */
import { randomBytes } from 'node:crypto';
import { importJWK, type JWK, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { publicJwk } from './signing-keys.js';

/** Where a workspace's trinary tokens come from and how they are verified. */
export interface TokenIssuerInfo {
  /** `iss` of every minted token: Skillgate's public URL. */
  issuer: string;
  /** Where the public keys are: `<issuer>/.well-known/jwks.json`. */
  jwksUri: string;
}

/** The issuer info for a public URL. */
export function tokenIssuerFor(publicUrl: string): TokenIssuerInfo {
  const issuer = publicUrl.replace(/\/+$/, '');
  return { issuer, jwksUri: `${issuer}/.well-known/jwks.json` };
}

export interface MintRequest {
  user: string;
  agent: string;
  audience: string;
  scopes: readonly string[];
}

export interface MintedToken {
  token: string;
  jti: string;
  /** Epoch seconds. */
  exp: number;
}

export interface TrinaryMinter extends TokenIssuerInfo {
  /** A token for (user, agent, audience, scopes): from the cache, or freshly signed. */
  mint(req: MintRequest): Promise<MintedToken>;
  /** The public keys (the JWKS endpoint's body). */
  jwks(): { keys: JWK[] };
}

export interface TrinaryMinterOptions extends TokenIssuerInfo {
  /** Private JWKs; the first signs (signing-keys.ts). */
  keys: JWK[];
  /** Token lifetime in seconds (≤ 300). */
  lifetimeSec: number;
  /** A cached token is reused until this many seconds before it expires (default 30). */
  reuseMarginSec?: number;
  /** Most (user, agent, audience, scopes) kept (default 10,000). */
  maxCached?: number;
  now?: () => number;
}

/**
 * @example
 * const minter = await createTrinaryMinter({ ...tokenIssuerFor(publicUrl), keys, lifetimeSec: 300 });
 * const { token } = await minter.mint({ user: 'intern', agent: 'hr-assistant', audience: 'urn:acme:hr', scopes: ['hr.read'] });
 */
export async function createTrinaryMinter(opts: TrinaryMinterOptions): Promise<TrinaryMinter> {
  const signing = opts.keys[0];
  if (!signing?.kid || !signing.alg) throw new Error('createTrinaryMinter: the first key needs a kid and an alg');
  if (opts.lifetimeSec > 300) throw new Error('trinary tokens live at most 5 minutes');
  const key = await importJWK(signing, signing.alg);
  const now = opts.now ?? (() => Date.now() / 1000);
  const margin = opts.reuseMarginSec ?? 30;
  const cache = new LRUCache<string, MintedToken>({ max: opts.maxCached ?? 10_000 });
  const inflight = new Map<string, Promise<MintedToken>>();
  const published = { keys: opts.keys.map(publicJwk) };

  const sign = async (req: MintRequest): Promise<MintedToken> => {
    const iat = Math.floor(now());
    const exp = iat + opts.lifetimeSec;
    const jti = randomBytes(12).toString('base64url');
    const token = await new SignJWT({ act: { sub: req.agent }, scope: req.scopes.join(' '), client_id: 'skillgate' })
      .setProtectedHeader({ alg: signing.alg!, kid: signing.kid!, typ: 'at+jwt' })
      .setIssuer(opts.issuer)
      .setSubject(req.user)
      .setAudience(req.audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(key);
    return { token, jti, exp };
  };

  return {
    issuer: opts.issuer,
    jwksUri: opts.jwksUri,
    jwks: () => published,
    async mint(req) {
      // NUL cannot occur in ids or scopes written in YAML, so the key is unambiguous.
      const cacheKey = `${req.user}\0${req.agent}\0${req.audience}\0${req.scopes.join(' ')}`;
      const hit = cache.get(cacheKey);
      if (hit && hit.exp - now() > margin) return hit;
      let pending = inflight.get(cacheKey);
      if (!pending) {
        pending = sign(req).finally(() => inflight.delete(cacheKey));
        inflight.set(cacheKey, pending);
      }
      const minted = await pending;
      cache.set(cacheKey, minted);
      return minted;
    },
  };
}
