/**
 * Verification of the chain and its checkpoints — the same code online (over the store) and
 * offline (over a JSONL export, with the public key given separately). It walks the records in
 * chain order and stops at the first break, naming the first event that cannot be trusted:
 *
 *   edited      an event's content does not match its hash (or its indexed columns, online)
 *   chain       an event's prevHash is not the hash of the event before: that one was edited
 *               and its hash recomputed, or an event was inserted or removed there
 *   missing     a sequence number is skipped (deleted), repeated (inserted) or out of order
 *   truncated   a checkpoint covers events that are not there
 *   signature   a checkpoint's signature does not verify with the given public keys
 *   checkpoint  a checkpoint does not match the events it covers (they were rewritten), or
 *               the checkpoints do not follow each other (one removed or replaced)
 *
 * Events after the last checkpoint are protected by the chain only: removing them together
 * with nothing else cannot be told from their never having been written (docs/audit.md).
 */
import type { KeyObject } from 'node:crypto';
import type { AuditCheckpoint, AuditEvent } from '../../src/contracts/audit.js';
import { AUDIT_GENESIS } from '../../src/contracts/audit.js';
import { checkpointDigest, checkpointPayload, eventBody, sha256Hex } from './hash.js';
import { verifySignature } from './keys.js';
import type { StoredRecord } from './store.js';

export type VerifyIssueCode = 'edited' | 'chain' | 'missing' | 'truncated' | 'signature' | 'checkpoint' | 'malformed';

/** The first break found. */
export interface VerifyIssue {
  code: VerifyIssueCode;
  /** The first event that cannot be trusted. */
  seq: number;
  /** The checkpoint involved, if any. */
  checkpoint?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Events and checkpoints read. */
  events: number;
  checkpoints: number;
  firstSeq?: number;
  lastSeq?: number;
  /** The last checkpoint that verified (signature, chain, events). */
  lastCheckpoint?: { n: number; seq: number; time: string; keyId: string };
  /** Events after the last verified checkpoint: chained, not yet signed. */
  unsigned: number;
  issue?: VerifyIssue;
  /** Where a verification of what is appended later resumes (when this one is ok). */
  end?: VerifyState;
}

/** The chain as verified so far: its last event and last checkpoint. */
export interface VerifyState {
  seq: number;
  hash: string;
  checkpoint?: { n: number; seq: number; digest: string; time: string; keyId: string };
}

/** A record as verification reads it: from the store (body as stored) or from an export line. */
export type VerifyRecord = StoredRecord | { type: 'event'; event?: AuditEvent; problem?: string } | { type: 'checkpoint'; checkpoint?: AuditCheckpoint; problem?: string };

export interface VerifyOptions {
  keys: ReadonlyMap<string, KeyObject>;
  /**
   * Where the records start when not at event 1: a signed checkpoint whose head the first
   * event must follow (partial exports carry the checkpoint before their first event).
   */
  anchor?: AuditCheckpoint;
  /** Offline: the export's header says how far it goes; falling short is truncation. */
  expectLastSeq?: number;
  /** Continue a verification that ended ok at this state (records start after it). */
  resume?: VerifyState;
}

/**
 * Verify records in chain order.
 *
 * @example
 * const report = await verifyRecords(store.records(), { keys });
 * if (!report.ok) console.error(`first broken event: ${report.issue!.seq}: ${report.issue!.message}`);
 */
