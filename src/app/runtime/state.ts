/**
 * The workspace's shared state, opened from `storage`: the one place that picks the backend.
 * `kind: sqlite` (one machine) reads `storage.file`; `kind: postgres` (several replicas)
 * `storage.postgres.url`. The gateway, the worker and the CLI (`skillgate revoke`, `skillgate
 * grants`) all open their stores here, so they always read and write the same list and vault.
 */
import { openPostgresAuditStore } from '../../../gateway/audit/postgres-store.js';
import { openSqliteAuditStore, type SqliteAuditStoreOptions } from '../../../gateway/audit/sqlite-store.js';
import type { AuditStore } from '../../../gateway/audit/store.js';
import { openPostgresLockSource } from '../../../gateway/curation/lock-postgres.js';
import { fileLockSource, type LockSource } from '../../../gateway/curation/lock-source.js';
import type { GrantStore } from '../../../gateway/downstream/vault.js';
import { openSqliteGrantStore } from '../../../gateway/downstream/vault.js';
import { openPostgresGrantStore } from '../../../gateway/downstream/vault-postgres.js';
import type { RevocationStore } from '../../../gateway/identity/revocations.js';
import { legacyRevocationsFile } from '../../../gateway/identity/revocations.js';
import { openPostgresRevocations } from '../../../gateway/identity/revocations-postgres.js';
import { openSqliteRevocations } from '../../../gateway/identity/revocations-sqlite.js';
import type { LoadedConfig } from '../../config/load.js';
import { resolveSecretValue } from '../../config/secrets.js';
import { describePostgresUrl } from '../../storage/postgres.js';
import { openSqlite, type SqliteDb } from '../../storage/sqlite.js';

/**
 * The revocation list of the workspace (a legacy `<stateDir>/revocations.json` is imported on
 * first open). Throws StorageError when it cannot be opened or loaded.
 *
 * @example const revocations = await openRevocationStore(loaded); revocations.isRevoked('intern');
 */
export async function openRevocationStore(loaded: LoadedConfig, opts: { onProblem?: (message: string) => void } = {}): Promise<RevocationStore> {
  const { storage, stateDir } = loaded.config;
  const legacyFile = legacyRevocationsFile(loaded.path(stateDir));
  if (storage.kind === 'sqlite') return openSqliteRevocations(loaded.path(storage.file), { synchronous: storage.synchronous, legacyFile });
  const pg = postgresOf(loaded);
  const url = postgresUrl(loaded);
  return openPostgresRevocations(url, { maxStalenessMs: pg.maxStalenessMs, pollMs: pg.pollMs, legacyFile, ...(opts.onProblem ? { onProblem: opts.onProblem } : {}) });
}

/** The vault's store and how to let go of it (the SQLite file or the PostgreSQL pool). */
export interface OpenedGrantStore {
  store: GrantStore;
  close(): Promise<void>;
}

/**
 * The vault's storage (grants, elicitations, key check) of the workspace, not yet opened with
 * its key (openVault does that). `db`: an open SQLite state database to use (kind sqlite; left
 * open by close()). Throws StorageError when PostgreSQL cannot be reached or migrated.
 *
 * @example const { store, close } = await openGrantStore(loaded); const vault = await openVault(store, key, { where });
 */
export async function openGrantStore(loaded: LoadedConfig, opts: { db?: SqliteDb; onProblem?: (message: string) => void } = {}): Promise<OpenedGrantStore> {
  const { storage } = loaded.config;
  if (storage.kind === 'sqlite') {
    const db = opts.db ?? openSqlite(loaded.path(storage.file), { synchronous: storage.synchronous });
    try {
      const store = openSqliteGrantStore(db);
      return {
        store,
        close: async () => {
          if (!opts.db) db.close();
        },
      };
    } catch (err) {
      if (!opts.db) db.close();
      throw err;
    }
  }
  const store = await openPostgresGrantStore(postgresUrl(loaded), opts.onProblem ? { onProblem: opts.onProblem } : {});
  return { store, close: () => store.close() };
}

/**
 * The audit trail's store of the workspace: the chain in `storage.file` (one machine; SQLite's
 * lock serialises the processes sharing it) or in PostgreSQL (one chain for every replica).
 * `busyTimeoutMs` (SQLite): how long a write waits for another process's lock (the CLI waits;
 * the call path does not). Throws StorageError when PostgreSQL cannot be reached or migrated.
 *
 * @example const store = await openAuditStore(loaded, { busyTimeoutMs: 5_000 });
 */
export async function openAuditStore(loaded: LoadedConfig, opts: Pick<SqliteAuditStoreOptions, 'busyTimeoutMs'> & { onProblem?: (message: string) => void } = {}): Promise<AuditStore> {
  const { storage, audit } = loaded.config;
  if (storage.kind === 'sqlite') return openSqliteAuditStore(loaded.path(storage.file), { fsync: audit.fsync, ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}) });
  return openPostgresAuditStore(postgresUrl(loaded), opts.onProblem ? { onProblem: opts.onProblem } : {});
}

/**
 * The pinned catalog of the workspace: `catalog.lockFile` (tools.lock.json) with `kind: sqlite`;
 * with `kind: postgres` the one lock every replica follows, imported from that file when the
 * database has none yet. Throws StorageError when PostgreSQL cannot be reached or migrated.
 *
 * @example const lock = await openLockSource(loaded); const catalog = createPinnedCatalog({ pool, lock, … });
 */
export async function openLockSource(loaded: LoadedConfig, opts: { onProblem?: (message: string) => void } = {}): Promise<LockSource> {
  const file = loaded.path(loaded.config.catalog.lockFile);
  if (loaded.config.storage.kind === 'sqlite') return fileLockSource(file);
  const pg = postgresOf(loaded);
  return openPostgresLockSource(postgresUrl(loaded), { file, maxStalenessMs: pg.maxStalenessMs, pollMs: pg.pollMs, ...(opts.onProblem ? { onProblem: opts.onProblem } : {}) });
}

/** Where the workspace's state is, for messages: the SQLite file, or `postgres://host:port/db` (never a password). */
export function describeStorage(loaded: LoadedConfig): string {
  return loaded.config.storage.kind === 'sqlite' ? loaded.path(loaded.config.storage.file) : describePostgresUrl(postgresUrl(loaded));
}

function postgresOf(loaded: LoadedConfig) {
  const pg = loaded.config.storage.postgres;
  // The schema refuses kind: postgres without it; this narrows the type.
  if (!pg) throw new Error('storage.postgres.url is required when storage.kind is postgres');
  return pg;
}

function postgresUrl(loaded: LoadedConfig): string {
  return resolveSecretValue(postgresOf(loaded).url, ['storage', 'postgres', 'url'], { env: process.env, baseDir: loaded.baseDir });
}
