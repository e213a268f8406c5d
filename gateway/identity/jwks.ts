/**
 * The signing keys of one trusted issuer, fetched from its JWKS and cached.
 *
 * - The JWKS location comes from `jwksUri`, or from the issuer's OIDC discovery document
 *   (OIDC Discovery 1.0 §4), whose `issuer` must equal the configured one (§4.3).
 * - jose's remote key set caches the keys (`cacheMaxAgeMs`) and, when a token names a `kid` it
 *   does not hold, refetches once unless it fetched less than `cooldownMs` ago: key rotation is
 *   picked up, while a flood of made-up `kid`s costs at most one fetch per cooldown.
 * - When the issuer cannot be reached, keys already fetched keep working (stale-if-error) and the
 *   issuer is asked again only after `retryMs`, so an IdP outage does not add a timeout to every
 *   request. Without any keys the refusal is `ERR_ISSUER_UNREACHABLE`.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import type { IssuerConfig } from '../../src/config/schema.js';
import { AuthError } from './errors.js';

/** Timing of JWKS and discovery fetches. */
export interface IssuerKeysOptions {
  /** Minimum time between two refetches triggered by an unknown `kid` (default 30 s). */
  cooldownMs?: number;
  /** Keys older than this are refetched before use (default 10 min). */
  cacheMaxAgeMs?: number;
  /** Timeout of one discovery or JWKS request (default 5 s). */
  timeoutMs?: number;
  /** After a failed fetch, how long to answer from what is known before asking again (default 5 s). */
  retryMs?: number;
}

/** Key resolution for one issuer, usable as jose's `getKey`. */
export interface IssuerKeys {
  readonly issuer: string;
  getKey: JWTVerifyGetKey;
  /** Discover and fetch the keys now (e.g. once the server is up) instead of on the first token. */
  warmUp(): Promise<void>;
}

/** Errors from the key set that say something about the token, not about the issuer's reachability. */
function isKeySelectionError(err: unknown): boolean {
  return (
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JOSEAlgNotAllowed
  );
}

/** Keys of `cfg.issuer`, resolved lazily on the first token (or `warmUp`). */
export function issuerKeys(cfg: IssuerConfig, opts: IssuerKeysOptions = {}): IssuerKeys {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const retryMs = opts.retryMs ?? 5000;
  let remote: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  let failedAt = -Infinity;
  let failure = '';
  /** Set while the issuer is unreachable and the last good keys answer instead. */
  let stale: { set: JWTVerifyGetKey; until: number } | undefined;

  const discover = async (): Promise<string> => {
    if (cfg.jwksUri) return cfg.jwksUri;
    // OIDC Discovery 1.0 §4: <issuer>/.well-known/openid-configuration, trailing slash removed.
    const url = `${cfg.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let res: Response;
    try {
      res = await onceMoreOnReset(() => fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } }));
    } catch (err) {
      throw new Error(`discovery request to ${url} failed: ${describeFetchError(err)}`);
    }
    if (!res.ok) throw new Error(`discovery ${url} answered HTTP ${res.status}`);
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      doc = (await res.json()) as typeof doc;
    } catch {
      throw new Error(`discovery ${url} is not JSON`);
    }
    // OIDC Discovery 1.0 §4.3: the document must name exactly the issuer it was fetched for.
    if (doc.issuer !== cfg.issuer) throw new Error(`discovery ${url} names issuer ${JSON.stringify(doc.issuer)}, not ${cfg.issuer}`);
    if (typeof doc.jwks_uri !== 'string') throw new Error(`discovery ${url} has no jwks_uri`);
    return doc.jwks_uri;
  };

  const keySet = async (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    if (remote) return remote;
    if (Date.now() - failedAt < retryMs) throw new AuthError('ERR_ISSUER_UNREACHABLE', `${cfg.issuer}: ${failure} (retrying after ${retryMs} ms)`);
    discovering ??= discover()
      .then((uri) => {
        remote = createRemoteJWKSet(new URL(uri), {
          cooldownDuration: opts.cooldownMs ?? 30_000,
          cacheMaxAge: opts.cacheMaxAgeMs ?? 10 * 60_000,
          timeoutDuration: timeoutMs,
        });
        return remote;
      })
      .catch((err: unknown) => {
        failedAt = Date.now();
        failure = (err as Error).message;
        throw new AuthError('ERR_ISSUER_UNREACHABLE', `${cfg.issuer}: ${failure}`);
      })
      .finally(() => {
        discovering = undefined;
      });
    return discovering;
  };

  let haveKeys = false;
  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (stale && Date.now() < stale.until) return stale.set(header, token);
    const set = await keySet();
    if (!haveKeys && Date.now() - failedAt < retryMs) throw new AuthError('ERR_ISSUER_UNREACHABLE', `${cfg.issuer}: ${failure} (retrying after ${retryMs} ms)`);
    try {
      const key = await onceMoreOnReset(() => set(header, token));
      haveKeys = true;
      stale = undefined;
      return key;
    } catch (err) {
      if (isKeySelectionError(err)) {
        haveKeys = true;
        throw err;
      }
      // The JWKS fetch failed (network, timeout, non-200, not a key set).
      failedAt = Date.now();
      failure = `JWKS fetch failed: ${describeFetchError(err)}`;
      const last = set.jwks();
      if (last) {
        stale = { set: createLocalJWKSet(last as JSONWebKeySet), until: failedAt + retryMs };
        return stale.set(header, token);
      }
      throw new AuthError('ERR_ISSUER_UNREACHABLE', `${cfg.issuer}: ${failure}`, { cause: err });
    }
  };

  return {
    issuer: cfg.issuer,
    getKey,
    async warmUp() {
      const set = await keySet();
      if (!set.fresh) await set.reload();
    },
  };
}

/** fetch's "fetch failed" hides the reason (ECONNREFUSED, a timeout) in `cause`. */
function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : e.message;
}

/**
 * Run a fetch, and once more if the connection was reset. A pooled keep-alive connection the
 * server has just closed (an IdP restart, a load balancer's idle timeout) fails the request
 * without the server ever seeing it; one retry is safe for these GETs.
 */
async function onceMoreOnReset<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') return fn();
    throw err;
  }
}
