/**
 * The audit chain itself, on both real stores — SQLite (one machine) and PostgreSQL (every
 * replica's one chain): events chained and checkpointed as they are recorded, verification of a
 * clean store and of its JSONL export (offline, with the public key only), and each kind of
 * tampering found and named by its first broken event. The tampering is the same SQL on both,
 * run as an attacker holding the database would (the append-only triggers dropped first).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditCheckpoint, AuditEventInput } from '../src/contracts/audit.js';
import { exportAudit, readExport } from '../gateway/audit/export.js';
import { checkpointSigner, loadOrCreateAuditKey, verificationKeys } from '../gateway/audit/keys.js';
import { createAuditLog } from '../gateway/audit/log.js';
import { openPostgresAuditStore } from '../gateway/audit/postgres-store.js';
import { openSqliteAuditStore } from '../gateway/audit/sqlite-store.js';
import type { AuditStore } from '../gateway/audit/store.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';
import { AuditError } from '../gateway/audit/errors.js';
import { chainMonitor } from '../gateway/audit/monitor.js';
import { verifyRecords } from '../gateway/audit/verify.js';
import { canonicalJson } from '../src/shared/canonical-json.js';
import { sealEvent } from '../gateway/audit/hash.js';

const dir = mkdtempSync(join(tmpdir(), 'skillgate-audit-chain-'));
let keys: Map<string, import('node:crypto').KeyObject>;
let publicPem: string;

function event(i: number): AuditEventInput {
  return {
    kind: i % 3 === 0 ? 'decision' : 'tool.call',
    outcome: i % 3 === 0 ? (i % 2 ? 'deny' : 'allow') : 'ok',
    workspace: 'test',
    gateway: 'hr-desk',
    user: i % 2 ? 'intern' : 'ceo',
    agent: 'hr-assistant',
    server: 'hr',
    tool: 'get_employee',
    args: { digest: `sha256:${'a'.repeat(64)}`, masked: { employeeId: `E-${i}` } },
    ids: { requestId: `req-${i}` },
  };
}

/** SQL run against a store's database behind its back: `?` placeholders, tables as `{events}` and `{checkpoints}`. */
interface Raw {
  exec(sql: string): Promise<void>;
  run(sql: string, ...params: unknown[]): Promise<void>;
  get<R>(sql: string, ...params: unknown[]): Promise<R>;
}

/** Where a backend keeps one chain, and how to open, copy and tamper with it. */
interface Backend {
  name: string;
  /** A new, empty location named `name`. */
  fresh(name: string): Promise<string>;
  open(where: string): Promise<AuditStore>;
  /** A copy of the chain at `where` (no store open on it). */
  copy(where: string, name: string): Promise<string>;
  /** Run `tamper` on the database with the append-only triggers dropped. */
  tamper(where: string, tamper: (db: Raw) => Promise<void>): Promise<void>;
}

let server: PostgresServer | undefined;

const backends: Backend[] = [
  {
    name: 'sqlite',
    fresh: async (name) => join(dir, `${name}.db`),
    open: async (where) => openSqliteAuditStore(where),
    async copy(where, name) {
      const copy = join(dir, `${name}.db`);
      copyFileSync(where, copy);
      return copy;
    },
    async tamper(where, tamper) {
      const db = new Database(where);
      const sql = (q: string) => q.replaceAll('{events}', 'audit_events').replaceAll('{checkpoints}', 'audit_checkpoints');
      try {
        db.exec('DROP TRIGGER audit_events_append_only_u; DROP TRIGGER audit_events_append_only_d; DROP TRIGGER audit_checkpoints_append_only_u; DROP TRIGGER audit_checkpoints_append_only_d;');
        await tamper({
          exec: async (q) => void db.exec(sql(q)),
          run: async (q, ...p) => void db.prepare(sql(q)).run(...p),
          get: async <R>(q: string, ...p: unknown[]) => db.prepare(sql(q)).get(...p) as R,
        });
      } finally {
        db.close();
      }
    },
  },
  {
    name: 'postgres',
    fresh: async (name) => server!.createDatabase(`audit_${process.pid}_${name}`),
    open: (where) => openPostgresAuditStore(where),
    copy: async (where, name) => server!.copyDatabase(new URL(where).pathname.slice(1), `audit_${process.pid}_${name}`),
    async tamper(where, tamper) {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: where });
      await c.connect();
      let n = 0;
      const sql = (q: string) => q.replaceAll('{events}', 'skillgate_audit_events').replaceAll('{checkpoints}', 'skillgate_audit_checkpoints').replace(/\?/g, () => `$${++n}`);
      const fresh = (q: string) => ((n = 0), sql(q));
      try {
        await c.query(`DROP TRIGGER skillgate_audit_events_append_only ON skillgate_audit_events;
          DROP TRIGGER skillgate_audit_checkpoints_append_only ON skillgate_audit_checkpoints`);
        await tamper({
          exec: async (q) => void (await c.query(fresh(q))),
          run: async (q, ...p) => void (await c.query(fresh(q), p)),
          get: async <R>(q: string, ...p: unknown[]) => (await c.query(fresh(q), p)).rows[0] as R,
        });
      } finally {
        await c.end();
      }
    },
  },
];

