/**
 * The talk's demo, as a test (2025-11-25 era): a real MCP SDK client declaring URL
 * elicitation calls a mail tool → -32042 with Skillgate's /connect URL → the test follows it
 * through Skillgate's IdP login and the mail provider's real authorize + consent flow → the
 * callback stores the grant and the session gets notifications/elicitation/complete → the
 * retried call succeeds. Then the provider revokes → the next call elicits again.
 */
import { readFileSync } from 'node:fs';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browser } from './helpers/browser.js';
import { structured, textOf } from './helpers/gateway.js';
import { follow, GMAIL, type MailWorld, startMailWorld } from './helpers/mail-world.js';
import { modernToolCall } from './helpers/modern-call.js';

let w: MailWorld;
beforeAll(async () => {
  w = await startMailWorld();
});
afterAll(async () => {
  await w?.close();
});

/** The -32042 error of a call, or fail. */
async function elicitationOf(p: Promise<unknown>): Promise<{ elicitationId: string; url: string; message: string; mode: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have been answered with -32042').toBeInstanceOf(McpError);
  expect((err as McpError).code).toBe(ErrorCode.UrlElicitationRequired);
  const list = ((err as McpError).data as { elicitations: Array<{ elicitationId: string; url: string; message: string; mode: string }> }).elicitations;
  expect(list).toHaveLength(1);
  return list[0]!;
}

