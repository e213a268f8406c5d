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
import type { AuditCheckpoint, AuditEvent } from '../../src/contracts/audit.js';
import { AUDIT_GENESIS } from '../../src/contracts/audit.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import type { Statement } from 'better-sqlite3';
import { migrate, type Migration, openSqlite, type SqliteDb } from '../../src/storage/sqlite.js';
import { AuditError } from './errors.js';
import { checkpointDigest } from './hash.js';
import type { AuditAppend, AuditQuery, AuditStore, ChainHead, StoredRecord } from './store.js';

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

/** The indexed columns of an event, derived from its body (verification compares them). */
function columnsOf(e: AuditEvent) {
  return {
    seq: e.seq,
    time: e.time,
    kind: e.kind,
    outcome: e.outcome,
    reason: e.reason ?? null,
    workspace: e.workspace,
    gateway: e.gateway ?? null,
    agent: e.agent ?? null,
    user: e.user ?? null,
    tool: e.tool === undefined ? null : e.server !== undefined ? `${e.server}.${e.tool}` : e.tool,
    skill: e.skill ?? null,
    workflow_id: e.ids?.workflowId ?? null,
    request_id: e.ids?.requestId ?? null,
  };
}

type Columns = ReturnType<typeof columnsOf>;
type EventRow = Columns & { body: string; hash: string };

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
  const insertEvent = db.prepare(`INSERT INTO audit_events (seq, time, kind, outcome, reason, workspace, gateway, agent, user, tool, skill, workflow_id, request_id, body, hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
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
    // Positional parameters, in the column order of columnsOf: named ones cost an object and a
    // lookup per column per event (BENCHMARKS.md, "Audit trail").
    for (const { event, body } of events) {
      const c = columnsOf(event);
      insertEvent.run(c.seq, c.time, c.kind, c.outcome, c.reason, c.workspace, c.gateway, c.agent, c.user, c.tool, c.skill, c.workflow_id, c.request_id, body, event.hash);
    }
    if (checkpoint) {
      const { canonicalBody, digest } = checkpointRow(checkpoint);
      insertCheckpoint.run(checkpoint.n, checkpoint.seq, checkpoint.time, canonicalBody, digest);
    }
    return readHead();
  });

  const parse = (body: string, hash: string): AuditEvent => ({ ...(JSON.parse(body) as Omit<AuditEvent, 'hash'>), hash });

  const where = (q: Omit<AuditQuery, 'limit' | 'order'>): { sql: string; params: unknown[] } => {
    const clauses: string[] = [];
    const params: unknown[] = [];
    const eq = (column: string, value: string | undefined) => {
      if (value === undefined || value === '') return;
      clauses.push(`${column} = ?`);
      params.push(value);
    };
    eq('user', q.user);
    eq('agent', q.agent);
    eq('gateway', q.gateway);
    eq('skill', q.skill);
    eq('kind', q.kind);
    eq('workflow_id', q.workflowId);
    eq('request_id', q.requestId);
    if (q.outcome) {
      clauses.push('outcome = ?');
      params.push(q.outcome);
    }
    if (q.tool) {
      if (q.tool.includes('.')) eq('tool', q.tool);
      else {
        clauses.push("(tool = ? OR tool LIKE ? ESCAPE '\\')");
        params.push(q.tool, `%.${q.tool.replace(/[\\%_]/g, (c) => `\\${c}`)}`);
      }
    }
    if (q.since) {
      clauses.push('time >= ?');
      params.push(q.since);
    }
    if (q.until) {
      clauses.push('time < ?');
      params.push(q.until);
    }
    if (q.before !== undefined) {
      clauses.push('seq < ?');
      params.push(q.before);
    }
    if (q.after !== undefined) {
      clauses.push('seq > ?');
      params.push(q.after);
    }
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
  };

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

    async *records(o = {}) {
      const from = o.fromSeq ?? 1;
      const to = o.toSeq ?? Number.MAX_SAFE_INTEGER;
      const checkpoints = (
        o.afterCheckpoint !== undefined
          ? db.prepare('SELECT n, seq, body, digest FROM audit_checkpoints WHERE n > ? AND seq <= ? ORDER BY n').all(o.afterCheckpoint, to)
          : db.prepare('SELECT n, seq, body, digest FROM audit_checkpoints WHERE seq >= ? AND seq <= ? ORDER BY n').all(from, to)
      ) as Array<{ n: number; seq: number; body: string; digest: string }>;
      let c = 0;
      const emitCheckpointsUpTo = function* (seq: number): Generator<StoredRecord> {
        while (c < checkpoints.length && checkpoints[c]!.seq <= seq) {
          const row = checkpoints[c++]!;
          let checkpoint: AuditCheckpoint | undefined;
          let problem: string | undefined;
          try {
            checkpoint = JSON.parse(row.body) as AuditCheckpoint;
            if (checkpoint.n !== row.n || checkpoint.seq !== row.seq) problem = `stored as checkpoint ${row.n} over event ${row.seq}, its content says checkpoint ${checkpoint.n} over event ${checkpoint.seq}`;
          } catch {
            problem = 'its content is not JSON';
          }
          yield { type: 'checkpoint', n: row.n, body: row.body, ...(checkpoint ? { checkpoint } : {}), ...(problem ? { problem } : {}) };
        }
      };
      // Pages by seq, so that no read transaction stays open across the caller's awaits.
      let after = from - 1;
      const page = db.prepare(
        'SELECT seq, time, kind, outcome, reason, workspace, gateway, agent, user, tool, skill, workflow_id, request_id, body, hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 2000',
      );
      for (;;) {
        const rows = page.all(after, to) as EventRow[];
        if (rows.length === 0) break;
        for (const row of rows) {
          after = row.seq;
          let event: AuditEvent | undefined;
          let problem: string | undefined;
          try {
            event = parse(row.body, row.hash);
            const columns = columnsOf(event);
            // seq is checked by verification itself (a moved or inserted event, not an edited one).
            const differ = (Object.keys(columns) as Array<keyof Columns>).filter((k) => k !== 'seq' && columns[k] !== row[k]);
            if (differ.length) problem = `its indexed ${differ.join(', ')} ${differ.length === 1 ? 'differs' : 'differ'} from its content`;
          } catch {
            problem = 'its content is not JSON';
          }
          yield* emitCheckpointsUpTo(row.seq - 1);
          yield { type: 'event', seq: row.seq, body: row.body, hash: row.hash, ...(event ? { event } : {}), ...(problem ? { problem } : {}) };
        }
      }
      yield* emitCheckpointsUpTo(Number.MAX_SAFE_INTEGER);
    },

    async checkpointAtOrBefore(seq) {
      const row = db.prepare('SELECT body FROM audit_checkpoints WHERE seq <= ? ORDER BY n DESC LIMIT 1').get(seq) as { body: string } | undefined;
      return row ? (JSON.parse(row.body) as AuditCheckpoint) : undefined;
    },

    async firstSeqSince(time) {
      const row = db.prepare('SELECT seq FROM audit_events WHERE time >= ? ORDER BY seq LIMIT 1').get(time) as { seq: number } | undefined;
      return row?.seq;
    },

    close() {
      db.close();
    },
  };
}

function checkpointRow(c: AuditCheckpoint): { canonicalBody: string; digest: string } {
  return { canonicalBody: canonicalJson(c), digest: checkpointDigest(c) };
}
