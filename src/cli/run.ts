import type { Command } from 'commander';
import { CliError } from './errors.js';

/** PLACEHOLDER: replaced by the real `run` command. */
export function register(program: Command): void {
  program.command('run').description('(not built yet)').action(() => {
    throw new CliError('run: not built yet', 2);
  });
}
