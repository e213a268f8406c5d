/**
 * The no-op upstream of bench/gateway.ts on the MCP SDK v2 (`createMcpHandler`): serves both eras
 * (2026-07-28 stateless, 2025-11-25) on one endpoint, so the modern lane has a direct
 * reference. Port in argv[2] (0: any); prints {url} when listening.
 */
import { createServer } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, Server } from '@modelcontextprotocol/server';

const handler = createMcpHandler(() => {
  const s = new Server({ name: 'bench-noop-v2', version: '1.0.0' }, { capabilities: { tools: {} } });
  s.setRequestHandler('tools/list', () => ({
    tools: [{ name: 'noop', description: 'Returns its input.', inputSchema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }, annotations: { readOnlyHint: true } }],
  }));
  s.setRequestHandler('tools/call', (req) => ({ content: [{ type: 'text', text: String((req.params.arguments as { n?: unknown } | undefined)?.n) }] }));
  return s;
});
const node = toNodeHandler(handler);
const http = createServer((req, res) => void node(req, res));
http.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const a = http.address();
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/mcp` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
