import type { Command } from 'commander';
import { openWorkspaceAudit } from '../runtime/audit.js';
import { openRevocationStore } from '../runtime/state.js';
import { configFrom } from './context.js';
import { CliError } from './errors.js';

/**
 * `skillgate revoke --user <id>`: stop a user at once — every gateway refuses their requests
 * and their running skills fail at the next step (and compensate). `--restore` lifts it.
 * Both are recorded in the audit trail (`admin.action`, user = the user revoked or restored,
 * `detail.by` = the operator's login).
 */
export function register(program: Command): void {
  program
    .command('revoke')
    .description("revoke a user: their next request and their running skills' next step are refused")
    .option('--user <id>', 'the user id (token `sub`)')
    .option('--reason <text>', 'kept with the revocation')
    .option('--restore', 'lift the revocation instead')
    .option('--list', 'list revoked users')
    .action(async (opts: { user?: string; reason?: string; restore?: boolean; list?: boolean }, cmd: Command) => {
      const loaded = configFrom(cmd);
      const store = await openRevocationStore(loaded);
      try {
        if (opts.list) {
          const all = await store.list();
          const ids = Object.keys(all);
          if (ids.length === 0) process.stdout.write('no revoked users\n');
          for (const id of ids) process.stdout.write(`${id}\trevoked ${all[id]!.at} by ${all[id]!.by}${all[id]!.reason ? `: ${all[id]!.reason}` : ''}\n`);
          return;
        }
        if (!opts.user) throw new CliError('--user <id> is required (or --list)', 2);
        const user = opts.user;
        const by = process.env.USER ?? 'cli';
        const audit = await openWorkspaceAudit(loaded, { busyTimeoutMs: 5_000, onProblem: (m) => process.stderr.write(`skillgate: audit: ${m}\n`) });
        try {
          const record = (action: 'revoke' | 'restore') =>
            audit.log.record({
              kind: 'admin.action',
              outcome: 'ok',
              reason: action,
              workspace: loaded.config.workspace,
              user,
              detail: { action, by, component: 'cli', ...(opts.reason ? { reason: opts.reason.slice(0, 200) } : {}) },
            });
          if (opts.restore) {
            if (!(await store.restore(user))) throw new CliError(`user "${user}" is not revoked`, 1);
            record('restore');
            process.stdout.write(`restored ${user}\n`);
            return;
          }
          await store.revoke(user, { by, ...(opts.reason ? { reason: opts.reason } : {}) });
          record('revoke');
          process.stdout.write(`revoked ${user}: refused from the next request and the next skill step on (${store.where})\n`);
        } finally {
          await audit.close();
        }
      } finally {
        await store.close();
      }
    });
}
