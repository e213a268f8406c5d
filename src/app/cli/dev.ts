/**
 * `skillgate dev` (= `npm start`): the whole runtime on this machine, in the foreground.
 * `skillgate gateway` and `skillgate worker`: one replica of a scaled-out deployment, joining the
 * Temporal cluster in TEMPORAL_ADDRESS (src/app/runtime/dev.ts says what each role runs).
 * Ctrl-C / SIGTERM stops it cleanly (exit 0); a second Ctrl-C exits at once (exit 130).
 */
import type { Command } from 'commander';
import { ConfigError, defaultConfigPath, loadConfig } from '../../config/load.js';
import type { RuntimeRole } from '../runtime/dev.js';
import { CliError } from './errors.js';

const ROLES: ReadonlyArray<{ role: RuntimeRole; description: string }> = [
  { role: 'dev', description: 'run Temporal (embedded, or TEMPORAL_ADDRESS), the worker and the upstream MCP servers; print what runs where' },
  { role: 'gateway', description: 'run one gateway replica (the MCP front door) on the Temporal cluster in TEMPORAL_ADDRESS; it starts runs, a worker runs their steps' },
  { role: 'worker', description: 'run one worker replica (the steps of skill runs) on the Temporal cluster in TEMPORAL_ADDRESS; it has no listener' },
];

export function register(program: Command): void {
  for (const { role, description } of ROLES) registerRole(program, role, description);
}

function registerRole(program: Command, role: RuntimeRole, description: string): void {
  program
    .command(role)
    .description(description)
    .action(async () => {
      const configFile = (program.opts() as { config?: string }).config ?? defaultConfigPath();
      let loaded;
      try {
        loaded = loadConfig(configFile);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
        throw err;
      }

      // The runtime (Temporal SDK, front door, dev IdP) loads only for this command.
      const [{ DefaultLogger, Runtime }, { PolicyLoadError }, { RuntimeError }, { formatBanner, startDevRuntime }] = await Promise.all([
        import('@temporalio/worker'),
        import('../../../gateway/policy/errors.js'),
        import('../runtime/temporal.js'),
        import('../runtime/dev.js'),
      ]);
      installTemporalRuntime(Runtime, DefaultLogger);
      const log = (line: string): void => void process.stderr.write(`skillgate: ${line}\n`);

      // Signals are handled from the start: a Ctrl-C while starting must not leave a dev
      // server or MCP child processes behind.
      let stopRequested = false;
      let requestStop: () => void = () => {};
      const onSignal = (signal: NodeJS.Signals): void => {
        if (stopRequested) {
          log(`${signal} again: exiting without waiting`);
          process.exit(130);
        }
        stopRequested = true;
        log(`${signal}: stopping (${role === 'gateway' ? 'front door, upstream servers' : role === 'worker' ? 'worker, upstream servers' : 'worker, upstream servers, Temporal'})… press Ctrl-C again to force`);
        requestStop();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);

      let rt;
      try {
        rt = await startDevRuntime(loaded, { log, role });
      } catch (err) {
        if (err instanceof RuntimeError) throw new CliError(err.message, 2);
        if (err instanceof PolicyLoadError) throw new CliError(err.message, 2);
        throw err;
      }
      requestStop = () => void rt.stop();
      if (stopRequested) requestStop();
      else process.stdout.write(`\n${formatBanner(rt.info)}\n\n`);

      try {
        await rt.done;
      } catch (err) {
        throw new CliError(`the worker stopped with an error: ${(err as Error).message}`, 1);
      }
      log('stopped');
      // Native handles (Temporal's Rust core) may keep the event loop alive after a clean stop.
      process.exit(0);
    });
}

/**
 * The Temporal SDK's runtime, told to leave signals to us (its default would shut the worker
 * down on SIGINT behind our back) and to log only warnings (its INFO lines would bury the banner).
 */
function installTemporalRuntime(Runtime: typeof import('@temporalio/worker').Runtime, DefaultLogger: typeof import('@temporalio/worker').DefaultLogger): void {
  try {
    Runtime.install({ shutdownSignals: [], logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed in this process (in-process callers): keep theirs.
  }
}
