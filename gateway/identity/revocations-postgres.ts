/**
 * The revocation list in PostgreSQL (`storage.postgres.url`, component `revocations`), shared
 * by every replica. Lookups answer from an in-memory snapshot (a Map read: no round trip on the
 * authorization path); the snapshot is loaded at open (the open fails without it) and read again
 *   - when a replica revokes or restores: `NOTIFY skillgate_revocations`, delivered at commit
 *     to every replica's listening connection (reconnected after a server restart);
 *   - every `pollMs` (500 ms): notifications sent while a listener was down are lost, the poll
 *     is what bounds that. A poll whose version number has not moved reads one row.
 *
 * Fail closed: once the snapshot has not been confirmed current for `maxStalenessMs` (the
 * database unreachable), `isRevoked` refuses everyone with an `unavailable` refusal instead of
 * answering from a list that may miss a revocation.
 */
import { existsSync, renameSync } from 'node:fs';
import pg from 'pg';
import { StorageError } from '../../src/storage/errors.js';
import { describePostgresUrl, type Follower, followTable, inTransaction, migratePostgres, problemReporter, sharedPostgres } from '../../src/storage/postgres.js';
import type { Migration } from '../../src/storage/sqlite.js';
import { readLegacyRevocations, type Revocation, type RevocationStore, unavailableRevocation } from './revocations.js';

export const REVOCATION_CHANNEL = 'skillgate_revocations';

/** Component `revocations` on PostgreSQL: the list, and a version number every change moves. */
export const POSTGRES_REVOCATION_MIGRATIONS: readonly Migration[] = [
  {
    id: '001-revocations',
    sql: `CREATE TABLE skillgate_revocations (
      user_id TEXT PRIMARY KEY,
      at TEXT NOT NULL,
      by_whom TEXT NOT NULL,
      reason TEXT
    );
    CREATE TABLE skillgate_revocations_version (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      version BIGINT NOT NULL
    );
    INSERT INTO skillgate_revocations_version (id, version) VALUES (1, 0);`,
  },
];

export interface PostgresRevocationOptions {
  /** Refuse everyone once the snapshot is older than this (default 5000 ms). */
  maxStalenessMs?: number;
  /** Read the version this often, whatever the notifications (default 500 ms). */
  pollMs?: number;
  /** A legacy `revocations.json` to import at open (then renamed `.imported`). */
  legacyFile?: string;
  /** Told when the database becomes unreachable and when it is back (never a password). */
  onProblem?: (message: string) => void;
}

type Tx = (c: pg.PoolClient) => Promise<void>;

/**
 * Connect, migrate, import a legacy list, load the snapshot and start listening. Throws
 * (StorageError) when any of that fails: a replica without the list does not start.
 *
 * @example const store = await openPostgresRevocations(url, { maxStalenessMs: 5_000 });
 */
