/**
 * The canary test (issue 7, section 1): `skillgate dev` as a child process on a temporary copy
 * of the demo workspace (skillgate.yaml's gateways, agents, users and policies; the demo
 * servers from source, both reference servers) with a canary variable set only in its
 * environment. No descendant — demo servers, reference servers, the Temporal dev server — may
 * have it in /proc/<pid>/environ, a `${env:…}` reference in `servers.hr.env` must arrive in that
 * child, and no tool the coding agent can call on `dev-tools` may return it.
 */
import { approveWorkspace } from './helpers/catalog.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { resourceUrl } from '../gateway/identity/resource-metadata.js';
import { createTokenMinter } from '../gateway/adapters/idp/mint.js';
import { parseConfig } from '../src/config/load.js';
import { childEnv, type DevProcess, freePort, startDev } from './helpers/dev-process.js';
import { descendants, type ProcInfo } from './helpers/proc.js';
import { ROOT } from './helpers/workspace.js';

const CANARY_NAME = 'SKILLGATE_CANARY';
const canary = `canary-${randomBytes(16).toString('hex')}`;
/** Given to the hr child on purpose, through `servers.hr.env` and `${env:…}`. */
const HR_TOKEN_NAME = 'SKILLGATE_TEST_HR_TOKEN';
const hrToken = `hr-${randomBytes(16).toString('hex')}`;
const DOCS = join(ROOT, 'docs');

let dir: string;
let configFile: string;
let gatewayPort: number;
let dev: DevProcess;

function canaryEnv(): NodeJS.ProcessEnv {
  return childEnv({ [CANARY_NAME]: canary, [HR_TOKEN_NAME]: hrToken });
}

