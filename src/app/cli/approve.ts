/**
 * `skillgate approve <workflowId> --as <user> [--reject] [--comment <text>] [--step <id>]`:
 * decide a skill run's pending approval as a user of the workspace — through the run-actions
 * service, so with the same checks as an approval over MCP or HTTP: Cedar `approve` for the
 * user and the agent, revocation, the step's role, four eyes; the run verifies it again.
 */
import type { Command } from 'commander';
import type { RunActions } from '../../skills/run-actions.js';
import { configFrom } from './context.js';

/** How long a decision may wait for the run (a worker) to answer. */
const ANSWER_WITHIN_MS = 30_000;

interface ApproveOptions {
  as: string;
  reject?: boolean;
  comment?: string;
  step?: string;
  agent?: string;
  gateway?: string;
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
    .option('--gateway <name>', "the gateway to decide through (default: the run's own)")
    .option('--agent <id>', 'the agent acting for the approver (default: the first agent of that gateway)')
    .action(async (workflowId: string, opts: ApproveOptions, cmd: Command) => {
      const loaded = configFrom(cmd);
      const { actingPrincipal, NO_SKILLS, withRunActions } = await import('./run-actions.js');
      const decide = async (actions: RunActions) => {
        const gateway = opts.gateway ?? (await actions.describe(workflowId)).gateway;
        const who = actingPrincipal(loaded, gateway, opts.as, opts.agent);
        const record = await actions.decide(who, gateway, workflowId, {
          decision: opts.reject ? 'reject' : 'approve',
          ...(opts.step ? { step: opts.step } : {}),
          ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
        });
        process.stdout.write(`${record.decision === 'approve' ? 'approved' : 'rejected'} by ${record.approvedBy}: ${workflowId}\n`);
      };
      await withRunActions(loaded, NO_SKILLS, decide, { deadlineMs: ANSWER_WITHIN_MS });
    });
}
