/**
 * What the skill-engine benchmarks share: a tiny in-process MCP server over Streamable HTTP
 * with a `noop` tool, the upstream pool in front of it, the benchmark skills compiled against
 * it, and the governance they run under — said here once: an explicit allow-all authorizer
 * (Cedar's cost is `bench:decision`), no data-loss rules (`bench:dlp`), the audit trail
 * discarded (`bench:audit`), a real run attestor (signing and verifying starts is part of a run).
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { stringify } from 'yaml';
import { z } from 'zod';
import type { Authorizer } from '../gateway/authz/authorizer.js';
import { createRunAttestor } from '../gateway/authz/run-attestation.js';
import type { CredentialService } from '../gateway/downstream/credentials.js';
import type { DataLossFilters } from '../gateway/dlp/filters.js';
import { NO_RULES } from '../gateway/dlp/rules.js';
import { silentLogger } from '../gateway/log.js';
import { createUpstreamPool } from '../gateway/upstream/pool.js';
import type { UpstreamPool } from '../gateway/upstream/types.js';
import { serveHttp } from '../demo/serve.js';
import { openCredentials } from '../src/app/runtime/credentials.js';
import { parseConfig } from '../src/config/load.js';
import type { AuditSink } from '../src/contracts/audit.js';
import type { CompiledPlan } from '../src/contracts/plan.js';
import { fetchCatalog } from '../src/skills/catalog.js';
import { compileOptions } from '../src/skills/compile-all.js';
import { compileSkill } from '../src/skills/compile.js';
import { formatDiagnostic } from '../src/shared/diagnostics.js';

export const BENCH_ROOT = resolve(import.meta.dirname, '..');
export const ALLOW_ALL: Authorizer = { check: () => ({ decisionId: 'bench-allow-all', args: { digest: 'sha256:not-recorded' } }), admit() {}, canList: () => true };
export const NO_DATA_LOSS: DataLossFilters = { rulesFor: () => NO_RULES, log: silentLogger };
export const DISCARD: AuditSink = { record() {} };
export const attestor = createRunAttestor(randomBytes(32));

export interface NoopRig {
  pool: UpstreamPool;
  credentials: CredentialService;
  /** Compile `bench/skills/<name>` against the noop server. */
  compile(name: string): Promise<{ plan: CompiledPlan; planHash: string }>;
  close(): Promise<void>;
}

/** The noop MCP server, the pool and the credentials of a `bench` workspace whose config lives in `dir`. */
export async function startNoopRig(dir: string): Promise<NoopRig> {
  const http = await serveHttp({ create: noopServer }, undefined, { port: 0 });
  const addr = http.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/mcp`;
  const loaded = parseConfig(stringify({ workspace: 'bench', servers: { bench: { url } } }), join(dir, 'skillgate.yaml'));
  const pool = createUpstreamPool(loaded, { log: () => {} });
  const credentials = (await openCredentials(loaded, { audit: DISCARD })).service;
  let catalog: ReturnType<typeof fetchCatalog> | undefined;
  return {
    pool,
    credentials,
    async compile(name) {
      catalog ??= fetchCatalog(pool);
      const compiled = compileSkill(join(BENCH_ROOT, 'bench', 'skills', name), await catalog, compileOptions(loaded));
      if (!compiled.plan || !compiled.hash) throw new Error(compiled.diagnostics.map(formatDiagnostic).join('\n'));
      return { plan: compiled.plan, planHash: compiled.hash };
    },
    async close() {
      await pool.close();
      await new Promise((r) => {
        http.closeAllConnections();
        http.close(r);
      });
    },
  };
}

export function noopServer(): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool(
    'noop',
    { description: 'Does nothing; answers with the tag it was given.', inputSchema: { tag: z.string() }, annotations: { readOnlyHint: true } },
    ({ tag }) => ({ content: [{ type: 'text', text: JSON.stringify({ tag }) }], structuredContent: { tag } }),
  );
  return server;
}

/** The q-quantile (nearest rank) of `xs`. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
