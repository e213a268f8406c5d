/** Shared CLI plumbing: the loaded config (from --config), a clean upstream pool, workspace users, Temporal. */
import { Client, Connection } from '@temporalio/client';
import type { Command } from 'commander';
import type { Principal } from '../../contracts/principal.js';
import { didYouMean } from '../../shared/diagnostics.js';
import { own } from '../../shared/own.js';
import { createUpstreamPool } from '../../../gateway/upstream/pool.js';
import type { UpstreamPool } from '../../../gateway/upstream/types.js';
import { ConfigError, defaultConfigPath, type LoadedConfig, loadConfig } from '../../config/load.js';
import { CliError } from './errors.js';

/** The workspace config named by the global --config option. */
export function configFrom(cmd: Command): LoadedConfig {
  const file = (cmd.optsWithGlobals() as { config?: string }).config ?? defaultConfigPath();
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}

/** Run `fn` with an upstream pool whose server stderr is kept quiet unless --verbose. */
export async function withPool<T>(loaded: LoadedConfig, fn: (pool: UpstreamPool) => Promise<T>, verbose = false): Promise<T> {
  const pool = createUpstreamPool(loaded, { log: verbose ? (l) => process.stderr.write(`${l}\n`) : () => {} });
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

/** A user of the workspace with their roles; an unknown user is a clear error (exit 1). */
export function workspaceUser(loaded: LoadedConfig, id: string): Principal['user'] {
  const user = own(loaded.config.users, id);
  if (!user) {
    const known = Object.keys(loaded.config.users);
    const guess = didYouMean(id, known);
    throw new CliError(
      `unknown user "${id}": not in \`users\` of ${loaded.file}${guess ? ` (did you mean "${guess}"?)` : ''}` +
        (known.length ? `\n  known users: ${known.join(', ')}` : ''),
      1,
    );
  }
  return { id, roles: user.roles, groups: user.groups };
}

/** Where the CLI finds Temporal: $TEMPORAL_ADDRESS, temporal.address, else the embedded dev server's port. */
export function temporalAddress(loaded: LoadedConfig): string {
  return process.env.TEMPORAL_ADDRESS || loaded.config.temporal.address || `127.0.0.1:${loaded.config.temporal.dev.port}`;
}

/** A Temporal client for one CLI command; a clear error when nothing answers. */
export async function connectClient(loaded: LoadedConfig): Promise<{ client: Client; close(): Promise<void> }> {
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
  return { client: new Client({ connection, namespace: loaded.config.temporal.namespace }), close: () => connection.close() };
}

