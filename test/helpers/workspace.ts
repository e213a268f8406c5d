/**
 * Test workspaces: a skillgate.yaml in a temp folder whose demo servers run from the TS
 * sources (tsx) with their data in that folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** A stdio server entry running a demo server's main.ts with tsx. */
export function demoServer(name: 'core-banking' | 'credit-bureau', stateDir: string) {
  // cwd: the project root, so that `--import tsx` resolves from the project's node_modules.
  return { command: 'node', args: ['--import', 'tsx', join(ROOT, 'demo', name, 'main.ts'), '--state', stateDir], cwd: ROOT };
}

export interface TestWorkspace {
  dir: string;
  stateDir: string;
  loaded: LoadedConfig;
  cleanup(): void;
}

/** A workspace with both demo servers and `extra` merged into the config. */
export function testWorkspace(extra: Record<string, unknown> = {}): TestWorkspace {
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-test-'));
  const stateDir = join(dir, 'state');
  const { servers: extraServers, ...rest } = extra as { servers?: Record<string, unknown> };
  const config = {
    workspace: 'test',
    skillsDir: join(ROOT, 'skills'),
    stateDir,
    servers: {
      'core-banking': demoServer('core-banking', stateDir),
      'credit-bureau': demoServer('credit-bureau', stateDir),
      ...extraServers,
    },
    users: {
      ceo: { roles: ['executive'] },
      intern: { roles: ['intern'] },
      'credit-officer': { roles: ['credit-officer'] },
      'loan-clerk': { roles: ['loan-clerk'] },
    },
    ...rest,
  };
  const file = join(dir, 'skillgate.yaml');
  const loaded = parseConfig(stringify(config), file);
  return { dir, stateDir, loaded, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
