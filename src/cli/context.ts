/** Shared CLI plumbing: the loaded config (from --config) and a clean upstream pool. */
import type { Command } from 'commander';
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import type { UpstreamPool } from '../../gateway/upstream/types.js';
import { ConfigError, defaultConfigPath, type LoadedConfig, loadConfig } from '../config/load.js';
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
