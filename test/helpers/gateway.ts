/**
 * A running gateway on a free port over a governed test workspace, and MCP SDK clients that
 * connect to it with a token for (user, agent).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { randomUUID } from 'node:crypto';
import { Client as TemporalClientClass, type Client as TemporalClient, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { fetchCatalog } from '../../src/skills/catalog.js';
import { compileSkill } from '../../src/skills/compile.js';
import { createSkillWorker } from '../../src/temporal/worker.js';
import { createDataLossFilters } from '../../gateway/dlp/filters.js';
import { memoryAuditSink } from '../../gateway/audit/memory.js';
import { type Logger, memoryLogger } from '../../gateway/log.js';
import type { TelemetryRuntime } from '../../src/app/runtime/telemetry.js';
import type { AuditEventInput, AuditSink } from '../../src/contracts/audit.js';
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import type { UpstreamPool } from '../../gateway/upstream/types.js';
import type { CompiledSkill } from '../../src/skills/compile-all.js';
import { type RunningGateway, startGateway } from '../../src/app/runtime/front-door.js';
import { createGovernance, type Governance } from '../../src/app/runtime/governance.js';
import { governedWorkspace, type TestWorkspace } from './workspace.js';
import type { PinnedCatalog } from '../../gateway/curation/catalog.js';
import { approvedCatalog } from './catalog.js';
import { type Credentials, openCredentials } from '../../src/app/runtime/credentials.js';

import { freePort } from './dev-process.js';

/** A free loopback port below the ephemeral range (released at once: the gateway binds it next). */
export { freePort };

export interface TestGateway {
  ws: TestWorkspace;
  credentials: Credentials;
  gw: RunningGateway;
  pool: UpstreamPool;
  governance: Governance;
  /** The real pinned catalog, over a lock that approves every tool of the workspace at start. */
  catalog: PinnedCatalog;
  /** What was recorded in the audit trail (a memory sink unless the caller gave one). */
  audit: AuditSink & { events?: AuditEventInput[] };
  /** Every line the gateway logged (level, msg and fields flattened). */
  logs: Array<{ level: string; msg: string } & Record<string, unknown>>;
  /** The logger those lines come from (workers of the same test log there too). */
  log: Logger;
  token(user: string, agent: string, gateway: string, opts?: { ttlSec?: number }): Promise<string>;
  connect(user: string, agent: string, gateway: string): Promise<Client>;
  /** Stop the front door and start a new one on the same port, state folder and keys (a gateway restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestGateway(
  opts: {
    port?: number;
    extra?: Record<string, unknown>;
    temporal?: { client: TemporalClient; taskQueue: string };
    skills?: () => ReadonlyMap<string, CompiledSkill>;
    skillSyncWaitMs?: number;
    tracing?: TelemetryRuntime;
    /** Where audit events go (default: a memory sink, `audit.events`). */
    audit?: AuditSink;
  } = {},
): Promise<TestGateway> {
  // The port first: publicUrl names Skillgate as the issuer of the tokens its servers verify.
  const port = opts.port ?? (await freePort());
  const ws = governedWorkspace({ publicUrl: `http://127.0.0.1:${port}`, ...opts.extra });
  const pool = createUpstreamPool(ws.loaded, { log: () => {} });
  const audit = opts.audit ?? memoryAuditSink();
  const governance = await createGovernance(ws.loaded, { watch: true, audit });
  const credentials = await openCredentials(ws.loaded, { audit, serverUrl: (s) => pool.url(s) });
  const log = memoryLogger();
  const logs = log.lines;
  const catalog = await approvedCatalog(ws.loaded, pool, log, audit);
  const options = {
    loaded: ws.loaded,
    pool,
    governance,
    catalog,
    credentials,
    log,
    ...(opts.temporal ? { temporal: opts.temporal } : {}),
    ...(opts.skills ? { skills: opts.skills } : {}),
    ...(opts.skillSyncWaitMs !== undefined ? { skillSyncWaitMs: opts.skillSyncWaitMs } : {}),
    ...(opts.tracing ? { telemetry: opts.tracing.telemetry } : {}),
  };
  let gw = await startGateway({ ...options, port });
  const clients: Client[] = [];
  const token = (user: string, agent: string, gateway: string, o: { ttlSec?: number } = {}) =>
    self.gw.idp!.mintToken({ user, agent, audience: gw.resourceUrl(gateway), ...(o.ttlSec ? { ttlSec: o.ttlSec } : {}) });
  const self: TestGateway = {
    ws,
    credentials,
    gw,
    pool,
    governance,
    catalog,
    audit,
    logs,
    log,
    token,
    async connect(user, agent, gateway) {
      const t = await token(user, agent, gateway);
      const client = new Client({ name: `test-${user}-${agent}`, version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(self.gw.resourceUrl(gateway)), { requestInit: { headers: { authorization: `Bearer ${t}` } } }));
      clients.push(client);
      return client;
    },
    async restart() {
      const port = Number(new URL(gw.url).port);
      await gw.close();
      // Same loaded config, with publicUrl pinned to the port: the same resource URLs, issuer and tokens.
      gw = await startGateway({ ...options, loaded: { ...ws.loaded, config: { ...ws.loaded.config, publicUrl: `http://127.0.0.1:${port}` } }, port });
      self.gw = gw;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await gw.close();
      catalog.close();
      await pool.close();
      await governance.close();
      await credentials.close();
      ws.cleanup();
    },
  };
  return self;
}

