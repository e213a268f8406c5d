/**
 * The embedded Temporal dev server as a child process of Skillgate: `temporal server start-dev`
 * spawned with an explicit, minimal environment (the SDK's native launcher passes on the whole
 * environment of the process, and with it every secret Skillgate holds), its ports chosen up
 * front, and ready once its frontend answers for the namespace and search attributes asked for.
 *
 * The process is exposed (pid, `exited`) so that a supervisor can watch and restart it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { Connection } from '@temporalio/client';

/** Why the dev server could not be started (one closed family, narrowed by `code`). */
export type DevServerErrorCode =
  /** The binary could not be executed at all (missing, not executable). */
  | 'ERR_DEV_SERVER_SPAWN'
  /** It exited before its frontend answered (port taken, bad flag, broken database file). */
  | 'ERR_DEV_SERVER_EXITED'
  /** It ran but did not answer within the start timeout. */
  | 'ERR_DEV_SERVER_TIMEOUT';

/** A dev server that did not come up; `output` holds the last lines it wrote. */
export class DevServerError extends Error {
  constructor(
    readonly code: DevServerErrorCode,
    message: string,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DevServerError';
  }
}

export interface DevServerOptions {
  /** Path of the Temporal CLI binary. */
  executable: string;
  /** Address every listener binds to. */
  ip: string;
  /** gRPC frontend port; 0 picks a free one. */
  port: number;
  /** Web UI port; undefined runs headless. */
  uiPort?: number;
  /** SQLite file; undefined keeps everything in memory. */
  dbFile?: string;
  namespace: string;
  /** Keyword search attributes registered at start. */
  searchAttributes: readonly string[];
  /** `--dynamic-config-value KEY=VALUE` entries, on top of the ones the Temporal SDK passes. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** How long to wait for the frontend. */
  startTimeoutMs: number;
  /** After SIGTERM, how long to wait before SIGKILL (default 10 s). */
  stopTimeoutMs?: number;
  /** Lines the server writes to stderr (default: to this process's stderr). */
  log?: (line: string) => void;
  /** Where PATH, HOME, … are taken from (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** How the process ended. */
export interface DevServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DevServerProcess {
  pid: number;
  /** `ip:port` of the gRPC frontend. */
  address: string;
  ports: { frontend: number; http: number; metrics: number; ui?: number };
  /** Settles (never rejects) when the process has exited, for whatever reason. */
  exited: Promise<DevServerExit>;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once it has exited. Safe to call twice. */
  stop(): Promise<DevServerExit>;
}

/**
 * The variables the dev server gets, and only these. The CLI (a Go binary) starts with an
 * empty environment; these keep its temporary files, timestamps and any `temporal` config file
 * lookups where the machine expects them. Never a TEMPORAL_* variable: the CLI reads its flags
 * from those.
 */
export const DEV_SERVER_ENV = ['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL'] as const;

/** Dynamic config the Temporal SDK's own launcher always passes (sdk-core `ephemeral_server`). */
export const SDK_DYNAMIC_CONFIG: Readonly<Record<string, boolean>> = {
  'frontend.enableServerVersionCheck': false,
  'frontend.enableUpdateWorkflowExecution': true,
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
};

/** The environment the dev server is spawned with: DEV_SERVER_ENV picked from `source`. */
export function devServerEnvironment(source: Readonly<Record<string, string | undefined>> = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of DEV_SERVER_ENV) {
    const value = source[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** The `temporal` arguments for a start with these (already chosen) ports. */
export function devServerArgs(
  opts: Pick<DevServerOptions, 'ip' | 'dbFile' | 'namespace' | 'searchAttributes' | 'dynamicConfig'>,
  ports: DevServerProcess['ports'],
): string[] {
  const args = [
    'server',
    'start-dev',
    '--ip',
    opts.ip,
    '--port',
    String(ports.frontend),
    '--http-port',
    String(ports.http),
    '--metrics-port',
    String(ports.metrics),
    '--namespace',
    opts.namespace,
    '--log-format',
    'pretty',
    '--log-level',
    'error',
  ];
  args.push(...(ports.ui !== undefined ? ['--ui-port', String(ports.ui)] : ['--headless']));
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const name of opts.searchAttributes) args.push('--search-attribute', `${name}=Keyword`);
  for (const [key, value] of Object.entries({ ...SDK_DYNAMIC_CONFIG, ...opts.dynamicConfig })) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  return args;
}

const OUTPUT_TAIL_BYTES = 4096;

/**
 * Spawn the dev server and wait until it answers.
 *
 * @example
 * const server = await startDevServer({ executable: '/usr/local/bin/temporal', ip: '127.0.0.1', port: 0,
 *   namespace: 'default', searchAttributes: ['SkillName'], startTimeoutMs: 60_000 });
 * console.log(server.address, server.pid);
 * await server.stop();
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServerProcess> {
  const taken = new Set<number>(opts.uiPort ? [opts.uiPort] : []);
  const [frontend, http, metrics] = await freePorts(opts.ip, [opts.port, 0, 0], taken);
  const ports: DevServerProcess['ports'] = { frontend: frontend!, http: http!, metrics: metrics!, ...(opts.uiPort ? { ui: opts.uiPort } : {}) };
  const address = `${opts.ip}:${ports.frontend}`;
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));

  const child = spawn(opts.executable, devServerArgs(opts, ports), {
    env: devServerEnvironment(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: string): void => {
    tail = (tail + chunk).slice(-OUTPUT_TAIL_BYTES);
  };
  // Its stdout is a banner that says "localhost:<port>" for everything; Skillgate prints its own.
  child.stdout!.setEncoding('utf8').on('data', keep);
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    keep(chunk);
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      log(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
  });

  let spawnError: Error | undefined;
  const exited = new Promise<DevServerExit>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      // 'exit' does not follow an 'error' when the process never started.
      if (child.pid === undefined) resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // A forced exit of Skillgate (a second Ctrl-C, process.exit) must not leave the server running.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));

  let stopping: Promise<DevServerExit> | undefined;
  const stop = (): Promise<DevServerExit> => (stopping ??= terminate(child, exited, opts.stopTimeoutMs ?? 10_000));

  const outcome = await waitUntilReady(address, opts, exited);
  if (outcome !== 'ready') {
    await stop();
    const output = tail.trim();
    const lastLines = output.split('\n').slice(-5).join('\n');
    if (spawnError && child.pid === undefined) {
      throw new DevServerError('ERR_DEV_SERVER_SPAWN', `cannot run ${opts.executable}: ${spawnError.message}`, output, { cause: spawnError });
    }
    if (outcome === 'exited') {
      const exit = await exited;
      throw new DevServerError(
        'ERR_DEV_SERVER_EXITED',
        `the dev server exited (${exit.signal ?? `code ${exit.code}`}) before answering${lastLines ? `:\n${lastLines}` : ''}`,
        output,
      );
    }
    throw new DevServerError(
      'ERR_DEV_SERVER_TIMEOUT',
      `no answer on ${address} within ${Math.round(opts.startTimeoutMs / 1000)} s${lastLines ? `; last output:\n${lastLines}` : ''}`,
      output,
    );
  }
  return { pid: child.pid!, address, ports, exited, stop };
}

/**
 * Polls the frontend until the namespace exists with every search attribute asked for: the
 * CLI registers them after its port opens, and a run started in between would be refused.
 */
async function waitUntilReady(address: string, opts: DevServerOptions, exited: Promise<DevServerExit>): Promise<'ready' | 'exited' | 'timeout'> {
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const deadline = Date.now() + opts.startTimeoutMs;
  while (!hasExited && Date.now() < deadline) {
    // Lazy, so that a failed attempt still has a connection to close (connect() would leak its channel).
    const connection = Connection.lazy({ address, connectTimeout: Math.max(100, Math.min(1000, deadline - Date.now())) });
    try {
      await connection.ensureConnected();
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: opts.namespace });
      if (opts.searchAttributes.every((name) => Object.hasOwn(customAttributes, name))) return 'ready';
    } catch {
      // Not up yet: try again.
    } finally {
      await connection.close().catch(() => {});
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
  }
  return hasExited ? 'exited' : 'timeout';
}

async function terminate(child: ChildProcess, exited: Promise<DevServerExit>, stopTimeoutMs: number): Promise<DevServerExit> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return exited;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, stopTimeoutMs);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
  return exited;
}

/**
 * Ports for `wanted` (0: any free one), distinct from each other and from `taken`. Listeners
 * are held until all are chosen so that the kernel cannot hand out the same port twice.
 */
async function freePorts(ip: string, wanted: number[], taken: Set<number>): Promise<number[]> {
  const held: Server[] = [];
  try {
    const out: number[] = [];
    for (const port of wanted) {
      if (port !== 0) {
        out.push(port);
        taken.add(port);
        continue;
      }
      for (;;) {
        const server = createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port: 0, host: ip, exclusive: true }, resolve);
        });
        held.push(server);
        const p = (server.address() as { port: number }).port;
        if (!taken.has(p)) {
          out.push(p);
          taken.add(p);
          break;
        }
      }
    }
    return out;
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
}
