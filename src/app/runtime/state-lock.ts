/**
 * One `skillgate dev` per state folder: an exclusive lock taken before anything starts, which
 * also says what that runtime is (`<stateDir>/runtime.json`): its pid, its public URL, its
 * Temporal child. A second start exits at once naming the running one; `skillgate token`
 * mints for the runtime actually running; a start after a `kill -9` finds what the dead one
 * left behind (its Temporal child still holding the ports and the database) and stops it.
 *
 * The lock is the file itself, created with link(2), which is atomic and fails if the name
 * exists: two starts at the same instant cannot both win. A lock whose holder is dead is moved
 * aside with rename(2) (only one taker succeeds) before the link is tried again.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the lock says about the runtime holding it. */
export interface RuntimeInfo {
  pid: number;
  /** ISO time. */
  startedAt: string;
  configFile: string;
  /** Filled once the front door listens. */
  publicUrl?: string;
  /** Filled once Temporal runs. */
  temporal?: { address: string; uiUrl?: string; pid?: number; dbFile?: string };
}

export type StateLockErrorCode =
  /** Another living `skillgate dev` holds this state folder. */
  'ERR_STATE_LOCKED';

export class StateLockError extends Error {
  constructor(
    readonly code: StateLockErrorCode,
    message: string,
    readonly holder: RuntimeInfo,
  ) {
    super(message);
    this.name = 'StateLockError';
  }
}

export interface StateLock {
  readonly file: string;
  /** What a holder that died without releasing the lock had recorded (to clean up after it). */
  readonly previous: RuntimeInfo | undefined;
  /** Record more about this runtime (its URL, its Temporal child). */
  update(info: Partial<Omit<RuntimeInfo, 'pid' | 'startedAt'>>): void;
  /** Remove the lock if it is still ours. Safe to call twice. */
  release(): void;
}

/** `<stateDir>/runtime.json`. */
export function runtimeFile(stateDir: string): string {
  return join(stateDir, 'runtime.json');
}

/** Whether a process with this pid is alive (not a zombie, where /proc tells). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) said it exists
  }
}

/** The command line of a process, for telling our own leftovers from an unrelated process that reused a pid. */
export function processCommand(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    try {
      return execFileSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
    } catch {
      return undefined;
    }
  }
}

/** The runtime recorded in the state folder, if its process is alive. */
export function runningRuntime(stateDir: string): RuntimeInfo | undefined {
  const info = readInfo(runtimeFile(stateDir));
  return info && processAlive(info.pid) ? info : undefined;
}

function readInfo(file: string): RuntimeInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as RuntimeInfo;
    return typeof info?.pid === 'number' ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Take the state folder's lock, or throw StateLockError naming the runtime that holds it.
 *
 * @example
 * const lock = acquireStateLock(stateDir, { configFile });
 * lock.update({ publicUrl: 'http://127.0.0.1:8787' });
 * // … on stop:
 * lock.release();
 */
export function acquireStateLock(stateDir: string, opts: { configFile: string }): StateLock {
  mkdirSync(stateDir, { recursive: true });
  const file = runtimeFile(stateDir);
  let info: RuntimeInfo = { pid: process.pid, startedAt: new Date().toISOString(), configFile: opts.configFile };
  let previous: RuntimeInfo | undefined;
  const write = (target: string) => writeFileSync(target, `${JSON.stringify(info, null, 2)}\n`);

  for (let attempt = 0; ; attempt++) {
    const candidate = `${file}.${process.pid}.${randomUUID()}.tmp`;
    write(candidate);
    try {
      linkSync(candidate, file);
      rmSync(candidate, { force: true });
      break;
    } catch (err) {
      rmSync(candidate, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readInfo(file);
    if (holder && holder.pid !== process.pid && processAlive(holder.pid)) {
      throw new StateLockError(
        'ERR_STATE_LOCKED',
        `another skillgate dev (pid ${holder.pid}, started ${holder.startedAt}${holder.publicUrl ? `, ${holder.publicUrl}` : ''}) is running with this state folder (${stateDir}): stop it first, or give this one another stateDir`,
        holder,
      );
    }
    // Dead (or unreadable) holder: move its lock aside — only one taker's rename succeeds.
    const aside = `${file}.stale.${randomUUID()}`;
    try {
      renameSync(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      continue;
    }
    const moved = readInfo(aside);
    if (moved && moved.pid !== holder?.pid && processAlive(moved.pid)) {
      // Between our read and our rename another start took the lock: give it back (link
      // fails only if yet another one holds it now) and look again.
      try {
        linkSync(aside, file);
      } catch {
        /* someone holds it: the next turn sees them */
      }
    } else {
      previous ??= holder;
    }
    rmSync(aside, { force: true });
    if (attempt > 20) throw new Error(`cannot take the lock ${file}`);
  }

  let released = false;
  return {
    file,
    previous,
    update(more) {
      if (released) return;
      info = { ...info, ...more };
      // Replace atomically: readers see the old or the new content, never half of it.
      const tmp = `${file}.${process.pid}.tmp`;
      write(tmp);
      renameSync(tmp, file);
    },
    release() {
      if (released) return;
      released = true;
      if (readInfo(file)?.pid === process.pid) rmSync(file, { force: true });
    },
  };
}
