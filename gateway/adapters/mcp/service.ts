/**
 * What one gateway offers one principal over MCP, whichever era the client speaks: the
 * listings (only what the agent AND the user may use here, in a stable order), tool calls
 * through the pipeline, upstream resources, templates, prompts and completions under the same
 * AND-gate, and skills (as tools, and their SKILL.md as a resource and a prompt).
 *
 * The 2025-11-25 session server (server.ts) and the 2026-07-28 stateless dispatcher
 * (modern.ts) are thin adapters over this: neither decides anything on its own, and no
 * decision depends on session state — every call re-reads the principal verified for it.
 */
import type {
  CallToolResult,
  ClientCapabilities,
  CompleteRequest,
  CompleteResult,
  GetPromptResult,
  LoggingLevel,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { SkillgateConfig, GatewayConfig } from '../../../src/config/schema.js';
import type { Json } from '../../../src/contracts/json.js';
import type { Principal } from '../../../src/contracts/principal.js';
import { own } from '../../../src/shared/own.js';
import { globMatcher } from '../../../src/shared/glob.js';
import { AuthzError } from '../../authz/authorizer.js';
import { type RequestStateCodec, RequestStateError, type StateBinding } from '../../authz/request-state.js';
import { type Logger, refusal } from '../../log.js';
import type { PolicyResource } from '../../policy/model.js';
import { invokeTool } from '../../pipeline/index.js';
import type { PipelineDeps } from '../../pipeline/context.js';
import { ToolCallError } from '../../pipeline/errors.js';
import { DownstreamError, GrantRequiredError } from '../../downstream/errors.js';
import { answerGrantRequired, GRANT_INPUT_KEY, grantInputRequest } from './elicitation.js';
import { callDisconnect, DISCONNECT_TOOL, disconnectTool } from './grant-tools.js';
import { RpcError } from '../../upstream/modern.js';
import { type UpstreamCallOptions, UpstreamError, UpstreamInputRequired } from '../../upstream/types.js';
import { DataLossError } from '../../dlp/errors.js';
import type { TraceContext } from '../../telemetry/trace-context.js';
import { echo } from './call-params.js';
import { namingOf, type Naming } from './naming.js';
import { BUILTIN_TOOLS, type SkillTools, SKILL_TOOL_PREFIX } from './skill-tools.js';

/** What the adapter knows about one request, handed to every operation. */
export interface McpRequestContext {
  principal: Principal;
  gateway: string;
  era: 'legacy' | 'modern';
  /** The front door's request id (log lines, never a client-chosen value). */
  requestId?: string;
  /** Legacy era: the MCP session the request belongs to (audit events). */
  sessionId?: string;
  signal: AbortSignal;
  /** The request's `_meta` (idempotency key, progress token, trace context, …). */
  meta: Record<string, unknown>;
  /** Legacy: declared at initialize (per session). Modern: declared by this request. */
  clientCapabilities: ClientCapabilities;
  /** Present when the client asked for progress (a progress token) and the transport can carry it. */
  progress?: (p: { progress: number; total?: number; message?: string }) => Promise<void>;
  /** Present when the client asked for log messages on this request. */
  log?: (m: { level: LoggingLevel; logger?: string; data: unknown }) => Promise<void>;
  logLevel?: LoggingLevel;
  /**
   * The client takes a task instead of waiting (2026-07-28: the `io.modelcontextprotocol/tasks`
   * extension in its capabilities; 2025-11-25: a task-augmented request). Only skills create
   * tasks; a client that did not say so never gets one.
   */
  task?: { ttlMs?: number };
  /** The caller's W3C trace context (`_meta`, else the HTTP `traceparent`), carried into the call. */
  trace?: TraceContext;
  /** Legacy sessions: remember that this session was asked a URL elicitation (notifications/elicitation/complete). */
  elicitationAsked?: (elicitationId: string) => void;
}

/** A retry of a request an upstream answered `input_required` (MRTR). */
export interface InputRetry {
  inputResponses?: { [key: string]: Json };
  requestState?: string;
}

/** The answer to a request that may need more input first (tools/call, resources/read, prompts/get). */
export type Outcome<T> =
  | { kind: 'complete'; result: T }
  | { kind: 'input_required'; inputRequests?: { [key: string]: Json }; requestState: string }
  | { kind: 'task'; task: TaskHandle };

/** A task the client may poll (a skill run: the task id is the run's workflow id). */
export interface TaskHandle {
  taskId: string;
  status: 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number | null;
  pollIntervalMs?: number;
}

export interface McpServiceDeps {
  config: SkillgateConfig;
  pipeline: PipelineDeps;
  /** Skills as tools (absent when no Temporal is attached). */
  skills?: SkillTools;
  /** Seals the state of a request an upstream answered `input_required`. Required: there is no relay without it. */
  requestState: RequestStateCodec;
  log: Logger;
}

/** What a gateway offers one principal, era-agnostic. */
export interface McpService {
  /** The gateway's MCP identity and what it supports (for initialize and server/discover). */
  describe(gateway: string): { name: string; version: string; instructions?: string };
  listTools(ctx: McpRequestContext): Promise<Tool[]>;
  /** The upstream input schema behind an exposed tool name (no authorization: for checking request headers only). */
  toolSchema(gateway: string, name: string): Promise<Tool['inputSchema'] | undefined>;
  callTool(ctx: McpRequestContext, name: string, args: { [k: string]: Json }, retry?: InputRetry): Promise<Outcome<CallToolResult>>;
  listResources(ctx: McpRequestContext): Promise<Resource[]>;
  listResourceTemplates(ctx: McpRequestContext): Promise<ResourceTemplate[]>;
  readResource(ctx: McpRequestContext, uri: string, retry?: InputRetry): Promise<Outcome<ReadResourceResult>>;
  listPrompts(ctx: McpRequestContext): Promise<Prompt[]>;
  getPrompt(ctx: McpRequestContext, name: string, args: { [k: string]: string } | undefined, retry?: InputRetry): Promise<Outcome<GetPromptResult>>;
  complete(ctx: McpRequestContext, params: CompleteRequest['params']): Promise<CompleteResult>;
}

/** A tool result the agent reads as a refusal or failure (MCP: tool errors are results, not protocol errors). */
export function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byUri = <T extends { uri: string }>(a: T, b: T) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0);

