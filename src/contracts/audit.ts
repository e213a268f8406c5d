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
  | 'admin.action';

/** One side of the AND-gate as decided for this request. */
export interface AuditSideDecision {
  decision: 'allow' | 'deny';
  /** Ids of the policies that decided (Cedar `@id` or file:line). */
  policies: string[];
}

/** An authorization decision's record (OPA decision logs are the model). */
export interface AuditDecision {
  /** Which check decided: visibility, revocation, gateway agents, Cedar, downstream grant, catalog pin. */
  stage: string;
  agent?: AuditSideDecision;
  user?: AuditSideDecision;
  /** Revision (content hash) of the policy set that decided. */
  policyRevision?: string;
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
 * Where producers send events. `record` never throws and never waits for storage: the call
 * path is not slowed or broken by the audit trail (the log buffers and flushes on its own).
 */
export interface AuditSink {
  record(event: AuditEventInput): void;
}
