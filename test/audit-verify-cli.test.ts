/**
 * `skillgate audit verify`, as an operator runs it (the real CLI, a child process), on a real
 * store written by the CLI's own commands and by a second process: an untouched store and its
 * JSONL export (offline, with the public key only) exit 0; each kind of tampering — one byte of
 * an event changed, one deleted, one inserted, two swapped, the tail truncated, a checkpoint's
 * signature replaced — exits 1 naming the first broken event.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { AuditCheckpoint } from '../src/contracts/audit.js';
import { canonicalJson } from '../src/shared/canonical-json.js';
import { sealEvent } from '../gateway/audit/hash.js';
import { parseConfig } from '../src/config/load.js';
import { openWorkspaceAudit } from '../src/app/runtime/audit.js';
import { skillgate } from './helpers/dev-process.js';
import { generateKeyPairSync, sign } from 'node:crypto';

const dir = mkdtempSync(join(tmpdir(), 'skillgate-audit-cli-'));
const configFor = (db: string) => {
  const file = join(dir, `${db}.yaml`);
  const text = stringify({ workspace: 'cli', stateDir: 'state', users: { intern: { roles: ['intern'] }, ceo: { roles: ['executive'] } }, policies: [], storage: { file: `${db}.db` }, audit: { checkpointEvery: 5 } });
  writeFileSync(file, text);
  return file;
};
const main = configFor('skillgate');

beforeAll(async () => {
  // Events from the CLI (revocations) and from this process (another writer), interleaved.
  const loaded = parseConfig(readFileSync(main, 'utf8'), main);
  for (let i = 0; i < 4; i++) {
    expect((await skillgate(main, ['revoke', '--user', 'intern', '--reason', `round ${i}`])).code).toBe(0);
    const audit = await openWorkspaceAudit(loaded, { busyTimeoutMs: 5000 });
    for (let k = 0; k < 3; k++) audit.log.record({ kind: 'decision', outcome: k === 1 ? 'deny' : 'allow', reason: 'ok', workspace: 'cli', user: 'ceo', agent: 'hr-assistant', gateway: 'hr-desk', server: 'hr', tool: 'get_employee', ids: { requestId: `r-${i}-${k}` } });
    await audit.close();
    expect((await skillgate(main, ['revoke', '--user', 'intern', '--restore'])).code).toBe(0);
  }
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Verify a tampered copy of the store with the CLI. */
async function verifyTampered(name: string, tamper: (db: Database.Database) => void) {
  copyFileSync(join(dir, 'skillgate.db'), join(dir, `${name}.db`));
  const db = new Database(join(dir, `${name}.db`));
  db.exec('DROP TRIGGER audit_events_append_only_u; DROP TRIGGER audit_events_append_only_d; DROP TRIGGER audit_checkpoints_append_only_u; DROP TRIGGER audit_checkpoints_append_only_d;');
  tamper(db);
  db.close();
  return skillgate(configFor(name), ['audit', 'verify']);
}
const row = (db: Database.Database, seq: number) => db.prepare('SELECT body, hash FROM audit_events WHERE seq = ?').get(seq) as { body: string; hash: string };

