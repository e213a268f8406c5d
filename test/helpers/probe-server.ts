/**
 * A small real MCP server for interpreter tests, served in-process over Streamable HTTP on
 * 127.0.0.1:0: tools whose calls the test can observe (arguments, idempotency key, start and
 * end times), to check scheduling, compensation and idempotency through the real pool and
 * callTool activity.
 */
import type { Server } from 'node:http';
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
  close(): Promise<void>;
}

const ok = (data: Record<string, unknown>): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data });

/** Start the probe server. */
export async function startProbeServer(): Promise<ProbeServer> {
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

  const http: Server = await serveHttp({ create }, undefined, { port: 0 });
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    applied,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
