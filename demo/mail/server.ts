/**
 * Demo mail systems: a Gmail-like and an Outlook-like mailbox, each a real MCP server
 * (Streamable HTTP at `/mcp`) behind its own OAuth 2 authorization server (oidc-provider at
 * `/oauth`) with its own permission model, enforced on every token it receives:
 *
 *   flavor   read                                        send                                     modify
 *   gmail    https://www.googleapis.com/auth/gmail.readonly  …/gmail.send                         …/gmail.modify
 *   outlook  Mail.Read                                   Mail.Send                                Mail.ReadWrite
 *
 * Access tokens are opaque and looked up in the authorization server on every call, so a
 * revocation there (`revokeAccount`, the "third-party access" page of a real provider) is seen
 * by the very next call: HTTP 401 with a `WWW-Authenticate` challenge (RFC 6750 §3). The
 * server publishes RFC 9728 metadata naming its authorization server. Login: pick a mailbox
 * (no password, demo only); consent: a page listing exactly the scopes asked for that are not
 * granted yet. Every credential received is recorded (account, scopes — never the token).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';
import { z } from 'zod';

export type MailFlavor = 'gmail' | 'outlook';

/** Each flavor's scope vocabulary and tool names. */
export const MAIL_FLAVORS = {
  gmail: {
    title: 'Gmail-like mail',
    scopes: { read: 'https://www.googleapis.com/auth/gmail.readonly', send: 'https://www.googleapis.com/auth/gmail.send', modify: 'https://www.googleapis.com/auth/gmail.modify' },
    tools: { search: 'search_threads', read: 'get_thread', send: 'send_message' },
  },
  outlook: {
    title: 'Outlook-like mail',
    scopes: { read: 'Mail.Read', send: 'Mail.Send', modify: 'Mail.ReadWrite' },
    tools: { search: 'list_messages', read: 'get_conversation', send: 'send_mail' },
  },
} as const;

export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  body: string;
  at: string;
}

export interface MailThread {
  threadId: string;
  subject: string;
  messages: MailMessage[];
}

/** What the mail system received (tests read it): one entry per authenticated or refused call. */
export interface MailCredentialRecord {
  at: string;
  ok: boolean;
  account?: string;
  clientId?: string;
  scopes?: string[];
  tool?: string;
  reason?: string;
}

export interface MailSystemOptions {
  flavor: MailFlavor;
  /** OAuth client Skillgate is registered as. */
  clientId: string;
  clientSecret: string;
  /** Skillgate's `/connect/<provider>/callback` URL(s). */
  redirectUris: string[];
  port?: number;
  host?: string;
  /** Access token lifetime (default 600 s). */
  accessTokenTtlSec?: number;
}

export interface MailSystem {
  /** `http://host:port`. */
  origin: string;
  mcpUrl: string;
  issuer: string;
  flavor: MailFlavor;
  /** The mailboxes (account → threads), to seed or inspect. */
  mailboxes: Map<string, MailThread[]>;
  /** Messages sent through the MCP tool, per account. */
  sent: Map<string, MailMessage[]>;
  credentials: MailCredentialRecord[];
  /** Token endpoint grants served, by grant_type (authorization_code, refresh_token). */
  tokenGrants: Map<string, number>;
  /** Revoke every grant the account gave (all clients): the provider-side revocation. */
  revokeAccount(account: string): Promise<number>;
  close(): Promise<void>;
}

/** The demo mailboxes: two parents whose children's teacher wrote to them. */
export function seedMailboxes(flavor: MailFlavor): Map<string, MailThread[]> {
  const domain = flavor === 'gmail' ? 'gmail.example' : 'outlook.example';
  const teacher = 'ms.rivera@school.example';
  return new Map([
    [
      `parent@${domain}`,
      [
        { threadId: 't-100', subject: 'Field trip permission for Mia', messages: [{ from: teacher, to: `parent@${domain}`, subject: 'Field trip permission for Mia', body: 'Dear parent, Mia\'s class visits the science museum on Friday. Please confirm that Mia may join.', at: '2026-05-04T08:00:00Z' }] },
        { threadId: 't-101', subject: 'Newsletter', messages: [{ from: 'news@school.example', to: `parent@${domain}`, subject: 'Newsletter', body: 'This month at school…', at: '2026-05-01T08:00:00Z' }] },
      ],
    ],
    [
      `other-parent@${domain}`,
      [{ threadId: 't-200', subject: 'Homework for Leo', messages: [{ from: teacher, to: `other-parent@${domain}`, subject: 'Homework for Leo', body: 'Dear parent, Leo missed the maths homework.', at: '2026-05-05T08:00:00Z' }] }],
    ],
  ]);
}

