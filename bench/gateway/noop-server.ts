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
      return s;
    },
  },
  undefined,
  { port },
);
const addr = server.address();
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}/mcp` })}\n`);
