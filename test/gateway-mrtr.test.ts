/**
 * An upstream of the 2026-07-28 era that asks its caller something (input_required, MRTR)
 * behind the gateway: a 2026 client gets the question with Skillgate's own sealed
 * requestState and its retry is answered; the state is bound to the principal and the
 * request; a 2025 client is asked the same question the 2025 way (elicitation/create on its
 * session) and never sees MRTR at all.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startProbeServer, type ProbeServer } from './helpers/probe-server.js';
import { ROOT } from './helpers/workspace.js';
import { modernToolCall } from './helpers/modern-call.js';

const policyDir = mkdtempSync(join(tmpdir(), 'skillgate-mrtr-policies-'));
for (const f of ['agents.cedar', 'users.cedar', 'arguments.cedarschema']) copyFileSync(join(ROOT, 'policies', f), join(policyDir, f));
writeFileSync(
  join(policyDir, 'probe.cedar'),
  `@id("agent.coding-agent.probe") permit (principal == Skillgate::Agent::"coding-agent", action == Skillgate::Action::"call_tool", resource in Skillgate::Server::"probe");
@id("user.everyone.probe") permit (principal is Skillgate::User, action == Skillgate::Action::"call_tool", resource in Skillgate::Server::"probe");\n`,
);

let probe: ProbeServer;
let t: TestGateway;
beforeAll(async () => {
  probe = await startProbeServer({ era: 'modern' });
  t = await startTestGateway({
    extra: {
      servers: { probe: { url: probe.url } },
      gateways: { 'dev-tools': { agents: ['coding-agent'], tools: ['probe.*'] } },
      policies: [join(policyDir, '*.cedar')],
    },
  });
});
afterAll(async () => {
  await t?.close();
  await probe?.close();
  rmSync(policyDir, { recursive: true, force: true });
});

const META = (caps: Record<string, unknown> = { elicitation: {} }) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': caps,
});

const call = (token: string, params: Record<string, unknown>) => modernToolCall(t.gw.resourceUrl('dev-tools'), token, params);

describe('input_required relayed through the gateway', () => {
  it('a 2026 client gets the question with a sealed state (never the upstream\'s own) and its retry is answered', async () => {
    const token = await t.token('intern', 'coding-agent', 'dev-tools');
    const first = await call(token, { name: 'probe.ask', arguments: { question: 'Which colour?' }, _meta: META() });
    expect(first.json.result?.resultType).toBe('input_required');
    expect(Object.keys(first.json.result?.inputRequests as object)).toEqual(['colour']);
    const state = first.json.result?.requestState as string;
    expect(state).toMatch(/^sg1\./);
    expect(state).not.toContain('probe-state-1');
    expect(Buffer.from(state.slice(4), 'base64url').toString('latin1')).not.toContain('probe-state-1');

    const retry = await call(token, {
      name: 'probe.ask',
      arguments: { question: 'Which colour?' },
      inputResponses: { colour: { action: 'accept', content: { colour: 'teal' } } },
      requestState: state,
      _meta: META(),
    });
    expect(retry.json.result?.resultType).toBe('complete');
    expect(retry.json.result?.structuredContent).toEqual({ colour: 'teal' });
  });

  it('refuses a state changed by the client, presented by another user, or on another request', async () => {
    const token = await t.token('intern', 'coding-agent', 'dev-tools');
    const first = await call(token, { name: 'probe.ask', arguments: { question: 'Which colour?' }, _meta: META() });
    const state = first.json.result?.requestState as string;
    const answers = { colour: { action: 'accept', content: { colour: 'teal' } } };
    const flipped = state.slice(0, -3) + (state.at(-3) === 'A' ? 'B' : 'A') + state.slice(-2);
    const tampered = await call(token, { name: 'probe.ask', arguments: { question: 'x' }, inputResponses: answers, requestState: flipped, _meta: META() });
    expect(tampered.json.error?.code).toBe(-32602);
    const ceo = await t.token('ceo', 'coding-agent', 'dev-tools');
    const stolen = await call(ceo, { name: 'probe.ask', arguments: { question: 'x' }, inputResponses: answers, requestState: state, _meta: META() });
    expect(stolen.json.error?.code).toBe(-32602);
    const elsewhere = await call(token, { name: 'probe.echo', arguments: { value: 1 }, inputResponses: answers, requestState: state, _meta: META() });
    expect(elsewhere.json.error?.code).toBe(-32602);
    expect(t.logs.filter((l) => l.code === 'ERR_STATE_FORGED').length).toBeGreaterThanOrEqual(3);
  });

  it('a client that declared no elicitation is not asked: the upstream\'s -32021 reaches it with HTTP 400', async () => {
    const token = await t.token('intern', 'coding-agent', 'dev-tools');
    const r = await call(token, { name: 'probe.ask', arguments: { question: 'Which colour?' }, _meta: META({}) });
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe(-32021);
  });

  it('a 2025 client is asked on its session (elicitation/create) and gets the final result in one call', async () => {
    const token = await t.token('intern', 'coding-agent', 'dev-tools');
    const client = new Client({ name: 'legacy', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return { action: 'accept', content: { colour: 'ochre' } };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(t.gw.resourceUrl('dev-tools')), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      const r = await client.callTool({ name: 'probe.ask', arguments: { question: 'Which colour?' } });
      expect(asked).toEqual(['Which colour?']);
      expect(r.structuredContent).toEqual({ colour: 'ochre' });
    } finally {
      await client.close();
    }
  });
});
