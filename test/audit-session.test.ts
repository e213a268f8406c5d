/**
 * A scripted session through the real gateway, Temporal and worker, recorded in a real audit
 * store (SQLite, signed checkpoints): allowed calls, a denial on each side, a token refusal, a
 * skill whose approval is rejected and whose issued credit is compensated, a policy reload and
 * a call decided by the new policies. The store holds exactly the expected events, in order,
 * each decision with both sides, both identities on everything done for a principal, and the
 * chain verifies.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditEvent } from '../src/contracts/audit.js';
import { checkpointSigner, loadOrCreateAuditKey, verificationKeys } from '../gateway/audit/keys.js';
import { createAuditLog, type AuditLog } from '../gateway/audit/log.js';
import { openSqliteAuditStore } from '../gateway/audit/sqlite-store.js';
import type { AuditStore } from '../gateway/audit/store.js';
import { verifyRecords } from '../gateway/audit/verify.js';
import { type SkillGateway, startSkillGateway, structured, textOf } from './helpers/gateway.js';
import { ROOT } from './helpers/workspace.js';

const dir = mkdtempSync(join(tmpdir(), 'skillgate-audit-session-'));
const policyDir = join(dir, 'policies');
let store: AuditStore;
let log: AuditLog;
let t: SkillGateway;

beforeAll(async () => {
  cpSync(join(ROOT, 'policies'), policyDir, { recursive: true });
  store = openSqliteAuditStore(join(dir, 'skillgate.db'));
  log = createAuditLog({ store, signer: await checkpointSigner(loadOrCreateAuditKey(dir)), workspace: 'test', checkpointEvery: 10 });
  t = await startSkillGateway({
    address: inject('temporalAddress'),
    skillDirs: [join(ROOT, 'test/fixtures/gateway-skills/credit-with-review')],
    extra: {
      gateways: {
        // core-banking.get_customer is exposed here so that the agent side can be the one to refuse it.
        'hr-desk': { agents: ['hr-assistant'], tools: ['hr.*', 'core-banking.get_customer'] },
        'credit-desk': { agents: ['credit-assistant'], tools: ['core-banking.*', 'credit-bureau.*'], skills: ['credit-with-review'] },
      },
      policies: [join(policyDir, '*.cedar')],
    },
    skillSyncWaitMs: 15_000,
    audit: log,
  });
});

afterAll(async () => {
  await t?.close();
  await log?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every event from `after` on, oldest first. */
async function eventsAfter(after: number): Promise<AuditEvent[]> {
  await log.flush();
  const out: AuditEvent[] = [];
  for (let page = await store.query({ after, order: 'asc', limit: 1000 }); ; page = await store.query({ after: page.next!, order: 'asc', limit: 1000 })) {
    out.push(...page.events);
    if (page.next === undefined) return out;
  }
}

/** Wait (polling the store, no fixed sleep) until an event matches. */
async function until(after: number, match: (e: AuditEvent) => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await eventsAfter(after)).some(match)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the expected audit event never came');
}

/** The facts the test pins for each event. */
function shape(e: AuditEvent) {
  const d = e.decision;
  return {
    kind: e.kind,
    outcome: e.outcome,
    reason: e.reason,
    user: e.user,
    agent: e.agent,
    gateway: e.gateway,
    what: e.tool ? `${e.server}.${e.tool}` : e.skill,
    ...(e.step ? { step: e.step } : {}),
    ...(d?.agent && d.user ? { sides: `agent ${d.agent.decision} [${d.agent.policies.join(',')}] / user ${d.user.decision} [${d.user.policies.join(',')}]` } : {}),
    ...(d?.action ? { action: d.action } : {}),
  };
}

