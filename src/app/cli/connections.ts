/** The CLI's connections: upstream MCP servers and Temporal (imported by commands when they run). */
import { Client, Connection } from '@temporalio/client';
import { createUpstreamPool } from '../../../gateway/upstream/pool.js';
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

