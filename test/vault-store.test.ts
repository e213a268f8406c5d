/**
 * The vault's storage contract, on both backends: SQLite (one file, one machine) and a real
 * PostgreSQL (several replicas). Two stores on one database stand for two replicas: a grant
 * one writes the other reads at once, and of two refreshing the same grant only one wins.
 * Tokens are stored sealed only; a wrong key is refused and changes nothing. PostgreSQL only:
 * a server restart is survived, and `storage.kind: postgres` puts the vault there.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryAuditSink } from '../gateway/audit/memory.js';
import { openPostgresGrantStore } from '../gateway/downstream/vault-postgres.js';
import { openSqliteGrantStore, openVault, type Elicitation, type GrantStore } from '../gateway/downstream/vault.js';
import { openCredentials } from '../src/app/runtime/credentials.js';
import { openSqlite } from '../src/storage/sqlite.js';
import { pgQuery, recordForeignMigration, usePostgres } from './helpers/postgres.js';
import { testWorkspace } from './helpers/workspace.js';

const cluster = usePostgres();
let dbs = 0;

interface Replica {
  store: GrantStore;
  close(): Promise<void>;
}

/** One fresh database of a backend: open stores on it (replicas), and read or write it behind their back. */
interface Fresh {
  open(): Promise<Replica>;
  /** Every row of the vault's tables, as stored. */
  rows(): Promise<unknown[]>;
  recordMigration(component: string, id: string): Promise<void>;
}

