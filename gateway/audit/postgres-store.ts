/**
 * The audit store on PostgreSQL (`storage.kind: postgres`, component `audit`): one chain for
 * every replica of the workspace, behind the same `AuditStore` contract as the SQLite store.
 * Rows and verification are shared with it (rows.ts); only the transaction differs.
 *
 * Appends are serialised across replicas by a transaction-scoped advisory lock taken in the
 * same round trip as BEGIN and the read of the head: the lock is held from reading the head to
 * COMMIT, so two replicas can never chain onto the same event. A write is three round trips
 * (BEGIN + lock + head; the events, one INSERT from arrays whatever their number; COMMIT), four
 * when it carries a checkpoint. Each commit is as durable as the server's `synchronous_commit`
 * makes it (on by default: every write is fsynced before it is reported written).
 *
 * Append-only as on SQLite: triggers refuse UPDATE, DELETE and TRUNCATE (an owner of the
 * database can drop them — the chain and the signed checkpoints are what detect that).
 */
import type { AuditCheckpoint } from '../../src/contracts/audit.js';
import { AUDIT_GENESIS } from '../../src/contracts/audit.js';
import { StorageError } from '../../src/storage/errors.js';
import { describePostgresUrl, inTransaction, migratePostgres, sharedPostgres } from '../../src/storage/postgres.js';
import type { Migration } from '../../src/storage/sqlite.js';
import { AuditError } from './errors.js';
import { checkpointRow, EVENT_COLUMNS, eventValues, interleave, parseEvent, type CheckpointRow, type EventRow, whereOf } from './rows.js';
import type { AuditStore, ChainHead } from './store.js';

/** Component `audit` on PostgreSQL: the SQLite tables (sqlite-store.ts) with BIGINT numbers. */
export const POSTGRES_AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    id: '001-events',
    sql: `
      CREATE TABLE skillgate_audit_events (
        seq BIGINT PRIMARY KEY,
        time TEXT NOT NULL,
        kind TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        workspace TEXT NOT NULL,
        gateway TEXT,
        agent TEXT,
        "user" TEXT,
        tool TEXT,
        skill TEXT,
        workflow_id TEXT,
        request_id TEXT,
        body TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX skillgate_audit_events_time ON skillgate_audit_events(time);
      CREATE INDEX skillgate_audit_events_user ON skillgate_audit_events("user");
      CREATE INDEX skillgate_audit_events_agent ON skillgate_audit_events(agent);
      CREATE INDEX skillgate_audit_events_tool ON skillgate_audit_events(tool);
      CREATE INDEX skillgate_audit_events_workflow ON skillgate_audit_events(workflow_id);
      CREATE TABLE skillgate_audit_checkpoints (
        n BIGINT PRIMARY KEY,
        seq BIGINT NOT NULL,
        time TEXT NOT NULL,
        body TEXT NOT NULL,
        digest TEXT NOT NULL
      );
      CREATE FUNCTION skillgate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
      CREATE TRIGGER skillgate_audit_events_append_only BEFORE UPDATE OR DELETE ON skillgate_audit_events
        FOR EACH ROW EXECUTE FUNCTION skillgate_audit_append_only();
      CREATE TRIGGER skillgate_audit_events_no_truncate BEFORE TRUNCATE ON skillgate_audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION skillgate_audit_append_only();
      CREATE TRIGGER skillgate_audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON skillgate_audit_checkpoints
        FOR EACH ROW EXECUTE FUNCTION skillgate_audit_append_only();
      CREATE TRIGGER skillgate_audit_checkpoints_no_truncate BEFORE TRUNCATE ON skillgate_audit_checkpoints
        FOR EACH STATEMENT EXECUTE FUNCTION skillgate_audit_append_only();
    `,
  },
];

/** The advisory lock every replica's append takes ("audit" in ASCII; migrations use another). */
const AUDIT_LOCK = 0x6175646974;

// BIGINT arrives as a string from pg: read as float8 (exact up to 2^53 events).
const SELECT_EVENT = EVENT_COLUMNS.map((c) => (c === 'seq' ? 'seq::float8 AS seq' : c)).join(', ');
/** The element types of the INSERT's arrays, in EVENT_COLUMNS order. */
const ARRAY_TYPES = EVENT_COLUMNS.map((c) => (c === 'seq' ? 'bigint[]' : 'text[]'));
const INSERT_EVENTS = `INSERT INTO skillgate_audit_events (${EVENT_COLUMNS.join(', ')}) SELECT * FROM unnest(${ARRAY_TYPES.map((t, i) => `$${i + 1}::${t}`).join(', ')})`;
/** The chain's head: its last event and its last checkpoint. */
const LAST_EVENT = 'SELECT seq::float8 AS seq, hash, time FROM skillgate_audit_events ORDER BY seq DESC LIMIT 1';
const LAST_CHECKPOINT = 'SELECT n::float8 AS n, seq::float8 AS seq, digest, time FROM skillgate_audit_checkpoints ORDER BY n DESC LIMIT 1';
/** Sent with BEGIN: the lock every append holds until COMMIT, then the head it appends after. */
const READ_HEAD = `SELECT pg_advisory_xact_lock(${AUDIT_LOCK}); ${LAST_EVENT}; ${LAST_CHECKPOINT}`;

export interface PostgresAuditStoreOptions {
  /** Told about errors of idle connections (a restarted server); never an event's content. */
  onProblem?: (message: string) => void;
}

/**
 * Open (migrating) the audit store in the PostgreSQL database at `url`, on the process's shared
 * pool. Throws StorageError when the database cannot be reached or holds a newer audit schema.
 *
 * @example const store = await openPostgresAuditStore(process.env.SKILLGATE_DATABASE_URL!);
 */
