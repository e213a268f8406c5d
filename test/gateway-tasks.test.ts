/**
 * Skill runs as MCP Tasks, on the real Temporal dev server and a real worker: the 2026-07-28
 * Tasks extension (SDK v2 client pinned to 2026-07-28; the SDK has no Tasks, so the test reads
 * the CreateTaskResult off the wire and polls `tasks/get` as a custom method) — surviving a
 * restart of the front door between polls — and the 2025-11-25 experimental tasks with the SDK
 * v1 client's own task API.
 */
import { join } from 'node:path';
import { Client as V2Client, SdkError, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { type SkillGateway, startSkillGateway, structured } from './helpers/gateway.js';
import { eventually } from './helpers/skill-harness.js';
import { ROOT } from './helpers/workspace.js';

let t: SkillGateway;

beforeAll(async () => {
  t = await startSkillGateway({
    address: inject('temporalAddress'),
    skillDirs: [join(ROOT, 'skills/credit-issuance')],
    extra: { gateways: { 'credit-desk': { agents: ['credit-assistant'], tools: ['core-banking.*', 'credit-bureau.*'], skills: ['credit-issuance'] } } },
    skillSyncWaitMs: 8000,
  });
});

afterAll(async () => {
  await t?.close();
});

const TaskSchema = z.looseObject({
  taskId: z.string(),
  status: z.enum(['working', 'input_required', 'completed', 'failed', 'cancelled']),
  statusMessage: z.string().optional(),
  createdAt: z.string(),
  lastUpdatedAt: z.string(),
  ttlMs: z.number().nullable(),
  pollIntervalMs: z.number().optional(),
  result: z.looseObject({ structuredContent: z.record(z.string(), z.unknown()).optional() }).optional(),
  error: z.looseObject({ code: z.number(), message: z.string() }).optional(),
});

/** A v2 client pinned to 2026-07-28; `tasks` declares the Tasks extension. The raw results it received are kept. */
async function modern(user: string, tasks: boolean): Promise<{ client: V2Client; raw: Array<Record<string, unknown>> }> {
  const token = await t.token(user, 'credit-assistant', 'credit-desk');
  const client = new V2Client(
    { name: `tasks-${user}`, version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } }, ...(tasks ? { capabilities: { extensions: { 'io.modelcontextprotocol/tasks': {} } } } : {}) },
  );
  const transport = new V2Transport(new URL(t.gw.resourceUrl('credit-desk')), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const raw: Array<Record<string, unknown>> = [];
  await client.connect(transport);
  const deliver = transport.onmessage!.bind(transport) as (m: unknown, extra?: unknown) => void;
  (transport as unknown as { onmessage: (m: unknown, extra?: unknown) => void }).onmessage = (m, extra) => {
    if (m !== null && typeof m === 'object' && 'result' in m) raw.push((m as { result: Record<string, unknown> }).result);
    deliver(m, extra);
  };
  return { client, raw };
}

