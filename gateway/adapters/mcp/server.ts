/**
 * The MCP server behind one 2025-11-25 front-door session — an adapter over the MCP service
 * (service.ts): every request re-reads the principal the front door verified for THAT
 * request, and the service decides. What is legacy-only lives here: `initialize`
 * capabilities, `logging/setLevel`, the experimental 2025-11-25 tasks methods, and answering
 * an upstream's `input_required` (2026-07-28 MRTR) the 2025 way — as requests to this client
 * on its session, whose answers go back upstream with the retried request.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  CancelTaskRequestSchema,
  type ClientCapabilities,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  GetTaskPayloadRequestSchema,
  GetTaskRequestSchema,
  type JSONRPCRequest,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListRootsResultSchema,
  ListTasksRequestSchema,
  type LoggingLevel,
  McpError,
  ReadResourceRequestSchema,
  type ServerNotification,
  type ServerRequest,
  SetLevelRequestSchema,
  ListToolsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { SkillgateConfig } from '../../../src/config/schema.js';
import type { Json } from '../../../src/contracts/json.js';
import type { Principal } from '../../../src/contracts/principal.js';
import { own } from '../../../src/shared/own.js';
import { RunError } from '../../../src/skills/runs.js';
import type { InspectRefusal } from './http-transport.js';
import type { ElicitationSessions } from './elicitation.js';
import type { InputRetry, McpRequestContext, McpService, Outcome, TaskHandle } from './service.js';
import type { SkillTools, TaskView } from './skill-tools.js';
import { incomingTraceContext } from '../../telemetry/trace-context.js';
import type { Telemetry } from '../../telemetry/telemetry.js';
import { traced } from './tracing.js';

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface McpServerDeps {
  config: SkillgateConfig;
  service: McpService;
  /** Skills (tasks are theirs); absent when no Temporal is attached. */
  skills?: SkillTools;
  /** Front-door checks of each request before the server sees it (call-params.ts). */
  inspect?: (request: JSONRPCRequest) => InspectRefusal | undefined;
  /** Tracing (absent: off). */
  telemetry?: Telemetry;
  /** Which session got which URL elicitation (to tell it when the grant arrives). */
  elicitations?: ElicitationSessions;
}

/** How many times an upstream's `input_required` is relayed to the client for one call. */
const MAX_INPUT_ROUNDS = 10;

const LEVELS: readonly LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** The request id the front door gave this HTTP request (for log lines). */
function requestIdOf(extra: Extra): string | undefined {
  const id = extra.authInfo?.extra?.requestId;
  return typeof id === 'string' ? id : undefined;
}

/** The principal the front door verified for this very request. */
export function principalOf(extra: Extra): Principal {
  const p = extra.authInfo?.extra?.principal as Principal | undefined;
  if (!p) throw new McpError(ErrorCode.InvalidRequest, 'unauthenticated request');
  return p;
}

/** A task in the 2025-11-25 shape (`ttl`, `pollInterval`). */
function legacyTask(t: TaskHandle) {
  const { ttlMs, pollIntervalMs, ...rest } = t;
  return { ...rest, ttl: ttlMs, ...(pollIntervalMs !== undefined ? { pollInterval: pollIntervalMs } : {}) };
}

