import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { formatDiagnostic, isError, sortDiagnostics } from '../../shared/diagnostics.js';
import { configFrom } from './context.js';
import { CliError } from './errors.js';

/** `skillgate compile <skill>`: the plan JSON and its content hash. */
export function register(program: Command): void {
  program
    .command('compile')
    .description('compile one skill and print its plan (JSON) and content hash')
    .argument('<skill>', 'a skill name (folder under skillsDir) or a skill folder path')
    .option('--json', 'print {hash, plan} as one JSON document')
    .action(async (skill: string, opts: { json?: boolean }, cmd: Command) => {
      const loaded = configFrom(cmd);
      const path = existsSync(skill) ? skill : loaded.path(`${loaded.config.skillsDir}/${skill}`);
      if (!existsSync(path)) throw new CliError(`no skill "${skill}" (looked in ${path})`, 1);
      const [{ compileSkills }, { withPool }] = await Promise.all([import('../../skills/compile-all.js'), import('./connections.js')]);
      const { results, diagnostics } = await withPool(loaded, (pool) => compileSkills(loaded, pool, [path]));
      const r = results[0];
      // Warnings too, on stderr: stdout stays the plan alone.
      for (const d of sortDiagnostics(diagnostics)) process.stderr.write(`${formatDiagnostic(d)}\n`);
      if (!r?.plan || !r.hash) {
        const errors = diagnostics.filter(isError).length;
        throw new CliError(`skill "${skill}" does not compile (${errors} error${errors === 1 ? '' : 's'})`, 1);
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ hash: r.hash, plan: r.plan }, null, 2)}\n`);
      } else {
        process.stdout.write(`${JSON.stringify(r.plan, null, 2)}\n`);
        process.stdout.write(`hash: ${r.hash}\n`);
      }
    });
}
