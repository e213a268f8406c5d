/**
 * The audit store on SQLite (`storage.file`, component `audit`): one row per event holding its
 * canonical body (what the hash covers) and the fields queries filter on, indexed; one row per
 * checkpoint. Append-only by construction: triggers refuse UPDATE and DELETE (an attacker with
 * the file can drop them — the chain and the signed checkpoints are what detect that).
 *
 * Durability (measured in BENCHMARKS.md, "Audit trail"): its own connection, WAL journal,
 * `synchronous=NORMAL` for event writes — a committed event survives a crash of the process
 * (it is in the WAL, in the OS's page cache), not a power loss — and `synchronous=FULL` for a
 * write that carries a checkpoint, whose commit fsyncs the WAL: everything up to a checkpoint
 * survives a power loss. `fsync: 'commit'` makes every write FULL.
 */
import type { AuditCheckpoint } from '../../src/contracts/audit.js';
import { AUDIT_GENESIS } from '../../src/contracts/audit.js';
import type { Statement } from 'better-sqlite3';
import { migrate, type Migration, openSqlite, type SqliteDb } from '../../src/storage/sqlite.js';
import { AuditError } from './errors.js';
import { checkpointRow, EVENT_COLUMNS, eventValues, interleave, parseEvent as parse, type CheckpointRow, type EventRow, whereOf } from './rows.js';
import type { AuditAppend, AuditStore, ChainHead } from './store.js';

export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    id: '001-events',
    sql: `
      CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        kind TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        workspace TEXT NOT NULL,
        gateway TEXT,
        agent TEXT,
        user TEXT,
        tool TEXT,
        skill TEXT,
        workflow_id TEXT,
        request_id TEXT,
        body TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      -- Indexes for the selective filters only: every index is one more page written per
      -- commit. Common values (a gateway, an outcome, a kind) are found by walking back from
      -- the newest event, which a LIMIT stops early (BENCHMARKS.md, "Audit trail").
      CREATE INDEX audit_events_time ON audit_events(time);
      CREATE INDEX audit_events_user ON audit_events(user);
      CREATE INDEX audit_events_agent ON audit_events(agent);
      CREATE INDEX audit_events_tool ON audit_events(tool);
      CREATE INDEX audit_events_workflow ON audit_events(workflow_id);
      CREATE TABLE audit_checkpoints (
        n INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,
        time TEXT NOT NULL,
        body TEXT NOT NULL,
        digest TEXT NOT NULL
      );
      CREATE TRIGGER audit_events_append_only_u BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
      CREATE TRIGGER audit_events_append_only_d BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
      CREATE TRIGGER audit_checkpoints_append_only_u BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
      CREATE TRIGGER audit_checkpoints_append_only_d BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    `,
  },
];

