import type { Command } from 'commander';
import { resourceUrl } from '../../gateway/http/app.js';
import { didYouMean } from '../diagnostics.js';
import { configFrom } from './context.js';
import { CliError } from './errors.js';

/** `skillgate token --user U --agent A [--gateway G]`: a dev IdP access token for scripts. */
export function register(program: Command): void {
  program
    .command('token')
    .description('print an access token from the embedded dev IdP (identity.devIdp: true) for a user acting through an agent')
    .requiredOption('--user <id>', 'a user of skillgate.yaml `users` (e.g. intern, ceo)')
    .requiredOption('--agent <id>', 'an agent of skillgate.yaml `agents` (e.g. hr-assistant)')
    .option('--gateway <name>', 'the gateway the token is for (default: the first gateway the agent may use)')
    .option('--ttl <seconds>', 'lifetime in seconds', '3600')
    .action(async (opts: { user: string; agent: string; gateway?: string; ttl: string }, cmd: Command) => {
      const loaded = configFrom(cmd);
      const { config } = loaded;
      if (!config.identity.devIdp) {
        throw new CliError('the dev IdP is off (identity.devIdp: false): get tokens from your identity provider instead', 2);
      }
      const unknown = (what: string, id: string, known: string[]) => {
        const guess = didYouMean(id, known);
        return new CliError(`unknown ${what} "${id}"${guess ? ` — did you mean "${guess}"?` : ''} (known: ${known.join(', ')})`, 1);
      };
      if (!config.users[opts.user]) throw unknown('user', opts.user, Object.keys(config.users));
      if (!config.agents[opts.agent]) throw unknown('agent', opts.agent, Object.keys(config.agents));
      const allowed = Object.entries(config.gateways).filter(([, g]) => g.agents.includes(opts.agent)).map(([n]) => n);
      const gateway = opts.gateway ?? allowed[0];
      if (!gateway) throw new CliError(`agent "${opts.agent}" is not allowed on any gateway`, 1);
      if (!config.gateways[gateway]) throw unknown('gateway', gateway, Object.keys(config.gateways));
      if (!allowed.includes(gateway)) throw new CliError(`agent "${opts.agent}" may not use gateway "${gateway}" (it may use: ${allowed.join(', ') || 'none'})`, 1);
      const ttlSec = Number(opts.ttl);
      if (!Number.isInteger(ttlSec) || ttlSec < 1 || ttlSec > 86_400) throw new CliError('--ttl must be a whole number of seconds between 1 and 86400', 2);
      // Loaded here, not at the top: oidc-provider is heavy and every other command would pay for it.
      const { createDevIdp } = await import('../../gateway/idp/dev-idp.js');
      const idp = await createDevIdp(config, loaded.path(config.stateDir));
      const token = await idp.mintToken({ user: opts.user, agent: opts.agent, audience: resourceUrl(config.publicUrl, gateway), ttlSec });
      process.stdout.write(`${token}\n`);
      process.stderr.write(`token for ${opts.user} via ${opts.agent} on ${resourceUrl(config.publicUrl, gateway)} (expires in ${ttlSec}s)\n`);
    });
}