/** A minimal in-memory oidc-provider adapter that can revoke by grant (RFC 7009, provider-side revocation). */
function memoryAdapter(): (model: string) => Adapter {
  const store = new Map<string, { payload: AdapterPayload; exp?: number }>();
  const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken']);
  const live = (r?: { exp?: number }) => r !== undefined && (r.exp === undefined || r.exp > Date.now());
  return (model) => ({
    async upsert(id, payload, expiresIn) {
      store.set(`${model}:${id}`, { payload: structuredClone(payload), ...(expiresIn ? { exp: Date.now() + expiresIn * 1000 } : {}) });
    },
    async find(id) {
      const r = store.get(`${model}:${id}`);
      return live(r) ? structuredClone(r!.payload) : undefined;
    },
    async findByUid(uid) {
      for (const [k, r] of store) if (k.startsWith(`${model}:`) && live(r) && r.payload.uid === uid) return structuredClone(r.payload);
      return undefined;
    },
    async findByUserCode() {
      return undefined;
    },
    async consume(id) {
      const r = store.get(`${model}:${id}`);
      if (r) r.payload.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id) {
      store.delete(`${model}:${id}`);
    },
    async revokeByGrantId(grantId) {
      for (const [k, r] of store) if (grantable.has(k.slice(0, k.indexOf(':'))) && r.payload.grantId === grantId) store.delete(k);
    },
  });
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (res: ServerResponse, status: number, title: string, body: string) =>
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(`<!doctype html><title>${esc(title)}</title><h1>${esc(title)}</h1>${body}`);

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.length > 1_000_000) throw new Error('body too large');
  }
  return text;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.length > 4096) break;
  }
  return new URLSearchParams(text);
}

/**
 * Start a mail system on 127.0.0.1 (port 0 by default).
 *
 * @example const gmail = await startMailSystem({ flavor: 'gmail', clientId: 'skillgate', clientSecret: 's', redirectUris: [`${publicUrl}/connect/gmail/callback`] });
 */
