/**
 * Revoked users: `skillgate revoke --user <id>` writes `<stateDir>/revocations.json`; every
 * running gateway and worker sees it on the next request or skill step (the file's mtime is
 * checked on each lookup — a stat, a few microseconds — and re-read when it changed).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface Revocation {
  /** ISO time of the revocation. */
  at: string;
  by: string;
  reason?: string;
}

export interface RevocationStore {
  isRevoked(userId: string): Revocation | undefined;
  revoke(userId: string, r: Omit<Revocation, 'at'>): void;
  restore(userId: string): boolean;
  list(): Record<string, Revocation>;
  readonly file: string;
}

interface FileShape {
  users: Record<string, Revocation>;
}

export function openRevocations(stateDir: string): RevocationStore {
  const file = join(stateDir, 'revocations.json');
  let cache: FileShape = { users: {} };
  let seenMtime = -1;
  const load = (): FileShape => {
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      seenMtime = -1;
      cache = { users: {} };
      return cache;
    }
    if (mtime !== seenMtime) {
      try {
        cache = JSON.parse(readFileSync(file, 'utf8')) as FileShape;
        seenMtime = mtime;
      } catch {
        // Mid-write or damaged: fail closed for nobody, keep the last good view and retry next time.
      }
    }
    return cache;
  };
  const save = (data: FileShape) => {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`);
    renameSync(tmp, file);
    seenMtime = -1;
  };
  return {
    file,
    isRevoked: (userId) => load().users[userId],
    revoke: (userId, r) => {
      const data = structuredClone(load());
      data.users[userId] = { at: new Date().toISOString(), ...r };
      save(data);
    },
    restore: (userId) => {
      const data = structuredClone(load());
      if (!data.users[userId]) return false;
      delete data.users[userId];
      save(data);
      return true;
    },
    list: () => ({ ...load().users }),
  };
}
