/**
 * The SDK-choice candidate (issue 10, item 5): the same gateway work — bearer verification
 * (cached), admission, the AND-gate, the pooled upstream call — served by the MCP TypeScript
 * SDK v2 entry (`createMcpHandler`: dual-era, a fresh `Server` per request, web
 * Request/Response bridged to Node by `@modelcontextprotocol/node`). Benchmarks only: config
 * path in argv[2], port in argv[3]; prints {url} when listening. The product's front door is
 * gateway/adapters/http/app.ts; bench/gateway.ts measures both side by side.
 */
import { createServer } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, Server } from '@modelcontextprotocol/server';
import { createAuthorizer } from '../../gateway/authz/authorizer.js';
import { bearerToken } from '../../gateway/identity/bearer.js';
import { resourceUrl } from '../../gateway/identity/resource-metadata.js';
import { verifierFromConfig } from '../../gateway/identity/verify.js';
import { invokeTool } from '../../gateway/pipeline/index.js';
import { createDataLossFilters } from '../../gateway/dlp/filters.js';
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import { silentLogger } from '../../gateway/log.js';
import { approvedCatalog } from '../../test/helpers/catalog.js';
import { openCredentials } from '../../src/app/runtime/credentials.js';
import { loadConfig } from '../../src/config/load.js';
import { withDevIssuer } from '../../src/app/runtime/front-door.js';
import { createGovernance } from '../../src/app/runtime/governance.js';
import type { Principal } from '../../src/contracts/principal.js';
import type { Json } from '../../src/contracts/json.js';
import type { AuditSink } from '../../src/contracts/audit.js';

const loaded = loadConfig(process.argv[2]!);
const config = withDevIssuer(loaded.config);
const pool = createUpstreamPool(loaded, { log: () => {} });
// Like gateway-main.ts by default: the front door alone, events dropped (bench/audit.ts measures the audit trail).
const audit: AuditSink = { record() {} };
const governance = await createGovernance(loaded, { watch: false, audit });
const authorizer = createAuthorizer({ config, policy: governance.policy, revocations: governance.revocations, audit });
const credentials = (await openCredentials(loaded, { audit })).service;
const verifier = verifierFromConfig(config);
// The real pinned catalog, every tool approved, as the product's front door has it.
const catalog = await approvedCatalog(loaded, pool, silentLogger);
const dataLoss = createDataLossFilters(config.gateways, silentLogger);
const gateway = 'bench';
const audience = resourceUrl(config.publicUrl, gateway);

const handler = createMcpHandler(({ authInfo }) => {
  const principal = (authInfo?.extra as { principal: Principal } | undefined)?.principal;
  const server = new Server({ name: 'skillgate-v2-candidate', version: '0.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler('tools/list', async () => {
    const tools = [];
    for (const s of Object.keys(config.servers)) {
      for (const t of await pool.listTools(s)) {
        if (authorizer.canList(principal!, gateway, { type: 'tool', server: s, tool: t.name })) tools.push({ ...t, name: `${s}.${t.name}` });
      }
    }
    return { tools } as never;
  });
  server.setRequestHandler('tools/call', async (req) => {
    const name = req.params.name;
    const dot = name.indexOf('.');
    const ctx = await invokeTool(
      { pool, authorizer, catalog, dataLoss, audit, credentials },
      { principal: principal!, workspace: config.workspace, gateway, server: name.slice(0, dot), tool: name.slice(dot + 1), arguments: (req.params.arguments ?? {}) as { [k: string]: Json } },
    );
    return ctx.result as never;
  });
  return server;
});
const node = toNodeHandler(handler);

const port = Number(process.argv[3] ?? 0);
const http = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      try {
        const token = bearerToken({ authorization: req.headers.authorization, rawHeaders: req.rawHeaders, url: req.url ?? '', body });
        const v = await verifier.verify(token, { audience });
        authorizer.admit(v.principal, gateway);
        (req as typeof req & { auth?: unknown }).auth = { token, clientId: v.principal.agent.id, scopes: v.scopes, expiresAt: v.expiresAt, extra: { principal: v.principal } };
        await node(req as never, res, body);
      } catch (err) {
        res.writeHead(401).end(String((err as Error).message));
      }
    })();
  });
});
http.listen(port, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`));
process.on('SIGTERM', () => void handler.close().then(() => pool.close()).then(() => process.exit(0)));
