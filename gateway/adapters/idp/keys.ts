/**
 * The dev IdP's secrets, generated on first start and kept under `<stateDir>/idp/` with mode
 * 0600, so tokens, cookies and sessions survive a restart:
 *   jwks.json         the RS256 signing key (private JWK; the first key signs, all are published)
 *   cookie-keys.json  the keys signing oidc-provider's cookies
 * Two processes starting at once (the gateway and `skillgate token`) agree on one key: the file
 * is created with an atomic link, and the loser reads the winner's.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/** Where the dev IdP keeps its files. */
export function idpDir(stateDir: string): string {
  return join(stateDir, 'idp');
}

/** Read a secret file, or create it with `make()` if it does not exist yet. */
async function readOrCreate<T>(file: string, make: () => Promise<T>, check: (v: unknown) => v is T): Promise<T> {
  const read = (): T | undefined => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    // A secret readable by others is a leak waiting to happen; tighten it rather than refuse to start.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`${file} is not valid JSON; delete it to generate a new one (tokens and sessions it signed become invalid)`);
    }
    if (!check(value)) throw new Error(`${file} does not hold what the dev IdP expects; delete it to generate a new one`);
    return value;
  };
  const existing = read();
  if (existing !== undefined) return existing;
  const value = await make();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return read()!;
}

const isKeySet = (v: unknown): v is { keys: JWK[] } => {
  const keys = (v as { keys?: unknown } | null)?.keys;
  return Array.isArray(keys) && keys.length > 0 && keys.every((k: JWK) => k?.kty === 'RSA' && typeof k.d === 'string' && typeof k.kid === 'string');
};

/** The persisted signing keys (private JWKs, current one first), created on first use. */
export async function loadSigningKeys(stateDir: string): Promise<JWK[]> {
  const set = await readOrCreate(
    join(idpDir(stateDir), 'jwks.json'),
    async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
      return { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: `dev-${randomBytes(8).toString('hex')}` }] };
    },
    isKeySet,
  );
  return set.keys;
}

/** The current signing key (private JWK). */
export async function loadSigningKey(stateDir: string): Promise<JWK> {
  return (await loadSigningKeys(stateDir))[0]!;
}

/** The public half of a private JWK. */
export function publicJwk(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...pub } = jwk as JWK & { oth?: unknown };
  return pub;
}

/** The keys signing the dev IdP's cookies, created on first use. */
export async function loadCookieKeys(stateDir: string): Promise<string[]> {
  const v = await readOrCreate(
    join(idpDir(stateDir), 'cookie-keys.json'),
    async () => ({ keys: [randomBytes(32).toString('base64url')] }),
    (x): x is { keys: string[] } => Array.isArray((x as { keys?: unknown } | null)?.keys) && (x as { keys: unknown[] }).keys.every((k) => typeof k === 'string' && k.length >= 32),
  );
  return v.keys;
}
