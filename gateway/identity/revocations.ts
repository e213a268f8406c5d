/**
 * Revoked users, shared by every process of a workspace: `skillgate revoke --user <id>` writes
 * the list in the state database (`storage`); every gateway and worker reading the same database
 * refuses that user from their next request or skill step on. SQLite (one machine):
 * revocations-sqlite.ts. PostgreSQL (several machines): revocations-postgres.ts.
 *
 * `isRevoked` is synchronous — it runs on every authorization — and fails closed: a store that
 * cannot answer returns a refusal marked `unavailable`, never "not revoked".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Revocation {
  /** ISO time of the revocation. */
  at: string;
  by: string;
  reason?: string;
  /**
   * Set when the store cannot tell (its list is unreadable or not confirmed fresh): not a
   * revocation of this user, a refusal of everyone until the list is back. The authorizer
   * answers it with its own, retryable, code.
   */
  unavailable?: true;
}

export interface RevocationStore {
  /** The user's revocation, an `unavailable` refusal when the list cannot be trusted now, else undefined. */
  isRevoked(userId: string): Revocation | undefined;
  revoke(userId: string, r: Omit<Revocation, 'at' | 'unavailable'>): Promise<void>;
  /** Lift a revocation; false when the user was not revoked. */
  restore(userId: string): Promise<boolean>;
  /** The revoked users, read from the database now. */
  list(): Promise<Record<string, Revocation>>;
  /** Where the list lives, for messages (a file, or a database URL without credentials). */
  readonly where: string;
  close(): Promise<void>;
}

/** The list before it moved into the state database: `<stateDir>/revocations.json`. */
export function legacyRevocationsFile(stateDir: string): string {
  return join(stateDir, 'revocations.json');
}

/**
 * The users of a legacy `revocations.json`. Throws when the file cannot be read as a list:
 * a damaged list is not an empty one (nobody revoked may be forgotten).
 */
export function readLegacyRevocations(file: string): Array<[string, Revocation]> {
  const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const users = (data as { users?: unknown } | null)?.users;
  if (users === null || typeof users !== 'object' || Array.isArray(users)) throw new Error('expected { "users": { "<id>": { "at", "by" } } }');
  return Object.entries(users as Record<string, unknown>).map(([id, v]) => {
    const r = v as Partial<Revocation> | null;
    if (!r || typeof r.at !== 'string' || typeof r.by !== 'string') throw new Error(`user "${id.slice(0, 64)}": expected { "at", "by" }`);
    return [id, { at: r.at, by: r.by, ...(typeof r.reason === 'string' ? { reason: r.reason } : {}) }];
  });
}

/** The refusal `isRevoked` returns while the list cannot be trusted. */
export function unavailableRevocation(why: string, since: number): Revocation {
  return { at: new Date(since).toISOString(), by: 'skillgate', reason: `the revocation list is unavailable (${why}); every user is refused until it is back`, unavailable: true };
}
