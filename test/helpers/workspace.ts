/**
 * Test workspaces: a skillgate.yaml in a temp folder whose demo servers run from the TS
 * sources (tsx) with their data in that folder.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { pathToFileURL } from 'node:url';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';
import { CORE_BANKING_AUTH } from '../../demo/core-banking/server.js';
import { CREDIT_BUREAU_AUTH } from '../../demo/credit-bureau/server.js';
import { HR_AUTH } from '../../demo/hr/server.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** The credential each demo company system takes (its audience and per-tool scopes). */
export const DEMO_AUTH = { 'core-banking': CORE_BANKING_AUTH, 'credit-bureau': CREDIT_BUREAU_AUTH, hr: HR_AUTH } as const;

/**
 * A stdio server entry running a demo server's main.ts with tsx, taking trinary tokens.
 * `tokens: 'front-door'`: it verifies them at the gateway's JWKS URL (the pool tells it);
 * `'file'` (default, for workers without a front door): against the key file in the state folder.
 */
export function demoServer(name: 'core-banking' | 'credit-bureau' | 'hr', stateDir: string, tokens: 'file' | 'front-door' = 'file') {
  const auth = DEMO_AUTH[name];
  // cwd: the project root, so that `--import tsx` resolves from the project's node_modules.
  return {
    command: 'node',
    args: ['--import', 'tsx', join(ROOT, 'demo', name, 'main.ts'), '--state', stateDir],
    cwd: ROOT,
    auth: { audience: auth.audience, tools: auth.scopes },
    ...(tokens === 'file' ? { env: { SKILLGATE_ISSUER: 'http://127.0.0.1:8787', SKILLGATE_JWKS_URI: pathToFileURL(join(stateDir, 'keys', 'token-signing.json')).href } } : {}),
  };
}

export interface TestWorkspace {
  dir: string;
  stateDir: string;
  loaded: LoadedConfig;
  cleanup(): void;
}

/**
 * The demo world's users and their roles (skillgate.yaml has the same), and alice, the
 * supervisor who approves the probe fixtures (the compiler refuses a role no user holds).
 */
const DEMO_USERS = {
      ceo: { roles: ['executive'] },
      intern: { roles: ['intern'] },
      'credit-officer': { roles: ['credit-officer'] },
      'loan-clerk': { roles: ['loan-clerk'] },
      alice: { roles: ['supervisor'] },
};

/** A workspace with both demo servers and `extra` (or `extra(stateDir)`) merged into the config. */
/**
 * Where a test workspace keeps its state: its own SQLite file, or — when the suite runs on the
 * PostgreSQL backend (`SKILLGATE_TEST_STORAGE=postgres`: test/global-setup.ts starts one server
 * and sets SKILLGATE_TEST_POSTGRES_URL) — a fresh database of its own on that server, so that
 * the same tests check both backends.
 */
export function testStorage(stateDir: string): Record<string, unknown> {
  const sqlite = { file: join(stateDir, 'skillgate.db'), synchronous: 'normal' };
  const admin = process.env.SKILLGATE_TEST_POSTGRES_URL;
  if (!admin) return sqlite;
  const name = `ws_${randomBytes(6).toString('hex')}`;
  const r = spawnSync('psql', [admin, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`cannot create the test database ${name} on ${new URL(admin).host}: ${r.stderr || r.error?.message}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { ...sqlite, kind: 'postgres', postgres: { url: url.toString() } };
}

export function testWorkspace(
  extraOrFn: Record<string, unknown> | ((stateDir: string) => Record<string, unknown>) = {},
  opts: { tokens?: 'file' | 'front-door' } = {},
): TestWorkspace {
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-test-'));
  const stateDir = join(dir, 'state');
  const extra = typeof extraOrFn === 'function' ? extraOrFn(stateDir) : extraOrFn;
  const { servers: extraServers, ...rest } = extra as { servers?: Record<string, unknown> };
  const config = {
    workspace: 'test',
    skillsDir: join(ROOT, 'skills'),
    stateDir,
    storage: testStorage(stateDir),
    servers: {
      'core-banking': demoServer('core-banking', stateDir, opts.tokens),
      'credit-bureau': demoServer('credit-bureau', stateDir, opts.tokens),
      ...extraServers,
    },
    users: DEMO_USERS,
    ...rest,
  };
  const file = join(dir, 'skillgate.yaml');
  const text = stringify(config);
  writeFileSync(file, text);
  const loaded = parseConfig(text, file);
  return { dir, stateDir, loaded, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Gateways, agents, users and policies of the demo world, for gateway tests. */
export function governedWorkspace(extra: Record<string, unknown> = {}): TestWorkspace {
  const { servers: extraServers, users: extraUsers, ...rest } = extra as { servers?: Record<string, unknown>; users?: Record<string, unknown> };
  return testWorkspace((stateDir) => ({
    servers: {
      hr: demoServer('hr', stateDir, 'front-door'),
      everything: { command: 'node', args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'] },
      ...extraServers,
    },
    users: {
      ...DEMO_USERS,
      'hr-admin': { roles: ['hr-admin'] },
      ...extraUsers,
    },
    identity: { devIdp: true },
    agents: {
      'hr-assistant': { clientId: 'hr-assistant' },
      'credit-assistant': { clientId: 'credit-assistant' },
      'coding-agent': { clientId: 'coding-agent' },
    },
    gateways: {
      'hr-desk': { agents: ['hr-assistant'], tools: ['hr.*'] },
      'credit-desk': { agents: ['credit-assistant'], tools: ['core-banking.*', 'credit-bureau.*'], skills: ['credit-issuance'] },
      'dev-tools': { agents: ['coding-agent'], tools: ['everything.*'] },
    },
    policies: [join(ROOT, 'policies', '*.cedar')],
    ...rest,
  }), { tokens: 'front-door' });
}
