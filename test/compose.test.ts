/**
 * docker-compose.yml, checked the way the docs show it — `docker-compose -f docker-compose.yml
 * config` (Debian's docker-compose; it needs no Docker engine) — and its normalized output held
 * against deploy/topology.ts, the shape the process-level topology test runs too. Also: the load
 * balancer's rules (deploy/nginx.conf, parsed: no nginx here), the replicas' workspace config
 * (deploy/skillgate.yaml: the demo workspace plus the deployment's keys, loaded by Skillgate's
 * own config loader with the environment compose gives a replica), and the skillgate-state job's
 * script run twice against a real PostgreSQL.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import pg from 'pg';
import { TOPOLOGY } from '../deploy/topology.js';
import { SEARCH_ATTRIBUTES } from '../src/contracts/search-attributes.js';
import { parseConfig } from '../src/config/load.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';

const ROOT = join(import.meta.dirname, '..');
const COMMAND = 'docker-compose -f docker-compose.yml config';
const INSTALL = 'apt-get update && apt-get install -y docker-compose';

/** Dummy secrets: the file refuses to render without them (`${VAR:?…}`). */
const SECRETS = {
  POSTGRES_PASSWORD: 'test-postgres-password',
  SKILLGATE_DB_PASSWORD: 'test-skillgate-db-password',
  SKILLGATE_RUN_KEY: 'test-run-key-0123456789abcdefghijklmnopqrstuv',
  SKILLGATE_VAULT_KEY: 'test-vault-key',
  SKILLGATE_AUDIT_KEY: 'test-audit-key',
  SKILLGATE_TOKEN_KEYS: '{"keys":[]}',
};

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  networks?: Record<string, unknown>;
  ports?: unknown[];
  profiles?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean } | null>;
}

function run(env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', COMMAND], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The environment without the secrets (and without a developer's own values of them). */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(SECRETS)) delete env[k];
  return env;
}

const commandOf = (s: Service): string => (Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? ''));

