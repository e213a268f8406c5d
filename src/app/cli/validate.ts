import type { Command } from 'commander';
import { formatDiagnostic, isError, sortDiagnostics } from '../../shared/diagnostics.js';
import { configFrom } from './context.js';

/**
 * `skillgate validate [paths…]`: every problem of every skill, with file:line:col. Exit 1 on
 * any error; warnings are printed but do not fail it.
 */
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
      const errors = sorted.filter(isError).length;
      const warnings = sorted.length - errors;
      if (opts.json) {
        const skills = results.map((r) => ({
          name: r.name,
          dir: r.dir,
          hash: r.hash ?? null,
          errors: r.diagnostics.filter(isError).length,
          warnings: r.diagnostics.filter((d) => !isError(d)).length,
        }));
        const all = sorted.map((d) => ({ ...d, severity: d.severity ?? 'error' }));
        process.stdout.write(`${JSON.stringify({ ok: errors === 0, skills, diagnostics: all }, null, 2)}\n`);
      } else {
        for (const d of sorted) process.stdout.write(`${formatDiagnostic(d)}\n`);
        const n = results.length;
        const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
        process.stdout.write(
          `${plural(n, 'skill')} checked, ${plural(errors, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}${errors === 0 ? ' — all valid' : ''}\n`,
        );
      }
      process.exitCode = errors === 0 ? 0 : 1;
    });
}
