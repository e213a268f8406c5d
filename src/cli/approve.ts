/**
 * `skillgate approve <workflowId> --as <user> [--reject] [--comment <text>] [--step <id>]`:
 * decide a skill run's pending approval as a user of the workspace (roles from `users`).
 */
import type { Command } from 'commander';
import { approveRun, RunError } from '../skills/runs.js';
import { configFrom } from './context.js';
import { CliError } from './errors.js';
import { connectClient, workspaceUser } from './run.js';

interface ApproveOptions {
  as: string;
  reject?: boolean;
  comment?: string;
  step?: string;
}

export function register(program: Command): void {
  program
    .command('approve')
    .description("approve (or --reject) a skill run's pending approval")
    .argument('<workflowId>', 'the run (as printed by `skillgate run`)')
    .requiredOption('--as <user>', 'the approver, a key of `users` in skillgate.yaml; must hold the role the step asks for')
    .option('--reject', 'reject instead of approving (the run fails and compensates)')
    .option('--comment <text>', 'why (kept in the run history)')
    .option('--step <id>', 'the step to decide (needed only when several approvals are pending)')
    .action(async (workflowId: string, opts: ApproveOptions, cmd: Command) => {
      const loaded = configFrom(cmd);
      const approver = workspaceUser(loaded, opts.as);
      const temporal = await connectClient(loaded);
      try {
        const record = await approveRun(temporal.client, workflowId, {
          ...(opts.step ? { stepId: opts.step } : {}),
          approver: { id: approver.id, roles: approver.roles },
          decision: opts.reject ? 'reject' : 'approve',
          ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
        });
        process.stdout.write(`${record.decision === 'approve' ? 'approved' : 'rejected'} by ${record.approvedBy}: ${workflowId}\n`);
      } catch (err) {
        if (err instanceof RunError) throw new CliError(`cannot decide for ${workflowId}: ${err.message}`, 1);
        throw err;
      } finally {
        await temporal.close();
      }
    });
}
