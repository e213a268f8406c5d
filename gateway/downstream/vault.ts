/**
 * The vault: downstream grants per (user, agent, provider) — access token, refresh token,
 * scopes, expiry — sealed with AES-256-GCM (seal.ts) under the vault key, and the pending URL
 * elicitations that ask users for them.
 *
 * `GrantStore` is the storage interface (async): `openSqliteGrantStore` in the SQLite state
 * database (src/storage/sqlite.ts, component `vault`), `openPostgresGrantStore`
 * (vault-postgres.ts) in PostgreSQL for several replicas; src/app/runtime/state.ts picks one. Tokens are only ever in the `sealed` column;
 * scopes, expiry and status are in clear (they are not secrets, and the admin CLI lists them).
 *
 * The key is checked at open: a vault created with another key is refused with a clear error
 * (ERR_VAULT_KEY_MISMATCH) and nothing in it is deleted or overwritten.
 */
import { migrate, type Migration, type SqliteDb } from '../../src/storage/sqlite.js';
import { DownstreamError } from './errors.js';
import { keyFingerprint, open, seal } from './seal.js';

/** Whose grant: one per (workspace, user, agent, provider). */
export interface GrantKey {
  workspace: string;
  user: string;
  agent: string;
  provider: string;
}

/** What the provider gave (the secret part). */
export interface GrantTokens {
  accessToken: string;
  refreshToken?: string;
  tokenType: string;
}

/** A grant as the vault returns it (decrypted). */
export interface Grant extends GrantKey {
  tokens: GrantTokens;
  scopes: string[];
  /** Epoch ms when the access token expires (undefined: the provider did not say). */
  expiresAt?: number;
  status: 'active' | 'revoked';
  /** Why it was revoked (`user`, `admin`, `provider`, `refresh-failed`). */
  statusReason?: string;
  /** Bumped on every change (cache coherence, optimistic refresh). */
  version: number;
  updatedAt: number;
}

/** A grant without its tokens (listings, the admin CLI). */
export type GrantSummary = Omit<Grant, 'tokens'>;

export interface Elicitation {
  id: string;
  workspace: string;
  user: string;
  agent: string;
  provider: string;
  scopes: string[];
  reason: string;
  /** Set when a skill run waits for it (the run is signalled when it completes). */
  workflowId?: string;
  createdAt: number;
  expiresAt: number;
  status: 'pending' | 'completed';
}

/** The storage interface: SQLite here, PostgreSQL in vault-postgres.ts (same contract, test/vault-store.test.ts). */
export interface GrantStore {
  /** The row's version and status only: the cheap check behind the vault's cache. */
  version(key: GrantKey): Promise<number | undefined>;
  get(key: GrantKey): Promise<(GrantSummary & { sealed: string }) | undefined>;
  /** Insert or replace; with `expectVersion`, only if the row still has that version (false otherwise). */
  put(row: GrantSummary & { sealed: string }, expectVersion?: number): Promise<boolean>;
  setStatus(key: GrantKey, status: 'active' | 'revoked', reason: string | undefined, now: number): Promise<boolean>;
  delete(key: GrantKey): Promise<boolean>;
  list(filter: Partial<GrantKey>): Promise<GrantSummary[]>;
  meta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;
  /** Record `value` under `name` unless something is recorded there already; returns what is recorded (first writer wins, across replicas). */
  claimMeta(name: string, value: string): Promise<string>;
  putElicitation(e: Elicitation): Promise<void>;
  getElicitation(id: string): Promise<Elicitation | undefined>;
  pendingElicitations(filter: { workspace: string; user: string; agent: string; provider: string }): Promise<Elicitation[]>;
  completeElicitations(ids: string[]): Promise<void>;
}

