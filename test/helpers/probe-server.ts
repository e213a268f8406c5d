/**
 * A small real MCP server for interpreter tests, served in-process over Streamable HTTP on
 * 127.0.0.1:0: tools whose calls the test can observe (arguments, idempotency key, start and
 * end times), to check scheduling, compensation and idempotency through the real pool and
 * callTool activity.
 */
import { createServer, type Server } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { acceptedContent, createMcpHandler, inputRequired, McpServer as McpServerV2 } from '@modelcontextprotocol/server';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { serveHttp } from '../../demo/serve.js';

export interface ProbeCall {
  tool: string;
  args: Record<string, unknown>;
  /** `_meta["dev.skillgate/idempotency-key"]` of the request. */
  key?: string;
  /** The request's whole `_meta` (trace context, acting user, …). */
  meta?: Record<string, unknown>;
  startedAt: number;
  endedAt?: number;
}

export interface ProbeServer {
  /** Streamable HTTP endpoint, for a config `servers.<name>.url`. */
  url: string;
  calls: ProbeCall[];
  /** Side effects applied by `apply`, by idempotency key (a retried call with the same key does not apply twice). */
  applied: Map<string, { id: string; label: string; undone: boolean }>;
  /** The 2026-07-28 server only: JSON-RPC methods received, in order. */
  methods: string[];
  close(): Promise<void>;
}

const ok = (data: Record<string, unknown>): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data });

/**
 * Start the probe server. `era: 'legacy'` (default): the SDK v1 server, 2025-11-25 sessions.
 * `era: 'modern'`: the same tools on the SDK v2 entry, which serves 2026-07-28 statelessly
 * (and 2025 clients too, per request).
 */