describe('skillgate audit verify', () => {
  it('exits 0 on the untouched store, and on its export offline with the public key alone', async () => {
    const r = await skillgate(main, ['audit', 'verify']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok: .*: 20 events \(1–20\), \d+ checkpoints verified; last checkpoint \d+ over event 20/);
    const exported = await skillgate(main, ['audit', 'export', '--output', join(dir, 'export.jsonl')]);
    expect(exported.code, exported.stderr).toBe(0);
    const pub = await skillgate(main, ['audit', 'public-key']);
    writeFileSync(join(dir, 'audit.pub'), pub.stdout);
    expect(pub.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const offline = await skillgate(main, ['audit', 'verify', '--export', join(dir, 'export.jsonl'), '--public-key', join(dir, 'audit.pub')]);
    expect(offline.code, offline.stdout + offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/^ok: .*export\.jsonl: 20 events/);
    // Every line a SIEM ingests is one JSON object.
    const lines = readFileSync(join(dir, 'export.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines[0]).toMatchObject({ type: 'header', format: 'skillgate-audit/1', firstSeq: 1, lastSeq: 20 });
    expect(lines.filter((l) => l.type === 'event')).toHaveLength(20);
    // The private key stays home: neither the export nor the public key file holds it.
    expect(readFileSync(join(dir, 'state', 'keys', 'audit-signing.key'), 'utf8')).toMatch(/PRIVATE KEY/);
    expect(readFileSync(join(dir, 'export.jsonl'), 'utf8') + pub.stdout).not.toMatch(/PRIVATE KEY/);
  });

  it('takes the options written after its subcommand (`verify --json`, `export --since`), though the query has options of the same names', async () => {
    const r = await skillgate(main, ['audit', 'verify', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, events: expect.any(Number) });
    // From a time after every event: the export starts at the checkpoint it makes first, no older event.
    const out = join(dir, 'since.jsonl');
    const e = await skillgate(main, ['audit', 'export', '--since', new Date(Date.now() + 60_000).toISOString(), '--output', out]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/^exported 0 events/);
  });

  const cases: Array<[string, (db: Database.Database) => void, RegExp]> = [
    ['one byte of an event changed', (db) => db.prepare('UPDATE audit_events SET body = ? WHERE seq = 7').run(row(db, 7).body.replace('"r-', '"R-')), /first broken event 7: event 7 was changed/],
    ['one event deleted', (db) => db.prepare('DELETE FROM audit_events WHERE seq = 9').run(), /first broken event 9\b.*event 9 (is missing|was removed)/],
    [
      'one event inserted',
      (db) => {
        db.exec('UPDATE audit_events SET seq = -seq WHERE seq >= 11; UPDATE audit_events SET seq = 1 - seq WHERE seq < 0;');
        const { event, body } = sealEvent({ kind: 'decision', outcome: 'allow', reason: 'ok', workspace: 'cli', user: 'mallory' }, new Date().toISOString(), 11, row(db, 10).hash);
        db.prepare("INSERT INTO audit_events (seq, time, kind, outcome, reason, workspace, user, body, hash) VALUES (11, ?, 'decision', 'allow', 'ok', 'cli', 'mallory', ?, ?)").run(event.time, body, event.hash);
      },
      /first broken event 11\b/,
    ],
    ['two events swapped', (db) => db.exec('UPDATE audit_events SET seq = -14 WHERE seq = 14; UPDATE audit_events SET seq = 14 WHERE seq = 15; UPDATE audit_events SET seq = 15 WHERE seq = -14;'), /first broken event 14\b/],
    ['the tail truncated', (db) => db.prepare('DELETE FROM audit_events WHERE seq > 17').run(), /first broken event 18 \(checkpoint \d+\): checkpoint \d+ covers events up to (19|20), but the events end at 17/],
    [
      "a checkpoint's signature replaced",
      (db) => {
        const { body } = db.prepare('SELECT body FROM audit_checkpoints WHERE n = 2').get() as { body: string };
        const c = JSON.parse(body) as AuditCheckpoint;
        const { signature: _s, ...payload } = c;
        // Signed, validly, by another key: the public key given is the workspace's.
        const sig = sign(null, Buffer.from(canonicalJson(payload)), generateKeyPairSync('ed25519').privateKey).toString('base64url');
        db.prepare('UPDATE audit_checkpoints SET body = ? WHERE n = 2').run(canonicalJson({ ...c, signature: sig }));
      },
      /first broken event \d+ \(checkpoint 2\): checkpoint 2's signature does not verify/,
    ],
  ];
  for (const [what, tamper, says] of cases) {
    it(`exits 1 naming the first broken event: ${what}`, async () => {
      const r = await verifyTampered(what.replace(/\W+/g, '-'), tamper);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/^BROKEN: /);
      expect(r.stdout).toMatch(says);
    });
  }

  it('exits 1 on a tampered export, offline', async () => {
    const lines = readFileSync(join(dir, 'export.jsonl'), 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"seq":12,') && l.startsWith('{"type":"event"'));
    lines[i] = lines[i]!.replace('"r-', '"R-');
    writeFileSync(join(dir, 'tampered.jsonl'), lines.join('\n'));
    const r = await skillgate(main, ['audit', 'verify', '--export', join(dir, 'tampered.jsonl'), '--public-key', join(dir, 'audit.pub')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/first broken event 12: event 12 was changed/);
  });
});
