/**
 * `skillgate run <skill> --input <json|@file> [--wait]`: compile a skill of the workspace and
 * start a run of it on Temporal; print the workflow id, or with --wait the result.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { Command } from 'commander';
import type { Principal } from '../../gateway/identity/principal.js';
import type { LoadedConfig } from '../config/load.js';
import { didYouMean, formatDiagnostic, sortDiagnostics } from '../diagnostics.js';
import { loadSkill, SkillCompileError } from '../skills/compile-all.js';
import { getRunStatus, RunError, startSkillRun, waitForResult } from '../skills/runs.js';
import { configFrom, withPool } from './context.js';
import { CliError } from './errors.js';

interface RunOptions {
  input?: string;
  wait?: boolean;
  as?: string;
  agent?: string;
  gateway?: string;
  workflowId?: string;
}

export function register(program: Command): void {
  program
    .command('run')
    .description('start a run of a skill (compiled from skillsDir) and print its workflow id; with --wait, its result')
    .argument('<skill>', 'skill name (folder under skillsDir)')
    .option('-i, --input <json|@file>', 'the run inputs: a JSON object, or @path to a JSON file', '{}')
    .option('-w, --wait', 'wait for the run to finish; print its outputs (JSON) or why it failed (exit 1)')
    .option('--as <user>', 'the user the run acts for, a key of `users` in skillgate.yaml (default: $SKILLGATE_USER, else the first user listed there)')
    .option('--agent <id>', 'the agent acting for the user (default: the first agent of the gateway)')
    .option('--gateway <name>', 'the gateway recorded for the run (default: the first gateway exposing the skill, else "cli")')
    .option('--workflow-id <id>', 'workflow id (default skill-<name>-<uuid>); reusing one returns the run already started')
    .addHelpText(
      'after',
      '\nTemporal: $TEMPORAL_ADDRESS, else temporal.address, else the embedded dev server (127.0.0.1:<temporal.dev.port>).\n' +
        'A worker must be running (`skillgate dev`) for the run to progress.\n\n' +
        'Example:\n  skillgate run credit-issuance --input \'{"customerId":"C-1001","amount":5000}\' --wait --as loan-clerk',
    )
    .action(async (skillName: string, opts: RunOptions, cmd: Command) => {
      const loaded = configFrom(cmd);
      const inputs = parseInput(opts.input ?? '{}');
      const gateway = opts.gateway ?? Object.entries(loaded.config.gateways).find(([, g]) => g.skills.includes(skillName))?.[0] ?? 'cli';
      const agent = opts.agent ?? loaded.config.gateways[gateway]?.agents[0] ?? 'cli';
      const principal = cliPrincipal(loaded, opts.as ?? (process.env.SKILLGATE_USER || undefined), agent);

      const skill = await withPool(loaded, async (pool) => {
        try {
          return await loadSkill(loaded, pool, skillName);
        } catch (err) {
          if (err instanceof SkillCompileError) {
            for (const d of sortDiagnostics(err.diagnostics)) process.stderr.write(`${formatDiagnostic(d)}\n`);
            throw new CliError(err.message, 1);
          }
          throw err;
        }
      });

      // The same AND-gate as an agent's call: both identities may run this skill on this gateway.
      if (Object.keys(loaded.config.gateways).length > 0) {
        const [{ createGovernance }, { AuthzError }] = await Promise.all([import('../runtime/gateway.js'), import('../../gateway/authz/authorizer.js')]);
        const governance = createGovernance(loaded, { watch: false });
        try {
          governance.authorizer.check({ principal, action: 'run_skill', resource: { type: 'skill', name: skillName }, gateway, arguments: inputs as Record<string, unknown> });
        } catch (err) {
          if (err instanceof AuthzError) throw new CliError(`${principal.user.id} via ${principal.agent.id} on ${gateway}: ${err.message} (${err.code}: ${err.detail})`, 1);
          throw err;
        } finally {
          governance.close();
        }
      }

      const temporal = await connectClient(loaded);
      try {
        let handle;
        try {
          handle = await startSkillRun(temporal.client, {
            plan: skill.plan,
            planHash: skill.hash,
            inputs,
            principal,
            workspace: loaded.config.workspace,
            gateway,
            taskQueue: loaded.config.temporal.taskQueue,
            ...(opts.workflowId ? { workflowId: opts.workflowId } : {}),
          });
        } catch (err) {
          if (err instanceof RunError) throw new CliError(err.message, 1);
          throw err;
        }
        if (!opts.wait) {
          process.stdout.write(`${handle.workflowId}\n`);
          return;
        }
        process.stderr.write(`skillgate: started ${handle.workflowId} as ${principal.user.id} (agent ${principal.agent.id}); waiting…\n`);
        const stopHints = announceApprovals(temporal.client, handle.workflowId, loaded);
        try {
          const result = await waitForResult(temporal.client, handle.workflowId);
          process.stdout.write(`${JSON.stringify(result.outputs, null, 2)}\n`);
        } catch (err) {
          if (err instanceof RunError) throw new CliError(`run ${handle.workflowId} failed (${err.failureType ?? err.code}): ${err.message}`, 1);
          throw err;
        } finally {
          stopHints();
        }
      } finally {
        await temporal.close();
      }
    });
}

/** `--input` as JSON text or `@file`. */
function parseInput(arg: string): unknown {
  let text = arg;
  let where = '--input';
  if (arg.startsWith('@')) {
    where = arg.slice(1);
    try {
      text = readFileSync(where, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read the input file ${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 2);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${where} is not valid JSON: ${(err as Error).message}`, 2);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CliError(`${where} must be a JSON object of inputs`, 2);
  return value;
}

/**
 * The principal of a CLI run: a user of the workspace (roles from `users`) and an agent id.
 * Without --as: $SKILLGATE_USER, else the first user listed in the config.
 */
export function cliPrincipal(loaded: LoadedConfig, userId: string | undefined, agentId: string): Principal {
  const id = userId ?? Object.keys(loaded.config.users)[0];
  if (!id) throw new CliError(`no user to act for: pass --as <user> (skillgate.yaml ${loaded.file} lists no users)`, 2);
  return { user: workspaceUser(loaded, id), agent: { id: agentId } };
}

/** A user of the workspace with their roles; an unknown user is a clear error (exit 1). */
export function workspaceUser(loaded: LoadedConfig, id: string): Principal['user'] {
  const user = loaded.config.users[id];
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

/** While waiting, tell the person at the terminal once per approval what it waits for and how to give it. */
function announceApprovals(client: Client, workflowId: string, loaded: LoadedConfig): () => void {
  const announced = new Set<string>();
  let stopped = false;
  const timer = setInterval(() => {
    getRunStatus(client, workflowId).then(
      (s) => {
        for (const p of s.pendingApprovals) {
          if (stopped || announced.has(p.stepId)) continue;
          announced.add(p.stepId);
          const approvers = Object.entries(loaded.config.users)
            .filter(([, u]) => u.roles.includes(p.role))
            .map(([id]) => id);
          process.stderr.write(
            `skillgate: step "${p.stepId}" awaits approval by a ${p.role}: ${p.message}\n` +
              `  skillgate approve ${workflowId} --as ${approvers[0] ?? '<user>'} [--reject --comment <why>]\n`,
          );
        }
      },
      () => {},
    );
  }, 1000);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
