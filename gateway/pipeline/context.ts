/**
 * What flows through the tool-call pipeline: one object per call, filled step by step.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Json } from '../../src/contracts/json.js';
import type { Authorizer } from '../authz/authorizer.js';
import type { Principal } from '../../src/contracts/principal.js';
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
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * What the caller's client can take back from the upstream for this call: its progress and
   * log messages, and — on the retry of a call answered `input_required` — the answers and the
   * upstream's own state. Absent for skill steps (nobody to relay to).
   */
  upstream?: Pick<UpstreamCallOptions, 'onprogress' | 'onlog' | 'logLevel' | 'clientCapabilities' | 'inputResponses' | 'requestState'>;
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
}

/** What the steps need from the runtime. Later steps (vault, audit) add their own. */
export interface PipelineDeps {
  pool: UpstreamPool;
  /** The AND-gate. Required: there is no tool call without it (tests that mean "allow all" say so). */
  authorizer: Authorizer;
  /** Downstream credentials (trinary tokens, the vault). Required: a server with `auth` is never called without one. */
  credentials: CredentialService;
}

/** One step: inspects or fills the context, or throws a ToolCallError / UpstreamError. */
export type PipelineStep = (ctx: ToolCallContext, deps: PipelineDeps) => Promise<void> | void;
