/**
 * A running gateway on a free port over a governed test workspace, and MCP SDK clients that
 * connect to it with a token for (user, agent).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Client as TemporalClient } from '@temporalio/client';
import { memoryLogger } from '../../gateway/log.js';
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import type { UpstreamPool } from '../../gateway/upstream/types.js';
import type { CompiledSkill } from '../../src/skills/compile-all.js';
import { createGovernance, type Governance, type RunningGateway, startGateway } from '../../src/app/runtime/front-door.js';
import { governedWorkspace, type TestWorkspace } from './workspace.js';

export interface TestGateway {
  ws: TestWorkspace;
  gw: RunningGateway;
  pool: UpstreamPool;
  governance: Governance;
  /** Every line the gateway logged (level, msg and fields flattened). */
  logs: Array<{ level: string; msg: string } & Record<string, unknown>>;
  token(user: string, agent: string, gateway: string, opts?: { ttlSec?: number }): Promise<string>;
  connect(user: string, agent: string, gateway: string): Promise<Client>;
  close(): Promise<void>;
}

export async function startTestGateway(
  opts: { extra?: Record<string, unknown>; temporal?: { client: TemporalClient; taskQueue: string }; skills?: () => ReadonlyMap<string, CompiledSkill>; skillSyncWaitMs?: number } = {},
): Promise<TestGateway> {
  const ws = governedWorkspace(opts.extra);
  const pool = createUpstreamPool(ws.loaded, { log: () => {} });
  const governance = createGovernance(ws.loaded, { watch: true });
  const log = memoryLogger();
  const logs = log.lines;
  const gw = await startGateway({
    loaded: ws.loaded,
    pool,
    governance,
    port: 0,
    log,
    ...(opts.temporal ? { temporal: opts.temporal } : {}),
    ...(opts.skills ? { skills: opts.skills } : {}),
    ...(opts.skillSyncWaitMs !== undefined ? { skillSyncWaitMs: opts.skillSyncWaitMs } : {}),
  });
  const clients: Client[] = [];
  const token = (user: string, agent: string, gateway: string, o: { ttlSec?: number } = {}) =>
    gw.idp!.mintToken({ user, agent, audience: gw.resourceUrl(gateway), ...(o.ttlSec ? { ttlSec: o.ttlSec } : {}) });
  return {
    ws,
    gw,
    pool,
    governance,
    logs,
    token,
    async connect(user, agent, gateway) {
      const t = await token(user, agent, gateway);
      const client = new Client({ name: `test-${user}-${agent}`, version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(gw.resourceUrl(gateway)), { requestInit: { headers: { authorization: `Bearer ${t}` } } }));
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await gw.close();
      await pool.close();
      governance.close();
      ws.cleanup();
    },
  };
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
