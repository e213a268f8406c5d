/**
 * The embedded dev IdP's real OAuth flow, as an MCP client does it: discovery from the
 * gateway's 401, authorization code + PKCE with a resource indicator (RFC 8707), a demo-user
 * login, the token endpoint — and the resulting JWT works on exactly that gateway.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { browser } from './helpers/browser.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});


async function postMcp(url: string, token: string) {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
  });
}

describe('dev IdP: authorization code + PKCE', () => {
  it('issues a gateway-bound JWT to a registered agent for a demo user', async () => {
    const resource = t.gw.resourceUrl('hr-desk');
    // 1. The gateway's challenge leads to its metadata, which names the authorization server.
    const challenge = (await postMcp(resource, 'x.y.z')).headers.get('www-authenticate')!;
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
    const { authorization_servers } = (await (await fetch(metadataUrl)).json()) as { authorization_servers: string[] };
    const as = (await (await fetch(`${authorization_servers[0]}/.well-known/openid-configuration`)).json()) as {
      authorization_endpoint: string;
      token_endpoint: string;
    };

    // 2. Authorization request with PKCE and the resource indicator.
    const verifier = randomBytes(32).toString('base64url');
    const challengeS256 = createHash('sha256').update(verifier).digest('base64url');
    const redirectUri = 'http://127.0.0.1:53682/callback';
    const go = browser();
    const auth = new URL(as.authorization_endpoint);
    for (const [k, v] of Object.entries({
      client_id: 'hr-assistant',
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid',
      state: 'st-1',
      code_challenge: challengeS256,
      code_challenge_method: 'S256',
      resource,
    })) auth.searchParams.set(k, v);
    let res = await go(auth.href);
    let location = res.headers.get('location');
    expect(res.status, await res.text()).toBeGreaterThanOrEqual(300);

    // 3. The dev login: pick a demo user, then follow the flow to the redirect URI.
    let code: string | null = null;
    for (let hops = 0; hops < 10 && !code; hops++) {
      const url = new URL(location!, t.gw.url).href;
      if (url.startsWith(redirectUri)) {
        code = new URL(url).searchParams.get('code');
        expect(new URL(url).searchParams.get('state')).toBe('st-1');
        break;
      }
      res = await go(url);
      if (res.status === 200) {
        // The dev login page: one button per demo user; consent follows automatically.
        const html = await res.text();
        expect(html).toContain('value="intern"');
        const action = /<form method="post" action="([^"]+)"/.exec(html)![1]!;
        res = await go(new URL(action, t.gw.url).href, { method: 'POST', body: new URLSearchParams({ user: 'intern' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      }
      location = res.headers.get('location');
      expect(location, `hop ${hops}: HTTP ${res.status}`).toBeTruthy();
    }
    expect(code).toBeTruthy();

    // 4. Code + verifier → a JWT access token for that gateway only.
    const tokenRes = await fetch(as.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: redirectUri, client_id: 'hr-assistant', code_verifier: verifier, resource }),
    });
    const tokens = (await tokenRes.json()) as { access_token: string; token_type: string };
    expect(tokenRes.status, JSON.stringify(tokens)).toBe(200);
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ sub: 'intern', aud: resource, client_id: 'hr-assistant', roles: ['intern'] });

    expect((await postMcp(resource, tokens.access_token)).status).toBe(200);
    expect((await postMcp(t.gw.resourceUrl('credit-desk'), tokens.access_token)).status).toBe(401);
  });

  it('refuses a token request without the PKCE verifier', async () => {
    const as = `${t.gw.url}/idp`;
    const res = await fetch(`${as}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'bogus', redirect_uri: 'http://127.0.0.1/callback', client_id: 'hr-assistant' }),
    });
    expect(res.status).toBe(400);
  });
});
