/**
 * Data-loss filters per gateway, through the real front door with real MCP clients, real
 * upstream servers (the probe server: structured + text results; the reference `everything`
 * server: text only) and real skill runs on the Temporal dev server:
 *
 *   gateway      rules
 *   ───────────  ──────────────────────────────────────────────────────────────────────────
 *   redacting    card numbers in results → redact; e-mail in arguments → redact;
 *                IBAN in arguments → block; US SSN in results → block;
 *                everything.echo: card numbers allowed (a per-tool override)
 *   allowing     card numbers → allow
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { invokeTool } from '../gateway/pipeline/index.js';
import { createDataLossFilters } from '../gateway/dlp/filters.js';
import { DataLossError } from '../gateway/dlp/errors.js';
import { type SkillGateway, startSkillGateway, structured, textOf } from './helpers/gateway.js';
import { OBSERVABILITY_SKILLS, observabilityPolicies } from './helpers/observability.js';
import { type ProbeServer, startProbeServer } from './helpers/probe-server.js';
import { join } from 'node:path';

const CARD = '4111 1111 1111 1111';
const IBAN = 'DE89 3704 0044 0532 0130 00';
const SSN = '123-45-6789';
const EMAIL = 'ada@example.com';

let t: SkillGateway;
let probe: ProbeServer;
const policies = observabilityPolicies();

beforeAll(async () => {
  probe = await startProbeServer();
  const tools = ['probe.*', 'everything.echo'];
  t = await startSkillGateway({
    address: inject('temporalAddress'),
    skillDirs: [join(OBSERVABILITY_SKILLS, 'probe-relay')],
    extra: {
      servers: { probe: { url: probe.url } },
      policies: [policies.glob],
      gateways: {
        redacting: {
          agents: ['credit-assistant'],
          tools,
          skills: ['probe-relay'],
          dataLoss: {
            rules: { 'card-number': { results: 'redact' }, email: { arguments: 'redact' }, iban: { arguments: 'block' }, 'us-ssn': { results: 'block' } },
            tools: { 'everything.echo': { 'card-number': 'allow' } },
          },
        },
        allowing: { agents: ['credit-assistant'], tools, skills: ['probe-relay'], dataLoss: { rules: { 'card-number': 'allow' } } },
      },
    },
    skillSyncWaitMs: 30_000,
  });
});

afterAll(async () => {
  await t?.close();
  await probe?.close();
  policies.cleanup();
});

describe('a card number in a tool result', () => {
  it('is redacted on a gateway that redacts — in text and in structured content — and passes on one that allows', async () => {
    const redacting = await t.connect('ceo', 'credit-assistant', 'redacting');
    const allowing = await t.connect('ceo', 'credit-assistant', 'allowing');
    const value = `pay with ${CARD} by Friday`;

    const r = await redacting.callTool({ name: 'probe.echo', arguments: { value } });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(structured<{ value: string }>(r).value).toBe('pay with [REDACTED:card-number] by Friday');
    expect(textOf(r)).toBe(JSON.stringify({ value: 'pay with [REDACTED:card-number] by Friday' }));
    // The arguments were not filtered (no argument rule for card numbers): the upstream got them.
    expect(probe.calls.at(-1)?.args).toEqual({ value });

    const a = await allowing.callTool({ name: 'probe.echo', arguments: { value } });
    expect(structured<{ value: string }>(a).value).toBe(value);
    expect(textOf(a)).toContain(CARD);
  });

  it('passes where a per-tool override allows it (everything.echo on the redacting gateway)', async () => {
    const redacting = await t.connect('ceo', 'credit-assistant', 'redacting');
    const r = await redacting.callTool({ name: 'everything.echo', arguments: { message: `card ${CARD}` } });
    expect(textOf(r)).toContain(CARD);
  });
});

describe('blocked and redacted arguments', () => {
  it('blocked arguments get a clear error naming the rule and where; nothing reaches the upstream server', async () => {
    const redacting = await t.connect('ceo', 'credit-assistant', 'redacting');
    const before = probe.calls.length;
    const r = await redacting.callTool({ name: 'probe.echo', arguments: { value: { note: `refund to ${IBAN}` } } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe(
      'probe.echo: blocked by data-loss rule "iban" (gateways.redacting.dataLoss.rules.iban): the arguments hold an IBAN at /value/note; remove it and call again',
    );
    expect(textOf(r)).not.toContain('DE89');
    expect(probe.calls.length).toBe(before);
    const line = t.logs.find((l) => l.code === 'ERR_DLP_BLOCKED_ARGUMENTS');
    expect(line).toMatchObject({ event: 'refusal', gateway: 'redacting', tool: 'probe.echo', user: 'ceo', agent: 'credit-assistant', rule: 'iban', path: '/value/note' });
  });

  it('the same arguments pass on a gateway without the rule', async () => {
    const allowing = await t.connect('ceo', 'credit-assistant', 'allowing');
    const r = await allowing.callTool({ name: 'probe.echo', arguments: { value: `refund to ${IBAN}` } });
    expect(structured<{ value: string }>(r).value).toContain(IBAN);
  });

  it('redacted arguments reach the upstream server redacted', async () => {
    const redacting = await t.connect('ceo', 'credit-assistant', 'redacting');
    const r = await redacting.callTool({ name: 'probe.echo', arguments: { value: `reply to ${EMAIL}` } });
    expect(probe.calls.at(-1)?.args).toEqual({ value: 'reply to [REDACTED:email]' });
    expect(structured<{ value: string }>(r).value).toBe('reply to [REDACTED:email]');
  });

  it('a block rule on results withholds the result after the call, naming the rule', async () => {
    const redacting = await t.connect('ceo', 'credit-assistant', 'redacting');
    const r = await redacting.callTool({ name: 'everything.echo', arguments: { message: `ssn ${SSN}` } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe('everything.echo: result withheld by data-loss rule "us-ssn" (gateways.redacting.dataLoss.rules.us-ssn): it holds a US social security number at /content/0/text');
    expect(t.logs.find((l) => l.code === 'ERR_DLP_BLOCKED_RESULT')).toMatchObject({ rule: 'us-ssn', tool: 'everything.echo' });
  });
});

describe('every filtered call is marked', () => {
  it('on the pipeline context (for the audit event) and in one log line per filtered side, never with the value', async () => {
    const dataLoss = createDataLossFilters(t.gw.config.gateways, t.log);
    const principal = { user: { id: 'ceo', roles: ['executive'], groups: [] }, agent: { id: 'credit-assistant' } };
    const ctx = await invokeTool(
      { pool: t.pool, authorizer: t.governance.authorizer, catalog: t.catalog, dataLoss, audit: t.audit, credentials: t.credentials.service },
      {
        principal,
        workspace: 'test',
        gateway: 'redacting',
        server: 'probe',
        tool: 'echo',
        arguments: { value: `${EMAIL} paid with ${CARD}` },
        trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01' },
      },
    );
    expect(ctx.request.arguments).toEqual({ value: `${EMAIL} paid with ${CARD}` });
    expect(ctx.arguments).toEqual({ value: `[REDACTED:email] paid with ${CARD}` });
    expect(ctx.output).toEqual({ value: '[REDACTED:email] paid with [REDACTED:card-number]' });
    expect(ctx.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(ctx.dlp).toEqual({
      findings: [
        { rule: 'email', source: 'gateways.redacting.dataLoss.rules.email', in: 'arguments', path: '/value', action: 'redact', count: 1 },
        { rule: 'card-number', source: 'gateways.redacting.dataLoss.rules.card-number', in: 'result', path: '/content/0/text', action: 'redact', count: 1 },
        { rule: 'card-number', source: 'gateways.redacting.dataLoss.rules.card-number', in: 'result', path: '/structuredContent/value', action: 'redact', count: 1 },
      ],
    });
    // With tracing off the caller's trace context still reaches the upstream server (SEP-414).
    expect(probe.calls.at(-1)?.meta).toMatchObject({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01' });

    const lines = t.logs.filter((l) => l.event === 'dlp' && l.traceId === '0af7651916cd43dd8448eb211c80319c');
    expect(lines.map((l) => l.msg)).toEqual(['data-loss filter redacted the arguments', 'data-loss filter redacted the result']);
    expect(lines[1]).toMatchObject({ gateway: 'redacting', tool: 'probe.echo', user: 'ceo', agent: 'credit-assistant' });

    await expect(
      invokeTool({ pool: t.pool, authorizer: t.governance.authorizer, catalog: t.catalog, dataLoss, audit: t.audit, credentials: t.credentials.service }, { principal, workspace: 'test', gateway: 'redacting', server: 'probe', tool: 'echo', arguments: { value: IBAN } }),
    ).rejects.toBeInstanceOf(DataLossError);
  });

  it('no log line of this file holds a matched value', () => {
    const all = JSON.stringify(t.logs);
    for (const secret of [CARD, IBAN, SSN, EMAIL, CARD.replaceAll(' ', ''), IBAN.replaceAll(' ', '')]) expect(all).not.toContain(secret);
  });
});

describe('skill steps pass through the same filters', () => {
  it('a card number in a step result is redacted before the next step and in the outputs', async () => {
    const redacting = await t.connect('ceo', 'credit-assistant', 'redacting');
    const r = await redacting.callTool({ name: 'skill.probe-relay', arguments: { text: `card ${CARD}` } }, undefined, { timeout: 60_000 });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(structured<{ echoed: string }>(r).echoed).toBe('card [REDACTED:card-number]');
    // The second step was sent what the first step's filtered result said.
    expect(probe.calls.at(-1)?.args).toEqual({ value: 'card [REDACTED:card-number]' });
    expect(t.logs.some((l) => l.event === 'dlp' && l.skill === 'probe-relay' && l.step === 'first')).toBe(true);
  });

  it('blocked arguments fail the step (not retried), the run names the rule, and nothing reaches the server', async () => {
    const redacting = await t.connect('ceo', 'credit-assistant', 'redacting');
    const before = probe.calls.length;
    const r = await redacting.callTool({ name: 'skill.probe-relay', arguments: { text: `refund ${IBAN}` } }, undefined, { timeout: 60_000 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('step "first"');
    expect(textOf(r)).toContain('blocked by data-loss rule "iban" (gateways.redacting.dataLoss.rules.iban)');
    expect(textOf(r)).not.toContain('DE89');
    expect(probe.calls.length).toBe(before);
  });

  it('the same run passes on the allowing gateway', async () => {
    const allowing = await t.connect('ceo', 'credit-assistant', 'allowing');
    const r = await allowing.callTool({ name: 'skill.probe-relay', arguments: { text: `card ${CARD}` } }, undefined, { timeout: 60_000 });
    expect(structured<{ echoed: string }>(r).echoed).toBe(`card ${CARD}`);
  });
});
