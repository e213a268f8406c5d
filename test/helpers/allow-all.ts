import type { Allowed, Authorizer } from '../../gateway/authz/authorizer.js';

/** What a stand-in authorizer answers for an allowed action (no decision was recorded: no real id). */
export const ALLOWED: Allowed = { decisionId: 'test-allow-all', args: { digest: 'sha256:not-recorded' } };

/**
 * The AND-gate replaced by "allow everything", for interpreter tests that are not about
 * authorization. Said explicitly: the activities cannot be built without an authorizer.
 */
export const ALLOW_ALL: Authorizer = { check: () => ALLOWED, admit() {}, canList: () => true };
