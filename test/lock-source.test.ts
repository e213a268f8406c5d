/**
 * The pinned catalog's storage, on both backends: `tools.lock.json` (one machine) and a real
 * PostgreSQL (every replica follows one lock). Two sources on one store stand for two replicas:
 * an approval written through one is read by the other within a second. Both refuse to hand out
 * an empty lock for a missing or corrupt one. PostgreSQL only: the file is imported into an empty
 * database once; two approvals at once cannot lose one (compare-and-set); a replica that cannot
 * confirm its copy says so (the catalog then serves nothing); a newer schema is refused.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type PinLock, formatLock, LockError } from '../gateway/curation/lock.js';
import { openPostgresLockSource } from '../gateway/curation/lock-postgres.js';
import { fileLockSource, type LockSource } from '../gateway/curation/lock-source.js';
import { pgQuery, recordForeignMigration, usePostgres } from './helpers/postgres.js';

const cluster = usePostgres();
let dbs = 0;

function lockWith(tools: string[]): PinLock {
  return {
    lockfileVersion: 1,
    servers: {
      'core-banking': {
        identity: { name: 'core-banking', version: '1.0.0', command: 'node', args: ['demo/core-banking.js'] },
        grade: 'A',
        tools: Object.fromEntries(tools.map((t) => [t, { hash: `sha256:${'ab'.repeat(32)}`, grade: 'A' as const, approvedBy: 'test', approvedAt: '2026-12-06T10:00:00.000Z' }])),
      },
    },
  };
}
const toolsOf = (s: LockSource) => Object.keys(s.read().servers['core-banking']!.tools).sort();

/** One fresh store of a backend: open sources on it (replicas), and corrupt it behind their back. */
interface Fresh {
  file: string;
  /** The database (PostgreSQL). */
  url?: string;
  open(): Promise<LockSource>;
  corrupt(): Promise<void>;
}

const backends: Array<{ name: string; fresh(): Promise<Fresh> }> = [
  {
    name: 'file',
    async fresh() {
      const dir = cluster.tempDir('skillgate-lock-');
      const file = join(dir, 'tools.lock.json');
      return { file, open: async () => fileLockSource(file), corrupt: async () => writeFileSync(file, '{ "lockfileVersion": 1, ') };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const dir = cluster.tempDir('skillgate-lock-');
      const file = join(dir, 'tools.lock.json');
      const url = await cluster.server.createDatabase(`lock_${process.pid}_${dbs++}`);
      return {
        file,
        url,
        open: () => openPostgresLockSource(url, { file, pollMs: 200, maxStalenessMs: 1_000 }),
        corrupt: async () => {
          await pgQuery(url, "UPDATE skillgate_catalog_lock SET body = '{ \"lockfileVersion\": 1, ', version = version + 1");
          await pgQuery(url, 'NOTIFY skillgate_catalog');
        },
      };
    },
  },
];

