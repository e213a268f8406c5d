/**
 * The MCP server behind one front-door session: `tools/list` shows exactly what this
 * (user, agent) pair may call on this gateway; `tools/call` runs the tool-call pipeline, or
 * starts a skill run. Every request re-reads the principal verified for THAT request.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  type CallToolResult,
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { JSONRPCRequest, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { SkillgateConfig } from '../../../src/config/schema.js';
import { globMatcher } from '../../../src/shared/glob.js';
import { own } from '../../../src/shared/own.js';
import type { Json } from '../../../src/contracts/json.js';
import { AuthzError, type Authorizer } from '../../authz/authorizer.js';
import type { Principal } from '../../../src/contracts/principal.js';
import { type Logger, refusal } from '../../log.js';
import { echo } from './call-params.js';
import type { InspectRefusal } from './http-transport.js';
import { invokeTool } from '../../pipeline/index.js';
import type { PipelineDeps } from '../../pipeline/context.js';
import { ToolCallError } from '../../pipeline/errors.js';
import { UpstreamError } from '../../upstream/types.js';
import { DataLossError } from '../../dlp/errors.js';
import { incomingTraceContext } from '../../telemetry/trace-context.js';
import { BUILTIN_TOOLS, type SkillTools, SKILL_TOOL_PREFIX } from './skill-tools.js';
import { traced } from './tracing.js';

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface McpServerDeps {
  config: SkillgateConfig;
  pipeline: PipelineDeps & { authorizer: Authorizer };
  /** Skills as tools (absent when no Temporal is attached). */
  skills?: SkillTools;
  /** Front-door checks of each request before the server sees it (call-params.ts). */
  inspect?: (request: JSONRPCRequest) => InspectRefusal | undefined;
  log: Logger;
}

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

/** A tool result the agent reads as a refusal or failure (MCP: tool errors are results, not protocol errors). */
export function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** Build the MCP server of one session on `gateway`. */
export function createGatewayMcpServer(deps: McpServerDeps, gateway: string): Server {
  const server = new Server(
    { name: `skillgate/${gateway}`, version: '0.1.0' },
    {
      capabilities: { tools: { listChanged: true } },
      instructions: own(deps.config.gateways, gateway)?.description,
    },
  );
  const gw = own(deps.config.gateways, gateway);
  if (!gw) throw new Error(`createGatewayMcpServer: unknown gateway ${gateway}`);

  const tracing = deps.pipeline.telemetry;
  server.setRequestHandler(ListToolsRequestSchema, traced(tracing, 'tools/list', gateway, async (_req, extra) => {
    const principal = principalOf(extra);
    const { authorizer, pool } = deps.pipeline;
    const tools: Tool[] = [];
    // Only servers the gateway's patterns can match are asked for their tools.
    const servers = Object.keys(deps.config.servers).filter((s) => gw.tools.some((p) => serverPart(p)(s)));
    const lists = await Promise.all(
      servers.map(async (s) => {
        try {
          return [s, await pool.listTools(s)] as const;
        } catch (err) {
          deps.log.warn('upstream unavailable while listing tools', { server: s, gateway, requestId: requestIdOf(extra), error: (err as Error).message });
          return [s, [] as Tool[]] as const;
        }
      }),
    );
    for (const [s, list] of lists) {
      for (const t of list) {
        if (!authorizer.canList(principal, gateway, { type: 'tool', server: s, tool: t.name })) continue;
        tools.push({ ...t, name: `${s}.${t.name}` });
      }
    }
    if (deps.skills) tools.push(...deps.skills.list(principal, gateway));
    return { tools };
  }));

  server.setRequestHandler(CallToolRequestSchema, traced(tracing, 'tools/call', gateway, async (req, extra): Promise<CallToolResult> => {
    const principal = principalOf(extra);
    const name = req.params.name;
    const args = (req.params.arguments ?? {}) as { [k: string]: Json };
    const ids = { gateway, user: principal.user.id, agent: principal.agent.id, requestId: requestIdOf(extra) };
    if (deps.skills && (name.startsWith(SKILL_TOOL_PREFIX) || BUILTIN_TOOLS.includes(name))) {
      return deps.skills.call(principal, gateway, name, args, extra);
    }
    const unknownTool = (code: string): McpError => {
      refusal(deps.log, { code, status: ErrorCode.InvalidParams, ...ids, tool: echo(name) });
      return new McpError(ErrorCode.InvalidParams, `unknown tool "${echo(name)}"`);
    };
    const dot = name.indexOf('.');
    if (dot <= 0) throw unknownTool('ERR_TOOL_UNKNOWN');
    const serverName = name.slice(0, dot);
    const toolName = name.slice(dot + 1);
    if (!own(deps.config.servers, serverName)) throw unknownTool('ERR_TOOL_UNKNOWN');
    const trace = incomingTraceContext(extra._meta, extra.requestInfo?.headers);
    try {
      const ctx = await invokeTool(deps.pipeline, {
        principal,
        workspace: deps.config.workspace,
        gateway,
        server: serverName,
        tool: toolName,
        arguments: args,
        signal: extra.signal,
        ...(trace ? { trace } : {}),
      });
      return ctx.result;
    } catch (err) {
      if (err instanceof AuthzError) {
        // A hidden tool is answered as an unknown one; the log still says why.
        if (err.code === 'ERR_TOOL_NOT_VISIBLE') {
          refusal(deps.log, { ...err.logFields(), status: ErrorCode.InvalidParams, ...ids, tool: echo(name) });
          throw new McpError(ErrorCode.InvalidParams, `unknown tool "${echo(name)}"`);
        }
        refusal(deps.log, { ...err.logFields(), ...ids, tool: name });
        return toolError(`${name}: ${err.message}`);
      }
      if (err instanceof ToolCallError) throw unknownTool(err.code);
      // The filter step has logged it (rule, where; never the value); the agent learns which rule.
      if (err instanceof DataLossError) return toolError(`${name}: ${err.message}`);
      if (err instanceof UpstreamError) {
        deps.log.warn('upstream failure', { ...ids, tool: name, code: err.code, error: err.message });
        return toolError(`${name}: the ${serverName} system is unavailable right now; try again later`);
      }
      throw err;
    }
  }));

  return server;
}

/** The server half of a tool pattern (`core-*.get_*` → matches `core-banking`). */
function serverPart(pattern: string): (server: string) => boolean {
  return globMatcher(pattern.slice(0, pattern.indexOf('.')));
}
