/**
 * The hash chain: an event's `hash` is the SHA-256 (hex) of the RFC 8785 canonical JSON of the
 * event without `hash` (so with `seq`, `time` and `prevHash`); a checkpoint's digest is the
 * SHA-256 of its canonical JSON, signature included, and the next checkpoint's `prev`.
 */
import { createHash } from 'node:crypto';
import type { AuditCheckpoint, AuditEvent, AuditEventInput } from '../../src/contracts/audit.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';

export { AUDIT_GENESIS } from '../../src/contracts/audit.js';

/** SHA-256 of a string, hex. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Seal an event into the chain: its canonical body (what the store keeps and the hash covers)
 * and the stored event.
 */
export function sealEvent(input: AuditEventInput, time: string, seq: number, prevHash: string): { event: AuditEvent; body: string } {
  const unsealed = { ...input, seq, time, prevHash };
  const body = canonicalJson(unsealed);
  return { event: { ...unsealed, hash: sha256Hex(body) }, body };
}

/** The canonical body of a stored event (everything but `hash`): what its hash must be the SHA-256 of. */
export function eventBody(event: AuditEvent): string {
  const { hash: _hash, ...rest } = event;
  return canonicalJson(rest);
}

/** The bytes a checkpoint's signature covers: its canonical JSON without `signature`. */
export function checkpointPayload(c: Omit<AuditCheckpoint, 'signature'> | AuditCheckpoint): string {
  const { signature: _sig, ...rest } = c as AuditCheckpoint;
  return canonicalJson(rest);
}

/** A checkpoint's digest: SHA-256 of its canonical JSON, signature included (the next one's `prev`). */
export function checkpointDigest(c: AuditCheckpoint): string {
  return sha256Hex(canonicalJson(c));
}
