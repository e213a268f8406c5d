/**
 * The CLI's way to the run-actions service (src/skills/run-actions.ts): the workspace's
 * governance (Cedar, revocations, run key), a Temporal client, the structured log. `run`,
 * `approve`, `cancel` and `status` are thin commands over it; refusals are logged to the
 * runtime's log with `component: cli`, like the gateway's.
 *
 * The CLI acts for a workspace user named with `--as`: whoever can run it has the state
 * folder (the run key) and Temporal, i.e. operator access to this machine — it is an
 * operator's tool, not a way around the AND-gate: every action is checked for that user and
 * agent exactly as if it came through a gateway.
 */
import type { Principal } from '../../contracts/principal.js';
import { createLogger } from '../../../gateway/log.js';
import type { LoadedConfig } from '../../config/load.js';
import { openWorkspaceAudit } from '../runtime/audit.js';
import { createGovernance } from '../runtime/governance.js';
import type { CompiledSkill } from '../../skills/compile-all.js';
import { createRunActions, type RunActions } from '../../skills/run-actions.js';
import { RunError } from '../../skills/runs.js';
import { CliError } from './errors.js';
import { connectClient } from './connections.js';
import { workspaceUser } from './context.js';

/**
 * Run `fn` with the service; a RunError becomes a message and exit 1. With `deadlineMs`, every
 * Temporal call inside must be answered in time: a decision sent while no worker runs would
 * otherwise wait forever (and is not kept: Temporal keeps an update only once a worker accepts it).
 */
/** The skills a CLI command may start, and why one is held (src/skills/registry.ts). */
export interface CliSkills {
  skills: ReadonlyMap<string, CompiledSkill>;
  held: (skill: CompiledSkill) => string | undefined;
}

/** For commands that start nothing (approve, cancel): no skill, so nothing to hold. */
export const NO_SKILLS: CliSkills = { skills: new Map(), held: () => undefined };

export async function withRunActions<T>(
  loaded: LoadedConfig,
  skills: CliSkills,
  fn: (actions: RunActions) => Promise<T>,
  opts: { deadlineMs?: number } = {},
): Promise<T> {
  const { config } = loaded;
  const d = config.logging.destination;
  const { logger, flush } = createLogger({ destination: d === 'stderr' || d === 'stdout' ? d : loaded.path(d), level: config.logging.level });
  // The CLI's own decisions and refusals go to the workspace's audit trail, like the gateway's
  // (the store serialises the two processes; the CLI may wait for the lock).
  const audit = await openWorkspaceAudit(loaded, { busyTimeoutMs: 5_000, onProblem: (msg, fields) => logger.error(msg, { component: 'cli', ...fields }) });
  const governance = await createGovernance(loaded, { watch: false, audit: audit.log }).catch(async (err: unknown) => {
    await audit.close();
    throw err;
  });
  const temporal = await connectClient(loaded).catch(async (err: unknown) => {
    await governance.close();
    await audit.close();
    throw err;
  });
  try {
    const actions = createRunActions({
      client: temporal.client,
      workspace: config.workspace,
      taskQueue: config.temporal.taskQueue,
      authorizer: governance.authorizer,
      attestor: governance.attestor,
      skills: () => skills.skills,
      held: skills.held,
      log: logger.child({ component: 'cli' }),
      audit: audit.log,
    });
    const deadlineMs = opts.deadlineMs;
    if (deadlineMs === undefined) return await fn(actions);
    try {
      return await temporal.connection.withDeadline(Date.now() + deadlineMs, () => fn(actions));
    } catch (err) {
      if (isDeadlineExceeded(err)) {
        throw new CliError(
          `no answer from the run within ${Math.round(deadlineMs / 1000)} s: is \`skillgate dev\` (its worker) running for ${loaded.file}? Nothing was changed; try again once it runs`,
          1,
        );
      }
      throw err;
    }
  } catch (err) {
    // The operator at this terminal may see which rule decided (an agent never does).
    if (err instanceof RunError) throw new CliError(err.extra.denial ? `${err.message} (${err.extra.denial.code}: ${err.extra.denial.detail})` : err.message, 1);
    throw err;
  } finally {
    await governance.close();
    await temporal.close();
    await audit.close();
    flush();
  }
}

/** A gRPC DEADLINE_EXCEEDED (status 4), as the Temporal client surfaces it (possibly as the cause). */
function isDeadlineExceeded(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown; message?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 4 || (typeof e.message === 'string' && e.message.includes('DEADLINE_EXCEEDED'))) return true;
  }
  return false;
}

/** The principal a CLI command acts as: a workspace user (`--as`) and an agent of `gateway` (`--agent`, default its first). */
export function actingPrincipal(loaded: LoadedConfig, gateway: string, userId: string, agentId?: string): Principal {
  const gw = Object.hasOwn(loaded.config.gateways, gateway) ? loaded.config.gateways[gateway] : undefined;
  const agent = agentId ?? gw?.agents[0];
  if (!agent) throw new CliError(`gateway "${gateway}" lists no agents: pass --agent <id> or add one to gateways.${gateway}.agents`, 2);
  return { user: workspaceUser(loaded, userId), agent: { id: agent } };
}
