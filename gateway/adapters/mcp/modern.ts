/**
 * The 2026-07-28 ("modern") side of the front door: stateless MCP over Streamable HTTP on the
 * same `/mcp/<gateway>` URL as the 2025-11-25 sessions ("dual-era", basic/versioning). Each
 * POST is one request, authorized by its own bearer token (the front door verified it); no
 * decision depends on anything but that request. An adapter over the MCP service (service.ts).
 *
 * Per request, in this order (basic/transports/streamable-http, basic/index "_meta"):
 *  1. `_meta` carries `io.modelcontextprotocol/protocolVersion` and `…/clientCapabilities`
 *     (missing: 400, -32602); the version is one we serve (else 400, -32022 listing them);
 *  2. the request metadata headers match the body: `MCP-Protocol-Version`, `Mcp-Method`,
 *     `Mcp-Name` (tools/call, resources/read, prompts/get; Base64 sentinel decoded), and the
 *     `Mcp-Param-*` headers of a tool whose inputSchema marks parameters with `x-mcp-header`
 *     (else 400, -32020 HeaderMismatch);
 *  3. the method: `server/discover`, the lists (deterministic, with `ttlMs`/`cacheScope`),
 *     `tools/call`, `resources/read`, `prompts/get` (each may answer `input_required`: MRTR),
 *     `completion/complete`, `subscriptions/listen` (a long-lived stream of the list changes
 *     the client opted in to), and — for clients that declare the tasks extension — `tasks/get`,
 *     `tasks/update`, `tasks/cancel`. Anything else — `initialize`, `ping`, `logging/setLevel`
 *     included — is 404, -32601.
 * Every result carries `resultType` and the server's identity in `_meta`. An answer is JSON,
 * or an SSE stream when the request asked for progress or log messages; closing that stream
 * cancels the request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallToolResult, ClientCapabilities, JSONRPCRequest, LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Json } from '../../../src/contracts/json.js';
import type { Principal } from '../../../src/contracts/principal.js';
import { RunError } from '../../../src/skills/runs.js';
import { decodeHeaderValue, headerForm, headerParams } from '../../upstream/http-transport.js';
import type { ListKind } from '../../upstream/types.js';
import type { InspectRefusal, RefusalSink } from './http-transport.js';
import type { InputRetry, McpRequestContext, McpService, Outcome } from './service.js';
import type { SkillTools } from './skill-tools.js';
import { ATTR, type Telemetry } from '../../telemetry/telemetry.js';
import { incomingTraceContext } from '../../telemetry/trace-context.js';

/** Carries a call's outcome through the span wrapper beside the fields the span reads (`isError`). */
const OUTCOME = Symbol('outcome');

/** The revision served statelessly here. */
export const MODERN_VERSION = '2026-07-28';
/** Every revision this endpoint serves: the modern one, and the 2025 ones through sessions. */
export const SUPPORTED_VERSIONS: readonly string[] = [MODERN_VERSION, '2025-11-25', '2025-06-18', '2025-03-26'];

export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
export const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
export const META_SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';
/** The Tasks extension (SEP-2663), as clients and servers name it in `capabilities.extensions`. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** MCP 2026-07-28 error codes (schema: HEADER_MISMATCH, …). */
export const HEADER_MISMATCH = -32020;
export const MISSING_REQUIRED_CLIENT_CAPABILITY = -32021;
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;

/** How long a client may keep a list before asking again; list changes also reach listen streams. */
const LIST_TTL_MS = 60_000;
const KEEP_ALIVE_MS = 15_000;
const LEVELS: readonly LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/**
 * Whether a POST body is a modern-era message: its `_meta` names a protocol version, or the
 * `MCP-Protocol-Version` header names one that has no session (a modern version whose body
 * then fails validation with the right error). Everything else is served the 2025 way.
 */
export function isModernRequest(body: unknown, headers: IncomingMessage['headers']): boolean {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const meta = (body as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
    if (meta && typeof meta === 'object' && Object.hasOwn(meta, META_PROTOCOL_VERSION)) return true;
  }
  const header = headers['mcp-protocol-version'];
  return typeof header === 'string' && header >= MODERN_VERSION && !headers['mcp-session-id'];
}

/** One open `subscriptions/listen` stream. */
interface Listener {
  gateway: string;
  principal: Principal;
  filter: { toolsListChanged?: boolean; resourcesListChanged?: boolean; promptsListChanged?: boolean };
  send(method: string): void;
  /** Tear the subscription down gracefully (server shutdown): its result, then the end of the stream. */
  close(): void;
}

