/**
 * What both audit stores (SQLite, PostgreSQL) share about rows: the indexed columns derived
 * from an event's body, the filters of a query as SQL, and how a stored row is read back for
 * verification (an edited indexed column is a problem of that row). Each store keeps only its
 * own connection, transaction and dialect.
 */
import type { AuditCheckpoint, AuditEvent } from '../../src/contracts/audit.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { checkpointDigest } from './hash.js';
import type { AuditQuery, StoredRecord } from './store.js';

/** The indexed columns of an event, derived from its body (verification compares them). */
export function columnsOf(e: AuditEvent) {
  return {
    seq: e.seq,
    time: e.time,
    kind: e.kind,
    outcome: e.outcome,
    reason: e.reason ?? null,
    workspace: e.workspace,
    gateway: e.gateway ?? null,
    agent: e.agent ?? null,
    user: e.user ?? null,
    tool: e.tool === undefined ? null : e.server !== undefined ? `${e.server}.${e.tool}` : e.tool,
    skill: e.skill ?? null,
    workflow_id: e.ids?.workflowId ?? null,
    request_id: e.ids?.requestId ?? null,
  };
}

export type Columns = ReturnType<typeof columnsOf>;
export type EventRow = Columns & { body: string; hash: string };
export interface CheckpointRow {
  n: number;
  seq: number;
  body: string;
}

/** The columns of an event row, in the order stores insert and select them (`"user"` quoted: a keyword in PostgreSQL). */
export const EVENT_COLUMNS = ['seq', 'time', 'kind', 'outcome', 'reason', 'workspace', 'gateway', 'agent', '"user"', 'tool', 'skill', 'workflow_id', 'request_id', 'body', 'hash'] as const;

/** An event's values in EVENT_COLUMNS order (positional parameters: BENCHMARKS.md, "Audit trail"). */
export function eventValues(event: AuditEvent, body: string): unknown[] {
  const c = columnsOf(event);
  return [c.seq, c.time, c.kind, c.outcome, c.reason, c.workspace, c.gateway, c.agent, c.user, c.tool, c.skill, c.workflow_id, c.request_id, body, event.hash];
}

/** The stored row of a checkpoint: its canonical body and digest. */
export function checkpointRow(c: AuditCheckpoint): { canonicalBody: string; digest: string } {
  return { canonicalBody: canonicalJson(c), digest: checkpointDigest(c) };
}

export const parseEvent = (body: string, hash: string): AuditEvent => ({ ...(JSON.parse(body) as Omit<AuditEvent, 'hash'>), hash });

/**
 * The WHERE clause of a query's filters (all ANDed), with the store's placeholder for the
 * i-th parameter (`?` for SQLite, `$i` for PostgreSQL). `"user"` is quoted: a keyword in PostgreSQL.
 */
export function whereOf(q: Omit<AuditQuery, 'limit' | 'order'>, placeholder: (i: number) => string): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return placeholder(params.length);
  };
  const eq = (column: string, value: string | undefined) => {
    if (value === undefined || value === '') return;
    clauses.push(`${column} = ${p(value)}`);
  };
  eq('"user"', q.user);
  eq('agent', q.agent);
  eq('gateway', q.gateway);
  eq('skill', q.skill);
  eq('kind', q.kind);
  eq('workflow_id', q.workflowId);
  eq('request_id', q.requestId);
  eq('outcome', q.outcome);
  if (q.tool) {
    if (q.tool.includes('.')) eq('tool', q.tool);
    else clauses.push(`(tool = ${p(q.tool)} OR tool LIKE ${p(`%.${q.tool.replace(/[\\%_]/g, (c) => `\\${c}`)}`)} ESCAPE '\\')`);
  }
  if (q.since) clauses.push(`time >= ${p(q.since)}`);
  if (q.until) clauses.push(`time < ${p(q.until)}`);
  if (q.before !== undefined) clauses.push(`seq < ${p(q.before)}`);
  if (q.after !== undefined) clauses.push(`seq > ${p(q.after)}`);
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** A stored event row as verification reads it: an unreadable body, or indexed columns that disagree with it, is its problem. */
export function eventRecord(row: EventRow): StoredRecord {
  let event: AuditEvent | undefined;
  let problem: string | undefined;
  try {
    event = parseEvent(row.body, row.hash);
    const columns = columnsOf(event);
    // seq is checked by verification itself (a moved or inserted event, not an edited one).
    const differ = (Object.keys(columns) as Array<keyof Columns>).filter((k) => k !== 'seq' && columns[k] !== row[k]);
    if (differ.length) problem = `its indexed ${differ.join(', ')} ${differ.length === 1 ? 'differs' : 'differ'} from its content`;
  } catch {
    problem = 'its content is not JSON';
  }
  return { type: 'event', seq: row.seq, body: row.body, hash: row.hash, ...(event ? { event } : {}), ...(problem ? { problem } : {}) };
}

/** A stored checkpoint row as verification reads it. */
export function checkpointRecord(row: CheckpointRow): StoredRecord {
  let checkpoint: AuditCheckpoint | undefined;
  let problem: string | undefined;
  try {
    checkpoint = JSON.parse(row.body) as AuditCheckpoint;
    if (checkpoint.n !== row.n || checkpoint.seq !== row.seq) problem = `stored as checkpoint ${row.n} over event ${row.seq}, its content says checkpoint ${checkpoint.n} over event ${checkpoint.seq}`;
  } catch {
    problem = 'its content is not JSON';
  }
  return { type: 'checkpoint', n: row.n, body: row.body, ...(checkpoint ? { checkpoint } : {}), ...(problem ? { problem } : {}) };
}

/**
 * Every record in order: event pages (read by `nextPage(afterSeq)` until an empty one, so no
 * read transaction stays open across the caller's awaits), each checkpoint after the event it
 * covers.
 */
export async function* interleave(checkpoints: CheckpointRow[], from: number, nextPage: (after: number) => Promise<EventRow[]> | EventRow[]): AsyncGenerator<StoredRecord> {
  let c = 0;
  const upTo = function* (seq: number): Generator<StoredRecord> {
    while (c < checkpoints.length && checkpoints[c]!.seq <= seq) yield checkpointRecord(checkpoints[c++]!);
  };
  let after = from - 1;
  for (;;) {
    const rows = await nextPage(after);
    if (rows.length === 0) break;
    for (const row of rows) {
      after = row.seq;
      yield* upTo(row.seq - 1);
      yield eventRecord(row);
    }
  }
  yield* upTo(Number.MAX_SAFE_INTEGER);
}
