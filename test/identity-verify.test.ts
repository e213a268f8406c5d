/**
 * Token verification against a real issuer over HTTP (discovery document + JWKS served by a
 * node:http server on port 0) with real jose signatures: every refusal has its own code, key
 * rotation is picked up after the cooldown, an unreachable issuer is neither hammered nor
 * mistaken for a bad token, and the cache saves signature checks without outliving `exp`.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthError, type AuthErrorCode } from '../gateway/identity/errors.js';
import { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions, tokenHash, verifierFromConfig } from '../gateway/identity/verify.js';
import { configSchema } from '../src/config/schema.js';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** An issuer: discovery at `<issuer>/.well-known/openid-configuration`, keys at `/jwks`. */
interface FakeIssuer {
  issuer: string;
  /** Public JWKs served; change it to rotate. */
  keys: JWK[];
  jwksStatus: number;
  /** What the discovery document claims as issuer (default: the real one). */
  discoveryIssuer?: string;
  hits: { discovery: number; jwks: number };
  close(): Promise<void>;
}

async function startIssuer(): Promise<FakeIssuer> {
  const state = { keys: [] as JWK[], jwksStatus: 200, discoveryIssuer: undefined as string | undefined, hits: { discovery: 0, jwks: 0 } };
  let base = '';
  const server: Server = createServer((req, res) => {
    if (req.url === '/tenant/.well-known/openid-configuration') {
      state.hits.discovery++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: state.discoveryIssuer ?? `${base}/tenant`, jwks_uri: `${base}/jwks` }));
    } else if (req.url === '/jwks') {
      state.hits.jwks++;
      if (state.jwksStatus !== 200) res.writeHead(state.jwksStatus).end('unavailable');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    issuer: `${base}/tenant`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }) as unknown as FakeIssuer;
}

async function rsaKey(kid: string): Promise<{ kid: string; privateKey: PrivateKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

const HR = 'http://127.0.0.1:8787/mcp/hr-desk';
const CREDIT = 'http://127.0.0.1:8787/mcp/credit-desk';
const agents = { 'hr-assistant': { clientId: 'hr-assistant' }, 'credit-assistant': { clientId: 'credit-assistant-client' } };
const claims = { roles: 'roles', groups: 'groups', agent: ['azp', 'client_id'] };
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

let idp: FakeIssuer;
let keyA: Awaited<ReturnType<typeof rsaKey>>;
let now: number;


function verifier(extra: Partial<TokenVerifierOptions> = {}): TokenVerifier {
  return createTokenVerifier({
    issuers: [{ issuer: idp.issuer, algorithms: ['RS256', 'PS256'] }],
    claims,
    clockSkewSec: 30,
    agents,
    now: () => now,
    ...extra,
  });
}

/** Claims of a good token for intern via hr-assistant on hr-desk. */
function good(over: Record<string, unknown> = {}): Record<string, unknown> {
  const t = Math.floor(now / 1000);
  return { iss: idp.issuer, sub: 'intern', aud: HR, azp: 'hr-assistant', client_id: 'hr-assistant', roles: ['intern'], groups: 'staff interns', scope: 'openid mcp', jti: 'j-1', iat: t, exp: t + 600, ...over };
}

function sign(payload: Record<string, unknown>, key = keyA, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt', ...header } as never).sign(key.privateKey);
}

async function refusal(p: Promise<unknown>): Promise<AuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AuthError)) throw new Error(`expected an AuthError, got ${err instanceof Error ? err.stack : String(err)}`);
  return err;
}

beforeAll(async () => {
  idp = await startIssuer();
  keyA = await rsaKey('key-a');
  idp.keys = [keyA.jwk];
});
afterAll(async () => {
  await idp.close();
});
afterEach(() => {
  now = Date.now();
});
now = Date.now();