/** The open listen streams of this process (a list change reaches every one that opted in). */
export class ListenRegistry {
  private readonly listeners = new Set<Listener>();
  add(l: Listener): () => void {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }
  get size(): number {
    return this.listeners.size;
  }
  notify(kinds: ListKind[], gateways: (gateway: string) => boolean = () => true): void {
    for (const l of this.listeners) {
      if (!gateways(l.gateway)) continue;
      if (kinds.includes('tools') && l.filter.toolsListChanged) l.send('notifications/tools/list_changed');
      if (kinds.includes('resources') && l.filter.resourcesListChanged) l.send('notifications/resources/list_changed');
      if (kinds.includes('prompts') && l.filter.promptsListChanged) l.send('notifications/prompts/list_changed');
    }
  }
  closeAll(): void {
    for (const l of [...this.listeners]) l.close();
    this.listeners.clear();
  }
}

export interface ModernDeps {
  service: McpService;
  /** Tracing (absent: off). */
  telemetry?: Telemetry;
  skills?: SkillTools;
  listens: ListenRegistry;
  /** Whether this gateway exposes skills (then tasks are offered). */
  hasSkills(gateway: string): boolean;
  inspect?: (request: JSONRPCRequest) => InspectRefusal | undefined;
}

export interface ModernCaller {
  principal: Principal;
  gateway: string;
  requestId: string;
}

type Params = Record<string, unknown> & { _meta?: Record<string, unknown> };

