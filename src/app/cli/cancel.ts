/**
 * `skillgate cancel <workflowId> --as <user> [--reason <text>]`: cancel a running skill run
 * through the run-actions service (Cedar `cancel_run` for the user and the agent). Steps
 * already done are compensated by the run.
 */
import type { Command } from 'commander';
import type { RunActions } from '../../skills/run-actions.js';
import { configFrom } from './context.js';

export function register(program: Command): void {
  program
    .command('cancel')
    .description('cancel a running skill run (completed steps are compensated)')
    .argument('<workflowId>', 'the run (as printed by `skillgate run`)')
    .requiredOption('--as <user>', 'who cancels, a key of `users` in skillgate.yaml (by default users may cancel runs they started)')
    .option('--reason <text>', 'why (kept in the log)')
    .option('--gateway <name>', "the gateway to act through (default: the run's own)")
    .option('--agent <id>', 'the agent acting for the user (default: the first agent of that gateway)')
    .action(async (workflowId: string, opts: { as: string; reason?: string; gateway?: string; agent?: string }, cmd: Command) => {
      const loaded = configFrom(cmd);
      const { actingPrincipal, NO_SKILLS, withRunActions } = await import('./run-actions.js');
      const cancel = async (actions: RunActions) => {
        const gateway = opts.gateway ?? (await actions.describe(workflowId)).gateway;
        await actions.cancel(actingPrincipal(loaded, gateway, opts.as, opts.agent), gateway, workflowId, opts.reason);
        process.stdout.write(`cancelling ${workflowId}: completed steps are being compensated\n`);
      };
      await withRunActions(loaded, NO_SKILLS, cancel, { deadlineMs: 30_000 });
    });
}
