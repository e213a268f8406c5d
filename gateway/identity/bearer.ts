/**
 * Bearer tokens on the wire (RFC 6750): where a token may come from, and how a refusal is
 * answered so that an MCP client can find its way to a token (MCP authorization spec
 * 2025-11-25, RFC 9728 §5.1).
 */
import { AuthError } from './errors.js';
import { GATEWAY_SCOPES } from './resource-metadata.js';

/** What `bearerToken` looks at: the request's Authorization header, URL and parsed body. */
export interface BearerSource {
  /** `req.headers.authorization` (an array is refused). */
  authorization?: string | string[] | undefined;
  /**
   * `req.rawHeaders`: Node keeps only the first of several Authorization headers in
   * `req.headers`, so a second one is visible only here — and refused.
   */
  rawHeaders?: readonly string[] | undefined;
  /** The request URL (path + query) — only to refuse a token in the query. */
  url?: string | undefined;
  /** The parsed body, if any — only to refuse a form-encoded `access_token` (RFC 6750 §2.2). */
  body?: unknown;
}

// RFC 6750 §2.1: b6token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// The scheme is case-insensitive (RFC 9110 §11.1).
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const SCHEME = /^([A-Za-z0-9!#$%&'*+\-.^_`|~]+)(?: |$)/;

/**
 * The access token of a request, from the Authorization header only (RFC 6750 §2.1).
 * Throws `AuthError`:
 *  - `ERR_TOKEN_IN_QUERY` / `ERR_TOKEN_IN_BODY` when a token is sent as `access_token` in the
 *    URL or a form body (§2.2–2.3: URLs end up in logs and histories), even alongside a header;
 *  - `ERR_TOKEN_MISSING` without an Authorization header;
 *  - `ERR_TOKEN_SCHEME` for another scheme (`Basic …`) or several headers;
 *  - `ERR_TOKEN_MALFORMED` when the value is not a b64token.
 *
 * @example bearerToken({ authorization: req.headers.authorization, url: req.url, body: req.body })
 */
export function bearerToken(src: BearerSource): string {
  if (src.url !== undefined && src.url.includes('?')) {
    const query = new URLSearchParams(src.url.slice(src.url.indexOf('?') + 1));
    if (query.has('access_token')) throw new AuthError('ERR_TOKEN_IN_QUERY', 'access_token sent as a URL query parameter');
  }
  if (src.body !== null && typeof src.body === 'object' && !Array.isArray(src.body) && Object.hasOwn(src.body, 'access_token')) {
    throw new AuthError('ERR_TOKEN_IN_BODY', 'access_token sent in the request body');
  }
  if (src.rawHeaders) {
    let n = 0;
    for (let i = 0; i < src.rawHeaders.length; i += 2) if (src.rawHeaders[i]!.toLowerCase() === 'authorization') n++;
    // RFC 9110 §5.3: Authorization is not a list header; two of them are ambiguous, never "the first".
    if (n > 1) throw new AuthError('ERR_TOKEN_SCHEME', `${n} Authorization headers`);
  }
  const header = src.authorization;
  if (header === undefined || header === '') throw new AuthError('ERR_TOKEN_MISSING', 'no Authorization header');
  if (Array.isArray(header)) throw new AuthError('ERR_TOKEN_SCHEME', `${header.length} Authorization headers`);
  const m = BEARER.exec(header);
  if (m) return m[1]!;
  const scheme = SCHEME.exec(header)?.[1];
  if (scheme && scheme.toLowerCase() !== 'bearer') throw new AuthError('ERR_TOKEN_SCHEME', `Authorization scheme "${scheme.slice(0, 20)}"`);
  if (/^Bearer *$/i.test(header)) throw new AuthError('ERR_TOKEN_MISSING', 'empty Bearer credentials');
  throw new AuthError('ERR_TOKEN_MALFORMED', 'the Bearer credentials are not a b64token (RFC 6750 §2.1)');
}

/** How a gateway describes itself in a challenge. */
export interface ChallengeOptions {
  /** The gateway's RFC 9728 metadata URL (see `resourceMetadataUrl`). */
  resourceMetadataUrl: string;
  /**
   * Scopes to name in `scope=` (default `GATEWAY_SCOPES`). A 403 `insufficient_scope` names
   * its error's `requiredScopes` instead (MCP authorization 2025-11-25, "Scope Challenge
   * Handling").
   */
  scope?: readonly string[];
}

/**
 * The `WWW-Authenticate` value for a refusal (or for a bare "please authenticate" when `error`
 * is undefined): `Bearer resource_metadata="…", scope="…"[, error="…", error_description="…"]`.
 */
export function wwwAuthenticate(opts: ChallengeOptions, error?: AuthError): string {
  const scope = error?.requiredScopes ?? opts.scope ?? GATEWAY_SCOPES;
  const params = [`resource_metadata=${quote(opts.resourceMetadataUrl)}`, `scope=${quote(scope.join(' '))}`];
  // RFC 6750 §3.1: no error code when the request carried no credentials at all.
  if (error?.bearerError) params.push(`error=${quote(error.bearerError)}`, `error_description=${quote(error.publicMessage)}`);
  return `Bearer ${params.join(', ')}`;
}

/** A refusal ready to send: status, headers and a JSON body (RFC 6749 §5.2 shape). */
export interface BearerRefusal {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/**
 * The full answer to a failed authentication. Fastify:
 *   const r = bearerRefusal(err, { resourceMetadataUrl: resourceMetadataUrl(publicUrl, gw) });
 *   return reply.code(r.status).headers(r.headers).send(r.body);
 */
export function bearerRefusal(error: AuthError, opts: ChallengeOptions): BearerRefusal {
  const headers: Record<string, string> = { 'www-authenticate': wwwAuthenticate(opts, error), 'cache-control': 'no-store' };
  if (error.status === 503) headers['retry-after'] = '5';
  return {
    status: error.status,
    headers,
    body: { error: error.bearerError ?? (error.status === 503 ? 'temporarily_unavailable' : 'unauthorized'), error_description: error.publicMessage },
  };
}

/** RFC 9110 §5.6.4 quoted-string, restricted to what RFC 6750 §3 allows in its attributes. */
function quote(value: string): string {
  return `"${value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '')}"`;
}
