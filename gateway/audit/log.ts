/**
 * The audit log: the `AuditSink` every producer records into, over an `AuditStore`.
 *
 * `record()` never throws and never waits: it stamps the event's time and queues it. The
 * queue is written at the end of the current microtask run (`flushOn: 'microtask'`, the
 * default) — after the producer's synchronous code, before the event loop turns, so before
 * the answer of the call that caused it reaches the network — in one transaction that seals
 * each event into the chain (seq, prevHash, hash) after the head as stored. So every event of
 * a call is in the store before the agent sees the answer; BENCHMARKS.md ("Audit trail") has
 * what that costs next to batching on `setImmediate`, and why this is the default.
 *
 * Every `checkpointEvery` events, every `checkpointInterval` when events are unsigned, and at
 * `close()`, the write also carries a signed checkpoint and is fsynced (store `durable`).
 *
 * When the store is busy (another process writing) the queue is kept and retried a few
 * milliseconds later; when it fails, retried with backoff, and past `maxPending` queued
 * events new ones are counted as lost and recorded as one `audit.gap` event once the store
 * takes writes again. `status()` says so (`/healthz` reports it).
 */
import type { AuditCheckpoint, AuditEventInput, AuditSink } from '../../src/contracts/audit.js';
import { AUDIT_GENESIS } from '../../src/contracts/audit.js';
import { AuditError } from './errors.js';
import { checkpointPayload, sealEvent } from './hash.js';
import type { CheckpointSigner } from './keys.js';
import type { AuditStore, ChainHead, SealedEvent } from './store.js';

export interface AuditLogOptions {
  store: AuditStore;
  signer: CheckpointSigner;
  /** The workspace of the log's own events (`audit.gap`). */
  workspace: string;
  /** Sign a checkpoint once this many events are unsigned (default 1000). */
  checkpointEvery?: number;
  /** …or once the oldest unsigned event is this old, in ms (default 60 s). */
  checkpointIntervalMs?: number;
  /** When queued events are written: `microtask` (default) or `immediate` (setImmediate, batches more). */
  flushOn?: 'microtask' | 'immediate';
  /** Queued events kept while the store cannot be written (default 100,000); more are lost and counted. */
  maxPending?: number;
  /** Told about storage trouble (the runtime logs it). Never given event contents. */
  onProblem?: (message: string, fields: Record<string, unknown>) => void;
  /** Clock (ms), for tests. */
  now?: () => number;
}

/** The log's health, for `/healthz` and the admin page. */
export interface AuditLogStatus {
  ok: boolean;
  /** Events queued, not yet stored. */
  pending: number;
  /** Events lost since the last `audit.gap` was written. */
  lost: number;
  /** Why writing fails, while it does. */
  failing?: string;
  head?: ChainHead;
}

export interface AuditLog extends AuditSink {
  /** Write what is queued now. */
  flush(): Promise<void>;
  /** Write what is queued with a signed checkpoint over the whole chain (none when nothing is unsigned). */
  checkpoint(): Promise<AuditCheckpoint | undefined>;
  status(): AuditLogStatus;
  /** Flush with a final checkpoint; later records are counted as lost. */
  close(): Promise<void>;
}

interface Pending {
  input: AuditEventInput;
  time: string;
}

/**
 * @example
 * const log = createAuditLog({ store: openSqliteAuditStore(file), signer, workspace: 'acme-bank' });
 * log.record({ kind: 'decision', outcome: 'allow', workspace: 'acme-bank', user: 'intern', agent: 'hr-assistant' });
 */
