/**
 * The added latency of downstream credentials per call, in-process, side by side in one run:
 *
 *   trinary token   mint on a cache hit (same user, agent, audience, scopes: the common case)
 *                   against a miss (ES256 sign), and the whole credential step on a hit
 *   vault lookup    a grant from the vault on a cache hit (one version lookup in SQLite)
 *                   against a miss (row read + AES-256-GCM open + JSON parse)
 *
 * Real parts: jose ES256, the SQLite state file (WAL, synchronous=full) in a temp folder.
 * Run: npm run bench:downstream
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCredentialService } from '../gateway/downstream/credentials.js';
import { loadOrCreateSigningKeys } from '../gateway/downstream/signing-keys.js';
import { createTrinaryMinter, tokenIssuerFor } from '../gateway/downstream/trinary.js';
import { openSqliteGrantStore, openVault } from '../gateway/downstream/vault.js';
import { parseConfig } from '../src/config/load.js';
import { openSqlite } from '../src/storage/sqlite.js';
import type { AuditSink } from '../src/contracts/audit.js';

const N = 20_000;
const dir = mkdtempSync(join(tmpdir(), 'skillgate-bench-downstream-'));

function stats(name: string, samples: number[]): { p50: number; p95: number } {
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  console.log(`${name.padEnd(52)} p50 ${at(0.5).toFixed(1).padStart(7)} µs   p95 ${at(0.95).toFixed(1).padStart(7)} µs   (n=${samples.length})`);
  return { p50: at(0.5), p95: at(0.95) };
}

async function measure(fn: (i: number) => Promise<unknown> | unknown, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return out;
}

try {
  const keys = await loadOrCreateSigningKeys(dir);
  const minter = await createTrinaryMinter({ ...tokenIssuerFor('http://127.0.0.1:8787'), keys, lifetimeSec: 300, maxCached: 2 * N });
  const db = openSqlite(join(dir, 'skillgate.db'));
  const vault = await openVault(openSqliteGrantStore(db), Buffer.alloc(32, 3), { where: 'bench', maxCached: 2 * N });
  const loaded = parseConfig(
    ['workspace: bench', 'servers:', '  hr:', '    url: http://127.0.0.1:1/mcp', '    auth: { audience: "urn:acme:hr", tools: { get_employee: [hr.directory.read] } }'].join('\n'),
    join(dir, 'skillgate.yaml'),
  );
  /** Grant events dropped: the bench measures the credential step, not the audit trail (bench/audit.ts does). */
  const DISCARD: AuditSink = { record() {} };
  const service = createCredentialService({ config: loaded.config, vault, minter, publicUrl: 'http://127.0.0.1:8787', refreshBeforeMs: 60_000, audit: DISCARD, provider: () => { throw new Error('no provider in this bench'); } });

  const USERS = 2000;
  const key = (i: number) => ({ workspace: 'bench', user: `user-${i % USERS}`, agent: 'assistant', provider: 'mail' });
  const token = 'ya29.' + 'x'.repeat(180);
  for (let i = 0; i < USERS; i++) await vault.put(key(i), { tokens: { accessToken: `${token}${i}`, refreshToken: `1//${'r'.repeat(100)}${i}`, tokenType: 'Bearer' }, scopes: ['a', 'b'], expiresAt: Date.now() + 3_600_000 });
  const req = (i: number) => ({ user: `user-${i % USERS}`, agent: 'assistant', audience: 'urn:acme:hr', scopes: ['hr.directory.read'] });

  // Warm the JIT on both paths with keys the measurements reuse later.
  for (let i = 0; i < 2000; i++) await minter.mint({ ...req(i), audience: 'urn:warm' });
  const misses = await measure((i) => minter.mint({ ...req(i), user: `cold-${i}` }), 2000);
  for (let i = 0; i < USERS; i++) await minter.mint(req(i));
  const hits = await measure((i) => minter.mint(req(i)), N);
  const principal = (i: number) => ({ user: { id: `user-${i % USERS}`, roles: [], groups: [] }, agent: { id: 'assistant' } });
  const step = await measure((i) => service.forCall({ principal: principal(i), workspace: 'bench', server: 'hr', tool: 'get_employee' }), N);

  // Vault: first reads fill the cache (misses), the rest hit it.
  const vaultMiss = await measure((i) => vault.get(key(i)), USERS);
  const vaultHit = await measure((i) => vault.get(key(i)), N);

  console.log(`\nNode ${process.version}, ${USERS} users, ${N} samples per hit series\n`);
  const r = {
    mintMiss: stats('trinary token: mint on a miss (ES256 sign)', misses),
    mintHit: stats('trinary token: mint on a cache hit', hits),
    step: stats('credential step (forCall) on a token cache hit', step),
    vaultMiss: stats('vault lookup: miss (SQLite row + AES-GCM open)', vaultMiss),
    vaultHit: stats('vault lookup: cache hit (version check in SQLite)', vaultHit),
  };
  console.log(`\ntargets (≤ 100 µs p50 on a hit): mint ${r.mintHit.p50 <= 100 ? 'met' : 'MISSED'}, vault ${r.vaultHit.p50 <= 100 ? 'met' : 'MISSED'}`);
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
