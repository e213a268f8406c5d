/**
 * Early answers: a synchronous caller's first answer comes from the run itself (the `answer`
 * update, sent with the start: Update-with-Start), in the workflow task in which the run ends
 * or starts waiting — not after a status poll. On the real stack (dev server, worker, probe
 * MCP server), through src/skills/runs.ts `startSkillRunAndAnswer`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { type AnswerOptions, startSkillRunAndAnswer } from '../src/skills/runs.js';
import type { ProbeServer } from './helpers/probe-server.js';
import { CLERK, historyEvents, type CompiledFixture, type SkillHarness, startProbeWorld, type ProbeWorld } from './helpers/skill-harness.js';
import type { TestWorkspace } from './helpers/workspace.js';

let world: ProbeWorld;
let probe: ProbeServer;
let ws: TestWorkspace;
let h: SkillHarness;
let skills: Record<string, CompiledFixture>;
const SUPERVISOR = { id: 'alice', roles: ['supervisor'] };

beforeAll(async () => {
  world = await startProbeWorld(inject('temporalAddress'), ['probe-parallel', 'probe-saga', 'probe-approval', 'read-crash']);
  ({ probe, ws, h, skills } = world);
});

afterAll(() => world?.close());

const answer = (skill: string, inputs: unknown, opts: Partial<AnswerOptions> & { workflowId?: string } = {}) =>
  startSkillRunAndAnswer(h.client, {
    attestor: h.attestor,
    plan: skills[skill]!.plan,
    planHash: skills[skill]!.hash,
    inputs,
    principal: CLERK,
    workspace: ws.loaded.config.workspace,
    gateway: 'credit-desk',
    taskQueue: h.taskQueue,
    waitMs: 20_000,
    ...opts,
  });

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const typeOf = (e: HistoryEvent) => temporal.api.enums.v1.EventType[e.eventType ?? 0];
const answerUpdates = (events: HistoryEvent[]) =>
  events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'answer').map((e) => Number(e.eventId));
/** The event types a workflow task wrote after its completion `events[i]` (its commands and messages), up to the next task. */
const afterTask = (events: HistoryEvent[], i: number) => {
  const types = events.slice(i + 1).map(typeOf);
  const next = types.indexOf('EVENT_TYPE_WORKFLOW_TASK_SCHEDULED');
  return next < 0 ? types : types.slice(0, next);
};

describe('the answer update', () => {
  it('answers in the workflow task in which the run starts waiting for an approval; the same id answers again; then it completes', async () => {
    const workflowId = `answer-approval-${randomUUID()}`;
    const t0 = Date.now();
    const first = await answer('probe-approval', { label: 'early' }, { workflowId });
    const took = Date.now() - t0;
    expect(first.workflowId).toBe(workflowId);
    expect(first.answer).toMatchObject({ state: 'waiting', status: { state: 'awaiting-approval', pendingApprovals: [{ stepId: 'confirm', role: 'supervisor' }] } });

    // The run answered in the task that followed the step before the approval (the one that
    // started the approval's timer): the update's completion is written with it.
    const events = await historyEvents(h.client, workflowId);
    const effectDone = events.findIndex((e) => typeOf(e) === 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED');
    const taskDone = events.findIndex((e, i) => i > effectDone && typeOf(e) === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED');
    expect(afterTask(events, taskDone)).toEqual(['EVENT_TYPE_TIMER_STARTED', 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED']);
    expect(answerUpdates(events)).toHaveLength(1);
    const effect = probe.calls.find((c) => c.tool === 'apply' && c.args.label === 'early')!;
    process.stdout.write(`answer: ${took} ms after the call, ${t0 + took - effect.endedAt!} ms after the step before the approval ended\n`);

    // A second call with the same id (idempotency key) attaches to the same run and gets its answer.
    const again = await answer('probe-approval', { label: 'early' }, { workflowId });
    expect(again.workflowId).toBe(workflowId);
    expect(again.answer).toMatchObject({ state: 'waiting', status: { state: 'awaiting-approval' } });
    expect(probe.calls.filter((c) => c.tool === 'apply' && c.args.label === 'early')).toHaveLength(1);

    await h.approve(workflowId, { approver: SUPERVISOR, decision: 'approve' });
    await h.client.workflow.getHandle(workflowId).result();
    const done = await answer('probe-approval', { label: 'early' }, { workflowId });
    expect(done.answer).toMatchObject({ state: 'completed', result: { outputs: { approvedBy: 'alice' } } });
    // A run that has ended answers from its result; the third call found it closed (no third update).
    expect(answerUpdates(await historyEvents(h.client, workflowId))).toHaveLength(2);
  });

  it('answers with the result when the run completes, in its last workflow task', async () => {
    const { workflowId, answer: a } = await answer('probe-parallel', {}, { workflowId: `answer-done-${randomUUID()}` });
    expect(a).toMatchObject({ state: 'completed', result: { outputs: { joined: 'left+right', maybeSkipped: true }, skipped: ['maybe'] } });
    const events = await historyEvents(h.client, workflowId);
    const last = events.map(typeOf).lastIndexOf('EVENT_TYPE_WORKFLOW_TASK_COMPLETED');
    // Its steps are read-only (local activities): the whole run is one workflow task, whose
    // completion ends with the update's answer and the run's.
    expect(afterTask(events, last).slice(-2)).toEqual(['EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED', 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED']);
  });

  it('answers with the failure (its message, type and compensations) when the run fails', async () => {
    const { answer: a } = await answer('probe-saga', { reason: 'the ledger is closed' });
    expect(a.state).toBe('failed');
    if (a.state !== 'failed') return;
    expect(a.error.code).toBe('ERR_RUN_FAILED');
    expect(a.error.failureType).toBe('ToolError');
    expect(a.error.message).toMatch(/step "third" failed: .*the ledger is closed/);
    expect(a.error.extra.details?.compensated).toEqual(['first']);
  });

  it('says "running" when the run does not answer within the wait; the run goes on and its handler finishes with it', async () => {
    // read-crash: a quick side effect (an activity: the first workflow task completes, the update
    // is accepted at once), then a 2 s read. (A run of local reads only is one workflow task:
    // its update is accepted when that task completes — at its end, or at the task's heartbeat.)
    const t0 = Date.now();
    const { workflowId, answer: a } = await answer('read-crash', {}, { waitMs: 300 });
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(a).toMatchObject({ state: 'running', status: { state: 'running' } });
    const result = await h.client.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({ executed: ['before', 'look', 'after'] });
    const events = await historyEvents(h.client, workflowId);
    expect(events.filter((e) => typeOf(e) === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED')).toHaveLength(1);
  });

  it('answers "running" at once when the caller gives up', async () => {
    const gaveUp = new AbortController();
    setTimeout(() => gaveUp.abort(), 100);
    const { answer: a } = await answer('probe-parallel', {}, { signal: gaveUp.signal });
    expect(a.state).toBe('running');
  });
});
