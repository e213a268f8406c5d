/**
 * The embedded runtime behind `skillgate dev` / `npm start`: Temporal (embedded dev server or
 * the cluster in TEMPORAL_ADDRESS), the upstream MCP servers, the compiled skills and the
 * worker, started in that order and stopped in reverse.
 *
 * The same start, cut by role, makes the replicas of a scaled-out deployment
 * (docs/architecture.md, "Scaling out"):
 *   dev      everything above, the front door too; the only role that may start an embedded
 *            Temporal, and the only one that holds the state folder's lock.
 *   gateway  the front door and its pipeline (the AND-gate, the catalog, the vault); starts runs
 *            on the cluster but runs no step.
 *   worker   the Temporal worker and the same pipeline for the steps it runs; no listener.
 * A gateway or worker keeps nothing that is not shared (the state storage, the cluster) or safe
 * to lose (caches), so any number of each may run, and any one may be killed.
 *
 * Kept free of process concerns (signals, exit codes, printing) so that the CLI and tests can
 * drive it in-process, and so that the gateway and the dev IdP can join it as further parts.
 */
import { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../../activities/index.js';
import { createDataLossFilters } from '../../../gateway/dlp/filters.js';
import { createLogger, type Logger } from '../../../gateway/log.js';
import { acquireStateLock, processAlive, processCommand, type RuntimeInfo, type StateLock, StateLockError } from './state-lock.js';
import { createUpstreamPool } from '../../../gateway/upstream/pool.js';
import type { UpstreamPool } from '../../../gateway/upstream/types.js';
import type { LoadedConfig } from '../../config/load.js';
import { isStdioServer } from '../../config/schema.js';
import { type Diagnostic, formatDiagnostic } from '../../shared/diagnostics.js';
import type { CompiledSkill } from '../../skills/compile-all.js';
import { createSkillRegistry } from '../../skills/registry.js';
import { createPinnedCatalog, type PinnedCatalog } from '../../../gateway/curation/catalog.js';
import { chainMonitor } from '../../../gateway/audit/monitor.js';
import { verificationKeys } from '../../../gateway/audit/keys.js';
import { configDigest, openWorkspaceAudit } from './audit.js';
import { startGateway } from './front-door.js';
import { createGovernance } from './governance.js';
import { openLockSource } from './state.js';
import { openCredentials } from './credentials.js';
import { connectTemporal, describeExecutable, RuntimeError, startEmbeddedTemporal, type TemporalRuntime } from './temporal.js';
import { createSkillWorker } from '../../temporal/worker.js';
import { startTelemetry } from './telemetry.js';

/** What one process of Skillgate runs (see the top of this file). */
export type RuntimeRole = 'dev' | 'gateway' | 'worker';

export interface DevRuntimeOptions {
  /** Default `dev`: everything in one process. */
  role?: RuntimeRole;
  /** Environment to read TEMPORAL_ADDRESS from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines while starting and stopping (default: dropped). */
  log?: (line: string) => void;
  /** Bound on each stop phase (worker drain, upstream close, Temporal teardown); default 15 s. */
  stopTimeoutMs?: number;
  /**
   * Port of the MCP front door (default: $SKILLGATE_PORT, else the port of `publicUrl`, 8787); 0
   * picks a free one. It listens on 127.0.0.1, or on $SKILLGATE_HOST.
   */
  port?: number;
  /**
   * The structured log (refusals, denials, runs started, approvals). Default: JSON lines to
   * `logging.destination` of the config (`.skillgate/logs/skillgate.log`).
   */
  logger?: Logger;
}

/** One upstream MCP server as the banner shows it: its tools, and how many the pinned catalog serves. */
export type ServerInfo =
  | { name: string; transport: 'stdio' | 'http'; ok: true; tools: number; approved: number }
  | { name: string; transport: 'stdio' | 'http'; ok: false; error: string };

/** What runs where: the banner's content, also returned to in-process callers and tests. */
export interface DevRuntimeInfo {
  role: RuntimeRole;
  workspace: string;
  configFile: string;
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    embedded: boolean;
    uiUrl?: string;
    dbFile?: string;
    /** Where the Temporal CLI came from (embedded only). */
    executable?: string;
    /** Search attributes this start registered on an external cluster. */
    registeredSearchAttributes: string[];
  };
  servers: ServerInfo[];
  skills: Array<{ name: string; version: string; planHash: string; held?: string }>;
  /** The pinned catalog's lock file and its state (`ok`, or what is wrong and how to recover). */
  catalog: { lockFile: string; status: string };
  /** Problems of skills that were left out (and of the skills folder itself). */
  skillDiagnostics: Diagnostic[];
  stateDir: string;
  /** Where the structured log goes: a file, `stderr` / `stdout`, or `(in-process)` when the caller gave a logger. */
  logDestination: string;
  /**
   * Network endpoints served by this process (MCP front door, dev IdP, …), shown in the
   * banner. Empty until the gateway joins the runtime.
   */
  endpoints: Array<{ name: string; url: string }>;
  /** Ready-to-paste commands for a first try. */
  tryIt: string[];
}

