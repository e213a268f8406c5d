/**
 * The pinned catalog in PostgreSQL (`storage.kind: postgres`, component `catalog`): one lock for
 * every replica. Each replica keeps the parsed lock in memory (the call path reads no database)
 * and follows the row like the revocation list: `NOTIFY skillgate_catalog` at every approval's
 * commit, a poll every `pollMs`, reconnection after a server restart (followTable).
 *
 * Fail closed: a replica that has not confirmed its copy for `maxStalenessMs` reports a
 * `problem()` and its catalog serves no upstream tool until it has — an approval withdrawn
 * elsewhere is never served from an old copy for longer than that.
 *
 * The first replica to open an empty database imports `tools.lock.json` (the file the project
 * reviews and ships); after that the database is the lock: `skillgate curate --approve` writes
 * it, with a compare-and-set on its version so that two approvals at once cannot lose one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { StorageError } from '../../src/storage/errors.js';
import { describePostgresUrl, type Follower, followTable, inTransaction, migratePostgres, problemReporter, sharedPostgres } from '../../src/storage/postgres.js';
import type { Migration } from '../../src/storage/sqlite.js';
import { formatLock, LockError, lockSchema, type PinLock, parseLock } from './lock.js';
import type { LockSource } from './lock-source.js';

export const CATALOG_CHANNEL = 'skillgate_catalog';

/** Component `catalog` on PostgreSQL: one row, the lock as `tools.lock.json` holds it, and its version. */
export const POSTGRES_CATALOG_MIGRATIONS: readonly Migration[] = [
  {
    id: '001-lock',
    sql: `CREATE TABLE skillgate_catalog_lock (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      body TEXT NOT NULL,
      version BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    );`,
  },
];

export interface PostgresLockSourceOptions {
  /** `tools.lock.json`: imported when the database holds no lock yet. */
  file: string;
  /** Serve nothing once the copy is older than this (default 5000 ms). */
  maxStalenessMs?: number;
  /** Read the version this often, whatever the notifications (default 500 ms). */
  pollMs?: number;
  /** Told when the database becomes unreachable and when it is back (never a password). */
  onProblem?: (message: string) => void;
}

/**
 * Connect, migrate, import the file into an empty database, load the lock and follow it.
 * Throws StorageError when the database cannot be reached (a replica without its catalog does
 * not start); a lock missing or corrupt in the database is a LockError from `read()`, as for a file.
 *
 * @example const source = await openPostgresLockSource(url, { file: loaded.path('tools.lock.json') });
 */
export async function openPostgresLockSource(url: string, opts: PostgresLockSourceOptions): Promise<LockSource> {
  const where = describePostgresUrl(url);
  const name = `the pinned catalog in ${where}`;
  const maxStalenessMs = opts.maxStalenessMs ?? 5_000;
  const problems = problemReporter(opts.onProblem, `${where}: pinned catalog reachable again`);
  const report = problems.report;
  const { pool, release } = sharedPostgres(url, (m) => report(`${where}: ${m}`));
  const missing = () =>
    new LockError('ERR_LOCK_MISSING', `${name} is empty; no upstream tool is served until tools are approved: skillgate curate <server> --approve`, where);

  let lock: PinLock | undefined;
  let lockError: LockError | undefined = missing();
  let version = '';
  /** The version the last read() returned: what an approval's write must still find. */
  let readVersion: string | undefined;
  const listeners = new Set<() => void>();

  const readOnce = async () => {
    const r = await pool.query<{ version: string; body: string | null }>('SELECT version::text AS version, CASE WHEN version::text = $1 THEN NULL ELSE body END AS body FROM skillgate_catalog_lock WHERE id = 1', [version]);
    const row = r.rows[0];
    const next = row?.version ?? '';
    if (next === version) return;
    version = next;
    if (!row) {
      lock = undefined;
      lockError = missing();
    } else {
      try {
        lock = parseLock(row.body!, name);
        lockError = undefined;
      } catch (err) {
        if (!(err instanceof LockError)) throw err;
        lock = undefined;
        lockError = err;
      }
    }
    for (const l of listeners) l();
  };

  let follower: Follower;
  try {
    await migratePostgres(pool, 'catalog', POSTGRES_CATALOG_MIGRATIONS);
    await importFile(opts.file);
    follower = await followTable(url, { channel: CATALOG_CHANNEL, pollMs: opts.pollMs ?? 500, read: readOnce, report });
  } catch (err) {
    await release();
    if (err instanceof StorageError) throw err;
    throw new StorageError('ERR_STORAGE_OPEN', `cannot load the pinned catalog from ${where}: ${(err as Error).message}`);
  }

  /** The reviewed file, into a database that has no lock yet (a corrupt file is not imported: read() says the lock is missing). */
  async function importFile(file: string): Promise<void> {
    if (!existsSync(file)) return;
    let text: string;
    try {
      text = formatLock(parseLock(readFileSync(file, 'utf8'), file));
    } catch (err) {
      report(`${file} not imported: ${(err as Error).message}`);
      return;
    }
    await inTransaction(pool, async (c) => {
      const r = await c.query('INSERT INTO skillgate_catalog_lock (id, body, version, updated_at) VALUES (1, $1, 1, $2) ON CONFLICT (id) DO NOTHING', [text, Date.now()]);
      if (r.rowCount) await c.query(`NOTIFY ${CATALOG_CHANNEL}`);
    });
  }

  return {
    name,
    where,
    read() {
      readVersion = version;
      if (lockError) throw lockError;
      return lock!;
    },
    problem() {
      const age = follower.age();
      if (age <= maxStalenessMs) return undefined;
      return new LockError('ERR_LOCK_UNAVAILABLE', `${name} has not been confirmed for ${age} ms${problems.current() ? ` (${problems.current()})` : ''}; no upstream tool is served until it is`, where);
    },
    async write(next) {
      const body = formatLock(lockSchema.parse(next));
      // Against what the approval read, not what this replica has followed since.
      const expected = readVersion ?? version;
      let changed = false;
      await inTransaction(pool, async (c) => {
        const r = expected
          ? await c.query('UPDATE skillgate_catalog_lock SET body = $1, version = version + 1, updated_at = $2 WHERE id = 1 AND version::text = $3', [body, Date.now(), expected])
          : await c.query('INSERT INTO skillgate_catalog_lock (id, body, version, updated_at) VALUES (1, $1, 1, $2) ON CONFLICT (id) DO NOTHING', [body, Date.now()]);
        changed = (r.rowCount ?? 0) > 0;
        // Delivered at COMMIT, to every listening replica.
        if (changed) await c.query(`NOTIFY ${CATALOG_CHANNEL}`);
      });
      if (!changed) throw new LockError('ERR_LOCK_CONFLICT', `${name} was changed by someone else since it was read; nothing was written: approve again`, where);
      readVersion = undefined;
      await follower.refresh().catch((err: Error) => report(`${where}: ${err.message}`));
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      await follower.close();
      await release();
    },
  };
}
