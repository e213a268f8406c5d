/**
 * Revoked users: `skillgate revoke --user <id>` writes `<stateDir>/revocations.json`; every
 * running gateway and worker sees it on the next request or skill step (the file's mtime is
 * checked on each lookup — a stat, a few microseconds — and re-read when it changed).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setOwn } from '../../src/shared/own.js';

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
  /** Set while the file exists but cannot be read as a revocation list: then everyone is refused. */
  let broken: string | undefined;
  const load = (): FileShape => {
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      seenMtime = -1;
      broken = undefined;
      cache = { users: {} };
      return cache;
    }
    if (mtime !== seenMtime) {
      // Writes are atomic (rename), so a file that does not parse is damaged, not half-written:
      // fail closed — refuse everyone, say why — rather than forget who was revoked.
      try {
        const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        const users = (data as { users?: unknown } | null)?.users;
        if (users === null || typeof users !== 'object' || Array.isArray(users)) throw new Error('expected { "users": { "<id>": { "at", "by" } } }');
        cache = { users: users as Record<string, Revocation> };
        broken = undefined;
      } catch (err) {
        broken = `the revocation list ${file} cannot be read (${(err as Error).message}); every user is refused until it is fixed`;
      }
      seenMtime = mtime;
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
    isRevoked: (userId) => {
      const users = load().users;
      if (broken) return { at: new Date(0).toISOString(), by: 'skillgate', reason: broken };
      return Object.hasOwn(users, userId) ? users[userId] : undefined;
    },
    revoke: (userId, r) => {
      const data = structuredClone(load());
      if (broken) throw new Error(broken);
      setOwn(data.users, userId, { at: new Date().toISOString(), ...r });
      save(data);
    },
    restore: (userId) => {
      const data = structuredClone(load());
      if (broken) throw new Error(broken);
      if (!Object.hasOwn(data.users, userId)) return false;
      delete data.users[userId];
      save(data);
      return true;
    },
    list: () => ({ ...load().users }),
  };
}
