/** The CLI's connections: upstream MCP servers and Temporal (imported by commands when they run). */
import { Client, Connection } from '@temporalio/client';
import { createPinnedCatalog, type PinnedCatalog } from '../../../gateway/curation/catalog.js';
import type { LockSource } from '../../../gateway/curation/lock-source.js';
import { createLogger, type Logger } from '../../../gateway/log.js';
import { createUpstreamPool } from '../../../gateway/upstream/pool.js';
import type { AuditSink } from '../../contracts/audit.js';
import type { UpstreamPool } from '../../../gateway/upstream/types.js';
import type { LoadedConfig } from '../../config/load.js';
import { CliError } from './errors.js';

/** Run `fn` with an upstream pool whose server stderr is kept quiet unless --verbose. */
export async function withPool<T>(loaded: LoadedConfig, fn: (pool: UpstreamPool) => Promise<T>, verbose = false): Promise<T> {
  const pool = createUpstreamPool(loaded, { log: verbose ? (l) => process.stderr.write(`${l}\n`) : () => {} });
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

/** Where the CLI finds Temporal: $TEMPORAL_ADDRESS, temporal.address, else the embedded dev server's port. */
export function temporalAddress(loaded: LoadedConfig): string {
  return process.env.TEMPORAL_ADDRESS || loaded.config.temporal.address || `127.0.0.1:${loaded.config.temporal.dev.port}`;
}

/** A Temporal client for one CLI command; a clear error when nothing answers. */
export async function connectClient(loaded: LoadedConfig): Promise<{ client: Client; connection: Connection; close(): Promise<void> }> {
  const address = temporalAddress(loaded);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: '5s' });
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${address}: ${(err as Error).message}\n  start it with \`skillgate dev\` (or \`npm start\`), or set TEMPORAL_ADDRESS`,
      2,
    );
  }
  return { client: new Client({ connection, namespace: loaded.config.temporal.namespace }), connection, close: () => connection.close() };
}


/** The runtime's structured log, as the CLI writes to it (`component: cli`). */
export function cliLogger(loaded: LoadedConfig): { logger: Logger; flush(): void } {
  const d = loaded.config.logging.destination;
  const { logger, flush } = createLogger({ destination: d === 'stderr' || d === 'stdout' ? d : loaded.path(d), level: loaded.config.logging.level });
  return { logger: logger.child({ component: 'cli' }), flush };
}

/**
 * The pinned catalog over the CLI's pool (no watcher: a command is short), logging to the
 * runtime's log and recording to the workspace's audit trail.
 */
export function openCatalog(loaded: LoadedConfig, pool: UpstreamPool, lock: LockSource, logger: Logger, audit: AuditSink): PinnedCatalog {
  return createPinnedCatalog({
    pool,
    lock,
    servers: loaded.config.servers,
    workspace: loaded.config.workspace,
    audit,
    log: logger,
    watch: false,
  });
}
