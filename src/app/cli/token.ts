/**
 * `skillgate token --user U --agent A [--gateway G] [--ttl 1h]`: an access token from the
 * embedded dev IdP's key, for scripts and curl. The token is for one gateway: its `aud` is that
 * gateway's resource URL `<publicUrl>/mcp/<gateway>`. With `--admin` instead of an agent, the
 * token is the admin page's (client `admin.clientId`, audience `<publicUrl>/admin`), for
 * `GET /admin/audit`.
 */
import type { Command } from 'commander';
import { adminResourceUrl, resourceUrl } from '../../../gateway/identity/resource-metadata.js';
import { createTokenMinter, MAX_TOKEN_TTL_SEC } from '../../../gateway/adapters/idp/mint.js';
import { didYouMean } from '../../shared/diagnostics.js';
import { parseDuration } from '../../pure/durations.js';
import { runningRuntime } from '../runtime/state-lock.js';
import { configFrom } from './context.js';
import { CliError } from './errors.js';

interface TokenOptions {
  user: string;
  agent?: string;
  admin?: boolean;
  gateway?: string;
  ttl: string;
}

/** Adds `skillgate token` to the program. */
export function register(program: Command): void {
  program
    .command('token')
    .description('print an access token from the embedded dev IdP (identity.devIdp: true) for a user acting through an agent')
    .requiredOption('--user <id>', 'a user of skillgate.yaml `users` (e.g. intern, ceo)')
    .option('--agent <id>', 'an agent of skillgate.yaml `agents` (e.g. hr-assistant)')
    .option('--admin', "a token of the admin page's client, for GET <publicUrl>/admin/audit (instead of --agent)")
    .option('--gateway <name>', 'the gateway the token is for (default: the first gateway the agent may use)')
    .option('--ttl <duration>', 'lifetime, e.g. 15m, 1h, or seconds; at most 24h', '1h')
    .action(async (opts: TokenOptions, cmd: Command) => {
      const loaded = configFrom(cmd);
      const { config } = loaded;
      if (!config.identity.devIdp) {
        throw new CliError(`the dev IdP is off (identity.devIdp: false in ${loaded.file}): get tokens from your identity provider instead`, 2);
      }
      const unknown = (what: string, id: string, known: string[]) => {
        const guess = didYouMean(id, known);
        return new CliError(`unknown ${what} "${id}"${guess ? ` — did you mean "${guess}"?` : ''} (known: ${known.join(', ') || 'none'})`, 1);
      };
      if (!Object.hasOwn(config.users, opts.user)) throw unknown('user', opts.user, Object.keys(config.users));
      const ttlMs0 = /^\d+$/.test(opts.ttl) ? Number(opts.ttl) * 1000 : parseDuration(opts.ttl);
      if (opts.admin) {
        if (opts.agent !== undefined || opts.gateway !== undefined) throw new CliError('--admin mints the admin page\'s token: leave out --agent and --gateway', 2);
        if (ttlMs0 === undefined || ttlMs0 < 1000 || ttlMs0 > MAX_TOKEN_TTL_SEC * 1000) throw new CliError(`--ttl must be a duration between 1s and 24h (e.g. 15m, 1h), got "${opts.ttl}"`, 2);
        const stateDir = loaded.path(config.stateDir);
        const publicUrl = runningRuntime(stateDir)?.publicUrl ?? config.publicUrl;
        const minter = await createTokenMinter({ config: { ...config, publicUrl }, stateDir });
        const audience = adminResourceUrl(publicUrl);
        const token = await minter.mintToken({ user: opts.user, agent: config.admin.clientId, clientId: config.admin.clientId, audience, ttlSec: Math.floor(ttlMs0 / 1000) });
        process.stdout.write(`${token}\n`);
        process.stderr.write(`admin token for ${opts.user} on ${audience}, expires in ${Math.floor(ttlMs0 / 1000)}s\n`);
        return;
      }
      if (opts.agent === undefined) throw new CliError('--agent <id> is required (or --admin)', 2);
      const agent = opts.agent;
      if (!Object.hasOwn(config.agents, agent)) throw unknown('agent', agent, Object.keys(config.agents));
      const allowed = Object.entries(config.gateways)
        .filter(([, g]) => g.agents.includes(agent))
        .map(([name]) => name);
      if (opts.gateway !== undefined && !Object.hasOwn(config.gateways, opts.gateway)) throw unknown('gateway', opts.gateway, Object.keys(config.gateways));
      const gateway = opts.gateway ?? allowed[0];
      if (gateway === undefined) throw new CliError(`agent "${agent}" is not allowed on any gateway (add it to a gateway's agents in ${loaded.file})`, 1);
      if (!allowed.includes(gateway)) {
        throw new CliError(`agent "${agent}" may not use gateway "${gateway}" (it may use: ${allowed.join(', ') || 'none'})`, 1);
      }
      const ttlMs = /^\d+$/.test(opts.ttl) ? Number(opts.ttl) * 1000 : parseDuration(opts.ttl);
      if (ttlMs === undefined || ttlMs < 1000 || ttlMs > MAX_TOKEN_TTL_SEC * 1000) {
        throw new CliError(`--ttl must be a duration between 1s and 24h (e.g. 15m, 1h), got "${opts.ttl}"`, 2);
      }

      // Mint for the runtime actually running with this state folder (its port may come from
      // SKILLGATE_PORT in another shell), else for what the config says.
      const stateDir = loaded.path(config.stateDir);
      const publicUrl = runningRuntime(stateDir)?.publicUrl ?? config.publicUrl;
      const minter = await createTokenMinter({ config: { ...config, publicUrl }, stateDir });
      const audience = resourceUrl(publicUrl, gateway);
      const ttlSec = Math.floor(ttlMs / 1000);
      const token = await minter.mintToken({ user: opts.user, agent, audience, ttlSec });
      process.stdout.write(`${token}\n`);
      process.stderr.write(`token for ${opts.user} via ${agent} on ${audience}, expires in ${ttlSec}s\n`);
    });
}
