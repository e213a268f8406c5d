/**
 * Every bad token is refused with 401 and its own recorded reason — and the token itself never
 * appears in what is recorded.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigningKey } from '../gateway/adapters/idp/dev-idp.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

let t: TestGateway;
let sign: (claims: Record<string, unknown>, header?: Record<string, unknown>) => Promise<string>;

beforeAll(async () => {
  t = await startTestGateway();
  const jwk = await loadSigningKey(t.ws.loaded.path(t.ws.loaded.config.stateDir));
  const key = await importJWK(jwk, 'RS256');
  sign = (claims, header = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid!, ...header } as never).sign(key);
});
afterAll(async () => {
  await t?.close();
});

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

async function post(token: string): Promise<Response> {
  return fetch(t.gw.resourceUrl('hr-desk'), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
  });
}

describe('bearer token refusals', () => {
  it('refuses each bad token with 401 and its own reason', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = () => ({ iss: `${t.gw.url}/idp`, sub: 'intern', aud: t.gw.resourceUrl('hr-desk'), azp: 'hr-assistant', client_id: 'hr-assistant', roles: ['intern'], iat: now, exp: now + 600 });
    const valid = await sign(base());
    const [h, p, s] = valid.split('.');
    const rsaPublic = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' });
    const hs = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(base())}`;
    const other = await generateKeyPair('RS256');
    void exportJWK;

    const cases: Array<[string, string, string]> = [
      ['expired', await sign({ ...base(), iat: now - 7200, exp: now - 3600 }), 'ERR_TOKEN_EXPIRED'],
      ['not yet valid', await sign({ ...base(), nbf: now + 3600 }), 'ERR_TOKEN_NOT_YET_VALID'],
      ['wrong issuer', await sign({ ...base(), iss: 'https://evil.example/idp' }), 'ERR_TOKEN_ISSUER'],
      ['wrong audience', await sign({ ...base(), aud: t.gw.resourceUrl('credit-desk') }), 'ERR_TOKEN_AUDIENCE'],
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(base())}.`, 'ERR_TOKEN_ALG_NOT_ALLOWED'],
      ['HS256 with the RSA public key', `${hs}.${createHmac('sha256', rsaPublic).update(hs).digest('base64url')}`, 'ERR_TOKEN_ALG_NOT_ALLOWED'],
      ['unknown kid', await new SignJWT(base()).setProtectedHeader({ alg: 'RS256', kid: 'not-a-known-key' }).sign(other.privateKey), 'ERR_TOKEN_KID_UNKNOWN'],
      ['tampered payload', `${h}.${b64({ ...base(), sub: 'ceo', roles: ['executive'] })}.${s}`, 'ERR_TOKEN_SIGNATURE'],
      ['garbage', 'this-is-not.a.jwt', 'ERR_TOKEN_MALFORMED'],
      ['100 KB', 'a'.repeat(100 * 1024), 'ERR_TOKEN_TOO_LARGE'],
      ['unknown agent', await sign({ ...base(), azp: 'rogue-client', client_id: 'rogue-client' }), 'ERR_AGENT_UNKNOWN'],
    ];
    void p;
    for (const [name, token, code] of cases) {
      const before = t.logs.length;
      const res = await post(token);
      expect(res.status, name).toBe(401);
      expect(res.headers.get('www-authenticate'), name).toMatch(/^Bearer resource_metadata=.*error="invalid_token"/);
      const recorded = t.logs.slice(before).find((l) => l.event === 'refusal');
      expect(recorded?.code, name).toBe(code);
      // Never the token in a log line.
      expect(JSON.stringify(recorded), name).not.toContain(token.slice(0, 40));
    }
    // And the valid one passes.
    expect((await post(valid)).status).toBe(200);
  });

  it('accepts tokens only from the Authorization header', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const res = await fetch(`${t.gw.resourceUrl('hr-desk')}?access_token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{}',
    });
    // RFC 6750 §3.1: a token in the URL is a malformed request.
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });

  it('verifies a token once and serves repeats from the cache until it expires', async () => {
    const token = await t.token('intern', 'hr-assistant', 'hr-desk');
    const n0 = t.gw.verifier.verifications;
    for (let i = 0; i < 5; i++) expect((await post(token)).status).toBe(200);
    expect(t.gw.verifier.verifications - n0).toBe(1);
  });
});