/** A JSON-RPC error with the HTTP status it travels with. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly data?: unknown,
    readonly refusal = 'ERR_MCP_REQUEST',
  ) {
    super(message);
  }
}

const mismatch = (message: string) => new Refusal(400, HEADER_MISMATCH, `Header mismatch: ${message}`, undefined, 'ERR_HEADER_MISMATCH');

export function createModernHandler(deps: ModernDeps) {
  const serverInfo = (gateway: string) => {
    const d = deps.service.describe(gateway);
    return { name: d.name, version: d.version };
  };

  const capabilities = (gateway: string) => ({
    tools: { listChanged: true },
    resources: { listChanged: true },
    prompts: { listChanged: true },
    completions: {},
    ...(deps.hasSkills(gateway) ? { extensions: { [TASKS_EXTENSION]: {} } } : {}),
  });

  /** Check `_meta` and the headers (steps 1–2); returns the declared capabilities. */
  function validate(req: IncomingMessage, message: JSONRPCRequest): { caps: ClientCapabilities; meta: Record<string, unknown> } {
    const params = (message.params ?? {}) as Params;
    const meta = params._meta;
    const version = meta?.[META_PROTOCOL_VERSION];
    const caps = meta?.[META_CLIENT_CAPABILITIES];
    if (!meta || typeof version !== 'string' || caps === null || typeof caps !== 'object' || Array.isArray(caps)) {
      throw new Refusal(400, ErrorCode.InvalidParams, `Invalid params: _meta must carry "${META_PROTOCOL_VERSION}" and "${META_CLIENT_CAPABILITIES}"`, undefined, 'ERR_META_MISSING');
    }
    const header = req.headers['mcp-protocol-version'];
    if (typeof header !== 'string') throw mismatch('the MCP-Protocol-Version header is missing');
    if (header !== version) throw mismatch(`MCP-Protocol-Version header '${header.slice(0, 40)}' does not match _meta protocol version '${version.slice(0, 40)}'`);
    if (version !== MODERN_VERSION) {
      throw new Refusal(400, UNSUPPORTED_PROTOCOL_VERSION, 'Unsupported protocol version', { supported: SUPPORTED_VERSIONS, requested: version.slice(0, 40) }, 'ERR_PROTOCOL_VERSION');
    }
    const method = req.headers['mcp-method'];
    if (typeof method !== 'string') throw mismatch('the Mcp-Method header is missing');
    if (method !== message.method) throw mismatch(`Mcp-Method header '${method.slice(0, 60)}' does not match body method '${message.method.slice(0, 60)}'`);
    const named = message.method === 'tools/call' || message.method === 'prompts/get' ? params.name : message.method === 'resources/read' ? params.uri : undefined;
    if (named !== undefined) {
      const raw = req.headers['mcp-name'];
      if (typeof raw !== 'string') throw mismatch(`the Mcp-Name header is missing (${message.method} names ${message.method === 'resources/read' ? 'a uri' : 'a name'})`);
      const decoded = decodeHeaderValue(raw.trim());
      if (decoded === undefined) throw mismatch('the Mcp-Name header is not valid Base64 inside its =?base64?…?= sentinel');
      if (decoded !== named) throw mismatch(`Mcp-Name header value '${decoded.slice(0, 60)}' does not match body value '${String(named).slice(0, 60)}'`);
    }
    return { caps: caps as ClientCapabilities, meta };
  }

  /** `Mcp-Param-*` headers against the tool's `x-mcp-header` parameters (SEP-2243 custom headers). */
  /** `x-mcp-header` parameters per schema object (upstream lists are cached, so are their schemas). */
  const paramsOf = new WeakMap<object, Array<{ header: string; path: string[] }>>();
  async function validateParamHeaders(req: IncomingMessage, ctx: McpRequestContext, name: string, args: Record<string, unknown>): Promise<void> {
    if (name.startsWith('skill.') || name.startsWith('skillgate.')) return;
    const schema = await deps.service.toolSchema(ctx.gateway, name);
    if (!schema) return; // The call itself answers "unknown tool".
    let params = paramsOf.get(schema);
    if (!params) paramsOf.set(schema, (params = headerParams(schema)));
    for (const { header, path } of params) {
      let value: unknown = args;
      for (const k of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[k] : undefined;
      const expected = headerForm(value);
      const raw = req.headers[`mcp-param-${header.toLowerCase()}`];
      if (expected === undefined) continue;
      if (typeof raw !== 'string') throw mismatch(`the Mcp-Param-${header} header is missing (argument ${path.join('.')} is set)`);
      if (/[^\t\x20-\x7e]/.test(raw)) throw mismatch(`the Mcp-Param-${header} header has characters a header value may not carry`);
      const decoded = decodeHeaderValue(raw.trim());
      if (decoded === undefined) throw mismatch(`the Mcp-Param-${header} header is not valid Base64 inside its sentinel`);
      const same = typeof value === 'number' ? Number(decoded) === value : decoded === expected;
      if (!same) throw mismatch(`Mcp-Param-${header} header value '${decoded.slice(0, 60)}' does not match argument ${path.join('.')}`);
    }
  }

  return async function handle(req: IncomingMessage, res: ServerResponse, body: unknown, who: ModernCaller, refused: RefusalSink): Promise<void> {
    const write = (status: number, payload: unknown) => {
      const text = JSON.stringify(payload);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    const fail = (id: unknown, e: Refusal) => {
      refused({ code: e.refusal, status: e.status, rpcCode: e.code, detail: e.message });
      write(e.status, { jsonrpc: '2.0', id: id ?? null, error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) } });
    };

    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      return fail(null, new Refusal(406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream', undefined, 'ERR_NOT_ACCEPTABLE'));
    }
    if (Array.isArray(body)) return fail(null, new Refusal(400, ErrorCode.InvalidRequest, 'Invalid Request: JSON-RPC batches are not part of MCP', undefined, 'ERR_JSONRPC_BATCH'));
    const m = body as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown } | null;
    if (m === null || typeof m !== 'object' || m.jsonrpc !== '2.0' || typeof m.method !== 'string' || (m.params !== undefined && (m.params === null || typeof m.params !== 'object'))) {
      return fail(m?.id, new Refusal(400, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC request', undefined, 'ERR_MCP_BAD_REQUEST'));
    }
    if (m.id === undefined) {
      // No client-to-server notification exists on Streamable HTTP in this revision: accept, nothing to do.
      res.writeHead(202).end();
      return;
    }
    if (typeof m.id !== 'string' && typeof m.id !== 'number') return fail(null, new Refusal(400, ErrorCode.InvalidRequest, 'Invalid Request: id must be a string or a number'));
    const message = m as JSONRPCRequest;
    const id = message.id;

    let caps: ClientCapabilities;
    let meta: Record<string, unknown>;
    try {
      ({ caps, meta } = validate(req, message));
    } catch (err) {
      if (err instanceof Refusal) return fail(id, err);
      throw err;
    }
    const inspected = deps.inspect?.(message);
    if (inspected) return fail(id, new Refusal(200, inspected.code, inspected.message, undefined, inspected.refusal));

    const params = (message.params ?? {}) as Params;
    const tasksDeclared = (caps as { extensions?: Record<string, unknown> }).extensions?.[TASKS_EXTENSION] !== undefined;
    const level = meta[META_LOG_LEVEL];
    const logLevel = typeof level === 'string' && (LEVELS as readonly string[]).includes(level) ? (level as LoggingLevel) : undefined;
    const token = meta.progressToken;
    const streaming = typeof token === 'string' || typeof token === 'number' || logLevel !== undefined;

    // The answer: JSON, or an SSE stream when notifications may come first.
    const aborter = new AbortController();
    let finished = false;
    res.on('close', () => {
      // The client closed the stream: that is the cancellation (streamable-http "Cancellation").
      if (!finished) aborter.abort(new McpError(ErrorCode.RequestTimeout, 'the client closed the request'));
    });
    if (streaming) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.flushHeaders();
    }
    const event = (payload: unknown) => {
      if (!res.writableEnded && !res.destroyed) res.write(`event: message\ndata: ${JSON.stringify(payload)}\n\n`);
    };
    const notify = async (method: string, p: unknown) => {
      if (streaming && !finished) event({ jsonrpc: '2.0', method, params: p });
    };
    const answer = (status: number, payload: unknown) => {
      finished = true;
      if (streaming) {
        event(payload);
        res.end();
      } else write(status, payload);
    };
    const result = (r: Record<string, unknown>) =>
      answer(200, { jsonrpc: '2.0', id, result: { ...r, resultType: r.resultType ?? 'complete', _meta: { ...(r._meta as object | undefined), [META_SERVER_INFO]: serverInfo(who.gateway) } } });

    const trace = incomingTraceContext(meta, req.headers);
    const ctx: McpRequestContext = {
      principal: who.principal,
      gateway: who.gateway,
      era: 'modern',
      ...(trace ? { trace } : {}),
      requestId: who.requestId,
      signal: aborter.signal,
      meta,
      clientCapabilities: caps,
      ...(typeof token === 'string' || typeof token === 'number' ? { progress: (p) => notify('notifications/progress', { progressToken: token, ...p }) } : {}),
      ...(logLevel
        ? {
            logLevel,
            log: async (entry) => {
              if (LEVELS.indexOf(entry.level) >= LEVELS.indexOf(logLevel)) await notify('notifications/message', entry);
            },
          }
        : {}),
      ...(tasksDeclared ? { task: {} } : {}),
    };
    const retryOf = (): InputRetry | undefined => {
      const r: InputRetry = {};
      if (params.inputResponses !== undefined) {
        if (params.inputResponses === null || typeof params.inputResponses !== 'object' || Array.isArray(params.inputResponses)) {
          throw new McpError(ErrorCode.InvalidParams, 'Invalid params: inputResponses must be an object keyed by the inputRequests it answers');
        }
        r.inputResponses = params.inputResponses as { [k: string]: Json };
      }
      if (params.requestState !== undefined) {
        if (typeof params.requestState !== 'string') throw new McpError(ErrorCode.InvalidParams, 'Invalid params: requestState must be the string the server returned');
        r.requestState = params.requestState;
      }
      return r.inputResponses || r.requestState !== undefined ? r : undefined;
    };
    const outcome = <T extends object>(o: Outcome<T>) => {
      if (o.kind === 'complete') return result(o.result as Record<string, unknown>);
      if (o.kind === 'task') return result({ ...o.task, resultType: 'task' });
      return result({ resultType: 'input_required', ...(o.inputRequests ? { inputRequests: o.inputRequests } : {}), requestState: o.requestState });
    };
    const cacheable = (r: Record<string, unknown>) => ({ ...r, ttlMs: LIST_TTL_MS, cacheScope: 'private' });
    const tasksOnly = () => {
      if (!tasksDeclared || !deps.skills || !deps.hasSkills(who.gateway)) {
        throw new Refusal(404, ErrorCode.MethodNotFound, `Method not found: ${message.method} (declare the ${TASKS_EXTENSION} extension)`, undefined, 'ERR_METHOD_NOT_FOUND');
      }
      const taskId = params.taskId;
      if (typeof taskId !== 'string' || taskId === '') throw new McpError(ErrorCode.InvalidParams, 'Invalid params: taskId must be a string');
      return { skills: deps.skills, taskId };
    };

    try {
      switch (message.method) {
        case 'server/discover': {
          const d = deps.service.describe(who.gateway);
          return result({ supportedVersions: [...SUPPORTED_VERSIONS], capabilities: capabilities(who.gateway), ...(d.instructions ? { instructions: d.instructions } : {}), ttlMs: LIST_TTL_MS, cacheScope: 'public' });
        }
        case 'tools/list':
          return result(cacheable({ tools: await deps.service.listTools(ctx) }));
        case 'tools/call': {
          const name = params.name as string;
          const args = (params.arguments ?? {}) as { [k: string]: Json };
          await validateParamHeaders(req, ctx, name, args);
          const call = () => deps.service.callTool(ctx, name, args, retryOf());
          if (!deps.telemetry) return outcome<CallToolResult>(await call());
          // The front door's SERVER span; a tool error result marks it (semantic conventions for MCP).
          const o = await deps.telemetry.inServerSpan(
            { method: 'tools/call', target: name.slice(0, 200), meta, headers: req.headers, requestId: id, attributes: { [ATTR.gateway]: who.gateway, [ATTR.user]: who.principal.user.id, [ATTR.agent]: who.principal.agent.id } },
            async () => {
              const r = await call();
              return r.kind === 'complete' ? { ...r.result, [OUTCOME]: r } : { [OUTCOME]: r };
            },
          );
          return outcome<CallToolResult>(o[OUTCOME] as Outcome<CallToolResult>);
        }
        case 'resources/list':
          return result(cacheable({ resources: await deps.service.listResources(ctx) }));
        case 'resources/templates/list':
          return result(cacheable({ resourceTemplates: await deps.service.listResourceTemplates(ctx) }));
        case 'resources/read': {
          if (typeof params.uri !== 'string') throw new McpError(ErrorCode.InvalidParams, 'Invalid params: uri must be a string');
          const o = await deps.service.readResource(ctx, params.uri, retryOf());
          return outcome(o.kind === 'complete' ? { kind: 'complete', result: cacheable(o.result as Record<string, unknown>) } : o);
        }
        case 'prompts/list':
          return result(cacheable({ prompts: await deps.service.listPrompts(ctx) }));
        case 'prompts/get': {
          if (typeof params.name !== 'string') throw new McpError(ErrorCode.InvalidParams, 'Invalid params: name must be a string');
          const args = params.arguments as { [k: string]: string } | undefined;
          return outcome(await deps.service.getPrompt(ctx, params.name, args, retryOf()));
        }
        case 'completion/complete':
          return result(await deps.service.complete(ctx, params as never));
        case 'subscriptions/listen':
          return listen(res, who, id, params, streaming, event, () => (finished = true));
        case 'tasks/get': {
          const { skills, taskId } = tasksOnly();
          return result({ ...(await skills.getTask(ctx, taskId)) });
        }
        case 'tasks/update': {
          const { skills, taskId } = tasksOnly();
          // A skill run asks its caller nothing it could answer here (approvals are other people's):
          // responses are acknowledged and ignored, as the extension says of unknown keys.
          await skills.getTask(ctx, taskId);
          return result({});
        }
        case 'tasks/cancel': {
          const { skills, taskId } = tasksOnly();
          await skills.cancelTask(ctx, taskId);
          return result({});
        }
        default:
          throw new Refusal(404, ErrorCode.MethodNotFound, `Method not found: ${message.method.slice(0, 60)}`, undefined, 'ERR_METHOD_NOT_FOUND');
      }
    } catch (err) {
      if (err instanceof Refusal) {
        if (streaming) {
          refused({ code: err.refusal, status: 200, rpcCode: err.code, detail: err.message });
          return answer(200, { jsonrpc: '2.0', id, error: { code: err.code, message: err.message } });
        }
        return fail(id, err);
      }
      if (err instanceof McpError) {
        const status = err.code === MISSING_REQUIRED_CLIENT_CAPABILITY ? 400 : 200;
        return answer(status, { jsonrpc: '2.0', id, error: { code: err.code, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) } });
      }
      if (err instanceof RunError) return answer(200, { jsonrpc: '2.0', id, error: { code: ErrorCode.InvalidParams, message: err.message } });
      throw err;
    }
  };

  /** `subscriptions/listen`: acknowledge the honoured filter, then forward list changes until closed. */
  function listen(
    res: ServerResponse,
    who: ModernCaller,
    id: string | number,
    params: Params,
    streaming: boolean,
    event: (payload: unknown) => void,
    done: () => void,
  ): void {
    const asked = (params.notifications ?? {}) as Record<string, unknown>;
    const filter = {
      ...(asked.toolsListChanged === true ? { toolsListChanged: true } : {}),
      ...(asked.resourcesListChanged === true ? { resourcesListChanged: true } : {}),
      ...(asked.promptsListChanged === true ? { promptsListChanged: true } : {}),
    };
    if (!streaming) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.flushHeaders();
    }
    const tag = { [META_SUBSCRIPTION_ID]: id };
    event({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: filter, _meta: tag } });
    const keepAlive = setInterval(() => res.write(':\n\n'), KEEP_ALIVE_MS);
    keepAlive.unref();
    const remove = deps.listens.add({
      gateway: who.gateway,
      principal: who.principal,
      filter,
      send: (method) => event({ jsonrpc: '2.0', method, params: { _meta: tag } }),
      close: () => {
        event({ jsonrpc: '2.0', id, result: { resultType: 'complete', _meta: tag } });
        res.end();
      },
    });
    res.on('close', () => {
      clearInterval(keepAlive);
      remove();
      done();
    });
  }
}
