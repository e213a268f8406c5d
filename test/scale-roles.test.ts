/**
 * The roles of a scaled-out deployment as separate processes of the real CLI: `skillgate gateway`
 * (the front door, no worker) and `skillgate worker` (the steps, no listener), joined only by the
 * Temporal cluster in TEMPORAL_ADDRESS and the shared state. A skill called through the gateway
 * runs to completion only because the worker replica runs its steps.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenMinter } from '../gateway/adapters/idp/mint.js';
import { loadConfig } from '../src/config/load.js';
import { startEmbeddedTemporal, type TemporalRuntime } from '../src/app/runtime/temporal.js';
import { childEnv, demoWorkspace, type DemoWorkspace, type DevProcess, freePort, skillgate, startRole } from './helpers/dev-process.js';

let temporal: TemporalRuntime;
let ws: DemoWorkspace;
let gateway: DevProcess;
let worker: DevProcess | undefined;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  // The cluster: a Temporal server this test starts (the roles start none).
  temporal = await startEmbeddedTemporal({ port: await freePort() });
  ws = await demoWorkspace();
  env = childEnv({ TEMPORAL_ADDRESS: temporal.address, SKILLGATE_PORT: String(ws.gatewayPort) });
  gateway = startRole('gateway', ws.configFile, env);
  await gateway.ready();
}, 150_000);

afterAll(async () => {
  await worker?.stop();
  await gateway?.stop();
  await temporal?.close();
  ws?.cleanup();
});

async function agent(): Promise<Client> {
  const loaded = loadConfig(ws.configFile);
  const minter = await createTokenMinter({ config: loaded.config, stateDir: loaded.path(loaded.config.stateDir) });
  const url = `http://127.0.0.1:${ws.gatewayPort}/mcp/credit-desk`;
  const token = await minter.mintToken({ user: 'loan-clerk', agent: 'credit-assistant', audience: url });
  const client = new Client({ name: 'scale-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

/** The identities polling the task queue for workflow tasks (one per worker process). */
async function pollers(): Promise<string[]> {
  const r = await temporal.connection.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: 'demo-test' }, taskQueueType: 1 });
  return (r.pollers ?? []).map((p) => p.identity ?? '');
}

describe('skillgate gateway and skillgate worker', () => {
  it('a gateway replica says what it is and runs no worker: nothing polls the task queue', async () => {
    expect(gateway.output()).toContain('Skillgate gateway replica (front door; runs no step)');
    expect(gateway.output()).toContain(`${temporal.address}`);
    expect(gateway.output()).not.toContain('Try it');
    expect(await pollers()).toEqual([]);
  }, 60_000);

  it('with a worker replica beside it, a skill called through the gateway completes', async () => {
    worker = startRole('worker', ws.configFile, env);
    const out = await worker.ready();
    expect(out).toContain('Skillgate worker replica (runs skill steps; no listener)');
    expect(out).toContain(`worker polling task queue demo-test on ${temporal.address}`);
    await expect.poll(pollers, { timeout: 10_000 }).toHaveLength(1);
    const client = await agent();
    try {
      const r = await client.callTool({ name: 'skill.credit-issuance', arguments: { customerId: 'C-1001', amount: 500 } });
      expect(r.isError, JSON.stringify(r)).toBeFalsy();
      expect(JSON.stringify(r.structuredContent ?? r.content)).toContain('creditId');
    } finally {
      await client.close();
    }
  }, 120_000);

  it('a replica started without a Temporal cluster refuses, saying what to set', async () => {
    for (const role of ['gateway', 'worker']) {
      const r = await skillgate(ws.configFile, [role]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`skillgate ${role} joins a Temporal cluster and starts none: set TEMPORAL_ADDRESS, or temporal.address in ${ws.configFile}`);
    }
  }, 60_000);
});