/** `upstream <name> { … }` blocks of nginx.conf: their server hosts and other directives. */
function upstreams(conf: string): Map<string, { servers: string[]; directives: string[] }> {
  const out = new Map<string, { servers: string[]; directives: string[] }>();
  for (const m of conf.replace(/#.*$/gm, '').matchAll(/upstream\s+(\S+)\s*\{([^}]*)\}/g)) {
    const lines = m[2]!.split(';').map((l) => l.trim().replace(/\s+/g, ' ')).filter(Boolean);
    out.set(m[1]!, {
      servers: lines.filter((l) => l.startsWith('server ')).map((l) => l.split(' ')[1]!.split(':')[0]!),
      directives: lines.filter((l) => !l.startsWith('server ')),
    });
  }
  return out;
}

/** The directives of the nginx config outside upstream blocks, comments dropped. */
function directives(conf: string): string[] {
  return conf
    .replace(/#.*$/gm, '')
    .replace(/upstream\s+\S+\s*\{[^}]*\}/g, '')
    .split(/[;{}]/)
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter(Boolean);
}

let compose: Compose;

describe('docker-compose.yml', () => {
  beforeAll(async () => {
    const which = spawnSync('bash', ['-c', 'command -v docker-compose']);
    if (which.status !== 0) throw new Error(`docker-compose is not installed: run \`${INSTALL}\` (Debian's package; .ci/run does)`);
    const r = await run({ ...baseEnv(), ...SECRETS });
    if (r.code !== 0) throw new Error(`\`${COMMAND}\` exited ${r.code}:\n${r.stderr}`);
    compose = parse(r.stdout) as Compose;
  });

  it('is what the README and docs/architecture.md show, and fails clearly without its secrets', async () => {
    for (const doc of ['README.md', 'docs/architecture.md']) expect(readFileSync(join(ROOT, doc), 'utf8')).toContain(COMMAND);
    const r = await run(baseEnv());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/set [A-Z_]+ \(/);
  });

  it('has two gateways and two workers on one image built from the Dockerfile, on the Temporal service', () => {
    const byCommand = (c: string) => Object.keys(compose.services).filter((n) => commandOf(compose.services[n]!) === c).sort();
    expect(byCommand(TOPOLOGY.commands.gateway)).toEqual([...TOPOLOGY.gatewayServices]);
    expect(byCommand(TOPOLOGY.commands.worker)).toEqual([...TOPOLOGY.workerServices]);
    expect(TOPOLOGY.gatewayServices).toHaveLength(TOPOLOGY.gateways);
    expect(TOPOLOGY.workerServices).toHaveLength(TOPOLOGY.workers);

    const replicas = [...TOPOLOGY.gatewayServices, ...TOPOLOGY.workerServices].map((n) => compose.services[n]!);
    expect(new Set(replicas.map((s) => s.image)).size).toBe(1);
    for (const s of replicas) {
      expect(s.build?.context).toBe(ROOT);
      expect(s.build?.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
      expect(s.environment?.TEMPORAL_ADDRESS).toBe(TOPOLOGY.temporalAddress);
      expect(s.environment?.SKILLGATE_CONFIG).toBe('/app/skillgate.deploy.yaml');
      expect(s.volumes).toContain(`${ROOT}/deploy/skillgate.yaml:/app/skillgate.deploy.yaml:ro`);
      // Same keys everywhere (one anchor), from the environment.
      for (const k of ['SKILLGATE_RUN_KEY', 'SKILLGATE_VAULT_KEY', 'SKILLGATE_AUDIT_KEY', 'SKILLGATE_TOKEN_KEYS'] as const) expect(s.environment?.[k]).toBe(SECRETS[k]);
      expect(s.environment?.SKILLGATE_DATABASE_URL).toBe(`postgres://skillgate:${SECRETS.SKILLGATE_DB_PASSWORD}@postgresql:5432/skillgate`);
      expect(s.depends_on?.['temporal-namespace']?.condition).toBe('service_completed_successfully');
      expect(s.depends_on?.['skillgate-state']?.condition).toBe('service_completed_successfully');
    }
    for (const n of TOPOLOGY.gatewayServices) {
      expect(compose.services[n]!.environment).toMatchObject({ SKILLGATE_HOST: '0.0.0.0', SKILLGATE_PORT: String(TOPOLOGY.gatewayPort) });
    }
    // The temporal service is the one TEMPORAL_ADDRESS names.
    expect(compose.services[TOPOLOGY.temporalAddress.split(':')[0]!]!.image).toMatch(/^temporalio\/server:1\.32\.\d+$/);
  });

  it('runs Temporal on PostgreSQL: schemas by the admin-tools job of the same version, then the namespace and search attributes', () => {
    const { services } = compose;
    const temporal = services.temporal!;
    expect(temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', DBNAME: 'temporal', VISIBILITY_DBNAME: 'temporal_visibility' });
    expect(services.postgresql!.image).toMatch(/^postgres:16/);
    expect(temporal.depends_on?.['temporal-schema']?.condition).toBe('service_completed_successfully');
    const version = temporal.image!.split(':')[1];
    expect(services['temporal-schema']!.image).toBe(`temporalio/admin-tools:${version}`);
    expect(services['temporal-schema']!.environment).toMatchObject({ SQL_PLUGIN: 'postgres12', SQL_HOST: 'postgresql' });
    expect(services['temporal-namespace']!.image).toBe(`temporalio/admin-tools:${version}`);
    expect(services['temporal-namespace']!.environment).toMatchObject({ TEMPORAL_ADDRESS: TOPOLOGY.temporalAddress, NAMESPACE: 'default', SEARCH_ATTRIBUTES: SEARCH_ATTRIBUTES.join(' ') });
    const schemaScript = readFileSync(join(ROOT, 'deploy/temporal/setup-schema.sh'), 'utf8');
    for (const db of ['temporal', 'temporal_visibility']) expect(schemaScript).toContain(db);
  });

  it('publishes only the load balancer; PostgreSQL and Temporal stay on the internal network', () => {
    const { services, networks } = compose;
    // Services that start by default (the `ui` profile's Temporal UI is opt-in, on loopback).
    const published = Object.keys(services).filter((n) => services[n]!.ports?.length && !services[n]!.profiles?.length);
    expect(published).toEqual([TOPOLOGY.loadBalancer]);
    for (const p of services['temporal-ui']?.ports ?? []) expect(String(p)).toMatch(/^127\.0\.0\.1:/);
    for (const n of ['postgresql', 'temporal', 'temporal-schema', 'temporal-namespace', 'skillgate-state']) {
      for (const net of Object.keys(services[n]!.networks ?? {})) expect(networks[net]?.internal, `${n} on ${net}`).toBe(true);
    }
    // The lb shares a network with the gateways only.
    const lbNets = Object.keys(services[TOPOLOGY.loadBalancer]!.networks ?? {});
    const reach = Object.keys(services).filter((n) => n !== TOPOLOGY.loadBalancer && Object.keys(services[n]!.networks ?? {}).some((x) => lbNets.includes(x)));
    expect(reach.sort()).toEqual([...TOPOLOGY.gatewayServices]);
    expect(services[TOPOLOGY.loadBalancer]!.image).toMatch(/^nginx:\d+\.\d+\.\d+$/);
    expect(services[TOPOLOGY.loadBalancer]!.volumes).toContain(`${ROOT}/deploy/nginx.conf:/etc/nginx/nginx.conf:ro`);
  });

  it('balances onto exactly the gateways: sessions by bearer token (consistent), 2026-07-28 requests round robin, next replica on connection errors only, SSE unbuffered', () => {
    const conf = readFileSync(join(ROOT, 'deploy/nginx.conf'), 'utf8');
    const ups = upstreams(conf);
    expect([...ups.keys()].sort()).toEqual(['gateways', 'gateways_sticky']);
    for (const [, u] of ups) expect(u.servers.sort()).toEqual([...TOPOLOGY.gatewayServices]);
    expect(ups.get('gateways_sticky')!.directives).toContain('hash $http_authorization consistent');
    expect(ups.get('gateways')!.directives.some((d) => d.startsWith('hash '))).toBe(false);
    const d = directives(conf);
    expect(d).toContain('proxy_pass http://$gateway_pool');
    expect(d.filter((x) => x.startsWith('proxy_next_upstream '))).toEqual(['proxy_next_upstream error']);
    expect(d).toContain('proxy_buffering off');
    const read = d.find((x) => x.startsWith('proxy_read_timeout '));
    expect(read).toBe('proxy_read_timeout 1h');
    for (const port of conf.matchAll(/server gateway-\d+:(\d+)/g)) expect(Number(port[1])).toBe(TOPOLOGY.gatewayPort);

    // The pool map: stateless 2026-07-28+ requests round robin, everything else sticky.
    const map = /map "\$http_mcp_session_id:\$http_mcp_protocol_version" \$gateway_pool \{\s*"~([^"]+)" gateways;\s*default gateways_sticky;/.exec(conf);
    expect(map).not.toBeNull();
    const stateless = new RegExp(map![1]!);
    expect(stateless.test(':2026-07-28')).toBe(true);
    expect(stateless.test(':2027-01-15')).toBe(true);
    expect(stateless.test(':2025-11-25')).toBe(false);
    expect(stateless.test(':')).toBe(false);
    expect(stateless.test('abc:2026-07-28')).toBe(false);
  });

  it('gives the replicas the demo workspace plus the deployment keys, which load with the environment compose sets', () => {
    const demo = parse(readFileSync(join(ROOT, 'skillgate.yaml'), 'utf8')) as Record<string, unknown>;
    const text = readFileSync(join(ROOT, 'deploy/skillgate.yaml'), 'utf8');
    const deploy = parse(text) as Record<string, Record<string, unknown>>;
    expect(deploy.storage).toEqual({ kind: TOPOLOGY.storageKind, postgres: { url: '${env:SKILLGATE_DATABASE_URL}' } });
    expect(deploy.runs).toEqual({ attestationKey: '${env:SKILLGATE_RUN_KEY}' });
    expect(deploy.vault).toEqual({ key: '${env:SKILLGATE_VAULT_KEY}' });
    expect(deploy.tokens).toEqual({ signingKeys: '${env:SKILLGATE_TOKEN_KEYS}' });
    expect(deploy.audit!.signingKey).toBe('${env:SKILLGATE_AUDIT_KEY}');
    expect(deploy.identity!.devIdp).toBe(false);
    // Nothing else differs from the demo workspace.
    const strip = (c: Record<string, unknown>) => {
      const { storage: _s, runs: _r, vault: _v, tokens: _t, publicUrl: _p, identity, audit, ...rest } = structuredClone(c) as Record<string, Record<string, unknown>>;
      const { issuers: _i, devIdp: _d, ...id } = identity ?? {};
      const { signingKey: _k, ...au } = audit ?? {};
      return { ...rest, identity: id, audit: au };
    };
    expect(strip(deploy)).toEqual(strip(demo));

    // Skillgate's loader, with a gateway replica's environment as compose renders it.
    const doc = parseDocument(text);
    const env = compose.services[TOPOLOGY.gatewayServices[0]]!.environment!;
    const loaded = parseConfig(doc.toString(), join(ROOT, 'skillgate.deploy.yaml'), { env });
    expect(loaded.config.temporal.namespace).toBe(compose.services['temporal-namespace']!.environment!.NAMESPACE);
    expect(loaded.config.storage.kind).toBe(TOPOLOGY.storageKind);
  });
});

describe('deploy/postgres/skillgate-db.sh (the skillgate-state job)', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creates the role and database on a real PostgreSQL, and runs again (new password) unchanged otherwise', async () => {
    // The helper's superuser is already called `skillgate`: the job makes another role here.
    const base = { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password, SKILLGATE_DB_USER: 'sg-app', SKILLGATE_DB_NAME: 'sg-state' };
    for (const password of ["it's-secret", 'rotated']) {
      const r = spawnSync('sh', [join(ROOT, 'deploy/postgres/skillgate-db.sh')], { env: { ...base, SKILLGATE_DB_PASSWORD: password }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    const client = new pg.Client({ host: server.host, port: server.port, user: 'sg-app', password: 'rotated', database: 'sg-state' });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string; owner: string; superuser: boolean }>(
        "SELECT current_database() AS db, pg_get_userbyid(datdba) AS owner, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser FROM pg_database WHERE datname = current_database()",
      );
      expect(rows).toEqual([{ db: 'sg-state', owner: 'sg-app', superuser: false }]);
      await client.query('CREATE TABLE t (x int)');
    } finally {
      await client.end();
    }
  });
});
