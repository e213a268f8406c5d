/**
 * What the skill-engine benchmarks share (bench/skill-overhead.ts, bench/throughput.ts and its
 * worker processes): a no-op MCP server, the engine's dependencies — the governing ones
 * replaced by explicit allow-all / discard values, said here — the skill compiler and a worker.
 */
import { join, resolve } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { stringify } from 'yaml';
import { z } from 'zod';
import { createActivities } from '../activities/index.js';
import { serveHttp } from '../demo/serve.js';
import type { Authorizer } from '../gateway/authz/authorizer.js';
import type { RunAttestor } from '../gateway/authz/run-attestation.js';
import type { CredentialService } from '../gateway/downstream/credentials.js';
import type { DataLossFilters } from '../gateway/dlp/filters.js';
import { NO_RULES } from '../gateway/dlp/rules.js';
import { silentLogger } from '../gateway/log.js';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import type { UpstreamPool } from '../gateway/upstream/types.js';
import { openCredentials } from '../src/app/runtime/credentials.js';
import { type LoadedConfig, parseConfig } from '../src/config/load.js';
import type { AuditSink } from '../src/contracts/audit.js';
import type { CompiledPlan } from '../src/contracts/plan.js';
import { formatDiagnostic } from '../src/shared/diagnostics.js';
import { fetchCatalog } from '../src/skills/catalog.js';
import { compileOptions } from '../src/skills/compile-all.js';
import { type CompileOptions, compileSkill } from '../src/skills/compile.js';
import { createSkillWorker, type WorkerTuning } from '../src/temporal/worker.js';
import { approveEverything } from '../test/helpers/allow-all.js';

/** The repository's root. */
export const BENCH_ROOT = resolve(import.meta.dirname, '..');

/**
 * The engine is measured without Cedar (its own figure is in BENCHMARKS.md, `bench:decision`):
 * an explicit allow-all. The run attestation is real — its verification at start and its
 * signing are part of what a run costs.
 */
export const ALLOW_ALL: Authorizer = { check: () => ({ decisionId: 'bench-allow-all', args: { digest: 'sha256:not-recorded' } }), admit() {}, canList: () => true };
/** No data-loss rules: the benchmarks measure the engine, not the filters (bench/dlp.ts does). */
export const NO_DATA_LOSS: DataLossFilters = { rulesFor: () => NO_RULES, log: silentLogger };
/** The engine without the audit trail (its own cost is in bench/audit.ts): events dropped, said here. */
export const DISCARD: AuditSink = { record() {} };

/** An MCP server with one read-only tool, `noop`, that answers with the tag it was given. */
export function noopServer(): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool(
    'noop',
    { description: 'Does nothing; answers with the tag it was given.', inputSchema: { tag: z.string() }, annotations: { readOnlyHint: true } },
    ({ tag }) => ({ content: [{ type: 'text', text: JSON.stringify({ tag }) }], structuredContent: { tag } }),
  );
  return server;
}

/** The no-op MCP server over Streamable HTTP on a loopback port of this process. */
export async function serveNoop(): Promise<{ url: string; close(): Promise<void> }> {
  const http = await serveHttp({ create: noopServer }, undefined, { port: 0 });
  const addr = http.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/mcp`,
    close: () =>
      new Promise((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}

/** The engine's dependencies over the no-op server: workspace `bench`, server `bench`. */
export interface BenchEngine {
  loaded: LoadedConfig;
  pool: UpstreamPool;
  credentials: CredentialService;
  /**
   * Compile a skill folder against the no-op server's catalog (listed once), with the config's
   * compile options unless `overrides` says; throws with the diagnostics.
   */
  compile(skillDir: string, overrides?: Partial<CompileOptions>): Promise<{ plan: CompiledPlan; planHash: string }>;
}

/**
 * Open the engine's dependencies. `dir` holds the workspace's state (vault, signing keys): one
 * per process. `users` lets the compiler check approval roles.
 */
export async function openBenchEngine(opts: { url: string; dir: string; users?: Record<string, { roles: string[] }> }): Promise<BenchEngine> {
  const loaded = parseConfig(stringify({ workspace: 'bench', servers: { bench: { url: opts.url } }, ...(opts.users ? { users: opts.users } : {}) }), join(opts.dir, 'skillgate.yaml'));
  const pool = createUpstreamPool(loaded, { log: () => {} });
  const credentials = (await openCredentials(loaded, { audit: DISCARD })).service;
  let catalog: ReturnType<typeof fetchCatalog> | undefined;
  return {
    loaded,
    pool,
    credentials,
    async compile(skillDir, overrides = {}) {
      catalog ??= fetchCatalog(pool);
      const compiled = compileSkill(skillDir, await catalog, { ...compileOptions(loaded), ...overrides });
      if (!compiled.plan || !compiled.hash) throw new Error(compiled.diagnostics.map(formatDiagnostic).join('\n'));
      return { plan: compiled.plan, planHash: compiled.hash };
    },
  };
}

/** A skill worker (created, not running) with the engine's dependencies and the product's defaults unless `tuning` says otherwise. */
export function createBenchWorker(opts: {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  engine: Pick<BenchEngine, 'pool' | 'credentials'>;
  attestor: RunAttestor;
  tuning?: WorkerTuning;
}): Promise<Worker> {
  const { pool, credentials } = opts.engine;
  return createSkillWorker({
    connection: opts.connection,
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    taskQueue: opts.taskQueue,
    activities: createActivities({ pool, authorizer: ALLOW_ALL, attestor: opts.attestor, catalog: approveEverything(pool), dataLoss: NO_DATA_LOSS, audit: DISCARD, credentials }),
    audit: DISCARD,
    ...(opts.tuning ? { tuning: opts.tuning } : {}),
  });
}

/** The q-quantile of `xs` (nearest rank); NaN for none. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** A benchmark's progress line, on stderr (stdout carries the report). */
export function benchLog(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/**
 * Run a benchmark's `main`, then every cleanup (in order, each even if one fails), then exit
 * with 1 if `main` failed: a bench stops by itself and leaves nothing running.
 */
export async function runBench(main: () => Promise<void>, cleanups: ReadonlyArray<() => Promise<unknown> | unknown>): Promise<never> {
  let failed = false;
  try {
    await main();
  } catch (err) {
    failed = true;
    benchLog(`failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        // best effort: the process exits next
      }
    }
  }
  process.exit(failed ? 1 : 0);
}
