/**
 * A skill run waits for the user's downstream grant instead of failing: the send step of
 * reply-to-teacher-email needs the parent's mail grant (read, then send), the run sets
 * RunState=AwaitingAuthorization and exposes the /connect URL (MCP run handle, run status,
 * progress), and resumes the same step once the parent has granted it. Its exported history
 * shows the wait and the resume, and holds no token (searched byte-wise).
 */
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunStatus } from '../src/contracts/run.js';
import { structured, textOf } from './helpers/gateway.js';
import { follow, GMAIL, type MailWorld, OUTLOOK, startMailWorld } from './helpers/mail-world.js';
import { ROOT } from './helpers/workspace.js';
import { LOCAL_ACTIVITY_MARKER } from './helpers/skill-harness.js';
import { credentialsIn } from './helpers/credential-scan.js';
import type { SkillGateway } from './helpers/gateway.js';

let w: MailWorld;
let t: SkillGateway;
beforeAll(async () => {
  w = await startMailWorld({ outlook: true, temporalAddress: inject('temporalAddress'), skillDirs: [join(ROOT, 'skills', 'reply-to-teacher-email')] });
  t = w.t as SkillGateway;
});
afterAll(async () => {
  await w?.close();
});

const REPLY = 'Dear Ms Rivera, thank you for organising the museum visit. Mia may join on Friday. Kind regards, Pat';

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('reply-to-teacher-email waits for authorization', () => {
  it('waits (read, then send), resumes the same step after each grant, and completes; no token in its history', async () => {
    const { client } = await w.client('parent');
    const first = await client.callTool({ name: 'skill.reply-to-teacher-email', arguments: { teacher: 'rivera', child: 'Mia', reply: REPLY } });
    const handle = structured<{ run: { id: string; status: string; pendingAuthorizations: Array<{ stepId: string; url: string; scopes: string[]; provider: string }> } }>(first).run;
    expect(handle.status, textOf(first)).toBe('awaiting-authorization');
    expect(handle.pendingAuthorizations[0]).toMatchObject({ stepId: 'find_gmail', provider: 'gmail', scopes: [GMAIL.read] });
    expect(textOf(first)).toContain('/connect/gmail?e=');
    const runId = handle.id;
    const run = t.client.workflow.getHandle(runId);

    // Operations find it in the Temporal UI by its search attribute.
    await until(
      async () => {
        let n = 0;
        for await (const _ of t.client.workflow.list({ query: `RunState="AwaitingAuthorization" AND WorkflowId="${runId}"` })) n++;
        return n;
      },
      (n) => n === 1,
      'RunState=AwaitingAuthorization in visibility',
    );

    // The parent grants read: the run resumes the same step, then waits for send.
    expect((await follow(handle.pendingAuthorizations[0]!.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' })).status).toBe(200);
    const sendWait = await until(
      () => run.query<RunStatus>('status'),
      (s) => s.pendingAuthorizations?.[0]?.stepId === 'send_gmail',
      'the send step to wait',
    );
    expect(sendWait.state).toBe('awaiting-authorization');
    expect(sendWait.steps).toMatchObject({ find_gmail: 'completed', read_gmail: 'completed', send_gmail: 'awaiting-authorization', find_outlook: 'skipped' });
    expect(sendWait.pendingAuthorizations![0]).toMatchObject({ reason: 'insufficient_scope', scopes: [GMAIL.send] });

    // The run-status tool shows the link too.
    const st = await client.callTool({ name: 'skillgate.run_status', arguments: { runId } });
    expect(JSON.stringify(structured(st))).toContain('/connect/gmail?e=');

    const granted = await follow(sendWait.pendingAuthorizations![0]!.url, { skillgateUser: 'parent', mailbox: 'parent@gmail.example' });
    expect(granted.consented.filter((s) => s !== 'offline_access')).toEqual([GMAIL.send]);
    const result = await run.result();
    expect(result.outputs).toMatchObject({ mailbox: 'gmail', sentTo: 'ms.rivera@school.example' });
    expect(w.gmail.sent.get('parent@gmail.example')?.at(-1)?.body).toBe(REPLY);

    // The history: two waits, two resumes (signals), the same step scheduled again; no token.
    const history = await run.fetchHistory();
    const json = JSON.stringify(history);
    const E = temporal.api.enums.v1.EventType;
    const types = (history.events ?? []).map((e) => e.eventType);
    expect(types.filter((x) => x === E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)).toHaveLength(2);
    // AwaitingAuthorization, Running, AwaitingAuthorization, Running.
    const runStates = (history.events ?? []).flatMap((e) => {
      const f = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.RunState;
      return f?.data ? [JSON.parse(Buffer.from(f.data).toString()) as string] : [];
    });
    expect(runStates).toEqual(['AwaitingAuthorization', 'Running', 'AwaitingAuthorization', 'Running']);
    // find_gmail and send_gmail were each called twice: the same step, again, after the grant —
    // send_gmail as a scheduled activity, find_gmail (read-only) as a local activity whose
    // failure and success each left a marker.
    const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityId ? [e.activityTaskScheduledEventAttributes.activityId] : []));
    expect(scheduled.filter((a) => a === 'step/find_gmail')).toHaveLength(0);
    expect(scheduled.filter((a) => a === 'step/send_gmail')).toHaveLength(2);
    const localCalls = (history.events ?? []).flatMap((e) => {
      const summary = e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER ? e.userMetadata?.summary?.data : undefined;
      return summary ? [JSON.parse(Buffer.from(summary).toString()) as string] : [];
    });
    expect(localCalls.filter((x) => x === 'find_gmail · gmail.search_threads')).toHaveLength(2);
    expect(json).toContain('AuthorizationRequired');
    const grant = await t.credentials.service.vault.get({ workspace: 'test', user: 'parent', agent: 'family-assistant', provider: 'gmail' });
    // Byte-wise over everything in it: payloads are bytes (JSON, not base64 here), decoded as they are stored.
    const bytes = historyBytes(history);
    expect(bytes.includes(Buffer.from('find_gmail'))).toBe(true); // the search can see payloads
    for (const secret of [grant!.tokens.accessToken, grant!.tokens.refreshToken!]) expect(bytes.includes(Buffer.from(secret))).toBe(false);
    expect(credentialsIn(bytes)).toEqual([]);

    // The audit trail: each wait (with its step and run), each grant; no token in any event.
    const events = (t.audit.events ?? []).filter((e) => e.ids?.workflowId === run.workflowId || (e.kind.startsWith('grant.') && e.user === 'parent'));
    const waits = events.filter((e) => e.kind === 'run.authorization_wait');
    expect(waits.map((e) => [e.step, e.reason, e.detail?.provider])).toEqual([
      ['find_gmail', 'missing', 'gmail'],
      ['send_gmail', 'insufficient_scope', 'gmail'],
    ]);
    expect(waits[0]).toMatchObject({ skill: 'reply-to-teacher-email', user: 'parent', agent: 'family-assistant', ids: { activityId: 'step/find_gmail' } });
    expect(events.filter((e) => e.kind === 'grant.connected').map((e) => e.detail?.scopes)).toHaveLength(2);
    const recorded = JSON.stringify(events);
    for (const secret of [grant!.tokens.accessToken, grant!.tokens.refreshToken!]) expect(recorded).not.toContain(secret);
  });

  it('the same skill against the other provider, chosen by the user’s configured mailbox', async () => {
    const { client } = await w.client('other-parent');
    const r = await client.callTool({ name: 'skill.reply-to-teacher-email', arguments: { teacher: 'rivera', child: 'Leo', reply: 'Dear Ms Rivera, sorry about the homework; Leo will hand it in tomorrow. Best, Olly' } });
    const handle = structured<{ run: { id: string; pendingAuthorizations: Array<{ url: string; scopes: string[]; provider: string }> } }>(r).run;
    expect(handle.pendingAuthorizations[0]).toMatchObject({ provider: 'outlook', scopes: [OUTLOOK.read] });
    expect((await follow(handle.pendingAuthorizations[0]!.url, { skillgateUser: 'other-parent', mailbox: 'other-parent@outlook.example' })).status).toBe(200);
    const run = t.client.workflow.getHandle(handle.id);
    const sendWait = await until(() => run.query<RunStatus>('status'), (st) => st.pendingAuthorizations?.[0]?.stepId === 'send_outlook', 'the Outlook send step to wait');
    expect(sendWait.pendingAuthorizations![0]).toMatchObject({ provider: 'outlook', scopes: [OUTLOOK.send] });
    expect((await follow(sendWait.pendingAuthorizations![0]!.url, { skillgateUser: 'other-parent', mailbox: 'other-parent@outlook.example' })).status).toBe(200);
    const result = await run.result();
    expect(result.outputs).toMatchObject({ mailbox: 'outlook', sentTo: 'ms.rivera@school.example' });
    expect(w.outlook!.sent.get('other-parent@outlook.example')).toHaveLength(1);
    expect(w.gmail.sent.get('other-parent@gmail.example')).toBeUndefined();
  });

  it('the checks refuse a reply that breaks a rule, before anything is sent', async () => {
    const { client } = await w.client('parent');
    const r = await client.callTool({ name: 'skill.reply-to-teacher-email', arguments: { teacher: 'rivera', child: 'Mia', reply: 'Dear Ms Rivera, Mia and Leo may join; call me at +44 20 7946 0958. Pat', classmates: ['Leo'] } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/must not carry another pupil's data/);
  });
});

/** Every string and byte array in an exported history, concatenated (payload data included). */
function historyBytes(history: unknown): Buffer {
  const parts: Buffer[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v));
    else if (typeof v === 'string') parts.push(Buffer.from(v));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(history);
  return Buffer.concat(parts);
}