export function createMcpService(deps: McpServiceDeps): McpService {
  const { config, log } = deps;
  const { authorizer, pool, catalog } = deps.pipeline;

  const gatewayOf = (gateway: string): GatewayConfig => {
    const gw = own(config.gateways, gateway);
    // The front door admits known gateways only; this is the type's guarantee, not a check of input.
    if (!gw) throw new McpError(ErrorCode.InvalidRequest, `unknown gateway "${echo(gateway)}"`);
    return gw;
  };
  const namings = new Map<string, Naming>();
  const naming = (gateway: string) => {
    let n = namings.get(gateway);
    if (!n) namings.set(gateway, (n = namingOf(gatewayOf(gateway))));
    return n;
  };
  const ids = (ctx: McpRequestContext) => ({ gateway: ctx.gateway, user: ctx.principal.user.id, agent: ctx.principal.agent.id, requestId: ctx.requestId });

  /** Servers that some entry of `patterns` can match (only those are asked what they offer). */
  const serversFor = (patterns: readonly string[], whole = false) =>
    Object.keys(config.servers).filter((s) => patterns.some((p) => globMatcher(whole ? p : p.slice(0, p.indexOf('.')))(s)));

  /** Ask each server, tolerating the ones that are down (a listing shows what is reachable). */
  async function gather<T>(ctx: McpRequestContext, servers: string[], what: string, fetch: (s: string) => Promise<T[]>): Promise<Array<[string, T[]]>> {
    return Promise.all(
      servers.map(async (s): Promise<[string, T[]]> => {
        try {
          return [s, await fetch(s)];
        } catch (err) {
          log.warn(`upstream unavailable while listing ${what}`, { ...ids(ctx), server: s, error: (err as Error).message });
          return [s, []];
        }
      }),
    );
  }

  /** The AND-gate for one use of an upstream resource; a refusal becomes the right MCP answer. */
  function authorize(ctx: McpRequestContext, resource: PolicyResource, name: string, args?: Record<string, unknown>): void {
    try {
      authorizer.check(
        {
          principal: ctx.principal,
          action: resource.type === 'resource' ? 'read_resource' : resource.type === 'prompt' ? 'get_prompt' : 'call_tool',
          resource,
          gateway: ctx.gateway,
          ...(args ? { arguments: args } : {}),
        },
        { audit: { ids: ctx.requestId ? { requestId: ctx.requestId } : {} } },
      );
    } catch (err) {
      if (!(err instanceof AuthzError)) throw err;
      // Something the gateway does not expose is answered as unknown; the log still says why.
      refusal(log, { ...err.logFields(), status: ErrorCode.InvalidParams, ...ids(ctx), tool: echo(name) });
      if (err.code === 'ERR_TOOL_NOT_VISIBLE') throw new McpError(ErrorCode.InvalidParams, `unknown ${resource.type} "${echo(name)}"`);
      throw new McpError(ErrorCode.InvalidRequest, `${echo(name)}: ${err.message}`);
    }
  }

  /** Upstream call options of a request: its progress and log messages go back to the caller. */
  function relayOptions(ctx: McpRequestContext, retry: { inputResponses?: { [k: string]: Json }; requestState?: string } | undefined): UpstreamCallOptions {
    // Only what can be relayed back: the questions an upstream may ask (MRTR input requests).
    const caps = ctx.clientCapabilities as Record<string, Json | undefined>;
    const relayable: { [k: string]: Json } = {};
    for (const k of ['elicitation', 'sampling', 'roots'] as const) if (caps[k] !== undefined) relayable[k] = caps[k]!;
    return {
      signal: ctx.signal,
      clientCapabilities: relayable,
      ...(ctx.progress ? { onprogress: (p) => void ctx.progress!(p).catch(() => {}) } : {}),
      ...(ctx.log ? { onlog: (m) => void ctx.log!(m).catch(() => {}), ...(ctx.logLevel ? { logLevel: ctx.logLevel } : {}) } : {}),
      ...(retry?.inputResponses ? { inputResponses: retry.inputResponses } : {}),
      ...(retry?.requestState !== undefined ? { requestState: retry.requestState } : {}),
    };
  }

  /**
   * An upstream's `input_required`: its own state sealed inside ours, bound to this principal
   * and request, so the retry can only be this request of this principal (mrtr "Security").
   */
  function relayInputRequired(binding: StateBinding, err: UpstreamInputRequired) {
    return {
      kind: 'input_required' as const,
      ...(err.inputRequests ? { inputRequests: err.inputRequests } : {}),
      requestState: deps.requestState.seal(binding, { upstream: err.requestState ?? null }),
    };
  }

  /** The upstream's own state in a retry, after checking ours. */
  function upstreamRetry(ctx: McpRequestContext, binding: StateBinding, retry: InputRetry | undefined): InputRetry | undefined {
    if (!retry || (retry.requestState === undefined && retry.inputResponses === undefined)) return undefined;
    if (retry.requestState === undefined) return { ...(retry.inputResponses ? { inputResponses: retry.inputResponses } : {}) };
    let data: Json;
    try {
      data = deps.requestState.open(binding, retry.requestState);
    } catch (err) {
      if (!(err instanceof RequestStateError)) throw err;
      refusal(log, { code: err.code, status: ErrorCode.InvalidParams, ...ids(ctx), tool: echo(binding.name) });
      throw new McpError(ErrorCode.InvalidParams, err.message);
    }
    // Our own question (a downstream grant): the upstream never asked anything; call it afresh.
    if ((data as { grant?: unknown } | null)?.grant !== undefined) return undefined;
    const up = (data as { upstream?: unknown } | null)?.upstream;
    return { ...(retry.inputResponses ? { inputResponses: retry.inputResponses } : {}), ...(typeof up === 'string' ? { requestState: up } : {}) };
  }

  /**
   * An upstream's own JSON-RPC error that is about the caller's request — invalid params, or a
   * client capability the caller did not declare (-32021) — reaches the caller as that error;
   * anything else is the upstream being unwell.
   */
  function callersFault(err: UpstreamError): McpError | undefined {
    const cause = err.cause as { code?: unknown; message?: unknown; data?: unknown } | undefined;
    if (!(cause instanceof RpcError || cause instanceof McpError)) return undefined;
    if (cause.code !== ErrorCode.InvalidParams && cause.code !== -32021) return undefined;
    const message = String(cause.message).replace(/^MCP error -?\d+: /, '').slice(0, 500);
    return new McpError(cause.code as number, message, cause.data);
  }

  function upstreamFailure(ctx: McpRequestContext, name: string, server: string, err: UpstreamError): McpError {
    log.warn('upstream failure', { ...ids(ctx), tool: name, code: err.code, error: err.message });
    return new McpError(ErrorCode.InternalError, `${echo(name)}: the ${server} system is unavailable right now; try again later`);
  }

  return {
    describe(gateway) {
      const gw = gatewayOf(gateway);
      return { name: `skillgate/${gateway}`, version: '0.1.0', ...(gw.description ? { instructions: gw.description } : {}) };
    },

    async listTools(ctx) {
      const gw = gatewayOf(ctx.gateway);
      const n = naming(ctx.gateway);
      const tools: Tool[] = [];
      // Only approved tools whose definition equals the pin (gateway/curation/catalog.ts).
      for (const [s, list] of await gather(ctx, serversFor(gw.tools), 'tools', (s) => catalog.visibleTools(s))) {
        for (const t of list) {
          if (authorizer.canList(ctx.principal, ctx.gateway, { type: 'tool', server: s, tool: t.name })) tools.push({ ...t, name: n.tool(s, t.name) });
        }
      }
      if (deps.skills) tools.push(...deps.skills.list(ctx.principal, ctx.gateway));
      const disconnect = disconnectTool(config, ctx.gateway);
      if (disconnect) tools.push(disconnect);
      // Deterministic (2026-07-28 server/tools: "SHOULD return tools … in a deterministic order").
      return tools.sort(byName);
    },

    async toolSchema(gateway, name) {
      const parsed = naming(gateway).parseTool(name);
      if (!parsed || !own(config.servers, parsed.server)) return undefined;
      const tools = await pool.listTools(parsed.server).catch(() => [] as Tool[]);
      return tools.find((t) => t.name === parsed.name)?.inputSchema;
    },

    async callTool(ctx, name, args, retry) {
      if (deps.skills && (name.startsWith(SKILL_TOOL_PREFIX) || BUILTIN_TOOLS.includes(name))) {
        return deps.skills.call(ctx, name, args);
      }
      if (name === DISCONNECT_TOOL && disconnectTool(config, ctx.gateway)) {
        return { kind: 'complete', result: await callDisconnect(deps.pipeline.credentials, config, ctx.principal, ctx.gateway, args) };
      }
      const unknownTool = (code: string): McpError => {
        refusal(log, { code, status: ErrorCode.InvalidParams, ...ids(ctx), tool: echo(name) });
        return new McpError(ErrorCode.InvalidParams, `unknown tool "${echo(name)}"`);
      };
      const parsed = naming(ctx.gateway).parseTool(name);
      if (!parsed || !own(config.servers, parsed.server)) throw unknownTool('ERR_TOOL_UNKNOWN');
      const binding: StateBinding = { principal: ctx.principal, gateway: ctx.gateway, method: 'tools/call', name };
      const upstream = upstreamRetry(ctx, binding, retry);
      try {
        const done = await invokeTool(deps.pipeline, {
          principal: ctx.principal,
          workspace: config.workspace,
          gateway: ctx.gateway,
          server: parsed.server,
          tool: parsed.name,
          arguments: args,
          ids: { ...(ctx.requestId ? { requestId: ctx.requestId } : {}), ...(ctx.sessionId ? { sessionId: ctx.sessionId } : {}) },
          signal: ctx.signal,
          upstream: relayOptions(ctx, upstream),
          ...(ctx.trace ? { trace: ctx.trace } : {}),
        });
        return { kind: 'complete', result: done.result };
      } catch (err) {
        if (err instanceof UpstreamInputRequired) return relayInputRequired(binding, err);
        // The filter step has logged it (rule, where; never the value); the agent learns which rule.
        if (err instanceof DataLossError) return { kind: 'complete', result: toolError(`${name}: ${err.message}`) };
        if (err instanceof AuthzError) {
          // A hidden tool is answered as an unknown one; the log still says why.
          if (err.code === 'ERR_TOOL_NOT_VISIBLE') {
            refusal(log, { ...err.logFields(), status: ErrorCode.InvalidParams, ...ids(ctx), tool: echo(name) });
            throw new McpError(ErrorCode.InvalidParams, `unknown tool "${echo(name)}"`);
          }
          refusal(log, { ...err.logFields(), ...ids(ctx), tool: name });
          return { kind: 'complete', result: toolError(`${name}: ${err.message}`) };
        }
        if (err instanceof GrantRequiredError) {
          const r = err.required;
          const url = ctx.clientCapabilities.elicitation?.url !== undefined;
          // The log says how the client was asked: -32042 (2025-11-25), input_required (2026-07-28), or a tool error with the link.
          const answer = !url ? 'tool-error' : ctx.era === 'legacy' ? 'url-elicitation-error' : 'input-required';
          refusal(log, { code: err.code, ...(url && ctx.era === 'legacy' ? { status: -32042 } : {}), answer, ...ids(ctx), tool: echo(name), provider: r.provider, reason: r.reason, elicitationId: r.elicitationId });
          if (url && ctx.era === 'modern') {
            // The retry carries this state back: it runs the call again (no upstream state to resume).
            return { kind: 'input_required', inputRequests: { [GRANT_INPUT_KEY]: grantInputRequest(err) }, requestState: deps.requestState.seal(binding, { grant: r.elicitationId }) };
          }
          return { kind: 'complete', result: answerGrantRequired(ctx.era === 'legacy' ? ctx.clientCapabilities : undefined, err, ctx.elicitationAsked) };
        }
        if (err instanceof DownstreamError) {
          log.warn('downstream credential failure', { ...ids(ctx), tool: echo(name), code: err.code, error: err.message, detail: err.detail });
          return { kind: 'complete', result: toolError(`${echo(name)}: ${err.message}`) };
        }
        if (err instanceof ToolCallError) {
          if (err.code === 'ERR_TOOL_UNKNOWN') throw unknownTool(err.code);
          // Withheld by the pinned catalog: a clear refusal, the detail (hashes, how to approve) in the log only.
          refusal(log, { code: err.code, ...ids(ctx), tool: echo(name), ...(err.detail ? { detail: err.detail } : {}) });
          return { kind: 'complete', result: toolError(err.message) };
        }
        if (err instanceof UpstreamError) {
          const theirs = callersFault(err);
          if (theirs) throw theirs;
          log.warn('upstream failure', { ...ids(ctx), tool: name, code: err.code, error: err.message });
          return { kind: 'complete', result: toolError(`${name}: the ${parsed.server} system is unavailable right now; try again later`) };
        }
        throw err;
      }
    },

    async listResources(ctx) {
      const gw = gatewayOf(ctx.gateway);
      const n = naming(ctx.gateway);
      const out: Resource[] = [];
      for (const [s, list] of await gather(ctx, serversFor(gw.resources, true), 'resources', (s) => pool.listResources(s))) {
        for (const r of list) {
          if (authorizer.canList(ctx.principal, ctx.gateway, { type: 'resource', server: s, uri: r.uri })) out.push({ ...r, uri: n.resource(s, r.uri) });
        }
      }
      if (deps.skills) out.push(...deps.skills.resources(ctx.principal, ctx.gateway));
      return out.sort(byUri);
    },

    async listResourceTemplates(ctx) {
      const gw = gatewayOf(ctx.gateway);
      const n = naming(ctx.gateway);
      const out: ResourceTemplate[] = [];
      for (const [s, list] of await gather(ctx, serversFor(gw.resources, true), 'resource templates', (s) => pool.listResourceTemplates(s))) {
        // A template is a family of URIs: whether each may be read is decided when it is read.
        if (!authorizer.canList(ctx.principal, ctx.gateway, { type: 'resource', server: s, uri: '' })) continue;
        for (const t of list) out.push({ ...t, uriTemplate: n.resource(s, t.uriTemplate) });
      }
      return out.sort((a, b) => (a.uriTemplate < b.uriTemplate ? -1 : a.uriTemplate > b.uriTemplate ? 1 : 0));
    },

    async readResource(ctx, uri, retry) {
      if (deps.skills) {
        const own = await deps.skills.readResource(ctx.principal, ctx.gateway, uri);
        if (own) return { kind: 'complete', result: own };
      }
      const parsed = naming(ctx.gateway).parseResource(uri);
      // MCP 2026-07-28 (SEP-2164) and 2025-11-25 alike accept -32602 for an unknown resource.
      if (!parsed || !own(config.servers, parsed.server)) throw new McpError(ErrorCode.InvalidParams, `unknown resource "${echo(uri, 200)}"`);
      authorize(ctx, { type: 'resource', server: parsed.server, uri: parsed.uri }, uri);
      const binding: StateBinding = { principal: ctx.principal, gateway: ctx.gateway, method: 'resources/read', name: uri };
      try {
        const r = await pool.readResource(parsed.server, parsed.uri, relayOptions(ctx, upstreamRetry(ctx, binding, retry)));
        const n = naming(ctx.gateway);
        return { kind: 'complete', result: { ...r, contents: r.contents.map((c) => ({ ...c, uri: n.resource(parsed.server, c.uri) })) } };
      } catch (err) {
        if (err instanceof UpstreamInputRequired) return relayInputRequired(binding, err);
        if (err instanceof UpstreamError) {
          const theirs = callersFault(err);
          if (theirs) throw theirs;
          if (err.code === 'ERR_UPSTREAM_PROTOCOL') throw new McpError(ErrorCode.InvalidParams, `${echo(uri, 200)}: ${err.message.replace(/^server "[^"]*" refused [^:]*: /, '')}`);
          throw upstreamFailure(ctx, uri, parsed.server, err);
        }
        throw err;
      }
    },

    async listPrompts(ctx) {
      const gw = gatewayOf(ctx.gateway);
      const n = naming(ctx.gateway);
      const out: Prompt[] = [];
      for (const [s, list] of await gather(ctx, serversFor(gw.prompts), 'prompts', (s) => pool.listPrompts(s))) {
        for (const p of list) {
          if (authorizer.canList(ctx.principal, ctx.gateway, { type: 'prompt', server: s, prompt: p.name })) out.push({ ...p, name: n.prompt(s, p.name) });
        }
      }
      if (deps.skills) out.push(...deps.skills.prompts(ctx.principal, ctx.gateway));
      return out.sort(byName);
    },

    async getPrompt(ctx, name, args, retry) {
      if (deps.skills) {
        const own = await deps.skills.getPrompt(ctx.principal, ctx.gateway, name);
        if (own) return { kind: 'complete', result: own };
      }
      const parsed = naming(ctx.gateway).parsePrompt(name);
      if (!parsed || !own(config.servers, parsed.server)) throw new McpError(ErrorCode.InvalidParams, `unknown prompt "${echo(name)}"`);
      authorize(ctx, { type: 'prompt', server: parsed.server, prompt: parsed.name }, name, args);
      const binding: StateBinding = { principal: ctx.principal, gateway: ctx.gateway, method: 'prompts/get', name };
      try {
        return { kind: 'complete', result: await pool.getPrompt(parsed.server, parsed.name, args, relayOptions(ctx, upstreamRetry(ctx, binding, retry))) };
      } catch (err) {
        if (err instanceof UpstreamInputRequired) return relayInputRequired(binding, err);
        if (err instanceof UpstreamError) {
          const theirs = callersFault(err);
          if (theirs) throw theirs;
          if (err.code === 'ERR_UPSTREAM_PROTOCOL') throw new McpError(ErrorCode.InvalidParams, `${echo(name)}: ${err.message.replace(/^server "[^"]*" refused [^:]*: /, '')}`);
          throw upstreamFailure(ctx, name, parsed.server, err);
        }
        throw err;
      }
    },

    async complete(ctx, params) {
      const ref = params.ref as { type: string; name?: string; uri?: string };
      const n = naming(ctx.gateway);
      let server: string;
      let upstreamRef: { type: string; name?: string; uri?: string };
      if (ref.type === 'ref/prompt' && typeof ref.name === 'string') {
        const p = n.parsePrompt(ref.name);
        if (!p || !own(config.servers, p.server)) throw new McpError(ErrorCode.InvalidParams, `unknown prompt "${echo(ref.name)}"`);
        authorize(ctx, { type: 'prompt', server: p.server, prompt: p.name }, ref.name);
        server = p.server;
        upstreamRef = { type: 'ref/prompt', name: p.name };
      } else if (ref.type === 'ref/resource' && typeof ref.uri === 'string') {
        const r = n.parseResource(ref.uri);
        if (!r || !own(config.servers, r.server)) throw new McpError(ErrorCode.InvalidParams, `unknown resource "${echo(ref.uri, 200)}"`);
        authorize(ctx, { type: 'resource', server: r.server, uri: r.uri }, ref.uri);
        server = r.server;
        upstreamRef = { type: 'ref/resource', uri: r.uri };
      } else {
        throw new McpError(ErrorCode.InvalidParams, 'completion/complete: `ref` must be a ref/prompt with a name or a ref/resource with a uri');
      }
      try {
        return await pool.complete(server, { ...params, ref: upstreamRef } as CompleteRequest['params'], { signal: ctx.signal });
      } catch (err) {
        if (err instanceof UpstreamError) {
          if (err.code === 'ERR_UPSTREAM_PROTOCOL') throw new McpError(ErrorCode.InvalidParams, err.message.replace(/^server "[^"]*" refused [^:]*: /, ''));
          throw upstreamFailure(ctx, 'completion/complete', server, err);
        }
        throw err;
      }
    },
  };
}