describe('a valid token', () => {
  it('yields the principal with user and agent apart, scopes, jti and a hash for logs', async () => {
    const token = await sign(good());
    const id = await verifier().verify(token, { audience: HR });
    expect(id.principal).toEqual({ user: { id: 'intern', roles: ['intern'], groups: ['staff', 'interns'] }, agent: { id: 'hr-assistant' } });
    expect(id).toMatchObject({ issuer: idp.issuer, subject: 'intern', clientId: 'hr-assistant', jti: 'j-1', scopes: ['openid', 'mcp'], expiresAt: Math.floor(now / 1000) + 600 });
    expect(id.tokenHash).toBe(tokenHash(token));
    expect(id.tokenHash).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it('maps the agent through the registered client ids, trying the configured claims in order', async () => {
    const v = verifier();
    // azp first: a token whose azp is the credit assistant's client id is that agent, whatever client_id says.
    const t1 = await sign(good({ aud: CREDIT, azp: 'credit-assistant-client', client_id: 'something-else' }));
    expect((await v.verify(t1, { audience: CREDIT })).principal.agent.id).toBe('credit-assistant');
    // No azp: client_id.
    const { azp: _azp, ...noAzp } = good();
    expect((await v.verify(await sign(noAzp), { audience: HR })).principal.agent.id).toBe('hr-assistant');
  });

  it('reads roles from a nested claim when configured with a dotted path (Keycloak)', async () => {
    const v = verifier({ claims: { roles: 'realm_access.roles', groups: 'groups', agent: ['azp'] } });
    const id = await v.verify(await sign(good({ realm_access: { roles: ['credit-officer', 'staff'] } })), { audience: HR });
    expect(id.principal.user.roles).toEqual(['credit-officer', 'staff']);
  });

  it('tolerates the configured clock skew on exp and nbf, and no more', async () => {
    const t = Math.floor(now / 1000);
    const v = verifier();
    await expect(v.verify(await sign(good({ exp: t - 10 })), { audience: HR })).resolves.toBeTruthy();
    await expect(v.verify(await sign(good({ nbf: t + 20 })), { audience: HR })).resolves.toBeTruthy();
    expect((await refusal(v.verify(await sign(good({ exp: t - 40 })), { audience: HR }))).code).toBe('ERR_TOKEN_EXPIRED');
    expect((await refusal(v.verify(await sign(good({ nbf: t + 40 })), { audience: HR }))).code).toBe('ERR_TOKEN_NOT_YET_VALID');
  });

  it('builds from skillgate.yaml (issuers, claims, clock skew, agents)', async () => {
    const config = configSchema.parse({
      workspace: 'w',
      identity: { issuers: [{ issuer: idp.issuer, algorithms: ['RS256'] }], clockSkew: '5s' },
      agents: { 'hr-assistant': { clientId: 'hr-assistant' } },
    });
    const v = verifierFromConfig(config);
    const t = Math.floor(Date.now() / 1000);
    expect((await v.verify(await sign(good({ iat: t, exp: t + 60 })), { audience: HR })).principal.user.id).toBe('intern');
    // 5 s of skew, not the default 30.
    expect((await refusal(v.verify(await sign(good({ iat: t - 60, exp: t - 10 })), { audience: HR }))).code).toBe('ERR_TOKEN_EXPIRED');
  });
});

describe('refusals: each bad token has its own code', () => {
  it('refuses every kind of bad token with its code, a public description and a detail without the token', async () => {
    const t = Math.floor(now / 1000);
    const rsaPublicPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' });
    const ourPublicPem = Buffer.from(JSON.stringify(keyA.jwk));
    const hsInput = `${b64({ alg: 'HS256', typ: 'JWT', kid: keyA.kid })}.${b64(good())}`;
    const valid = await sign(good());
    const [h, , s] = valid.split('.');
    const other = await rsaKey('key-a'); // same kid, different key
    const stranger = await rsaKey('key-unknown');
    const { azp: _a, client_id: _c, ...noAgent } = good();

    const cases: Array<[string, string, AuthErrorCode, string?]> = [
      ['expired', await sign(good({ iat: t - 7200, exp: t - 3600 })), 'ERR_TOKEN_EXPIRED'],
      ['not yet valid', await sign(good({ nbf: t + 3600 })), 'ERR_TOKEN_NOT_YET_VALID'],
      ['wrong issuer', await sign(good({ iss: 'https://evil.example/' })), 'ERR_TOKEN_ISSUER'],
      ['a credit-desk token used for hr-desk', await sign(good({ aud: CREDIT })), 'ERR_TOKEN_AUDIENCE'],
      ['a token for another service', await sign(good({ aud: 'https://graph.example.com' })), 'ERR_TOKEN_AUDIENCE'],
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(good())}.`, 'ERR_TOKEN_ALG_NOT_ALLOWED'],
      ['HS256 with an RSA public key (PEM) as HMAC secret', `${hsInput}.${createHmac('sha256', rsaPublicPem).update(hsInput).digest('base64url')}`, 'ERR_TOKEN_ALG_NOT_ALLOWED'],
      ['HS256 with the issuer public JWK as HMAC secret', `${hsInput}.${createHmac('sha256', ourPublicPem).update(hsInput).digest('base64url')}`, 'ERR_TOKEN_ALG_NOT_ALLOWED'],
      ['RS384, not on the allow-list', await new SignJWT(good()).setProtectedHeader({ alg: 'RS384', kid: keyA.kid }).sign((await generateKeyPair('RS384')).privateKey), 'ERR_TOKEN_ALG_NOT_ALLOWED'],
      ['unknown kid', await sign(good(), stranger), 'ERR_TOKEN_KID_UNKNOWN'],
      ['known kid, other key', await sign(good(), other), 'ERR_TOKEN_SIGNATURE'],
      ['tampered payload', `${h}.${b64(good({ sub: 'ceo', roles: ['executive'] }))}.${s}`, 'ERR_TOKEN_SIGNATURE'],
      ['signature stripped', `${h}.${b64(good())}.`, 'ERR_TOKEN_SIGNATURE'],
      ['garbage', 'this-is-not.a.jwt', 'ERR_TOKEN_MALFORMED'],
      ['not even three parts', 'garbage', 'ERR_TOKEN_MALFORMED'],
      ['header is not JSON', `${Buffer.from('{oops').toString('base64url')}.${b64(good())}.${s}`, 'ERR_TOKEN_MALFORMED'],
      ['100 KB', 'a'.repeat(100 * 1024), 'ERR_TOKEN_TOO_LARGE'],
      ['unknown agent', await sign(good({ azp: 'rogue-client', client_id: 'rogue-client' })), 'ERR_AGENT_UNKNOWN'],
      ['agent named by the agent id instead of the client id', await sign(good({ aud: CREDIT, azp: 'credit-assistant', client_id: 'credit-assistant' })), 'ERR_AGENT_UNKNOWN', CREDIT],
      ['no agent claim', await sign(noAgent), 'ERR_TOKEN_CLAIMS'],
      ['no sub', await sign({ ...good(), sub: undefined }), 'ERR_TOKEN_CLAIMS'],
      ['empty', '', 'ERR_TOKEN_MISSING'],
    ];
    const v = verifier();
    const seen = new Map<string, string>();
    for (const [name, token, code, audience] of cases) {
      const err = await refusal(v.verify(token, { audience: audience ?? HR }));
      expect(err.code, name).toBe(code);
      expect(err.status, name).toBe(401);
      expect(err.bearerError, name).toBe(code === 'ERR_TOKEN_MISSING' ? undefined : 'invalid_token');
      expect(err.publicMessage, name).toMatch(/^the token|^a Bearer/);
      // Never the token, in any part of the error.
      const parts = token.split('.').filter((p) => p.length > 12);
      for (const text of [err.message, err.detail, err.publicMessage, JSON.stringify(err)]) {
        for (const p of parts) expect(text.includes(p), `${name}: token part in "${text}"`).toBe(false);
      }
      seen.set(name, err.detail);
    }
    // The internal detail says more than the public one, e.g. which audience was expected.
    expect(seen.get('a credit-desk token used for hr-desk')).toContain(HR);
    expect(seen.get('unknown agent')).toContain('rogue-client');
    // Nothing bad was cached; a good token still passes.
    expect(v.cacheSize).toBe(0);
    await expect(v.verify(valid, { audience: HR })).resolves.toBeTruthy();
  });

  it('checks the size before parsing anything', async () => {
    const v = verifier({ maxTokenBytes: 100 });
    const err = await refusal(v.verify(`${'x'.repeat(60)}.${'y'.repeat(60)}.z`, { audience: HR }));
    expect(err.code).toBe('ERR_TOKEN_TOO_LARGE');
    expect(v.verifications).toBe(0);
  });
});

describe('keys: discovery, rotation, outages', () => {
  it('picks up a rotated key: an unknown kid refetches the JWKS once per cooldown', async () => {
    // Keys are made up front: generating RSA keys takes longer than the cooldown under test.
    const keyB = await rsaKey('key-b');
    const tokenB = await sign(good({ jti: 'rotated' }), keyB);
    const madeUp = await Promise.all(Array.from({ length: 5 }, async (_, i) => sign(good(), await rsaKey(`made-up-${i}`))));
    const v = verifier({ jwks: { cooldownMs: 300 } });
    await v.verify(await sign(good()), { audience: HR });
    const fetched = idp.hits.jwks;

    idp.keys = [keyA.jwk, keyB.jwk];
    // Within the cooldown: refused, and a flood of unknown kids costs no fetch at all.
    for (let i = 0; i < 5; i++) expect((await refusal(v.verify(tokenB, { audience: HR }))).code).toBe('ERR_TOKEN_KID_UNKNOWN');
    for (const t of madeUp) expect((await refusal(v.verify(t, { audience: HR }))).code).toBe('ERR_TOKEN_KID_UNKNOWN');
    expect(idp.hits.jwks).toBe(fetched);

    // Past the cooldown (jose keeps its own clock: move the system clock, not the test's `now`).
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 350);
      expect((await v.verify(tokenB, { audience: HR })).jti).toBe('rotated');
    } finally {
      vi.useRealTimers();
    }
    expect(idp.hits.jwks).toBe(fetched + 1);
    // The old key still works (both are published).
    await expect(v.verify(await sign(good({ jti: 'old' })), { audience: HR })).resolves.toBeTruthy();
    expect(idp.hits.jwks).toBe(fetched + 1);
    idp.keys = [keyA.jwk];
  });

  it('discovers the JWKS once per verifier and shares one discovery among concurrent first requests', async () => {
    const before = { ...idp.hits };
    const v = verifier();
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => sign(good({ jti: `c-${i}` }))));
    await Promise.all(tokens.map((t) => v.verify(t, { audience: HR })));
    expect(idp.hits.discovery - before.discovery).toBe(1);
    expect(idp.hits.jwks - before.jwks).toBe(1);
  });

  it('refuses a discovery document that names another issuer (OIDC Discovery §4.3)', async () => {
    idp.discoveryIssuer = 'https://impostor.example';
    try {
      const err = await refusal(verifier().verify(await sign(good()), { audience: HR }));
      expect(err.code).toBe('ERR_ISSUER_UNREACHABLE');
      expect(err.detail).toContain('impostor');
    } finally {
      idp.discoveryIssuer = undefined;
    }
  });

  it('answers an unreachable issuer with 503, not invalid_token, and does not retry on every request', async () => {
    // An issuer that accepts connections and drops them: every attempt is counted.
    let attempts = 0;
    const broken = createServer((req) => {
      attempts++;
      req.socket.destroy();
    });
    await new Promise<void>((r) => broken.listen(0, '127.0.0.1', r));
    const down = `http://127.0.0.1:${(broken.address() as AddressInfo).port}/nowhere`;
    try {
      const v = verifier({ issuers: [{ issuer: down, algorithms: ['RS256'] }], jwks: { retryMs: 60_000, timeoutMs: 1000 } });
      const token = await sign(good({ iss: down }));
      const first = await refusal(v.verify(token, { audience: HR }));
      expect(first.code).toBe('ERR_ISSUER_UNREACHABLE');
      expect(first.status).toBe(503);
      expect(first.bearerError).toBeUndefined();
      const tried = attempts;
      expect(tried).toBeGreaterThan(0);
      const second = await refusal(v.verify(token, { audience: HR }));
      expect(second.code).toBe('ERR_ISSUER_UNREACHABLE');
      expect(second.detail).toMatch(/retrying after/);
      // Answered from the remembered failure: no new attempt within retryMs.
      expect(attempts).toBe(tried);
    } finally {
      await new Promise((r) => broken.close(r));
    }
  });

  it('keeps verifying with the keys it has while the JWKS endpoint fails (stale-if-error)', async () => {
    const v = verifier({ jwks: { cacheMaxAgeMs: 50, retryMs: 10_000 } });
    await v.verify(await sign(good({ jti: 's-0' })), { audience: HR });
    idp.jwksStatus = 500;
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // The cached JWKS is now older than cacheMaxAgeMs.
      vi.setSystemTime(Date.now() + 80);
      const hits = idp.hits.jwks;
      expect((await v.verify(await sign(good({ jti: 's-1' })), { audience: HR })).jti).toBe('s-1');
      expect(idp.hits.jwks).toBe(hits + 1); // it tried once...
      expect((await v.verify(await sign(good({ jti: 's-2' })), { audience: HR })).jti).toBe('s-2');
      expect(idp.hits.jwks).toBe(hits + 1); // ...and not again within retryMs
    } finally {
      vi.useRealTimers();
      idp.jwksStatus = 200;
    }
  });
});

describe('cache', () => {
  it('verifies a signature once per token and audience; repeats come from the cache', async () => {
    const v = verifier();
    const token = await sign(good());
    const a = await v.verify(token, { audience: HR });
    for (let i = 0; i < 10; i++) expect(await v.verify(token, { audience: HR })).toBe(a);
    expect(v.verifications).toBe(1);
    expect(v.cacheSize).toBe(1);
    // No audience, no verification: jose would otherwise skip the check.
    await expect(v.verify(token, { audience: undefined as unknown as string })).rejects.toThrow(TypeError);
    // Another audience is another question: verified again, and refused.
    expect((await refusal(v.verify(token, { audience: CREDIT }))).code).toBe('ERR_TOKEN_AUDIENCE');
    expect(v.verifications).toBe(2);
  });

  it('shares one verification among concurrent requests with the same new token', async () => {
    const v = verifier();
    const token = await sign(good({ jti: 'burst' }));
    const ids = await Promise.all(Array.from({ length: 20 }, () => v.verify(token, { audience: HR })));
    expect(new Set(ids).size).toBe(1);
    expect(v.verifications).toBe(1);
  });

  it('still refuses a cached token once it expires (time frozen, then advanced)', async () => {
    const v = verifier();
    const t = Math.floor(now / 1000);
    const token = await sign(good({ exp: t + 60 }));
    await v.verify(token, { audience: HR });
    now += 60_000 + 29_000; // within the 30 s skew
    await expect(v.verify(token, { audience: HR })).resolves.toBeTruthy();
    now += 2_000; // exp + 31 s
    const err = await refusal(v.verify(token, { audience: HR }));
    expect(err.code).toBe('ERR_TOKEN_EXPIRED');
    expect(v.verifications).toBe(1); // refused from the cache, no signature check
    expect(v.cacheSize).toBe(0); // and dropped
  });

  it('is bounded: the least recently used token is evicted first', async () => {
    const v = verifier({ cacheSize: 2 });
    const [t1, t2, t3] = await Promise.all(['1', '2', '3'].map((j) => sign(good({ jti: j }))));
    await v.verify(t1!, { audience: HR });
    await v.verify(t2!, { audience: HR });
    await v.verify(t1!, { audience: HR }); // t1 is now the most recent
    await v.verify(t3!, { audience: HR }); // evicts t2
    expect(v.cacheSize).toBe(2);
    expect(v.verifications).toBe(3);
    await v.verify(t1!, { audience: HR });
    expect(v.verifications).toBe(3);
    await v.verify(t2!, { audience: HR });
    expect(v.verifications).toBe(4);
  });
});
