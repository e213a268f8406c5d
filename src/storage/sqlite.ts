/**
 * Skillgate's own state on one machine: one SQLite file (default `<stateDir>/skillgate.db`)
 * shared by every store (vault, audit, catalog, …), each behind its own interface so that a
 * PostgreSQL backend (postgres.ts) implements the same ones for several machines.
 *
 * Each store brings its own migrations under its own component name (`vault`, `audit`, …);
 * `migrate()` applies the missing ones in order inside one transaction and records them in
 * `skillgate_migrations`. A database written by a newer Skillgate (a migration id this code
 * does not know) is refused, never "repaired": state is never lost to a downgrade.
 *
 * Durability: WAL journal; `synchronous` is FULL by default (every commit is fsynced before
 * it returns), NORMAL on request (a commit survives a crash of the process, not of the
 * machine; the WAL is fsynced at checkpoints).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { newerMigrationMessage, StorageError } from './errors.js';

export { StorageError } from './errors.js';

export type SqliteDb = Database.Database;

/** One schema change of one component. `id`s sort in the order they apply: `001-grants`, `002-…`. */
export interface Migration {
  id: string;
  /** SQL run as one script. */
  sql: string;
}

export interface OpenSqliteOptions {
  /** `full` (default): fsync on every commit. `normal`: fsync at WAL checkpoints only. */
  synchronous?: 'full' | 'normal';
  /** How long a writer waits for another process's lock before failing (default 5 s). */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/**
 * Open (creating it and its folder if needed) the SQLite file at `file`, or `:memory:`.
 *
 * @example const db = openSqlite('.skillgate/skillgate.db'); migrate(db, 'vault', VAULT_MIGRATIONS);
 */
export function openSqlite(file: string, opts: OpenSqliteOptions = {}): SqliteDb {
  let db: SqliteDb;
  try {
    if (file !== ':memory:' && !opts.readonly) mkdirSync(dirname(file), { recursive: true });
    db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: opts.busyTimeoutMs ?? 5_000 });
  } catch (err) {
    throw new StorageError('ERR_STORAGE_OPEN', `cannot open the state database ${file}: ${(err as Error).message}`);
  }
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  }
  db.pragma('foreign_keys = ON');
  return db;
}

/**
 * Apply `component`'s migrations that are not yet applied, in order, in one transaction.
 * Returns the ids applied now. Throws StorageError when the database holds a migration of
 * this component that `migrations` does not list (written by a newer version).
 */
export function migrate(db: SqliteDb, component: string, migrations: readonly Migration[]): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS skillgate_migrations (
    component TEXT NOT NULL,
    id TEXT NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (component, id)
  )`);
  const known = new Set(migrations.map((m) => m.id));
  const record = db.prepare('INSERT INTO skillgate_migrations (component, id, applied_at) VALUES (?, ?, ?)');
  // Read what is applied inside the write transaction (BEGIN IMMEDIATE): processes starting
  // together (replicas, a CLI beside `skillgate dev`) apply each migration once, one after the other.
  const apply = db.transaction((): Migration[] => {
    const applied = (db.prepare('SELECT id FROM skillgate_migrations WHERE component = ? ORDER BY id').all(component) as Array<{ id: string }>).map((r) => r.id);
    const unknown = applied.filter((id) => !known.has(id));
    if (unknown.length) {
      throw new StorageError('ERR_STORAGE_NEWER', newerMigrationMessage(component, unknown));
    }
    const done = new Set(applied);
    const todo = [...migrations].sort((a, b) => a.id.localeCompare(b.id)).filter((m) => !done.has(m.id));
    for (const m of todo) {
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new StorageError('ERR_STORAGE_MIGRATION', `${component} migration ${m.id} failed: ${(err as Error).message}`);
      }
      record.run(component, m.id, Date.now());
    }
    return todo;
  });
  const todo = apply.immediate();
  return todo.map((m) => m.id);
}