export interface DevRuntime {
  info: DevRuntimeInfo;
  temporal: TemporalRuntime;
  pool: UpstreamPool;
  catalog: PinnedCatalog;
  /** Settles when the runtime has stopped: after stop(), or rejects when the worker (if this role runs one) fails. */
  done: Promise<void>;
  /** Stop everything in reverse order. Idempotent; never throws (problems go to `log`). */
  stop(): Promise<void>;
}

/**
 * Start the whole local runtime for a loaded workspace.
 *
 * @example
 * const rt = await startDevRuntime(loadConfig('skillgate.yaml'), { log: console.error });
 * console.log(formatBanner(rt.info));
 * process.once('SIGINT', () => void rt.stop());
 * await rt.done;
 */
export async function startDevRuntime(loaded: LoadedConfig, opts: DevRuntimeOptions = {}): Promise<DevRuntime> {
  let { config } = loaded;
  const role = opts.role ?? 'dev';
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const stopTimeoutMs = opts.stopTimeoutMs ?? 15_000;
  const cleanups: Array<{ what: string; run: () => Promise<void> }> = [];

  const unwind = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await withTimeout(c.run(), stopTimeoutMs, `stopping ${c.what}`);
      } catch (err) {
        log(`warning: ${(err as Error).message}`);
      }
    }
  };

  let logger: Logger;
  let logDestination: string;
  if (opts.logger) {
    logger = opts.logger;
    logDestination = '(in-process)';
  } else {
    const d = config.logging.destination;
    logDestination = d === 'stderr' || d === 'stdout' ? d : loaded.path(d);
    const created = createLogger({ destination: logDestination, level: config.logging.level });
    logger = created.logger;
    cleanups.push({ what: 'the log', run: async () => created.flush() });
  }

  try {
    const stateDir = loaded.path(config.stateDir);
    const address = env.TEMPORAL_ADDRESS || config.temporal.address;
    if (role !== 'dev' && !address) {
      throw new RuntimeError(
        'ERR_TEMPORAL_REQUIRED',
        `skillgate ${role} joins a Temporal cluster and starts none: set TEMPORAL_ADDRESS, or temporal.address in ${loaded.file} (\`skillgate dev\` runs an embedded one for a single machine)`,
      );
    }
    // First of all, before any port or file is touched: this state folder is ours alone — for
    // `dev`, whose embedded Temporal and ports are one per state folder. Replicas share it.
    let lock: StateLock | undefined;
    if (role === 'dev') {
      try {
        lock = acquireStateLock(stateDir, { configFile: loaded.file });
      } catch (err) {
        if (err instanceof StateLockError) throw new RuntimeError('ERR_ALREADY_RUNNING', err.message, { cause: err });
        throw err;
      }
      const held = lock;
      cleanups.push({ what: 'the state lock', run: async () => held.release() });
      if (held.previous) await stopLeftovers(held.previous, log);
    }

    // The audit trail opens first and closes last (with a final checkpoint): everything after
    // records into it.
    const audit = await openWorkspaceAudit(loaded, { onProblem: (msg, fields) => logger.error(msg, { component: 'audit', ...fields }) });
    cleanups.push({ what: 'the audit trail', run: () => audit.close() });
    audit.log.record({
      kind: 'config.loaded',
      outcome: 'ok',
      reason: 'start',
      workspace: config.workspace,
      detail: { file: loaded.file, digest: configDigest(loaded), pid: process.pid, role },
    });

    // Traces (off unless an OTLP endpoint is configured); flushed last, after everything that makes spans.
    const tracing = await startTelemetry(loaded, env);
    if (tracing) {
      log(`exporting traces to ${tracing.endpoint}`);
      cleanups.push({ what: 'the trace exporter', run: () => tracing.shutdown() });
    }

    const { namespace, taskQueue, dev } = config.temporal;
    let temporal: TemporalRuntime;
    if (address) {
      log(`connecting to Temporal at ${address} (namespace ${namespace})…`);
      temporal = await connectTemporal(address, { namespace });
    } else {
      log(`starting the embedded Temporal dev server on 127.0.0.1:${dev.port}…`);
      const dbFile = loaded.path(dev.dbFile);
      temporal = await startEmbeddedTemporal({
        port: dev.port,
        uiPort: dev.uiPort,
        dbFile,
        namespace,
        log,
        onRestart: (pid) => lock?.update({ temporal: { address: temporal.address, ...(temporal.uiUrl ? { uiUrl: temporal.uiUrl } : {}), pid, dbFile } }),
      });
    }
    cleanups.push({ what: 'Temporal', run: () => temporal.close() });
    lock?.update({
      temporal: {
        address: temporal.address,
        ...(temporal.uiUrl ? { uiUrl: temporal.uiUrl } : {}),
        ...(temporal.pid !== undefined ? { pid: temporal.pid } : {}),
        ...(temporal.dbFile ? { dbFile: temporal.dbFile } : {}),
      },
    });

    // The port (and so publicUrl, the token issuer's name) is fixed before anything derives from it.
    let port = opts.port ?? (env.SKILLGATE_PORT ? Number(env.SKILLGATE_PORT) : Number(new URL(config.publicUrl).port || 80));
    if (port === 0) {
      port = await freePort();
      loaded = { ...loaded, config: { ...config, publicUrl: `http://127.0.0.1:${port}` } };
      config = loaded.config;
    }

    log('connecting to the upstream MCP servers…');
    const pool = createUpstreamPool(loaded);
    cleanups.push({ what: 'the upstream MCP servers', run: () => pool.close() });
    // The pinned catalog: only approved tools whose definition equals the pin are served.
    const pins = await openLockSource(loaded, { onProblem: log });
    cleanups.push({ what: 'the pinned catalog', run: () => pins.close() });
    const catalog = createPinnedCatalog({ pool, lock: pins, servers: config.servers, workspace: config.workspace, audit: audit.log, log: logger });
    cleanups.push({ what: 'the catalog watcher', run: async () => catalog.close() });
    const servers = await describeServers(loaded, pool, catalog);

    log('compiling skills against the approved tools…');
    const registry = await createSkillRegistry(loaded, pool, catalog, logger);
    cleanups.push({ what: 'the skill registry', run: async () => registry.close() });

    // One AND-gate for the front door and for every skill step the worker runs.
    const governance = await createGovernance(loaded, { log, audit: audit.log });
    cleanups.push({ what: 'the policy watcher and the revocation list', run: () => governance.close() });
    const policies = governance.policy.policySet();
    audit.log.record({
      kind: 'policy.loaded',
      outcome: 'ok',
      reason: 'start',
      workspace: config.workspace,
      decision: { stage: 'policy', policyRevision: policies.version },
      detail: { policies: policies.policies.length, trigger: 'start' },
    });
    // One vault and one token minter, too (a wrong vault key stops the start here, nothing changed).
    const credentials = await openCredentials(loaded, { audit: audit.log, env, serverUrl: (s) => pool.url(s), onProblem: log });
    cleanups.push({ what: 'the vault', run: async () => credentials.close() });

    // The worker (roles dev and worker): runs the steps of every skill run on the task queue.
    let worker: Worker | undefined;
    let running: Promise<void> | undefined;
    if (role !== 'gateway') {
      const w = await createSkillWorker({
        connection: temporal.nativeConnection,
        namespace,
        taskQueue,
        activities: createActivities({
          pool,
          authorizer: governance.authorizer,
          attestor: governance.attestor,
          catalog,
          audit: audit.log,
          credentials: credentials.service,
          dataLoss: createDataLossFilters(config.gateways, logger),
          ...(tracing ? { telemetry: tracing.telemetry } : {}),
        }),
        ...(tracing ? { tracing: tracing.worker } : {}),
        audit: audit.log,
      });
      const r = w.run();
      // Observed here so that a worker failing before anyone awaits `done` is not an unhandled rejection.
      r.catch(() => {});
      cleanups.push({
        what: 'the worker',
        run: async () => {
          if (w.getState() === 'RUNNING') w.shutdown();
          await r.catch(() => {});
        },
      });
      [worker, running] = [w, r];
    }

    let stopping: Promise<void> | undefined;
    let stopped: () => void = () => {};
    const ended = new Promise<void>((resolve) => (stopped = resolve));
    const stop = (): Promise<void> => (stopping ??= unwind().finally(() => stopped()));
    const info: DevRuntimeInfo = {
      role,
      workspace: config.workspace,
      configFile: loaded.file,
      temporal: {
        address: temporal.address,
        namespace,
        taskQueue,
        embedded: temporal.embedded,
        uiUrl: temporal.uiUrl,
        dbFile: temporal.dbFile,
        executable: temporal.executable ? describeExecutable(temporal.executable) : undefined,
        registeredSearchAttributes: temporal.registeredSearchAttributes,
      },
      servers,
      skills: [...registry.skills().values()].map((s) => {
        const held = registry.held(s);
        return { name: s.plan.skill.name, version: s.plan.skill.version, planHash: s.hash, ...(held ? { held } : {}) };
      }),
      skillDiagnostics: registry.diagnostics(),
      catalog: { lockFile: pins.where, status: catalog.status().lock },
      stateDir,
      logDestination,
      endpoints: [],
      tryIt: [],
    };
    if (role === 'worker' && running) {
      log(`worker polling task queue ${taskQueue} on ${temporal.address}`);
      return { info, temporal, pool, catalog, done: endedWith(running, stop), stop };
    }

    // config.publicUrl already follows SKILLGATE_PORT unless the file sets publicUrl (load.ts).
    const pub = new URL(config.publicUrl);
    // (A gateway replica behind a load balancer listens on its own port by design.)
    if (role === 'dev' && ['127.0.0.1', 'localhost', '[::1]'].includes(pub.hostname) && Number(pub.port || 80) !== port) {
      log(`warning: listening on port ${port}, but publicUrl ${config.publicUrl} (set in ${loaded.file}) names port ${pub.port || 80}: tokens are minted for publicUrl; remove publicUrl to follow SKILLGATE_PORT`);
    }
    // The admin page's chain status: verified now, every 10 minutes, and on request.
    const monitor = chainMonitor(audit.store, await verificationKeys([{ text: audit.signer.publicKeyPem, where: 'the audit signing key' }]), { intervalMs: 10 * 60_000 });
    cleanups.push({ what: 'the chain monitor', run: async () => monitor.close() });

    const runClient = new Client({ connection: temporal.nativeConnection, namespace });
    log(`starting the MCP front door on ${env.SKILLGATE_HOST || '127.0.0.1'}:${port}…`);
    const gateway = await startGateway({
      admin: { store: audit.store, monitor },
      loaded,
      pool,
      governance,
      credentials,
      catalog,
      // In `dev` the worker runs in this process on the NativeConnection: a client on that
      // connection may ask for eager start (the first workflow task comes back with the start's
      // answer). A gateway replica has no worker to hand it to.
      temporal: { client: tracing ? tracing.tracedClient(runClient) : runClient, taskQueue, eagerStart: worker !== undefined },
      ...(tracing ? { telemetry: tracing.telemetry } : {}),
      skills: () => registry.skills(),
      held: registry.held,
      onSkillsChanged: (l) => registry.onChange(l),
      port,
      // Loopback unless told otherwise: a replica in a container listens on its network (0.0.0.0).
      ...(env.SKILLGATE_HOST ? { host: env.SKILLGATE_HOST } : {}),
      log: logger,
      health: () => {
        const checks: Record<string, string> = {};
        const t = temporal.health();
        if (!t.ok) checks.temporal = t.detail ?? 'down';
        const state = worker?.getState();
        if (state !== undefined && state !== 'RUNNING') checks.worker = `the worker is ${state.toLowerCase()}`;
        const a = audit.log.status();
        if (!a.ok) checks.audit = a.failing ? `the audit trail cannot be written (${a.pending} events waiting): ${a.failing}` : `${a.lost} audit events lost`;
        return { status: Object.keys(checks).length ? 'degraded' : 'ok', checks };
      },
    }).catch((err: unknown) => {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') {
        throw new RuntimeError('ERR_PORT_IN_USE', `port ${port} for the MCP front door is in use: stop whatever holds it, or set SKILLGATE_PORT (and publicUrl) to another port`, { cause: err });
      }
      throw err;
    });
    cleanups.push({ what: 'the MCP front door', run: () => gateway.close() });
    lock?.update({ publicUrl: gateway.url });

    info.endpoints = [
      ...Object.keys(config.gateways).map((g) => ({ name: `MCP ${g}`, url: gateway.resourceUrl(g) })),
      ...(gateway.idp ? [{ name: 'dev IdP', url: gateway.idp.issuer }] : []),
      { name: 'admin (audit)', url: `${gateway.url}/admin` },
      { name: 'health', url: `${gateway.url}/healthz` },
      ...(tracing ? [{ name: 'traces (OTLP/HTTP)', url: tracing.endpoint }] : []),
    ];
    info.tryIt = role === 'dev' ? [...tokenCommands(config), ...tryItCommands(config, [...registry.skills().values()])] : [];
    // A gateway runs until stopped; a process with a worker also ends when its worker does.
    const done = running ? endedWith(running, stop) : ended;
    return { info, temporal, pool, catalog, done, stop };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** Settles when the worker stops (after stopping the rest); rejects with the worker's failure. */
