/**
 * Shared CLI plumbing that every command may load at start: the config (from --config) and
 * workspace users. What is heavy (upstream connections, Temporal) is in connections.ts,
 * which commands import only when they run, so `skillgate --help` or `skillgate token` load
 * neither the Temporal SDK, the MCP SDK nor the dev IdP.
 */
import type { Command } from 'commander';
import type { Principal } from '../../contracts/principal.js';
import { didYouMean } from '../../shared/diagnostics.js';
import { own } from '../../shared/own.js';
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
  return { id, roles: user.roles, groups: user.groups, ...(Object.keys(user.attributes).length ? { attributes: user.attributes } : {}) };
}
