/**
 * The dev IdP's interactions: a login page that lists the workspace's demo users (pick one, no
 * password — dev only, and the page says so) and automatic consent. Plain HTML forms without
 * scripts, so a test drives it with fetch: GET the page, POST `user=<id>` to the form action,
 * follow the 303s.
 *
 *   GET  <mount>/interaction/<uid>         login page (or, for a consent prompt, consent is
 *                                          granted and the browser sent on at once)
 *   POST <mount>/interaction/<uid>/login   user=<id>
 *   POST <mount>/interaction/<uid>/abort   the user cancels: access_denied to the client
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { SkillgateConfig } from '../../../src/config/schema.js';

/** The longest form body read from the login page. */
const MAX_FORM_BYTES = 4096;

interface LoginDeps {
  provider: Provider;
  config: SkillgateConfig;
  /** The path the IdP is mounted at, e.g. `/idp`. */
  mountPath: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** The interaction URL oidc-provider sends the browser to. */
export function interactionPath(mountPath: string, uid: string): string {
  return `${mountPath}/interaction/${uid}`;
}

/**
 * A handler for the interaction routes; returns false (without touching `res`) when the path
 * is not one of them, so the caller hands the request to oidc-provider.
 */
export function createLoginHandler(deps: LoginDeps): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> {
  const { provider, config, mountPath, log } = deps;
  const route = new RegExp(`^${escapeRegExp(mountPath)}/interaction/([A-Za-z0-9_-]{1,64})(?:/(login|abort))?$`);
  const agentByClient = new Map(Object.entries(config.agents).map(([id, a]) => [a.clientId, { id, name: a.name ?? id }]));

  return async (req, res, path) => {
    const m = route.exec(path);
    if (!m) return false;
    const [, uid, action] = m as unknown as [string, string, 'login' | 'abort' | undefined];
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== uid) {
        page(res, 400, 'Login link mismatch', '<p>This page belongs to another sign-in. Start again from your client.</p>');
        return true;
      }
      const clientId = String(details.params.client_id ?? '');
      const prompt = details.prompt.name;

      if (req.method === 'GET' && !action) {
        if (prompt === 'consent') {
          await grantConsent(provider, req, res, details);
          return true;
        }
        if (prompt !== 'login') {
          page(res, 400, 'Unsupported step', `<p>The dev IdP cannot handle the "${esc(prompt)}" step.</p>`);
          return true;
        }
        loginPage(res, 200, { uid, mountPath, config, client: clientId, agent: agentByClient.get(clientId), resource: details.params.resource });
        return true;
      }
      if (req.method !== 'POST' || !action) {
        res.writeHead(405, { allow: action ? 'POST' : 'GET' }).end();
        return true;
      }
      if (action === 'abort') {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, { mergeWithLastSubmission: false });
        return true;
      }
      if (prompt !== 'login') {
        page(res, 400, 'Already signed in', '<p>This sign-in no longer needs a login. Start again from your client.</p>');
        return true;
      }
      const form = await readForm(req);
      const user = form?.get('user') ?? '';
      if (!Object.hasOwn(config.users, user)) {
        loginPage(res, 400, { uid, mountPath, config, client: clientId, agent: agentByClient.get(clientId), resource: details.params.resource, error: user ? `There is no demo user "${user}".` : 'Pick a user.' });
        return true;
      }
      log('dev IdP login', { user, client: clientId });
      await provider.interactionFinished(req, res, { login: { accountId: user, amr: ['dev'] } }, { mergeWithLastSubmission: false });
      return true;
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'SessionNotFound') {
        page(res, 400, 'Sign-in expired', '<p>This sign-in has expired or its cookie is missing. Start again from your client.</p>');
      } else {
        log('dev IdP interaction failed', { error: (err as Error).message });
        if (!res.headersSent) page(res, 500, 'Sign-in failed', '<p>The dev IdP could not complete this step; see the server log.</p>');
      }
      return true;
    }
  };
}

/** Consent, automatically: grant exactly what is missing (scopes, claims, resource scopes). */
async function grantConsent(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  details: Awaited<ReturnType<Provider['interactionDetails']>>,
): Promise<void> {
  const { prompt, params, session } = details;
  const accountId = session?.accountId;
  if (!accountId) throw new Error('consent without a logged-in account');
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: String(params.client_id) });
  if (!grant) throw new Error(`grant ${details.grantId} not found`);
  const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  // A new grant must be named in the result; an existing one was updated in place.
  await provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
}

function loginPage(
  res: ServerResponse,
  status: number,
  v: { uid: string; mountPath: string; config: SkillgateConfig; client: string; agent: { id: string; name: string } | undefined; resource: unknown; error?: string },
): void {
  const action = `${interactionPath(v.mountPath, v.uid)}/login`;
  const users = Object.entries(v.config.users)
    .map(([id, u]) => {
      const roles = [...u.roles, ...u.groups].map(esc).join(', ');
      return `<li><button type="submit" name="user" value="${esc(id)}"><b>${esc(u.name ?? id)}</b> <code>${esc(id)}</code>${roles ? ` <small>${roles}</small>` : ''}</button></li>`;
    })
    .join('\n');
  const resources = (Array.isArray(v.resource) ? v.resource : v.resource ? [v.resource] : []).map((r) => `<code>${esc(String(r))}</code>`).join(', ');
  const who = v.client === v.config.admin.clientId
    ? '<p>Sign in to the <b>Skillgate admin page</b> (the audit trail).</p>'
    : v.agent
    ? `<p>Agent <b>${esc(v.agent.name)}</b> (<code>${esc(v.client)}</code>) asks to act for you${resources ? ` on ${resources}` : ''}.</p>`
    : `<p>Client <code>${esc(v.client)}</code> asks to act for you${resources ? ` on ${resources}` : ''}. <b>It is not a registered agent</b>: Skillgate gateways will refuse its tokens until its client id is listed under <code>agents</code> in skillgate.yaml.</p>`;
  page(
    res,
    status,
    'Sign in (dev)',
    `<p class="dev">DEVELOPMENT IdP — no passwords. Never enable <code>identity.devIdp</code> in production.</p>
${who}
${v.error ? `<p class="err">${esc(v.error)}</p>` : ''}
<form method="post" action="${esc(action)}">
<ul>
${users}
</ul>
</form>
<form method="post" action="${esc(`${interactionPath(v.mountPath, v.uid)}/abort`)}"><button type="submit">Cancel</button></form>`,
  );
}

/** A page of the dev IdP (also used for oidc-provider's error pages). `body` is trusted HTML. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — Skillgate dev IdP</title>
<style>body{font:16px system-ui;max-width:40em;margin:2em auto}.dev{background:#b00;color:#fff;padding:.5em}.err{color:#b00}ul{list-style:none;padding:0}li{margin:.3em 0}button{width:100%;text-align:left;padding:.5em}</style>
</head><body><h1>${esc(title)}</h1>
${body}
</body></html>`;
}

/** Headers of every dev IdP page: no scripts, no caching, no framing. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // No scripts, no framing (clickjacking a one-click login would be too easy).
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
} as const;

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, PAGE_HEADERS).end(htmlPage(title, body));
}

/** HTML-escape text. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An urlencoded form body, or undefined when it is too large or of another type. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
