/**
 * Where the audit trail is kept, behind one interface: SQLite on one machine (sqlite-store.ts);
 * a PostgreSQL store implements the same for several (scale-out). The store keeps rows and
 * serialises writers; the chain (hashes, checkpoints) is built by the log (log.ts) inside the
 * store's write transaction, so every backend chains the same way.
 */
import type { AuditCheckpoint, AuditEvent } from '../../src/contracts/audit.js';

/** The end of the chain as stored: the last event and the last checkpoint. */
export interface ChainHead {
  /** 0 when the store is empty. */
  seq: number;
  /** Hash of event `seq` (AUDIT_GENESIS when empty). */
  hash: string;
  /** Time of event `seq`. */
  time?: string;
  checkpoint?: { n: number; seq: number; digest: string; time: string };
}

/** An event ready to store: the sealed event and its canonical body (what `hash` covers). */
export interface SealedEvent {
  event: AuditEvent;
  body: string;
}

/** What one write appends, after the head it was built on. */
export interface AuditAppend {
  events: SealedEvent[];
  checkpoint?: AuditCheckpoint;
}

/** Filters of a query; every one optional, all ANDed. */
export interface AuditQuery {
  user?: string;
  agent?: string;
  gateway?: string;
  /** `<server>.<tool>`, or a tool name alone (any server). */
  tool?: string;
  skill?: string;
  kind?: string;
  /** `allow` or `deny` (any denial or refusal), or an action outcome (`ok`, `error`, `info`). */
  outcome?: string;
  /** The run's workflow id. */
  workflowId?: string;
  requestId?: string;
  /** ISO time, inclusive. */
  since?: string;
  /** ISO time, exclusive. */
  until?: string;
  /** Events with seq below this (newest-first paging). */
  before?: number;
  /** Events with seq above this (oldest-first paging, exports). */
  after?: number;
  /** Default 50, at most 1000. */
  limit?: number;
  /** Default newest first. */
  order?: 'desc' | 'asc';
}

/** One page: the events, and the cursor of the next (older, or newer when ascending) page. */
export interface AuditPage {
  events: AuditEvent[];
  next?: number;
}

/**
 * One stored record as verification reads it: the parsed event with the exact stored body,
 * or a checkpoint. `problem` is set when the row itself is unreadable or its indexed columns
 * disagree with its body (an edit made to deceive queries).
 */
export type StoredRecord =
  | { type: 'event'; seq: number; body: string; hash: string; event?: AuditEvent; problem?: string }
  | { type: 'checkpoint'; n: number; body: string; checkpoint?: AuditCheckpoint; problem?: string };

export interface AuditStore {
  /**
   * Append atomically after the current head, serialised with every other writer (other
   * processes included): `build` gets the head as stored and returns what to append. With
   * `durable`, the write is on disk (fsynced) when this settles. Throws AuditError
   * ERR_AUDIT_BUSY when another writer holds the store (the caller retries later).
   */
  append(build: (head: ChainHead) => AuditAppend, opts?: { durable?: boolean }): Promise<ChainHead>;
  head(): Promise<ChainHead>;
  query(q: AuditQuery): Promise<AuditPage>;
  get(seq: number): Promise<AuditEvent | undefined>;
  /** Number of events matching (for the page's counts). */
  count(q: Omit<AuditQuery, 'before' | 'after' | 'limit' | 'order'>): Promise<number>;
  /**
   * Every record from event `fromSeq` on (default 1), checkpoints after the event they cover:
   * those over these events, or with `afterCheckpoint`, every checkpoint numbered above it (a
   * resumed verification also needs new checkpoints over events it has seen).
   */
  records(opts?: { fromSeq?: number; toSeq?: number; afterCheckpoint?: number }): AsyncIterable<StoredRecord>;
  /** The last checkpoint at or before `seq`. */
  checkpointAtOrBefore(seq: number): Promise<AuditCheckpoint | undefined>;
  /** The first event at or after `time` (exports from a time). */
  firstSeqSince(time: string): Promise<number | undefined>;
  close(): Promise<void>;
}
