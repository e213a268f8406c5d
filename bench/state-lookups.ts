/**
 * The revocation list on both backends, side by side, for BENCHMARKS.md:
 *
 *   node --import tsx bench/state-lookups.ts [lookups=100000] [trials=50] [vaultLookups=5000] [auditWrites=500] [auditEvents=10000]
 *
 * A real PostgreSQL (test/helpers/postgres.ts: Debian's package, a temporary cluster on
 * 127.0.0.1) and a SQLite file in a temporary folder, each holding 1000 revoked users out of
 * 2000 looked up (half hits, half misses, random order). Two stores on each database stand for
 * two replicas (for SQLite: two connections to one file, as two processes have). It times
 *   1. `isRevoked` on the authorization path: p50/p95/p99 per call (SQLite: one prepared read;
 *      PostgreSQL: a Map read of the snapshot);
 *   2. propagation: `revoke` on A (awaited) until B answers "revoked" (B polled every event-loop
 *      turn), p50/p95 over `trials` users;
 *   3. the vault: `Vault.get` of an existing grant (1000 grants, random order), p50/p95 — opened
 *      (version + row + AES-GCM unsealing: a vault caching one grant, so nearly every get misses)
 *      and cached (the version check alone: every grant already opened). Written on store A,
 *      read on store B (another replica);
 *   4. the audit trail: a write's latency (one event recorded, then `flush()` awaited: one
 *      transaction, for PostgreSQL three round trips under the chain's advisory lock), p50/p95
 *      over `auditWrites`; and events/s when two replicas' logs record `auditEvents` each at
 *      once, in bursts of 20 per event-loop turn (for PostgreSQL each on its own pool, as two
 *      processes), the chain verified afterwards.
 * Backends run interleaved in rounds, so a noisy neighbour slows both alike.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointSigner, loadOrCreateAuditKey, verificationKeys } from '../gateway/audit/keys.js';
import { createAuditLog } from '../gateway/audit/log.js';
import { openPostgresAuditStore } from '../gateway/audit/postgres-store.js';
import { openSqliteAuditStore } from '../gateway/audit/sqlite-store.js';
import type { AuditStore } from '../gateway/audit/store.js';
import { verifyRecords } from '../gateway/audit/verify.js';
import type { AuditEventInput } from '../src/contracts/audit.js';
import { openPostgresGrantStore } from '../gateway/downstream/vault-postgres.js';
import { openSqliteGrantStore, openVault, type GrantStore, type Vault } from '../gateway/downstream/vault.js';
import { openPostgresRevocations } from '../gateway/identity/revocations-postgres.js';
import { openSqliteRevocations } from '../gateway/identity/revocations-sqlite.js';
import type { RevocationStore } from '../gateway/identity/revocations.js';
import { openSqlite } from '../src/storage/sqlite.js';
import { startPostgres } from '../test/helpers/postgres.js';

const lookups = Number(process.argv[2] ?? 100_000);
const trials = Number(process.argv[3] ?? 50);
const vaultLookups = Number(process.argv[4] ?? 5_000);
const auditWrites = Number(process.argv[5] ?? 500);
const auditEvents = Number(process.argv[6] ?? 10_000);
const GRANTS = 1000;
const ROUNDS = 5;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const server = await startPostgres();
const dir = mkdtempSync(join(tmpdir(), 'skillgate-bench-state-'));
try {
  const url = await server.createDatabase('bench_state');
  const file = join(dir, 'skillgate.db');
  const backends: Array<{ name: string; a: RevocationStore; b: RevocationStore }> = [
    { name: 'sqlite', a: openSqliteRevocations(file), b: openSqliteRevocations(file) },
    { name: 'postgres', a: await openPostgresRevocations(url), b: await openPostgresRevocations(url) },
  ];
  for (const { a } of backends) for (let i = 0; i < 1000; i++) await a.revoke(`user-${i * 2}`, { by: 'bench' });
  const ids = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
  const order = Array.from({ length: lookups }, () => ids[Math.floor(Math.random() * ids.length)]!);

  const lookupUs = new Map<string, number[]>(backends.map((b) => [b.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const { name, b } of backends) {
      const out = lookupUs.get(name)!;
      let hits = 0;
      for (let i = round; i < order.length; i += ROUNDS) {
        const t0 = process.hrtime.bigint();
        if (b.isRevoked(order[i]!)) hits++;
        out.push(Number(process.hrtime.bigint() - t0) / 1_000);
      }
      if (hits === 0) throw new Error(`${name}: no lookup hit`);
    }
  }

  const propagationMs = new Map<string, number[]>(backends.map((b) => [b.name, []]));
  const turn = () => new Promise<void>((r) => setImmediate(r));
  for (let i = 0; i < trials; i++) {
    for (const { name, a, b } of backends) {
      const user = `fresh-${i}`;
      const t0 = performance.now();
      await a.revoke(user, { by: 'bench' });
      while (!b.isRevoked(user)) {
        if (performance.now() - t0 > 5_000) throw new Error(`${name}: ${user} not seen on B within 5 s`);
        await turn();
      }
      propagationMs.get(name)!.push(performance.now() - t0);
    }
  }

  // The vault: grants written through replica A, read through replica B.
  const vaultKey = Buffer.alloc(32, 7);
  const sqliteDbs = [openSqlite(file), openSqlite(file)];
  const pgStores = [await openPostgresGrantStore(url), await openPostgresGrantStore(url)];
  const vaultBackends: Array<{ name: string; a: GrantStore; b: GrantStore }> = [
    { name: 'sqlite', a: openSqliteGrantStore(sqliteDbs[0]!), b: openSqliteGrantStore(sqliteDbs[1]!) },
    { name: 'postgres', a: pgStores[0]!, b: pgStores[1]! },
  ];
  const grantKey = (i: number) => ({ workspace: 'bench', user: `user-${i}`, agent: 'family-assistant', provider: 'gmail' });
  const vaults = new Map<string, { opened: Vault; cached: Vault }>();
  for (const { name, a, b } of vaultBackends) {
    const writer = await openVault(a, vaultKey, { where: 'bench' });
    for (let i = 0; i < GRANTS; i++) {
      await writer.put(grantKey(i), { tokens: { accessToken: `ya29.${'a'.repeat(160)}-${i}`, refreshToken: `1//${'r'.repeat(100)}-${i}`, tokenType: 'Bearer' }, scopes: ['gmail.readonly', 'gmail.send'], expiresAt: Date.now() + 3_600_000 });
    }
    const cached = await openVault(b, vaultKey, { where: 'bench', maxCached: 2 * GRANTS });
    for (let i = 0; i < GRANTS; i++) await cached.get(grantKey(i));
    vaults.set(name, { opened: await openVault(b, vaultKey, { where: 'bench', maxCached: 1 }), cached });
  }
  const vaultOrder = Array.from({ length: vaultLookups }, () => Math.floor(Math.random() * GRANTS));
  const vaultUs = new Map<string, { opened: number[]; cached: number[] }>(vaultBackends.map((b) => [b.name, { opened: [], cached: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const { name } of vaultBackends) {
      const v = vaults.get(name)!;
      const out = vaultUs.get(name)!;
      for (const mode of ['opened', 'cached'] as const) {
        for (let i = round; i < vaultOrder.length; i += ROUNDS) {
          const k = grantKey(vaultOrder[i]!);
          const t0 = process.hrtime.bigint();
          const g = await v[mode].get(k);
          out[mode].push(Number(process.hrtime.bigint() - t0) / 1_000);
          if (g?.user !== k.user || !g.tokens.accessToken.endsWith(`-${vaultOrder[i]}`)) throw new Error(`${name}: wrong grant for ${k.user}`);
        }
      }
    }
  }

  // The audit trail: two replicas' logs on one chain.
  const signer = await checkpointSigner(loadOrCreateAuditKey(dir));
  const auditKeys = await verificationKeys([{ text: signer.publicKeyPem, where: 'bench' }]);
  const auditUrl = await server.createDatabase('bench_audit');
  const auditFile = join(dir, 'audit.db');
  const auditBackends: Array<{ name: string; stores: AuditStore[] }> = [
    { name: 'sqlite', stores: [openSqliteAuditStore(auditFile), openSqliteAuditStore(auditFile)] },
    { name: 'postgres', stores: [await openPostgresAuditStore(`${auditUrl}?application_name=replica_a`), await openPostgresAuditStore(`${auditUrl}?application_name=replica_b`)] },
  ];
  const decision = (replica: string, i: number): AuditEventInput => ({
    kind: 'decision', outcome: 'allow', reason: 'ok', workspace: 'bench', gateway: 'hr-desk', user: `user-${i % 2000}`, agent: 'hr-assistant', server: 'hr', tool: 'get_employee',
    args: { digest: `sha256:${'a'.repeat(64)}`, masked: { employeeId: `E-${i}` } }, ids: { requestId: `${replica}-${i}` },
  });
  const auditMs = new Map<string, { write: number[]; perSecond: number[] }>(auditBackends.map((b) => [b.name, { write: [], perSecond: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const { name, stores } of auditBackends) {
      const out = auditMs.get(name)!;
      const logs = stores.map((store) => createAuditLog({ store, signer, workspace: 'bench', flushOn: 'immediate' }));
      for (let i = round; i < auditWrites; i += ROUNDS) {
        const t0 = performance.now();
        logs[0]!.record(decision('w', i));
        await logs[0]!.flush();
        out.write.push(performance.now() - t0);
      }
      const t0 = performance.now();
      await Promise.all(
        logs.map(async (log, r) => {
          for (let i = 0; i < auditEvents / ROUNDS; ) {
            for (let k = 0; k < 20; k++, i++) log.record(decision(`r${round}-${r}`, i));
            await new Promise((res) => setImmediate(res));
          }
          await log.flush();
        }),
      );
      out.perSecond.push((2 * auditEvents) / ROUNDS / ((performance.now() - t0) / 1000));
      for (const log of logs) await log.close();
    }
  }
  for (const { name, stores } of auditBackends) {
    const report = await verifyRecords(stores[0]!.records(), { keys: auditKeys });
    if (!report.ok) throw new Error(`${name}: the audit chain does not verify: ${JSON.stringify(report.issue)}`);
    for (const st of stores) await st.close();
  }

  const fmt = (n: number, digits = 2) => n.toFixed(digits).padStart(9);
  process.stdout.write(`revocation list: ${lookups} lookups (1000 revoked of 2000 ids), ${trials} propagation trials, node ${process.version}\n\n`);
  process.stdout.write(`backend    | isRevoked p50 µs | p95 µs    | p99 µs    | revoke A → seen B p50 ms | p95 ms\n`);
  process.stdout.write(`-----------|------------------|-----------|-----------|--------------------------|----------\n`);
  for (const { name } of backends) {
    const l = lookupUs.get(name)!;
    const p = propagationMs.get(name)!;
    process.stdout.write(`${name.padEnd(10)} | ${fmt(pct(l, 50))}        | ${fmt(pct(l, 95))} | ${fmt(pct(l, 99))} | ${fmt(pct(p, 50))}                | ${fmt(pct(p, 95))}\n`);
  }
  process.stdout.write(`\nvault: Vault.get of an existing grant on replica B (${GRANTS} grants written on A), ${vaultLookups} gets per mode\n\n`);
  process.stdout.write(`backend    | opened (version + row + unseal) p50 µs | p95 µs    | cached (version check) p50 µs | p95 µs\n`);
  process.stdout.write(`-----------|----------------------------------------|-----------|-------------------------------|----------\n`);
  for (const { name } of vaultBackends) {
    const v = vaultUs.get(name)!;
    process.stdout.write(`${name.padEnd(10)} | ${fmt(pct(v.opened, 50))}                              | ${fmt(pct(v.opened, 95))} | ${fmt(pct(v.cached, 50))}                     | ${fmt(pct(v.cached, 95))}\n`);
  }
  process.stdout.write(`\naudit trail: a write (1 event, flush awaited) ×${auditWrites}; two replicas recording ${auditEvents} events each at once, in bursts of 20 (${ROUNDS} rounds)\n\n`);
  process.stdout.write(`backend    | write p50 ms | p95 ms    | two replicas, events/s (median of rounds)\n`);
  process.stdout.write(`-----------|--------------|-----------|------------------------------------------\n`);
  for (const { name } of auditBackends) {
    const a = auditMs.get(name)!;
    process.stdout.write(`${name.padEnd(10)} | ${fmt(pct(a.write, 50), 3)}    | ${fmt(pct(a.write, 95), 3)} | ${fmt(pct(a.perSecond, 50), 0)}\n`);
  }
  for (const { a, b } of backends) {
    await a.close();
    await b.close();
  }
  for (const db of sqliteDbs) db.close();
  for (const st of pgStores) await st.close();
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
