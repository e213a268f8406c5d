/**
 * The audit trail's event contract: what every part of Skillgate records about a decision or
 * an action (PRODUCT.md "Audit"). Producers (the front door, the pipeline, the run-actions
 * service, activities, the vault, curation) build an `AuditEventInput` and hand it to an
 * `AuditSink`; the audit log (gateway/audit/) adds time, sequence and hash chain.
 *
 * Never put a token, a secret or an unmasked argument value here: arguments travel as a digest
 * plus the masked copy; a credential is named by a hash or an id (a `jti`), never by its value.
 */
import type { Json } from './json.js';

/** What happened. One stable name per kind of event; new kinds are added, never renamed. */
export type AuditKind =
  /** An authorization decision (allow or deny), with both sides' results. */
  | 'decision'
  /** A tool call's outcome (after an allow): ok / error, latency. */
  | 'tool.call'
  /** A bearer token refused at the front door (which check, never the token). */
  | 'token.refused'
  /** A request refused before authorization (host, size, malformed, unknown gateway, …). */
  | 'request.refused'
  | 'run.started'
  | 'run.step'
  | 'run.approval'
  | 'run.authorization_wait'
  | 'run.compensation'
  | 'run.ended'
  | 'grant.connected'
  | 'grant.refreshed'
  | 'grant.revoked'
  | 'config.loaded'
  | 'policy.loaded'
  | 'catalog.changed'
  | 'catalog.approved'
  | 'admin.action'
  /** Events the log could not store (storage failing past its queue bound): how many, between which times. */
  | 'audit.gap';

/** One side of the AND-gate as decided for this request. */
export interface AuditSideDecision {
  decision: 'allow' | 'deny';
  /** Ids of the policies that decided (Cedar `@id` or file:line). */
  policies: string[];
  /** How the side decided: a permit matched, a forbid matched, nothing matched, or an evaluation error. */
  basis?: 'permit' | 'forbid' | 'no-permit' | 'error';
}

/** An authorization decision's record (OPA decision logs are the model). */
export interface AuditDecision {
  /** Which check decided: visibility, revocation, gateway agents, Cedar, downstream grant, catalog pin. */
  stage: string;
  agent?: AuditSideDecision;
  user?: AuditSideDecision;
  /** Revision (content hash) of the policy set that decided. */
  policyRevision?: string;
  /** The Cedar action asked about (`call_tool`, `run_skill`, `approve`, `read_run`, `cancel_run`). */
  action?: string;
}

/** Correlation ids: a request, a trace, a session, a run. */
export interface AuditIds {
  requestId?: string;
  traceId?: string;
  sessionId?: string;
  workflowId?: string;
  runId?: string;
  activityId?: string;
  /** A decision's id, to join its tool.call event to it. */
  decisionId?: string;
}

/** What a producer records. Time, sequence and hashes are the log's. */
export interface AuditEventInput {
  kind: AuditKind;
  /** `allow` / `deny` for decisions; `ok` / `error` for actions; `info` for lifecycle events. */
  outcome: 'allow' | 'deny' | 'ok' | 'error' | 'info';
  /** Stable reason code (`ERR_…`, `ok`, …). */
  reason?: string;
  workspace: string;
  gateway?: string;
  agent?: string;
  user?: string;
  /** Upstream server / downstream provider. */
  server?: string;
  tool?: string;
  /** An upstream resource read (its URI) or prompt got, instead of a tool. */
  resource?: string;
  prompt?: string;
  skill?: string;
  step?: string;
  /** Arguments: SHA-256 of their canonical JSON, and a copy with masked fields replaced. */
  args?: { digest: string; masked?: Json };
  decision?: AuditDecision;
  latencyMs?: number;
  ids?: AuditIds;
  /** Anything else that explains the event (never a secret). */
  detail?: { [key: string]: Json };
}

/**
 * Where producers send events. `record` never throws and never waits: it queues the event,
 * which the log (gateway/audit/log.ts) writes at the end of the current microtask run — with
 * SQLite, before the answer of the call that caused it goes out. A failing store never breaks
 * the call path: events are kept, retried, and what could not be kept is counted (`audit.gap`).
 */
export interface AuditSink {
  record(event: AuditEventInput): void;
}

/**
 * A stored event: what the producer recorded plus what the log adds. `hash` is the SHA-256
 * (hex) of the RFC 8785 canonical JSON of every other field, `prevHash` included, so each event
 * commits to the whole chain before it.
 */
export interface AuditEvent extends AuditEventInput {
  /** 1, 2, 3, … without gaps, in the order the store appended them. */
  seq: number;
  /** When the producer recorded it (ISO 8601, UTC, milliseconds). */
  time: string;
  /** `hash` of the event before (seq − 1), or {@link AUDIT_GENESIS} for seq 1. */
  prevHash: string;
  hash: string;
}

/** The `prevHash` of event 1 and the `prev` of checkpoint 1. */
export const AUDIT_GENESIS = '0'.repeat(64);

/**
 * A signed checkpoint (CloudTrail's digest files are the model): it signs the chain head, the
 * number of events and the previous checkpoint, so edits, deletions, insertions and truncation
 * of what it covers are caught even when an attacker recomputes every hash.
 */
export interface AuditCheckpoint {
  /** Format version of the signed payload. */
  v: 1;
  /** 1, 2, 3, … without gaps. */
  n: number;
  /** The last event covered: every event 1..seq. */
  seq: number;
  /** Number of events covered (= seq). */
  count: number;
  /** `hash` of event `seq`. */
  headHash: string;
  /** SHA-256 (hex) of the previous checkpoint's canonical JSON (signature included), or {@link AUDIT_GENESIS}. */
  prev: string;
  time: string;
  /** RFC 7638 JWK thumbprint of the Ed25519 public key that signed. */
  keyId: string;
  alg: 'EdDSA';
  /** Ed25519 signature (base64url) over the canonical JSON of every other field. */
  signature: string;
}

/** One line of a JSONL export (`skillgate audit export`): a header, then events and checkpoints in chain order. */
export type AuditExportLine =
  | { type: 'header'; format: 'skillgate-audit/1'; workspace: string; exportedAt: string; firstSeq: number; lastSeq: number }
  | { type: 'event'; event: AuditEvent }
  | { type: 'checkpoint'; checkpoint: AuditCheckpoint };

/**
 * What the workflow itself reports through Temporal sinks (`proxySinks`, no command, no
 * history change): the run began, the run ended. Read by the worker, recorded as
 * `run.started` / `run.ended`. Ids and outcome only; the worker adds the run's identities.
 */
export type RunAuditSinks = {
  skillgateAudit: {
    /** The run's first workflow task (not called on replay). */
    runStarted(facts: RunAuditFacts): void;
    /** The run completed, failed or was cancelled (not called on replay). */
    runEnded(facts: RunAuditFacts & { outcome: 'ok' | 'error'; reason: string; message?: string; executed?: string[]; compensated?: string[] }): void;
  };
};

/** A run's identity as the workflow knows it (its input), for run.* events. */
export interface RunAuditFacts {
  workspace: string;
  gateway: string;
  skill: string;
  skillVersion: string;
  planHash: string;
  user: string;
  agent: string;
}
