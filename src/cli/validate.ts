import type { Command } from 'commander';
import { CliError } from './errors.js';

/** PLACEHOLDER: replaced by the real `validate` command. */
export function register(program: Command): void {
  program.command('validate').description('(not built yet)').action(() => {
    throw new CliError('validate: not built yet', 2);
  });
}
