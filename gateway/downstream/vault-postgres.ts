/**
 * The vault in PostgreSQL (`storage.postgres.url`, component `vault`): the grants and the
 * pending elicitations shared by every replica, behind the same `GrantStore` contract as the
 * SQLite store (vault.ts). Tokens are only ever in the `sealed` column (sealed by the Vault
 * above this store, never seen here in clear); no value is logged.
 *
 * Nothing is cached here: every call is one statement on the pool (the Vault's cache asks for
 * the version, one indexed read, before reusing an opened grant), so a grant written by one
 * replica is read by another at once. A refresh is a compare-and-set: `UPDATE … WHERE version
 * = $expected` — of two replicas refreshing the same grant, the second one's UPDATE waits for
 * the first's row lock, re-reads the row, no longer matches and reports false.
 *
 * Reads that meet a connection a server restart killed are tried once more (the pool replaces
 * the connection); writes are not (a retried write could report a lost race it won).
 */
import { StorageError } from '../../src/storage/errors.js';
import { connectionLost, describePostgresUrl, migratePostgres, sharedPostgres, type PgPool } from '../../src/storage/postgres.js';
import type { Migration } from '../../src/storage/sqlite.js';
import { elicitationOf, summaryOf, type ElicitationRow, type GrantKey, type GrantRow, type GrantStore } from './vault.js';

/** Component `vault` on PostgreSQL (epoch milliseconds in BIGINT columns). */
export const POSTGRES_VAULT_MIGRATIONS: readonly Migration[] = [
  {
    id: '001-grants',
    sql: `
      CREATE TABLE skillgate_vault_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE skillgate_vault_grants (
        workspace TEXT NOT NULL, user_id TEXT NOT NULL, agent_id TEXT NOT NULL, provider TEXT NOT NULL,
        scopes TEXT NOT NULL, expires_at BIGINT, status TEXT NOT NULL, status_reason TEXT,
        sealed TEXT NOT NULL, version BIGINT NOT NULL, updated_at BIGINT NOT NULL,
        PRIMARY KEY (workspace, user_id, agent_id, provider)
      );
      CREATE TABLE skillgate_vault_elicitations (
        id TEXT PRIMARY KEY, workspace TEXT NOT NULL, user_id TEXT NOT NULL, agent_id TEXT NOT NULL,
        provider TEXT NOT NULL, scopes TEXT NOT NULL, reason TEXT NOT NULL, workflow_id TEXT,
        created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, status TEXT NOT NULL
      );
      CREATE INDEX skillgate_vault_elicitations_owner ON skillgate_vault_elicitations (workspace, user_id, agent_id, provider, status);
    `,
  },
];

export interface PostgresGrantStore extends GrantStore {
  /** `postgres://host:port/db` (no password). */
  readonly where: string;
  /** Ends the pool when this store opened it (given a URL); a pool given to it is the caller's. */
  close(): Promise<void>;
}

export interface PostgresGrantStoreOptions {
  /** Told about errors of idle connections (a restarted server); never a password or a token. */
  onProblem?: (message: string) => void;
}

// BIGINT arrives as a string from pg: read numbers as float8 (exact for epoch ms and versions).
const GRANT_COLUMNS =
  'workspace, user_id, agent_id, provider, scopes, expires_at::float8 AS expires_at, status, status_reason, sealed, version::float8 AS version, updated_at::float8 AS updated_at';
const ELICITATION_COLUMNS =
  'id, workspace, user_id, agent_id, provider, scopes, reason, workflow_id, created_at::float8 AS created_at, expires_at::float8 AS expires_at, status';
const PK = 'workspace = $1 AND user_id = $2 AND agent_id = $3 AND provider = $4';
const pkArgs = (k: GrantKey) => [k.workspace, k.user, k.agent, k.provider];

/**
 * The vault's tables on `source` (a pool, or a URL this store opens its own pool on),
 * migrations applied now. Throws StorageError when the database cannot be reached or holds a
 * newer vault schema.
 *
 * @example const store = await openPostgresGrantStore(url); const vault = await openVault(store, key, { where });
 */
