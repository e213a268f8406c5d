/**
 * `skillgate dev` as a person runs it: a child process on a temporary workspace (free ports,
 * its own SQLite file and state folder, the demo MCP servers from source through tsx). This
 * test starts its own embedded dev server — the point is the embedded runtime itself — and
 * does not use the shared one from global-setup.
 */
import { approveWorkspace } from './helpers/catalog.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../src/contracts/search-attributes.js';
import { childEnv, type DevProcess, freePort, startDev as startDevProcess } from './helpers/dev-process.js';
import { DEMO_AUTH } from './helpers/workspace.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');

let dir: string;
let configFile: string;
let port: number;
let uiPort: number;
let gatewayPort: number;
const started: DevProcess[] = [];

function startDev(opts: { config?: string; temporalAddress?: string } = {}): DevProcess {
  const dev = startDevProcess(opts.config ?? configFile, childEnv(opts.temporalAddress ? { TEMPORAL_ADDRESS: opts.temporalAddress } : {}));
  started.push(dev);
  return dev;
}

async function portOpen(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port: p, host: '127.0.0.1' });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** SIGINT and wait (bounded); the exit code and how long it took. */
async function interrupt(dev: DevProcess, withinMs: number): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  const code = await dev.stop(withinMs);
  return { code, ms: Date.now() - t0 };
}

/** The test workspace: the repo's skills, the demo servers from source, everything else in `dir`. */
function workspaceYaml(temporalLines: string[]): string {
  // Each takes Skillgate's trinary tokens for its own audience (the default per-tool scopes: none).
  const demo = (name: string): string =>
    `    command: node\n    args: [--import, tsx, ${JSON.stringify(join(root, 'demo', name, 'main.ts'))}, --state, ${JSON.stringify(join(dir, 'state', 'demo'))}]\n    cwd: ${JSON.stringify(root)}\n    auth: ${JSON.stringify({ audience: DEMO_AUTH[name as keyof typeof DEMO_AUTH].audience, tools: DEMO_AUTH[name as keyof typeof DEMO_AUTH].scopes })}`;
  return [
    'workspace: dev-runtime-test',
    'temporal:',
    ...temporalLines,
    `skillsDir: ${JSON.stringify(join(root, 'skills'))}`,
    'stateDir: state',
    'servers:',
    '  core-banking:',
    demo('core-banking'),
    '  credit-bureau:',
    demo('credit-bureau'),
    '  hr:',
    demo('hr'),
    'users:',
    '  loan-clerk: { roles: [loan-clerk] }',
    '  credit-officer: { roles: [credit-officer] }',
    'identity: { devIdp: true }',
    'agents:',
    '  credit-assistant: { clientId: credit-assistant }',
    'gateways:',
    '  credit-desk: { agents: [credit-assistant], tools: [core-banking.*, credit-bureau.*], skills: [credit-issuance] }',
    `publicUrl: http://127.0.0.1:${gatewayPort}`,
    `policies: [${JSON.stringify(join(root, 'policies', '*.cedar'))}]`,
    '',
  ].join('\n');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skillgate-dev-'));
  port = await freePort();
  uiPort = await freePort();
  gatewayPort = await freePort();
  configFile = join(dir, 'skillgate.yaml');
  writeFileSync(
    configFile,
    workspaceYaml([
      '  taskQueue: dev-runtime-test',
      '  dev:',
      `    port: ${port}`,
      `    uiPort: ${uiPort}`,
      '    dbFile: state/temporal.db',
    ]),
  );
  // Both workspace files name the same servers (same folder): one lock approves them.
  await approveWorkspace(configFile);
});

