import type { Authorizer } from '../../gateway/authz/authorizer.js';

/**
 * The AND-gate replaced by "allow everything", for interpreter tests that are not about
 * authorization. Said explicitly: the activities cannot be built without an authorizer.
 */
export const ALLOW_ALL: Authorizer = { check() {}, admit() {}, canList: () => true };
