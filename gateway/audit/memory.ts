import type { AuditEventInput, AuditSink } from '../../src/contracts/audit.js';

/**
 * A sink that keeps events in memory, in order: for tests that check what was recorded, and
 * for tools that decide to drop them — said explicitly where one is built, since every
 * producer requires a sink.
 */
export function memoryAuditSink(): AuditSink & { events: AuditEventInput[] } {
  const events: AuditEventInput[] = [];
  return { events, record: (e) => void events.push(structuredClone(e)) };
}