export async function openPostgresRevocations(url: string, opts: PostgresRevocationOptions = {}): Promise<RevocationStore> {
  const maxStalenessMs = opts.maxStalenessMs ?? 5_000;
  const pollMs = opts.pollMs ?? 500;
  const where = describePostgresUrl(url);
  const problems = problemReporter(opts.onProblem, `${where}: revocation list reachable again`);
  const report = problems.report;
  // The process's pool on this database, shared with the vault and the audit trail.
  const { pool, release } = sharedPostgres(url, (m) => report(`${where}: ${m}`));

  let users = new Map<string, Revocation>();
  let version: string | undefined;

  /** One statement, so the version and the rows come from one snapshot. */
  const readOnce = async () => {
    const r = await pool.query<{ version: string; users: Array<[string, string, string, string | null]> | null }>(
      `SELECT v.version::text AS version,
         CASE WHEN v.version::text = $1 THEN NULL
              ELSE (SELECT coalesce(json_agg(json_build_array(user_id, at, by_whom, reason)), '[]'::json) FROM skillgate_revocations) END AS users
       FROM skillgate_revocations_version v WHERE v.id = 1`,
      [version ?? ''],
    );
    const row = r.rows[0];
    if (!row) throw new Error('skillgate_revocations_version has no row');
    if (row.users) {
      const next = new Map<string, Revocation>();
      for (const [id, at, by, reason] of row.users) next.set(id, { at, by, ...(reason !== null ? { reason } : {}) });
      users = next;
      version = row.version;
    }
  };

  const tx = (body: Tx): Promise<void> =>
    inTransaction(
      pool,
      async (c) => {
        await body(c);
        await c.query('UPDATE skillgate_revocations_version SET version = version + 1 WHERE id = 1');
        // Delivered at COMMIT, to every listening replica.
        await c.query(`NOTIFY ${REVOCATION_CHANNEL}`);
      },
      { onLost: (m) => report(`${where}: ${m}`) },
    );

  let follower: Follower;
  try {
    await migratePostgres(pool, 'revocations', POSTGRES_REVOCATION_MIGRATIONS);
    if (opts.legacyFile && existsSync(opts.legacyFile)) await importLegacy(opts.legacyFile, tx);
    follower = await followTable(url, { channel: REVOCATION_CHANNEL, pollMs, read: readOnce, report });
  } catch (err) {
    await release();
    if (err instanceof StorageError) throw err;
    throw new StorageError('ERR_STORAGE_OPEN', `cannot load the revocation list from ${where}: ${(err as Error).message}`);
  }
  const refresh = () => follower.refresh();

  return {
    where,
    isRevoked(userId) {
      const age = follower.age();
      if (age > maxStalenessMs) return unavailableRevocation(`${where} not confirmed for ${age} ms${problems.current() ? `: ${problems.current()}` : ''}`, Date.now() - age);
      return users.get(userId);
    },
    async revoke(userId, r) {
      await tx(async (c) => {
        await c.query(
          'INSERT INTO skillgate_revocations (user_id, at, by_whom, reason) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET at = excluded.at, by_whom = excluded.by_whom, reason = excluded.reason',
          [userId, new Date().toISOString(), r.by, r.reason ?? null],
        );
      });
      // Committed: this replica's own copy follows now (the poll catches up if this read fails).
      await refresh().catch((err: Error) => report(`${where}: ${err.message}`));
    },
    async restore(userId) {
      let removed = false;
      await tx(async (c) => {
        removed = ((await c.query('DELETE FROM skillgate_revocations WHERE user_id = $1', [userId])).rowCount ?? 0) > 0;
      });
      await refresh().catch((err: Error) => report(`${where}: ${err.message}`));
      return removed;
    },
    async list() {
      const r = await pool.query<{ user_id: string; at: string; by_whom: string; reason: string | null }>('SELECT user_id, at, by_whom, reason FROM skillgate_revocations ORDER BY user_id');
      const out: Record<string, Revocation> = {};
      for (const row of r.rows) Object.defineProperty(out, row.user_id, { value: { at: row.at, by: row.by_whom, ...(row.reason !== null ? { reason: row.reason } : {}) }, enumerable: true, writable: true, configurable: true });
      return out;
    },
    async close() {
      await follower.close();
      await release();
    },
  };
}

/** Import `revocations.json` (the database's own rows win), then rename it `.imported`. */
async function importLegacy(file: string, tx: (body: Tx) => Promise<void>): Promise<void> {
  let entries: Array<[string, Revocation]>;
  try {
    entries = readLegacyRevocations(file);
  } catch (err) {
    throw new StorageError('ERR_STORAGE_IMPORT', `the legacy revocation list ${file} cannot be read (${(err as Error).message}): fix it so it can be imported, or remove it knowingly; nobody was un-revoked`);
  }
  await tx(async (c) => {
    for (const [id, r] of entries) {
      await c.query('INSERT INTO skillgate_revocations (user_id, at, by_whom, reason) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO NOTHING', [id, r.at, r.by, r.reason ?? null]);
    }
  });
  try {
    renameSync(file, `${file}.imported`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