export async function startMailSystem(opts: MailSystemOptions): Promise<MailSystem> {
  const flavor = MAIL_FLAVORS[opts.flavor];
  const host = opts.host ?? '127.0.0.1';
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(opts.port ?? 0, host, resolve));
  const origin = `http://${host}:${(http.address() as AddressInfo).port}`;
  const issuer = `${origin}/oauth`;
  const mailboxes = seedMailboxes(opts.flavor);
  const sent = new Map<string, MailMessage[]>();
  const credentials: MailCredentialRecord[] = [];
  const grantsOf = new Map<string, Set<string>>();
  const lastGrant = new Map<string, string>();
  const tokenGrants = new Map<string, number>();
  const adapter = memoryAdapter();

  const provider = new Provider(issuer, {
    adapter,
    clients: [
      {
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: opts.redirectUris,
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', ...Object.values(flavor.scopes)],
    cookies: { keys: [randomUUID()], names: { session: `_${opts.flavor}_session`, interaction: `_${opts.flavor}_interaction`, resume: `_${opts.flavor}_resume` } },
    features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
    interactions: { url: (_ctx, i) => `/oauth/interaction/${i.uid}` },
    findAccount: async (_ctx, sub) => (mailboxes.has(sub) ? { accountId: sub, claims: async () => ({ sub }) } : undefined),
    ttl: { AccessToken: opts.accessTokenTtlSec ?? 600, AuthorizationCode: 120, RefreshToken: 86_400, Session: 3600, Interaction: 600, Grant: 86_400, IdToken: 600 },
    // Consent is remembered per (account, client), like a real provider: a later authorization
    // asks only for the scopes not granted yet (incremental authorization).
    loadExistingGrant: async (ctx) => {
      const account = ctx.oidc.session?.accountId;
      const id = account ? lastGrant.get(`${account}\0${ctx.oidc.client?.clientId}`) : undefined;
      return id ? ctx.oidc.provider.Grant.find(id) : undefined;
    },
    // Refresh tokens for offline_access without forcing prompt=consent on every authorization.
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  });
  provider.proxy = true;
  provider.on('grant.success', (ctx) => {
    const type = String((ctx.oidc.params as { grant_type?: unknown } | undefined)?.grant_type ?? '?');
    tokenGrants.set(type, (tokenGrants.get(type) ?? 0) + 1);
    const t = (ctx.oidc as unknown as { entities?: { Grant?: { accountId?: string; jti?: string } } }).entities?.Grant;
    if (t?.accountId && t.jti) (grantsOf.get(t.accountId) ?? grantsOf.set(t.accountId, new Set()).get(t.accountId)!).add(t.jti);
  });
  const callback = provider.callback();

  const interaction = async (req: IncomingMessage, res: ServerResponse, uid: string, action: string | undefined) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return page(res, 400, 'Mismatch', '<p>Start again.</p>');
    const prompt = details.prompt;
    if (req.method === 'GET') {
      if (prompt.name === 'login') {
        const buttons = [...mailboxes.keys()].map((a) => `<button name="account" value="${esc(a)}">${esc(a)}</button>`).join(' ');
        return page(res, 200, `${flavor.title}: sign in`, `<form method="post" action="/oauth/interaction/${uid}/login">${buttons}</form>`);
      }
      const missing = (prompt.details as { missingOIDCScope?: string[] }).missingOIDCScope ?? [];
      const items = missing.filter((s) => s !== 'openid').map((s) => `<li class="scope">${esc(s)}</li>`).join('');
      return page(res, 200, `${flavor.title}: allow access`, `<p>Skillgate asks for:</p><ul>${items}</ul><form method="post" action="/oauth/interaction/${uid}/consent"><button>Allow</button></form>`);
    }
    if (action === 'login') {
      const account = (await readForm(req)).get('account') ?? '';
      if (!mailboxes.has(account)) return page(res, 400, 'Unknown mailbox', '');
      return provider.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
    }
    if (action === 'consent') {
      const accountId = details.session?.accountId;
      if (!accountId) return page(res, 400, 'Not signed in', '');
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
      const missing = prompt.details as { missingOIDCScope?: string[] };
      if (missing.missingOIDCScope) grant!.addOIDCScope(missing.missingOIDCScope.join(' '));
      const grantId = await grant!.save();
      lastGrant.set(`${accountId}\0${String(details.params.client_id)}`, grantId);
      (grantsOf.get(accountId) ?? grantsOf.set(accountId, new Set()).get(accountId)!).add(grantId);
      return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
    }
    return page(res, 404, 'Not found', '');
  };

  /** The caller of an MCP request, from its bearer token (looked up: revocation is seen at once). */
  const authenticate = async (req: IncomingMessage): Promise<{ account: string; scopes: string[]; clientId: string } | undefined> => {
    const h = req.headers.authorization;
    const token = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : undefined;
    if (!token) {
      credentials.push({ at: new Date().toISOString(), ok: false, reason: 'no token' });
      return undefined;
    }
    const at = await provider.AccessToken.find(token);
    if (!at || at.isExpired || !at.accountId) {
      credentials.push({ at: new Date().toISOString(), ok: false, reason: 'unknown, expired or revoked token' });
      return undefined;
    }
    // The grant must still stand: revoking it (revokeAccount) ends its tokens.
    if (at.grantId && !(await provider.Grant.find(at.grantId))) {
      credentials.push({ at: new Date().toISOString(), ok: false, account: at.accountId, reason: 'grant revoked' });
      return undefined;
    }
    const scopes = [...at.scopes];
    credentials.push({ at: new Date().toISOString(), ok: true, account: at.accountId, clientId: at.clientId, scopes });
    return { account: at.accountId, scopes, clientId: at.clientId! };
  };

  const mcpFor = (caller: { account: string; scopes: string[] }): McpServer => {
    const server = new McpServer({ name: `demo-${opts.flavor}-mail`, version: '1.0.0' });
    const need = (scope: string, tool: string): CallToolResult | undefined => {
      if (caller.scopes.includes(scope) || (scope === flavor.scopes.read && caller.scopes.includes(flavor.scopes.modify))) return undefined;
      credentials.push({ at: new Date().toISOString(), ok: false, account: caller.account, tool, reason: `missing scope ${scope}` });
      return { content: [{ type: 'text', text: `insufficient_scope: ${tool} needs ${scope}` }], isError: true };
    };
    const threads = () => mailboxes.get(caller.account) ?? [];
    const json = (data: Record<string, unknown>): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data });
    server.registerTool(
      flavor.tools.search,
      { title: 'Search mail threads', description: 'Find threads whose sender or subject contains the query.', inputSchema: { query: z.string().max(200).describe('Text to look for in the sender or the subject, e.g. "Ms. Rivera"') }, outputSchema: { threads: z.array(z.object({ threadId: z.string(), subject: z.string(), from: z.string() })) }, annotations: { readOnlyHint: true } },
      ({ query }) =>
        need(flavor.scopes.read, flavor.tools.search) ??
        json({ threads: threads().filter((t) => `${t.subject} ${t.messages[0]?.from}`.toLowerCase().includes(query.toLowerCase())).map((t) => ({ threadId: t.threadId, subject: t.subject, from: t.messages[0]?.from ?? '' })) }),
    );
    server.registerTool(
      flavor.tools.read,
      { title: 'Read a mail thread', description: 'Read a thread: its messages in order.', inputSchema: { threadId: z.string().max(64).describe(`The thread id, as ${flavor.tools.search} returns it`) }, outputSchema: { threadId: z.string(), subject: z.string(), from: z.string(), messages: z.array(z.object({ from: z.string(), subject: z.string(), body: z.string(), at: z.string() })) }, annotations: { readOnlyHint: true } },
      ({ threadId }) => {
        const refused = need(flavor.scopes.read, flavor.tools.read);
        if (refused) return refused;
        const t = threads().find((x) => x.threadId === threadId);
        if (!t) return { content: [{ type: 'text', text: `no thread ${threadId}` }], isError: true };
        return json({ threadId, subject: t.subject, from: t.messages[0]?.from ?? '', messages: t.messages.map(({ from, subject, body, at }) => ({ from, subject, body, at })) });
      },
    );
    server.registerTool(
      flavor.tools.send,
      { title: 'Reply in a mail thread', description: 'Send a reply in a thread.', inputSchema: { threadId: z.string().max(64).describe('The thread to reply in'), to: z.string().max(200).describe('The recipient address'), body: z.string().max(10_000).describe('The reply, plain text') }, outputSchema: { messageId: z.string() }, annotations: { readOnlyHint: false, destructiveHint: false } },
      ({ threadId, to, body }) => {
        const refused = need(flavor.scopes.send, flavor.tools.send);
        if (refused) return refused;
        const t = threads().find((x) => x.threadId === threadId);
        if (!t) return { content: [{ type: 'text', text: `no thread ${threadId}` }], isError: true };
        const msg = { from: caller.account, to, subject: `Re: ${t.subject}`, body, at: new Date().toISOString() };
        t.messages.push(msg);
        (sent.get(caller.account) ?? sent.set(caller.account, []).get(caller.account)!).push(msg);
        return json({ messageId: `m-${randomUUID().slice(0, 8)}` });
      },
    );
    return server;
  };

  http.on('request', (req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path === '/.well-known/oauth-protected-resource/mcp' || path === '/.well-known/oauth-protected-resource') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ resource: `${origin}/mcp`, authorization_servers: [issuer], scopes_supported: Object.values(flavor.scopes) }));
        return;
      }
      const m = /^\/oauth\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|consent))?$/.exec(path);
      if (m) return interaction(req, res, m[1]!, m[2]);
      if (path === '/oauth' || path.startsWith('/oauth/') || path.startsWith('/.well-known/openid-configuration/oauth') || path.startsWith('/.well-known/oauth-authorization-server/oauth')) {
        (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
        req.url = path.startsWith('/.well-known/') ? '/.well-known/openid-configuration' : req.url!.slice('/oauth'.length) || '/';
        return callback(req, res);
      }
      if (path === '/mcp') {
        // The tool catalog is public (initialize, tools/list: what Skillgate pins and shows);
        // every tools/call needs the user's own token.
        const raw = await readBody(req);
        const message = JSON.parse(raw || 'null') as { method?: string } | null;
        const caller = message?.method === 'tools/call' ? await authenticate(req) : { account: '', scopes: [], clientId: '' };
        if (!caller) {
          res.writeHead(401, { 'www-authenticate': `Bearer error="invalid_token", resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`, 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_token' }));
          return;
        }
        // Stateless: every request is authenticated on its own; one server per request.
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
        const server = mcpFor(caller);
        await server.connect(transport);
        res.on('close', () => void server.close());
        await transport.handleRequest(req, res, message);
        return;
      }
      res.writeHead(404).end();
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String((err as Error).message));
    });
  });

  return {
    origin,
    mcpUrl: `${origin}/mcp`,
    issuer,
    flavor: opts.flavor,
    mailboxes,
    sent,
    credentials,
    tokenGrants,
    async revokeAccount(account) {
      const ids = [...(grantsOf.get(account) ?? [])];
      for (const id of ids) {
        await adapter('AccessToken').revokeByGrantId!(id);
        const g = await provider.Grant.find(id);
        await g?.destroy();
      }
      grantsOf.delete(account);
      for (const k of [...lastGrant.keys()]) if (k.startsWith(`${account}\0`)) lastGrant.delete(k);
      return ids.length;
    },
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}
export type { Server };
