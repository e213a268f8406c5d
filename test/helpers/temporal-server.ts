/**
 * Temporal's own server (not the dev server) for tests: `temporal-server` built from the Go
 * module proxy (scripts/fetch-temporal-server.mjs), on a real PostgreSQL (test/helpers/postgres.ts),
 * all four services (frontend, history, matching, worker) in one process, every port a free
 * one on 127.0.0.1, 4 history shards. The databases `temporal` and `temporal_visibility` are
 * created on the given PostgreSQL and their schemas set up with `temporal-sql-tool` (embedded
 * schemas), the namespace `default` registered. Started, stopped, killed and restarted by the
 * test itself, on the same ports and databases.
 *
 * @example
 * const pg = await startPostgres();
 * const server = await startTemporalServer({ postgres: pg });
 * const rt = await connectTemporal(server.address);   // Skillgate's search attributes, as on any cluster
 * await server.restart();                             // SIGTERM, then the same server again
 * await server.close();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import type { google } from '@temporalio/proto';
import { stringify } from 'yaml';
import { TEMPORAL_SERVER_VERSION } from '../../scripts/fetch-temporal-server.mjs';
import { devServerEnvironment, SDK_DYNAMIC_CONFIG } from '../../src/app/runtime/temporal-dev-server.js';
import { LOW_LATENCY_DYNAMIC_CONFIG } from '../../src/app/runtime/temporal.js';
import { freePort } from './dev-process.js';
import type { PostgresServer } from './postgres.js';
import { ROOT } from './workspace.js';

export interface TemporalServer {
  /** host:port of the frontend (gRPC). */
  address: string;
  namespace: 'default';
  /** The ports it listens on (all on 127.0.0.1). */
  ports: Record<'frontend' | 'frontendMembership' | 'history' | 'historyMembership' | 'matching' | 'matchingMembership' | 'worker' | 'workerMembership', number>;
  /** Its folder: config, dynamic config. */
  dir: string;
  /** The current process id (undefined while stopped). */
  readonly pid: number | undefined;
  /** How long the last start() took until the namespace was usable, in ms. */
  readonly lastStartMs: number;
  /** SIGTERM (or `signal`), then SIGKILL after 20 s; resolves once the process has exited. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Start on the same ports and databases; resolves once the namespace is usable. */
  start(): Promise<void>;
  /** stop() (SIGTERM) and start(). */
  restart(): Promise<void>;
  /** A crash: SIGKILL, then start() again. */
  kill(): Promise<void>;
  /** Stop and delete its folder (the databases stay on the PostgreSQL server). */
  close(): Promise<void>;
  /** The last lines the server wrote (for a failing test's message). */
  logTail(): string;
}

export interface TemporalServerOptions {
  postgres: PostgresServer;
  /** Every line the server writes (default: kept for logTail() only). */
  log?: (line: string) => void;
  /** The binaries (default: .tools/temporal-server/<pinned version>/). */
  binaries?: { server: string; sqlTool: string };
  /** Bound of each start (default 90 s). */
  startTimeoutMs?: number;
}

const HOST = '127.0.0.1';
const NAMESPACE = 'default';
/** pgx: the maintained PostgreSQL driver (`postgres12` is lib/pq). */
const PLUGIN = 'postgres12_pgx';
const DATABASES = [
  { db: 'temporal', schema: 'postgresql/v12/temporal' },
  { db: 'temporal_visibility', schema: 'postgresql/v12/visibility' },
] as const;
const TAIL_LINES = 60;

/**
 * The dev server's settings that Skillgate relies on, here too: the SDK launcher's (updates on,
 * no version check) and Skillgate's low-latency ones (LOW_LATENCY_DYNAMIC_CONFIG). Search
 * attributes are cached as on any cluster (no forced refresh).
 */
export const SERVER_DYNAMIC_CONFIG: Record<string, string | number | boolean> = {
  ...SDK_DYNAMIC_CONFIG,
  ...LOW_LATENCY_DYNAMIC_CONFIG,
};

