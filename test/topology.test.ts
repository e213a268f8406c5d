/**
 * The scaled-out topology of docker-compose.yml, as processes on loopback: PostgreSQL, a Temporal
 * server on it, two `skillgate gateway` replicas behind a load balancer, two `skillgate worker`
 * replicas, Skillgate's shared state in PostgreSQL. Twenty users call a skill and a tool through
 * the load balancer for a bounded time while the test kills a gateway, kills a worker, restarts
 * PostgreSQL and restarts the Temporal server.
 *
 * Afterwards:
 *   - every skill run completed, and each side effect was applied exactly once (the core-banking
 *     demo's own idempotency records);
 *   - every direct call was answered, possibly after the client's retries of retryable failures;
 *   - no refusal ever became an allowance (interns and an over-limit amount are refused every time);
 *   - the four replicas wrote one audit chain, which verifies and holds every completed run's end.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPOLOGY } from '../deploy/topology.js';
import { skillgate } from './helpers/dev-process.js';
import { pgQuery } from './helpers/postgres.js';
import { loadConfig } from '../src/config/load.js';
import { openLockSource } from '../src/app/runtime/state.js';
import { startTopology, type Topology } from './helpers/topology.js';

/** How long the users keep calling; the faults happen inside it. */
const LOAD_MS = 50_000;

const CLERKS = Array.from({ length: 16 }, (_, i) => `clerk-${String(i + 1).padStart(2, '0')}`);
const INTERNS = Array.from({ length: 4 }, (_, i) => `intern-${i + 1}`);

let topo: Topology;

beforeAll(async () => {
  topo = await startTopology({
    gateways: TOPOLOGY.gateways,
    workers: TOPOLOGY.workers,
    storage: TOPOLOGY.storageKind,
    users: Object.fromEntries([...CLERKS.map((u) => [u, { name: u, roles: ['loan-clerk'] }]), ...INTERNS.map((u) => [u, { name: u, roles: ['intern'] }])]),
  });
}, 300_000);

afterAll(async () => {
  await topo?.close();
}, 120_000);

interface Tally {
  runs: Map<string, string>;
  /** The workflow id of each completed run. */
  runIds: string[];
  runFailures: string[];
  directAnswered: number;
  directFailures: string[];
  refusedAsExpected: number;
  allowedWrongly: string[];
  retries: number;
}

