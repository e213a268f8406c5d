/**
 * What tracing and the data-loss filters add to a tool call through the gateway, measured
 * side by side in one run (same upstream, same client, calls interleaved in rounds):
 *
 *   direct    bench client ──▶ no-op upstream
 *   plain     ──▶ gateway, tracing off, no data-loss rules   (today's default)
 *   traced    ──▶ gateway with OTEL_EXPORTER_OTLP_ENDPOINT set (spans exported over OTLP/HTTP
 *                 to a receiver in this process that counts and drops them)
 *   filtered  ──▶ gateway whose `dataLoss` scans for all five detectors
 *
 * Two tools: `noop` (returns its number: the classic gateway benchmark's call) for tracing,
 * and `record` (a customer record with an e-mail, a phone, a card number and an IBAN, in
 * text and structured content: ~400 B) for the filters. Bounded: fixed call counts; loopback.
 *
 *   npm run bench:observability     (node --import tsx bench/gateway-observability.ts)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { stringify } from 'yaml';
import { createDevIdp } from '../gateway/adapters/idp/dev-idp.js';
import { createDataLossFilters } from '../gateway/dlp/filters.js';
import { silentLogger } from '../gateway/log.js';
import type { PipelineDeps, ToolCallContext } from '../gateway/pipeline/context.js';
import { filterArguments } from '../gateway/pipeline/filter-arguments.js';
import { filterResult } from '../gateway/pipeline/filter-result.js';
import { incomingTraceContext } from '../gateway/telemetry/trace-context.js';
import { startTelemetry } from '../src/app/runtime/telemetry.js';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from '../src/config/load.js';
import { withDevIssuer } from '../src/app/runtime/front-door.js';
import { transportFetch } from './fetch.js';
import { freePort, startChild } from './children.js';

const SEQ_CALLS = Number(process.env.BENCH_SEQ_CALLS ?? 3000);
const ROUNDS = 5;


async function connect(url: string, token?: string): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: transportFetch, ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}) }));
  return c;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function sequential(c: Client, tool: string, args: (i: number) => Record<string, unknown>, n: number, out: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await c.callTool({ name: tool, arguments: args(i) });
    out.push(performance.now() - t0);
    if (r.isError) throw new Error(`call failed: ${JSON.stringify(r.content)}`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'skillgate-bench-obs-'));
const children: ChildProcess[] = [];
// The OTLP receiver: counts spans' requests and drops them.
let exports = 0;
const receiver = createHttpServer((req, res) => {
  req.resume();
  req.on('end', () => {
    exports++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;

try {
  const upstream = await startChild(['bench/gateway/noop-server.ts', '0']);
  children.push(upstream.child);
  const policies = join(dir, 'bench.cedar');
  writeFileSync(
    policies,
    `@id("agent.bench") permit (principal == Skillgate::Agent::"bench-agent", action == Skillgate::Action::"call_tool", resource in Skillgate::Server::"noop");
@id("user.bench") permit (principal in Skillgate::Role::"bench", action == Skillgate::Action::"call_tool", resource in Skillgate::Server::"noop");\n`,
  );
  const variants = ['plain', 'traced', 'filtered'] as const;
  const gateways: Record<string, { resource: string; token: string }> = {};
  for (const v of variants) {
    const port = await freePort();
    const configText = stringify({
      workspace: 'bench',
      stateDir: join(dir, `state-${v}`),
      publicUrl: `http://127.0.0.1:${port}`,
      servers: { noop: { url: upstream.url } },
      users: { 'bench-user': { roles: ['bench'] } },
      identity: { devIdp: true },
      agents: { 'bench-agent': { clientId: 'bench-agent' } },
      gateways: {
        bench: {
          agents: ['bench-agent'],
          tools: ['noop.*'],
          ...(v === 'filtered' ? { dataLoss: { phoneRegion: 'US', rules: { email: 'redact', phone: 'redact', 'card-number': 'redact', iban: 'redact', 'us-ssn': 'redact' } } } : {}),
        },
      },
      policies: [policies],
    });
    const configFile = join(dir, `skillgate-${v}.yaml`);
    writeFileSync(configFile, configText);
    const loaded = parseConfig(configText, configFile);
    const config = withDevIssuer(loaded.config);
    const idp = await createDevIdp({ config, stateDir: loaded.path(config.stateDir) });
    const env = { ...process.env };
    delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    if (v === 'traced') env.OTEL_EXPORTER_OTLP_ENDPOINT = receiverUrl;
    const gw = await startChild(['bench/gateway/gateway-main.ts', configFile], { env });
    children.push(gw.child);
    const resource = `${gw.url}/mcp/bench`;
    gateways[v] = { resource, token: await idp.mintToken({ user: 'bench-user', agent: 'bench-agent', audience: resource, ttlSec: 3600 }) };
  }

  const direct = await connect(upstream.url);
  const via = Object.fromEntries(await Promise.all(variants.map(async (v) => [v, await connect(gateways[v]!.resource, gateways[v]!.token)] as const)));
  const noopArgs = (i: number) => ({ n: i });
  const recordArgs = (i: number) => ({ note: `call ${i}` });
  // Warm-up.
  await sequential(direct, 'noop', noopArgs, 300, []);
  for (const v of variants) {
    await sequential(via[v]!, 'noop.noop', noopArgs, 300, []);
    await sequential(via[v]!, 'noop.record', recordArgs, 300, []);
  }
  await sequential(direct, 'record', recordArgs, 300, []);

  const lat: Record<string, number[]> = { direct: [], plain: [], traced: [], 'direct record': [], 'plain record': [], 'filtered record': [] };
  const per = Math.ceil(SEQ_CALLS / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    await sequential(direct, 'noop', noopArgs, per, lat.direct!);
    await sequential(via.plain!, 'noop.noop', noopArgs, per, lat.plain!);
    await sequential(via.traced!, 'noop.noop', noopArgs, per, lat.traced!);
    await sequential(direct, 'record', recordArgs, per, lat['direct record']!);
    await sequential(via.plain!, 'noop.record', recordArgs, per, lat['plain record']!);
    await sequential(via.filtered!, 'noop.record', recordArgs, per, lat['filtered record']!);
  }
  // The filtered gateway really filters: its answer is redacted.
  const sample = await via.filtered!.callTool({ name: 'noop.record', arguments: { note: 'x' } });
  if (!JSON.stringify(sample).includes('[REDACTED:card-number]')) throw new Error('the filtered gateway did not redact');

  const f = (x: number) => x.toFixed(2);
  console.log(`\nTracing and data-loss filters — ${SEQ_CALLS} sequential calls per path in ${ROUNDS} interleaved rounds, Node ${process.version}, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}\n`);
  console.log('| path | tool | p50 ms | p99 ms | added p50 vs plain gateway |');
  console.log('|---|---|---:|---:|---:|');
  const row = (name: string, tool: string, xs: number[], base?: number[]) =>
    console.log(`| ${name} | ${tool} | ${f(pct(xs, 50))} | ${f(pct(xs, 99))} | ${base ? `${pct(xs, 50) - pct(base, 50) >= 0 ? '+' : ''}${f(pct(xs, 50) - pct(base, 50))}` : ''} |`);
  row('direct', 'noop', lat.direct!);
  row('gateway, tracing off', 'noop', lat.plain!);
  row('gateway, tracing on (OTLP/HTTP)', 'noop', lat.traced!, lat.plain);
  row('direct', 'record', lat['direct record']!);
  row('gateway, no data-loss rules', 'record', lat['plain record']!);
  row('gateway, all five detectors', 'record', lat['filtered record']!, lat['plain record']);
  console.log(`\nOTLP export requests received from the traced gateway: ${exports}`);

  // In process: what the call path does when tracing is off and the gateway has no rules —
  // look for a caller's traceparent (none here, as for most callers) and skip both filters.
  const off = (() => {
    const loaded = parseConfig('workspace: b\ngateways:\n  g: { tools: ["noop.*"] }\n', 'b.yaml');
    const deps = { dataLoss: createDataLossFilters(loaded.config.gateways, silentLogger) } as unknown as PipelineDeps;
    const principal = { user: { id: 'u', roles: [], groups: [] }, agent: { id: 'a' } };
    const headers = { host: '127.0.0.1', accept: 'application/json, text/event-stream', 'content-type': 'application/json', authorization: 'Bearer x' };
    const result = { content: [{ type: 'text' as const, text: '1' }] };
    const one = () => {
      const trace = incomingTraceContext({ progressToken: 1 }, headers);
      const ctx: ToolCallContext = { request: { principal, workspace: 'b', gateway: 'g', server: 'noop', tool: 'noop', arguments: { n: 1 }, ...(trace ? { trace } : {}) }, result };
      void filterArguments(ctx, deps);
      void filterResult(ctx, deps);
    };
    for (let i = 0; i < 20_000; i++) one();
    const rounds: number[] = [];
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      for (let i = 0; i < 100_000; i++) one();
      rounds.push(((performance.now() - t0) * 1000) / 100_000);
    }
    return rounds.sort((a, b) => a - b)[3]!;
  })();
  console.log(`In process, tracing off and no data-loss rules: ${off.toFixed(2)} µs per call (traceparent lookup + both filter steps skipping), median of 7 × 100,000`);

  // In process: the spans of one direct call with tracing on (front door SERVER span, upstream
  // CLIENT span with its _meta injection, batching), exported to a sink that drops them.
  let dropped = 0;
  const sink: SpanExporter = {
    export(spans: ReadableSpan[], done: (r: ExportResult) => void) {
      dropped += spans.length;
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const loadedOn = parseConfig('workspace: b\ntelemetry: { otlp: { endpoint: "http://127.0.0.1:1" } }\n', 'b.yaml');
  const on = (await startTelemetry(loadedOn, {}, { exporter: sink }))!;
  const meta = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01' };
  const traced = async () =>
    on.telemetry.inServerSpan({ method: 'tools/call', target: 'noop.noop', meta, headers: {}, sessionId: 's', requestId: 1 }, async () => {
      const span = on.telemetry.startUpstreamSpan({ server: 'noop', tool: 'noop', gateway: 'bench' });
      on.telemetry.endUpstreamSpan(span, { arguments: { n: 1 }, result: { content: [{ type: 'text', text: '1' }] } });
      return { content: [] };
    });
  for (let i = 0; i < 5000; i++) await traced();
  const tRounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 20_000; i++) await traced();
    tRounds.push(((performance.now() - t0) * 1000) / 20_000);
  }
  await on.shutdown();
  console.log(`In process, tracing on: ${tRounds.sort((a, b) => a - b)[3]!.toFixed(2)} µs per call for its two spans (started, attributed, ended, batched, exported to a no-op exporter; ${dropped} spans), median of 7 × 20,000`);
  await Promise.all([direct, ...Object.values(via)].map((c) => c.close()));
} finally {
  for (const c of children) c.kill('SIGTERM');
  receiver.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
