/**
 * A real PostgreSQL for tests and benchmarks: Debian's package (`postgresql`, its binaries under
 * /usr/lib/postgresql/<major>/bin), a fresh cluster in a temporary folder, listening on
 * 127.0.0.1 only, on a free port, with password authentication. Started, stopped, killed and
 * restarted by the test itself — no system service is touched.
 *
 * PostgreSQL refuses to run as root: as root, every command runs as the `postgres` user the
 * package creates (`runuser`), and the folder is given to that user.
 *
 * @example
 * const pg = await startPostgres();
 * const url = await pg.createDatabase('skillgate');   // postgres://skillgate:…@127.0.0.1:<port>/skillgate
 * await pg.restart();                                  // a fault: clients must reconnect
 * await pg.close();
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './dev-process.js';

export interface PostgresServer {
  host: '127.0.0.1';
  port: number;
  user: string;
  password: string;
  /** The cluster's folder (data, log, socket). */
  dir: string;
  /** URL of a database on this server (default the `postgres` database). */
  url(database?: string): string;
  /** Create a database (if missing) and return its URL. */
  createDatabase(name: string): Promise<string>;
  /** A copy of database `from` (nobody may be connected to it) as `to`; returns its URL. */
  copyDatabase(from: string, to: string): Promise<string>;
  /** Stop: `fast` (clean, the default) or `immediate` (like a crash: no checkpoint). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stop (`immediate` by default: a crash) and start again on the same port and data. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stop and delete the cluster. */
  close(): Promise<void>;
  /** The server's own log (for a failing test's message). */
  logTail(): string;
}

/** Where the PostgreSQL server binaries are: $PG_BIN, else the newest /usr/lib/postgresql/<major>/bin. */
export function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base) ? readdirSync(base).filter((d) => /^\d+$/.test(d) && existsSync(join(base, d, 'bin', 'pg_ctl'))) : [];
  majors.sort((a, b) => Number(b) - Number(a));
  if (!majors[0]) throw new Error('PostgreSQL is not installed: `apt-get install -y postgresql` (Debian), or set PG_BIN to the folder holding pg_ctl and initdb');
  return join(base, majors[0], 'bin');
}

export async function startPostgres(opts: { port?: number; maxConnections?: number } = {}): Promise<PostgresServer> {
  const bin = postgresBin();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'pgdata-skillgate-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const user = 'skillgate';
  const password = 'skillgate-test';
  if (asRoot) {
    const pw = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const gr = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    chownSync(dir, Number(pw), Number(gr));
  }
  const run = (cmd: string, args: string[]): { status: number | null; out: string } => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    const r = spawnSync(file, argv, { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  };
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (asRoot) chownSync(pwFile, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  const init = run('initdb', ['-D', data, '-U', user, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8']);
  rmSync(pwFile, { force: true });
  if (init.status !== 0) throw new Error(`initdb failed:\n${init.out}`);
  const port = opts.port ?? (await freePort());
  const options = [`-p ${port}`, `-k ${dir}`, "-c listen_addresses='127.0.0.1'", `-c max_connections=${opts.maxConnections ?? 300}`, '-c shared_buffers=64MB'].join(' ');
  let running = false;
  const start = async (): Promise<void> => {
    const r = run('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '60', 'start']);
    if (r.status !== 0) throw new Error(`PostgreSQL did not start on 127.0.0.1:${port}:\n${r.out}\n${tail()}`);
    running = true;
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    if (!running) return;
    const r = run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    if (r.status !== 0) throw new Error(`PostgreSQL did not stop:\n${r.out}`);
    running = false;
  };
  const tail = (): string => {
    try {
      return execFileSync('tail', ['-n', '40', logFile], { encoding: 'utf8' });
    } catch {
      return '';
    }
  };
  const url = (database = 'postgres') => `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
  await start();
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    dir,
    url,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async copyDatabase(from, to) {
      for (const name of [from, to]) if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      // A client that just disconnected from `from` may still have its server process for a few ms.
      for (let attempt = 0; ; attempt++) {
        try {
          await pgQuery(url(), `CREATE DATABASE ${to} TEMPLATE ${from}`);
          return url(to);
        } catch (err) {
          if (attempt >= 40 || !/being accessed by other users/.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
    stop,
    start,
    async restart(mode = 'immediate') {
      await stop(mode);
      await start();
    },
    async close() {
      await stop('immediate').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
    logTail: tail,
  };
}

/** Rows of one statement on a fresh connection to `url` (tests that read or write behind a store's back). */
export async function pgQuery(url: string, sql: string, values: unknown[] = []): Promise<unknown[]> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, values)).rows;
  } finally {
    await c.end();
  }
}

/**
 * Record a migration this code does not know, as a newer Skillgate would have, in a SQLite file
 * or a PostgreSQL database: the stores must then refuse to open it.
 */
export async function recordForeignMigration(target: { sqliteFile: string } | { postgresUrl: string }, component: string, id: string): Promise<void> {
  const sql = 'INSERT INTO skillgate_migrations (component, id, applied_at) VALUES';
  if ('postgresUrl' in target) {
    await pgQuery(target.postgresUrl, `${sql} ($1, $2, $3)`, [component, id, Date.now()]);
    return;
  }
  const { openSqlite } = await import('../../src/storage/sqlite.js');
  const db = openSqlite(target.sqliteFile);
  try {
    db.prepare(`${sql} (?, ?, ?)`).run(component, id, Date.now());
  } finally {
    db.close();
  }
}

/** A test file's PostgreSQL and temporary folders, started before its tests and removed after them. */
export interface TestPostgres {
  /** The server (available once the file's beforeAll has run). */
  readonly server: PostgresServer;
  /** A new temporary folder, removed after the file's tests. */
  tempDir(prefix: string): string;
}

/**
 * Start a PostgreSQL for this test file (beforeAll) and remove it and every `tempDir` (afterAll).
 *
 * @example const cluster = usePostgres(); it('…', async () => { const url = await cluster.server.createDatabase('x'); });
 */
export function usePostgres(): TestPostgres {
  let server: PostgresServer | undefined;
  const dirs: string[] = [];
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    get server() {
      if (!server) throw new Error('usePostgres: the server starts in beforeAll');
      return server;
    },
    tempDir(prefix) {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
  };
}
