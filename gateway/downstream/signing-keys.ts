/**
 * Skillgate's own signing keys for trinary tokens (ES256 or EdDSA JWKs, each with a `kid`).
 * The first key signs; every key is published at `<publicUrl>/.well-known/jwks.json`, so a
 * rotation is: put the new key first, keep the old one until the tokens it signed expired
 * (5 minutes), then drop it.
 *
 * One machine: generated on first use into `<stateDir>/keys/token-signing.json` (0600).
 * Several machines: `tokens.signingKeys` in skillgate.yaml, a secret reference to the same
 * JWK set (JSON `{ "keys": [ … ] }`) for every gateway and worker.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { DownstreamError } from './errors.js';

/** The algorithms Skillgate signs with (asymmetric; never HS*, never none). */
export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA'] as const;

export function signingKeysFile(stateDir: string): string {
  return join(stateDir, 'keys', 'token-signing.json');
}

/** Parse and check a private JWK set; `where` names its origin in errors (never its content). */
export function parseSigningKeys(text: string, where: string): JWK[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DownstreamError('ERR_SIGNING_KEYS', `${where}: not a JSON JWK set ({"keys": [...]})`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new DownstreamError('ERR_SIGNING_KEYS', `${where}: no "keys" array`);
  const kids = new Set<string>();
  keys.forEach((k: JWK, i) => {
    if (typeof k?.kid !== 'string' || !k.kid) throw new DownstreamError('ERR_SIGNING_KEYS', `${where}: keys[${i}] has no "kid" (rotation needs one)`);
    if (kids.has(k.kid)) throw new DownstreamError('ERR_SIGNING_KEYS', `${where}: two keys with kid "${k.kid}"`);
    kids.add(k.kid);
    if (!SIGNING_ALGORITHMS.includes(k.alg as never)) throw new DownstreamError('ERR_SIGNING_KEYS', `${where}: keys[${i}] alg must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
    if (typeof k.d !== 'string') throw new DownstreamError('ERR_SIGNING_KEYS', `${where}: keys[${i}] is a public key; the signing keys must be private`);
  });
  return keys as JWK[];
}

/** The key set in `<stateDir>/keys/token-signing.json`, created (one ES256 key, 0600) when missing. */
export async function loadOrCreateSigningKeys(stateDir: string): Promise<JWK[]> {
  const file = signingKeysFile(stateDir);
  try {
    return parseSigningKeys(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: `sg-${randomBytes(8).toString('hex')}` };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Two processes starting at once agree on one key: created by link(2), the loser reads the winner's.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  chmodSync(file, 0o600);
  return parseSigningKeys(readFileSync(file, 'utf8'), file);
}

/** The public half of a private JWK (what the JWKS endpoint serves). */
export function publicJwk(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}
