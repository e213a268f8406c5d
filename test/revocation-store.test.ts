/**
 * The revocation list's contract, on both backends: SQLite (one file, one machine) and a real
 * PostgreSQL (several replicas). Two stores on one database stand for two replicas: what one
 * revokes the other refuses within a second. PostgreSQL only: a server restart is survived, and
 * a replica that cannot confirm its copy refuses everyone (fail closed), up to the HTTP front
 * door's retryable 503.
 */
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPostgresRevocations, type PostgresRevocationOptions } from '../gateway/identity/revocations-postgres.js';
import { openSqliteRevocations } from '../gateway/identity/revocations-sqlite.js';
import type { RevocationStore } from '../gateway/identity/revocations.js';
import { startTestGateway } from './helpers/gateway.js';
import { recordForeignMigration, usePostgres } from './helpers/postgres.js';

const cluster = usePostgres();
let dbs = 0;

/** One fresh database of a backend: open stores on it (replicas), and write into it behind their back. */
interface Fresh {
  dir: string;
  open(opts?: { legacyFile?: string } & PostgresRevocationOptions): Promise<RevocationStore>;
  recordMigration(component: string, id: string): Promise<void>;
}

const backends: Array<{ name: string; fresh(): Promise<Fresh> }> = [
  {
    name: 'sqlite',
    async fresh() {
      const dir = cluster.tempDir('skillgate-rev-');
      const file = join(dir, 'skillgate.db');
      return {
        dir,
        open: async (o = {}) => openSqliteRevocations(file, o.legacyFile ? { legacyFile: o.legacyFile } : {}),
        recordMigration: (component, id) => recordForeignMigration({ sqliteFile: file }, component, id),
      };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const dir = cluster.tempDir('skillgate-rev-');
      const url = await cluster.server.createDatabase(`rev_${process.pid}_${dbs++}`);
      return {
        dir,
        open: (o = {}) => openPostgresRevocations(url, o),
        recordMigration: (component, id) => recordForeignMigration({ postgresUrl: url }, component, id),
      };
    },
  },
];

