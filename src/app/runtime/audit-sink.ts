/**
 * Where audit events go until the audit log (gateway/audit/, issue 12) is wired in: one
 * structured log line per event (`event: "audit"`), so nothing a producer records is lost and
 * an operator can read it with `grep '"event":"audit"'`. Never throws, never blocks (the log
 * writes one line synchronously, like a refusal).
 */
import type { AuditEventInput, AuditSink } from '../../contracts/audit.js';
import type { Logger } from '../../../gateway/log.js';

/** An AuditSink writing each event as one log line. */
export function logAuditSink(log: Logger): AuditSink {
  return {
    record(event: AuditEventInput) {
      try {
        log.info(`audit ${event.kind}`, { event: 'audit', audit: event });
      } catch {
        // The audit sink never breaks the call path.
      }
    },
  };
}