/**
 * A request straight into the gateway's fastify app (`app.inject`, no socket), with the Host
 * header the front door expects. For route-level tests; real clients keep real sockets.
 */
export async function inject(
  t: TestGateway,
  req: { method: 'GET' | 'POST' | 'DELETE'; path: string; headers?: Record<string, string>; body?: unknown },
): Promise<{ status: number; headers: Record<string, string | string[] | number | undefined>; json<T = Record<string, unknown>>(): T; text: string }> {
  const res = await t.gw.app.inject({
    method: req.method,
    url: req.path,
    headers: { host: new URL(t.gw.url).host, ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}), ...req.headers },
    ...(req.body !== undefined ? { payload: typeof req.body === 'string' ? req.body : JSON.stringify(req.body) } : {}),
  });
  return { status: res.statusCode, headers: res.headers, json: <T>() => res.json<T>(), text: res.body };
}

/** The structured output of a tool result (or the parsed text). */
export function structured<T = Record<string, unknown>>(r: unknown): T {
  const res = r as { structuredContent?: unknown; content?: Array<{ type: string; text?: string }> };
  if (res.structuredContent !== undefined) return res.structuredContent as T;
  return JSON.parse(res.content?.[0]?.text ?? 'null') as T;
}

/** The text of a tool result. */
export function textOf(r: unknown): string {
  return ((r as { content?: Array<{ type: string; text?: string }> }).content ?? []).map((c) => c.text ?? '').join(' ');
}

/** A gateway with skills: the front door, a Temporal client and a worker with the same governance. */
export interface SkillGateway extends TestGateway {
  client: TemporalClient;
  taskQueue: string;
  skills: Map<string, CompiledSkill>;
}

/**
 * `startTestGateway` plus skill runs: the given skill folders compiled against the workspace's
 * real servers, a Temporal client and a worker on its own task queue whose activities run
 * the gateway's own governance (Cedar, revocations, the run key).
 */
export async function startSkillGateway(opts: {
  address: string;
  skillDirs: string[];
  port?: number;
  extra?: Record<string, unknown>;
  skillSyncWaitMs?: number;
  /** Trace the front door, the runs and the upstream calls (src/app/runtime/telemetry.ts). */
  tracing?: TelemetryRuntime;
  audit?: AuditSink;
}): Promise<SkillGateway> {
  const taskQueue = `skills-${randomUUID()}`;
  const connection = await Connection.connect({ address: opts.address });
  const native = await NativeConnection.connect({ address: opts.address });
  const plainClient = new TemporalClientClass({ connection });
  const client = opts.tracing ? opts.tracing.tracedClient(plainClient) : plainClient;
  const skills = new Map<string, CompiledSkill>();
  const t = await startTestGateway({
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.extra ? { extra: opts.extra } : {}),
    temporal: { client, taskQueue },
    skills: () => skills,
    ...(opts.skillSyncWaitMs !== undefined ? { skillSyncWaitMs: opts.skillSyncWaitMs } : {}),
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
    ...(opts.audit ? { audit: opts.audit } : {}),
  });
  // Compiled against the approved tools, as the runtime does (src/skills/registry.ts).
  const catalog = (await t.catalog.approvedTools(t.pool.servers())) as Awaited<ReturnType<typeof fetchCatalog>>;
  for (const dir of opts.skillDirs) {
    const r = compileSkill(dir, catalog);
    if (!r.plan || !r.hash) throw new Error(`${dir} does not compile: ${JSON.stringify(r.diagnostics)}`);
    skills.set(r.plan.skill.name, { dir, plan: r.plan, hash: r.hash });
  }
  const worker = await createSkillWorker({
    connection: native,
    taskQueue,
    activities: createActivities({
      pool: t.pool,
      authorizer: t.governance.authorizer,
      attestor: t.governance.attestor,
      catalog: t.catalog,
      dataLoss: createDataLossFilters(t.ws.loaded.config.gateways, t.log),
      audit: t.audit,
      credentials: t.credentials.service,
      ...(opts.tracing ? { telemetry: opts.tracing.telemetry } : {}),
    }),
    ...(opts.tracing ? { tracing: opts.tracing.worker } : {}),
    audit: t.audit,
  });
  const running = worker.run();
  const closeGateway = t.close;
  // The same object (not a copy): `restart()` replaces its `gw`.
  return Object.assign(t, {
    client,
    taskQueue,
    skills,
    async close() {
      worker.shutdown();
      await running;
      await closeGateway();
      await native.close();
      await connection.close();
    },
  });
}