function endedWith(running: Promise<void>, stop: () => Promise<void>): Promise<void> {
  return running.then(
    () => stop(),
    async (err: unknown) => {
      await stop();
      throw err;
    },
  );
}

/**
 * What a `skillgate dev` that died without stopping (kill -9, a crash) left running: its
 * Temporal dev server still holds the ports and the database. Stopped here — only if it is
 * still the process recorded (a `temporal … start-dev` on the same database), never a
 * process that merely reused the pid.
 */
async function stopLeftovers(previous: RuntimeInfo, log: (line: string) => void): Promise<void> {
  const t = previous.temporal;
  if (t?.pid === undefined || !processAlive(t.pid)) return;
  const command = processCommand(t.pid) ?? '';
  if (!command.includes('start-dev') || (t.dbFile !== undefined && !command.includes(t.dbFile))) return;
  log(`stopping the Temporal dev server (pid ${t.pid}) left running by an earlier skillgate dev (pid ${previous.pid}) that did not stop cleanly`);
  process.kill(t.pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (processAlive(t.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(t.pid)) process.kill(t.pid, 'SIGKILL');
  while (processAlive(t.pid)) await new Promise((r) => setTimeout(r, 50));
}

/** Lists each server's tools once, so the banner can show counts, approvals and unreachable servers. */
async function describeServers(loaded: LoadedConfig, pool: UpstreamPool, catalog: PinnedCatalog): Promise<ServerInfo[]> {
  return Promise.all(
    Object.entries(loaded.config.servers).map(async ([name, server]): Promise<ServerInfo> => {
      const transport = isStdioServer(server) ? 'stdio' : 'http';
      try {
        const tools = await pool.listTools(name);
        return { name, transport, ok: true, tools: tools.length, approved: (await catalog.visibleTools(name)).length };
      } catch (err) {
        return { name, transport, ok: false, error: (err as Error).message };
      }
    }),
  );
}

/** Ready-to-paste token commands: one per gateway, for its first agent and the workspace's first user. */
function tokenCommands(config: LoadedConfig['config']): string[] {
  if (!config.identity.devIdp) return [];
  const user = Object.keys(config.users)[0];
  if (!user) return [];
  const lines: string[] = [];
  for (const [name, g] of Object.entries(config.gateways)) {
    const agent = g.agents[0];
    if (agent) lines.push(`npx skillgate token --user ${user} --agent ${agent} --gateway ${name}   # Bearer token for ${name}`);
  }
  return lines;
}

/**
 * Ready-to-paste runs, read from the skills themselves: each skill enabled on a gateway whose
 * input schema has `examples` gets one `skillgate run` per example (the first with --wait), and
 * a skill with an approval step gets the `skillgate approve` line for a user who holds its role.
 */
function tryItCommands(config: LoadedConfig['config'], skills: readonly CompiledSkill[]): string[] {
  const lines: string[] = [];
  const enabled = new Set(Object.values(config.gateways).flatMap((g) => g.skills));
  for (const { plan } of skills) {
    const name = plan.skill.name;
    if (!enabled.has(name)) continue;
    const examples = Array.isArray(plan.inputs.examples) ? plan.inputs.examples : [];
    examples.forEach((example, i) => lines.push(`npx skillgate run ${name} --input '${JSON.stringify(example)}'${i === 0 ? ' --wait' : ''}`));
    const roles = [...new Set(plan.steps.flatMap((st) => (st.kind === 'approval' ? [st.approval.role] : st.kind === 'tool' && st.approval ? [st.approval.role] : [])))];
    for (const role of roles) {
      const approver = Object.entries(config.users).find(([, u]) => u.roles.includes(role))?.[0];
      if (approver) lines.push(`npx skillgate approve <workflowId> --as ${approver}   # a ${role} decides a waiting run`);
    }
  }
  lines.push(`npx skillgate validate ${config.skillsDir}/`);
  return lines;
}

/** The human-readable "what runs where" block printed by `skillgate dev`. */
export function formatBanner(info: DevRuntimeInfo): string {
  const t = info.temporal;
  const out: string[] = [];
  const what = info.role === 'dev' ? 'dev runtime' : info.role === 'gateway' ? 'gateway replica (front door; runs no step)' : 'worker replica (runs skill steps; no listener)';
  out.push(`Skillgate ${what} — workspace ${info.workspace} (${info.configFile})`, '');
  out.push(
    `  Temporal      ${t.address}  namespace ${t.namespace}  task queue ${t.taskQueue}` +
      (t.embedded ? '  (embedded dev server)' : '  (external cluster)'),
  );
  if (t.uiUrl) out.push(`  Temporal UI   ${t.uiUrl}/namespaces/${encodeURIComponent(t.namespace)}/workflows`);
  if (t.dbFile) out.push(`  Temporal db   ${t.dbFile}`);
  if (t.executable) out.push(`  Temporal CLI  ${t.executable}`);
  if (t.registeredSearchAttributes.length) out.push(`  registered    search attributes ${t.registeredSearchAttributes.join(', ')}`);
  const width = Math.max(13, ...info.endpoints.map((e) => e.name.length));
  for (const e of info.endpoints) out.push(`  ${e.name.padEnd(width)} ${e.url}`);
  out.push(`  state         ${info.stateDir}`);
  out.push(`  log           ${info.logDestination}  (JSON lines: every refusal and denial, runs, approvals)`, '');

  out.push(`  Upstream MCP servers (${info.servers.length})`);
  for (const s of info.servers) {
    out.push(
      s.ok
        ? `    ${s.name.padEnd(20)} ${s.transport.padEnd(6)} ${s.tools} tool${s.tools === 1 ? '' : 's'}, ${s.approved} approved`
        : `    ${s.name.padEnd(20)} ${s.transport.padEnd(6)} UNAVAILABLE: ${s.error}`,
    );
  }
  if (info.servers.length === 0) out.push('    (none configured: add `servers:` to skillgate.yaml)');
  out.push(`  Pinned catalog  ${info.catalog.lockFile}${info.catalog.status === 'ok' ? '' : `\n    UNAVAILABLE — no upstream tool is served: ${info.catalog.status}`}`);
  out.push('');

  out.push(`  Skills loaded (${info.skills.length})`);
  for (const s of info.skills) out.push(`    ${s.name.padEnd(20)} v${s.version.padEnd(8)} ${s.planHash}${s.held ? `\n      HELD: ${s.held}` : ''}`);
  if (info.skillDiagnostics.length) {
    out.push(`  Skills NOT loaded — ${info.skillDiagnostics.length} problem${info.skillDiagnostics.length === 1 ? '' : 's'}:`);
    for (const d of info.skillDiagnostics) out.push(...formatDiagnostic(d).split('\n').map((l) => `    ${l}`));
  }
  out.push('');

  if (info.tryIt.length) {
    out.push('  Try it (in another terminal):');
    for (const l of info.tryIt) out.push(`    ${l}`);
    out.push('');
  }
  out.push('  Ready. Ctrl-C stops everything (press twice to force).');
  return out.join('\n');
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s; gave up`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A free loopback port (bound and released: the front door takes it right after). */
async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
