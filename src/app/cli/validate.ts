import type { Command } from 'commander';
import { formatDiagnostic, sortDiagnostics } from '../../shared/diagnostics.js';
import { configFrom } from './context.js';

/** `skillgate validate [paths…]`: every problem of every skill, with file:line:col. */
export function register(program: Command): void {
  program
    .command('validate')
    .description("check skills (SKILL.md + plan.yaml) against the configured servers' real tools")
    .argument('[paths...]', 'skill folders, SKILL.md/plan.yaml files or folders of skills (default: the config skillsDir)')
    .option('--json', 'print the result as JSON')
    .option('-v, --verbose', 'show upstream server logs')
    .action(async (paths: string[], opts: { json?: boolean; verbose?: boolean }, cmd: Command) => {
      const loaded = configFrom(cmd);
      const [{ compileSkills }, { withPool }] = await Promise.all([import('../../skills/compile-all.js'), import('./connections.js')]);
      const { results, diagnostics } = await withPool(loaded, (pool) => compileSkills(loaded, pool, paths.length ? paths : undefined), opts.verbose);
      const sorted = sortDiagnostics(diagnostics);
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ ok: sorted.length === 0, skills: results.map((r) => ({ name: r.name, dir: r.dir, hash: r.hash ?? null, errors: r.diagnostics.length })), diagnostics: sorted }, null, 2)}\n`,
        );
      } else {
        for (const d of sorted) process.stdout.write(`${formatDiagnostic(d)}\n`);
        const n = results.length;
        process.stdout.write(
          `${n} skill${n === 1 ? '' : 's'} checked, ${sorted.length} error${sorted.length === 1 ? '' : 's'}${sorted.length === 0 ? ' — all valid' : ''}\n`,
        );
      }
      process.exitCode = sorted.length === 0 ? 0 : 1;
    });
}