/** The pinned binaries in .tools, or a clear error naming the command that builds them. */
export function temporalServerBinaries(): { server: string; sqlTool: string } {
  const dir = join(ROOT, '.tools', 'temporal-server', TEMPORAL_SERVER_VERSION);
  const out = { server: join(dir, 'temporal-server'), sqlTool: join(dir, 'temporal-sql-tool') };
  for (const file of Object.values(out)) {
    try {
      accessSync(file, constants.X_OK);
    } catch {
      throw new Error(`${file} is missing: build it with \`node scripts/fetch-temporal-server.mjs\` (needs Go)`);
    }
  }
  return out;
}

export async function startTemporalServer(opts: TemporalServerOptions): Promise<TemporalServer> {
  const pg = opts.postgres;
  const bin = opts.binaries ?? temporalServerBinaries();
  const startTimeoutMs = opts.startTimeoutMs ?? 90_000;
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-temporal-'));
  const lines: string[] = [];
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > TAIL_LINES) lines.shift();
    opts.log?.(line);
  };
  const logTail = (): string => lines.join('\n');

  // Schemas: version 0.0 (the versioning tables), then every versioned step to the latest.
  for (const { db, schema } of DATABASES) {
    await pg.createDatabase(db);
    const common = ['--plugin', PLUGIN, '--ep', HOST, '--port', String(pg.port), '--user', pg.user, '--db', db];
    await runTool(bin.sqlTool, [...common, 'setup-schema', '-v', '0.0'], pg.password, opts.log);
    await runTool(bin.sqlTool, [...common, 'update-schema', '--schema-name', schema], pg.password, opts.log);
  }

  const ports = {
    frontend: 0,
    frontendMembership: 0,
    history: 0,
    historyMembership: 0,
    matching: 0,
    matchingMembership: 0,
    worker: 0,
    workerMembership: 0,
  };
  const taken = new Set<number>();
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) {
    let p: number;
    do p = await freePort();
    while (taken.has(p));
    taken.add(p);
    ports[key] = p;
  }
  const address = `${HOST}:${ports.frontend}`;
  const store = (database: string, maxConns: number) => ({
    sql: {
      pluginName: PLUGIN,
      databaseName: database,
      connectAddr: `${HOST}:${pg.port}`,
      connectProtocol: 'tcp',
      user: pg.user,
      password: pg.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number) => ({ rpc: { grpcPort, membershipPort, bindOnIP: HOST } });
  const dynamicConfigFile = join(dir, 'dynamic-config.yaml');
  writeFileSync(
    dynamicConfigFile,
    stringify(Object.fromEntries(Object.entries(SERVER_DYNAMIC_CONFIG).map(([key, value]) => [key, [{ value, constraints: {} }]]))),
  );
  const configFile = join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    stringify({
      log: { stdout: true, level: 'warn', format: 'json' },
      persistence: {
        defaultStore: 'default',
        visibilityStore: 'visibility',
        // Few shards: each is a lease and a queue processor; 4 keep a 2-core machine calm.
        numHistoryShards: 4,
        datastores: { default: store('temporal', 20), visibility: store('temporal_visibility', 10) },
      },
      global: { membership: { maxJoinDuration: '30s', broadcastAddress: HOST } },
      services: {
        frontend: rpc(ports.frontend, ports.frontendMembership),
        history: rpc(ports.history, ports.historyMembership),
        matching: rpc(ports.matching, ports.matchingMembership),
        worker: rpc(ports.worker, ports.workerMembership),
      },
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: address } },
      },
      dcRedirectionPolicy: { policy: 'noop' },
      dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
    }),
    { mode: 0o600 },
  );

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let lastStartMs = 0;

  const start = async (): Promise<void> => {
    if (child) throw new Error('the Temporal server is already running');
    const t0 = Date.now();
    // A minimal environment: the server reads TEMPORAL_* variables as flags.
    const proc = spawn(bin.server, ['--config-file', configFile, '--allow-no-auth', 'start'], {
      cwd: dir,
      env: devServerEnvironment(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let exitedHow: string | undefined;
    exited = new Promise<void>((resolve) => {
      proc.once('error', (err) => {
        exitedHow = err.message;
        if (proc.pid === undefined) resolve();
      });
      proc.once('exit', (code, signal) => {
        exitedHow = signal ?? `code ${code}`;
        resolve();
      });
    }).then(() => {
      if (child === proc) child = undefined;
    });
    const killOnExit = (): void => void proc.kill('SIGKILL');
    process.once('exit', killOnExit);
    void exited.then(() => process.removeListener('exit', killOnExit));
    for (const stream of [proc.stdout!, proc.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        partial += chunk;
        let nl: number;
        while ((nl = partial.indexOf('\n')) >= 0) {
          keep(partial.slice(0, nl));
          partial = partial.slice(nl + 1);
        }
      });
    }

    const deadline = t0 + startTimeoutMs;
    let lastError = 'no answer yet';
    while (exitedHow === undefined && Date.now() < deadline) {
      const connection = Connection.lazy({ address, connectTimeout: Math.max(200, Math.min(2000, deadline - Date.now())) });
      try {
        await connection.ensureConnected();
        await connection.workflowService.getSystemInfo({});
        await registerNamespace(connection);
        await provesUsable(connection, `skillgate-server-ready-${randomUUID()}`);
        lastStartMs = Date.now() - t0;
        return;
      } catch (err) {
        lastError = (err as Error).message;
      } finally {
        await connection.close().catch(() => {});
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 250))]);
    }
    const why = exitedHow !== undefined ? `exited (${exitedHow}) before it was usable` : `not usable within ${startTimeoutMs / 1000} s (last: ${lastError})`;
    await stop('SIGKILL');
    throw new Error(`temporal-server on ${address} ${why}; its log:\n${logTail()}`);
  };

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const proc = child;
    if (!proc) return;
    proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 20_000)))]);
    clearTimeout(timer);
    if (child === proc) {
      proc.kill('SIGKILL');
      await exited;
    }
  };

  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    address,
    namespace: NAMESPACE,
    ports,
    dir,
    get pid() {
      return child?.pid;
    },
    get lastStartMs() {
      return lastStartMs;
    },
    stop,
    start,
    async restart() {
      await stop('SIGTERM');
      await start();
    },
    async kill() {
      await stop('SIGKILL');
      await start();
    },
    async close() {
      await stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    logTail,
  };
}

