/**
 * The family-mail world for tests of downstream authorization, all real: a Gmail-like (and
 * optionally an Outlook-like) mail system — each its own MCP server behind its own
 * oidc-provider — and a Skillgate gateway (`family`) where the family assistant acts for
 * two parents, with the dev IdP as Skillgate's IdP. `follow()` walks a /connect link in a
 * cookie-keeping browser through both logins and the provider's consent page.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitationCompleteNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { MAIL_FLAVORS, type MailSystem, startMailSystem } from '../../demo/mail/server.js';
import { browser, type Browser } from './browser.js';
import { freePort, type SkillGateway, startSkillGateway, startTestGateway, type TestGateway } from './gateway.js';

export const GMAIL = MAIL_FLAVORS.gmail.scopes;
export const OUTLOOK = MAIL_FLAVORS.outlook.scopes;

/** The Skillgate config of the mail world (servers, providers, users, agent, gateway). */
export function mailWorldConfig(port: number, systems: { gmail: MailSystem; outlook?: MailSystem }): Record<string, unknown> {
  const server = (m: MailSystem, provider: string) => {
    const f = MAIL_FLAVORS[m.flavor];
    return {
      url: m.mcpUrl,
      auth: { provider, scopes: [f.scopes.read], tools: { [f.tools.send]: [f.scopes.send] } },
    };
  };
  const provider = (m: MailSystem, name: string) => ({
    name,
    // RFC 9728: the mail server names its authorization server.
    server: m.flavor,
    clientId: 'skillgate',
    clientSecret: `${m.flavor}-secret`,
    scopes: [...Object.values(MAIL_FLAVORS[m.flavor].scopes), 'offline_access'],
    alwaysRequest: ['offline_access'],
    // oidc-provider (like Google) issues a refresh token for offline_access only with prompt=consent.
    authorizeParams: { prompt: 'consent' },
  });
  return {
    publicUrl: `http://127.0.0.1:${port}`,
    servers: { gmail: server(systems.gmail, 'gmail'), ...(systems.outlook ? { outlook: server(systems.outlook, 'outlook') } : {}) },
    providers: { gmail: provider(systems.gmail, 'Gmail-like mail'), ...(systems.outlook ? { outlook: provider(systems.outlook, 'Outlook-like mail') } : {}) },
    users: {
      parent: { name: 'Pat Parent', roles: ['parent'], attributes: { mailbox: 'gmail' } },
      'other-parent': { name: 'Olly Other', roles: ['parent'], attributes: { mailbox: systems.outlook ? 'outlook' : 'gmail' } },
    },
    agents: { 'family-assistant': { clientId: 'family-assistant', name: 'Family assistant' } },
    gateways: { family: { agents: ['family-assistant'], tools: ['gmail.*', 'outlook.*'], skills: ['reply-to-teacher-email'] } },
  };
}

export interface MailWorld {
  t: TestGateway | SkillGateway;
  gmail: MailSystem;
  outlook?: MailSystem;
  /** An MCP client for (user, family-assistant) that declares URL elicitation (or not). */
  client(user: string, opts?: { urlElicitation?: boolean }): Promise<{ client: Client; completed: string[] }>;
  close(): Promise<void>;
}

export async function startMailWorld(opts: { outlook?: boolean; temporalAddress?: string; skillDirs?: string[]; extra?: Record<string, unknown> } = {}): Promise<MailWorld> {
  const port = await freePort();
  const redirect = (p: string) => [`http://127.0.0.1:${port}/connect/${p}/callback`];
  const gmail = await startMailSystem({ flavor: 'gmail', clientId: 'skillgate', clientSecret: 'gmail-secret', redirectUris: redirect('gmail') });
  const outlook = opts.outlook ? await startMailSystem({ flavor: 'outlook', clientId: 'skillgate', clientSecret: 'outlook-secret', redirectUris: redirect('outlook') }) : undefined;
  const extra = { ...mailWorldConfig(port, { gmail, ...(outlook ? { outlook } : {}) }), ...opts.extra };
  const t = opts.temporalAddress
    ? await startSkillGateway({ address: opts.temporalAddress, skillDirs: opts.skillDirs ?? [], port, extra })
    : await startTestGateway({ port, extra });
  const clients: Client[] = [];
  return {
    t,
    gmail,
    ...(outlook ? { outlook } : {}),
    async client(user, o = {}) {
      const token = await t.token(user, 'family-assistant', 'family');
      const client = new Client({ name: `test-${user}`, version: '1.0.0' }, { capabilities: o.urlElicitation === false ? {} : { elicitation: { url: {} } } });
      const completed: string[] = [];
      client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => void completed.push(n.params.elicitationId));
      await client.connect(new StreamableHTTPClientTransport(new URL(t.gw.resourceUrl('family')), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      clients.push(client);
      return { client, completed };
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await t.close();
      await gmail.close();
      await outlook?.close();
    },
  };
}

/** What walking a /connect link ended with. */
export interface ConnectOutcome {
  status: number;
  html: string;
  /** The scopes the provider's consent page listed (what the user was asked for). */
  consented: string[];
}

/**
 * Follow a /connect URL as a person in a browser: sign in at Skillgate's dev IdP as
 * `skillgateUser`, then at the mail provider as `mailbox`, allow on its consent page, and land
 * on Skillgate's callback. Stops at the first page that is neither a redirect nor a form it knows.
 */
export async function follow(url: string, who: { skillgateUser: string; mailbox: string }, go: Browser = browser()): Promise<ConnectOutcome> {
  let res = await go(url);
  const consented: string[] = [];
  for (let hop = 0; hop < 20; hop++) {
    const here = res.url || url;
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url).href;
      res = await go(url);
      continue;
    }
    const html = await res.text();
    const form = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (res.status !== 200 || !form) return { status: res.status, html, consented };
    const action = new URL(form.replaceAll('&#47;', '/'), url).href;
    let body: URLSearchParams;
    if (html.includes('value="' + who.skillgateUser + '"') && html.includes('DEVELOPMENT IdP')) body = new URLSearchParams({ user: who.skillgateUser });
    else if (html.includes('name="account"')) body = new URLSearchParams({ account: who.mailbox });
    else if (html.includes('allow access')) {
      consented.push(...[...html.matchAll(/<li class="scope">([^<]+)<\/li>/g)].map((m) => m[1]!));
      body = new URLSearchParams();
    } else return { status: res.status, html, consented };
    void here;
    url = action;
    res = await go(action, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
  throw new Error('too many hops following the /connect link');
}