afterAll(() => {
  for (const d of started) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('skillgate dev (embedded runtime)', () => {
  const probeId = `dev-runtime-probe-${Date.now()}`;

  it('starts, prints what runs where, registers the search attributes, and stops cleanly on SIGINT', async () => {
    const dev = startDev();
    const banner = await dev.ready();

    expect(banner).toContain(`127.0.0.1:${port}`);
    expect(banner).toContain('task queue dev-runtime-test');
    expect(banner).toContain(`http://127.0.0.1:${uiPort}`);
    expect(banner).toMatch(/core-banking\s+stdio\s+\d+ tools?/);
    expect(banner).toMatch(/credit-bureau\s+stdio\s+\d+ tools?/);
    expect(banner).toMatch(/credit-issuance\s+v\S+\s+sha256:[0-9a-f]{64}/);
    expect(banner).toContain(join(dir, 'state'));
    // The try-it lines come from the configuration and the skill's own input examples.
    expect(banner).toContain('npx skillgate token --user loan-clerk --agent credit-assistant --gateway credit-desk');
    expect(banner).toContain(`npx skillgate run credit-issuance --input '{"customerId":"C-1001","amount":5000}' --wait`);
    expect(banner).toContain('npx skillgate approve <workflowId> --as credit-officer');
    expect(banner).not.toMatch(/hr-desk|intern/);

    const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const name of SEARCH_ATTRIBUTES) expect(customAttributes, name).toHaveProperty(name);
      expect(await portOpen(uiPort)).toBe(true);

      // A run nobody will pick up (no worker on this queue): it must survive the restart.
      const client = new Client({ connection });
      await client.workflow.start('runSkill', {
        workflowId: probeId,
        taskQueue: 'dev-runtime-test-nobody-polls',
        args: [],
        searchAttributes: { SkillName: ['dev-runtime-probe'], Workspace: ['dev-runtime-test'] },
      });
    } finally {
      await connection.close();
    }

    const { code, ms } = await interrupt(dev, 20_000);
    expect(code, dev.output()).toBe(0);
    expect(ms).toBeLessThan(20_000);
    expect(dev.output()).toContain('stopped');
    expect(await portOpen(port)).toBe(false);
    expect(await portOpen(uiPort)).toBe(false);
  });

  it('reuses the persisted state on a second start: the earlier run is still listed', async () => {
    const dev = startDev();
    await dev.ready();
    const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      const client = new Client({ connection });
      const ids: string[] = [];
      for await (const wf of client.workflow.list({ query: 'SkillName = "dev-runtime-probe"' })) ids.push(wf.workflowId);
      expect(ids).toContain(probeId);
      const described = await client.workflow.getHandle(probeId).describe();
      expect(described.status.name).toBe('RUNNING');
      await client.workflow.getHandle(probeId).terminate('test done');
    } finally {
      await connection.close();
    }
    const { code } = await interrupt(dev, 20_000);
    expect(code, dev.output()).toBe(0);
  });

  it('refuses to start when the Temporal port is taken, saying what to do', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const dev = startDev();
      const { code } = await Promise.race([
        dev.exit,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running:\n${dev.output()}`)), 30_000)),
      ]);
      expect(code).toBe(2);
      expect(dev.output()).toContain(`port ${port} (the Temporal frontend, temporal.dev.port) is already in use`);
      expect(dev.output()).toContain('TEMPORAL_ADDRESS');
      expect(dev.output()).not.toMatch(/\n\s+at /); // a message, not a stack trace
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('uses the cluster in TEMPORAL_ADDRESS instead, registering the missing search attributes there', async () => {
    const address = inject('temporalAddress');
    const namespace = `dev-runtime-${Date.now()}`;
    const connection = await Connection.connect({ address });
    try {
      // A namespace without Skillgate's search attributes stands for a fresh cluster.
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
      const external = join(dir, 'external.yaml');
      writeFileSync(external, workspaceYaml([`  namespace: ${namespace}`, '  taskQueue: dev-runtime-external']));

      const dev = startDev({ config: external, temporalAddress: address });
      const banner = await dev.ready();
      expect(banner).toContain(`${address}  namespace ${namespace}  task queue dev-runtime-external  (external cluster)`);
      expect(banner).toContain(`registered    search attributes ${SEARCH_ATTRIBUTES.join(', ')}`);
      expect(banner).not.toContain('Temporal UI');
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      for (const name of SEARCH_ATTRIBUTES) expect(customAttributes, name).toHaveProperty(name);

      const { code } = await interrupt(dev, 20_000);
      expect(code, dev.output()).toBe(0);
      // Stopping disconnects from an external cluster; it never stops it.
      await connection.workflowService.getSystemInfo({});
    } finally {
      await connection.close();
    }
  });
});