/** Build the MCP server of one session on `gateway`. */
export function createGatewayMcpServer(deps: McpServerDeps, gateway: string): Server {
  const gw = own(deps.config.gateways, gateway);
  if (!gw) throw new Error(`createGatewayMcpServer: unknown gateway ${gateway}`);
  const described = deps.service.describe(gateway);
  const hasSkills = deps.skills !== undefined && gw.skills.length > 0;
  const server = new Server(
    { name: described.name, version: described.version },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { listChanged: true },
        prompts: { listChanged: true },
        completions: {},
        logging: {},
        ...(hasSkills ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {}),
      },
      ...(described.instructions ? { instructions: described.instructions } : {}),
    },
  );
  /** `logging/setLevel` of this session: log messages at this level and above reach the client. */
  let logLevel: LoggingLevel | undefined;

  const context = (extra: Extra, task?: { ttlMs?: number }): McpRequestContext => {
    const meta = (extra._meta ?? {}) as Record<string, unknown>;
    const token = meta.progressToken;
    const trace = incomingTraceContext(meta, extra.requestInfo?.headers);
    return {
      principal: principalOf(extra),
      ...(trace ? { trace } : {}),
      gateway,
      era: 'legacy',
      requestId: requestIdOf(extra),
      ...(extra.sessionId ? { sessionId: extra.sessionId } : {}),
      signal: extra.signal,
      meta,
      clientCapabilities: (server.getClientCapabilities() ?? {}) as ClientCapabilities,
      ...(typeof token === 'string' || typeof token === 'number'
        ? { progress: (p) => extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, ...p } }) }
        : {}),
      ...(logLevel
        ? {
            logLevel,
            log: async (m) => {
              if (LEVELS.indexOf(m.level) >= LEVELS.indexOf(logLevel!)) await extra.sendNotification({ method: 'notifications/message', params: m });
            },
          }
        : {}),
      ...(task ? { task } : {}),
      ...(deps.elicitations ? { elicitationAsked: (id: string) => deps.elicitations!.remember(id, server) } : {}),
    };
  };

  /**
   * An upstream needs more input (MRTR): ask this client, on its session, each question the
   * upstream asked — as the 2025 requests they are (elicitation/create, sampling/createMessage,
   * roots/list) — then retry with the answers and the (sealed) state. Up to MAX_INPUT_ROUNDS.
   */
  async function settle<T>(extra: Extra, first: Outcome<T>, retry: (r: InputRetry) => Promise<Outcome<T>>): Promise<T | { task: ReturnType<typeof legacyTask> }> {
    let outcome = first;
    for (let round = 0; ; round++) {
      if (outcome.kind === 'complete') return outcome.result;
      if (outcome.kind === 'task') return { task: legacyTask(outcome.task) };
      if (round >= MAX_INPUT_ROUNDS) throw new McpError(ErrorCode.InternalError, `the upstream still needs input after ${MAX_INPUT_ROUNDS} rounds`);
      const caps = server.getClientCapabilities() ?? {};
      const answers: { [key: string]: Json } = {};
      for (const [key, raw] of Object.entries(outcome.inputRequests ?? {})) {
        const req = raw as { method?: unknown; params?: unknown };
        const method = typeof req.method === 'string' ? req.method : '';
        const needs = method === 'elicitation/create' ? caps.elicitation : method === 'sampling/createMessage' ? caps.sampling : method === 'roots/list' ? caps.roots : undefined;
        if (!needs) {
          throw new McpError(ErrorCode.InvalidRequest, `the upstream asks for ${method || 'an unknown kind of input'}, which this client did not declare it can answer`);
        }
        const schema = method === 'elicitation/create' ? ElicitResultSchema : method === 'sampling/createMessage' ? CreateMessageResultSchema : ListRootsResultSchema;
        answers[key] = (await extra.sendRequest({ method, params: (req.params ?? {}) as never } as ServerRequest, schema, { signal: extra.signal })) as unknown as Json;
      }
      outcome = await retry({ inputResponses: answers, requestState: outcome.requestState });
    }
  }

  const taskCall = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      // tasks/* on a run the caller may not read, or that does not exist: the same answer.
      if (err instanceof RunError) throw new McpError(ErrorCode.InvalidParams, err.message);
      throw err;
    }
  };

  const tracing = deps.telemetry;
  server.setRequestHandler(
    ListToolsRequestSchema,
    traced(tracing, 'tools/list', gateway, async (_req, extra) => ({ tools: await deps.service.listTools(context(extra)) })),
  );

  server.setRequestHandler(
    CallToolRequestSchema,
    traced(tracing, 'tools/call', gateway, async (req: { params: { name: string; arguments?: Record<string, unknown>; task?: { ttl?: number } } }, extra) => {
      const name = req.params.name;
      const args = (req.params.arguments ?? {}) as { [k: string]: Json };
      const task = req.params.task ? { ...(typeof req.params.task.ttl === 'number' ? { ttlMs: req.params.task.ttl } : {}) } : undefined;
      const ctx = context(extra, task);
      return (await settle(extra, await deps.service.callTool(ctx, name, args), (r) => deps.service.callTool(ctx, name, args, r))) as never;
    }),
  );

  server.setRequestHandler(ListResourcesRequestSchema, async (_req, extra) => ({ resources: await deps.service.listResources(context(extra)) }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async (_req, extra) => ({ resourceTemplates: await deps.service.listResourceTemplates(context(extra)) }));
  server.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
    const ctx = context(extra);
    return (await settle(extra, await deps.service.readResource(ctx, req.params.uri), (r) => deps.service.readResource(ctx, req.params.uri, r))) as never;
  });
  server.setRequestHandler(ListPromptsRequestSchema, async (_req, extra) => ({ prompts: await deps.service.listPrompts(context(extra)) }));
  server.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
    const ctx = context(extra);
    const args = req.params.arguments;
    return (await settle(extra, await deps.service.getPrompt(ctx, req.params.name, args), (r) => deps.service.getPrompt(ctx, req.params.name, args, r))) as never;
  });
  server.setRequestHandler(CompleteRequestSchema, async (req, extra) => deps.service.complete(context(extra), req.params));
  server.setRequestHandler(SetLevelRequestSchema, async (req) => {
    logLevel = req.params.level;
    return {};
  });

  if (hasSkills) {
    const skills = deps.skills!;
    server.setRequestHandler(GetTaskRequestSchema, async (req, extra) => legacyTask(await taskCall(() => skills.getTask(context(extra), req.params.taskId))) as never);
    server.setRequestHandler(ListTasksRequestSchema, async (req, extra) => {
      const page = await taskCall(() => skills.listTasks(context(extra), req.params?.cursor));
      return { tasks: page.tasks.map(legacyTask), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) } as never;
    });
    server.setRequestHandler(CancelTaskRequestSchema, async (req, extra) => {
      const t = await taskCall(() => skills.cancelTask(context(extra), req.params.taskId));
      return legacyTask(t) as never;
    });
    // tasks/result: "blocks until the task reaches a terminal status" (2025-11-25 tasks).
    server.setRequestHandler(GetTaskPayloadRequestSchema, async (req, extra) => {
      const ctx = context(extra);
      let t: TaskView;
      for (;;) {
        t = await taskCall(() => skills.getTask(ctx, req.params.taskId));
        if (t.status !== 'working' && t.status !== 'input_required') break;
        if (extra.signal.aborted) throw new McpError(ErrorCode.RequestTimeout, 'tasks/result was cancelled by the client');
        await new Promise((r) => setTimeout(r, t.pollIntervalMs ?? 1000));
      }
      const related = { 'io.modelcontextprotocol/related-task': { taskId: t.taskId } };
      if (t.status === 'completed' && t.result) return { ...t.result, _meta: { ...t.result._meta, ...related } } as never;
      if (t.status === 'cancelled') return { content: [{ type: 'text', text: t.statusMessage ?? 'the run was cancelled' }], isError: true, _meta: related } as never;
      throw new McpError(t.error?.code ?? ErrorCode.InternalError, t.error?.message ?? 'the run failed');
    });
  }

  return server;
}
