/**
 * A Skillgate front door for the conformance run, assembled as the runtime assembles it
 * (config → governance → upstream pool → pinned catalog → `startGateway`, with the dev IdP),
 * without Temporal: one workspace, one upstream server (`fixture`, the conformance fixture over
 * Streamable HTTP, era found by `server/discover`), one gateway `conformance` that exposes its
 * tools, prompts and resources under their own names (`prefix: false`, because the suites call
 * `test_simple_text`, not `fixture.test_simple_text`), one agent and one user, both allowed the
 * fixture by test/conformance/policies/. The fixture's tools are approved into the workspace's
 * tools.lock.json first, as an operator does with `skillgate curate fixture --approve`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { memoryLogger } from '../../gateway/log.js';
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import { startGateway } from '../../src/app/runtime/front-door.js';
import { createGovernance } from '../../src/app/runtime/governance.js';
import { parseConfig } from '../../src/config/load.js';
import { approvedCatalog } from '../helpers/catalog.js';
import { memoryAuditSink } from '../../gateway/audit/memory.js';
import { openCredentials } from '../../src/app/runtime/credentials.js';
import { ROOT } from './suites.js';

export const CONFORMANCE_GATEWAY = 'conformance';
export const CONFORMANCE_USER = 'conformance-user';
export const CONFORMANCE_AGENT = 'conformance-client';

export interface ConformanceGateway {
  /** The gateway's origin, `http://127.0.0.1:<port>`. */
  origin: string;
  /** The MCP endpoint path of the gateway, `/mcp/conformance`. */
  path: string;
  /** A fresh bearer token for (conformance-user, conformance-client) on this gateway. */
  token(): Promise<string>;
  /** What the gateway logged (refusals with their codes, upstream failures). */
  logs: Array<{ level: string; msg: string } & Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startConformanceGateway(fixtureUrl: string): Promise<ConformanceGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-conformance-ws-'));
  const file = join(dir, 'skillgate.yaml');
  const text = stringify({
    workspace: 'conformance',
    stateDir: join(dir, 'state'),
    skillsDir: join(dir, 'skills'),
    servers: { fixture: { url: fixtureUrl } },
    identity: { devIdp: true },
    agents: { [CONFORMANCE_AGENT]: { clientId: CONFORMANCE_AGENT, name: 'The MCP conformance suite' } },
    users: { [CONFORMANCE_USER]: { name: 'Conformance runner' } },
    gateways: {
      [CONFORMANCE_GATEWAY]: { description: 'The conformance fixture, unprefixed', agents: [CONFORMANCE_AGENT], tools: ['fixture.*'], prompts: ['fixture.*'], resources: ['fixture'], prefix: false },
    },
    policies: [join(ROOT, 'test', 'conformance', 'policies', '*.cedar')],
  });
  writeFileSync(file, text);
  const loaded = parseConfig(text, file);
  const pool = createUpstreamPool(loaded, { log: () => {} });
  // What the gateway records is not what this run checks: kept in memory, said here (a sink is required).
  const audit = memoryAuditSink();
  const governance = await createGovernance(loaded, { watch: false, audit });
  const log = memoryLogger();
  const catalog = await approvedCatalog(loaded, pool, log, audit);
  const credentials = await openCredentials(loaded, { audit, serverUrl: (s) => pool.url(s) });
  const gw = await startGateway({ loaded, pool, governance, catalog, credentials, port: 0, log });
  const resource = gw.resourceUrl(CONFORMANCE_GATEWAY);
  return {
    origin: new URL(gw.url).origin,
    path: new URL(resource).pathname,
    token: () => gw.idp!.mintToken({ user: CONFORMANCE_USER, agent: CONFORMANCE_AGENT, audience: resource, ttlSec: 3600 }),
    logs: log.lines,
    async close() {
      await gw.close();
      catalog.close();
      await credentials.close();
      await pool.close();
      await governance.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
