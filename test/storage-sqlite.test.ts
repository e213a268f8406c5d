import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openSqlite, StorageError } from '../src/storage/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'skillgate-storage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const V1 = [{ id: '001-things', sql: 'CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL)' }];
const V2 = [...V1, { id: '002-things-label', sql: 'ALTER TABLE things ADD COLUMN label TEXT' }];

describe('SQLite state database', () => {
  it('processes starting together (replicas) apply each migration once, whoever comes first', async () => {
    const file = join(dir, 'together.db');
    const script = `
      const { migrate, openSqlite } = await import(${JSON.stringify(join(process.cwd(), 'src/storage/sqlite.ts'))});
      const db = openSqlite(${JSON.stringify(file)});
      await new Promise((r) => setTimeout(r, Number(process.argv[1]) - Date.now()));
      process.stdout.write(JSON.stringify(migrate(db, 'things', ${JSON.stringify(V2)})));
    `;
    const at = Date.now() + 1500;
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, String(at)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        return new Promise<{ code: number | null; out: string }>((resolve) => child.on('close', (code) => resolve({ code, out })));
      }),
    );
    for (const r of runs) expect(r.code, r.out).toBe(0);
    // One process applied both; the others found them applied.
    expect(runs.map((r) => JSON.parse(r.out) as string[]).sort((a, b) => b.length - a.length)).toEqual([['001-things', '002-things-label'], [], [], []]);
  }, 60_000);

  it('creates the file and its folder, in WAL mode with full fsync by default', () => {
    const db = openSqlite(join(dir, 'a', 'state.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    db.close();
  });

  it('applies migrations once, in order, per component; keeps the data across reopen', () => {
    const file = join(dir, 'b.db');
    let db = openSqlite(file);
    expect(migrate(db, 'things', V1)).toEqual(['001-things']);
    expect(migrate(db, 'things', V1)).toEqual([]);
    db.prepare('INSERT INTO things (id, n) VALUES (?, ?)').run('x', 1);
    db.close();
    db = openSqlite(file);
    expect(migrate(db, 'things', V2)).toEqual(['002-things-label']);
    expect(migrate(db, 'other', [{ id: '001-things', sql: 'CREATE TABLE other_things (id TEXT)' }])).toEqual(['001-things']);
    expect(db.prepare('SELECT id, n, label FROM things').all()).toEqual([{ id: 'x', n: 1, label: null }]);
    db.close();
  });

  it('refuses a database written by a newer version, changing nothing', () => {
    const file = join(dir, 'c.db');
    const db = openSqlite(file);
    migrate(db, 'things', V2);
    let err: unknown;
    try {
      migrate(db, 'things', V1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('ERR_STORAGE_NEWER');
    expect((err as Error).message).toContain('002-things-label');
    expect(db.prepare("SELECT count(*) AS n FROM skillgate_migrations WHERE component = 'things'").get()).toEqual({ n: 2 });
    db.close();
  });

  it('a failing migration applies nothing of its batch', () => {
    const db = openSqlite(':memory:');
    const bad = [...V1, { id: '002-broken', sql: 'ALTER TABLE nowhere ADD COLUMN x TEXT' }];
    expect(() => migrate(db, 'things', bad)).toThrow(/things migration 002-broken failed/);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'things'").all()).toEqual([]);
    db.close();
  });
});
