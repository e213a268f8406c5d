import type { Command } from 'commander';
import { DownstreamError } from '../../../gateway/downstream/errors.js';
import { own } from '../../shared/own.js';
import { type Credentials, openCredentials } from '../runtime/credentials.js';
import { openWorkspaceAudit } from '../runtime/audit.js';
import { configFrom } from './context.js';
import { CliError } from './errors.js';

/**
 * `skillgate grants list | revoke`: the vault's downstream grants, for an admin. Revoking
 * forgets the grant (the user's next call elicits again) and revokes it at the provider
 * (RFC 7009) when the provider can be reached from here. Tokens are never printed.
 */
export function register(program: Command): void {
  const grants = program.command('grants').description("downstream grants in the vault: list them, revoke a user's");
  grants
    .command('list')
    .description('list grants (user, agent, provider, scopes, expiry, status) — never a token')
    .option('--user <id>')
    .option('--agent <id>')
    .option('--provider <name>')
    .action(async (opts: { user?: string; agent?: string; provider?: string }, cmd: Command) => {
      const loaded = configFrom(cmd);
      const creds = await open(loaded);
      try {
        const list = await creds.service.vault.list({ workspace: loaded.config.workspace, ...opts });
        if (list.length === 0) process.stdout.write('no grants\n');
        for (const g of list) {
          const exp = g.expiresAt !== undefined ? new Date(g.expiresAt).toISOString() : 'unknown';
          process.stdout.write(`${g.user}\t${g.agent}\t${g.provider}\t${g.status}${g.statusReason ? ` (${g.statusReason})` : ''}\texpires ${exp}\t${g.scopes.join(' ')}\n`);
        }
      } finally {
        await creds.close();
      }
    });
  grants
    .command('revoke')
    .description("revoke a user's grants (all, or one agent's / one provider's), here and at the provider")
    .requiredOption('--user <id>')
    .option('--agent <id>')
    .option('--provider <name>')
    .action(async (opts: { user: string; agent?: string; provider?: string }, cmd: Command) => {
      const loaded = configFrom(cmd);
      if (opts.provider !== undefined && !own(loaded.config.providers, opts.provider)) throw new CliError(`unknown provider "${opts.provider}" (not under \`providers\` of ${loaded.file})`, 1);
      const creds = await open(loaded);
      try {
        const list = await creds.service.vault.list({ workspace: loaded.config.workspace, ...opts });
        if (list.length === 0) throw new CliError(`no grant matches user ${opts.user}${opts.agent ? `, agent ${opts.agent}` : ''}${opts.provider ? `, provider ${opts.provider}` : ''}`, 1);
        for (const g of list) {
          let atProvider: string;
          try {
            const r = await creds.service.disconnect(g, 'admin');
            atProvider = r.revokedAtProvider ? 'revoked at the provider too (RFC 7009)' : 'the provider has no revocation endpoint';
          } catch (err) {
            if (!(err instanceof DownstreamError)) throw err;
            // Forgotten here already; the provider could not be told.
            atProvider = `not revoked at the provider: ${err.message}`;
          }
          process.stdout.write(`revoked ${g.user} / ${g.agent} / ${g.provider}: ${atProvider}\n`);
        }
      } finally {
        await creds.close();
      }
    });
}

/** The vault, recording into the workspace's audit trail (the CLI waits for the runtime's write lock if it must). */
async function open(loaded: ReturnType<typeof configFrom>): Promise<{ service: Credentials['service']; close(): Promise<void> }> {
  const audit = await openWorkspaceAudit(loaded, { busyTimeoutMs: 5_000, onProblem: (m) => process.stderr.write(`skillgate: audit: ${m}\n`) });
  try {
    const creds = await openCredentials(loaded, {
      audit: audit.log,
      // Providers discovered through a server Skillgate starts are reachable only in that runtime.
      serverUrl: async (server) => {
        const url = own(loaded.config.servers, server)?.url;
        if (!url) throw new DownstreamError('ERR_PROVIDER_UNAVAILABLE', `its server "${server}" runs inside skillgate dev; revoke there (the user's skillgate.disconnect tool) or at the provider`);
        return new URL(url);
      },
    });
    return {
      service: creds.service,
      close: async () => {
        await creds.close();
        await audit.close();
      },
    };
  } catch (err) {
    await audit.close();
    if (err instanceof DownstreamError) throw new CliError(err.message, 2);
    throw err;
  }
}
