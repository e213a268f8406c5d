/**
 * Skill runs in the request's trace: Temporal's OpenTelemetry interceptors
 * (@temporalio/interceptors-opentelemetry) on the client that starts runs (the start span,
 * and the context in the workflow's headers), in the workflow (its span and one per activity
 * it schedules — created in the workflow sandbox, exported through a sink by the worker) and
 * on the activities (their span, parent of the pipeline's upstream call span).
 *
 * Only when tracing is on (loaded by src/app/runtime/telemetry.ts then): the worker bundles
 * the workflow interceptors beside the workflow code (a second bundle; tracing off keeps the
 * bundle as it was). The interceptors
 * emit no commands of their own, so histories recorded either way replay either way
 * (test/replay.test.ts replays them with the tracing bundle too).
 */
import { createRequire } from 'node:module';
import type { Tracer } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { WorkerTracing } from './worker.js';

/** The runtime's tracer provider, as the worker's tracing needs it. */
export interface TracerParts {
  tracer: Tracer;
  /** Where the workflow's spans go (the same processor as the process's own spans). */
  spanProcessor: SpanProcessor;
  resource: Resource;
}

/** The workflow interceptor module bundled with the workflow code when tracing is on. */
export function workflowTracingModule(): string {
  // CommonJS resolution, as the package's own plugin does (`require.resolve`): the module file itself.
  return createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
}

/**
 * A client on the same connection whose workflow starts, updates and queries carry the active
 * trace context to the run (`StartWorkflow:runSkill` as a child of the caller's span).
 */
export function tracedClient(client: Client, tracer: Tracer): Client {
  return new Client({
    connection: client.connection,
    namespace: client.options.namespace,
    interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer })] },
  });
}

/** What a traced worker needs: activity spans, the workflow's spans exported, the workflow interceptors bundled. */
export function workerTracing(t: TracerParts): WorkerTracing {
  return {
    options: {
      interceptors: { activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: t.tracer }) })] },
      sinks: { exporter: makeWorkflowExporter(t.spanProcessor, t.resource) },
    },
    workflowModule: workflowTracingModule(),
  };
}
