/**
 * Why a request was not authenticated: one closed family of codes (like jose's
 * `ERR_JWT_EXPIRED`). Each code carries what the client may see — an RFC 6750 §3.1 error and
 * a short description — apart from the internal detail that goes to the log and the audit
 * trail. Neither ever contains the token: logs name a token by `tokenHash` or `jti`.
 */

/** Every way authentication can fail. */
export type AuthErrorCode =
  | 'ERR_TOKEN_MISSING'
  | 'ERR_TOKEN_IN_QUERY'
  | 'ERR_TOKEN_IN_BODY'
  | 'ERR_TOKEN_SCHEME'
  | 'ERR_TOKEN_TOO_LARGE'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_ALG_NOT_ALLOWED'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_KID_UNKNOWN'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_IAT_FUTURE'
  | 'ERR_TOKEN_LIFETIME'
  | 'ERR_TOKEN_ISSUER'
  | 'ERR_TOKEN_AUDIENCE'
  | 'ERR_TOKEN_CLAIMS'
  | 'ERR_AGENT_UNKNOWN'
  | 'ERR_ISSUER_UNREACHABLE'
  | 'ERR_INSUFFICIENT_SCOPE';

/** The RFC 6750 §3.1 error codes a resource server answers with. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

interface PublicFace {
  /** HTTP status of the refusal. */
  status: 400 | 401 | 403 | 503;
  /** RFC 6750 §3.1 `error`; absent when the request carried no credentials at all (§3.1, last paragraph). */
  error?: BearerErrorCode;
  /** What the client sees (`error_description`): short, no internals. */
  description: string;
}

const FACES: Record<AuthErrorCode, PublicFace> = {
  ERR_TOKEN_MISSING: { status: 401, description: 'a Bearer token is required' },
  // RFC 6750 §2.3 lets a server refuse URI query tokens, and §3.1 calls a token sent another
  // way than the supported one an invalid_request (400).
  ERR_TOKEN_IN_QUERY: { status: 400, error: 'invalid_request', description: 'send the access token in the Authorization header, not in the URL' },
  ERR_TOKEN_IN_BODY: { status: 400, error: 'invalid_request', description: 'send the access token in the Authorization header, not in the body' },
  ERR_TOKEN_SCHEME: { status: 401, error: 'invalid_request', description: 'the Authorization header must be "Bearer <token>"' },
  ERR_TOKEN_TOO_LARGE: { status: 401, error: 'invalid_token', description: 'the token is too large' },
  ERR_TOKEN_MALFORMED: { status: 401, error: 'invalid_token', description: 'the token is not a well-formed JWT' },
  ERR_TOKEN_ALG_NOT_ALLOWED: { status: 401, error: 'invalid_token', description: 'the token is signed with an algorithm this server does not accept' },
  ERR_TOKEN_SIGNATURE: { status: 401, error: 'invalid_token', description: 'the token signature is invalid' },
  ERR_TOKEN_KID_UNKNOWN: { status: 401, error: 'invalid_token', description: 'the token was signed with an unknown key' },
  ERR_TOKEN_EXPIRED: { status: 401, error: 'invalid_token', description: 'the token has expired' },
  ERR_TOKEN_NOT_YET_VALID: { status: 401, error: 'invalid_token', description: 'the token is not valid yet' },
  ERR_TOKEN_IAT_FUTURE: { status: 401, error: 'invalid_token', description: 'the token claims to be issued in the future' },
  ERR_TOKEN_LIFETIME: { status: 401, error: 'invalid_token', description: 'the token is valid for longer than this server accepts' },
  ERR_TOKEN_ISSUER: { status: 401, error: 'invalid_token', description: 'the token comes from an issuer this server does not trust' },
  ERR_TOKEN_AUDIENCE: { status: 401, error: 'invalid_token', description: 'the token was not issued for this resource' },
  ERR_TOKEN_CLAIMS: { status: 401, error: 'invalid_token', description: 'the token lacks required claims' },
  ERR_AGENT_UNKNOWN: { status: 401, error: 'invalid_token', description: 'the token was issued to a client that is not a registered agent' },
  // Not the token's fault: a 401 would send the client through a pointless new login.
  ERR_ISSUER_UNREACHABLE: { status: 503, description: 'the token cannot be verified right now; try again shortly' },
  ERR_INSUFFICIENT_SCOPE: { status: 403, error: 'insufficient_scope', description: 'the token lacks the scope this request needs' },
};

/**
 * A refused request. `publicMessage`, `status` and `bearerError` are for the client; `detail`
 * is for the log and audit trail (still never the token).
 *
 * @example
 *   try { await verifier.verify(token, { audience }) }
 *   catch (e) { if (e instanceof AuthError) log('auth refused', { code: e.code, detail: e.detail }) }
 */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  /** What the client sees (RFC 6750 `error_description`). */
  readonly publicMessage: string;
  readonly status: PublicFace['status'];
  /** RFC 6750 `error`, when the request carried credentials. */
  readonly bearerError: BearerErrorCode | undefined;
  /** For `ERR_INSUFFICIENT_SCOPE`: the scopes the request needs (the challenge's `scope=`). */
  readonly requiredScopes: readonly string[] | undefined;

  constructor(
    readonly code: AuthErrorCode,
    /** Internal detail for logs and audit; never contains the token. */
    readonly detail: string,
    options?: { cause?: unknown; requiredScopes?: readonly string[] },
  ) {
    super(`${code}: ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    const face = FACES[code];
    this.publicMessage = face.description;
    this.status = face.status;
    this.bearerError = face.error;
    this.requiredScopes = options?.requiredScopes;
  }
}

/**
 * A step-up refusal (403, RFC 6750 §3.1 `insufficient_scope`): the token is valid but lacks
 * scopes this request needs; `required` ends up in the challenge's `scope=`.
 */
export function insufficientScope(required: readonly string[], granted: readonly string[]): AuthError {
  return new AuthError('ERR_INSUFFICIENT_SCOPE', `needs "${required.join(' ')}"; the token has "${granted.join(' ')}"`, { requiredScopes: required });
}

/** Narrowing helper: `isAuthError(e, 'ERR_TOKEN_EXPIRED')`. */
export function isAuthError(err: unknown, code?: AuthErrorCode): err is AuthError {
  return err instanceof AuthError && (code === undefined || err.code === code);
}

/** Whether `code` is one of authentication's codes (a token refusal, for the audit trail's `token.refused`). */
export function isAuthErrorCode(code: string): code is AuthErrorCode {
  return Object.hasOwn(FACES, code);
}
