/**
 * A small JSON-file store for the demo business systems: their data survives restarts, and
 * two processes (a worker's stdio child and its replacement after a crash) never lose each
 * other's updates — every mutation re-reads the file under an exclusive lock and writes it
 * back atomically (temp file + rename).
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 5_000;

export interface Store<T> {
  /** The current data (re-read from disk when persisted). */
  read(): T;
  /** Apply a change atomically; returns what `fn` returns. */
  update<R>(fn: (data: T) => R): R;
  /** The backing file, or undefined when in memory. */
  readonly file?: string;
}

/**
 * A store persisted at `<dir>/<name>.json` (created with `seed()` when missing), or held in
 * memory when `dir` is undefined.
 */
export function openStore<T>(name: string, dir: string | undefined, seed: () => T): Store<T> {
  if (!dir) {
    const data = seed();
    return { read: () => data, update: (fn) => fn(data) };
  }
  const file = join(dir, `${name}.json`);
  mkdirSync(dirname(file), { recursive: true });
  const load = (): T => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return seed();
      throw new Error(`demo store ${file} is unreadable: ${(err as Error).message}`, { cause: err });
    }
  };
  const save = (data: T): void => {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`);
    renameSync(tmp, file);
  };
  withLock(file, () => {
    try {
      statSync(file);
    } catch {
      save(seed());
    }
  });
  return {
    file,
    read: load,
    update: (fn) =>
      withLock(file, () => {
        const data = load();
        const out = fn(data);
        save(data);
        return out;
      }),
  };
}

function withLock<R>(file: string, fn: () => R): R {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        // A lock left by a killed process: take it over once it is clearly stale.
        if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
      } catch {
        /* removed meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`demo store ${file} is locked by another process`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* already gone */
    }
  }
}
