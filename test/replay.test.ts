/**
 * Runs in flight must survive a deploy: every history recorded in test/histories/ (real runs
 * of the fixture skills, recorded by test/histories/record.ts with the interpreter of their
 * day) is replayed against today's workflow code. A change to `workflows/` that would emit
 * different commands for an old run fails here — put it behind `patched()` (see
 * docs/architecture.md, "Changing workflows/").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { memoryAuditSink } from '../gateway/audit/memory.js';
import { workflowTracingModule } from '../src/temporal/tracing.js';
import { runAuditSinks, workflowBundle } from '../src/temporal/worker.js';
import { credentialsIn } from './helpers/credential-scan.js';

try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // Installed by another module of this process.
}

const DIR = join(import.meta.dirname, 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('recorded histories replay on today\'s interpreter', () => {
  it('has the recorded kinds of run', () => {
    expect(files.map((f) => f.replace(/\.json$/, ''))).toEqual(
      expect.arrayContaining(['sequential', 'parallel', 'approval-granted', 'approval-rejected', 'approval-timed-out', 'cancelled', 'revoked-mid-run', 'authorization-wait', 'answer-update', 'local-reads']),
    );
  });

  it('replays every one without a determinism violation', async () => {
    const histories = files.map((f) => ({ workflowId: f, history: historyFromJSON(JSON.parse(readFileSync(join(DIR, f), 'utf8'))) }));
    const failures: string[] = [];
    // The runs' audit sinks are registered as on a real worker: a replay must record nothing.
    const audit = memoryAuditSink();
    for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle(), sinks: runAuditSinks(audit) }, histories)) {
      if (r.error) failures.push(`${r.workflowId}: ${r.error.name}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(audit.events).toEqual([]);
  }, 120_000);

  it('replays every one with tracing on (OpenTelemetry workflow interceptors bundled): runs in flight survive turning tracing on', async () => {
    const histories = files.map((f) => ({ workflowId: f, history: historyFromJSON(JSON.parse(readFileSync(join(DIR, f), 'utf8'))) }));
    const exported = new InMemorySpanExporter();
    const audit = memoryAuditSink();
    const sinks = { ...runAuditSinks(audit), exporter: makeWorkflowExporter(new SimpleSpanProcessor(exported), new Resource({})) };
    const traced = await workflowBundle({ interceptorModule: workflowTracingModule() });
    expect('code' in traced && traced.code.includes('OpenTelemetryInboundInterceptor')).toBe(true);
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: traced, sinks }, histories)) {
      if (r.error) failures.push(`${r.workflowId}: ${r.error.name}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(audit.events).toEqual([]);
  }, 180_000);
});

describe('recorded histories hold no credential', () => {
  it('no bearer token or JWT (besides the run\'s own attestations) in any payload (decoded from base64), byte-wise', () => {
    for (const f of files) {
      const raw = readFileSync(join(DIR, f), 'utf8');
      // Payload data is base64 in the exported JSON: decode every `data` value and search the bytes too.
      const decoded = [...raw.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64'));
      const all = Buffer.concat([Buffer.from(raw), ...decoded]);
      expect(decoded.length, f).toBeGreaterThan(0);
      expect(credentialsIn(all), f).toEqual([]);
    }
  });
});
