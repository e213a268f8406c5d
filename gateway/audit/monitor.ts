/**
 * The chain's verification status for the admin page. A full verification of the store runs
 * at start, every `intervalMs` and on request; in between, `refresh()` verifies only what was
 * appended since (resuming from the state the last verification ended in), so the status a
 * page shows covers the newest events at the cost of those events alone. An edit of an event
 * already verified is found by the next full verification. One verification runs at a time;
 * it reads the store in pages, so the event loop keeps serving.
 */
import type { KeyObject } from 'node:crypto';
import type { AuditStore } from './store.js';
import { type VerifyReport, verifyRecords, type VerifyState } from './verify.js';

export interface ChainStatus {
  /** When the last full verification finished, and how long it took (ms). */
  fullAt?: string;
  fullMs?: number;
  /** When the status was last brought up to date (full or incremental). */
  checkedAt?: string;
  /** Totals over the whole chain as verified so far; `ok: false` names the first broken event. */
  report?: VerifyReport;
  /** Verification itself could not run (the store could not be read). */
  error?: string;
  running: boolean;
}

export interface ChainMonitor {
  status(): ChainStatus;
  /** Verify what was appended since the last verification (or join the one running). */
  refresh(): Promise<ChainStatus>;
  /** Verify the whole chain now (or join the one running). */
  verifyNow(): Promise<ChainStatus>;
  close(): void;
}

/**
 * @example const monitor = chainMonitor(store, keys, { intervalMs: 10 * 60_000 }); (await monitor.refresh()).report?.ok
 */
export function chainMonitor(store: AuditStore, keys: ReadonlyMap<string, KeyObject>, opts: { intervalMs?: number; now?: () => number } = {}): ChainMonitor {
  const now = opts.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();
  let status: ChainStatus = { running: false };
  /** Where the last verification ended, when it was ok. */
  let state: VerifyState | undefined;
  let running: Promise<ChainStatus> | undefined;

  const exclusive = (work: () => Promise<void>): Promise<ChainStatus> => {
    const next = (running ?? Promise.resolve(status)).then(async () => {
      status = { ...status, running: true };
      try {
        await work();
      } catch (err) {
        status = { ...status, error: (err as Error).message, checkedAt: iso() };
      }
      status = { ...status, running: false };
      return status;
    });
    running = next.finally(() => {
      if (running === next) running = undefined;
    });
    return next;
  };

  const full = () =>
    exclusive(async () => {
      const started = now();
      const report = await verifyRecords(store.records(), { keys });
      state = report.ok ? report.end : undefined;
      status = { running: true, report, fullAt: iso(), fullMs: now() - started, checkedAt: iso() };
    });

  const incremental = () =>
    exclusive(async () => {
      const base = status.report;
      if (!state || !base?.ok) return;
      const head = await store.head();
      if (head.seq === state.seq && (head.checkpoint?.n ?? 0) === (state.checkpoint?.n ?? 0)) {
        status = { ...status, checkedAt: iso() };
        return;
      }
      const more = await verifyRecords(store.records({ fromSeq: state.seq + 1, afterCheckpoint: state.checkpoint?.n ?? 0 }), { keys, resume: state });
      state = more.ok ? more.end : undefined;
      const report: VerifyReport = {
        ...more,
        events: base.events + more.events,
        checkpoints: base.checkpoints + more.checkpoints,
        ...(base.firstSeq !== undefined ? { firstSeq: base.firstSeq } : {}),
        ...(more.lastSeq === undefined && base.lastSeq !== undefined ? { lastSeq: base.lastSeq } : {}),
      };
      status = { ...status, report, checkedAt: iso() };
    });

  const timer = opts.intervalMs ? setInterval(() => void full(), opts.intervalMs) : undefined;
  timer?.unref();
  void full();
  return {
    status: () => status,
    refresh: incremental,
    verifyNow: full,
    close: () => clearInterval(timer),
  };
}