describe('a scripted session, as the audit trail records it', () => {
  it('yields exactly the expected events, in order, with both identities', async () => {
    const start = (await store.head()).seq;
    const intern = await t.connect('intern', 'hr-assistant', 'hr-desk');
    const ceoHr = await t.connect('ceo', 'hr-assistant', 'hr-desk');
    const ceoCredit = await t.connect('ceo', 'credit-assistant', 'credit-desk');
    const officer = await t.connect('credit-officer', 'credit-assistant', 'credit-desk');

    // 1. Allowed: the intern reads their own compensation.
    expect((await intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'intern' } })).isError).toBeFalsy();
    // 2. Denied by the user side: the intern reads the CEO's.
    expect((await intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'ceo' } })).isError).toBe(true);
    // 3. Denied by the agent side: the CEO (who may) through the HR assistant (which may not) reads core banking.
    expect((await ceoHr.callTool({ name: 'core-banking.get_customer', arguments: { customerId: 'C-1001' } })).isError).toBe(true);
    // 4. A token refusal: a token for credit-desk presented at hr-desk.
    const wrong = await t.token('intern', 'credit-assistant', 'credit-desk');
    const refused = await fetch(t.gw.resourceUrl('hr-desk'), {
      method: 'POST',
      headers: { authorization: `Bearer ${wrong}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(refused.status).toBe(401);
    const requestId = refused.headers.get('x-request-id');

    // 5. A skill: the CEO starts credit-with-review; the credit is issued; a credit officer rejects the review; the credit is cancelled.
    const started = await ceoCredit.callTool({ name: 'skill.credit-with-review', arguments: { customerId: 'C-1002', amount: 2000 } }, undefined, { timeout: 60_000 });
    const run = structured<{ run: { id: string; status: string } }>(started).run;
    expect(run.status, textOf(started)).toBe('awaiting-approval');
    const rejected = await officer.callTool({ name: 'skillgate.approve', arguments: { runId: run.id, decision: 'reject', step: 'review' } });
    expect(rejected.isError, textOf(rejected)).toBeFalsy();
    await until(start, (e) => e.kind === 'run.ended');

    // 6. A policy reload: interns may no longer read compensation at all; then the intern's own read is denied by it.
    const mark = (await store.head()).seq;
    writeFileSync(
      join(policyDir, 'users.cedar'),
      `${readFileSync(join(policyDir, 'users.cedar'), 'utf8')}\n@id("user.intern.no-compensation")\nforbid (principal in Skillgate::Role::"intern", action == Skillgate::Action::"call_tool", resource == Skillgate::Tool::"hr.get_compensation");\n`,
    );
    await until(mark, (e) => e.kind === 'policy.loaded');
    expect((await intern.callTool({ name: 'hr.get_compensation', arguments: { employeeId: 'intern' } })).isError).toBe(true);

    const events = await eventsAfter(start);
    const own = ['agent.hr-assistant.hr-tools'];
    expect(events.map(shape)).toEqual([
      { kind: 'decision', outcome: 'allow', reason: 'ok', user: 'intern', agent: 'hr-assistant', gateway: 'hr-desk', what: 'hr.get_compensation', action: 'call_tool', sides: `agent allow [${own}] / user allow [user.everyone.own-hr-record]` },
      { kind: 'tool.call', outcome: 'ok', reason: 'ok', user: 'intern', agent: 'hr-assistant', gateway: 'hr-desk', what: 'hr.get_compensation' },
      { kind: 'decision', outcome: 'deny', reason: 'ERR_USER_NOT_PERMITTED', user: 'intern', agent: 'hr-assistant', gateway: 'hr-desk', what: 'hr.get_compensation', action: 'call_tool', sides: `agent allow [${own}] / user deny []` },
      { kind: 'decision', outcome: 'deny', reason: 'ERR_AGENT_NOT_PERMITTED', user: 'ceo', agent: 'hr-assistant', gateway: 'hr-desk', what: 'core-banking.get_customer', action: 'call_tool', sides: 'agent deny [] / user allow [user.executive.broad]' },
      // The token is what failed: no identity is vouched for, none is recorded.
      { kind: 'token.refused', outcome: 'deny', reason: 'ERR_TOKEN_AUDIENCE', user: undefined, agent: undefined, gateway: 'hr-desk', what: undefined },
      { kind: 'decision', outcome: 'allow', reason: 'ok', user: 'ceo', agent: 'credit-assistant', gateway: 'credit-desk', what: 'credit-with-review', action: 'run_skill', sides: 'agent allow [agent.credit-assistant.credit-skills] / user allow [user.executive.broad]' },
      { kind: 'run.started', outcome: 'info', reason: 'started', user: 'ceo', agent: 'credit-assistant', gateway: 'credit-desk', what: 'credit-with-review' },
      // The run checks its own start again (verifyRun).
      { kind: 'decision', outcome: 'allow', reason: 'ok', user: 'ceo', agent: 'credit-assistant', gateway: 'credit-desk', what: 'credit-with-review', action: 'run_skill', sides: 'agent allow [agent.credit-assistant.credit-skills] / user allow [user.executive.broad]' },
      { kind: 'decision', outcome: 'allow', reason: 'ok', user: 'ceo', agent: 'credit-assistant', gateway: 'credit-desk', what: 'core-banking.issue_credit', step: 'issue', action: 'call_tool', sides: 'agent allow [agent.credit-assistant.credit-tools] / user allow [user.executive.broad]' },
      { kind: 'tool.call', outcome: 'ok', reason: 'ok', user: 'ceo', agent: 'credit-assistant', gateway: 'credit-desk', what: 'core-banking.issue_credit', step: 'issue' },
      // The officer's decision: authorized by the service, then by the run, then counted.
      { kind: 'decision', outcome: 'allow', reason: 'ok', user: 'credit-officer', agent: 'credit-assistant', gateway: 'credit-desk', what: 'credit-with-review', step: 'review', action: 'approve', sides: 'agent allow [agent.credit-assistant.credit-skills] / user allow [user.credit-officer.credit-skills]' },
      { kind: 'decision', outcome: 'allow', reason: 'ok', user: 'credit-officer', agent: 'credit-assistant', gateway: 'credit-desk', what: 'credit-with-review', step: 'review', action: 'approve', sides: 'agent allow [agent.credit-assistant.credit-skills] / user allow [user.credit-officer.credit-skills]' },
      { kind: 'run.approval', outcome: 'ok', reason: 'rejected', user: 'credit-officer', agent: 'credit-assistant', gateway: 'credit-desk', what: 'credit-with-review', step: 'review' },
      // Rejected: the issued credit is compensated, with the starter's identities, then the run ends.
      { kind: 'decision', outcome: 'allow', reason: 'ok', user: 'ceo', agent: 'credit-assistant', gateway: 'credit-desk', what: 'core-banking.cancel_credit', step: 'issue', action: 'call_tool', sides: 'agent allow [agent.credit-assistant.credit-tools] / user allow [user.executive.broad]' },
      { kind: 'run.compensation', outcome: 'ok', reason: 'ok', user: 'ceo', agent: 'credit-assistant', gateway: 'credit-desk', what: 'core-banking.cancel_credit', step: 'issue' },
      { kind: 'run.ended', outcome: 'error', reason: 'ApprovalRejected', user: 'ceo', agent: 'credit-assistant', gateway: 'credit-desk', what: 'credit-with-review' },
      { kind: 'policy.loaded', outcome: 'ok', reason: 'reloaded', user: undefined, agent: undefined, gateway: undefined, what: undefined },
      { kind: 'decision', outcome: 'deny', reason: 'ERR_USER_NOT_PERMITTED', user: 'intern', agent: 'hr-assistant', gateway: 'hr-desk', what: 'hr.get_compensation', action: 'call_tool', sides: `agent allow [${own}] / user deny [user.intern.no-compensation]` },
    ]);

    // What the assertions above do not show.
    const [allowed, call, , , token, runDecision, runStarted] = events;
    expect(call!.ids?.decisionId).toBe(allowed!.ids?.decisionId);
    expect(call!.args?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(call!.args?.masked).toEqual({ employeeId: 'intern' });
    expect(call!.latencyMs).toBeGreaterThan(0);
    expect(allowed!.ids?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(allowed!.ids?.sessionId).toBeTruthy();
    expect(token!.ids?.requestId).toBe(requestId);
    expect(JSON.stringify(events)).not.toContain(wrong);
    expect(runDecision!.ids?.workflowId).toBe(run.id);
    expect(runStarted!.ids).toMatchObject({ workflowId: run.id, runId: expect.any(String) });
    const compensation = events.find((e) => e.kind === 'run.compensation')!;
    expect(compensation.ids).toMatchObject({ workflowId: run.id, activityId: 'compensate/issue' });
    const ended = events.find((e) => e.kind === 'run.ended')!;
    expect(ended.detail).toMatchObject({ compensated: ['issue'] });
    const reload = events.find((e) => e.kind === 'policy.loaded')!;
    expect(reload.decision?.policyRevision).not.toBe(allowed!.decision?.policyRevision);
    expect(events[events.length - 1]!.decision?.policyRevision).toBe(reload.decision?.policyRevision);
    for (const e of events.filter((x) => x.kind !== 'token.refused' && x.kind !== 'policy.loaded')) {
      expect([e.kind, e.user, e.agent].every(Boolean), `${e.kind} #${e.seq} has both identities`).toBe(true);
    }

    // And the whole chain verifies, checkpoints included.
    await log.checkpoint();
    const keys = await verificationKeys([{ text: (await checkpointSigner(loadOrCreateAuditKey(dir))).publicKeyPem, where: 'test' }]);
    expect(await verifyRecords(store.records(), { keys })).toMatchObject({ ok: true, unsigned: 0 });
  }, 180_000);
});