const backends: Array<{ name: string; fresh(): Promise<Fresh> }> = [
  {
    name: 'sqlite',
    async fresh() {
      const dir = cluster.tempDir('skillgate-vault-');
      const file = join(dir, 'skillgate.db');
      const sql = (fn: (db: ReturnType<typeof openSqlite>) => unknown) => {
        const db = openSqlite(file);
        try {
          return fn(db);
        } finally {
          db.close();
        }
      };
      return {
        async open() {
          const db = openSqlite(file);
          try {
            return { store: openSqliteGrantStore(db), close: async () => void db.close() };
          } catch (err) {
            db.close();
            throw err;
          }
        },
        rows: async () => sql((db) => ['vault_meta', 'vault_grants', 'vault_elicitations'].flatMap((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all())) as unknown[],
        recordMigration: (component, id) => recordForeignMigration({ sqliteFile: file }, component, id),
      };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const url = await cluster.server.createDatabase(`vault_${process.pid}_${dbs++}`);
      return {
        async open() {
          const store = await openPostgresGrantStore(url);
          return { store, close: () => store.close() };
        },
        async rows() {
          const out: unknown[] = [];
          for (const t of ['skillgate_vault_meta', 'skillgate_vault_grants', 'skillgate_vault_elicitations']) out.push(...(await pgQuery(url, `SELECT * FROM ${t} ORDER BY 1, 2`)));
          return out;
        },
        recordMigration: (component, id) => recordForeignMigration({ postgresUrl: url }, component, id),
      };
    },
  },
];

const KEY = Buffer.alloc(32, 1);
const OTHER_KEY = Buffer.alloc(32, 2);
const grant = { workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' };
const tokens = (n: string) => ({ accessToken: `at-secret-${n}-0123456789`, refreshToken: `rt-secret-${n}-9876543210`, tokenType: 'Bearer' });

/** Retry `op` until it succeeds (a connection the restart killed fails once), at most `limitMs`. */
async function eventually<T>(op: () => Promise<T>, limitMs: number): Promise<{ value: T; failures: number }> {
  const t0 = performance.now();
  let failures = 0;
  for (;;) {
    try {
      return { value: await op(), failures };
    } catch (err) {
      failures++;
      if (performance.now() - t0 > limitMs) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe.each(backends)('vault store on $name', (backend) => {
  it('stores, reads, lists, revokes and removes grants; tokens are stored sealed only', async () => {
    const db = await backend.fresh();
    const r = await db.open();
    try {
      const vault = await openVault(r.store, KEY, { where: 'test' });
      expect(await vault.get(grant)).toBeUndefined();
      expect(await vault.put(grant, { tokens: tokens('1'), scopes: ['read', 'send', 'read'], expiresAt: 1_900_000_000_000 })).toBe(true);
      await vault.put({ ...grant, user: 'other-parent' }, { tokens: tokens('2'), scopes: [] });
      expect(await vault.get(grant)).toMatchObject({ ...grant, tokens: tokens('1'), scopes: ['read', 'send'], expiresAt: 1_900_000_000_000, status: 'active', version: 1 });

      const listed = await vault.list({ workspace: 'test' });
      expect(listed.map((g) => g.user)).toEqual(['other-parent', 'parent']);
      expect(listed[1]).toEqual({ ...grant, scopes: ['read', 'send'], expiresAt: 1_900_000_000_000, status: 'active', version: 1, updatedAt: expect.any(Number) });
      expect(JSON.stringify(listed)).not.toMatch(/secret|sealed/);
      expect(await vault.list({ user: 'parent', provider: 'gmail' })).toHaveLength(1);
      expect(await vault.list({ user: 'nobody' })).toEqual([]);

      const stored = JSON.stringify(await db.rows());
      expect(stored).not.toContain('at-secret');
      expect(stored).not.toContain('rt-secret');

      expect(await vault.markRevoked(grant, 'user')).toBe(true);
      expect(await vault.get(grant)).toMatchObject({ status: 'revoked', statusReason: 'user', version: 2, tokens: tokens('1') });
      expect(await vault.markRevoked({ ...grant, user: 'nobody' }, 'user')).toBe(false);
      expect((await vault.remove(grant))?.tokens).toEqual(tokens('1'));
      expect(await vault.get(grant)).toBeUndefined();
      expect(await vault.remove(grant)).toBeUndefined();
      expect(await vault.list({})).toHaveLength(1);
    } finally {
      await r.close();
    }
  });

  it('keeps elicitations: pending in order, completed ones no longer pending', async () => {
    const db = await backend.fresh();
    const r = await db.open();
    try {
      const e = (id: string, createdAt: number, extra: Partial<Elicitation> = {}): Elicitation => ({ id, ...grant, scopes: ['read'], reason: 'needs mail', createdAt, expiresAt: createdAt + 600_000, status: 'pending', ...extra });
      await r.store.putElicitation(e('e2', 2_000));
      await r.store.putElicitation(e('e1', 1_000, { workflowId: 'run-1' }));
      await r.store.putElicitation(e('e3', 3_000, { user: 'other-parent' }));
      expect((await r.store.pendingElicitations(grant)).map((x) => x.id)).toEqual(['e1', 'e2']);
      expect(await r.store.getElicitation('e1')).toEqual(e('e1', 1_000, { workflowId: 'run-1' }));
      await r.store.putElicitation(e('e2', 2_000, { scopes: ['read', 'send'] }));
      expect((await r.store.getElicitation('e2'))?.scopes).toEqual(['read', 'send']);
      await r.store.completeElicitations(['e1', 'e2']);
      await r.store.completeElicitations([]);
      expect(await r.store.pendingElicitations(grant)).toEqual([]);
      expect((await r.store.getElicitation('e1'))?.status).toBe('completed');
      expect(await r.store.getElicitation('nope')).toBeUndefined();
    } finally {
      await r.close();
    }
  });

  it('a wrong key is refused at open and nothing is changed; the right key still opens everything', async () => {
    const db = await backend.fresh();
    const a = await db.open();
    try {
      const vault = await openVault(a.store, KEY, { where: 'test' });
      await vault.put(grant, { tokens: tokens('1'), scopes: ['read'] });
    } finally {
      await a.close();
    }
    const before = await db.rows();
    const b = await db.open();
    try {
      const err = await openVault(b.store, OTHER_KEY, { where: 'vault.key' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'ERR_VAULT_KEY_MISMATCH', message: expect.stringMatching(/does not open this vault, which was created with key sha256:[0-9a-f]{16}.*Nothing in the vault was changed/) });
      expect(await db.rows()).toEqual(before);
      expect((await (await openVault(b.store, KEY, { where: 'test' })).get(grant))?.tokens).toEqual(tokens('1'));
    } finally {
      await b.close();
    }
  });

  it('replicas opening a new vault together with different keys: the first key wins, the other is refused', async () => {
    const db = await backend.fresh();
    const a = await db.open();
    const b = await db.open();
    try {
      const results = await Promise.allSettled([openVault(a.store, KEY, { where: 'a' }), openVault(b.store, OTHER_KEY, { where: 'b' })]);
      expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((x) => x.status === 'rejected')).toMatchObject({ reason: { code: 'ERR_VAULT_KEY_MISMATCH' } });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a grant written through one replica is read by another at once, changes included', async () => {
    const db = await backend.fresh();
    const a = await db.open();
    const b = await db.open();
    try {
      const va = await openVault(a.store, KEY, { where: 'a' });
      const vb = await openVault(b.store, KEY, { where: 'b' });
      await va.put(grant, { tokens: tokens('1'), scopes: ['read'] });
      expect((await vb.get(grant))?.tokens).toEqual(tokens('1'));
      // B's cache holds version 1: a refresh on A is seen by B's next read.
      expect(await va.put(grant, { tokens: tokens('2'), scopes: ['read'] }, 1)).toBe(true);
      expect(await vb.get(grant)).toMatchObject({ tokens: tokens('2'), version: 2 });
      await va.markRevoked(grant, 'provider');
      expect(await vb.get(grant)).toMatchObject({ status: 'revoked', statusReason: 'provider' });
      await va.remove(grant);
      expect(await vb.get(grant)).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refresh is a compare-and-set: of concurrent refreshers on two replicas exactly one wins', async () => {
    const db = await backend.fresh();
    const a = await db.open();
    const b = await db.open();
    try {
      const va = await openVault(a.store, KEY, { where: 'a' });
      const vb = await openVault(b.store, KEY, { where: 'b' });
      await va.put(grant, { tokens: tokens('0'), scopes: ['read'] });
      for (let round = 1; round <= 5; round++) {
        const seen = await Promise.all([va.get(grant), vb.get(grant)]);
        expect(seen[0]?.version).toBe(round);
        expect(seen[1]?.version).toBe(round);
        // Four refreshers (two per replica) that all read version `round`.
        const wins = await Promise.all(
          [va, vb, va, vb].map((v, i) => v.put(grant, { tokens: tokens(`${round}-${i}`), scopes: ['read'] }, round)),
        );
        expect(wins.filter(Boolean)).toHaveLength(1);
        const winner = tokens(`${round}-${wins.indexOf(true)}`);
        expect((await va.get(grant))?.tokens).toEqual(winner);
        expect((await vb.get(grant))?.tokens).toEqual(winner);
      }
      // A stale version loses, and so does a refresh of a grant removed meanwhile.
      expect(await vb.put(grant, { tokens: tokens('late'), scopes: ['read'] }, 1)).toBe(false);
      await va.remove(grant);
      expect(await vb.put(grant, { tokens: tokens('gone'), scopes: ['read'] }, 6)).toBe(false);
      expect(await vb.get(grant)).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses a database written by a newer Skillgate (an unknown vault migration)', async () => {
    const db = await backend.fresh();
    await (await db.open()).close();
    await db.recordMigration('vault', '999-from-the-future');
    await expect(db.open()).rejects.toMatchObject({ code: 'ERR_STORAGE_NEWER', message: expect.stringContaining('999-from-the-future') });
  });
});

describe('vault store on postgres: replicas and faults', () => {
  it('replicas opening together migrate once (advisory lock)', async () => {
    const db = await backends[1]!.fresh();
    const rs = await Promise.all([db.open(), db.open(), db.open(), db.open()]);
    const vaults = await Promise.all(rs.map((r) => openVault(r.store, KEY, { where: 'r' })));
    await vaults[0]!.put(grant, { tokens: tokens('1'), scopes: [] });
    for (const v of vaults) expect((await v.get(grant))?.tokens).toEqual(tokens('1'));
    await Promise.all(rs.map((r) => r.close()));
  });

  it('survives a server restart: the pool reconnects and reads and writes work again', async () => {
    const db = await backends[1]!.fresh();
    const a = await db.open();
    const b = await db.open();
    try {
      const va = await openVault(a.store, KEY, { where: 'a' });
      const vb = await openVault(b.store, KEY, { where: 'b' });
      await va.put(grant, { tokens: tokens('1'), scopes: ['read'] });
      expect((await vb.get(grant))?.version).toBe(1);
      await cluster.server.restart('immediate');
      // Reads are tried again once on a fresh connection: the first read after the restart works.
      const read = await eventually(() => va.get(grant), 5_000);
      expect(read.value?.tokens).toEqual(tokens('1'));
      const refreshed = await eventually(() => vb.put(grant, { tokens: tokens('2'), scopes: ['read'] }, 1), 5_000);
      expect(refreshed.value).toBe(true);
      expect((await va.get(grant))?.tokens).toEqual(tokens('2'));
      expect(read.failures).toBe(0);
      // A write meeting a dead connection fails (not retried: it may have committed); the next one works.
      expect(refreshed.failures).toBeLessThanOrEqual(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('storage.kind: postgres puts the vault there: two workspaces (replicas) on one database share grants', async () => {
    const url = await cluster.server.createDatabase(`vault_${process.pid}_ws`);
    const env = { TEST_VAULT_KEY: KEY.toString('base64url') };
    const config = { storage: { kind: 'postgres', postgres: { url } }, vault: { key: '${env:TEST_VAULT_KEY}' } };
    // Checked when the config loads; each open below is given its environment.
    process.env.TEST_VAULT_KEY = 'set-for-the-config-check';
    const wa = testWorkspace(config);
    const wb = testWorkspace(config);
    delete process.env.TEST_VAULT_KEY;
    const a = await openCredentials(wa.loaded, { audit: memoryAuditSink(), env });
    const b = await openCredentials(wb.loaded, { audit: memoryAuditSink(), env });
    try {
      await a.service.vault.put(grant, { tokens: tokens('1'), scopes: ['read'] });
      expect((await b.service.vault.get(grant))?.tokens).toEqual(tokens('1'));
      expect(await pgQuery(url, 'SELECT user_id FROM skillgate_vault_grants')).toEqual([{ user_id: 'parent' }]);
      // Nothing of the vault went to the replicas' SQLite files.
      const file = wa.loaded.path(wa.loaded.config.storage.file);
      const local = openSqlite(file);
      try {
        expect(local.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'vault%'").all()).toEqual([]);
      } finally {
        local.close();
      }
      // A replica with another key is refused, nothing changed.
      const before = await pgQuery(url, 'SELECT * FROM skillgate_vault_grants');
      await expect(openCredentials(wb.loaded, { audit: memoryAuditSink(), env: { TEST_VAULT_KEY: OTHER_KEY.toString('base64url') } })).rejects.toMatchObject({ code: 'ERR_VAULT_KEY_MISMATCH' });
      expect(await pgQuery(url, 'SELECT * FROM skillgate_vault_grants')).toEqual(before);
    } finally {
      await a.close();
      await b.close();
      wa.cleanup();
      wb.cleanup();
    }
  });
});
