/**
 * The scaled-out topology of docker-compose.yml (deploy/topology.ts), as processes on loopback:
 * a real PostgreSQL, Temporal's own server on it, `skillgate gateway` replicas behind the test
 * load balancer (the rules of deploy/nginx.conf), `skillgate worker` replicas, and Skillgate's
 * shared state in PostgreSQL (`storage.kind: postgres`). The credit desk of the demo workspace,
 * with the users the caller names. Used by test/topology.test.ts and bench/scale.ts.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTokenMinter } from '../../gateway/adapters/idp/mint.js';
import { loadConfig } from '../../src/config/load.js';
import { childEnv, demoWorkspace, type DemoWorkspace, type DevProcess, freePort, repoConfig, startRole } from './dev-process.js';
import { type LoadBalancer, startLoadBalancer } from './load-balancer.js';
import { type PostgresServer, startPostgres } from './postgres.js';
import { ROOT } from './workspace.js';
import { startTemporalServer, type TemporalServer } from './temporal-server.js';

export interface Topology {
  pg: PostgresServer;
  temporal: TemporalServer;
  ws: DemoWorkspace;
  /** The folder of the workspace's Cedar policies (a copy of the repo's, which a test may change). */
  policiesDir: string;
  /** The environment every replica runs with (TEMPORAL_ADDRESS, SKILLGATE_DATABASE_URL). */
  env: NodeJS.ProcessEnv;
  lb: LoadBalancer;
  gateways: Array<{ port: number; proc: DevProcess }>;
  workers: DevProcess[];
  /** The credit desk's resource URL through the load balancer (tokens' audience). */
  audience: string;
  /** A bearer token for `user` via the credit assistant, for the audience above. */
  token(user: string): Promise<string>;
  /** Start one more worker replica; resolves once it is ready. */
  addWorker(): Promise<DevProcess>;
  close(): Promise<void>;
}

export interface TopologyOptions {
  gateways: number;
  workers: number;
  /** Users of the workspace (a credit officer is added: the skill's approval step needs one to exist). */
  users: Record<string, { name: string; roles: string[] }>;
  /** Where Skillgate's shared state lives (default postgres, as in docker-compose.yml). */
  storage?: 'postgres' | 'sqlite';
  log?: (line: string) => void;
}

export async function startTopology(opts: TopologyOptions): Promise<Topology> {
  const log = opts.log ?? (() => {});
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const pg = await startPostgres();
    closers.push(() => pg.close());
    log(`PostgreSQL on 127.0.0.1:${pg.port}`);
    const temporal = await startTemporalServer({ postgres: pg });
    closers.push(() => temporal.close());
    log(`Temporal server ${temporal.address}`);
    const databaseUrl = await pg.createDatabase('skillgate');
    // This process loads the workspace too (the catalog approval, the token minter): it reads the
    // same reference. (Each test file runs in its own process.)
    process.env.SKILLGATE_DATABASE_URL = databaseUrl;
    const lbPort = await freePort();
    const desk = repoConfig().gateways['credit-desk']!;
    // The policies as a deployment ships them: files every replica reads (a shared volume in
    // docker-compose.yml), here a copy that a test may change.
    const policiesDir = mkdtempSync(join(tmpdir(), 'skillgate-topology-policies-'));
    closers.push(async () => rmSync(policiesDir, { recursive: true, force: true }));
    cpSync(join(ROOT, 'policies'), policiesDir, { recursive: true });
    const storage = (opts.storage ?? 'postgres') === 'postgres' ? { storage: { kind: 'postgres', postgres: { url: '${env:SKILLGATE_DATABASE_URL}' } } } : {};
    const ws = await demoWorkspace({
      // Only the two systems the credit desk uses: each replica runs its own stdio children of
      // them; the demo systems keep their records in one file, locked across processes.
      servers: { hr: undefined, gmail: undefined, outlook: undefined, everything: undefined, filesystem: undefined },
      gateways: { 'credit-desk': desk },
      providers: undefined,
      users: { ...opts.users, officer: { name: 'officer', roles: ['credit-officer'] } },
      publicUrl: `http://127.0.0.1:${lbPort}`,
      policies: [join(policiesDir, '*.cedar')],
      ...storage,
    });
    closers.push(async () => ws.cleanup());
    const env = childEnv({ TEMPORAL_ADDRESS: temporal.address, SKILLGATE_DATABASE_URL: databaseUrl });
    const gateways: Topology['gateways'] = [];
    const workers: DevProcess[] = [];
    closers.push(() => Promise.all([...gateways.map((g) => g.proc.stop()), ...workers.map((w) => w.stop())]));
    for (let i = 0; i < opts.gateways; i++) {
      const port = await freePort();
      gateways.push({ port, proc: startRole('gateway', ws.configFile, { ...env, SKILLGATE_PORT: String(port) }) });
    }
    for (let i = 0; i < opts.workers; i++) workers.push(startRole('worker', ws.configFile, env));
    await Promise.all([...gateways.map((g) => g.proc.ready(120_000)), ...workers.map((w) => w.ready(120_000))]);
    // Each gateway serves the skill (its banner lists it, not held): else any load means nothing.
    for (const g of gateways) {
      if (!/credit-issuance\s+v1\.0\.0\s+sha256:[0-9a-f]+\n(?!\s+HELD)/.test(g.proc.output())) throw new Error(`a gateway does not serve credit-issuance:\n${g.proc.output()}`);
    }
    const lb = await startLoadBalancer(
      gateways.map((g) => ({ host: '127.0.0.1', port: g.port })),
      { port: lbPort },
    );
    closers.splice(closers.length - 1, 0, () => lb.close());
    log(`${opts.gateways} gateway(s) behind ${lb.url}, ${opts.workers} worker(s)`);
    const loaded = loadConfig(ws.configFile);
    const minter = await createTokenMinter({ config: loaded.config, stateDir: loaded.path(loaded.config.stateDir) });
    const audience = `${lb.url}/mcp/credit-desk`;
    return {
      pg,
      temporal,
      ws,
      policiesDir,
      env,
      lb,
      gateways,
      workers,
      audience,
      token: (user) => minter.mintToken({ user, agent: 'credit-assistant', audience }),
      async addWorker() {
        const w = startRole('worker', ws.configFile, env);
        workers.push(w);
        await w.ready(120_000);
        return w;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