export async function openPostgresAuditStore(url: string, opts: PostgresAuditStoreOptions = {}): Promise<AuditStore> {
  const where = describePostgresUrl(url);
  const { pool, release } = sharedPostgres(url, (m) => opts.onProblem?.(`${where}: ${m}`));
  try {
    await migratePostgres(pool, 'audit', POSTGRES_AUDIT_MIGRATIONS);
  } catch (err) {
    await release();
    if (err instanceof StorageError) throw err;
    throw new StorageError('ERR_STORAGE_OPEN', `cannot open the audit trail in ${where}: ${(err as Error).message}`);
  }

  const headOf = (e: { seq: number; hash: string; time: string } | undefined, c: { n: number; seq: number; digest: string; time: string } | undefined): ChainHead => ({
    seq: e?.seq ?? 0,
    hash: e?.hash ?? AUDIT_GENESIS,
    ...(e ? { time: e.time } : {}),
    ...(c ? { checkpoint: c } : {}),
  });
  const failure = (err: unknown, doing: string) =>
    err instanceof AuditError || err instanceof StorageError ? err : new AuditError('ERR_AUDIT_STORAGE', `the audit trail in ${where} cannot be ${doing}: ${(err as Error).message}`, { cause: err });
  const read = async <R>(sql: string, values: unknown[] = []): Promise<R[]> => {
    try {
      return (await pool.query(sql, values)).rows as R[];
    } catch (err) {
      throw failure(err, 'read');
    }
  };
  const where$ = (q: Parameters<typeof whereOf>[0]) => whereOf(q, (i) => `$${i}`);

  return {
    async append(build) {
      try {
        return await inTransaction(
          pool,
          async (client, [, lastEvent, lastCheckpoint]) => {
            const head = headOf(lastEvent!.rows[0], lastCheckpoint!.rows[0]);
            const { events, checkpoint } = build(head);
            if (events.length) {
              const columns: unknown[][] = EVENT_COLUMNS.map(() => new Array(events.length));
              events.forEach(({ event, body }, i) => eventValues(event, body).forEach((v, c) => (columns[c]![i] = v)));
              await client.query(INSERT_EVENTS, columns);
            }
            if (checkpoint) {
              const { canonicalBody, digest } = checkpointRow(checkpoint);
              await client.query('INSERT INTO skillgate_audit_checkpoints (n, seq, time, body, digest) VALUES ($1, $2, $3, $4, $5)', [checkpoint.n, checkpoint.seq, checkpoint.time, canonicalBody, digest]);
            }
            const last = events[events.length - 1]?.event;
            return headOf(
              last ? { seq: last.seq, hash: last.hash, time: last.time } : lastEvent!.rows[0],
              checkpoint ? { n: checkpoint.n, seq: checkpoint.seq, digest: checkpointRow(checkpoint).digest, time: checkpoint.time } : lastCheckpoint!.rows[0],
            );
          },
          { begin: READ_HEAD },
        );
      } catch (err) {
        throw failure(err, 'written');
      }
    },

    async head() {
      const [e] = await read<{ seq: number; hash: string; time: string }>(LAST_EVENT);
      const [c] = await read<{ n: number; seq: number; digest: string; time: string }>(LAST_CHECKPOINT);
      return headOf(e, c);
    },

    async query(q) {
      const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
      const w = where$(q);
      const rows = await read<{ body: string; hash: string }>(`SELECT body, hash FROM skillgate_audit_events ${w.sql} ORDER BY seq ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${limit + 1}`, w.params);
      const more = rows.length > limit;
      const events = rows.slice(0, limit).map((r) => parseEvent(r.body, r.hash));
      return { events, ...(more ? { next: events[events.length - 1]!.seq } : {}) };
    },

    async get(seq) {
      const [row] = await read<{ body: string; hash: string }>('SELECT body, hash FROM skillgate_audit_events WHERE seq = $1', [seq]);
      return row ? parseEvent(row.body, row.hash) : undefined;
    },

    async count(q) {
      const w = where$(q);
      const [row] = await read<{ n: number }>(`SELECT count(*)::float8 AS n FROM skillgate_audit_events ${w.sql}`, w.params);
      return row!.n;
    },

    records(o = {}) {
      const from = o.fromSeq ?? 1;
      const to = o.toSeq ?? Number.MAX_SAFE_INTEGER;
      const checkpoints = () =>
        o.afterCheckpoint !== undefined
          ? read<CheckpointRow>('SELECT n::float8 AS n, seq::float8 AS seq, body FROM skillgate_audit_checkpoints WHERE n > $1 AND seq <= $2 ORDER BY n', [o.afterCheckpoint, to])
          : read<CheckpointRow>('SELECT n::float8 AS n, seq::float8 AS seq, body FROM skillgate_audit_checkpoints WHERE seq >= $1 AND seq <= $2 ORDER BY n', [from, to]);
      return (async function* () {
        yield* interleave(await checkpoints(), from, (after) => read<EventRow>(`SELECT ${SELECT_EVENT} FROM skillgate_audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT 2000`, [after, to]));
      })();
    },

    async checkpointAtOrBefore(seq) {
      const [row] = await read<{ body: string }>('SELECT body FROM skillgate_audit_checkpoints WHERE seq <= $1 ORDER BY n DESC LIMIT 1', [seq]);
      return row ? (JSON.parse(row.body) as AuditCheckpoint) : undefined;
    },

    async firstSeqSince(time) {
      const [row] = await read<{ seq: number }>('SELECT seq::float8 AS seq FROM skillgate_audit_events WHERE time >= $1 ORDER BY seq LIMIT 1', [time]);
      return row?.seq;
    },

    async close() {
      await release();
    },
  };
}