async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('URL elicitation, 2025-11-25 client', () => {
  it('elicits, connects through the provider, completes, retries; a provider revocation elicits again', async () => {
    const { client, completed } = await w.client('parent');
    const search = () => client.callTool({ name: 'gmail.search_threads', arguments: { query: 'rivera' } });

    const e = await elicitationOf(search());
    expect(e.mode).toBe('url');
    const url = new URL(e.url);
    expect(url.origin + url.pathname).toBe(`${w.t.gw.url}/connect/gmail`);
    // No personal data or credential in the link: only the opaque elicitation id.
    expect([...url.searchParams.keys()]).toEqual(['e']);
    expect(url.searchParams.get('e')).toBe(e.elicitationId);
    expect(e.url).not.toContain('parent');

    const outcome = await follow(e.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' });
    expect(outcome.status, outcome.html).toBe(200);
    expect(outcome.html).toContain('Connected');
    // Incremental: the provider was asked for the read scope (and offline access), not send.
    expect(outcome.consented).toContain(GMAIL.read);
    expect(outcome.consented).not.toContain(GMAIL.send);
    await eventually(() => completed.includes(e.elicitationId), 'notifications/elicitation/complete');

    const found = structured<{ threads: Array<{ threadId: string }> }>(await search());
    expect(found.threads.map((t) => t.threadId)).toEqual(['t-100']);
    // The mail system received the parent's own grant, issued to Skillgate.
    expect(w.gmail.credentials.at(-1)).toMatchObject({ ok: true, account: 'parent@gmail.example', clientId: 'skillgate' });

    // The provider revokes (the user removed Skillgate's access there): 401 upstream → elicit again.
    expect(await w.gmail.revokeAccount('parent@gmail.example')).toBeGreaterThan(0);
    const again = await elicitationOf(search());
    expect(again.message).toMatch(/revoked/);
    expect(again.elicitationId).not.toBe(e.elicitationId);
    const logged = w.t.logs.filter((l) => l.code === 'ERR_GRANT_REQUIRED').map((l) => l.reason);
    expect(logged).toEqual(['missing', 'revoked']);

    // And the same action succeeds once the user has authorized again.
    const re = await follow(again.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' });
    expect(re.status, re.html).toBe(200);
    expect(structured<{ threads: unknown[] }>(await search()).threads).toHaveLength(1);

    // Each grant change is in the audit trail, with its owner and provider, never a token.
    const grantEvents = (w.t.audit.events ?? []).filter((x) => x.kind.startsWith('grant.') && x.user === 'parent');
    expect(grantEvents.map((x) => [x.kind, x.reason, x.server])).toEqual([
      ['grant.connected', 'connected', 'gmail'],
      ['grant.revoked', 'provider', 'gmail'],
      ['grant.connected', 'connected', 'gmail'],
    ]);
    const stored = await w.t.credentials.service.vault.get({ workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' });
    expect(JSON.stringify(w.t.audit.events)).not.toContain(stored!.tokens.accessToken);
  });

  it('a grant holding only the read scope: the send tool elicits for the send scope only', async () => {
    const { client } = await w.client('parent');
    // parent connected read above; now the send tool.
    const send = () => client.callTool({ name: 'gmail.send_message', arguments: { threadId: 't-100', to: 'ms.rivera@school.example', body: 'Dear Ms Rivera, Mia may join. Best, Pat' } });
    const e = await elicitationOf(send());
    expect(e.message).toContain(GMAIL.send);
    expect(e.message).not.toContain(GMAIL.read);
    const outcome = await follow(e.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' });
    expect(outcome.status, outcome.html).toBe(200);
    // The provider's consent page asked for send only (read was granted before).
    expect(outcome.consented.filter((s) => s !== 'offline_access')).toEqual([GMAIL.send]);
    const sent = await send();
    expect(sent.isError, textOf(sent)).toBeFalsy();
    expect(w.gmail.sent.get('parent@gmail.example')).toHaveLength(1);
  });

  it('the /connect link opened by another signed-in user: refused, no grant stored', async () => {
    const { client } = await w.client('other-parent');
    const e = await elicitationOf(client.callTool({ name: 'gmail.search_threads', arguments: { query: 'leo' } }));
    // "parent" opens other-parent's link (a phished link): signed in at the IdP as parent.
    const outcome = await follow(e.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' });
    expect(outcome.status).toBe(403);
    expect(outcome.html).toContain('Nothing was connected');
    const grants = await w.t.credentials.service.vault.list({ user: 'other-parent' });
    expect(grants).toEqual([]);
    expect(w.t.logs.some((l) => l.code === 'ERR_CONNECT_WRONG_USER' && l.user === 'other-parent')).toBe(true);
    // The link still works for the right person.
    const right = await follow(e.url, { skillgateUser: 'other-parent', mailbox: 'other-parent@gmail.example' });
    expect(right.status, right.html).toBe(200);
  });

  it('a client without URL elicitation gets a tool error with the link and what to do', async () => {
    const { client } = await w.client('parent', { urlElicitation: false });
    // parent's grant exists (above): revoke it locally to need a new one.
    await w.t.credentials.service.disconnect({ workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' }, 'user');
    const r = await client.callTool({ name: 'gmail.search_threads', arguments: { query: 'x' } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Authorization required: .*open .*\/connect\/gmail\?e=/);
  });

  it('disconnect revokes at the provider too (RFC 7009), not only locally', async () => {
    const go = browser();
    const { client } = await w.client('other-parent');
    // other-parent connected in the test above; the mail system saw their token work.
    const before = structured<{ threads: unknown[] }>(await client.callTool({ name: 'gmail.search_threads', arguments: { query: 'leo' } }));
    expect(before.threads).toHaveLength(1);
    const grant = await w.t.credentials.service.vault.get({ workspace: 'test', user: 'other-parent', agent: 'family-assistant', provider: 'gmail' });
    const r = await w.t.credentials.service.disconnect({ workspace: 'test', user: 'other-parent', agent: 'family-assistant', provider: 'gmail' }, 'user');
    expect(r).toEqual({ removed: true, revokedAtProvider: true });
    // The old access token no longer works at the provider itself.
    const res = await go(w.gmail.mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${grant!.tokens.accessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search_threads', arguments: { query: 'leo' } } }) });
    expect(res.status).toBe(401);
    expect((w.t.audit.events ?? []).filter((x) => x.kind === 'grant.revoked' && x.user === 'other-parent').at(-1)).toMatchObject({ reason: 'user', detail: { provider: 'gmail', revokedAtProvider: true } });
  });

  it('the vault file holds no plaintext token', async () => {
    const { client } = await w.client('parent');
    const e = await elicitationOf(client.callTool({ name: 'gmail.search_threads', arguments: { query: 'x' } }));
    expect((await follow(e.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' })).status).toBe(200);
    const grant = await w.t.credentials.service.vault.get({ workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' });
    expect(grant?.tokens.accessToken.length).toBeGreaterThan(20);
    const files = ['skillgate.db', 'skillgate.db-wal'].map((f) => `${w.t.ws.stateDir}/${f}`);
    for (const f of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(f);
      } catch {
        continue;
      }
      expect(bytes.includes(Buffer.from(grant!.tokens.accessToken)), `${f} holds the access token`).toBe(false);
      expect(bytes.includes(Buffer.from(grant!.tokens.refreshToken!)), `${f} holds the refresh token`).toBe(false);
    }
  });
});

describe('refresh before expiry', () => {
  it('refreshes single-flight: concurrent calls near expiry share one refresh', async () => {
    // refreshBefore longer than the token lives: every call finds the token "about to expire".
    const world = await startMailWorld({ extra: { vault: { refreshBefore: '24h' } } });
    try {
      const { client } = await world.client('parent');
      const search = () => client.callTool({ name: 'gmail.search_threads', arguments: { query: 'rivera' } });
      const e = await elicitationOf(search());
      expect((await follow(e.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' })).status).toBe(200);
      expect(world.gmail.tokenGrants.get('refresh_token') ?? 0).toBe(0);
      const principal = { user: { id: 'parent', roles: ['parent'], groups: [] }, agent: { id: 'family-assistant' } };
      const creds = await Promise.all(Array.from({ length: 5 }, () => world.t.credentials.service.forCall({ principal, workspace: 'test', server: 'gmail', tool: 'search_threads' })));
      expect(world.gmail.tokenGrants.get('refresh_token')).toBe(1);
      expect(new Set(creds.map((c) => c!.authorization)).size).toBe(1);
      // The refreshed token works upstream.
      const r = await search();
      expect(r.isError, textOf(r)).toBeFalsy();
      const grant = await world.t.credentials.service.vault.get({ workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' });
      expect(grant?.version).toBeGreaterThanOrEqual(2);
    } finally {
      await world.close();
    }
  });
});

describe('revocation by the user and by an admin', () => {
  it('skillgate.disconnect: the user forgets and revokes their own grant; the next call elicits', async () => {
    const world = await startMailWorld();
    try {
      const { client } = await world.client('parent');
      const search = () => client.callTool({ name: 'gmail.search_threads', arguments: { query: 'rivera' } });
      const e = await elicitationOf(search());
      expect((await follow(e.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' })).status).toBe(200);
      expect((await search()).isError).toBeFalsy();
      expect((await client.listTools()).tools.map((x) => x.name)).toContain('skillgate.disconnect');
      const r = await client.callTool({ name: 'skillgate.disconnect', arguments: { provider: 'gmail' } });
      expect(structured(r)).toEqual({ provider: 'gmail', disconnected: true, revokedAtProvider: true });
      const again = await elicitationOf(search());
      expect(again.message).toMatch(/not connected/);
    } finally {
      await world.close();
    }
  });
});

describe('two users, one provider, one agent, at the same time', () => {
  it('connect concurrently and never see each other’s grant', async () => {
    const world = await startMailWorld();
    try {
      const [a, b] = await Promise.all([world.client('parent'), world.client('other-parent')]);
      const searchA = () => a.client.callTool({ name: 'gmail.search_threads', arguments: { query: '' } });
      const searchB = () => b.client.callTool({ name: 'gmail.search_threads', arguments: { query: '' } });
      const [ea, eb] = await Promise.all([elicitationOf(searchA()), elicitationOf(searchB())]);
      expect(ea.elicitationId).not.toBe(eb.elicitationId);
      // Both walk their links at the same time, each in their own browser, each with their own mailbox.
      const [ra, rb] = await Promise.all([
        follow(ea.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' }),
        follow(eb.url, { skillgateUser: 'other-parent', mailbox: 'other-parent@gmail.example' }),
      ]);
      expect([ra.status, rb.status]).toEqual([200, 200]);
      const [ta, tb] = await Promise.all([searchA(), searchB()]);
      expect(structured<{ threads: Array<{ threadId: string }> }>(ta).threads.map((t) => t.threadId).sort()).toEqual(['t-100', 't-101']);
      expect(structured<{ threads: Array<{ threadId: string }> }>(tb).threads.map((t) => t.threadId)).toEqual(['t-200']);
      const vault = world.t.credentials.service.vault;
      const ga = await vault.get({ workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' });
      const gb = await vault.get({ workspace: 'test', user: 'other-parent', agent: 'family-assistant', provider: 'gmail' });
      expect(ga!.tokens.accessToken).not.toBe(gb!.tokens.accessToken);
      // The mail system saw each account only with its own token, issued to Skillgate.
      const ok = world.gmail.credentials.filter((c) => c.ok);
      expect(new Set(ok.map((c) => c.account))).toEqual(new Set(['parent@gmail.example', 'other-parent@gmail.example']));
    } finally {
      await world.close();
    }
  });
});

describe('URL elicitation, 2026-07-28 client (stateless)', () => {
  const META = (capabilities: Record<string, unknown>) => ({
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': capabilities,
    'io.modelcontextprotocol/clientInfo': { name: 'raw-2026', version: '0' },
  });
  const call = async (token: string, params: Record<string, unknown>) => (await modernToolCall(w.t.gw.resourceUrl('family'), token, params)).json;

  it('a missing grant is an input_required with a URL-mode elicitation; the retry after /connect is answered', async () => {
    await w.t.credentials.service.disconnect({ workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' }, 'user');
    const token = await w.t.token('parent', 'family-assistant', 'family');
    const params = { name: 'gmail.search_threads', arguments: { query: 'rivera' }, _meta: META({ elicitation: { url: {} } }) };
    const first = await call(token, params);
    expect(first.result?.resultType).toBe('input_required');
    const requests = first.result?.inputRequests as Record<string, { method: string; params: { mode: string; url: string; elicitationId: string; message: string } }>;
    expect(Object.keys(requests)).toEqual(['dev.skillgate/grant']);
    const ask = requests['dev.skillgate/grant']!;
    expect(ask).toMatchObject({ method: 'elicitation/create', params: { mode: 'url', elicitationId: expect.any(String) } });
    expect(new URL(ask.params.url).pathname).toBe('/connect/gmail');
    const state = first.result?.requestState as string;
    expect(state).toMatch(/^sg1\./);

    // Retried before the user has connected: asked again.
    const early = await call(token, { ...params, inputResponses: { 'dev.skillgate/grant': { action: 'accept' } }, requestState: state });
    expect(early.result?.resultType).toBe('input_required');

    const outcome = await follow(ask.params.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' });
    expect(outcome.status, outcome.html).toBe(200);
    const done = await call(token, { ...params, inputResponses: { 'dev.skillgate/grant': { action: 'accept' } }, requestState: state });
    expect(done.result?.resultType).toBe('complete');
    expect((done.result?.structuredContent as { threads: Array<{ threadId: string }> }).threads.map((x) => x.threadId)).toEqual(['t-100']);
    expect(w.t.logs.some((l) => l.code === 'ERR_GRANT_REQUIRED' && l.answer === 'input-required')).toBe(true);
  });

  it('the MCP SDK v2 client (pinned to 2026-07-28) is asked, follows the link, and its own retry succeeds: the talk\'s demo', async () => {
    await w.t.credentials.service.disconnect({ workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' }, 'user');
    const token = await w.t.token('parent', 'family-assistant', 'family');
    const client = new V2Client({ name: 'family-app', version: '1.0.0' }, { capabilities: { elicitation: { url: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    const asked: Array<{ mode?: string; url?: string }> = [];
    // The app shows the link; the user opens it, signs in, consents (automated here), and the app answers "accept".
    client.setRequestHandler('elicitation/create', async (req) => {
      const params = req.params as { mode?: string; url?: string };
      asked.push(params);
      const outcome = await follow(params.url!, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' });
      expect(outcome.status, outcome.html).toBe(200);
      return { action: 'accept' };
    });
    await client.connect(new V2Transport(new URL(w.t.gw.resourceUrl('family')), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      const r = await client.callTool({ name: 'gmail.search_threads', arguments: { query: 'rivera' } });
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ mode: 'url' });
      expect(new URL(asked[0]!.url!).pathname).toBe('/connect/gmail');
      expect(r.isError, textOf(r as never)).toBeFalsy();
      expect((r.structuredContent as { threads: Array<{ threadId: string }> }).threads.map((x) => x.threadId)).toEqual(['t-100']);

      // The provider revokes: the next call asks again, and succeeds once the user has re-authorized.
      expect(await w.gmail.revokeAccount('parent@gmail.example')).toBeGreaterThan(0);
      const again = await client.callTool({ name: 'gmail.search_threads', arguments: { query: 'rivera' } });
      expect(asked).toHaveLength(2);
      expect(again.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it('the state is bound to the user: another user presenting it is refused', async () => {
    await w.t.credentials.service.disconnect({ workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' }, 'user');
    const token = await w.t.token('parent', 'family-assistant', 'family');
    const params = { name: 'gmail.search_threads', arguments: { query: 'x' }, _meta: META({ elicitation: { url: {} } }) };
    const state = (await call(token, params)).result?.requestState as string;
    const other = await w.t.token('other-parent', 'family-assistant', 'family');
    const stolen = await call(other, { ...params, inputResponses: { 'dev.skillgate/grant': { action: 'accept' } }, requestState: state });
    expect(stolen.error?.code).toBe(-32602);
  });

  it('a 2026 client that declared no URL elicitation gets the tool error with the link', async () => {
    const token = await w.t.token('parent', 'family-assistant', 'family');
    const r = await call(token, { name: 'gmail.search_threads', arguments: { query: 'x' }, _meta: META({}) });
    expect(r.result?.resultType).toBe('complete');
    expect(r.result?.isError).toBe(true);
    expect(JSON.stringify(r.result?.content)).toMatch(/Authorization required: .*\/connect\/gmail\?e=/);
  });
});
