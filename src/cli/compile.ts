import type { Command } from 'commander';
import { CliError } from './errors.js';

/** PLACEHOLDER: replaced by the real `compile` command. */
export function register(program: Command): void {
  program.command('compile').description('(not built yet)').action(() => {
    throw new CliError('compile: not built yet', 2);
  });
}
