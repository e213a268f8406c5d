/**
 * OpenTelemetry traces, exported over OTLP/HTTP to a collector in this test (127.0.0.1:0):
 * one skill run is ONE tree — the front door's span, the workflow start, the workflow, each
 * activity and each upstream call — continuing the trace the client sent in `_meta`
 * (SEP-414); direct calls; span names and attributes per the semantic conventions for MCP;
 * content capture opt-in and after the data-loss filters; the trace context sent upstream.
 * Real gateway, real MCP clients, the probe server upstream, the Temporal dev server.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { otlpTracesEndpoint, startTelemetry, type TelemetryRuntime } from '../src/app/runtime/telemetry.js';
import { type SkillGateway, startSkillGateway, structured, textOf } from './helpers/gateway.js';
import { OBSERVABILITY_SKILLS, observabilityPolicies } from './helpers/observability.js';
import { type CollectedSpan, type Collector, startCollector, treeOf } from './helpers/otlp-collector.js';
import { type ProbeServer, startProbeServer } from './helpers/probe-server.js';
import { eventually } from './helpers/skill-harness.js';

const SERVER = 2;
const CLIENT = 3;

let collector: Collector;
let tracing: TelemetryRuntime;
let t: SkillGateway;
let probe: ProbeServer;
const policies = observabilityPolicies();

/** A fresh W3C traceparent, as an instrumented MCP client would send it. */
function traceparent(): { header: string; traceId: string; spanId: string } {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const traceId = `a${hex(31)}`;
  const spanId = `b${hex(15)}`;
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** Flush, then wait until the collector holds the spans `ready` wants (the workflow's come through a sink). */
async function spansOf(traceId: string, ready: (spans: CollectedSpan[]) => boolean): Promise<CollectedSpan[]> {
  return eventually(async () => {
    await tracing.flush();
    const spans = collector.spans.filter((s) => s.traceId === traceId);
    return ready(spans) && spans;
  }, `spans of trace ${traceId}`);
}

const one = (spans: CollectedSpan[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  expect(found, `exactly one span "${name}" in:\n${spans.map((s) => s.name).join('\n')}`).toHaveLength(1);
  return found[0]!;
};

beforeAll(async () => {
  collector = await startCollector();
  probe = await startProbeServer();
  // The config key, as an operator writes it (the environment variables are checked below).
  const loaded = parseConfig(`workspace: test\ntelemetry:\n  otlp:\n    endpoint: ${collector.url}\n`, join(OBSERVABILITY_SKILLS, 'skillgate.yaml'));
  tracing = (await startTelemetry(loaded, {}))!;
  t = await startSkillGateway({
    address: inject('temporalAddress'),
    skillDirs: [join(OBSERVABILITY_SKILLS, 'probe-relay')],
    extra: {
      servers: { probe: { url: probe.url } },
      policies: [policies.glob],
      gateways: {
        traced: { agents: ['credit-assistant'], tools: ['probe.*'], skills: ['probe-relay'], dataLoss: { rules: { email: 'redact' } } },
      },
    },
    skillSyncWaitMs: 30_000,
    tracing,
  });
});

afterAll(async () => {
  await t?.close();
  await tracing?.shutdown();
  await probe?.close();
  await collector?.close();
  policies.cleanup();
});

describe('one skill run is one trace', () => {
  it('the front door, the workflow, each activity and each upstream call form ONE tree under the caller\'s span', async () => {
    const client = await t.connect('ceo', 'credit-assistant', 'traced');
    const caller = traceparent();
    const r = await client.callTool({ name: 'skill.probe-relay', arguments: { text: 'hello' }, _meta: { traceparent: caller.header } }, undefined, { timeout: 60_000 });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(structured<{ echoed: string }>(r).echoed).toBe('hello');

    const spans = await spansOf(caller.traceId, (s) => s.filter((x) => x.name === 'tools/call echo').length === 2 && s.some((x) => x.name === 'RunWorkflow:runSkill'));
    // The front door may read the run's status for progress (QueryWorkflow:status, as many
    // times as it read it): children of the front door's span too, left out of the exact tree.
    const queries = spans.filter((s) => s.name === 'QueryWorkflow:status');
    const tree = treeOf(spans.filter((s) => !queries.includes(s)), caller.traceId, caller.spanId);
    expect(tree).toBe(
      [
        'tools/call skill.probe-relay [server]',
        // A synchronous call starts the run with the `answer` update (Update-with-Start).
        '  UpdateWithStartWorkflow:answer [internal]',
        '    RunWorkflow:runSkill [internal]',
        '      StartActivity:verifyRun [internal]',
        '        RunActivity:verifyRun [internal]',
        '      StartActivity:callTool [internal]',
        '        RunActivity:callTool [internal]',
        '          tools/call echo [client]',
        '      StartActivity:callTool [internal]',
        '        RunActivity:callTool [internal]',
        '          tools/call echo [client]',
        '    HandleUpdate:answer [internal]',
      ].join('\n'),
    );
    // Every span of the trace hangs from the caller's span: nothing detached.
    const ids = new Set([caller.spanId, ...spans.map((s) => s.spanId)]);
    expect(spans.filter((s) => !ids.has(s.parentSpanId)).map((s) => s.name)).toEqual([]);

    const front = one(spans, 'tools/call skill.probe-relay');
    expect(queries.every((q) => q.parentSpanId === front.spanId)).toBe(true);
    expect(front.kind).toBe(SERVER);
    expect(front.parentSpanId).toBe(caller.spanId);
    expect(front.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'skill.probe-relay',
      'gen_ai.operation.name': 'execute_tool',
      'skillgate.gateway': 'traced',
      'skillgate.user.id': 'ceo',
      'skillgate.agent.id': 'credit-assistant',
      'network.transport': 'tcp',
    });
    expect(front.attributes['mcp.session.id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(front.attributes['jsonrpc.request.id']).toMatch(/^\d+$/);

    const upstream = spans.filter((s) => s.name === 'tools/call echo');
    for (const u of upstream) {
      expect(u.kind).toBe(CLIENT);
      expect(u.attributes).toMatchObject({ 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'echo', 'skillgate.server': 'probe', 'skillgate.skill': 'probe-relay' });
    }
    expect(upstream.map((u) => u.attributes['skillgate.step']).sort()).toEqual(['first', 'second']);
    // The upstream server was told the trace context of the call span that called it (SEP-414).
    const sent = probe.calls.slice(-2).map((c) => String(c.meta?.traceparent));
    expect(sent.sort()).toEqual(upstream.map((u) => `00-${caller.traceId}-${u.spanId}-01`).sort());
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['skillgate']));
  });
});

describe('direct calls', () => {
  it('front door span → upstream span, named and attributed per the MCP conventions; the HTTP traceparent is the parent when _meta has none', async () => {
    const caller = traceparent();
    const token = await t.token('ceo', 'credit-assistant', 'traced');
    const client = new Client({ name: 'traced-client', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(t.gw.resourceUrl('traced')), { requestInit: { headers: { authorization: `Bearer ${token}`, traceparent: caller.header } } }),
    );
    try {
      const r = await client.callTool({ name: 'probe.echo', arguments: { value: 1 } });
      expect(r.isError).toBeFalsy();
    } finally {
      await client.close();
    }
    const spans = await spansOf(caller.traceId, (s) => s.some((x) => x.name === 'tools/call echo'));
    expect(treeOf(spans, caller.traceId, caller.spanId)).toContain('tools/call probe.echo [server]\n  tools/call echo [client]');
    const upstream = one(spans, 'tools/call echo');
    expect(upstream.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'skillgate.gateway': 'traced' });
    expect(upstream.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    expect(upstream.attributes['gen_ai.tool.call.result']).toBeUndefined();
    expect(probe.calls.at(-1)?.meta?.traceparent).toBe(`00-${caller.traceId}-${upstream.spanId}-01`);
  });

  it('when _meta and the HTTP header disagree, _meta is the parent and the HTTP context a link', async () => {
    const http = traceparent();
    const meta = traceparent();
    const token = await t.token('ceo', 'credit-assistant', 'traced');
    const client = new Client({ name: 'traced-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(t.gw.resourceUrl('traced')), { requestInit: { headers: { authorization: `Bearer ${token}`, traceparent: http.header } } }));
    try {
      await client.callTool({ name: 'probe.echo', arguments: { value: 2 }, _meta: { traceparent: meta.header } });
    } finally {
      await client.close();
    }
    const spans = await spansOf(meta.traceId, (s) => s.some((x) => x.name === 'tools/call echo'));
    const front = one(spans, 'tools/call probe.echo');
    expect(front.parentSpanId).toBe(meta.spanId);
    expect(front.links).toEqual([{ traceId: http.traceId, spanId: http.spanId }]);
  });

  it('a tool error is error.type=tool_error on both spans; a call without trace context starts a new trace', async () => {
    const client = await t.connect('ceo', 'credit-assistant', 'traced');
    const r = await client.callTool({ name: 'probe.refuse', arguments: { reason: 'not today' } });
    expect(r.isError).toBe(true);
    const spans = await eventually(async () => {
      await tracing.flush();
      const u = collector.spans.find((s) => s.name === 'tools/call refuse');
      return u && collector.spans.filter((s) => s.traceId === u.traceId);
    }, 'the refuse call\'s spans');
    const front = one(spans, 'tools/call probe.refuse');
    const upstream = one(spans, 'tools/call refuse');
    expect(front.parentSpanId).toBe('');
    expect(upstream.parentSpanId).toBe(front.spanId);
    for (const s of [front, upstream]) {
      expect(s.attributes['error.type']).toBe('tool_error');
      expect(s.status.code).toBe(2);
    }
  });

  it('content is recorded only when opted in, and after the data-loss filters', async () => {
    tracing.telemetry.captureContent = true;
    try {
      const client = await t.connect('ceo', 'credit-assistant', 'traced');
      const caller = traceparent();
      await client.callTool({ name: 'probe.echo', arguments: { value: 'write to ada@example.com' }, _meta: { traceparent: caller.header } });
      const spans = await spansOf(caller.traceId, (s) => s.some((x) => x.name === 'tools/call echo'));
      const upstream = one(spans, 'tools/call echo');
      expect(JSON.parse(String(upstream.attributes['gen_ai.tool.call.arguments']))).toEqual({ value: 'write to [REDACTED:email]' });
      expect(JSON.parse(String(upstream.attributes['gen_ai.tool.call.result']))).toEqual({ value: 'write to [REDACTED:email]' });
      expect(JSON.stringify(collector.spans, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('ada@example.com');
      // The pipeline context's trace id (what the audit event and the log line carry) is the
      // trace's. (Only the arguments were filtered: the upstream never saw the address.)
      expect(t.logs.filter((l) => l.event === 'dlp' && l.traceId === caller.traceId).map((l) => l.msg)).toEqual(['data-loss filter redacted the arguments']);
    } finally {
      tracing.telemetry.captureContent = false;
    }
  });

  it('exports OTLP/HTTP JSON to <endpoint>/v1/traces', () => {
    expect(collector.requests.length).toBeGreaterThan(0);
    expect(collector.requests.every((r) => r.method === 'POST' && r.path === '/v1/traces' && r.contentType.startsWith('application/json'))).toBe(true);
  });
});

describe('configuration', () => {
  const config = parseConfig('workspace: t\ntelemetry:\n  otlp:\n    endpoint: http://collector.internal:4318/\n', 'skillgate.yaml').config;
  const off = parseConfig('workspace: t\n', 'skillgate.yaml').config;

  it('off by default; the config key, then OTEL_EXPORTER_OTLP_ENDPOINT, then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT turn it on; OTEL_SDK_DISABLED turns it off', async () => {
    expect(otlpTracesEndpoint(off, {})).toBeUndefined();
    expect(otlpTracesEndpoint(config, {})).toBe('http://collector.internal:4318/v1/traces');
    expect(otlpTracesEndpoint(off, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' })).toBe('http://env:4318/v1/traces');
    expect(otlpTracesEndpoint(config, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' })).toBe('http://env:4318/v1/traces');
    expect(otlpTracesEndpoint(config, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9999/x' })).toBe('http://traces:9999/x');
    expect(otlpTracesEndpoint(config, { OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(await startTelemetry({ ...t.ws.loaded, config: off }, {})).toBeUndefined();
  });
});