export const VAULT_MIGRATIONS: readonly Migration[] = [
  {
    id: '001-grants',
    sql: `
      CREATE TABLE vault_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE vault_grants (
        workspace TEXT NOT NULL, user_id TEXT NOT NULL, agent_id TEXT NOT NULL, provider TEXT NOT NULL,
        scopes TEXT NOT NULL, expires_at INTEGER, status TEXT NOT NULL, status_reason TEXT,
        sealed TEXT NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace, user_id, agent_id, provider)
      ) WITHOUT ROWID;
      CREATE TABLE vault_elicitations (
        id TEXT PRIMARY KEY, workspace TEXT NOT NULL, user_id TEXT NOT NULL, agent_id TEXT NOT NULL,
        provider TEXT NOT NULL, scopes TEXT NOT NULL, reason TEXT NOT NULL, workflow_id TEXT,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, status TEXT NOT NULL
      );
      CREATE INDEX vault_elicitations_owner ON vault_elicitations (workspace, user_id, agent_id, provider, status);
    `,
  },
];

/** A row of the grants table as both backends read it (numbers as numbers). */
export interface GrantRow {
  workspace: string;
  user_id: string;
  agent_id: string;
  provider: string;
  scopes: string;
  expires_at: number | null;
  status: string;
  status_reason: string | null;
  sealed: string;
  version: number;
  updated_at: number;
}

export interface ElicitationRow {
  id: string;
  workspace: string;
  user_id: string;
  agent_id: string;
  provider: string;
  scopes: string;
  reason: string;
  workflow_id: string | null;
  created_at: number;
  expires_at: number;
  status: string;
}

const splitScopes = (s: string): string[] => (s ? s.split(' ') : []);

export function summaryOf(r: GrantRow): GrantSummary & { sealed: string } {
  return {
    workspace: r.workspace,
    user: r.user_id,
    agent: r.agent_id,
    provider: r.provider,
    scopes: splitScopes(r.scopes),
    ...(r.expires_at !== null ? { expiresAt: r.expires_at } : {}),
    status: r.status === 'active' ? 'active' : 'revoked',
    ...(r.status_reason !== null ? { statusReason: r.status_reason } : {}),
    version: r.version,
    updatedAt: r.updated_at,
    sealed: r.sealed,
  };
}

export function elicitationOf(r: ElicitationRow): Elicitation {
  return {
    id: r.id,
    workspace: r.workspace,
    user: r.user_id,
    agent: r.agent_id,
    provider: r.provider,
    scopes: splitScopes(r.scopes),
    reason: r.reason,
    ...(r.workflow_id !== null ? { workflowId: r.workflow_id } : {}),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    status: r.status === 'completed' ? 'completed' : 'pending',
  };
}