/** Registers `default` (retention 1 day); already there (a restart) is fine. */
async function registerNamespace(connection: Connection): Promise<void> {
  try {
    // protobufjs encodes a number as an int64; the generated type names only Long.
    const oneDay = 86_400 as unknown as NonNullable<google.protobuf.IDuration['seconds']>;
    await connection.workflowService.registerNamespace({ namespace: NAMESPACE, workflowExecutionRetentionPeriod: { seconds: oneDay } });
  } catch (err) {
    // ALREADY_EXISTS (gRPC 6): NamespaceAlreadyExists.
    if ((err as { code?: number }).code !== 6) throw err;
  }
}

/**
 * The namespace is usable when a workflow can be started in it: the frontend and history know
 * the namespace (their caches refresh every few seconds) and a history shard is owned and
 * answers. The probe workflow is terminated at once (it has no worker).
 */
async function provesUsable(connection: Connection, workflowId: string): Promise<void> {
  const { runId } = await connection.workflowService.startWorkflowExecution({
    namespace: NAMESPACE,
    workflowId,
    workflowType: { name: 'skillgate-server-ready' },
    taskQueue: { name: 'skillgate-server-ready' },
    requestId: workflowId,
  });
  await connection.workflowService.terminateWorkflowExecution({
    namespace: NAMESPACE,
    workflowExecution: { workflowId, runId },
    reason: 'readiness probe of test/helpers/temporal-server.ts',
  });
}

/** Runs temporal-sql-tool (the password through its environment, not argv); throws with its output. */
async function runTool(file: string, args: string[], password: string, log?: (line: string) => void): Promise<void> {
  const child = spawn(file, args, { env: { ...devServerEnvironment(), SQL_PASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  if (log) for (const line of out.split('\n').filter(Boolean)) log(line);
  if (code !== 0) throw new Error(`temporal-sql-tool ${args.slice(args.indexOf('--db') + 2).join(' ')} (database ${args[args.indexOf('--db') + 1]}) failed (${code ?? 'killed after 60 s'}):\n${out.trim().split('\n').slice(-15).join('\n')}`);
}
