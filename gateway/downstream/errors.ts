/**
 * Failures of downstream credentials, one closed family narrowed by `code`; and the one that
 * is not a failure but a question to the user: GrantRequiredError (answered with a URL
 * elicitation). Messages never hold a token, a key or a secret.
 */
import type { AuthorizationRequired } from '../../src/contracts/grants.js';

export type DownstreamErrorCode =
  /** The vault key does not open this vault (it was created with another key). Nothing was changed. */
  | 'ERR_VAULT_KEY_MISMATCH'
  /** The vault key is not 32 bytes of base64url. */
  | 'ERR_VAULT_KEY_INVALID'
  /** A stored grant could not be decrypted (tampered, or bound to another user, agent or provider). */
  | 'ERR_VAULT_RECORD'
  /** The signing keys for trinary tokens are unusable. */
  | 'ERR_SIGNING_KEYS'
  /** The provider's endpoints could not be discovered or answered wrongly. */
  | 'ERR_PROVIDER_UNAVAILABLE'
  /** The provider refused a code exchange, refresh or revocation. */
  | 'ERR_PROVIDER_REFUSED'
  /** A provider named in config or a URL is not configured. */
  | 'ERR_PROVIDER_UNKNOWN'
  /** The tool's server is configured for a provider but the user has no elicitation to answer with (no web login). */
  | 'ERR_CONNECT_UNAVAILABLE';

export class DownstreamError extends Error {
  constructor(
    readonly code: DownstreamErrorCode,
    /** Safe to show. */
    message: string,
    /** Logs only (never a token). */
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DownstreamError';
  }
}

/**
 * The call cannot go on until the user grants `provider` the scopes in `required`: answered
 * with a URL elicitation (MCP -32042 / `input_required`), or, in a skill run, a wait.
 */
export class GrantRequiredError extends Error {
  readonly code = 'ERR_GRANT_REQUIRED';
  constructor(readonly required: AuthorizationRequired) {
    super(required.message);
    this.name = 'GrantRequiredError';
  }
}
