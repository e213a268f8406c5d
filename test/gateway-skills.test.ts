/**
 * Skills as MCP tools through the gateway, on the real Temporal dev server and a real worker
 * whose callTool activity runs the same authorization pipeline, step by step.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CoreBankingData } from '../demo/core-banking/server.js';
import { type SkillGateway, startSkillGateway, structured, textOf } from './helpers/gateway.js';
import { ROOT } from './helpers/workspace.js';

let t: SkillGateway;

beforeAll(async () => {
  t = await startSkillGateway({
    address: inject('temporalAddress'),
    skillDirs: [join(ROOT, 'skills/credit-issuance'), join(ROOT, 'test/fixtures/gateway-skills/credit-with-review')],
    extra: {
      gateways: {
        'credit-desk': { agents: ['credit-assistant'], tools: ['core-banking.*', 'credit-bureau.*'], skills: ['credit-issuance', 'credit-with-review'] },
        'hr-desk': { agents: ['hr-assistant'], tools: ['hr.*'] },
      },
    },
    skillSyncWaitMs: 8000,
  });
});

afterAll(async () => {
  await t?.close();
});

function bankState(): CoreBankingData {
  return JSON.parse(readFileSync(join(t.ws.stateDir, 'core-banking.json'), 'utf8')) as CoreBankingData;
}

describe('skills as MCP tools', () => {
  it('lists the skill with its schemas, runs it with progress and returns structured outputs', async () => {
    const ceo = await t.connect('ceo', 'credit-assistant', 'credit-desk');
    const tool = (await ceo.listTools()).tools.find((x) => x.name === 'skill.credit-issuance')!;
    expect(tool.description).toContain('credit line');
    expect(tool.inputSchema.required).toEqual(['customerId', 'amount']);
    expect(Object.keys(tool.outputSchema?.properties ?? {})).toEqual(expect.arrayContaining(['creditId', 'score', 'approvedBy', 'run']));

    const progress: string[] = [];
    const r = await ceo.callTool({ name: 'skill.credit-issuance', arguments: { customerId: 'C-1001', amount: 5000 } }, undefined, {
      onprogress: (p) => progress.push(`${p.progress}/${p.total}`),
      timeout: 60_000,
    });
    expect(r.isError, textOf(r)).toBeFalsy();
    const out = structured<{ creditId: string; score: number; approvedBy: null; run: { id: string; status: string } }>(r);
    expect(out).toMatchObject({ score: 780, approvedBy: null, run: { status: 'completed' } });
    expect(out.creditId).toMatch(/^CR-/);
    expect(progress.length).toBeGreaterThan(0);
  });

  it('a retried call with the same idempotency key does not start a second run', async () => {
    const ceo = await t.connect('ceo', 'credit-assistant', 'credit-desk');
    const call = () =>
      ceo.callTool({ name: 'skill.credit-issuance', arguments: { customerId: 'C-1004', amount: 1000 }, _meta: { 'dev.skillgate/idempotency-key': 'req-42' } }, undefined, { timeout: 60_000 });
    const [a, b] = [await call(), await call()];
    const ra = structured<{ run: { id: string }; creditId: string }>(a);
    const rb = structured<{ run: { id: string }; creditId: string }>(b);
    expect(rb.run.id).toBe(ra.run.id);
    expect(rb.creditId).toBe(ra.creditId);
    expect(Object.values(bankState().credits).filter((c) => c.customerId === 'C-1004')).toHaveLength(1);
  });

  it('a loan clerk may not run it above their limit; the refusal does not leak policy', async () => {
    const clerk = await t.connect('loan-clerk', 'credit-assistant', 'credit-desk');
    const r = await clerk.callTool({ name: 'skill.credit-issuance', arguments: { customerId: 'C-1001', amount: 50_000 } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('not permitted for this user');
  });

  it('a run that waits returns a handle; only an authorized approver can decide; then it completes', async () => {
    const ceo = await t.connect('ceo', 'credit-assistant', 'credit-desk');
    const r = await ceo.callTool({ name: 'skill.credit-issuance', arguments: { customerId: 'C-1001', amount: 50_000 } }, undefined, { timeout: 60_000 });
    const handle = structured<{ run: { id: string; status: string; pendingApprovals: Array<{ role: string }> } }>(r).run;
    expect(handle.status).toBe('awaiting-approval');
    expect(handle.pendingApprovals[0]?.role).toBe('credit-officer');

    const status = structured<{ run: { status: string } }>(await ceo.callTool({ name: 'skillgate.run_status', arguments: { runId: handle.id } }));
    expect(status.run.status).toBe('awaiting-approval');

    // The CEO started it: four eyes forbid self-approval. The loan clerk lacks the role.
    const self = await ceo.callTool({ name: 'skillgate.approve', arguments: { runId: handle.id, decision: 'approve' } });
    expect(self.isError).toBe(true);
    const clerk = await t.connect('loan-clerk', 'credit-assistant', 'credit-desk');
    const byClerk = await clerk.callTool({ name: 'skillgate.approve', arguments: { runId: handle.id, decision: 'approve' } });
    expect(byClerk.isError).toBe(true);

    // Over plain HTTP, with the officer's token.
    const officerToken = await t.token('credit-officer', 'credit-assistant', 'credit-desk');
    const res = await fetch(`${t.gw.url}/runs/${handle.id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${officerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ gateway: 'credit-desk', decision: 'approve', comment: 'looks fine' }),
    });
    expect(res.status, await res.clone().text()).toBe(200);

    const handleRes = await t.client.workflow.getHandle(handle.id).result();
    expect(handleRes).toMatchObject({ outputs: { approvedBy: 'credit-officer', score: 780 } });
  });

  it('a retried call while the run waits for approval gets the same run\'s answer (the run answers when it starts waiting)', async () => {
    const ceo = await t.connect('ceo', 'credit-assistant', 'credit-desk');
    const call = () =>
      ceo.callTool({ name: 'skill.credit-issuance', arguments: { customerId: 'C-1004', amount: 40_000 }, _meta: { 'dev.skillgate/idempotency-key': 'req-wait-7' } }, undefined, { timeout: 60_000 });
    const a = structured<{ run: { id: string; status: string } }>(await call()).run;
    const b = structured<{ run: { id: string; status: string } }>(await call()).run;
    expect(a.status).toBe('awaiting-approval');
    expect(b).toEqual(expect.objectContaining({ id: a.id, status: 'awaiting-approval' }));
    // Both answers came from the run (its `answer` update), not from a poll of its status.
    const history = await t.client.workflow.getHandle(a.id).fetchHistory();
    const answers = (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'answer');
    expect(answers).toHaveLength(2);
    await t.client.workflow.getHandle(a.id).cancel();
  });

  it('revoking the user mid-run denies the next step, ends the run and compensates', async () => {
    const ceo = await t.connect('ceo', 'credit-assistant', 'credit-desk');
    const r = await ceo.callTool({ name: 'skill.credit-with-review', arguments: { customerId: 'C-1001', amount: 777 } }, undefined, { timeout: 60_000 });
    expect(r.isError, textOf(r)).toBeFalsy();
    const run = structured<{ run: { id: string; status: string } }>(r).run;
    expect(run.status).toBe('awaiting-approval');
    const issued = Object.values(bankState().credits).find((c) => c.amount === 777)!;
    expect(issued.status).toBe('active');

    await t.governance.revocations.revoke('ceo', { by: 'test', reason: 'left the company' });
    try {
      const officer = await t.connect('credit-officer', 'credit-assistant', 'credit-desk');
      const ok = await officer.callTool({ name: 'skillgate.approve', arguments: { runId: run.id, decision: 'approve' } });
      expect(ok.isError, textOf(ok)).toBeFalsy();
      const failure = await t.client.workflow
        .getHandle(run.id)
        .result()
        .then(
          () => undefined,
          (e: unknown) => e as { cause?: { message?: string } },
        );
      expect(failure?.cause?.message).toMatch(/notice/);
      expect(failure?.cause?.message).toMatch(/not permitted for this user/);
      expect(Object.values(bankState().credits).find((c) => c.creditId === issued.creditId)?.status).toBe('cancelled');
      // And the revoked user cannot do anything directly either: refused at authentication (403).
      await expect(ceo.callTool({ name: 'core-banking.get_customer', arguments: { customerId: 'C-1001' } })).rejects.toThrow(/this user may not use this gateway/);
      expect(t.logs.some((l) => l.event === 'refusal' && l.code === 'ERR_USER_REVOKED' && l.user === 'ceo')).toBe(true);
    } finally {
      await t.governance.revocations.restore('ceo');
    }
  });
});
