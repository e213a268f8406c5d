/**
 * Nothing recorded is lost when the process dies: a writer is killed with SIGKILL (no exit
 * handler runs, nothing is flushed on the way out) while recording as fast as it can; every
 * event it had recorded before yielding to the event loop is in the store, the chain verifies
 * (no torn event), and a restart continues the chain. What a power loss could take (events
 * after the last checkpoint's fsync) cannot be shown here; docs/audit.md says what is fsynced
 * when.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkpointSigner, verificationKeys } from '../gateway/audit/keys.js';
import { openSqliteAuditStore } from '../gateway/audit/sqlite-store.js';
import { verifyRecords } from '../gateway/audit/verify.js';
import { loadConfig } from '../src/config/load.js';
import { signingKey } from '../src/app/runtime/audit.js';
import { ROOT } from './helpers/workspace.js';

const dir = mkdtempSync(join(tmpdir(), 'skillgate-audit-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['before-answer', 'batched'] as const)('the audit trail across a crash (audit.write: %s)', (write) => {
  it('keeps every event recorded before the process was killed (before-answer: before the answer; batched: by the check phase right after it), chained and verifiable', async () => {
    const config = join(dir, write, 'skillgate.yaml');
    mkdirSync(join(dir, write), { recursive: true });
    writeFileSync(config, stringify({ workspace: 'crash', stateDir: 'state', policies: [], audit: { checkpointEvery: 100, write } }));
    let lastPrinted = 0;
    for (const [run, killAfter] of [150 + Math.floor(Math.random() * 100), 40 + Math.floor(Math.random() * 40)].entries()) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'audit-writer.ts'), config, `run${run}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      let printed = 0;
      for await (const line of createInterface({ input: child.stdout! })) {
        printed = Number(line);
        if (printed >= killAfter) {
          child.kill('SIGKILL');
          break;
        }
      }
      expect(await exited).toBe('SIGKILL');
      lastPrinted += printed;

      const store = openSqliteAuditStore(join(dir, write, '.skillgate', 'skillgate.db'));
      try {
        const head = await store.head();
        // Two events per printed pair, from both runs; perhaps a few more recorded after the last print.
        expect(head.seq).toBeGreaterThanOrEqual(2 * lastPrinted);
        const last = (await store.query({ requestId: `run${run}-${printed}` })).events;
        expect(last.map((e) => e.kind).sort()).toEqual(['decision', 'tool.call']);
        const keys = await verificationKeys([{ text: (await checkpointSigner(signingKey(loadConfig(config)))).publicKeyPem, where: 'test' }]);
        const report = await verifyRecords(store.records(), { keys });
        expect(report, JSON.stringify(report.issue)).toMatchObject({ ok: true, events: head.seq });
        lastPrinted = head.seq / 2;
      } finally {
        await store.close();
      }
    }
  }, 120_000);
});
