/**
 * Skillgate's own state shared by several machines: one PostgreSQL database
 * (`storage.postgres.url`), each store behind the same interface as its SQLite twin (sqlite.ts).
 *
 * Migrations follow the SQLite rule: per component, recorded in `skillgate_migrations`, the
 * missing ones applied in order inside one transaction; a database holding a migration id this
 * code does not know (written by a newer Skillgate) is refused. Replicas starting together
 * take a transaction-scoped advisory lock first, so exactly one of them applies a migration and
 * the others find it recorded.
 */
import pg from 'pg';
import { newerMigrationMessage, StorageError } from './errors.js';
import type { Migration } from './sqlite.js';

export type PgPool = pg.Pool;

/** The advisory lock key migrations run under (any constant; "skillgate" in ASCII). */
const MIGRATION_LOCK = 0x736b696c6c67;

export interface OpenPostgresOptions {
  /** Connections this pool may hold (default 4: stores read snapshots, not per request). */
  max?: number;
  /** Fail a connection attempt after this long (default 2 s): a store waiting on a dead server must notice. */
  connectTimeoutMs?: number;
  /** Fail a query after this long (default 5 s). */
  queryTimeoutMs?: number;
  /** Told about errors of idle connections (a restarted server): the pool replaces them. */
  onIdleError?: (message: string) => void;
}

/**
 * A connection pool on `url` (nothing is connected yet). Errors of idle connections — a
 * server restart — are reported to `onIdleError` and never crash the process.
 *
 * @example const pool = openPostgres(process.env.SKILLGATE_DATABASE_URL!); await migratePostgres(pool, 'revocations', M);
 */
export function openPostgres(url: string, opts: OpenPostgresOptions = {}): PgPool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 4,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 2_000,
    query_timeout: opts.queryTimeoutMs ?? 5_000,
    keepAlive: true,
    application_name: 'skillgate',
  });
  pool.on('error', (err) => opts.onIdleError?.(err.message));
  return pool;
}

/** A pool shared by every store of this process on one database, and who uses it. */
interface Shared {
  pool: PgPool;
  users: number;
  listeners: Set<(message: string) => void>;
}
const sharedPools = new Map<string, Shared>();

/** A process's share of the pool on `url`: `release()` it when done (the last one ends the pool). */
export interface PostgresShare {
  pool: PgPool;
  release(): Promise<void>;
}

/**
 * The process's one pool on `url`, shared by every store that opens it (the revocation list,
 * the vault, the audit trail): a replica holds at most `max` (8) pooled connections, plus the
 * revocation list's own LISTEN connection. `onIdleError` hears errors of idle connections
 * until this share is released.
 *
 * @example const { pool, release } = sharedPostgres(url); try { await pool.query('SELECT 1'); } finally { await release(); }
 */
export function sharedPostgres(url: string, onIdleError?: (message: string) => void): PostgresShare {
  let entry = sharedPools.get(url);
  if (!entry) {
    const listeners = new Set<(message: string) => void>();
    const created: Shared = { pool: openPostgres(url, { max: 8, onIdleError: (m) => listeners.forEach((l) => l(m)) }), users: 0, listeners };
    sharedPools.set(url, created);
    entry = created;
  }
  const e = entry;
  e.users++;
  const listener = onIdleError ? (m: string) => onIdleError(m) : undefined;
  if (listener) e.listeners.add(listener);
  let released = false;
  return {
    pool: e.pool,
    async release() {
      if (released) return;
      released = true;
      if (listener) e.listeners.delete(listener);
      if (--e.users > 0) return;
      if (sharedPools.get(url) === e) sharedPools.delete(url);
      await e.pool.end().catch(() => {});
    },
  };
}

/** A connection the server or the network closed (worth one more try on a fresh one). */
export function connectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')) return true;
  return /Connection terminated|connection error|ECONNRESET|EPIPE|not queryable/i.test((err as Error).message ?? '');
}

/**
 * Run `body` in one transaction on a pooled connection: COMMIT when it resolves, ROLLBACK when
 * it throws (the error is rethrown). `begin`: statements without parameters sent with the
 * BEGIN in one round trip (an advisory lock, a read); their results are given to `body`. A
 * connection lost meanwhile is destroyed, not put back in the pool; `onLost` hears of it.
 */
export async function inTransaction<T>(pool: PgPool, body: (client: pg.PoolClient, begun: pg.QueryResult[]) => Promise<T>, opts: { begin?: string; onLost?: (message: string) => void } = {}): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  // A connection lost between two statements is reported on the client, not by a query.
  const onError = (err: Error) => {
    lost = err;
    opts.onLost?.(err.message);
  };
  client.on('error', onError);
  try {
    const r = await client.query(opts.begin ? `BEGIN; ${opts.begin}` : 'BEGIN');
    const begun = (Array.isArray(r) ? r : [r]) as pg.QueryResult[];
    const out = await body(client, begun.slice(1));
    await client.query('COMMIT');
    return out;
  } catch (err) {
    if (connectionLost(err)) lost ??= err as Error;
    else await client.query('ROLLBACK').catch((e: Error) => (lost ??= e));
    throw err;
  } finally {
    client.off('error', onError);
    client.release(lost);
  }
}

/** `postgres://host:port/db` of a URL, without its user or password (for messages). */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/**
 * Apply `component`'s migrations that are not yet applied, in order, in one transaction under
 * an advisory lock. Returns the ids applied now. Throws StorageError `ERR_STORAGE_NEWER` when the
 * database holds a migration of this component that `migrations` does not list.
 */