/** How long until `cond` holds (polling every 5 ms), or throws after `limitMs`. */
async function timeUntil(cond: () => boolean, limitMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

describe.each(backends)('revocation store on $name', (backend) => {
  it('revokes, lists and restores; prototype names are users like any other', async () => {
    const db = await backend.fresh();
    const store = await db.open();
    try {
      expect(store.isRevoked('intern')).toBeUndefined();
      await store.revoke('intern', { by: 'ops', reason: 'left' });
      expect(store.isRevoked('intern')).toMatchObject({ by: 'ops', reason: 'left' });
      expect(store.isRevoked('intern')?.unavailable).toBeUndefined();
      for (const name of ['constructor', '__proto__', 'toString']) expect(store.isRevoked(name), name).toBeUndefined();
      await store.revoke('__proto__', { by: 'ops' });
      expect(Object.keys(await store.list()).sort()).toEqual(['__proto__', 'intern']);
      expect(await store.restore('intern')).toBe(true);
      expect(await store.restore('intern')).toBe(false);
      expect(store.isRevoked('intern')).toBeUndefined();
      expect(store.isRevoked('__proto__')?.by).toBe('ops');
    } finally {
      await store.close();
    }
  });

  it('a revocation through one replica is refused by another within a second, and so is its lifting', async () => {
    const db = await backend.fresh();
    const a = await db.open();
    const b = await db.open();
    try {
      expect(b.isRevoked('ceo')).toBeUndefined();
      await a.revoke('ceo', { by: 'ops' });
      expect(await timeUntil(() => b.isRevoked('ceo') !== undefined, 1_000, 'revoked on B')).toBeLessThan(1_000);
      expect(b.isRevoked('ceo')?.unavailable).toBeUndefined();
      await a.restore('ceo');
      expect(await timeUntil(() => b.isRevoked('ceo') === undefined, 1_000, 'restored on B')).toBeLessThan(1_000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('imports a legacy revocations.json once, keeping who was revoked, and renames it', async () => {
    const db = await backend.fresh();
    const legacyFile = join(db.dir, 'revocations.json');
    writeFileSync(legacyFile, JSON.stringify({ users: { alice: { at: '2025-01-01T00:00:00.000Z', by: 'ops', reason: 'fraud' } } }));
    const store = await db.open({ legacyFile });
    try {
      expect(store.isRevoked('alice')).toEqual({ at: '2025-01-01T00:00:00.000Z', by: 'ops', reason: 'fraud' });
      expect(existsSync(legacyFile)).toBe(false);
      expect(existsSync(`${legacyFile}.imported`)).toBe(true);
    } finally {
      await store.close();
    }
    // A damaged legacy list stops the open: nobody revoked is forgotten.
    writeFileSync(legacyFile, '{"users": ');
    await expect(db.open({ legacyFile })).rejects.toMatchObject({ code: 'ERR_STORAGE_IMPORT' });
    expect(existsSync(legacyFile)).toBe(true);
  });

  it('refuses a database written by a newer Skillgate (an unknown migration)', async () => {
    const db = await backend.fresh();
    await (await db.open()).close();
    await db.recordMigration('revocations', '999-from-the-future');
    await expect(db.open()).rejects.toMatchObject({ code: 'ERR_STORAGE_NEWER', message: expect.stringContaining('999-from-the-future') });
  });
});

describe('revocation store on postgres: faults', () => {
  it('replicas opening together migrate once (advisory lock)', async () => {
    const db = await backends[1]!.fresh();
    const stores = await Promise.all([db.open(), db.open(), db.open(), db.open()]);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('survives a server restart: the listener reconnects and propagation works again', async () => {
    const db = await backends[1]!.fresh();
    const problems: string[] = [];
    const a = await db.open();
    const b = await db.open({ onProblem: (m) => problems.push(m) });
    // Notifications only (no poll in the test's time): proves the listener itself came back.
    const listenerOnly = await db.open({ pollMs: 60_000, maxStalenessMs: 600_000 });
    try {
      await cluster.server.restart('immediate');
      // The first write may meet a connection the restart killed; the pool replaces it.
      let revoked = false;
      for (let i = 0; i < 20 && !revoked; i++) {
        revoked = await a.revoke('intern', { by: 'ops' }).then(
          () => true,
          async () => (await new Promise((r) => setTimeout(r, 100)), false),
        );
      }
      expect(revoked).toBe(true);
      expect(await timeUntil(() => b.isRevoked('intern') !== undefined, 1_000, 'revoked on B after the restart')).toBeLessThan(1_000);
      await timeUntil(() => listenerOnly.isRevoked('intern') !== undefined, 5_000, 'revoked on the listener-only replica');
      await a.restore('intern');
      expect(await timeUntil(() => listenerOnly.isRevoked('intern') === undefined, 1_000, 'restored on the listener-only replica')).toBeLessThan(1_000);
      expect(problems.length).toBeGreaterThan(0);
    } finally {
      await a.close();
      await b.close();
      await listenerOnly.close();
    }
  });

  it('fails closed once its copy is older than maxStalenessMs, and recovers with the server', async () => {
    const db = await backends[1]!.fresh();
    const store = await db.open({ maxStalenessMs: 600, pollMs: 100 });
    try {
      await store.revoke('intern', { by: 'ops' });
      expect(store.isRevoked('ceo')).toBeUndefined();
      await cluster.server.stop('immediate');
      await timeUntil(() => store.isRevoked('ceo') !== undefined, 3_000, 'refused while the server is down');
      expect(store.isRevoked('ceo')).toMatchObject({ unavailable: true, reason: expect.stringContaining('revocation list is unavailable') });
      expect(store.isRevoked('intern')?.unavailable).toBe(true);
      await cluster.server.start();
      await timeUntil(() => store.isRevoked('ceo') === undefined, 5_000, 'answering again after the restart');
      expect(store.isRevoked('intern')).toMatchObject({ by: 'ops' });
    } finally {
      // Started again above unless the test failed first (a second start of a running server fails).
      await cluster.server.start().catch(() => {});
      await store.close();
    }
  });

  it('the front door answers a retryable 503 while the list is unavailable (storage.kind: postgres)', async () => {
    const url = await cluster.server.createDatabase(`rev_${process.pid}_gw`);
    const t = await startTestGateway({ extra: { storage: { kind: 'postgres', postgres: { url, maxStalenessMs: 1_000, pollMs: 100 } } } });
    try {
      const resource = t.gw.resourceUrl('hr-desk');
      const token = await t.token('intern', 'hr-assistant', 'hr-desk');
      const init = () =>
        fetch(resource, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
        });
      expect((await init()).status).toBe(200);
      await cluster.server.stop('immediate');
      await timeUntil(() => t.governance.revocations.isRevoked('intern') !== undefined, 3_000, 'unavailable');
      const res = await init();
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(t.logs.filter((l) => l.event === 'refusal' && l.code === 'ERR_REVOCATIONS_UNAVAILABLE').length).toBeGreaterThan(0);
    } finally {
      // Started again above unless the test failed first (a second start of a running server fails).
      await cluster.server.start().catch(() => {});
      await t.close();
    }
  });
});
