/**
 * The tool-call pipeline's audit events, step by step: the decision (with the trace id when
 * tracing set one) and the call's outcome joined to it, with what the data-loss filters marked,
 * and no call event when the AND-gate refuses. The pipeline runs its real `authorize` step over
 * the repo's policies; the upstream step is replaced by one that answers (no server needed).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { memoryAuditSink } from '../gateway/audit/memory.js';
import { authorize } from '../gateway/pipeline/authorize.js';
import type { PipelineStep } from '../gateway/pipeline/context.js';
import { invokeTool } from '../gateway/pipeline/index.js';
import type { UpstreamPool } from '../gateway/upstream/types.js';
import { createGovernance } from '../src/app/runtime/governance.js';
import { openCredentials } from '../src/app/runtime/credentials.js';
import { governedWorkspace } from './helpers/workspace.js';
import { approveEverything, NO_DATA_LOSS } from './helpers/allow-all.js';

const ws = governedWorkspace();
const audit = memoryAuditSink();
const governance = await createGovernance(ws.loaded, { audit, watch: false });
afterAll(async () => {
  await governance.close();
  await credentials.close();
  ws.cleanup();
});

const traced: PipelineStep = (ctx) => {
  ctx.traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
};
const answered: PipelineStep = (ctx) => {
  ctx.result = { content: [{ type: 'text', text: 'ok' }] };
  ctx.dlp = { findings: [{ rule: 'card-number', source: 'gateways.hr-desk.dataLoss.rules.card-number', in: 'result', path: '/content/0/text', action: 'redact', count: 1 }] };
};
// Not used by these steps: the pipeline's upstream step is replaced.
const pool = {} as UpstreamPool;
// The workspace's real credentials (no server here has `auth`; the credential step is not among these steps).
const credentials = await openCredentials(ws.loaded, { audit });
const deps = { pool, authorizer: governance.authorizer, catalog: approveEverything(pool), dataLoss: NO_DATA_LOSS, audit, credentials: credentials.service };
const steps = [['trace', traced], ['authorize', authorize], ['answer', answered]] as const;
const request = (employeeId: string) => ({
  principal: { user: { id: 'intern', roles: ['intern'], groups: [] }, agent: { id: 'hr-assistant' } },
  workspace: 'test',
  gateway: 'hr-desk',
  server: 'hr',
  tool: 'get_compensation',
  arguments: { employeeId },
  ids: { requestId: 'req-1', sessionId: 'sess-1' },
});

describe('the pipeline records', () => {
  it('an allowed call: its decision and its outcome, joined, with the trace id and the data-loss mark', async () => {
    audit.events.length = 0;
    await invokeTool(deps, request('intern'), steps);
    const [decision, call] = audit.events;
    expect(audit.events.map((e) => e.kind)).toEqual(['decision', 'tool.call']);
    expect(decision).toMatchObject({ outcome: 'allow', ids: { requestId: 'req-1', sessionId: 'sess-1', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', decisionId: expect.any(String) } });
    expect(call).toMatchObject({ outcome: 'ok', reason: 'ok', ids: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', decisionId: decision!.ids!.decisionId }, detail: { dlp: { findings: [{ rule: 'card-number', count: 1 }] } } });
    expect(call!.args).toEqual(decision!.args);
  });

  it('a refused call: its decision only, with both sides', async () => {
    audit.events.length = 0;
    await expect(invokeTool(deps, request('ceo'), steps)).rejects.toMatchObject({ code: 'ERR_USER_NOT_PERMITTED' });
    expect(audit.events).toHaveLength(1);
    expect(audit.events[0]).toMatchObject({ kind: 'decision', outcome: 'deny', decision: { agent: { decision: 'allow' }, user: { decision: 'deny', basis: 'no-permit' } } });
  });
});
