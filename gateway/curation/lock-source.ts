/**
 * Where the pinned catalog is kept, behind one interface: `tools.lock.json` on one machine
 * (this file: a reviewable diff per approval, watched by the gateway), or PostgreSQL for several
 * replicas (lock-postgres.ts: one lock every replica follows). The catalog on the call path
 * (catalog.ts) and the approvals (service.ts, `skillgate curate --approve`) only see this.
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type LockError, type PinLock, readLock, writeLock } from './lock.js';

export interface LockSource {
  /** What the lock is called in messages: the file's name, or "the pinned catalog in postgres://host:port/db". */
  readonly name: string;
  /** Where it is: the file's path, or `postgres://host:port/db` (never a password). */
  readonly where: string;
  /** The lock as last read. Throws LockError (missing, corrupt): never an empty lock for a bad one. */
  read(): PinLock;
  /**
   * Why the lock last read may no longer be current — a replica that could not confirm it for
   * `storage.postgres.maxStalenessMs` — or undefined. The catalog serves nothing meanwhile.
   */
  problem(): LockError | undefined;
  /**
   * Replace the lock (an approval). On PostgreSQL a compare-and-set on the version the last
   * `read()` returned: a lock changed since by someone else throws LockError ERR_LOCK_CONFLICT.
   */
  write(lock: PinLock): Promise<void>;
  /** Call `listener` (soon) after the lock may have changed; returns what stops it. */
  watch(listener: () => void): () => void;
  close(): Promise<void>;
}

/**
 * The lock in a file: read on every `read()` (a file edited by hand, or by `skillgate curate`
 * in another process, is what the next read returns), written atomically, watched by its folder.
 *
 * @example const source = fileLockSource(loaded.path(loaded.config.catalog.lockFile));
 */
export function fileLockSource(file: string): LockSource {
  const name = basename(file);
  const watchers = new Set<FSWatcher>();
  return {
    name,
    where: file,
    read: () => readLock(file),
    problem: () => undefined,
    async write(lock) {
      writeLock(file, lock);
    },
    watch(listener) {
      let watcher: FSWatcher | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        // The folder, not the file: an atomic write renames a new file over the old one.
        watcher = watch(dirname(file), { persistent: false }, (_event, filename) => {
          if (filename !== null && String(filename) !== name) return;
          clearTimeout(timer);
          timer = setTimeout(listener, 75);
          timer.unref();
        });
        watcher.on('error', () => watcher?.close());
        watchers.add(watcher);
      } catch {
        // A folder that cannot be watched: the catalog's reload() still works.
      }
      return () => {
        clearTimeout(timer);
        watcher?.close();
        if (watcher) watchers.delete(watcher);
      };
    },
    async close() {
      for (const w of watchers) w.close();
      watchers.clear();
    },
  };
}