export function createAuditLog(opts: AuditLogOptions): AuditLog {
  const { store, signer } = opts;
  const every = opts.checkpointEvery ?? 1000;
  const intervalMs = opts.checkpointIntervalMs ?? 60_000;
  const maxPending = opts.maxPending ?? 100_000;
  const now = opts.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();
  const problem = opts.onProblem ?? (() => {});

  let pending: Pending[] = [];
  let scheduled = false;
  /** A store write has not settled yet (for SQLite: only until its already-resolved promise is observed). */
  let appending = false;
  /** Flush again once the write in progress settles; with a checkpoint when asked for one. */
  let again: { checkpoint: boolean } | undefined;
  /** Callers of flush()/checkpoint() waiting for the queue to be written. */
  let waiters: Array<{ resolve: (c: AuditCheckpoint | undefined) => void; checkpoint: boolean }> = [];
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;
  let failing: string | undefined;
  let lost: { count: number; from?: string; to?: string } = { count: 0 };
  let closed = false;
  let head: ChainHead | undefined;
  /**
   * The last write failed in a way that may have committed it anyway (PostgreSQL: a connection
   * lost at COMMIT): the seq and hash of its last event, its events (first of `pending`) and the
   * events its gap counted. Before anything else is written, the store is asked for that event
   * (resolveDoubt): stored, those events are not written twice; not stored, they are.
   */
  let inDoubt: { seq: number; hash: string; events: number; gap: number } | undefined;
  /** When the oldest event not covered by a checkpoint was written (undefined: all covered). */
  let unsignedSince: number | undefined;

  const schedule = () => {
    if (scheduled || retry) return;
    scheduled = true;
    const run = () => {
      scheduled = false;
      flushNow(false);
    };
    if (opts.flushOn === 'immediate') setImmediate(run);
    else queueMicrotask(run);
  };

  const makeCheckpoint = (h: ChainHead, seq: number, headHash: string): AuditCheckpoint => {
    const payload: Omit<AuditCheckpoint, 'signature'> = {
      v: 1,
      n: (h.checkpoint?.n ?? 0) + 1,
      seq,
      count: seq,
      headHash,
      prev: h.checkpoint?.digest ?? AUDIT_GENESIS,
      time: iso(),
      keyId: signer.keyId,
      alg: 'EdDSA',
    };
    return { ...payload, signature: signer.sign(checkpointPayload(payload)) };
  };

  const countLost = (n: number, from: string, to: string) => {
    lost = { count: lost.count + n, from: lost.from ?? from, to };
  };

  const settleWaiters = (made: AuditCheckpoint | undefined) => {
    const done = waiters;
    waiters = [];
    for (const w of done) w.resolve(made);
  };

  /**
   * Write what is queued, now. The store's `append` is called synchronously from here, so a
   * store that writes synchronously (SQLite) has the events before this returns; its promise
   * is observed with `.then` directly (no async hops), so the next flush is not held back.
   */
  const flushNow = (forceCheckpoint: boolean): void => {
    if (appending) {
      again = { checkpoint: forceCheckpoint || (again?.checkpoint ?? false) };
      return;
    }
    // Nothing is written before a write in doubt is settled (retryLater does, then flushes).
    if (inDoubt) {
      retryLater(forceCheckpoint, 0);
      return;
    }
    if (pending.length === 0 && lost.count === 0 && !forceCheckpoint) {
      settleWaiters(undefined);
      return;
    }
    const batch = pending;
    pending = [];
    /** What this write would leave at the head, and what it holds (set once built). */
    let built: { seq: number; hash: string; events: number; gap: number } | undefined;
    const unsignedAfter = (head ? head.seq - (head.checkpoint?.seq ?? 0) : 0) + batch.length + (lost.count ? 1 : 0);
    const due = forceCheckpoint || unsignedAfter >= every || (unsignedSince !== undefined && now() - unsignedSince >= intervalMs);
    let made: AuditCheckpoint | undefined;
    appending = true;
    let written: Promise<ChainHead>;
    try {
      written = store.append(
        (h) => {
          made = undefined;
          // Counted when the write is built (a store may read its head after a round trip).
          const gapCount = lost.count;
          const items: Pending[] = gapCount > 0 ? [{ input: gapEvent(opts.workspace, lost, failing), time: iso() }, ...batch] : batch;
          let seq = h.seq;
          let prev = h.hash;
          const events: SealedEvent[] = [];
          for (const p of items) {
            const sealed = sealEvent(p.input, p.time, ++seq, prev);
            prev = sealed.event.hash;
            events.push(sealed);
          }
          if (due && seq > (h.checkpoint?.seq ?? 0)) made = makeCheckpoint(h, seq, prev);
          built = events.length ? { seq, hash: prev, events: batch.length, gap: gapCount } : undefined;
          return made ? { events, checkpoint: made } : { events };
        },
        { durable: due },
      );
    } catch (err) {
      written = Promise.reject(err as Error);
    }
    written.then(
      (h) => {
        appending = false;
        head = h;
        if (built?.gap) lost = { count: lost.count - built.gap };
        if (failing) problem('the audit store takes writes again', { pending: pending.length });
        failures = 0;
        failing = undefined;
        if (head.seq - (head.checkpoint?.seq ?? 0) === 0) unsignedSince = undefined;
        else unsignedSince ??= now();
        const next = again;
        again = undefined;
        if (next || pending.length) flushNow(next?.checkpoint ?? false);
        else settleWaiters(made);
      },
      (err: unknown) => {
        appending = false;
        // Keep them, in order, ahead of anything recorded meanwhile (bounded).
        pending = batch.concat(pending);
        const busy = err instanceof AuditError && err.code === 'ERR_AUDIT_BUSY';
        // Busy: refused before anything was written. Otherwise it may have been committed.
        if (!busy && built) inDoubt = built;
        if (pending.length > maxPending) {
          const dropped = pending.splice(maxPending);
          countLost(dropped.length, dropped[0]!.time, dropped[dropped.length - 1]!.time);
          // The write in doubt no longer heads the queue as it was built.
          if (inDoubt && inDoubt.events > pending.length) inDoubt = undefined;
        }
        if (!busy) {
          failures++;
          failing = (err as Error).message;
          problem('the audit store cannot be written; events are kept in memory and retried', { error: failing, pending: pending.length, lost: lost.count });
          // Whoever waits hears now; the events stay queued for the retry.
          settleWaiters(undefined);
        }
        retryLater(again?.checkpoint === true || forceCheckpoint, busy ? 5 + Math.floor(Math.random() * 10) : Math.min(30_000, 250 * 2 ** Math.min(failures, 7)));
        again = undefined;
      },
    );
  };

  /**
   * Settle a write in doubt by reading its last event back: stored, its events leave the queue
   * (and its gap's count the lost ones). Resolves the error's message while the store cannot be read.
   */
  const resolveDoubt = async (): Promise<true | string> => {
    const d = inDoubt;
    if (!d) return true;
    let stored: boolean;
    try {
      stored = (await store.get(d.seq))?.hash === d.hash;
    } catch (err) {
      return (err as Error).message;
    }
    if (inDoubt !== d) return true;
    inDoubt = undefined;
    if (stored) {
      pending = pending.slice(d.events);
      if (d.gap) lost = { count: lost.count - d.gap };
    }
    return true;
  };

  const retryLater = (forced: boolean, delay: number) => {
    if (retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      if (!inDoubt) return flushNow(forced);
      void resolveDoubt().then((settled) => {
        if (settled === true) return flushNow(forced);
        // Still unreachable: whoever waits hears now (as for a failed write); tried again later.
        failures++;
        failing = settled;
        settleWaiters(undefined);
        retryLater(forced, Math.min(30_000, 250 * 2 ** Math.min(failures, 7)));
      });
    }, delay);
    retry.unref?.();
  };

  /** Write the queue (with a checkpoint when asked); settles once written, or once writing has failed. */
  const flush = (forceCheckpoint = false): Promise<AuditCheckpoint | undefined> =>
    new Promise((resolve) => {
      waiters.push({ resolve, checkpoint: forceCheckpoint });
      if (!retry) flushNow(forceCheckpoint);
    });

  const timer = setInterval(() => {
    if (unsignedSince !== undefined && now() - unsignedSince >= intervalMs) void flush(true);
  }, Math.max(10, Math.min(intervalMs, 60_000)));
  timer.unref();

  // A process ending on an uncaught error still writes what it queued (stores that write
  // synchronously, like SQLite, complete inside this handler).
  const onExit = () => {
    if (pending.length && !appending && !inDoubt) flushNow(false);
  };
  process.on('exit', onExit);

  return {
    record(input) {
      try {
        if (closed) {
          countLost(1, iso(), iso());
          return;
        }
        if (pending.length >= maxPending) {
          const t = iso();
          countLost(1, t, t);
          return;
        }
        pending.push({ input, time: iso() });
        schedule();
      } catch {
        // record() never throws (contracts/audit.ts): a broken clock or a full queue is counted above.
      }
    },
    flush: async () => {
      await flush();
    },
    checkpoint: () => flush(true),
    status: () => ({ ok: failing === undefined && lost.count === 0, pending: pending.length, lost: lost.count, ...(failing ? { failing } : {}), ...(head ? { head } : {}) }),
    async close() {
      if (closed) return;
      clearInterval(timer);
      clearTimeout(retry);
      retry = undefined;
      // A write in doubt is settled first, or its events could be written twice.
      if ((await resolveDoubt()) !== true) {
        problem('the audit log closed with events it could not store', { pending: pending.length, lost: lost.count });
        closed = true;
        process.off('exit', onExit);
        return;
      }
      await flush(true);
      closed = true;
      process.off('exit', onExit);
      if (pending.length || lost.count) problem('the audit log closed with events it could not store', { pending: pending.length, lost: lost.count });
    },
  };
}

function gapEvent(workspace: string, lost: { count: number; from?: string; to?: string }, cause: string | undefined): AuditEventInput {
  return {
    kind: 'audit.gap',
    outcome: 'error',
    reason: 'ERR_AUDIT_LOST',
    workspace,
    detail: { lost: lost.count, from: lost.from ?? null, to: lost.to ?? null, ...(cause ? { cause } : {}) },
  };
}
