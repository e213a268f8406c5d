/**
 * OpenTelemetry traces for a Skillgate process: off by default; on when an OTLP/HTTP endpoint
 * is configured. Where spans go, first found wins:
 *
 *   1. OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   the traces URL itself (`http://collector:4318/v1/traces`)
 *   2. OTEL_EXPORTER_OTLP_ENDPOINT          a base URL; `/v1/traces` is appended
 *   3. telemetry.otlp.endpoint              the same, from skillgate.yaml
 *
 * (the standard variables win over the file, as TEMPORAL_ADDRESS does). OTEL_SDK_DISABLED=true
 * turns tracing off whatever is configured; OTEL_SERVICE_NAME names the service.
 *
 * On: a tracer provider (not registered globally) with a batching processor and the OTLP/HTTP
 * JSON exporter; W3C Trace Context as the process's propagator and an AsyncLocalStorage
 * context manager (Temporal's interceptors read both from the OpenTelemetry API's globals).
 * Spans are exported in the background (batches of up to 512, every 5 s or when full);
 * `shutdown()` flushes what is left. The OpenTelemetry packages are on their 1.x line
 * (sdk 1.30, exporter 0.57) because @temporalio/interceptors-opentelemetry 1.24 builds the
 * workflow's spans with that line's types. None of it is loaded while tracing is off.
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Client } from '@temporalio/client';
import type { Telemetry } from '../../../gateway/telemetry/telemetry.js';
import type { LoadedConfig } from '../../config/load.js';
import { resolveSecretValue } from '../../config/secrets.js';
import type { WorkerTracing } from '../../temporal/worker.js';

/** A process's tracing, when on. */
export interface TelemetryRuntime {
  /** For the gateway and the pipeline. */
  telemetry: Telemetry;
  /** For the worker: activity interceptor, workflow span sink, the bundled workflow interceptors. */
  worker: WorkerTracing;
  /** A client on the same connection whose workflow starts carry the active trace context. */
  tracedClient(client: Client): Client;
  /** Where spans are sent. */
  endpoint: string;
  /** Export what is buffered now. */
  flush(): Promise<void>;
  /** Export what is still buffered, then stop. */
  shutdown(): Promise<void>;
}

/** The OTLP/HTTP traces URL this process would export to, or undefined (tracing off). */
export function otlpTracesEndpoint(config: LoadedConfig['config'], env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || config.telemetry.otlp.endpoint;
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

let globalsRegistered = false;

/**
 * Start tracing for this process, or return undefined when no endpoint is configured.
 * `exporter` replaces the OTLP exporter (tests that read spans in-process say so).
 *
 * @example
 * const tracing = await startTelemetry(loaded, process.env);
 * const gw = await startGateway({ …, ...(tracing ? { telemetry: tracing.telemetry } : {}) });
 * // on stop: await tracing?.shutdown();
 */
export async function startTelemetry(loaded: LoadedConfig, env: NodeJS.ProcessEnv, opts: { exporter?: SpanExporter } = {}): Promise<TelemetryRuntime | undefined> {
  const { config } = loaded;
  const endpoint = otlpTracesEndpoint(config, env);
  if (!endpoint) return undefined;
  const [api, hooks, core, otlp, resources, sdk, spans, temporal] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('../../../gateway/telemetry/spans.js'),
    import('../../temporal/tracing.js'),
  ]);
  if (!globalsRegistered) {
    // Process-wide and kept: Temporal's interceptors inject and extract through these.
    api.context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
    api.propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
    globalsRegistered = true;
  }
  const headers = Object.fromEntries(
    Object.entries(config.telemetry.otlp.headers).map(([h, v]) => [h, resolveSecretValue(v, ['telemetry', 'otlp', 'headers', h], { env, baseDir: loaded.baseDir })]),
  );
  const exporter = opts.exporter ?? new otlp.OTLPTraceExporter({ url: endpoint, headers });
  const resource = new resources.Resource({
    'service.name': env.OTEL_SERVICE_NAME?.trim() || config.telemetry.serviceName,
    'service.namespace': config.workspace,
  });
  const processor = new sdk.BatchSpanProcessor(exporter);
  const provider = new sdk.BasicTracerProvider({ resource, spanProcessors: [processor] });
  const tracer = provider.getTracer('skillgate');
  return {
    telemetry: spans.createTelemetry({ tracer, propagator: new core.W3CTraceContextPropagator(), captureContent: config.telemetry.captureContent }),
    worker: temporal.workerTracing({ tracer, spanProcessor: processor, resource }),
    tracedClient: (client) => temporal.tracedClient(client, tracer),
    endpoint,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