export async function startProbeServer(opts: { era?: 'legacy' | 'modern' } = {}): Promise<ProbeServer> {
  const methods: string[] = [];
  const calls: ProbeCall[] = [];
  const applied = new Map<string, { id: string; label: string; undone: boolean }>();
  let next = 1;
  const track = async <T>(tool: string, args: Record<string, unknown>, meta: Record<string, unknown> | undefined, fn: () => Promise<T> | T): Promise<T> => {
    const key = meta?.['dev.skillgate/idempotency-key'];
    const call: ProbeCall = { tool, args, ...(typeof key === 'string' ? { key } : {}), ...(meta ? { meta } : {}), startedAt: Date.now() };
    calls.push(call);
    try {
      return await fn();
    } finally {
      call.endedAt = Date.now();
    }
  };

  const create = (): McpServer => {
    const server = new McpServer({ name: 'probe', version: '1.0.0' });
    server.registerTool(
      'echo',
      { description: 'Return the value given.', inputSchema: { value: z.any() }, annotations: { readOnlyHint: true } },
      (args, extra) => track('echo', args, extra._meta, () => ok({ value: args.value ?? null })),
    );
    server.registerTool(
      'wait',
      {
        description: 'Wait `ms` milliseconds, then answer with the label.',
        inputSchema: { ms: z.number().int().min(0).max(60_000), label: z.string() },
        annotations: { readOnlyHint: true },
      },
      (args, extra) =>
        track('wait', args, extra._meta, async () => {
          await new Promise((r) => setTimeout(r, args.ms));
          return ok({ label: args.label });
        }),
    );
    server.registerTool(
      'apply',
      {
        description: 'Apply a side effect once per idempotency key, then answer its id (after `ms` milliseconds, default 0).',
        inputSchema: { label: z.string(), ms: z.number().int().min(0).max(60_000).optional() },
      },
      (args, extra) =>
        track('apply', args, extra._meta, async () => {
          const key = String(extra._meta?.['dev.skillgate/idempotency-key'] ?? `anonymous-${next}`);
          let effect = applied.get(key);
          if (!effect) {
            effect = { id: `E-${next++}`, label: args.label, undone: false };
            applied.set(key, effect);
          }
          if (args.ms) await new Promise((r) => setTimeout(r, args.ms));
          return ok({ id: effect.id, label: effect.label });
        }),
    );
    server.registerTool(
      'undo',
      { description: 'Undo a side effect by id.', inputSchema: { id: z.string() } },
      (args, extra) =>
        track('undo', args, extra._meta, () => {
          const effect = [...applied.values()].find((e) => e.id === args.id);
          if (!effect) return { content: [{ type: 'text', text: `no effect ${args.id}` }], isError: true };
          effect.undone = true;
          return ok({ id: args.id, undone: true });
        }),
    );
    server.registerTool(
      'refuse',
      { description: 'Always fails with the reason given.', inputSchema: { reason: z.string() } },
      (args, extra) => track('refuse', args, extra._meta, () => ({ content: [{ type: 'text', text: args.reason }], isError: true })),
    );
    return server;
  };

  const createV2 = (): McpServerV2 => {
    const server = new McpServerV2({ name: 'probe', version: '2.0.0' });
    const meta = (ctx: unknown) => (ctx as { mcpReq?: { _meta?: Record<string, unknown> } }).mcpReq?._meta;
    server.registerTool('echo', { description: 'Return the value given.', inputSchema: z.object({ value: z.any() }), annotations: { readOnlyHint: true } }, (args, ctx) =>
      track('echo', args, meta(ctx), () => ok({ value: args.value ?? null })),
    );
    server.registerTool(
      'wait',
      { description: 'Wait `ms` milliseconds, then answer with the label.', inputSchema: z.object({ ms: z.number().int().min(0).max(60_000), label: z.string() }), annotations: { readOnlyHint: true } },
      (args, ctx) =>
        track('wait', args, meta(ctx), async () => {
          await new Promise((r) => setTimeout(r, args.ms));
          return ok({ label: args.label });
        }),
    );
    server.registerTool(
      'apply',
      { description: 'Apply a side effect once per idempotency key, then answer its id.', inputSchema: z.object({ label: z.string(), ms: z.number().int().min(0).max(60_000).optional() }) },
      (args, ctx) =>
        track('apply', args, meta(ctx), async () => {
          const key = String(meta(ctx)?.['dev.skillgate/idempotency-key'] ?? `anonymous-${next}`);
          let effect = applied.get(key);
          if (!effect) {
            effect = { id: `E-${next++}`, label: args.label, undone: false };
            applied.set(key, effect);
          }
          if (args.ms) await new Promise((r) => setTimeout(r, args.ms));
          return ok({ id: effect.id, label: effect.label });
        }),
    );
    server.registerTool('undo', { description: 'Undo a side effect by id.', inputSchema: z.object({ id: z.string() }) }, (args, ctx) =>
      track('undo', args, meta(ctx), () => {
        const effect = [...applied.values()].find((e) => e.id === args.id);
        if (!effect) return { content: [{ type: 'text' as const, text: `no effect ${args.id}` }], isError: true };
        effect.undone = true;
        return ok({ id: args.id, undone: true });
      }),
    );
    server.registerTool('refuse', { description: 'Always fails with the reason given.', inputSchema: z.object({ reason: z.string() }) }, (args, ctx) =>
      track('refuse', args, meta(ctx), () => ({ content: [{ type: 'text' as const, text: args.reason }], isError: true })),
    );
    // 2026-07-28 only: asks its caller a question (input_required, MRTR) before it answers.
    const answer = z.object({ colour: z.string() });
    server.registerTool('ask', { description: 'Asks for a colour, then names it.', inputSchema: z.object({ question: z.string() }) }, async (args, ctx) => {
      const given = acceptedContent((ctx as { mcpReq: { inputResponses?: never } }).mcpReq.inputResponses, 'colour', answer);
      if (!given) return inputRequired({ inputRequests: { colour: inputRequired.elicit({ message: args.question, requestedSchema: answer }) }, requestState: 'probe-state-1' }) as never;
      return ok({ colour: given.colour });
    });
    return server;
  };

  let http: Server;
  if (opts.era === 'modern') {
    const node = toNodeHandler(createMcpHandler(createV2));
    http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
        const m = (body as { method?: unknown } | undefined)?.method;
        if (typeof m === 'string') methods.push(m);
        void node(req, res, body);
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  } else {
    http = await serveHttp({ create }, undefined, { port: 0 });
  }
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    applied,
    methods,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
