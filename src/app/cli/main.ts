/**
 * The `skillgate` command line. One file per command under src/app/cli/; each exports
 * `register(program)`. Exit codes: 0 ok, 1 the input was wrong (validation, denied, run
 * failed), 2 usage or environment error.
 */
import { Command, CommanderError } from 'commander';
import { register as registerApprove } from './approve.js';
import { register as registerAudit } from './audit.js';
import { register as registerCancel } from './cancel.js';
import { register as registerCompile } from './compile.js';
import { register as registerCurate } from './curate.js';
import { register as registerDev } from './dev.js';
import { register as registerGrants } from './grants.js';
import { register as registerRevoke } from './revoke.js';
import { register as registerRun } from './run.js';
import { register as registerToken } from './token.js';
import { register as registerTools } from './tools.js';
import { register as registerValidate } from './validate.js';

const program = new Command('skillgate')
  .description('Governed actions runtime for AI agents: authorizing MCP gateway + durable skills on Temporal')
  .option('-c, --config <file>', 'workspace configuration (default: $SKILLGATE_CONFIG or ./skillgate.yaml)')
  .showHelpAfterError()
  .exitOverride();

registerDev(program);
registerValidate(program);
registerCompile(program);
registerTools(program);
registerCurate(program);
registerRun(program);
registerApprove(program);
registerCancel(program);
registerToken(program);
registerRevoke(program);
registerAudit(program);
registerGrants(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  // Errors meant for people carry their own message; anything else is a bug worth a trace.
  const e = err as Error & { exitCode?: number; userFacing?: boolean };
  process.stderr.write(`skillgate: ${e.userFacing ? e.message : (e.stack ?? String(e))}\n`);
  process.exit(e.exitCode ?? 2);
}