/** One user's agent: an MCP client through the load balancer that starts over on a retryable failure. */
function agentFor(user: string, token: string) {
  let client: Client | undefined;
  const url = new URL(topo.audience);
  const connect = async (): Promise<Client> => {
    if (client) return client;
    const c = new Client({ name: `agent-${user}`, version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    client = c;
    return c;
  };
  const drop = async () => {
    const c = client;
    client = undefined;
    await c?.close().catch(() => {});
  };
  return {
    /** Call a tool; retry (new session, same idempotency key) on what a client may retry: a lost connection, 404 session, 502/503, a timeout. */
    async call(name: string, args: Record<string, unknown>, key: string, tally: Tally, deadline: number) {
      for (let attempt = 0; ; attempt++) {
        try {
          const c = await connect();
          return await c.callTool({ name, arguments: args, _meta: { 'dev.skillgate/idempotency-key': key } }, undefined, { timeout: 60_000 });
        } catch (err) {
          await drop();
          if (Date.now() > deadline) throw err;
          tally.retries++;
          await new Promise((r) => setTimeout(r, Math.min(2_000, 200 * 2 ** Math.min(attempt, 4))));
        }
      }
    },
    close: drop,
  };
}

describe(`topology: ${TOPOLOGY.gateways} gateways behind a load balancer, ${TOPOLOGY.workers} workers, Temporal server and state on PostgreSQL`, () => {
  it('a revocation made on one host, a policy change and a tool re-approval reach every gateway replica within 1 s', async () => {
    const user = CLERKS[0]!;
    const token = await topo.token(user);
    // Straight to each replica (not through the load balancer): A and B must each refuse.
    // A replica's first token check fetches the issuer's keys; until then it answers a retryable 503.
    const replica = async (port: number): Promise<Client> => {
      for (let attempt = 0; ; attempt++) {
        const c = new Client({ name: `probe-${port}`, version: '1.0.0' });
        try {
          await c.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp/credit-desk`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
          return c;
        } catch (err) {
          if (attempt >= 20 || !/temporarily_unavailable|try again/i.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    };
    const read = async (c: Client): Promise<'answered' | 'refused'> => {
      try {
        const r = await c.callTool({ name: 'core-banking.get_customer', arguments: { customerId: 'C-1001' } });
        return r.isError ? 'refused' : 'answered';
      } catch {
        return 'refused';
      }
    };
    /** Ms from `since` until every replica's answer is `state` (each polled every 25 ms, bounded): when the last one first did. */
    const untilEverywhere = async (state: 'answered' | 'refused', since: number, clients: Client[]): Promise<number> => {
      const seen = await Promise.all(
        clients.map(async (c) => {
          while (Date.now() - since < 10_000) {
            if ((await read(c)) === state) return Date.now() - since;
            await new Promise((r) => setTimeout(r, 25));
          }
          return Infinity;
        }),
      );
      expect(seen.every(Number.isFinite), `a replica never ${state}`).toBe(true);
      return Math.max(...seen);
    };
    const untilRefusedEverywhere = (since: number, clients: Client[]) => untilEverywhere('refused', since, clients);
    const [a, b] = [await replica(topo.gateways[0]!.port), await replica(topo.gateways[1]!.port)];
    try {
      expect([await read(a), await read(b)]).toEqual(['answered', 'answered']);

      // An operator revokes the user (the CLI on any host writes the shared list in PostgreSQL).
      const revoked = await skillgate(topo.ws.configFile, ['revoke', '--user', user, '--reason', 'topology test'], topo.env);
      expect(revoked.code, revoked.stderr).toBe(0);
      const revocationMs = await untilRefusedEverywhere(Date.now(), [a, b]);
      expect(revocationMs).toBeLessThan(1_000);
      const restored = await skillgate(topo.ws.configFile, ['revoke', '--user', user, '--restore'], topo.env);
      expect(restored.code, restored.stderr).toBe(0);
      // Sessions of a revoked user are closed: new ones, now that the user may act again.
      await Promise.all([a.close(), b.close()]);
      const [a2, b2] = [await replica(topo.gateways[0]!.port), await replica(topo.gateways[1]!.port)];
      expect([await read(a2), await read(b2)]).toEqual(['answered', 'answered']);

      // A policy change in the files every replica reads: each reloads it by itself.
      const original = readFileSync(join(topo.policiesDir, 'users.cedar'));
      const changedAt = Date.now();
      appendFileSync(join(topo.policiesDir, 'users.cedar'), `\n@id("topology.forbid-${user}")\nforbid (principal == Skillgate::User::"${user}", action, resource);\n`);
      let policyMs: number;
      try {
        policyMs = await untilRefusedEverywhere(changedAt, [a2, b2]);
      } finally {
        // Back as it was, for the load below, whatever happened.
        writeFileSync(join(topo.policiesDir, 'users.cedar'), original);
      }
      process.stderr.write(`topology: revocation seen by both replicas in ${revocationMs} ms, the policy change in ${policyMs} ms\n`);
      expect(policyMs).toBeLessThan(1_000);
      for (const c of [a2, b2]) await expect.poll(() => read(c), { timeout: 10_000 }).toBe('answered');

      // A tool's approval withdrawn in the pinned catalog every replica follows (in PostgreSQL,
      // imported from tools.lock.json at the first start), then given again with the real CLI on
      // another host (`skillgate curate --approve`).
      const pins = await openLockSource(loadConfig(topo.ws.configFile));
      let withdrawMs: number;
      let approveMs: number;
      try {
        const lock = structuredClone(pins.read());
        delete lock.servers['core-banking']!.tools.get_customer;
        const withdrawnAt = Date.now();
        await pins.write(lock);
        withdrawMs = await untilRefusedEverywhere(withdrawnAt, [a2, b2]);
        const approved = await skillgate(topo.ws.configFile, ['curate', 'core-banking', '--approve', 'get_customer', '--accept-risk', '--by', 'topology-test'], topo.env);
        expect(approved.code, approved.stdout + approved.stderr).toBe(0);
        expect(approved.stderr + approved.stdout).toMatch(/wrote postgres:\/\/127\.0\.0\.1:\d+\/skillgate/);
        // From the CLI's commit (the row's updated_at) to both replicas serving the tool again.
        const [row] = (await pgQuery(topo.env.SKILLGATE_DATABASE_URL!, 'SELECT updated_at::float8 AS at FROM skillgate_catalog_lock')) as Array<{ at: number }>;
        approveMs = Math.round(await untilEverywhere('answered', row!.at, [a2, b2]));
      } finally {
        await pins.close();
      }
      process.stderr.write(`topology: a withdrawn approval seen by both replicas in ${withdrawMs} ms, the re-approval in ${approveMs} ms\n`);
      expect(withdrawMs).toBeLessThan(1_000);
      expect(approveMs).toBeLessThan(1_000);
      await Promise.all([a2.close(), b2.close()]);
    } finally {
      await Promise.all([a.close(), b.close()]).catch(() => {});
    }
  }, 120_000);

  it('twenty users through kills and restarts: every run completes once, every call is answered, no refusal becomes an allowance', async () => {
    const { gateways, workers, pg, temporal, lb, ws } = topo;
    const tally: Tally = { runs: new Map(), runIds: [], runFailures: [], directAnswered: 0, directFailures: [], refusedAsExpected: 0, allowedWrongly: [], retries: 0 };
    const started = Date.now();
    const stopAt = started + LOAD_MS;
    const settleBy = stopAt + 120_000;

    const FAULTS: Array<{ atMs: number; what: string; run: () => Promise<void> }> = [
      { atMs: 8_000, what: 'kill gateway 1 (SIGKILL)', run: async () => void gateways[0]!.proc.child.kill('SIGKILL') },
      { atMs: 16_000, what: 'kill worker 1 (SIGKILL)', run: async () => void workers[0]!.child.kill('SIGKILL') },
      { atMs: 24_000, what: 'restart PostgreSQL (immediate stop: a crash)', run: () => pg.restart('immediate') },
      { atMs: 34_000, what: 'restart the Temporal server', run: () => temporal.restart() },
    ];
    const faultLog: string[] = [];
    const faults = (async () => {
      for (const f of FAULTS) {
        const wait = started + f.atMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const t0 = Date.now();
        await f.run();
        faultLog.push(`${((t0 - started) / 1000).toFixed(1)} s: ${f.what} (${Date.now() - t0} ms)`);
      }
    })();

    const clerk = async (user: string) => {
      const agent = agentFor(user, await topo.token(user));
      for (let n = 0; Date.now() < stopAt; n++) {
        const key = `${user}-run-${n}`;
        try {
          const r = await agent.call('skill.credit-issuance', { customerId: 'C-1001', amount: 100 + n }, key, tally, settleBy);
          const out = r.structuredContent as { creditId?: string; run?: { id: string; status: string } } | undefined;
          if (r.isError || out?.run?.status !== 'completed' || !out.creditId) tally.runFailures.push(`${key}: ${JSON.stringify(r).slice(0, 300)}`);
          else {
            tally.runs.set(key, out.creditId);
            tally.runIds.push(out.run.id);
          }
        } catch (err) {
          tally.runFailures.push(`${key}: ${(err as Error).message}`);
        }
        try {
          const r = await agent.call('core-banking.get_customer', { customerId: 'C-1001' }, `${user}-read-${n}`, tally, settleBy);
          if (r.isError) tally.directFailures.push(`${user}: ${JSON.stringify(r.content).slice(0, 200)}`);
          else tally.directAnswered++;
        } catch (err) {
          tally.directFailures.push(`${user}: ${(err as Error).message}`);
        }
        // A refusal that must stay one: over the clerk's limit.
        await refused(agent, 'skill.credit-issuance', { customerId: 'C-1001', amount: 50_000 }, `${user}-over-${n}`);
      }
      await agent.close();
    };
    const intern = async (user: string) => {
      const agent = agentFor(user, await topo.token(user));
      for (let n = 0; Date.now() < stopAt; n++) {
        await refused(agent, 'skill.credit-issuance', { customerId: 'C-1001', amount: 100 }, `${user}-run-${n}`);
        await refused(agent, 'core-banking.issue_credit', { customerId: 'C-1001', amount: 100 }, `${user}-issue-${n}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      await agent.close();
    };
    const refused = async (agent: ReturnType<typeof agentFor>, name: string, args: Record<string, unknown>, key: string) => {
      try {
        const r = await agent.call(name, args, key, tally, settleBy);
        if (r.isError && /not permitted|denied|refused|forbid/i.test(JSON.stringify(r.content))) tally.refusedAsExpected++;
        else if (r.isError) tally.allowedWrongly.push(`${key} ${name}: an error that is not a refusal: ${JSON.stringify(r.content).slice(0, 200)}`);
        else tally.allowedWrongly.push(`${key} ${name}: ALLOWED: ${JSON.stringify(r.structuredContent ?? r.content).slice(0, 200)}`);
      } catch (err) {
        // A refusal over HTTP (403) surfaces as an error; anything else is not a refusal.
        if (/403|not permitted|forbidden|denied/i.test((err as Error).message)) tally.refusedAsExpected++;
        else tally.allowedWrongly.push(`${key} ${name}: ${(err as Error).message}`);
      }
    };

    await Promise.all([...CLERKS.map(clerk), ...INTERNS.map(intern), faults]);
    const summary = {
      seconds: (Date.now() - started) / 1000,
      runs: tally.runs.size,
      directAnswered: tally.directAnswered,
      refusedAsExpected: tally.refusedAsExpected,
      retries: tally.retries,
      lb: lb.stats(),
      faults: faultLog,
    };
    process.stderr.write(`topology: ${JSON.stringify(summary, null, 2)}\n`);

    expect(faultLog).toHaveLength(FAULTS.length);
    expect(tally.allowedWrongly).toEqual([]);
    expect(tally.runFailures).toEqual([]);
    expect(tally.directFailures).toEqual([]);
    expect(tally.runs.size).toBeGreaterThan(20);
    expect(tally.refusedAsExpected).toBeGreaterThan(20);

    // Exactly once: the core-banking system's own records. One credit per completed run, each
    // applied once under its idempotency key; distinct runs got distinct credits.
    const bank = JSON.parse(readFileSync(join(ws.dir, 'state', 'demo', 'core-banking.json'), 'utf8')) as {
      credits: Record<string, { creditId: string; idempotencyKey?: string }>;
      appliedKeys: Record<string, number>;
    };
    const overApplied = Object.entries(bank.appliedKeys).filter(([, n]) => n !== 1);
    expect(overApplied).toEqual([]);
    const creditIds = new Set(tally.runs.values());
    expect(creditIds.size).toBe(tally.runs.size);
    const issued = Object.values(bank.credits);
    expect(issued.map((c) => c.creditId).sort()).toEqual([...creditIds].sort());

    // One audit trail for the four replicas, through a PostgreSQL crash: one chain that verifies
    // (the real CLI), holding the end of every completed run (written by whichever worker ran it).
    const verified = await skillgate(ws.configFile, ['audit', 'verify', '--json'], topo.env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as { ok: boolean; events: number };
    expect(report.ok).toBe(true);
    const ended = (await pgQuery(topo.env.SKILLGATE_DATABASE_URL!, "SELECT DISTINCT workflow_id FROM skillgate_audit_events WHERE kind = 'run.ended' AND outcome = 'ok'")) as Array<{ workflow_id: string }>;
    const endedIds = new Set(ended.map((r) => r.workflow_id));
    expect(tally.runIds.filter((id) => !endedIds.has(id))).toEqual([]);
    process.stderr.write(`topology: audit chain verified, ${report.events} events from ${TOPOLOGY.gateways} gateways and ${TOPOLOGY.workers} workers\n`);
  }, 400_000);
});
