/**
 * One authorization path for run actions, enforced by the run itself — through the real
 * gateway, the real worker with the workspace's policies, the real Temporal dev server and
 * the real Temporal CLI (the path an attacker with access to the frontend would take).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveTemporalExecutable } from '../src/app/runtime/temporal-binary.js';
import { getRunStatus } from '../src/skills/runs.js';
import { type SkillGateway, startSkillGateway, structured, textOf } from './helpers/gateway.js';
import { eventually, historyEvents } from './helpers/skill-harness.js';
import { ROOT } from './helpers/workspace.js';
import type { Client as TemporalClient } from '@temporalio/client';

let t: SkillGateway;
let client: TemporalClient;
let taskQueue: string;

beforeAll(async () => {
  t = await startSkillGateway({
    address: inject('temporalAddress'),
    skillDirs: [join(ROOT, 'skills/credit-issuance')],
    extra: { users: { 'credit-officer-2': { roles: ['credit-officer'] } } },
    skillSyncWaitMs: 8000,
  });
  client = t.client;
  taskQueue = t.taskQueue;
});

afterAll(async () => {
  await t?.close();
});

/** A credit above the officer threshold, started through the gateway by `user`: waits for an officer. */
async function waitingRun(user: string): Promise<string> {
  const c = await t.connect(user, 'credit-assistant', 'credit-desk');
  const r = await c.callTool({ name: 'skill.credit-issuance', arguments: { customerId: 'C-1001', amount: 40_000 } }, undefined, { timeout: 60_000 });
  const run = structured<{ run: { id: string; status: string } }>(r).run;
  expect(run.status, textOf(r)).toBe('awaiting-approval');
  return run.id;
}

function temporalCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = resolveTemporalExecutable();
  if (bin.type !== 'existing-path') throw new Error('the Temporal CLI is missing (npm install fetches it)');
  return new Promise((resolve) => {
    execFile(bin.path, [...args, '--address', inject('temporalAddress')], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function approveOverHttp(user: string, runId: string, body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const token = await t.token(user, 'credit-assistant', 'credit-desk');
  const res = await fetch(`${t.gw.url}/runs/${encodeURIComponent(runId)}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ gateway: 'credit-desk', ...body }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('four eyes, with an approver who holds the approve permission', () => {
  it('the credit officer who started a run may not approve it, over MCP or HTTP; another officer may', async () => {
    const id = await waitingRun('credit-officer');
    const officer = await t.connect('credit-officer', 'credit-assistant', 'credit-desk');
    const self = await officer.callTool({ name: 'skillgate.approve', arguments: { runId: id, decision: 'approve' } });
    expect(self.isError).toBe(true);
    expect(textOf(self)).toContain('not permitted for this user');
    // The deciding rule is the four-eyes policy: the officer's own permit (user.credit-officer.credit-skills) would allow it.
    const line = t.logs.find((l) => l.event === 'refusal' && l.runId === id && l.action === 'approve');
    expect(line).toMatchObject({ code: 'ERR_USER_NOT_PERMITTED', side: 'user', policies: ['user.four-eyes'], user: 'credit-officer', agent: 'credit-assistant' });

    const overHttp = await approveOverHttp('credit-officer', id, { decision: 'approve' });
    expect(overHttp).toMatchObject({ status: 403, body: { error: 'ERR_RUN_NOT_PERMITTED' } });

    const other = await approveOverHttp('credit-officer-2', id, { decision: 'approve', comment: 'second pair of eyes' });
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    const result = (await client.workflow.getHandle(id).result()) as { outputs: { approvedBy: string } };
    expect(result.outputs.approvedBy).toBe('credit-officer-2');
  });
});

describe('a decision sent straight to the Temporal frontend', () => {
  it('the starter approving with `temporal workflow update execute` is refused by the run, recorded in its history; a permitted officer then approves', async () => {
    const id = await waitingRun('ceo');
    const forged = JSON.stringify({ approver: { id: 'ceo', roles: ['credit-officer'] }, decision: 'approve' });
    const direct = await temporalCli('workflow', 'update', 'execute', '--workflow-id', id, '--name', 'approve', '--input', forged);
    expect(direct.code).not.toBe(0);
    expect(direct.stderr + direct.stdout).toContain('the approval carries no attestation');

    const status = await getRunStatus(client, id);
    expect(status.state).toBe('awaiting-approval');
    expect(status.refusedApprovals).toEqual([expect.objectContaining({ stepId: 'officer_approval', claimedBy: 'ceo' })]);
    const events = await historyEvents(client, id);
    const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'verifyApproval');
    const failed = events.filter((e) => e.activityTaskFailedEventAttributes);
    expect(scheduled).toHaveLength(1);
    expect(failed.map((e) => e.activityTaskFailedEventAttributes!.failure?.message)).toEqual([expect.stringContaining('carries no attestation')]);
    // Nothing was issued.
    expect(events.some((e) => e.activityTaskScheduledEventAttributes?.activityId === 'step/issue')).toBe(false);

    const officer = await t.connect('credit-officer', 'credit-assistant', 'credit-desk');
    const ok = await officer.callTool({ name: 'skillgate.approve', arguments: { runId: id, decision: 'approve' } });
    expect(ok.isError, textOf(ok)).toBeFalsy();
    const result = (await client.workflow.getHandle(id).result()) as { outputs: { approvedBy: string; creditId: string } };
    expect(result.outputs.approvedBy).toBe('credit-officer');
  });

  it('a run started with the Temporal CLI for a forged principal does nothing and ends NotPermitted', async () => {
    const skill = t.skills.get('credit-issuance')!;
    const id = `forged-${Date.now()}`;
    const input = {
      plan: skill.plan,
      planHash: skill.hash,
      inputs: { customerId: 'C-1001', amount: 500, termMonths: 12 },
      principal: { user: { id: 'ceo', roles: ['executive'], groups: [] }, agent: { id: 'credit-assistant' } },
      workspace: 'test',
      gateway: 'credit-desk',
    };
    const started = await temporalCli('workflow', 'start', '--type', 'runSkill', '--task-queue', taskQueue, '--workflow-id', id, '--input', JSON.stringify(input));
    expect(started.code, started.stderr).toBe(0);
    const failure = await client.workflow
      .getHandle(id)
      .result()
      .then(
        () => undefined,
        (e: unknown) => e as { cause?: { type?: string; message?: string } },
      );
    expect(failure?.cause?.type).toBe('NotPermitted');
    expect(failure?.cause?.message).toContain('the run carries no attestation');
    expect((await historyEvents(client, id)).some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });
});

describe('run actions over HTTP and MCP: typed refusals, one service', () => {
  it('answers each refusal with its code and status, and logs it', async () => {
    const id = await waitingRun('ceo');
    expect(await approveOverHttp('credit-officer', 'no-such-run', { decision: 'approve' })).toMatchObject({ status: 404, body: { error: 'ERR_RUN_NOT_FOUND' } });
    expect(await approveOverHttp('loan-clerk', id, { decision: 'approve' })).toMatchObject({ status: 403, body: { error: 'ERR_RUN_NOT_PERMITTED' } });
    expect(await approveOverHttp('credit-officer', id, { decision: 'maybe' })).toMatchObject({ status: 400, body: { error: 'ERR_RUN_INPUT_INVALID' } });
    expect(await approveOverHttp('credit-officer', id, { decision: 'approve', step: 'issue' })).toMatchObject({ status: 409, body: { error: 'ERR_RUN_NOT_PENDING' } });
    expect(await approveOverHttp('credit-officer', id, { decision: 'reject', comment: 'no' })).toMatchObject({ status: 200 });
    await client.workflow
      .getHandle(id)
      .result()
      .catch(() => {});
    expect(await approveOverHttp('credit-officer', id, { decision: 'approve' })).toMatchObject({ status: 409, body: { error: 'ERR_RUN_FINISHED' } });
    for (const code of ['ERR_RUN_NOT_FOUND', 'ERR_USER_NOT_PERMITTED', 'ERR_RUN_NOT_PENDING', 'ERR_RUN_FINISHED']) {
      expect(t.logs.some((l) => l.event === 'refusal' && l.code === code), code).toBe(true);
    }
  });

  it('the starter cancels their run over MCP; someone else may not; completed steps are compensated', async () => {
    const id = await waitingRun('credit-officer');
    const clerk = await t.connect('loan-clerk', 'credit-assistant', 'credit-desk');
    const notTheirs = await clerk.callTool({ name: 'skillgate.cancel_run', arguments: { runId: id } });
    expect(notTheirs.isError).toBe(true);
    expect(textOf(notTheirs)).toContain('not permitted for this user');

    const officer = await t.connect('credit-officer', 'credit-assistant', 'credit-desk');
    const cancelled = await officer.callTool({ name: 'skillgate.cancel_run', arguments: { runId: id, reason: 'customer withdrew' } });
    expect(cancelled.isError, textOf(cancelled)).toBeFalsy();
    const failure = await client.workflow
      .getHandle(id)
      .result()
      .then(
        () => undefined,
        (e: unknown) => e as { cause?: { type?: string } },
      );
    expect(failure?.cause?.type).toBe('Cancelled');
    await eventually(async () => (await getRunStatus(client, id)).state === 'failed', 'the run to end');
  });
});
