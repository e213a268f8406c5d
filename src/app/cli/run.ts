/**
 * `skillgate run <skill> --input <json|@file> [--wait]`: compile a skill of the workspace and
 * start a run of it on Temporal; print the workflow id, or with --wait the result.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { LoadedConfig } from '../../config/load.js';
import { formatDiagnostic, sortDiagnostics } from '../../shared/diagnostics.js';
import type { StartedRun } from '../../skills/run-actions.js';
import { configFrom } from './context.js';
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
    .option('--gateway <name>', 'the gateway the run is started on (default: the first gateway exposing the skill)')
    .option('--workflow-id <id>', 'workflow id (default skill-<name>-<uuid>); reusing one returns the run already started')
    .addHelpText(
      'after',
      '\nTemporal: $TEMPORAL_ADDRESS, else temporal.address, else the embedded dev server (127.0.0.1:<temporal.dev.port>).\n' +
        'A worker must be running (`skillgate dev`) for the run to progress.\n\n' +
        'Example:\n  skillgate run credit-issuance --input \'{"customerId":"C-1001","amount":5000}\' --wait --as loan-clerk',
    )
    .action(async (skillName: string, opts: RunOptions, cmd: Command) => {
      const loaded = configFrom(cmd);
      const [{ loadSkill, SkillCompileError }, { RunError }, { cliLogger, openCatalog, withPool }, { actingPrincipal, withRunActions }, { approvedCatalog, heldReason }] = await Promise.all([
        import('../../skills/compile-all.js'),
        import('../../skills/runs.js'),
        import('./connections.js'),
        import('./run-actions.js'),
        import('../../skills/registry.js'),
      ]);
      const inputs = parseInput(opts.input ?? '{}');
      const gateway = opts.gateway ?? gatewayOfSkill(loaded, skillName);
      const userId = opts.as ?? (process.env.SKILLGATE_USER || undefined) ?? Object.keys(loaded.config.users)[0];
      if (!userId) throw new CliError(`no user to act for: pass --as <user> (${loaded.file} lists no users)`, 2);
      const principal = actingPrincipal(loaded, gateway, userId, opts.agent);

      // Compiled against the tools the pinned catalog serves, as the gateway compiles it.
      const log = cliLogger(loaded);
      const { openWorkspaceAudit } = await import('../runtime/audit.js');
      const audit = await openWorkspaceAudit(loaded, { busyTimeoutMs: 5_000, onProblem: (msg, fields) => log.logger.error(msg, { component: 'cli', ...fields }) });
      const { openLockSource } = await import('../runtime/state.js');
      const { skill, held } = await withPool(loaded, async (pool) => {
        const lock = await openLockSource(loaded);
        const catalog = openCatalog(loaded, pool, lock, log.logger, audit.log);
        try {
          const skill = await loadSkill(loaded, pool, skillName, await approvedCatalog(loaded, catalog, [loaded.path(loaded.config.skillsDir)]));
          return { skill, held: heldReason(catalog, skill) };
        } catch (err) {
          if (err instanceof SkillCompileError) {
            for (const d of sortDiagnostics(err.diagnostics)) process.stderr.write(`${formatDiagnostic(d)}\n`);
            throw new CliError(err.message, 1);
          }
          throw err;
        } finally {
          catalog.close();
          await lock.close();
          log.flush();
        }
      }).finally(() => audit.close());

      await withRunActions(loaded, { skills: new Map([[skillName, skill]]), held: () => held }, async (actions) => {
        let run;
        try {
          // The same AND-gate as an agent's call: both identities may run this skill on this gateway.
          run = await actions.start(principal, gateway, skillName, inputs, opts.workflowId ? { workflowId: opts.workflowId } : {});
        } catch (err) {
          if (err instanceof RunError && err.code === 'ERR_RUN_NOT_PERMITTED') {
            throw new CliError(`${principal.user.id} via ${principal.agent.id} on ${gateway}: ${err.message} (${err.extra.denial?.code ?? err.code}: ${err.extra.denial?.detail ?? ''})`, 1);
          }
          throw err;
        }
        if (!opts.wait) {
          process.stdout.write(`${run.workflowId}\n`);
          return;
        }
        process.stderr.write(`skillgate: started ${run.workflowId} as ${principal.user.id} (agent ${principal.agent.id}); waiting…\n`);
        const stopHints = announceApprovals(run, loaded);
        try {
          const result = await run.result();
          process.stdout.write(`${JSON.stringify(result.outputs, null, 2)}\n`);
        } catch (err) {
          if (err instanceof RunError) throw new CliError(`run ${run.workflowId} failed (${err.failureType ?? err.code}): ${err.message}`, 1);
          throw err;
        } finally {
          await stopHints();
        }
      });
    });
}

/** The gateway a CLI run is recorded on: the first that exposes the skill; none is a clear error. */
function gatewayOfSkill(loaded: LoadedConfig, skill: string): string {
  const found = Object.entries(loaded.config.gateways).find(([, g]) => g.skills.includes(skill))?.[0];
  if (found) return found;
  const names = Object.keys(loaded.config.gateways);
  throw new CliError(
    `skill "${skill}" is enabled on no gateway, so no one may run it: add it to \`gateways.<name>.skills\` in ${loaded.file}` +
      (names.length ? ` (gateways: ${names.join(', ')})` : ' (it has no gateways yet)') +
      ', or pass --gateway <name> of one that lists it',
    1,
  );
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
 * While waiting, tell the person at the terminal once per approval what it waits for and how to
 * give it. The returned stop cancels a status query still in flight and waits for it: the
 * connection is closed right after, and a query left in the client's retry schedule would crash
 * the CLI once its retry ran on the closed channel.
 */
function announceApprovals(run: StartedRun, loaded: LoadedConfig): () => Promise<void> {
  const announced = new Set<string>();
  const stop = new AbortController();
  let inFlight: Promise<void> | undefined;
  const poll = (): void => {
    if (inFlight || stop.signal.aborted) return;
    inFlight = run
      .status({ signal: stop.signal })
      .then(
        (s) => {
          for (const p of s.pendingApprovals) {
            if (stop.signal.aborted || announced.has(p.stepId)) continue;
            announced.add(p.stepId);
            const approvers = Object.entries(loaded.config.users)
              .filter(([, u]) => u.roles.includes(p.role))
              .map(([id]) => id);
            process.stderr.write(
              `skillgate: step "${p.stepId}" awaits approval by a ${p.role}: ${p.message}\n` +
                `  skillgate approve ${run.workflowId} --as ${approvers[0] ?? '<user>'} [--reject --comment <why>]\n`,
            );
          }
        },
        () => {},
      )
      .finally(() => {
        inFlight = undefined;
      });
  };
  const timer = setInterval(poll, 1000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    stop.abort();
    await inFlight;
  };
}
