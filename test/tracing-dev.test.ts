/**
 * Traces from `skillgate dev` as an operator turns them on: the real CLI process on a copy of
 * the demo workspace, OTEL_EXPORTER_OTLP_ENDPOINT pointing at a collector in this test. The
 * demo credit issuance, called by an MCP client that sends its trace context, arrives as one
 * trace: the front door, the run and each step's upstream call; the demo credit desk's
 * data-loss rules refuse an IBAN in arguments, naming the rule; Ctrl-C flushes what is left.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenMinter } from '../gateway/adapters/idp/mint.js';
import { loadConfig } from '../src/config/load.js';
import { childEnv, demoWorkspace, type DemoWorkspace, type DevProcess, startDev } from './helpers/dev-process.js';
import { type Collector, startCollector, treeOf } from './helpers/otlp-collector.js';

let ws: DemoWorkspace;
let dev: DevProcess;
let collector: Collector;
let client: Client;

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

beforeAll(async () => {
  collector = await startCollector();
  ws = await demoWorkspace();
  // Batches every 2 minutes: nothing leaves before Ctrl-C, so the last test sees the flush on stop.
  dev = startDev(ws.configFile, childEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: '120000' }));
  await dev.ready();
  const loaded = loadConfig(ws.configFile);
  const minter = await createTokenMinter({ config: loaded.config, stateDir: loaded.path(loaded.config.stateDir) });
  const url = `http://127.0.0.1:${ws.gatewayPort}/mcp/credit-desk`;
  const token = await minter.mintToken({ user: 'ceo', agent: 'credit-assistant', audience: url });
  client = new Client({ name: 'traced-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
}, 150_000);

afterAll(async () => {
  await client?.close().catch(() => {});
  await dev?.stop();
  ws?.cleanup();
  await collector?.close();
});

describe('skillgate dev with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('says where traces go in its banner', () => {
    expect(dev.output()).toContain(`${collector.url}/v1/traces`);
  });

  it('the demo credit desk refuses an IBAN in arguments, naming its data-loss rule', async () => {
    const r = await client.callTool({ name: 'core-banking.send_notice', arguments: { customerId: 'C-1001', subject: 'Refund', body: 'to DE89 3704 0044 0532 0130 00' } });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toContain('blocked by data-loss rule \\"iban\\" (gateways.credit-desk.dataLoss.rules.iban)');
  });

  it('a credit issuance through the front door is one trace — front door → run → every step\'s upstream call — flushed on Ctrl-C', async () => {
    const r = await client.callTool(
      { name: 'skill.credit-issuance', arguments: { customerId: 'C-1001', amount: 3000 }, _meta: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` } },
      undefined,
      { timeout: 60_000 },
    );
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    await client.close();
    expect(collector.spans.filter((x) => x.traceId === TRACE_ID)).toEqual([]);
    expect(await dev.stop()).toBe(0);

    const spans = collector.spans.filter((x) => x.traceId === TRACE_ID);
    const tree = treeOf(spans.filter((s) => s.name !== 'QueryWorkflow:status'), TRACE_ID, CALLER_SPAN);
    expect(tree.split('\n')[0]).toBe('tools/call skill.credit-issuance [server]');
    for (const line of [
      // A synchronous call starts the run with its `answer` update (Update-with-Start).
      '  UpdateWithStartWorkflow:answer [internal]',
      '    RunWorkflow:runSkill [internal]',
      '    HandleUpdate:answer [internal]',
      '          tools/call get_customer [client]',
      '          tools/call get_score [client]',
      '          tools/call issue_credit [client]',
      '          tools/call send_notice [client]',
    ]) {
      expect(tree.split('\n'), tree).toContain(line);
    }
    const ids = new Set([CALLER_SPAN, ...spans.map((s) => s.spanId)]);
    expect(spans.filter((s) => !ids.has(s.parentSpanId)).map((s) => s.name)).toEqual([]);
  });
});
