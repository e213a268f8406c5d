/** An upstream MCP server with one no-op tool, over Streamable HTTP (`--port`), for benchmarks. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { serveHttp } from '../../demo/serve.js';

const port = Number(process.argv[2] ?? 0);
const server = await serveHttp(
  {
    create: () => {
      const s = new McpServer({ name: 'bench-noop', version: '1.0.0' });
      s.registerTool(
        'noop',
        { description: 'Returns its input.', inputSchema: { n: z.number().int() }, annotations: { readOnlyHint: true } },
        ({ n }) => ({ content: [{ type: 'text', text: String(n) }] }),
      );
      // A customer record with personal data, for the data-loss filters (bench/gateway-observability.ts).
      s.registerTool(
        'record',
        { description: 'Returns a customer record.', inputSchema: { note: z.string() }, annotations: { readOnlyHint: true } },
        ({ note }) => {
          const record = { customerId: 'C-1001', name: 'Ada Lovelace', since: '2019-03-01', note, email: 'ada@example.com', phone: '(415) 555-2671', card: '4111 1111 1111 1111', iban: 'DE89 3704 0044 0532 0130 00' };
          return { content: [{ type: 'text', text: JSON.stringify(record) }], structuredContent: record };
        },
      );
      return s;
    },
  },
  undefined,
  { port },
);
const addr = server.address();
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}/mcp` })}\n`);
