import type { Command } from 'commander';
import { CliError } from './errors.js';

/** PLACEHOLDER: replaced by the real `dev` command. */
export function register(program: Command): void {
  program.command('dev').description('(not built yet)').action(() => {
    throw new CliError('dev: not built yet', 2);
  });
}