export interface SqliteAuditStoreOptions {
  /** `checkpoint` (default): fsync at checkpoints; `commit`: at every write. */
  fsync?: 'checkpoint' | 'commit';
  /**
   * How long a write waits for another process's lock. Default 0: the call path never waits —
   * a busy store answers ERR_AUDIT_BUSY at once and the log retries. The CLI may wait.
   */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/**
 * Open (creating and migrating) the audit store in the SQLite file `file`.
 *
 * @example const store = openSqliteAuditStore('.skillgate/skillgate.db');
 */
export function openSqliteAuditStore(file: string, opts: SqliteAuditStoreOptions = {}): AuditStore {
  const db = openSqlite(file, { synchronous: opts.fsync === 'commit' ? 'full' : 'normal', busyTimeoutMs: opts.busyTimeoutMs ?? 0, ...(opts.readonly ? { readonly: true } : {}) });
  if (!opts.readonly) {
    // Migrations may wait for another starting process.
    db.pragma('busy_timeout = 5000');
    try {
      migrate(db, 'audit', AUDIT_MIGRATIONS);
    } finally {
      db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 0}`);
    }
  }
  return sqliteAuditStore(db, opts);
}

function sqliteAuditStore(db: SqliteDb, opts: SqliteAuditStoreOptions): AuditStore {
  const fsyncEveryCommit = opts.fsync === 'commit';
  const insertEvent = db.prepare(`INSERT INTO audit_events (${EVENT_COLUMNS.join(', ')}) VALUES (${EVENT_COLUMNS.map(() => '?').join(', ')})`);
  const insertCheckpoint = db.prepare('INSERT INTO audit_checkpoints (n, seq, time, body, digest) VALUES (?, ?, ?, ?, ?)');
  const lastEvent = db.prepare('SELECT seq, hash, time FROM audit_events ORDER BY seq DESC LIMIT 1');
  const lastCheckpoint = db.prepare('SELECT n, seq, digest, time FROM audit_checkpoints ORDER BY n DESC LIMIT 1');
  const getEvent = db.prepare('SELECT body, hash FROM audit_events WHERE seq = ?');

  const readHead = (): ChainHead => {
    const e = lastEvent.get() as { seq: number; hash: string; time: string } | undefined;
    const c = lastCheckpoint.get() as { n: number; seq: number; digest: string; time: string } | undefined;
    return { seq: e?.seq ?? 0, hash: e?.hash ?? AUDIT_GENESIS, ...(e ? { time: e.time } : {}), ...(c ? { checkpoint: c } : {}) };
  };

  const write = db.transaction((build: (head: ChainHead) => AuditAppend): ChainHead => {
    const head = readHead();
    const { events, checkpoint } = build(head);
    // Positional parameters: named ones cost an object and a lookup per column per event
    // (BENCHMARKS.md, "Audit trail").
    for (const { event, body } of events) insertEvent.run(...eventValues(event, body));
    if (checkpoint) {
      const { canonicalBody, digest } = checkpointRow(checkpoint);
      insertCheckpoint.run(checkpoint.n, checkpoint.seq, checkpoint.time, canonicalBody, digest);
    }
    return readHead();
  });

  const where = (q: Parameters<typeof whereOf>[0]) => whereOf(q, () => '?');

  const statements = new Map<string, Statement<unknown[]>>();
  const prepared = (sql: string): Statement<unknown[]> => {
    let s = statements.get(sql);
    if (!s) {
      s = db.prepare(sql);
      if (statements.size > 500) statements.clear();
      statements.set(sql, s);
    }
    return s;
  };

  return {
    async append(build, o = {}) {
      const durable = o.durable === true && !fsyncEveryCommit;
      if (durable) db.pragma('synchronous = FULL');
      try {
        return write.immediate(build);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new AuditError('ERR_AUDIT_BUSY', 'the audit store is locked by another writer', { cause: err });
        if (err instanceof AuditError) throw err;
        throw new AuditError('ERR_AUDIT_STORAGE', `the audit store cannot be written: ${(err as Error).message}`, { cause: err });
      } finally {
        if (durable) db.pragma('synchronous = NORMAL');
      }
    },

    async head() {
      return readHead();
    },

    async query(q) {
      const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
      const order = q.order === 'asc' ? 'ASC' : 'DESC';
      const w = where(q);
      const rows = prepared(`SELECT seq, body, hash FROM audit_events ${w.sql} ORDER BY seq ${order} LIMIT ${limit + 1}`).all(...w.params) as Array<{ seq: number; body: string; hash: string }>;
      const more = rows.length > limit;
      const events = rows.slice(0, limit).map((r) => parse(r.body, r.hash));
      return { events, ...(more ? { next: events[events.length - 1]!.seq } : {}) };
    },

    async get(seq) {
      const row = getEvent.get(seq) as { body: string; hash: string } | undefined;
      return row ? parse(row.body, row.hash) : undefined;
    },

    async count(q) {
      const w = where(q);
      return (prepared(`SELECT count(*) AS n FROM audit_events ${w.sql}`).get(...w.params) as { n: number }).n;
    },

    records(o = {}) {
      const from = o.fromSeq ?? 1;
      const to = o.toSeq ?? Number.MAX_SAFE_INTEGER;
      const checkpoints = (
        o.afterCheckpoint !== undefined
          ? db.prepare('SELECT n, seq, body FROM audit_checkpoints WHERE n > ? AND seq <= ? ORDER BY n').all(o.afterCheckpoint, to)
          : db.prepare('SELECT n, seq, body FROM audit_checkpoints WHERE seq >= ? AND seq <= ? ORDER BY n').all(from, to)
      ) as CheckpointRow[];
      const page = db.prepare(`SELECT ${EVENT_COLUMNS.join(', ')} FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 2000`);
      return interleave(checkpoints, from, (after) => page.all(after, to) as EventRow[]);
    },

    async checkpointAtOrBefore(seq) {
      const row = db.prepare('SELECT body FROM audit_checkpoints WHERE seq <= ? ORDER BY n DESC LIMIT 1').get(seq) as { body: string } | undefined;
      return row ? (JSON.parse(row.body) as AuditCheckpoint) : undefined;
    },

    async firstSeqSince(time) {
      const row = db.prepare('SELECT seq FROM audit_events WHERE time >= ? ORDER BY seq LIMIT 1').get(time) as { seq: number } | undefined;
      return row?.seq;
    },

    async close() {
      db.close();
    },
  };
}