beforeAll(async () => {
  server = await startPostgres();
  const signer = await checkpointSigner(loadOrCreateAuditKey(dir));
  publicPem = signer.publicKeyPem;
  keys = await verificationKeys([{ text: publicPem, where: 'test' }]);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The chain every case starts from: 20 events, recorded in three bursts (each burst one write), checkpoint every 8. */
async function writeChain(store: AuditStore) {
  const log = createAuditLog({ store, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'test', checkpointEvery: 8 });
  for (let i = 1; i <= 20; i++) {
    log.record(event(i));
    if (i % 7 === 0) await log.flush();
  }
  await log.close();
}

const body = (db: Raw, seq: number) => db.get<{ body: string; hash: string }>('SELECT body, hash FROM {events} WHERE seq = ?', seq);

describe.each(backends)('the audit chain on $name', (backend) => {
  let file: string;
  beforeAll(async () => {
    file = await backend.fresh('chain');
    const store = await backend.open(file);
    try {
      await writeChain(store);
    } finally {
      await store.close();
    }
  });

  let copies = 0;
  /** A copy of the chain, tampered with as an attacker with the database would, then verified. */
  async function tampered(tamper: (db: Raw) => Promise<void>) {
    const copy = await backend.copy(file, `t${copies++}`);
    await backend.tamper(copy, tamper);
    const store = await backend.open(copy);
    try {
      return await verifyRecords(store.records(), { keys });
    } finally {
      await store.close();
    }
  }

  describe('the chain as written', () => {
    it('holds 20 events, chained, with a checkpoint once 8 are unsigned and one at close', async () => {
      const store = await backend.open(file);
      try {
        const report = await verifyRecords(store.records(), { keys });
        expect(report).toMatchObject({ ok: true, events: 20, checkpoints: 2, firstSeq: 1, lastSeq: 20, unsigned: 0, lastCheckpoint: { n: 2, seq: 20 } });
        const cps: AuditCheckpoint[] = [];
        for await (const r of store.records()) if (r.type === 'checkpoint') cps.push(r.checkpoint!);
        // Written in bursts of 7 (7, 14, then 20 at close): the write reaching 8 unsigned events carries checkpoint 1.
        expect(cps.map((c) => [c.n, c.seq, c.count])).toEqual([[1, 14, 14], [2, 20, 20]]);
        expect(cps[1]!.prev).not.toBe(cps[0]!.prev);
        // Each event's hash is the SHA-256 of its canonical body, prevHash included.
        const e7 = (await store.get(7))!;
        expect(e7.prevHash).toBe((await store.get(6))!.hash);
        expect(sealEvent({ ...event(7) }, e7.time, 7, e7.prevHash).event).toEqual(e7);
      } finally {
        await store.close();
      }
    });

    it('answers queries by user, tool, outcome and time, newest first, in pages', async () => {
      const store = await backend.open(file);
      try {
        const page1 = await store.query({ user: 'intern', limit: 4 });
        expect(page1.events.map((e) => e.seq)).toEqual([19, 17, 15, 13]);
        const page2 = await store.query({ user: 'intern', limit: 4, before: page1.next });
        expect(page2.events.map((e) => e.seq)).toEqual([11, 9, 7, 5]);
        expect((await store.query({ tool: 'get_employee', outcome: 'deny' })).events.map((e) => e.seq)).toEqual([15, 9, 3]);
        expect((await store.query({ tool: 'hr.get_employee', kind: 'decision', outcome: 'allow' })).events.map((e) => e.seq)).toEqual([18, 12, 6]);
        expect(await store.count({ since: (await store.get(10))!.time })).toBeGreaterThanOrEqual(11);
        expect((await store.query({ user: 'nobody' })).events).toEqual([]);
      } finally {
        await store.close();
      }
    });
  });

  describe('tampering with the store is found, naming the first broken event', () => {
    it('one byte of an event changed', async () => {
      const r = await tampered(async (db) => {
        const { body: b } = await body(db, 5);
        await db.run('UPDATE {events} SET body = ? WHERE seq = 5', b.replace('E-5', 'E-6'));
      });
      expect(r).toMatchObject({ ok: false, issue: { code: 'edited', seq: 5 } });
    });

    it('an indexed column changed to hide an event from queries', async () => {
      const r = await tampered((db) => db.run(`UPDATE {events} SET "user" = 'ceo' WHERE seq = 9`));
      expect(r).toMatchObject({ ok: false, issue: { code: 'edited', seq: 9 } });
      expect(r.issue!.message).toMatch(/user differs/);
    });

    it('an event edited and its hash recomputed', async () => {
      const r = await tampered(async (db) => {
        const e = JSON.parse((await body(db, 6)).body);
        e.user = 'mallory';
        const forged = canonicalJson(e);
        await db.run('UPDATE {events} SET body = ?, "user" = ?, hash = ? WHERE seq = 6', forged, 'mallory', sha(forged));
      });
      expect(r).toMatchObject({ ok: false, issue: { code: 'chain', seq: 6 } });
    });

    it('one event deleted', async () => {
      const r = await tampered((db) => db.run('DELETE FROM {events} WHERE seq = 11'));
      expect(r).toMatchObject({ ok: false, issue: { code: 'missing', seq: 11 } });
    });

    it('one event inserted (the ones after it renumbered)', async () => {
      const r = await tampered(async (db) => {
        await db.exec('UPDATE {events} SET seq = -seq WHERE seq >= 8');
        await db.exec('UPDATE {events} SET seq = 1 - seq WHERE seq < 0');
        const prev = (await body(db, 7)).hash;
        const { event: forged, body: b } = sealEvent(event(99), new Date().toISOString(), 8, prev);
        await db.run(
          'INSERT INTO {events} (seq, time, kind, outcome, workspace, gateway, agent, "user", tool, request_id, body, hash) VALUES (8, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          forged.time, forged.kind, forged.outcome, forged.workspace, forged.gateway, forged.agent, forged.user, 'hr.get_employee', 'req-99', b, forged.hash,
        );
      });
      expect(r).toMatchObject({ ok: false, issue: { code: 'missing', seq: 8 } });
    });

    it('two events swapped', async () => {
      const r = await tampered(async (db) => {
        await db.exec('UPDATE {events} SET seq = -12 WHERE seq = 12');
        await db.exec('UPDATE {events} SET seq = 12 WHERE seq = 13');
        await db.exec('UPDATE {events} SET seq = 13 WHERE seq = -12');
      });
      expect(r).toMatchObject({ ok: false, issue: { code: 'missing', seq: 12 } });
    });

    it('the tail truncated', async () => {
      const r = await tampered((db) => db.run('DELETE FROM {events} WHERE seq > 17'));
      expect(r).toMatchObject({ ok: false, issue: { code: 'truncated', seq: 18, checkpoint: 2 } });
    });

    it("a checkpoint's signature replaced", async () => {
      const other = generateKeyPairSync('ed25519').privateKey;
      const otherSigner = await checkpointSigner(other);
      const r = await tampered(async (db) => {
        const row = await db.get<{ body: string }>('SELECT body FROM {checkpoints} WHERE n = 2');
        const c = JSON.parse(row.body) as AuditCheckpoint;
        const { signature: _s, ...payload } = c;
        c.signature = otherSigner.sign(canonicalJson(payload));
        await db.run('UPDATE {checkpoints} SET body = ? WHERE n = 2', canonicalJson(c));
      });
      expect(r).toMatchObject({ ok: false, issue: { code: 'signature', seq: 15, checkpoint: 2 } });
    });

    it('the whole chain after checkpoint 1 rewritten with recomputed hashes', async () => {
      const r = await tampered(async (db) => {
        let prev = (await body(db, 14)).hash;
        for (let seq = 15; seq <= 20; seq++) {
          const e = JSON.parse((await body(db, seq)).body);
          const { event: forged, body: b } = sealEvent({ ...e, seq: undefined, time: undefined, prevHash: undefined, outcome: 'ok' }, e.time, seq, prev);
          await db.run('UPDATE {events} SET body = ?, hash = ?, outcome = ? WHERE seq = ?', b, forged.hash, 'ok', seq);
          prev = forged.hash;
        }
      });
      expect(r).toMatchObject({ ok: false, issue: { code: 'checkpoint', seq: 15, checkpoint: 2 } });
    });
  });

  describe('the JSONL export', () => {
    const exported = join(dir, `export-${backend.name}.jsonl`);
    beforeAll(async () => {
      const store = await backend.open(file);
      const lines: string[] = [];
      await exportAudit(store, { workspace: 'test' }, (l) => void lines.push(l));
      await store.close();
      writeFileSync(exported, lines.join(''));
    });

    const offline = async (text: string) => {
      const f = join(dir, `x-${Math.random().toString(36).slice(2)}.jsonl`);
      writeFileSync(f, text);
      const parsed = await readExport(f);
      return verifyRecords(parsed.records, { keys, ...(parsed.anchor ? { anchor: parsed.anchor } : {}), expectLastSeq: parsed.header.lastSeq });
    };
    const lines = () => readFileSync(exported, 'utf8').trimEnd().split('\n');

    it('verifies offline with the public key alone', async () => {
      expect(lines()[0]).toContain('"format":"skillgate-audit/1"');
      expect(await offline(readFileSync(exported, 'utf8'))).toMatchObject({ ok: true, events: 20, checkpoints: 2, unsigned: 0 });
    });

    it('fails with another public key', async () => {
      const otherKeys = await verificationKeys([{ text: (await checkpointSigner(generateKeyPairSync('ed25519').privateKey)).publicKeyPem, where: 'other' }]);
      const parsed = await readExport(exported);
      expect(await verifyRecords(parsed.records, { keys: otherKeys })).toMatchObject({ ok: false, issue: { code: 'signature', seq: 1, checkpoint: 1 } });
    });

    it('names the first broken event of an edited, deleted, swapped or truncated export', async () => {
      const l = lines();
      const at = (seq: number) => l.findIndex((x) => x.includes(`"seq":${seq},`) && x.startsWith('{"type":"event"'));
      const edited = [...l];
      edited[at(4)] = edited[at(4)]!.replace('E-4', 'E-5');
      expect((await offline(edited.join('\n'))).issue).toMatchObject({ code: 'edited', seq: 4 });
      const deleted = l.filter((_, i) => i !== at(9));
      expect((await offline(deleted.join('\n'))).issue).toMatchObject({ code: 'missing', seq: 9 });
      const swapped = [...l];
      [swapped[at(3)], swapped[at(4)]] = [swapped[at(4)]!, swapped[at(3)]!];
      expect((await offline(swapped.join('\n'))).issue).toMatchObject({ code: 'missing', seq: 3 });
      const inserted = [...l];
      inserted.splice(at(10), 0, l[at(10)]!.replace('E-10', 'E-11'));
      expect((await offline(inserted.join('\n'))).issue).toMatchObject({ seq: 10 });
      const truncated = l.slice(0, at(16));
      expect((await offline(truncated.join('\n'))).issue).toMatchObject({ code: 'truncated', seq: 16 });
      const broken = [...l];
      broken[at(2)] = broken[at(2)]!.slice(0, 40);
      expect((await offline(broken.join('\n'))).issue).toMatchObject({ code: 'malformed', seq: 2 });
    });
  });

  describe("the admin page's chain monitor", () => {
    it('verifies the whole chain, then only what was appended since, and still finds an edit of a new event', async () => {
      const copy = await backend.copy(file, 'monitor');
      const store = await backend.open(copy);
      const log = createAuditLog({ store, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'test', checkpointEvery: 1000 });
      const monitor = chainMonitor(store, keys);
      try {
        const first = await monitor.refresh();
        expect(first.report).toMatchObject({ ok: true, events: 20, checkpoints: 2, unsigned: 0 });
        for (let i = 21; i <= 25; i++) log.record(event(i));
        await log.flush();
        expect((await monitor.refresh()).report).toMatchObject({ ok: true, events: 25, checkpoints: 2, unsigned: 5, lastSeq: 25 });
        // A checkpoint over events already verified is picked up too.
        await log.checkpoint();
        expect((await monitor.refresh()).report).toMatchObject({ ok: true, events: 25, checkpoints: 3, unsigned: 0, lastCheckpoint: { n: 3, seq: 25 } });
        log.record(event(26));
        await log.flush();
        await backend.tamper(copy, (db) => db.run('UPDATE {events} SET body = replace(body, ?, ?) WHERE seq = 26', 'E-26', 'E-27'));
        expect((await monitor.refresh()).report).toMatchObject({ ok: false, issue: { code: 'edited', seq: 26 } });
        expect((await monitor.verifyNow()).report).toMatchObject({ ok: false, issue: { code: 'edited', seq: 26 } });
      } finally {
        monitor.close();
        await log.close();
        await store.close();
      }
    });
  });
});

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

describe('the log when the store cannot be written', () => {
  // A real store behind a switch that makes its writes fail, as a locked or full disk would
  // (neither can be produced reliably here).
  async function flaky(name: string) {
    const store = openSqliteAuditStore(join(dir, `${name}.db`));
    let fail: AuditError | undefined;
    const wrapped: AuditStore = { ...store, append: (build, o) => (fail ? Promise.reject(fail) : store.append(build, o)) };
    return { store, wrapped, set: (e: AuditError | undefined) => (fail = e) };
  }

  it('keeps events while another writer holds the store, and writes them in order once it can; record() never throws or waits', async () => {
    const f = await flaky('busy');
    const log = createAuditLog({ store: f.wrapped, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'test' });
    f.set(new AuditError('ERR_AUDIT_BUSY', 'locked'));
    for (let i = 1; i <= 3; i++) expect(log.record(event(i))).toBeUndefined();
    // One turn of the event loop: the write was tried, refused, and the events kept.
    await new Promise((r) => setImmediate(r));
    expect(log.status()).toMatchObject({ ok: true, pending: 3 });
    f.set(undefined);
    for (let i = 4; i <= 5; i++) log.record(event(i));
    await log.flush();
    expect((await f.store.query({ order: 'asc' })).events.map((e) => e.ids?.requestId)).toEqual(['req-1', 'req-2', 'req-3', 'req-4', 'req-5']);
    await log.close();
    await f.store.close();
  });

  it('a write reported failed that was in fact committed (a connection lost at COMMIT) is not written twice', async () => {
    const store = openSqliteAuditStore(join(dir, 'doubt.db'));
    let lie = 1;
    // Commits, then reports the error a lost connection gives: the write is in doubt.
    const wrapped: AuditStore = {
      ...store,
      append: async (build, o) => {
        const h = await store.append(build, o);
        if (lie-- > 0) throw new AuditError('ERR_AUDIT_STORAGE', 'Connection terminated unexpectedly');
        return h;
      },
    };
    const log = createAuditLog({ store: wrapped, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'test' });
    for (let i = 1; i <= 3; i++) log.record(event(i));
    await log.flush();
    expect(log.status()).toMatchObject({ ok: false, pending: 3, failing: 'Connection terminated unexpectedly' });
    for (let i = 4; i <= 5; i++) log.record(event(i));
    for (let t = 0; !(log.status().ok && log.status().pending === 0); t++) {
      if (t > 200) throw new Error(`not written: ${JSON.stringify(log.status())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await log.close();
    expect((await store.query({ order: 'asc' })).events.map((e) => e.ids?.requestId)).toEqual(['req-1', 'req-2', 'req-3', 'req-4', 'req-5']);
    expect(await verifyRecords(store.records(), { keys })).toMatchObject({ ok: true, events: 5 });
    await store.close();
  });

  it('while a write in doubt cannot be settled (the store still down), flush() still answers, and nothing is lost or doubled once it is back', async () => {
    const store = openSqliteAuditStore(join(dir, 'doubt-down.db'));
    let lie = 1;
    let down = false;
    const refuse = () => Promise.reject(new AuditError('ERR_AUDIT_STORAGE', 'connect ECONNREFUSED'));
    const wrapped: AuditStore = {
      ...store,
      append: async (build, o) => {
        if (down) return refuse();
        const h = await store.append(build, o);
        if (lie-- > 0) {
          down = true;
          throw new AuditError('ERR_AUDIT_STORAGE', 'Connection terminated unexpectedly');
        }
        return h;
      },
      get: (seq) => (down ? refuse() : store.get(seq)),
    };
    const log = createAuditLog({ store: wrapped, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'test' });
    for (let i = 1; i <= 3; i++) log.record(event(i));
    await log.flush();
    log.record(event(4));
    // The retry finds the store down and cannot settle the doubt: a waiter hears so, it does not hang.
    await new Promise((r) => setTimeout(r, 600));
    const settled = await Promise.race([log.flush().then(() => 'answered'), new Promise((r) => setTimeout(() => r('hung'), 3_000))]);
    expect(settled).toBe('answered');
    expect(log.status()).toMatchObject({ ok: false, pending: 4 });
    down = false;
    for (let t = 0; !(log.status().ok && log.status().pending === 0); t++) {
      if (t > 400) throw new Error(`not written: ${JSON.stringify(log.status())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await log.close();
    expect((await store.query({ order: 'asc' })).events.map((e) => e.ids?.requestId)).toEqual(['req-1', 'req-2', 'req-3', 'req-4']);
    await store.close();
  }, 20_000);

  it('a write reported failed that was not committed is written once the store is back', async () => {
    const f = await flaky('not-committed');
    const log = createAuditLog({ store: f.wrapped, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'test' });
    f.set(new AuditError('ERR_AUDIT_STORAGE', 'Connection terminated unexpectedly'));
    for (let i = 1; i <= 3; i++) log.record(event(i));
    await log.flush();
    f.set(undefined);
    for (let t = 0; !(log.status().ok && log.status().pending === 0); t++) {
      if (t > 200) throw new Error(`not written: ${JSON.stringify(log.status())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await log.close();
    expect((await f.store.query({ order: 'asc' })).events.map((e) => e.ids?.requestId)).toEqual(['req-1', 'req-2', 'req-3']);
    await f.store.close();
  });

  it('past its bound, counts what it could not keep and records the gap once the store is back', async () => {
    const f = await flaky('failing');
    const problems: string[] = [];
    const log = createAuditLog({ store: f.wrapped, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'test', maxPending: 4, onProblem: (m) => problems.push(m) });
    f.set(new AuditError('ERR_AUDIT_STORAGE', 'disk full'));
    for (let i = 1; i <= 10; i++) log.record(event(i));
    await log.flush();
    expect(log.status()).toMatchObject({ ok: false, pending: 4, lost: 6, failing: 'disk full' });
    expect(problems[0]).toMatch(/cannot be written/);
    f.set(undefined);
    await log.checkpoint();
    const stored = (await f.store.query({ order: 'asc' })).events;
    expect(stored.map((e) => e.kind)).toEqual(['audit.gap', 'tool.call', 'tool.call', 'decision', 'tool.call']);
    expect(stored[0]!.detail).toMatchObject({ lost: 6, cause: 'disk full' });
    expect(log.status()).toMatchObject({ ok: true, pending: 0, lost: 0 });
    await log.close();
    await f.store.close();
  });
});
