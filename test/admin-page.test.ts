/**
 * The /admin page in a real headless browser (Debian's chromium, driven by playwright-core),
 * against `skillgate dev` as a person runs it: sign in through the dev IdP, see the chain
 * verified, filter to a denial and open its decision (both sides, the deciding policies),
 * follow a run to its events and to its Temporal UI page; a user without the admin role is
 * refused with a page that says why. Screenshots go to docs/images/ when
 * SKILLGATE_SCREENSHOTS=1 (they are committed; the test does not rewrite them otherwise).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoWorkspace, demoWorkspace, type DevProcess, skillgate, startDev } from './helpers/dev-process.js';
import { ROOT } from './helpers/workspace.js';

const executablePath = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHOTS = process.env.SKILLGATE_SCREENSHOTS === '1';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let ws: DemoWorkspace;
let dev: DevProcess;
let browser: Browser;
let base: string;
let runId: string;

async function call(user: string, agent: string, gateway: string, tool: string, args: Record<string, unknown>) {
  const token = (await skillgate(ws.configFile, ['token', '--user', user, '--agent', agent, '--gateway', gateway])).stdout.trim();
  const client = new Client({ name: 'admin-page-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp/${gateway}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    return await client.callTool({ name: tool, arguments: args });
  } finally {
    await client.close();
  }
}

/** Sign in through the dev IdP's login page as `user`; ends on whatever /admin answers. */
async function signIn(page: Page, user: string): Promise<void> {
  await page.goto(`${base}/admin`);
  // Redirected to the IdP: its login page lists the demo users.
  await page.getByText('Sign in to the Skillgate admin page').waitFor();
  await page.locator(`button[name="user"][value="${user}"]`).click();
  await page.waitForURL((u) => u.pathname.startsWith('/admin'));
}

/** What a locator shows (after it is there). */
const text = async (l: Locator) => (await l.first().textContent({ timeout: 15_000 })) ?? '';

const shot = async (page: Page, name: string) => {
  if (SHOTS) await page.screenshot({ path: join(ROOT, 'docs', 'images', `${name}.png`), fullPage: false });
};

beforeAll(async () => {
  if (!executablePath) throw new Error('no Chromium: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH');
  ws = await demoWorkspace();
  dev = startDev(ws.configFile);
  await dev.ready();
  base = `http://127.0.0.1:${ws.gatewayPort}`;
  // Something to look at: an allowed read, a denial, and a credit issuance that waits for an officer, then is approved.
  await call('intern', 'hr-assistant', 'hr-desk', 'hr.get_compensation', { employeeId: 'intern' });
  await call('intern', 'hr-assistant', 'hr-desk', 'hr.get_compensation', { employeeId: 'ceo' });
  const started = await skillgate(ws.configFile, ['run', 'credit-issuance', '--input', '{"customerId":"C-1004","amount":25000}', '--as', 'loan-clerk']);
  expect(started.code, started.stderr).toBe(1); // the loan clerk may not start 25,000: refused, and recorded
  const run = await skillgate(ws.configFile, ['run', 'credit-issuance', '--input', '{"customerId":"C-1004","amount":25000}', '--as', 'ceo']);
  expect(run.code, run.stderr).toBe(0);
  runId = run.stdout.trim();
  const approved = await skillgate(ws.configFile, ['approve', runId, '--as', 'credit-officer']);
  expect(approved.code, approved.stderr).toBe(0);
  browser = await chromium.launch({ executablePath, args: FLAGS });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await dev?.stop();
  ws?.cleanup();
});

