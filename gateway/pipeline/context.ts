/**
 * What flows through the tool-call pipeline: one object per call, filled step by step.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AuditIds, AuditSink } from '../../src/contracts/audit.js';
import type { DataLossOutcome } from '../../src/contracts/data-loss.js';
import type { Json } from '../../src/contracts/json.js';
import type { Allowed, Authorizer } from '../authz/authorizer.js';
import type { DataLossFilters } from '../dlp/filters.js';
import type { Principal } from '../../src/contracts/principal.js';
import type { PinnedCatalog } from '../curation/catalog.js';
import type { Telemetry, UpstreamSpan } from '../telemetry/telemetry.js';
import type { TraceContext } from '../telemetry/trace-context.js';
import type { UpstreamCallOptions, UpstreamPool } from '../upstream/types.js';
import type { Credential, CredentialService } from '../downstream/credentials.js';

/** A request to call one upstream tool on behalf of a principal. */
export interface ToolCallRequest {
  principal: Principal;
  workspace: string;
  gateway: string;
  server: string;
  tool: string;
  arguments: { [key: string]: Json };
  /** Sent upstream as the request's `_meta` (idempotency key, …). */
  meta?: { [key: string]: Json };
  /** Set when the call is a step of a skill run. */
  skill?: { name: string; stepId: string; compensation?: boolean; workflowId?: string };
  /** A skill step: the definition hash its plan was compiled against (the pinned one must still be it). */
  toolHash?: string;
  /** Correlation ids for the call's audit events: the front door's request and session, a skill step's workflow, run and activity. */
  ids?: AuditIds;
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * What the caller's client can take back from the upstream for this call: its progress and
   * log messages, and — on the retry of a call answered `input_required` — the answers and the
   * upstream's own state. Absent for skill steps (nobody to relay to).
   */
  upstream?: Pick<UpstreamCallOptions, 'onprogress' | 'onlog' | 'logLevel' | 'clientCapabilities' | 'inputResponses' | 'requestState'>;
  /**
   * The caller's W3C trace context (`params._meta` or the HTTP `traceparent`, validated:
   * gateway/telemetry/trace-context.ts). Forwarded upstream as is when tracing is off; with
   * tracing on, the active span carries the trace instead.
   */
  trace?: TraceContext;
}

/** The call as it moves through the pipeline. */
export interface ToolCallContext {
  readonly request: ToolCallRequest;
  /** What the call carries upstream (credential step); never logged. */
  credential?: Credential;
  /** The upstream answer (may be `isError`). */
  result?: CallToolResult;
  /** What the caller gets as the step output (structured when possible). */
  output?: Json;
  /** The AND-gate's allow (set by `authorize`): its decision id and the arguments as recorded. */
  decision?: Allowed;
  /**
   * The arguments sent upstream when the argument filter redacted some (else
   * `request.arguments` are sent). `request` keeps what the caller sent, for the audit digest.
   */
  arguments?: { [key: string]: Json };
  /**
   * The trace this call belongs to (32 hex digits), the call's audit event carries it as `ids.traceId`: the active span's
   * when tracing is on, else the caller's `traceparent`'s; absent when neither exists.
   */
  traceId?: string;
  /**
   * What the data-loss filters found and did (rule, where, action — never a value). Absent
   * when nothing matched; `blocked` set when the call was refused or its result withheld. The
   * call's audit event carries it as `detail.dlp`.
   */
  dlp?: DataLossOutcome;
  /** The upstream call's span (tracing on), ended by `invokeTool` once the result is filtered. */
  span?: UpstreamSpan;
}

/** What the steps need from the runtime. Later steps (vault, audit) add their own. */
export interface PipelineDeps {
  pool: UpstreamPool;
  /** The AND-gate. Required: there is no tool call without it (tests that mean "allow all" say so). */
  authorizer: Authorizer;
  /** The pinned catalog. Required: only approved, unchanged tools are called (gateway/curation). */
  catalog: PinnedCatalog;
  /** Each gateway's data-loss rules. Required: a gateway without rules scans nothing, by its config. */
  dataLoss: DataLossFilters;
  /** Tracing (absent: off, and the call path pays nothing for it). */
  telemetry?: Telemetry;
  /** Where the call's outcome is recorded (its decision is recorded by the authorizer). Required. */
  audit: AuditSink;
  /** Downstream credentials (trinary tokens, the vault). Required: a server with `auth` is never called without one. */
  credentials: CredentialService;
}

/** One step: inspects or fills the context, or throws a ToolCallError / UpstreamError. */
export type PipelineStep = (ctx: ToolCallContext, deps: PipelineDeps) => Promise<void> | void;
