/**
 * The curation service: score a server as it answers now, and approve its tools into the
 * lock file. The CLI (`skillgate curate`) is a thin adapter over it; tests call it directly.
 */
import type { AuditSink } from '../../src/contracts/audit.js';
import type { ServerConfig } from '../../src/config/schema.js';
import { own } from '../../src/shared/own.js';
import type { Logger } from '../log.js';
import type { UpstreamPool } from '../upstream/types.js';
import { type Approval, approveTools, type ApproveOptions } from './approve.js';
import { identityOf } from './catalog.js';
import { LockError, type PinLock } from './lock.js';
import type { LockSource } from './lock-source.js';
import type { Probe } from './rules/types.js';
import { type CurationReport, scoreServer } from './score.js';

export interface CurationDeps {
  pool: UpstreamPool;
  /** The servers the pool knows (their command/args or URL are part of the identity). */
  servers: Readonly<Record<string, ServerConfig>>;
  /** Where the lock is (tools.lock.json, or PostgreSQL): lock-source.ts. */
  lock: LockSource;
  workspace: string;
  /** Required: every approval is recorded. */
  audit: AuditSink;
  log: Logger;
}

/** The lock as it is now: undefined when there is none yet; a corrupt one throws LockError (never overwritten). */
export function currentLock(source: LockSource): PinLock | undefined {
  try {
    return source.read();
  } catch (err) {
    if (err instanceof LockError && err.code === 'ERR_LOCK_MISSING') return undefined;
    throw err;
  }
}

/** Tools approved on the other servers of the lock (the names a shadowing text would steer to). */
export function otherServersOf(lock: PinLock | undefined, server: string): Map<string, string[]> {
  return new Map(Object.entries(lock?.servers ?? {}).filter(([s]) => s !== server).map(([s, pins]) => [s, Object.keys(pins.tools)]));
}

/**
 * List and score a server. With `probe`, read-only tools that document an input example are
 * called once with it, and their result is checked against their outputSchema.
 */
export async function inspectServer(deps: Pick<CurationDeps, 'pool' | 'servers'>, server: string, opts: { otherServers?: ReadonlyMap<string, readonly string[]>; probe?: boolean; now?: () => Date } = {}): Promise<CurationReport> {
  const inventory = await deps.pool.inventory(server);
  const cfg = own(deps.servers, server);
  if (!cfg) throw new Error(`inspectServer: unknown server ${server}`);
  const probes = new Map<string, Probe>();
  if (opts.probe) {
    for (const t of inventory.tools) {
      const ann = t.annotations as { readOnlyHint?: unknown } | undefined;
      const schema = t.inputSchema as { examples?: unknown } | undefined;
      if (typeof t.name !== 'string' || ann?.readOnlyHint !== true || !Array.isArray(schema?.examples) || !schema.examples.length || t.outputSchema === undefined) continue;
      const input = schema.examples[0];
      if (input === null || typeof input !== 'object' || Array.isArray(input)) continue;
      try {
        probes.set(t.name, { input, result: await deps.pool.callTool(server, t.name, input as never, { timeoutMs: 10_000 }) });
      } catch (err) {
        probes.set(t.name, { input, error: (err as Error).message });
      }
    }
  }
  return scoreServer({
    server,
    identity: identityOf(cfg, inventory.info),
    inventory,
    ...(opts.otherServers ? { otherServers: opts.otherServers } : {}),
    ...(probes.size ? { probes } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
}

/**
 * Approve tools of a scored server: the lock is read (a corrupt one is refused, never
 * overwritten), updated, written (atomically; on PostgreSQL only if nobody changed it meanwhile), and each new or changed pin is recorded as a
 * `catalog.approved` audit event.
 */
export async function approveServer(deps: CurationDeps, report: CurationReport, opts: ApproveOptions): Promise<Approval> {
  const approval = approveTools(currentLock(deps.lock), report, opts);
  await deps.lock.write(approval.lock);
  for (const a of approval.approved) {
    deps.audit.record({
      kind: 'catalog.approved',
      outcome: 'allow',
      reason: 'ok',
      workspace: deps.workspace,
      server: report.server,
      tool: a.tool,
      detail: { hash: a.hash, ...(a.previous ? { previous: a.previous } : {}), grade: a.grade, approvedBy: opts.by, source: 'skillgate curate' },
    });
  }
  for (const t of approval.removed) {
    deps.audit.record({ kind: 'catalog.approved', outcome: 'info', reason: 'removed', workspace: deps.workspace, server: report.server, tool: t, detail: { removedBy: opts.by, why: 'the server no longer lists it' } });
  }
  deps.log.info('tools approved', { event: 'catalog', server: report.server, approved: approval.approved.map((a) => a.tool), unchanged: approval.unchanged, removed: approval.removed, by: opts.by });
  return approval;
}
