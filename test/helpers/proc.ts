/**
 * Processes as Linux shows them in /proc: the descendants of a process, and what each was
 * started with (command line, environment). For tests that check what child processes inherit.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** argv, split on NUL. */
  argv: string[];
  /** The environment the process was started with (`/proc/<pid>/environ`). */
  environ: Record<string, string>;
  /** The raw environ text, for substring checks. */
  environText: string;
}

function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: fields after the last ')' are fixed.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** A process's command line and environment, or undefined when it has gone. */
export function procInfo(pid: number): ProcInfo | undefined {
  try {
    const ppid = ppidOf(pid);
    if (ppid === undefined) return undefined;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const environText = readFileSync(`/proc/${pid}/environ`, 'utf8');
    const environ: Record<string, string> = {};
    for (const entry of environText.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) environ[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return { pid, ppid, argv, environ, environText };
  } catch {
    return undefined;
  }
}

/** Every living descendant of `root` (children, their children, …). */
export function descendants(root: number): ProcInfo[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = ppidOf(pid);
    if (ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: ProcInfo[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    const info = procInfo(pid);
    if (info) out.push(info);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Whether a process with this pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}
