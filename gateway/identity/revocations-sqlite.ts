/**
 * The revocation list in the SQLite state database (`storage.file`, component `revocations`).
 * Each lookup is one prepared-statement read (a few microseconds, BENCHMARKS.md): a revocation
 * committed by any process on this machine — `skillgate revoke`, another gateway — is seen by
 * the next lookup, there is no cache to go stale.
 *
 * On first open, a legacy `<stateDir>/revocations.json` is imported (users already in the
 * database are kept as they are) and renamed `revocations.json.imported`; a legacy file that
 * cannot be read stops the open rather than forget who was revoked.
 */
import { existsSync, renameSync } from 'node:fs';
import { StorageError } from '../../src/storage/errors.js';
import { migrate, type Migration, openSqlite, type OpenSqliteOptions, type SqliteDb } from '../../src/storage/sqlite.js';
import { readLegacyRevocations, type Revocation, type RevocationStore, unavailableRevocation } from './revocations.js';

/** Component `revocations` on SQLite. */
export const SQLITE_REVOCATION_MIGRATIONS: readonly Migration[] = [
  {
    id: '001-revocations',
    sql: `CREATE TABLE skillgate_revocations (
      user_id TEXT PRIMARY KEY,
      at TEXT NOT NULL,
      by_whom TEXT NOT NULL,
      reason TEXT
    )`,
  },
];

interface Row {
  user_id: string;
  at: string;
  by_whom: string;
  reason: string | null;
}

const toRevocation = (r: Row): Revocation => ({ at: r.at, by: r.by_whom, ...(r.reason !== null ? { reason: r.reason } : {}) });

/**
 * Open the list in the SQLite file `file` (its own connection, closed by close()).
 *
 * @example const store = openSqliteRevocations('.skillgate/skillgate.db', { legacyFile: '.skillgate/revocations.json' });
 */
export function openSqliteRevocations(file: string, opts: OpenSqliteOptions & { legacyFile?: string } = {}): RevocationStore {
  const db = openSqlite(file, opts);
  try {
    migrate(db, 'revocations', SQLITE_REVOCATION_MIGRATIONS);
    if (opts.legacyFile) importLegacy(db, opts.legacyFile);
  } catch (err) {
    db.close();
    throw err;
  }
  const get = db.prepare<[string], Row>('SELECT user_id, at, by_whom, reason FROM skillgate_revocations WHERE user_id = ?');
  const all = db.prepare<[], Row>('SELECT user_id, at, by_whom, reason FROM skillgate_revocations ORDER BY user_id');
  const upsert = db.prepare('INSERT INTO skillgate_revocations (user_id, at, by_whom, reason) VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET at = excluded.at, by_whom = excluded.by_whom, reason = excluded.reason');
  const remove = db.prepare('DELETE FROM skillgate_revocations WHERE user_id = ?');
  return {
    where: file,
    isRevoked(userId) {
      try {
        const row = get.get(userId);
        return row ? toRevocation(row) : undefined;
      } catch (err) {
        // A database that cannot be read refuses everyone (fail closed), and says why.
        return unavailableRevocation(`${file}: ${(err as Error).message}`, Date.now());
      }
    },
    async revoke(userId, r) {
      upsert.run(userId, new Date().toISOString(), r.by, r.reason ?? null);
    },
    async restore(userId) {
      return remove.run(userId).changes > 0;
    },
    async list() {
      const out: Record<string, Revocation> = {};
      for (const row of all.all()) Object.defineProperty(out, row.user_id, { value: toRevocation(row), enumerable: true, writable: true, configurable: true });
      return out;
    },
    async close() {
      db.close();
    },
  };
}

/** Import `revocations.json` (when present) and rename it `.imported`; the database's own rows win. */
function importLegacy(db: SqliteDb, legacyFile: string): void {
  if (!existsSync(legacyFile)) return;
  let users: Array<[string, Revocation]>;
  try {
    users = readLegacyRevocations(legacyFile);
  } catch (err) {
    throw new StorageError('ERR_STORAGE_IMPORT', `the legacy revocation list ${legacyFile} cannot be read (${(err as Error).message}): fix it so it can be imported, or remove it knowingly; nobody was un-revoked`);
  }
  const insert = db.prepare('INSERT INTO skillgate_revocations (user_id, at, by_whom, reason) VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING');
  db.transaction(() => {
    for (const [id, r] of users) insert.run(id, r.at, r.by, r.reason ?? null);
  }).immediate();
  try {
    renameSync(legacyFile, `${legacyFile}.imported`);
  } catch (err) {
    // Another process opening at the same moment imported and renamed it first.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