/** The vault's tables in the shared SQLite state database (migrations applied now). */
export function openSqliteGrantStore(db: SqliteDb): GrantStore {
  migrate(db, 'vault', VAULT_MIGRATIONS);
  const pk = 'workspace = ? AND user_id = ? AND agent_id = ? AND provider = ?';
  const args = (k: GrantKey) => [k.workspace, k.user, k.agent, k.provider] as const;
  const q = {
    version: db.prepare(`SELECT version FROM vault_grants WHERE ${pk}`).pluck(),
    get: db.prepare(`SELECT * FROM vault_grants WHERE ${pk}`),
    upsert: db.prepare(`INSERT INTO vault_grants (workspace, user_id, agent_id, provider, scopes, expires_at, status, status_reason, sealed, version, updated_at)
      VALUES (@workspace, @user, @agent, @provider, @scopes, @expiresAt, @status, @statusReason, @sealed, @version, @updatedAt)
      ON CONFLICT (workspace, user_id, agent_id, provider) DO UPDATE SET scopes = excluded.scopes, expires_at = excluded.expires_at,
        status = excluded.status, status_reason = excluded.status_reason, sealed = excluded.sealed, version = excluded.version, updated_at = excluded.updated_at`),
    status: db.prepare(`UPDATE vault_grants SET status = ?, status_reason = ?, version = version + 1, updated_at = ? WHERE ${pk}`),
    delete: db.prepare(`DELETE FROM vault_grants WHERE ${pk}`),
    meta: db.prepare('SELECT value FROM vault_meta WHERE name = ?').pluck(),
    setMeta: db.prepare('INSERT INTO vault_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
    claimMeta: db.prepare('INSERT INTO vault_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
    putE: db.prepare(`INSERT OR REPLACE INTO vault_elicitations (id, workspace, user_id, agent_id, provider, scopes, reason, workflow_id, created_at, expires_at, status)
      VALUES (@id, @workspace, @user, @agent, @provider, @scopes, @reason, @workflowId, @createdAt, @expiresAt, @status)`),
    getE: db.prepare('SELECT * FROM vault_elicitations WHERE id = ?'),
    pendingE: db.prepare(`SELECT * FROM vault_elicitations WHERE ${pk} AND status = 'pending' ORDER BY created_at`),
    completeE: db.prepare("UPDATE vault_elicitations SET status = 'completed' WHERE id = ?"),
  };
  return {
    async version(k) {
      return q.version.get(...args(k)) as number | undefined;
    },
    async get(k) {
      const r = q.get.get(...args(k)) as GrantRow | undefined;
      return r ? summaryOf(r) : undefined;
    },
    async put(row, expectVersion) {
      const write = db.transaction(() => {
        if (expectVersion !== undefined && (q.version.get(...args(row)) as number | undefined) !== expectVersion) return false;
        q.upsert.run({ ...row, scopes: row.scopes.join(' '), expiresAt: row.expiresAt ?? null, statusReason: row.statusReason ?? null });
        return true;
      });
      return write.immediate();
    },
    async setStatus(k, status, reason, now) {
      return q.status.run(status, reason ?? null, now, ...args(k)).changes > 0;
    },
    async delete(k) {
      return q.delete.run(...args(k)).changes > 0;
    },
    async list(f) {
      const where: string[] = [];
      const values: string[] = [];
      for (const [col, v] of [['workspace', f.workspace], ['user_id', f.user], ['agent_id', f.agent], ['provider', f.provider]] as const) {
        if (v !== undefined) {
          where.push(`${col} = ?`);
          values.push(v);
        }
      }
      const rows = db.prepare(`SELECT * FROM vault_grants ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY user_id, agent_id, provider`).all(...values) as GrantRow[];
      return rows.map((r) => {
        const { sealed: _sealed, ...summary } = summaryOf(r);
        return summary;
      });
    },
    async meta(name) {
      return q.meta.get(name) as string | undefined;
    },
    async setMeta(name, value) {
      q.setMeta.run(name, value);
    },
    async claimMeta(name, value) {
      q.claimMeta.run(name, value);
      return q.meta.get(name) as string;
    },
    async putElicitation(e) {
      q.putE.run({ ...e, scopes: e.scopes.join(' '), workflowId: e.workflowId ?? null });
    },
    async getElicitation(id) {
      const r = q.getE.get(id) as ElicitationRow | undefined;
      return r ? elicitationOf(r) : undefined;
    },
    async pendingElicitations(f) {
      return (q.pendingE.all(f.workspace, f.user, f.agent, f.provider) as ElicitationRow[]).map(elicitationOf);
    },
    async completeElicitations(ids) {
      db.transaction(() => ids.forEach((id) => q.completeE.run(id)))();
    },
  };
}

const KEY_CHECK = 'key-check';
const KEY_CHECK_PLAINTEXT = 'skillgate vault key check';

/** The vault over a store: seals and opens grants, caches opened ones by version. */
export interface Vault {
  readonly store: GrantStore;
  /** The grant (decrypted), or undefined. A hit in the cache costs one version lookup. */
  get(key: GrantKey): Promise<Grant | undefined>;
  /** Store (replace) a grant; with `expectVersion`, only if nobody changed it since (false otherwise). */
  put(key: GrantKey, g: { tokens: GrantTokens; scopes: string[]; expiresAt?: number }, expectVersion?: number): Promise<boolean>;
  /** Mark revoked (kept, so the next call can say why it elicits). */
  markRevoked(key: GrantKey, reason: string): Promise<boolean>;
  /** Forget the grant; returns it as it was (for RFC 7009 revocation at the provider). */
  remove(key: GrantKey): Promise<Grant | undefined>;
  list(filter: Partial<GrantKey>): Promise<GrantSummary[]>;
}

/**
 * Open the vault with its key. A first open records a key check (a constant sealed under
 * the key); every later open must open it, or ERR_VAULT_KEY_MISMATCH — nothing changed.
 */
export async function openVault(store: GrantStore, key: Buffer, opts: { where: string; now?: () => number; maxCached?: number }): Promise<Vault> {
  const now = opts.now ?? Date.now;
  let check = await store.meta(KEY_CHECK);
  if (check === undefined) {
    // Replicas opening a new vault together: the first key check recorded wins, the others are checked against it.
    const mine = seal(key, KEY_CHECK_PLAINTEXT, KEY_CHECK);
    check = await store.claimMeta(KEY_CHECK, mine);
    if (check === mine) await store.setMeta('key-fingerprint', keyFingerprint(key));
  }
  if (open(key, check, KEY_CHECK) !== KEY_CHECK_PLAINTEXT) {
    const was = (await store.meta('key-fingerprint')) ?? 'unknown';
    throw new DownstreamError(
      'ERR_VAULT_KEY_MISMATCH',
      `the vault key (${opts.where}, ${keyFingerprint(key)}) does not open this vault, which was created with key ${was}: start with the key it was created with. Nothing in the vault was changed.`,
    );
  }
  const aad = (k: GrantKey) => `skillgate-vault/v1\0${k.workspace}\0${k.user}\0${k.agent}\0${k.provider}`;
  const cacheKey = (k: GrantKey) => `${k.workspace}\0${k.user}\0${k.agent}\0${k.provider}`;
  const cache = new Map<string, Grant>();
  const maxCached = opts.maxCached ?? 10_000;

  const decode = (k: GrantKey, row: GrantSummary & { sealed: string }): Grant => {
    const text = open(key, row.sealed, aad(k));
    if (text === undefined) throw new DownstreamError('ERR_VAULT_RECORD', `the vault record of ${k.user} / ${k.agent} / ${k.provider} does not open: it was changed outside Skillgate or copied from another record`);
    const { sealed: _s, ...summary } = row;
    return { ...summary, tokens: JSON.parse(text) as GrantTokens };
  };

  return {
    store,
    async get(k) {
      const ck = cacheKey(k);
      const cached = cache.get(ck);
      const version = await store.version(k);
      if (version === undefined) {
        cache.delete(ck);
        return undefined;
      }
      if (cached && cached.version === version) return cached;
      const row = await store.get(k);
      if (!row) return undefined;
      const grant = decode(k, row);
      if (cache.size >= maxCached) cache.delete(cache.keys().next().value!);
      cache.set(ck, grant);
      return grant;
    },
    async put(k, g, expectVersion) {
      const current = await store.version(k);
      const row = {
        ...k,
        scopes: [...new Set(g.scopes)].sort(),
        ...(g.expiresAt !== undefined ? { expiresAt: g.expiresAt } : {}),
        status: 'active' as const,
        version: (current ?? 0) + 1,
        updatedAt: now(),
        sealed: seal(key, JSON.stringify(g.tokens), aad(k)),
      };
      const ok = await store.put(row, expectVersion);
      cache.delete(cacheKey(k));
      return ok;
    },
    async markRevoked(k, reason) {
      cache.delete(cacheKey(k));
      return store.setStatus(k, 'revoked', reason, now());
    },
    async remove(k) {
      const row = await store.get(k);
      cache.delete(cacheKey(k));
      if (!row) return undefined;
      let grant: Grant | undefined;
      try {
        grant = decode(k, row);
      } catch {
        grant = undefined;
      }
      await store.delete(k);
      return grant;
    },
    list: (f) => store.list(f),
  };
}
