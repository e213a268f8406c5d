/**
 * The real pinned catalog for gateway tests: every tool of the workspace's servers scored and
 * approved into the workspace's own tools.lock.json (as `skillgate curate <s> --approve
 * --accept-risk` would), then the catalog over it, recording audit events in memory.
 */
import { existsSync } from 'node:fs';
import { approveTools } from '../../gateway/curation/approve.js';
import { createPinnedCatalog, identityOf, type PinnedCatalog } from '../../gateway/curation/catalog.js';
import { type PinLock, readLock, writeLock } from '../../gateway/curation/lock.js';
import { scoreServer } from '../../gateway/curation/score.js';
import type { Logger } from '../../gateway/log.js';
import type { UpstreamPool } from '../../gateway/upstream/types.js';
import type { LoadedConfig } from '../../src/config/load.js';
import type { AuditSink } from '../../src/contracts/audit.js';
import { memoryAuditSink } from '../../gateway/audit/memory.js';
import { own } from '../../src/shared/own.js';
import { openLockSource } from '../../src/app/runtime/state.js';

/** Score `servers` (default: all) and approve them, or only `tools`, into the workspace's lock file. */
export async function approve(loaded: LoadedConfig, pool: UpstreamPool, opts: { servers?: string[]; tools?: string[]; by?: string } = {}): Promise<PinLock> {
  const file = loaded.path(loaded.config.catalog.lockFile);
  let lock: PinLock | undefined = existsSync(file) ? readLock(file) : undefined;
  // Listed in parallel (each server is its own process), approved one after the other.
  const servers = opts.servers ?? pool.servers();
  const inventories = await Promise.all(servers.map((s) => pool.inventory(s)));
  servers.forEach((server, i) => {
    const inventory = inventories[i]!;
    const identity = identityOf(own(loaded.config.servers, server)!, inventory.info);
    const report = scoreServer({ server, identity, inventory });
    lock = approveTools(lock, report, { by: opts.by ?? 'test', acceptRisk: true, ...(opts.tools ? { tools: opts.tools } : {}) }).lock;
  });
  writeLock(file, lock ?? { lockfileVersion: 1, servers: {} });
  return lock!;
}

/**
 * Approve every server's tools into the lock file, then the catalog over the workspace's lock,
 * following it like the runtime: the file itself, or — a workspace on PostgreSQL — the database's
 * lock, imported from that file (openLockSource). Closing the catalog closes the source.
 */
export async function approvedCatalog(loaded: LoadedConfig, pool: UpstreamPool, log: Logger, audit: AuditSink = memoryAuditSink()): Promise<PinnedCatalog> {
  await approve(loaded, pool);
  const lock = await openLockSource(loaded);
  const catalog = createPinnedCatalog({ pool, lock, servers: loaded.config.servers, workspace: loaded.config.workspace, audit, log });
  return {
    ...catalog,
    close() {
      catalog.close();
      void lock.close();
    },
  };
}

/**
 * A workspace file's servers, every tool approved into its own tools.lock.json — what an
 * operator does once with `skillgate curate <server> --approve` before `skillgate dev` of a
 * new workspace serves anything. For tests that start the runtime on a temporary workspace.
 */
export async function approveWorkspace(configFile: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<void> {
  const { loadConfig } = await import('../../src/config/load.js');
  const { createUpstreamPool } = await import('../../gateway/upstream/pool.js');
  const loaded = loadConfig(configFile, { env });
  const pool = createUpstreamPool(loaded, { log: () => {}, env });
  try {
    await approve(loaded, pool);
  } finally {
    await pool.close();
  }
}
