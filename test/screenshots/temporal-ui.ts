/**
 * Renders the README's picture of a skill run in the Temporal UI, from a real runtime:
 *
 *   node --import tsx test/screenshots/temporal-ui.ts [out.png]
 *
 * Starts `skillgate dev` on a temporary copy of the demo workspace, starts a credit issuance
 * that waits for a credit officer, and takes a headless Chromium (Debian's `chromium`, or
 * CHROMIUM_PATH) screenshot of that run's page: its summary, details and current details, and
 * the steps' activity summaries. Not part of the test suite (it needs a browser); the image is
 * committed as docs/images/temporal-run.png.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { demoWorkspace, skillgate, startDev } from '../helpers/dev-process.js';
import { ROOT } from '../helpers/workspace.js';

const out = process.argv[2] ?? join(ROOT, 'docs', 'images', 'temporal-run.png');
const outMetadata = out.replace(/\.png$/, '-metadata.png');
const executablePath = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) throw new Error('no Chromium: apt-get install -y chromium, or set CHROMIUM_PATH');

const ws = await demoWorkspace();
const dev = startDev(ws.configFile);
try {
  await dev.ready();
  // One run that completed, then one that waits: the list shows both, the page the waiting one.
  const done = await skillgate(ws.configFile, ['run', 'credit-issuance', '--input', '{"customerId":"C-1001","amount":5000}', '--wait', '--as', 'loan-clerk']);
  if (done.code !== 0) throw new Error(done.stderr);
  const waiting = await skillgate(ws.configFile, ['run', 'credit-issuance', '--input', '{"customerId":"C-1004","amount":25000}', '--as', 'ceo']);
  if (waiting.code !== 0) throw new Error(waiting.stderr);
  const id = waiting.stdout.trim();
  await new Promise((r) => setTimeout(r, 3000));

  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 }, deviceScaleFactor: 1 });
    await page.goto(`http://127.0.0.1:${ws.uiPort}/namespaces/default/workflows/${encodeURIComponent(id)}`, { waitUntil: 'load' });
    await page.getByText('User Metadata', { exact: true }).waitFor({ timeout: 30_000 });
    await page.waitForTimeout(2000);
    await page.screenshot({ path: out, fullPage: false });
    // The run's summary, details and current details.
    await page.getByText('User Metadata', { exact: true }).click();
    await page.waitForTimeout(1500);
    await page.screenshot({ path: outMetadata, fullPage: false });
    process.stdout.write(`wrote ${out} and ${outMetadata} (run ${id})\n`);
  } finally {
    await browser.close();
  }
} finally {
  await dev.stop();
  ws.cleanup();
}
