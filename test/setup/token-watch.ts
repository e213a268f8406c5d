/**
 * Test-suite instrumentation for test/no-raw-token.test.ts (never loaded by product code):
 *
 *  - every JWS a test process signs with jose (`SignJWT`, `CompactSign`: the dev IdP's minter,
 *    oidc-provider's access and ID tokens) goes to the suite's token ledger — except run
 *    attestations, which belong in workflow histories (helpers/token-scan.ts);
 *  - before a test deletes one of its `skillgate-*` temp folders (fs.rmSync / fs.promises.rm),
 *    everything in it — logs, audit stores, exports, Temporal databases — is scanned for
 *    tokens (helpers/token-scan.ts) and the result appended to `<suite dir>/scans.jsonl`.
 *
 * The suite folder comes from test/global-setup.ts (SKILLGATE_SUITE_DIR).
 */
import fs, { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { CompactSign, SignJWT } from 'jose';
import { header, isAttestation, mintedTokens, scanPath } from '../helpers/token-scan.js';

const suiteDir = process.env.SKILLGATE_SUITE_DIR;
const installed = globalThis as { __skillgateTokenWatch?: boolean };

if (suiteDir && !installed.__skillgateTokenWatch) {
  installed.__skillgateTokenWatch = true;
  const ledger = join(suiteDir, 'minted-tokens.txt');
  for (const cls of [SignJWT, CompactSign] as const) {
    const sign = cls.prototype.sign as (...args: unknown[]) => Promise<string>;
    cls.prototype.sign = async function (this: unknown, ...args: unknown[]) {
      const token = await sign.apply(this, args);
      const h = header(token.split('.')[0] ?? '');
      if (!h || !isAttestation(h)) appendFileSync(ledger, `${token}\n`);
      return token;
    } as typeof cls.prototype.sign;
  }

  const tmp = resolve(tmpdir());
  const watched = (p: unknown): string | undefined => {
    if (typeof p !== 'string') return undefined;
    const abs = resolve(p);
    return dirname(abs) === tmp && basename(abs).startsWith('skillgate-') ? abs : undefined;
  };
  const scan = (dir: string) => {
    try {
      const report = scanPath(dir, mintedTokens(suiteDir));
      if (report.files) appendFileSync(join(suiteDir, 'scans.jsonl'), `${JSON.stringify({ dir, ...report })}\n`);
    } catch (err) {
      appendFileSync(join(suiteDir, 'scans.jsonl'), `${JSON.stringify({ dir, error: (err as Error).message })}\n`);
    }
  };
  const rmSync = fs.rmSync;
  fs.rmSync = ((p: fs.PathLike, opts?: fs.RmOptions) => {
    const dir = watched(p);
    if (dir) scan(dir);
    return rmSync(p, opts);
  }) as typeof fs.rmSync;
  const rm = fs.promises.rm;
  fs.promises.rm = (async (p: fs.PathLike, opts?: fs.RmOptions) => {
    const dir = watched(p);
    if (dir) scan(dir);
    return rm(p, opts);
  }) as typeof fs.promises.rm;
  // Named imports of node:fs (`import { rmSync } from 'node:fs'`) see the wrapped functions too.
  syncBuiltinESMExports();
}
