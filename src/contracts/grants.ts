/**
 * What a tool call needs when the user has not (yet) granted a downstream provider what the
 * tool needs: a URL elicitation (MCP 2025-11-25 client/elicitation, URL mode). The pipeline
 * throws it (gateway/downstream/errors.ts `GrantRequiredError`); the MCP front door answers
 * it per era; a skill step's activity fails with it (type `AuthorizationRequired`) and the run
 * waits. It names no credential and no personal data: the URL is Skillgate's
 * `/connect/<provider>?e=<elicitation id>`, which signs the person in before anything else.
 */

/** Why a grant is needed now. */
export type GrantReason =
  /** The user never connected this provider through this agent. */
  | 'missing'
  /** The access token expired and could not be refreshed. */
  | 'expired'
  /** The user, an admin or the provider revoked it (the provider: HTTP 401 upstream). */
  | 'revoked'
  /** The grant lacks a scope this tool needs (incremental: only the missing ones are asked). */
  | 'insufficient_scope';

/** One required authorization, as the caller and the run see it. */
export interface AuthorizationRequired {
  provider: string;
  /** The provider's display name. */
  providerName: string;
  /** The scopes asked for now (the missing ones), in the provider's vocabulary. */
  scopes: string[];
  reason: GrantReason;
  /** MCP `elicitationId`: opaque, random; correlates `notifications/elicitation/complete`. */
  elicitationId: string;
  /** `<publicUrl>/connect/<provider>?e=<elicitationId>`. */
  url: string;
  /** What to tell the user. */
  message: string;
}

/** The failure `type` of a callTool activity whose step needs an authorization (details[0]: AuthorizationRequired). */
export const AUTHORIZATION_REQUIRED = 'AuthorizationRequired';