/** The repo's demo workspace, with ports, state and server paths moved to the test's own. */
function workspace(repo: Record<string, unknown>, ports: { temporal: number; ui: number }): Record<string, unknown> {
  const repoServers = (repo as { servers: Record<string, { auth?: unknown; args?: string[] }> }).servers;
  const demo = (name: string, extra: Record<string, unknown> = {}) => ({
    command: 'node',
    args: ['--import', 'tsx', join(ROOT, 'demo', name, 'main.ts'), '--state', join(dir, 'state', 'demo')],
    cwd: ROOT,
    auth: repoServers[name]!.auth,
    ...extra,
  });
  // The mail systems too (from source): children Skillgate starts, which must not see the canary either.
  const mail = (name: 'gmail' | 'outlook') => ({ ...repoServers[name], args: ['--import', 'tsx', join(ROOT, 'demo', 'mail', 'main.ts'), ...repoServers[name]!.args!.slice(1)], cwd: ROOT });
  return {
    ...repo,
    workspace: 'canary-test',
    temporal: { taskQueue: 'canary-test', dev: { port: ports.temporal, uiPort: ports.ui, dbFile: 'state/temporal.db' } },
    skillsDir: join(ROOT, 'skills'),
    stateDir: 'state',
    servers: {
      'core-banking': demo('core-banking'),
      'credit-bureau': demo('credit-bureau'),
      hr: demo('hr', { env: { HR_SERVICE_TOKEN: `Bearer \${env:${HR_TOKEN_NAME}}` } }),
      gmail: mail('gmail'),
      outlook: mail('outlook'),
      everything: { command: 'node', args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'] },
      filesystem: { command: 'node', args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'), DOCS] },
    },
    publicUrl: `http://127.0.0.1:${gatewayPort}`,
    policies: [join(ROOT, 'policies', '*.cedar')],
  };
}

const repoConfig = parse(readFileSync(join(ROOT, 'skillgate.yaml'), 'utf8')) as Record<string, unknown> & {
  gateways: Record<string, { tools: string[] }>;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skillgate-canary-'));
  gatewayPort = await freePort();
  configFile = join(dir, 'skillgate.yaml');
  writeFileSync(configFile, stringify(workspace(repoConfig, { temporal: await freePort(), ui: await freePort() })));
  await approveWorkspace(configFile, canaryEnv());

  dev = startDev(configFile, canaryEnv());
  await dev.ready(100_000);
}, 120_000);

afterAll(async () => {
  await dev?.stop(20_000);
  rmSync(dir, { recursive: true, force: true });
});

describe('no secret leaves the gateway: child environments', () => {
  it('no descendant of skillgate dev has the canary; the hr child gets its ${env:…} value', () => {
    const all = descendants(dev.child.pid!);
    // tsx (how this test runs the sources; the built CLI has none) keeps an esbuild service as a
    // child of the process it loads into. It is not something Skillgate starts.
    const procs = all.filter((p) => !(p.ppid === dev.child.pid && p.argv[0]?.includes('/@esbuild/')));
    const find = (what: string, match: (p: ProcInfo) => boolean): ProcInfo => {
      const found = procs.filter(match);
      expect(found, `${what} among:\n${procs.map((p) => p.argv.join(' ')).join('\n')}`).toHaveLength(1);
      return found[0]!;
    };
    const children = {
      temporal: find('the Temporal dev server', (p) => p.argv.includes('start-dev')),
      'core-banking': find('core-banking', (p) => p.argv.some((a) => a.endsWith(join('demo', 'core-banking', 'main.ts')))),
      'credit-bureau': find('credit-bureau', (p) => p.argv.some((a) => a.endsWith(join('demo', 'credit-bureau', 'main.ts')))),
      hr: find('hr', (p) => p.argv.some((a) => a.endsWith(join('demo', 'hr', 'main.ts')))),
      everything: find('everything', (p) => p.argv.some((a) => a.includes('server-everything'))),
      filesystem: find('filesystem', (p) => p.argv.some((a) => a.includes('server-filesystem'))),
    };
    for (const p of procs) {
      expect(p.environText, p.argv.join(' ')).not.toContain(canary);
      expect(p.environ[CANARY_NAME], p.argv.join(' ')).toBeUndefined();
    }
    expect(children.hr.environ.HR_SERVICE_TOKEN).toBe(`Bearer ${hrToken}`);
    for (const [name, p] of Object.entries(children)) if (name !== 'hr') expect(p.environText, name).not.toContain(hrToken);
  });
});

describe('no secret leaves the gateway: tool results on dev-tools', () => {
  /** Arguments for the tools of the demo's dev-tools list; other tools get minimal ones from their schema. */
  const ARGS: Record<string, Record<string, unknown>> = {
    'everything.echo': { message: 'hello' },
    'everything.get-sum': { a: 1, b: 2 },
    'everything.get-annotated-message': { messageType: 'debug', includeImage: true },
    'everything.get-structured-content': { location: 'Chicago' },
    'everything.get-tiny-image': {},
    'everything.get-resource-links': { count: 2 },
    'everything.get-resource-reference': { resourceType: 'Text', resourceId: 1 },
    'everything.trigger-long-running-operation': { duration: 0.2, steps: 1 },
    'filesystem.read_text_file': { path: join(DOCS, 'config.md') },
    'filesystem.list_directory': { path: DOCS },
    'filesystem.directory_tree': { path: DOCS },
    'filesystem.search_files': { path: DOCS, pattern: '*.md' },
    'filesystem.get_file_info': { path: join(DOCS, 'config.md') },
  };

  function minimalArgs(tool: Tool): Record<string, unknown> {
    const known = ARGS[tool.name];
    if (known) return known;
    const props = (tool.inputSchema.properties ?? {}) as Record<string, { type?: string; enum?: unknown[] }>;
    const args: Record<string, unknown> = {};
    for (const key of tool.inputSchema.required ?? []) {
      const p = props[key] ?? {};
      args[key] = p.enum?.[0] ?? (p.type === 'number' || p.type === 'integer' ? 1 : p.type === 'boolean' ? false : p.type === 'string' ? 'x' : {});
    }
    return args;
  }

  it('the coding agent calls every tool it is shown; none returns the canary, and get-env is neither listed nor callable', async () => {
    // What `skillgate token` does, in-process: the dev IdP's key that the running runtime wrote to its state folder.
    const loaded = parseConfig(readFileSync(configFile, 'utf8'), configFile, { env: canaryEnv() });
    const minter = await createTokenMinter({ config: loaded.config, stateDir: loaded.path(loaded.config.stateDir) });
    const token = await minter.mintToken({ user: 'ceo', agent: 'coding-agent', audience: resourceUrl(loaded.config.publicUrl, 'dev-tools'), ttlSec: 300 });
    const client = new Client({ name: 'canary-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${gatewayPort}/mcp/dev-tools`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    try {
      const { tools } = await client.listTools();
      // Exactly the explicit list of skillgate.yaml (the CEO may call anything the agent may).
      expect(tools.map((t) => t.name).sort()).toEqual([...repoConfig.gateways['dev-tools']!.tools].sort());
      expect(tools.map((t) => t.name)).not.toContain('everything.get-env');
      expect(tools.map((t) => t.name)).not.toContain('everything.gzip-file-as-resource');

      for (const tool of tools) {
        const result = await client.callTool({ name: tool.name, arguments: minimalArgs(tool) });
        const text = JSON.stringify(result);
        expect(result.isError, `${tool.name}: ${text.slice(0, 500)}`).toBeFalsy();
        expect(text, tool.name).not.toContain(canary);
        expect(text, tool.name).not.toContain(hrToken);
      }

      for (const hidden of ['everything.get-env', 'everything.gzip-file-as-resource']) {
        const refused = await client.callTool({ name: hidden, arguments: {} }).then(
          (r) => JSON.stringify(r),
          (e: unknown) => String(e),
        );
        expect(refused, hidden).toMatch(/unknown tool/i);
        expect(refused).not.toContain(canary);
      }
    } finally {
      await client.close();
    }
  });
});
