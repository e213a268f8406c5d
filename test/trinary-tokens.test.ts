/**
 * Trinary tokens end to end: the gateway mints, per call, a token for exactly (user, agent,
 * system) with the tool's scopes; the demo company systems verify it against Skillgate's JWKS
 * and record what they received — their own audience, the user as `sub`, the agent as
 * `act.sub`, never a front-door token, never another user's.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialRecordFile, type ReceivedCredential } from '../demo/auth.js';
import { createTrinaryMinter } from '../gateway/downstream/trinary.js';
import { inject, startTestGateway, structured, type TestGateway, textOf } from './helpers/gateway.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

const received = (system: string): ReceivedCredential[] =>
  readFileSync(credentialRecordFile(t.ws.stateDir, system), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ReceivedCredential);

describe('trinary tokens', () => {
  it('publishes its keys at <publicUrl>/.well-known/jwks.json (public halves only)', async () => {
    const res = await fetch(`${t.gw.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Array<Record<string, unknown>> };
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k).toMatchObject({ alg: 'ES256', kid: expect.any(String) });
      expect(k).not.toHaveProperty('d');
    }
  });

  it('each system receives a token for its own audience, sub = the user, act = the agent, only the tool’s scopes', async () => {
    const intern = await t.connect('intern', 'hr-assistant', 'hr-desk');
    const ceo = await t.connect('ceo', 'hr-assistant', 'hr-desk');
    const credit = await t.connect('loan-clerk', 'credit-assistant', 'credit-desk');
    const frontDoorTokens = await Promise.all([t.token('intern', 'hr-assistant', 'hr-desk'), t.token('ceo', 'hr-assistant', 'hr-desk')]);

    // Both users through the same agent, concurrently.
    const [own, ceos] = await Promise.all([
      intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'intern' } }),
      ceo.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'ceo' } }),
    ]);
    expect(structured(own)).toMatchObject({ employeeId: 'intern' });
    expect(structured(ceos)).toMatchObject({ employeeId: 'ceo' });
    expect(structured(await credit.callTool({ name: 'core-banking.get_customer', arguments: { customerId: 'C-1001' } }))).toMatchObject({ customerId: 'C-1001' });
    expect(structured(await credit.callTool({ name: 'credit-bureau.get_score', arguments: { customerId: 'C-1001' } }))).toMatchObject({ customerId: 'C-1001' });

    const hr = received('hr');
    expect(hr.filter((r) => r.ok).map((r) => r.sub).sort()).toEqual(['ceo', 'intern']);
    for (const r of hr) {
      expect(r).toMatchObject({ ok: true, iss: t.gw.url, aud: 'urn:acme:hr', act: { sub: 'hr-assistant' }, scope: 'hr.compensation.read', tool: 'get_compensation' });
    }
    expect(received('core-banking')).toEqual([expect.objectContaining({ ok: true, aud: 'urn:acme:core-banking', sub: 'loan-clerk', act: { sub: 'credit-assistant' }, scope: 'banking.read' })]);
    expect(received('credit-bureau')).toEqual([expect.objectContaining({ ok: true, aud: 'urn:acme:credit-bureau', sub: 'loan-clerk', act: { sub: 'credit-assistant' }, scope: 'bureau.score.read' })]);
    // Never the agent's own (front-door) token: MCP forbids token passthrough.
    const frontDoor = new Set(frontDoorTokens.map((x) => createHash('sha256').update(x).digest('hex')));
    for (const r of [...hr, ...received('core-banking')]) expect(frontDoor.has(r.tokenSha256!)).toBe(false);
    // The gateway logged no token.
    expect(JSON.stringify(t.logs)).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });

  it('a system refuses a token minted for another system, and the intern cannot borrow the CEO’s identity', async () => {
    // A token for core banking presented to HR: wrong audience.
    const cred = await t.credentials.service.forCall({ principal: { user: { id: 'ceo', roles: [], groups: [] }, agent: { id: 'credit-assistant' } }, workspace: 'test', server: 'core-banking', tool: 'get_customer' });
    const r = await t.pool.callTool('hr', 'get_compensation', { employeeId: 'ceo' }, { authorization: cred!.authorization });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('not valid here');
    expect(received('hr').at(-1)).toMatchObject({ ok: false, aud: 'urn:acme:core-banking', reason: expect.stringMatching(/aud/) });
    // No token at all: refused before the tool runs.
    const none = await t.pool.callTool('hr', 'get_employee', { employeeId: 'ceo' });
    expect(textOf(none)).toContain('no credential');
  });

  it('tokens live at most 5 minutes, carry a jti and typ at+jwt, and are reused from the cache until shortly before expiry', async () => {
    const principal = { user: { id: 'intern', roles: [], groups: [] }, agent: { id: 'hr-assistant' } };
    const a = await t.credentials.service.forCall({ principal, workspace: 'test', server: 'hr', tool: 'get_employee' });
    const b = await t.credentials.service.forCall({ principal, workspace: 'test', server: 'hr', tool: 'get_employee' });
    expect(a!.authorization).toBe(b!.authorization);
    const token = a!.authorization.slice('Bearer '.length);
    const claims = decodeJwt(token);
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
    expect(claims).toMatchObject({ sub: 'intern', act: { sub: 'hr-assistant' }, aud: 'urn:acme:hr', scope: 'hr.directory.read', jti: expect.any(String) });
    // Verifiable with the published keys alone.
    const jwks = createLocalJWKSet(t.credentials.service.minter.jwks());
    await expect(jwtVerify(token, jwks, { issuer: t.gw.url, audience: 'urn:acme:hr' })).resolves.toBeTruthy();

    // Time moves on: within 30 s of expiry a new token is minted.
    let now = 1_800_000_000;
    const keys = JSON.parse(readFileSync(`${t.ws.stateDir}/keys/token-signing.json`, 'utf8')).keys;
    const m = await createTrinaryMinter({ issuer: 'i', jwksUri: 'j', keys, lifetimeSec: 300, now: () => now });
    const req = { user: 'u', agent: 'a', audience: 'x', scopes: ['s'] };
    const first = await m.mint(req);
    now += 250;
    expect((await m.mint(req)).jti).toBe(first.jti);
    now += 30;
    expect((await m.mint(req)).jti).not.toBe(first.jti);
    expect((await m.mint({ ...req, user: 'v' })).jti).not.toBe(first.jti);
  });

  it('the JWKS route is public but the rest still asks for a token', async () => {
    expect((await inject(t, { method: 'GET', path: '/.well-known/jwks.json' })).status).toBe(200);
  });
});
