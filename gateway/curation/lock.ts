/**
 * `tools.lock.json`: the pinned catalog on disk. Per server, who it is (serverInfo, and the
 * command or URL it is reached by) and its grade; per approved tool, the SHA-256 of its
 * definition (definition.ts), its grade, who approved it and when. Written sorted and indented
 * so that an approval is a reviewable diff.
 *
 * A lock file that is missing or does not parse is never treated as empty: reading it throws a
 * LockError whose message says how to recover, and the catalog serves no upstream tool.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { z } from 'zod';

const grade = z.enum(['A', 'B', 'C', 'D', 'F']);

const identitySchema = z
  .object({
    name: z.string(),
    version: z.string(),
    title: z.string().optional(),
    command: z.string().optional(),
    args: z.array(z.string()).optional(),
    url: z.string().optional(),
  })
  .strict();

const pinSchema = z
  .object({
    hash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'a hash like "sha256:<64 hex digits>"'),
    grade,
    approvedBy: z.string().min(1),
    approvedAt: z.iso.datetime(),
  })
  .strict();

const serverSchema = z
  .object({
    identity: identitySchema,
    grade,
    tools: z.record(z.string(), pinSchema),
  })
  .strict();

export const lockSchema = z
  .object({
    lockfileVersion: z.literal(1),
    servers: z.record(z.string(), serverSchema),
  })
  .strict();

export type PinLock = z.infer<typeof lockSchema>;
export type ServerPins = z.infer<typeof serverSchema>;
export type ToolPin = z.infer<typeof pinSchema>;

export type LockErrorCode =
  /** The file is not there (or the database holds no lock yet). */
  | 'ERR_LOCK_MISSING'
  /** The file is there but is not a valid lock (JSON or shape). */
  | 'ERR_LOCK_CORRUPT'
  /** The database holding the lock could not be reached or confirmed current for too long. */
  | 'ERR_LOCK_UNAVAILABLE'
  /** Someone else changed the lock between this approval's read and its write. */
  | 'ERR_LOCK_CONFLICT';

/** The lock file cannot be used; `message` says what is wrong and how to recover. */
export class LockError extends Error {
  constructor(
    readonly code: LockErrorCode,
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'LockError';
  }
}

/** How to get a working lock back (part of every LockError message). */
export function recovery(file: string, missing: boolean): string {
  const name = basename(file);
  return missing
    ? `restore it (git checkout -- ${name}) or approve each server again: skillgate curate <server> --approve`
    : `restore it (git checkout -- ${name}), or fix it, or delete it and approve each server again: skillgate curate <server> --approve`;
}

/** Parse lock file text. Throws LockError ERR_LOCK_CORRUPT naming the problem (JSON position or key path). */
export function parseLock(text: string, file: string): PinLock {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new LockError('ERR_LOCK_CORRUPT', `${file} is corrupt (not JSON: ${(err as Error).message}); no upstream tool is served until it is fixed: ${recovery(file, false)}`, file);
  }
  const r = lockSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.map(String).join('.') || '(top level)';
    throw new LockError('ERR_LOCK_CORRUPT', `${file} is corrupt (${where}: ${issue.message}); no upstream tool is served until it is fixed: ${recovery(file, false)}`, file);
  }
  return r.data;
}

/** Read the lock file. Throws LockError (ERR_LOCK_MISSING / ERR_LOCK_CORRUPT), never returns an empty lock for a bad file. */
export function readLock(file: string): PinLock {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LockError('ERR_LOCK_MISSING', `${file} is missing; no upstream tool is served until tools are approved: ${recovery(file, true)}`, file);
    throw new LockError('ERR_LOCK_CORRUPT', `${file} cannot be read (${code}); no upstream tool is served until it can: ${recovery(file, false)}`, file);
  }
  return parseLock(text, file);
}

function sortKeys<V>(record: Readonly<Record<string, V>>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(record).sort()) Object.defineProperty(out, k, { value: record[k], enumerable: true, writable: true, configurable: true });
  return out;
}

/** The lock as written: servers and tools sorted, two-space indent, final newline. */
export function formatLock(lock: PinLock): string {
  const servers: Record<string, ServerPins> = {};
  for (const [name, s] of Object.entries(sortKeys(lock.servers))) {
    Object.defineProperty(servers, name, { value: { identity: s.identity, grade: s.grade, tools: sortKeys(s.tools) }, enumerable: true, writable: true, configurable: true });
  }
  return `${JSON.stringify({ lockfileVersion: 1, servers }, null, 2)}\n`;
}

/** Write the lock atomically (a temporary file renamed over it: a watcher never reads half a file). */
export function writeLock(file: string, lock: PinLock): void {
  const tmp = `${file}.${randomUUID()}.tmp`;
  writeFileSync(tmp, formatLock(lockSchema.parse(lock)));
  renameSync(tmp, file);
}
