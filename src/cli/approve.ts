import type { Command } from 'commander';
import { CliError } from './errors.js';

/** PLACEHOLDER: replaced by the real `approve` command. */
export function register(program: Command): void {
  program.command('approve').description('(not built yet)').action(() => {
    throw new CliError('approve: not built yet', 2);
  });
}