export async function openPostgresGrantStore(source: PgPool | string, opts: PostgresGrantStoreOptions = {}): Promise<PostgresGrantStore> {
  const where = typeof source === 'string' ? describePostgresUrl(source) : 'the state database';
  // Given a URL: the process's pool on it, shared with the revocation list and the audit trail.
  const share = typeof source === 'string' ? sharedPostgres(source, (m) => opts.onProblem?.(`${where}: ${m}`)) : undefined;
  const pool = share?.pool ?? (source as PgPool);
  try {
    await migratePostgres(pool, 'vault', POSTGRES_VAULT_MIGRATIONS);
  } catch (err) {
    await share?.release();
    if (err instanceof StorageError) throw err;
    throw new StorageError('ERR_STORAGE_OPEN', `cannot open the vault in ${where}: ${(err as Error).message}`);
  }

  const read = async <R extends object>(sql: string, values: unknown[]): Promise<R[]> => {
    try {
      return (await pool.query<R>(sql, values)).rows;
    } catch (err) {
      if (!connectionLost(err)) throw err;
      return (await pool.query<R>(sql, values)).rows;
    }
  };
  const write = async (sql: string, values: unknown[]): Promise<number> => (await pool.query(sql, values)).rowCount ?? 0;

  return {
    where,
    async version(k) {
      const [r] = await read<{ version: number }>(`SELECT version::float8 AS version FROM skillgate_vault_grants WHERE ${PK}`, pkArgs(k));
      return r?.version;
    },
    async get(k) {
      const [r] = await read<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM skillgate_vault_grants WHERE ${PK}`, pkArgs(k));
      return r ? summaryOf(r) : undefined;
    },
    async put(row, expectVersion) {
      const values = [...pkArgs(row), row.scopes.join(' '), row.expiresAt ?? null, row.status, row.statusReason ?? null, row.sealed, row.version, row.updatedAt];
      if (expectVersion === undefined) {
        await write(
          `INSERT INTO skillgate_vault_grants (workspace, user_id, agent_id, provider, scopes, expires_at, status, status_reason, sealed, version, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (workspace, user_id, agent_id, provider) DO UPDATE SET scopes = excluded.scopes, expires_at = excluded.expires_at,
             status = excluded.status, status_reason = excluded.status_reason, sealed = excluded.sealed, version = excluded.version, updated_at = excluded.updated_at`,
          values,
        );
        return true;
      }
      // Compare-and-set: only the row as the caller read it (a missing row is not that row either).
      const changed = await write(
        `UPDATE skillgate_vault_grants SET scopes = $5, expires_at = $6, status = $7, status_reason = $8, sealed = $9, version = $10, updated_at = $11
         WHERE ${PK} AND version = $12`,
        [...values, expectVersion],
      );
      return changed > 0;
    },
    async setStatus(k, status, reason, now) {
      return (await write(`UPDATE skillgate_vault_grants SET status = $5, status_reason = $6, version = version + 1, updated_at = $7 WHERE ${PK}`, [...pkArgs(k), status, reason ?? null, now])) > 0;
    },
    async delete(k) {
      return (await write(`DELETE FROM skillgate_vault_grants WHERE ${PK}`, pkArgs(k))) > 0;
    },
    async list(f) {
      const conds: string[] = [];
      const values: string[] = [];
      for (const [col, v] of [['workspace', f.workspace], ['user_id', f.user], ['agent_id', f.agent], ['provider', f.provider]] as const) {
        if (v !== undefined) {
          values.push(v);
          conds.push(`${col} = $${values.length}`);
        }
      }
      const rows = await read<GrantRow>(
        `SELECT ${GRANT_COLUMNS} FROM skillgate_vault_grants ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY user_id COLLATE "C", agent_id COLLATE "C", provider COLLATE "C"`,
        values,
      );
      return rows.map((r) => {
        const { sealed: _sealed, ...summary } = summaryOf(r);
        return summary;
      });
    },
    async meta(name) {
      const [r] = await read<{ value: string }>('SELECT value FROM skillgate_vault_meta WHERE name = $1', [name]);
      return r?.value;
    },
    async setMeta(name, value) {
      await write('INSERT INTO skillgate_vault_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [name, value]);
    },
    async claimMeta(name, value) {
      await write('INSERT INTO skillgate_vault_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, value]);
      // A statement of its own: its snapshot includes a concurrent claim that won.
      const [r] = await read<{ value: string }>('SELECT value FROM skillgate_vault_meta WHERE name = $1', [name]);
      if (!r) throw new Error(`vault meta ${name} vanished after it was recorded`);
      return r.value;
    },
    async putElicitation(e) {
      await write(
        `INSERT INTO skillgate_vault_elicitations (id, workspace, user_id, agent_id, provider, scopes, reason, workflow_id, created_at, expires_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET workspace = excluded.workspace, user_id = excluded.user_id, agent_id = excluded.agent_id, provider = excluded.provider,
           scopes = excluded.scopes, reason = excluded.reason, workflow_id = excluded.workflow_id, created_at = excluded.created_at,
           expires_at = excluded.expires_at, status = excluded.status`,
        [e.id, e.workspace, e.user, e.agent, e.provider, e.scopes.join(' '), e.reason, e.workflowId ?? null, e.createdAt, e.expiresAt, e.status],
      );
    },
    async getElicitation(id) {
      const [r] = await read<ElicitationRow>(`SELECT ${ELICITATION_COLUMNS} FROM skillgate_vault_elicitations WHERE id = $1`, [id]);
      return r ? elicitationOf(r) : undefined;
    },
    async pendingElicitations(f) {
      const rows = await read<ElicitationRow>(`SELECT ${ELICITATION_COLUMNS} FROM skillgate_vault_elicitations WHERE ${PK} AND status = 'pending' ORDER BY created_at, id`, [
        f.workspace,
        f.user,
        f.agent,
        f.provider,
      ]);
      return rows.map(elicitationOf);
    },
    async completeElicitations(ids) {
      if (ids.length) await write("UPDATE skillgate_vault_elicitations SET status = 'completed' WHERE id = ANY($1::text[])", [ids]);
    },
    async close() {
      await share?.release();
    },
  };
}