/** Resolves when `source` tells its watchers of a change, or throws after `ms`. */
function changed(source: LockSource, ms = 1_000): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no change seen within ${ms} ms`));
    }, ms);
    const stop = source.watch(() => {
      clearTimeout(timer);
      stop();
      resolve(performance.now() - t0);
    });
  });
}

describe.each(backends)('pinned catalog storage: $name', (backend) => {
  it('says the lock is missing, never hands out an empty one', async () => {
    const store = await backend.fresh();
    const a = await store.open();
    try {
      expect(() => a.read()).toThrow(LockError);
      expect(() => a.read()).toThrow(expect.objectContaining({ code: 'ERR_LOCK_MISSING' }) as Error);
      expect(a.problem()).toBeUndefined();
    } finally {
      await a.close();
    }
  });

  it('an approval written through one replica is read by the other within a second', async () => {
    const store = await backend.fresh();
    const [a, b] = [await store.open(), await store.open()];
    try {
      const seen = changed(b);
      await a.write(lockWith(['get_customer', 'issue_credit']));
      const ms = await seen;
      expect(toolsOf(b)).toEqual(['get_customer', 'issue_credit']);
      // A withdrawal, the same way.
      const again = changed(b);
      toolsOf(a);
      await a.write(lockWith(['get_customer']));
      await again;
      expect(toolsOf(b)).toEqual(['get_customer']);
      expect(ms).toBeLessThan(1_000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a corrupt lock is an error naming the problem, not an empty lock', async () => {
    const store = await backend.fresh();
    const a = await store.open();
    try {
      await a.write(lockWith(['get_customer']));
      const seen = changed(a, 2_000);
      await store.corrupt();
      await seen;
      expect(() => a.read()).toThrow(expect.objectContaining({ code: 'ERR_LOCK_CORRUPT', message: expect.stringMatching(/not JSON/) }) as Error);
    } finally {
      await a.close();
    }
  });
});

describe('pinned catalog storage: postgres only', () => {
  const pg = backends[1]!;

  it('imports tools.lock.json into an empty database once; later edits of the file are not the lock', async () => {
    const store = await pg.fresh();
    writeFileSync(store.file, formatLock(lockWith(['get_customer'])));
    const a = await store.open();
    try {
      expect(toolsOf(a)).toEqual(['get_customer']);
      writeFileSync(store.file, formatLock(lockWith(['get_customer', 'issue_credit'])));
      const b = await store.open();
      expect(toolsOf(b)).toEqual(['get_customer']);
      await b.close();
    } finally {
      await a.close();
    }
  });

  it('does not import a corrupt file: the lock is missing until tools are approved', async () => {
    const store = await pg.fresh();
    writeFileSync(store.file, '{ nope');
    const problems: string[] = [];
    const a = await openPostgresLockSource(store.url!, { file: store.file, onProblem: (m) => problems.push(m) });
    try {
      expect(() => a.read()).toThrow(expect.objectContaining({ code: 'ERR_LOCK_MISSING' }) as Error);
      expect(problems.join('\n')).toMatch(/not imported/);
      expect(readFileSync(store.file, 'utf8')).toBe('{ nope');
    } finally {
      await a.close();
    }
  });

  it('two approvals at once cannot lose one: the second is refused, nothing it read is written, and it can approve again on top', async () => {
    const store = await pg.fresh();
    const [c, d] = [await store.open(), await store.open()];
    try {
      const seen = changed(d);
      await c.write(lockWith(['base']));
      await seen;
      // Both read the same lock; C writes first (D may even follow it: D wrote what it read).
      expect([toolsOf(c), toolsOf(d)]).toEqual([['base'], ['base']]);
      await c.write(lockWith(['base', 'one']));
      await expect(d.write(lockWith(['base', 'two']))).rejects.toThrow(expect.objectContaining({ code: 'ERR_LOCK_CONFLICT', message: expect.stringMatching(/changed by someone else since it was read; nothing was written/) }) as Error);
      for (let i = 0; i < 100 && toolsOf(d).length !== 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(toolsOf(d)).toEqual(['base', 'one']);
      // D read again (above): its approval goes on top of C's.
      await d.write(lockWith(['base', 'one', 'two']));
      expect(toolsOf(c).length === 3 || toolsOf(d).length === 3).toBe(true);
      expect(toolsOf(d)).toEqual(['base', 'one', 'two']);
    } finally {
      await c.close();
      await d.close();
    }
  });

  it('a replica that cannot confirm its copy says so (the catalog serves nothing), and recovers after the server is back', async () => {
    const store = await pg.fresh();
    const a = await store.open();
    try {
      await a.write(lockWith(['get_customer']));
      expect(a.problem()).toBeUndefined();
      await cluster.server.stop('immediate');
      try {
        const t0 = Date.now();
        while (!a.problem()) {
          if (Date.now() - t0 > 5_000) throw new Error('no problem reported within 5 s of the server stopping');
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(a.problem()).toMatchObject({ code: 'ERR_LOCK_UNAVAILABLE', message: expect.stringMatching(/has not been confirmed for \d+ ms.*; no upstream tool is served/) });
      } finally {
        await cluster.server.start();
      }
      const t1 = Date.now();
      while (a.problem()) {
        if (Date.now() - t1 > 10_000) throw new Error('still unavailable 10 s after the server is back');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(toolsOf(a)).toEqual(['get_customer']);
    } finally {
      await a.close();
    }
  }, 30_000);

  it('refuses a database holding a catalog migration this code does not know', async () => {
    const store = await pg.fresh();
    await (await store.open()).close();
    await recordForeignMigration({ postgresUrl: store.url! }, 'catalog', '999-from-the-future');
    await expect(openPostgresLockSource(store.url!, { file: store.file })).rejects.toThrow(/999-from-the-future/);
    expect(existsSync(store.file)).toBe(false);
  });
});
