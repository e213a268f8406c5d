/**
 * The JSONL export (`skillgate audit export`): one JSON object per line, for a SIEM to ingest
 * and for `skillgate audit verify --export` to check offline with the public key:
 *
 *   {"type":"header","format":"skillgate-audit/1",…,"firstSeq":…,"lastSeq":…}
 *   {"type":"checkpoint","checkpoint":{…}}   only when the export starts mid-chain: the signed
 *                                            checkpoint the first event follows (its anchor)
 *   {"type":"event","event":{…}}             each event, in chain order, as stored
 *   {"type":"checkpoint","checkpoint":{…}}   after the event it covers
 *
 * An export always ends with a checkpoint over its last event, so every line is vouched for.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { AuditCheckpoint, AuditEvent, AuditExportLine } from '../../src/contracts/audit.js';
import { AuditError } from './errors.js';
import type { AuditStore } from './store.js';
import type { VerifyRecord } from './verify.js';

/** Where an export starts: from the first event, or from the first event at or after a time. */
export interface ExportOptions {
  /** ISO time: export from the checkpoint before the first event at or after it. */
  since?: string;
  workspace: string;
}

/**
 * Write the export's lines (each ending in `\n`) through `write`, up to the last checkpoint
 * (call the log's `checkpoint()` first so that it covers everything), streaming.
 */
export async function exportAudit(store: AuditStore, opts: ExportOptions, write: (line: string) => void | Promise<void>): Promise<{ events: number; checkpoints: number; firstSeq: number; lastSeq: number }> {
  const head = await store.head();
  const lastSeq = head.checkpoint?.seq ?? 0;
  let fromSeq = 1;
  let anchor: AuditCheckpoint | undefined;
  if (opts.since !== undefined) {
    const first = await store.firstSeqSince(opts.since);
    fromSeq = first === undefined || first > lastSeq ? lastSeq + 1 : first;
    anchor = fromSeq > 1 ? await store.checkpointAtOrBefore(fromSeq - 1) : undefined;
    fromSeq = anchor ? anchor.seq + 1 : 1;
  }
  const header: AuditExportLine = { type: 'header', format: 'skillgate-audit/1', workspace: opts.workspace, exportedAt: new Date().toISOString(), firstSeq: fromSeq, lastSeq };
  await write(`${JSON.stringify(header)}\n`);
  let events = 0;
  let checkpoints = 0;
  if (anchor) {
    await write(`${JSON.stringify({ type: 'checkpoint', checkpoint: anchor } satisfies AuditExportLine)}\n`);
    checkpoints++;
  }
  for await (const r of store.records({ fromSeq, toSeq: lastSeq })) {
    if (r.type === 'event') {
      if (!r.event) throw new AuditError('ERR_AUDIT_STORAGE', `event ${r.seq} cannot be read: ${r.problem ?? 'unreadable'} (run skillgate audit verify)`);
      await write(`${JSON.stringify({ type: 'event', event: r.event } satisfies AuditExportLine)}\n`);
      events++;
    } else {
      if (!r.checkpoint) throw new AuditError('ERR_AUDIT_STORAGE', `checkpoint ${r.n} cannot be read (run skillgate audit verify)`);
      await write(`${JSON.stringify({ type: 'checkpoint', checkpoint: r.checkpoint } satisfies AuditExportLine)}\n`);
      checkpoints++;
    }
  }
  return { events, checkpoints, firstSeq: fromSeq, lastSeq };
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const checkpointSchema = z
  .object({
    v: z.literal(1),
    n: z.number().int().min(1),
    seq: z.number().int().min(1),
    count: z.number().int().min(1),
    headHash: hex64,
    prev: hex64,
    time: z.string(),
    keyId: z.string().min(1),
    alg: z.literal('EdDSA'),
    signature: z.string().min(1),
  })
  .strict();
// The event's own fields are checked by its hash; here only what verification reads.
const eventSchema = z.looseObject({ seq: z.number().int().min(1), time: z.string(), kind: z.string(), outcome: z.string(), workspace: z.string(), prevHash: hex64, hash: hex64 });
const lineSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('header'), format: z.literal('skillgate-audit/1'), workspace: z.string(), exportedAt: z.string(), firstSeq: z.number().int().min(1), lastSeq: z.number().int().min(0) }).strict(),
  z.object({ type: z.literal('event'), event: eventSchema }).strict(),
  z.object({ type: z.literal('checkpoint'), checkpoint: checkpointSchema }).strict(),
]);

/** An export read back: its header, its anchor (when it starts mid-chain) and its records in order. */
export interface ParsedExport {
  header: Extract<AuditExportLine, { type: 'header' }>;
  anchor?: AuditCheckpoint;
  records: VerifyRecord[];
}

/**
 * Read an export file. A line that is not a valid export line is an AuditError naming
 * `file:line` — except that a line whose JSON is damaged is kept as an unreadable record, so
 * that verification names the event it broke.
 */
export async function readExport(file: string): Promise<ParsedExport> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let header: ParsedExport['header'] | undefined;
  let anchor: AuditCheckpoint | undefined;
  const records: VerifyRecord[] = [];
  let lineNo = 0;
  try {
    for await (const text of rl) {
      lineNo++;
      if (text.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        if (!header) throw new AuditError('ERR_AUDIT_INPUT', `${file}:${lineNo}: not JSON (an export starts with its header line)`);
        records.push({ type: 'event', problem: `line ${lineNo} of the export is not JSON` });
        continue;
      }
      const parsed = lineSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const path = issue.path.join('.');
        if (header && (json as { type?: unknown }).type === 'event') {
          records.push({ type: 'event', problem: `line ${lineNo}: ${path ? `${path}: ` : ''}${issue.message}` });
          continue;
        }
        throw new AuditError('ERR_AUDIT_INPUT', `${file}:${lineNo}: ${path ? `${path}: ` : ''}${issue.message}`);
      }
      const line = parsed.data;
      if (line.type === 'header') {
        if (header) throw new AuditError('ERR_AUDIT_INPUT', `${file}:${lineNo}: a second header line`);
        header = line;
        continue;
      }
      if (!header) throw new AuditError('ERR_AUDIT_INPUT', `${file}:${lineNo}: the export's first line must be its header`);
      if (line.type === 'checkpoint' && records.length === 0 && !anchor && header.firstSeq > 1) {
        anchor = line.checkpoint;
        continue;
      }
      if (line.type === 'event') {
        records.push({ type: 'event', event: line.event as unknown as AuditEvent });
      } else records.push({ type: 'checkpoint', checkpoint: line.checkpoint });
    }
  } catch (err) {
    if (err instanceof AuditError) throw err;
    throw new AuditError('ERR_AUDIT_INPUT', `${file}: cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (!header) throw new AuditError('ERR_AUDIT_INPUT', `${file}: empty (no header line)`);
  return { header, ...(anchor ? { anchor } : {}), records };
}
