/**
 * Both MCP eras upstream: the same skill runs against the probe server on the SDK v1
 * (2025-11-25, initialize + session) and on the SDK v2 entry (2026-07-28, stateless). The pool
 * asks each with `server/discover` once and speaks to it in its own era.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startProbeServer, type ProbeServer } from './helpers/probe-server.js';
import { type CompiledFixture, FIXTURE_SKILLS, type SkillHarness, startHarness } from './helpers/skill-harness.js';
import { testWorkspace, type TestWorkspace } from './helpers/workspace.js';
import { waitForResult } from '../src/skills/runs.js';
import type { RpcError } from '../gateway/upstream/modern.js';
import { UpstreamError, UpstreamInputRequired } from '../gateway/upstream/types.js';

const eras = ['legacy', 'modern'] as const;
const probes = new Map<string, ProbeServer>();
const harnesses = new Map<string, SkillHarness>();
const workspaces: TestWorkspace[] = [];

beforeAll(async () => {
  for (const era of eras) {
    const probe = await startProbeServer({ era });
    probes.set(era, probe);
    const ws = testWorkspace({ servers: { probe: { url: probe.url } } });
    workspaces.push(ws);
    harnesses.set(era, await startHarness(inject('temporalAddress'), ws.loaded));
  }
});

afterAll(async () => {
  for (const h of harnesses.values()) await h.close();
  for (const p of probes.values()) await p.close();
  for (const ws of workspaces) ws.cleanup();
});

describe.each(eras)('a %s upstream server', (era) => {
  it('is recognised as such, once', async () => {
    const h = harnesses.get(era)!;
    expect((await h.pool.describe('probe')).era).toBe(era);
    if (era === 'modern') {
      const methods = probes.get(era)!.methods;
      expect(methods).not.toContain('initialize');
      expect(methods.filter((m) => m === 'server/discover')).toHaveLength(1);
    }
  });

  it('runs the saga skill: steps, idempotency keys, compensations, failure report — the same in both eras', async () => {
    const h = harnesses.get(era)!;
    const skill: CompiledFixture = await h.compile(join(FIXTURE_SKILLS, 'probe-saga'));
    const handle = await h.start(skill, { reason: 'the ledger is closed' });
    const err = await waitForResult(h.client, handle.workflowId).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('step "third" failed: probe.refuse: the ledger is closed; compensated: first');
    const probe = probes.get(era)!;
    const runId = handle.firstExecutionRunId;
    expect(probe.applied.get(`${runId}/step/first`)?.undone).toBe(true);
    const mine = probe.calls.filter((c) => c.key?.startsWith(runId)).map((c) => c.tool);
    expect(mine).toEqual(expect.arrayContaining(['apply', 'apply', 'refuse', 'refuse', 'undo']));
  });

  it('relays progress of a call to the caller', async () => {
    const h = harnesses.get(era)!;
    const seen: number[] = [];
    const r = await h.pool.callTool('probe', 'echo', { value: 1 }, { onprogress: (p) => seen.push(p.progress) });
    expect(r.isError).toBeFalsy();
    // The probe reports no progress: the option must not break the call (a progress token is still sent).
    expect(seen).toEqual([]);
  });
});

describe('a 2026-07-28 upstream that asks its caller (input_required)', () => {
  it('is asked only what the caller declared it can answer: without elicitation, -32021 is the caller\'s fault', async () => {
    const h = harnesses.get('modern')!;
    const err = await h.pool.callTool('probe', 'ask', { question: 'Which colour?' }).then(
      () => undefined,
      (e: unknown) => e as UpstreamError,
    );
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err!.code).toBe('ERR_UPSTREAM_PROTOCOL');
    expect((err!.cause as RpcError).code).toBe(-32021);
  });

  it('hands its questions and its own state to the caller, and answers the retry', async () => {
    const h = harnesses.get('modern')!;
    const asked = await h.pool.callTool('probe', 'ask', { question: 'Which colour?' }, { clientCapabilities: { elicitation: {} } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(asked).toBeInstanceOf(UpstreamInputRequired);
    const q = asked as UpstreamInputRequired;
    expect(Object.keys(q.inputRequests ?? {})).toEqual(['colour']);
    expect(q.requestState).toBe('probe-state-1');
    const r = await h.pool.callTool('probe', 'ask', { question: 'Which colour?' }, {
      clientCapabilities: { elicitation: {} },
      inputResponses: { colour: { action: 'accept', content: { colour: 'teal' } } },
      requestState: q.requestState!,
    });
    expect(r.structuredContent).toEqual({ colour: 'teal' });
  });
});