/** Call a tool and return the CreateTaskResult the server answered with (the v2 SDK cannot consume it). */
async function callForTask(c: { client: V2Client; raw: Array<Record<string, unknown>> }, name: string, args: Record<string, unknown>) {
  const err = await c.client.callTool({ name, arguments: args }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the SDK v2 client has no Tasks: it reports the task result as unsupported').toBeInstanceOf(SdkError);
  const created = c.raw.find((r) => r.resultType === 'task');
  expect(created).toBeDefined();
  return TaskSchema.parse(created);
}

const getTask = (c: V2Client, taskId: string) => c.request({ method: 'tasks/get', params: { taskId } }, TaskSchema);

describe('skills as 2026-07-28 Tasks', () => {
  it('a run is a task from the start; it survives a front-door restart between polls and completes once approved', async () => {
    const ceo = await modern('ceo', true);
    const task = await callForTask(ceo, 'skill.credit-issuance', { customerId: 'C-1001', amount: 50_000 });
    expect(task.taskId).toMatch(/^skill-credit-issuance-/);
    expect(task.status).toBe('working');
    // The task id is the run: Temporal has it, durably, before the answer came.
    expect((await t.client.workflow.getHandle(task.taskId).describe()).status.name).toBe('RUNNING');

    const waiting = await eventually(async () => {
      const s = await getTask(ceo.client, task.taskId);
      return s.statusMessage?.includes('waiting for approval by a credit-officer') && s;
    }, 'the task says it waits for a credit officer');
    expect(waiting.status).toBe('working');

    await ceo.client.close();
    await t.restart();
    const again = await modern('ceo', true);
    expect((await getTask(again.client, task.taskId)).status).toBe('working');

    // A credit officer approves (the CEO may not: four eyes), through the same service.
    const officer = await t.connect('credit-officer', 'credit-assistant', 'credit-desk');
    const decided = await officer.callTool({ name: 'skillgate.approve', arguments: { runId: task.taskId, decision: 'approve' } });
    expect(decided.isError, JSON.stringify(decided.content)).toBeFalsy();

    const done = await eventually(async () => {
      const s = await getTask(again.client, task.taskId);
      return s.status === 'completed' && s;
    }, 'the task completes', 30_000);
    expect(done.result?.structuredContent?.creditId).toMatch(/^CR-/);
    await again.client.close();
  });

  it('only the starter (or whom policy allows) may read or cancel a task; cancelling ends the run', async () => {
    const clerk = await modern('loan-clerk', true);
    const task = await callForTask(clerk, 'skill.credit-issuance', { customerId: 'C-1002', amount: 1000 });
    const other = await modern('intern', true);
    await expect(getTask(other.client, task.taskId)).rejects.toThrow();
    await expect(other.client.request({ method: 'tasks/cancel', params: { taskId: task.taskId } }, z.looseObject({}))).rejects.toThrow();

    // The clerk's small credit may already be done; start one that waits, and cancel it.
    const big = await modern('ceo', true);
    const waiting = await callForTask(big, 'skill.credit-issuance', { customerId: 'C-1003', amount: 40_000 });
    await eventually(async () => (await getTask(big.client, waiting.taskId)).statusMessage?.includes('waiting for approval'), 'the run waits for approval');
    await big.client.request({ method: 'tasks/cancel', params: { taskId: waiting.taskId } }, z.looseObject({}));
    const cancelled = await eventually(async () => {
      const s = await getTask(big.client, waiting.taskId);
      return s.status === 'cancelled' && s;
    }, 'the task is cancelled', 30_000);
    expect(cancelled.statusMessage).toContain('cancelled');
    await Promise.all([clerk.client.close(), other.client.close(), big.client.close()]);
  });

  it('a client that did not declare the extension gets no task: it waits, then gets a run handle', async () => {
    const plain = await modern('ceo', false);
    const r = await plain.client.callTool({ name: 'skill.credit-issuance', arguments: { customerId: 'C-1001', amount: 45_000 } });
    expect(plain.raw.some((x) => x.resultType === 'task')).toBe(false);
    const handle = structured<{ run: { id: string; status: string } }>(r).run;
    expect(handle.status).toBe('awaiting-approval');
    // Without the extension the tasks methods do not exist for this client.
    await expect(getTask(plain.client, handle.id)).rejects.toThrow(/Method not found|-32601/);
    await plain.client.close();
  });
});

describe('skills as 2025-11-25 (experimental) tasks', () => {
  it('the SDK v1 client runs a skill as a task: created, polled, and its result fetched', async () => {
    const ceo = await t.connect('ceo', 'credit-assistant', 'credit-desk');
    const tool = (await ceo.listTools()).tools.find((x) => x.name === 'skill.credit-issuance');
    expect(tool?.execution?.taskSupport).toBe('optional');
    const seen: string[] = [];
    let final: unknown;
    for await (const m of ceo.experimental.tasks.callToolStream({ name: 'skill.credit-issuance', arguments: { customerId: 'C-1004', amount: 2000 } }, CallToolResultSchema, { task: { ttl: 60_000 }, timeout: 60_000 })) {
      seen.push(m.type);
      if (m.type === 'result') final = m.result;
      if (m.type === 'error') throw m.error;
    }
    expect(seen[0]).toBe('taskCreated');
    expect(seen.at(-1)).toBe('result');
    expect(structured<{ creditId: string }>(final).creditId).toMatch(/^CR-/);
    const listed = await ceo.experimental.tasks.listTasks();
    expect(listed.tasks.length).toBeGreaterThan(0);
    expect(listed.tasks.every((x) => x.taskId.startsWith('skill-'))).toBe(true);
  });
});