export async function verifyRecords(records: AsyncIterable<VerifyRecord> | Iterable<VerifyRecord>, opts: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, events: 0, checkpoints: 0, unsigned: 0 };
  let expectSeq = 1;
  let prevHash = AUDIT_GENESIS;
  let prevCheckpoint: { n: number; seq: number; digest: string } | undefined;
  let lastSeen: { seq: number; hash: string } | undefined;
  /** The first event not covered by a verified checkpoint. */
  let firstUnsigned = 1;

  const fail = (issue: VerifyIssue): VerifyReport => {
    report.ok = false;
    report.issue = issue;
    report.unsigned = lastSeen ? lastSeen.seq - (report.lastCheckpoint?.seq ?? firstUnsigned - 1) : 0;
    return report;
  };

  if (opts.resume) {
    const r = opts.resume;
    expectSeq = r.seq + 1;
    prevHash = r.hash;
    if (r.seq > 0) lastSeen = { seq: r.seq, hash: r.hash };
    if (r.checkpoint) {
      prevCheckpoint = { n: r.checkpoint.n, seq: r.checkpoint.seq, digest: r.checkpoint.digest };
      report.lastCheckpoint = { n: r.checkpoint.n, seq: r.checkpoint.seq, time: r.checkpoint.time, keyId: r.checkpoint.keyId };
    }
  }

  if (opts.anchor) {
    const a = opts.anchor;
    const key = opts.keys.get(a.keyId);
    if (!key || !verifySignature(checkpointPayload(a), a.signature, key)) {
      return fail({ code: 'signature', seq: a.seq + 1, checkpoint: a.n, message: `the anchoring checkpoint ${a.n} does not verify${key ? '' : ` (no public key with id ${a.keyId})`}` });
    }
    expectSeq = a.seq + 1;
    prevHash = a.headHash;
    prevCheckpoint = { n: a.n, seq: a.seq, digest: checkpointDigest(a) };
    firstUnsigned = a.seq + 1;
    report.lastCheckpoint = { n: a.n, seq: a.seq, time: a.time, keyId: a.keyId };
  }

  for await (const r of records) {
    if (r.type === 'event') {
      const event = r.event;
      const at = 'seq' in r ? r.seq : (event?.seq ?? expectSeq);
      if (!event) return fail({ code: 'malformed', seq: Math.min(at, expectSeq), message: `event ${at}: ${r.problem ?? 'unreadable'}` });
      report.events++;
      report.firstSeq ??= event.seq;
      if ('seq' in r && r.seq !== event.seq) {
        const first = Math.min(r.seq, event.seq);
        return fail({ code: 'missing', seq: first, message: `the event stored as ${r.seq} says it is event ${event.seq}: events were inserted, deleted or moved at ${first}` });
      }
      if (r.problem) return fail({ code: 'edited', seq: event.seq, message: `event ${event.seq} was changed: ${r.problem}` });
      if (event.seq !== expectSeq) {
        const first = Math.min(event.seq, expectSeq);
        const what = event.seq < expectSeq ? `event ${event.seq} appears again after event ${expectSeq - 1} (inserted or out of order)` : `event ${expectSeq} is missing (the next is ${event.seq}): deleted or out of order`;
        return fail({ code: 'missing', seq: first, message: what });
      }
      const body = 'body' in r ? r.body : eventBody(event);
      const stored = 'hash' in r ? r.hash : event.hash;
      if (sha256Hex(body) !== stored || stored !== event.hash || ('body' in r && eventBody(event) !== body)) {
        return fail({ code: 'edited', seq: event.seq, message: `event ${event.seq} was changed: its content does not match its hash` });
      }
      if (event.prevHash !== prevHash) {
        const first = Math.max(event.seq - 1, report.firstSeq === event.seq ? event.seq : 1);
        return fail({
          code: 'chain',
          seq: first,
          message:
            event.seq === 1 || report.firstSeq === event.seq
              ? `event ${event.seq} does not start the chain (its prevHash is not the expected one)`
              : `event ${event.seq} does not follow event ${event.seq - 1}: event ${event.seq - 1} was replaced (its hash recomputed), or an event was inserted or removed between them`,
        });
      }
      prevHash = event.hash;
      lastSeen = { seq: event.seq, hash: event.hash };
      report.lastSeq = event.seq;
      expectSeq = event.seq + 1;
      continue;
    }

    // A checkpoint.
    const c = r.checkpoint;
    const covered = (prevCheckpoint?.seq ?? firstUnsigned - 1) + 1;
    if (!c || r.problem) return fail({ code: 'checkpoint', seq: covered, ...('n' in r ? { checkpoint: r.n } : {}), message: `checkpoint ${'n' in r ? r.n : '?'}: ${r.problem ?? 'unreadable'}` });
    report.checkpoints++;
    const key = opts.keys.get(c.keyId);
    if (!key) return fail({ code: 'signature', seq: covered, checkpoint: c.n, message: `checkpoint ${c.n} is signed by key ${c.keyId}, which is not among the public keys given` });
    if (c.alg !== 'EdDSA' || !verifySignature(checkpointPayload(c), c.signature, key)) {
      return fail({ code: 'signature', seq: covered, checkpoint: c.n, message: `checkpoint ${c.n}'s signature does not verify: the checkpoint was replaced or altered (events ${covered}–${c.seq} are not vouched for)` });
    }
    const expectN = (prevCheckpoint?.n ?? 0) + 1;
    if (c.n !== expectN || c.prev !== (prevCheckpoint?.digest ?? AUDIT_GENESIS)) {
      return fail({
        code: 'checkpoint',
        seq: covered,
        checkpoint: c.n,
        message: c.n !== expectN ? `checkpoint ${expectN} is missing (found ${c.n})` : `checkpoint ${c.n} does not follow checkpoint ${expectN - 1} (a checkpoint was removed or replaced)`,
      });
    }
    if (!lastSeen || c.seq > lastSeen.seq) {
      const from = (lastSeen?.seq ?? covered - 1) + 1;
      return fail({ code: 'truncated', seq: from, checkpoint: c.n, message: `checkpoint ${c.n} covers events up to ${c.seq}, but the events end at ${lastSeen?.seq ?? 'nothing'}: ${span(from, c.seq)} removed` });
    }
    if (c.seq !== lastSeen.seq || c.count !== c.seq) {
      return fail({ code: 'checkpoint', seq: covered, checkpoint: c.n, message: `checkpoint ${c.n} (over event ${c.seq}) is out of place after event ${lastSeen.seq}` });
    }
    if (c.headHash !== lastSeen.hash) {
      return fail({ code: 'checkpoint', seq: covered, checkpoint: c.n, message: `checkpoint ${c.n} does not match ${span(covered, c.seq).replace(/ (was|were)$/, '')}: changed, inserted or removed after it was signed` });
    }
    prevCheckpoint = { n: c.n, seq: c.seq, digest: checkpointDigest(c) };
    report.lastCheckpoint = { n: c.n, seq: c.seq, time: c.time, keyId: c.keyId };
  }

  if (opts.expectLastSeq !== undefined && (report.lastSeq ?? 0) < opts.expectLastSeq) {
    const from = (report.lastSeq ?? firstUnsigned - 1) + 1;
    return fail({ code: 'truncated', seq: from, message: `the export declares events up to ${opts.expectLastSeq}, but they end at ${report.lastSeq ?? 'nothing'}: ${span(from, opts.expectLastSeq)} removed` });
  }
  report.unsigned = lastSeen ? lastSeen.seq - (report.lastCheckpoint?.seq ?? firstUnsigned - 1) : 0;
  report.end = {
    seq: lastSeen?.seq ?? expectSeq - 1,
    hash: prevHash,
    ...(prevCheckpoint && report.lastCheckpoint ? { checkpoint: { ...prevCheckpoint, time: report.lastCheckpoint.time, keyId: report.lastCheckpoint.keyId } } : {}),
  };
  return report;
}

/** "event 9 was" / "events 9–12 were", for messages. */
function span(from: number, to: number): string {
  return from === to ? `event ${from} was` : `events ${from}–${to} were`;
}