export async function migratePostgres(pool: PgPool, component: string, migrations: readonly Migration[]): Promise<string[]> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    const url = pool.options.connectionString;
    throw new StorageError('ERR_STORAGE_OPEN', `cannot connect to the state database${url ? ` ${describePostgresUrl(url)}` : ''}: ${(err as Error).message}`);
  }
  // A connection lost between two statements is reported on the client: the next statement fails instead.
  const ignore = () => {};
  client.on('error', ignore);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS skillgate_migrations (
      component TEXT NOT NULL,
      id TEXT NOT NULL,
      applied_at BIGINT NOT NULL,
      PRIMARY KEY (component, id)
    )`);
    const applied = (await client.query<{ id: string }>('SELECT id FROM skillgate_migrations WHERE component = $1 ORDER BY id', [component])).rows.map((r) => r.id);
    const known = new Set(migrations.map((m) => m.id));
    const unknown = applied.filter((id) => !known.has(id));
    if (unknown.length) throw new StorageError('ERR_STORAGE_NEWER', newerMigrationMessage(component, unknown));
    const done = new Set(applied);
    const todo = [...migrations].sort((a, b) => a.id.localeCompare(b.id)).filter((m) => !done.has(m.id));
    for (const m of todo) {
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new StorageError('ERR_STORAGE_MIGRATION', `${component} migration ${m.id} failed: ${(err as Error).message}`);
      }
      await client.query('INSERT INTO skillgate_migrations (component, id, applied_at) VALUES ($1, $2, $3)', [component, m.id, Date.now()]);
    }
    await client.query('COMMIT');
    return todo.map((m) => m.id);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    if (err instanceof StorageError) throw err;
    throw new StorageError('ERR_STORAGE_OPEN', `cannot migrate the state database (${component}): ${(err as Error).message}`);
  } finally {
    client.off('error', ignore);
    client.release();
  }
}

/** A replica's in-memory copy of shared state, kept current by `followTable`. */
export interface Follower {
  /** Read now. A request during a read runs one more read after it (that read may predate the change). */
  refresh(): Promise<void>;
  /** Ms since the last successful read began: how old the copy may be (Infinity before the first). */
  age(): number;
  /** Stop listening and polling (the caller releases its pool). */
  close(): Promise<void>;
}

/**
 * Keep an in-memory copy current across replicas: `read` (the owner's statement, updating its
 * copy) runs now — the returned promise rejects when it fails, so a replica without its copy
 * does not start — then on every `NOTIFY <channel>` (a listening connection of its own,
 * reconnected with backoff after a server restart; every reconnection reads again, since
 * notifications sent meanwhile are lost) and every `pollMs` whatever the notifications.
 * `report` hears each new problem, and `undefined` once a read succeeds again.
 *
 * @example const f = await followTable(url, { channel: 'skillgate_revocations', pollMs: 500, read, report }); f.age() > 5_000 // stale: fail closed
 */
export async function followTable(url: string, opts: { channel: string; pollMs: number; read: () => Promise<void>; report: (problem: string | undefined) => void }): Promise<Follower> {
  const where = describePostgresUrl(url);
  let confirmedAt = -Infinity;
  let inflight: Promise<void> | undefined;
  let again = false;
  const refresh = (): Promise<void> => {
    if (inflight) {
      again = true;
      return inflight;
    }
    inflight = (async () => {
      try {
        do {
          again = false;
          const started = Date.now();
          await opts.read();
          // Confirmed as of when the read began (a change committed during it may be missing).
          confirmedAt = started;
          opts.report(undefined);
        } while (again);
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };
  const refreshQuietly = () => {
    refresh().catch((err: Error) => opts.report(`${where}: ${err.message}`));
  };
  await refresh();

  // The listening connection: its own client (a pooled one would be handed to queries).
  let closed = false;
  let listener: pg.Client | undefined;
  let reconnect: NodeJS.Timeout | undefined;
  let attempts = 0;
  const scheduleListen = () => {
    if (closed || reconnect) return;
    const delay = Math.min(2_000, 100 * 2 ** Math.min(attempts, 5));
    attempts += 1;
    reconnect = setTimeout(() => {
      reconnect = undefined;
      void listen();
    }, delay);
    reconnect.unref();
  };
  const drop = (c: pg.Client) => {
    if (listener !== c) return;
    listener = undefined;
    c.end().catch(() => {});
    scheduleListen();
  };
  const listen = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000, keepAlive: true, application_name: `skillgate-${opts.channel}` });
    c.on('error', (err) => {
      opts.report(`${where}: ${err.message}`);
      drop(c);
    });
    c.on('end', () => drop(c));
    c.on('notification', refreshQuietly);
    listener = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${opts.channel}`);
      attempts = 0;
      if (closed) await c.end();
      // Whatever was notified while no one listened: read now.
      else refreshQuietly();
    } catch (err) {
      opts.report(`${where}: ${(err as Error).message}`);
      drop(c);
    }
  };
  await listen();
  const poll = setInterval(refreshQuietly, opts.pollMs);
  poll.unref();

  return {
    refresh,
    age: () => Date.now() - confirmedAt,
    async close() {
      closed = true;
      clearInterval(poll);
      if (reconnect) clearTimeout(reconnect);
      const c = listener;
      listener = undefined;
      await c?.end().catch(() => {});
      await inflight?.catch(() => {});
    },
  };
}

/**
 * Tell `onProblem` of each new problem once, and `backAgain` once it is over (report(undefined)):
 * a store following the database does not repeat the same line every poll.
 *
 * @example const problems = problemReporter(opts.onProblem, `${where}: reachable again`); problems.report('connect ECONNREFUSED');
 */
export function problemReporter(onProblem: ((message: string) => void) | undefined, backAgain: string): { report(message: string | undefined): void; current(): string | undefined } {
  let problem: string | undefined;
  return {
    report(message) {
      if (message === problem) return;
      problem = message;
      onProblem?.(message ?? backAgain);
    },
    current: () => problem,
  };
}
