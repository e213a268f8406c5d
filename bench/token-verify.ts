/**
 * Token verification cost per request, in-process: a cold verification (new token: parse,
 * RS256 signature, claims, principal) against a cached one (same token again: SHA-256 +
 * expiry check), plus header extraction. Keys come from a JWKS already fetched, as in steady
 * state. Run: node --import tsx bench/token-verify.ts
 */
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { bearerToken } from '../gateway/identity/bearer.js';
import { createTokenVerifier } from '../gateway/identity/verify.js';

const N = 2000;
const ISS = 'http://127.0.0.1:8787/idp';
const AUD = 'http://127.0.0.1:8787/mcp/hr-desk';

const { privateKey, publicKey } = await generateKeyPair('RS256');
const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] });
const verifier = createTokenVerifier({
  issuers: [{ issuer: ISS, algorithms: ['RS256'] }],
  claims: { roles: 'roles', groups: 'groups', agent: ['azp', 'client_id'] },
  clockSkewSec: 30,
  agents: { 'hr-assistant': { clientId: 'hr-assistant' } },
  keys: { [ISS]: jwks },
  cacheSize: 2 * N,
});

const sign = (i: number) =>
  new SignJWT({ azp: 'hr-assistant', client_id: 'hr-assistant', roles: ['intern'], groups: ['staff'], scope: 'openid mcp' })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISS)
    .setSubject(`user-${i}`)
    .setAudience(AUD)
    .setIssuedAt()
    .setJti(`j-${i}`)
    .setExpirationTime('1h')
    .sign(privateKey);
const tokens = await Promise.all(Array.from({ length: N }, (_, i) => sign(i)));
console.log(`token size: ${tokens[0]!.length} bytes`);

function stats(name: string, samples: number[]): void {
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  console.log(`${name.padEnd(40)} median ${at(0.5).toFixed(1).padStart(7)} µs   p95 ${at(0.95).toFixed(1).padStart(7)} µs   (n=${samples.length})`);
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

// Warm up jose, the JIT and the cache with tokens the measurements do not use.
const warm = await Promise.all(Array.from({ length: 200 }, (_, i) => sign(N + i)));
for (const t of warm) await verifier.verify(t, { audience: AUD });
for (let i = 0; i < 2000; i++) await verifier.verify(warm[i % warm.length]!, { audience: AUD });

const joseOnly = await measure((i) => jwtVerify(tokens[i]!, jwks, { issuer: ISS, audience: AUD, algorithms: ['RS256'] }), N);
const before = verifier.verifications;
const cold = await measure((i) => verifier.verify(tokens[i]!, { audience: AUD }), N);
if (verifier.verifications - before !== N) throw new Error('cold runs were not all cache misses');
const cached = await measure((i) => verifier.verify(tokens[i % N]!, { audience: AUD }), 20 * N);
if (verifier.verifications - before !== N) throw new Error('cached runs verified signatures');
const header = await measure((i) => verifier.verify(bearerToken({ authorization: `Bearer ${tokens[i % N]!}`, url: '/mcp/hr-desk' }), { audience: AUD }), 20 * N);

console.log('');
stats('jose jwtVerify alone (reference)', joseOnly);
stats('cold verify (new token, RS256)', cold);
stats('cached verify (same token again)', cached);
stats('header extraction + cached verify', header);