describe('the /admin page, in a real browser', () => {
  it('an auditor signs in, sees the chain verified, filters to a denial and reads both sides of its decision', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await signIn(page, 'auditor');
    expect(await text(page.locator('header .who'))).toContain('auditor');
    await page.locator('#chain').getByText('Chain verified').waitFor({ timeout: 30_000 });
    expect(await page.locator('table.events tbody tr').count()).toBeGreaterThan(3);
    await shot(page, 'admin-events');

    // Filter: denials of hr.get_compensation.
    await page.locator('select[name="decision"]').selectOption('deny');
    await page.locator('input[name="tool"]').fill('hr.get_compensation');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/decision=deny/);
    const rows = page.locator('table.events tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await text(rows.first())).toContain('ERR_USER_NOT_PERMITTED');
    expect(await text(rows.first())).toContain('intern');
    await shot(page, 'admin-denials');

    // Its decision: the agent allowed, the user was refused; the policies that decided.
    await rows.first().locator('td.time a').click();
    await page.waitForURL(/\/admin\/events\/\d+$/);
    const sides = page.locator('table.sides');
    expect(await text(sides.locator('tr.allow'))).toContain('hr-assistant');
    expect(await text(sides.locator('tr.allow'))).toContain('agent.hr-assistant.hr-tools');
    expect(await text(sides.locator('tr.deny'))).toContain('intern');
    expect(await text(sides.locator('tr.deny'))).toContain('no policy matched');
    expect(await text(page.locator('main'))).toContain('Policy revision');
    expect(await text(page.locator('main pre').first())).toContain('"employeeId": "ceo"');
    await shot(page, 'admin-decision');
    await context.close();
  });

  it("follows a run to its events and to its page in the Temporal UI", async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await signIn(page, 'auditor');
    await page.locator('input[name="skill"]').fill('credit-issuance');
    await page.locator('select[name="kind"]').selectOption('run.started');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/kind=run.started/);
    await page.locator('table.events tbody tr').first().getByRole('link', { name: 'run' }).click();
    await page.waitForURL(new RegExp(`run=${runId}`));
    const kinds = await page.locator('table.events tbody tr td:nth-child(3)').allTextContents();
    // Newest first: the run as it happened, read from the bottom.
    expect(kinds.reverse()).toEqual(expect.arrayContaining(['decision', 'run.started', 'tool.call', 'run.approval', 'run.ended']));
    expect(kinds.filter((k) => k === 'tool.call')).toHaveLength(4);
    const temporal = page.locator('section.run a.temporal');
    expect(await temporal.getAttribute('href')).toBe(`http://127.0.0.1:${ws.uiPort}/namespaces/default/workflows/${runId}`);
    await shot(page, 'admin-run');
    // The Temporal UI itself answers for that run (its own server, started by skillgate dev).
    const ui = await context.newPage();
    const response = await ui.goto((await temporal.getAttribute('href'))!);
    expect(response?.status()).toBe(200);
    await context.close();
  });

  it('a user without an admin role is refused with a page that says why, and the refusal is recorded', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, 'intern');
    expect((await text(page.locator('h1'))).trim()).toBe('Not an auditor');
    expect(await text(page.locator('main'))).toContain('You are signed in as intern');
    expect(await text(page.locator('main'))).toContain('auditor');
    await shot(page, 'admin-refused');
    // Without a session the events are not shown: back to sign-in.
    const r = await context.request.get(`${base}/admin`, { maxRedirects: 0 });
    expect(r.status()).toBe(302);
    expect(r.headers().location).toMatch(/^\/admin\/login/);
    await context.close();
    const refused = await skillgate(ws.configFile, ['audit', '--kind', 'request.refused', '--json']);
    expect(refused.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { reason: string; user?: string })).toEqual(
      expect.arrayContaining([expect.objectContaining({ reason: 'ERR_ADMIN_ROLE', user: 'intern' })]),
    );
  });

  it('GET /admin/audit answers an auditor\'s token with the events as JSON, and refuses everyone else', async () => {
    const adminToken = async (user: string) => (await skillgate(ws.configFile, ['token', '--user', user, '--admin'])).stdout.trim();
    const get = (path: string, token?: string) => fetch(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    const ok = await get('/admin/audit?decision=deny&tool=hr.get_compensation', await adminToken('auditor'));
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { events: Array<{ kind: string; user: string; reason: string; decision: { user: { decision: string } } }> };
    expect(body.events.map((e) => [e.kind, e.user, e.reason, e.decision.user.decision])).toEqual([['decision', 'intern', 'ERR_USER_NOT_PERMITTED', 'deny']]);
    expect((await get('/admin/audit?decision=maybe', await adminToken('auditor'))).status).toBe(400);
    expect((await get('/admin/audit', await adminToken('intern'))).status).toBe(403);
    // An agent's token (for a gateway) is not the admin page's.
    const agentToken = (await skillgate(ws.configFile, ['token', '--user', 'auditor', '--agent', 'hr-assistant'])).stdout.trim();
    const wrong = await get('/admin/audit', agentToken);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect((await get('/admin/audit')).status).toBe(401);
    // The query is an admin action in the trail; the refusals are there too.
    const trail = (await skillgate(ws.configFile, ['audit', '--json', '--limit', '20'])).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; reason: string; user?: string });
    expect(trail).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'admin.action', reason: 'query', user: 'auditor' }),
        expect.objectContaining({ kind: 'request.refused', reason: 'ERR_ADMIN_ROLE', user: 'intern' }),
        expect.objectContaining({ kind: 'token.refused', reason: 'ERR_TOKEN_AUDIENCE' }),
        expect.objectContaining({ kind: 'token.refused', reason: 'ERR_TOKEN_MISSING' }),
      ]),
    );
  });
});
