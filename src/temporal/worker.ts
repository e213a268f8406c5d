/**
 * The Skillgate worker: runs `runSkill` workflows and the `callTool` activity on a task queue.
 *
 * The workflow code is bundled once per process (webpack, ~2 s on two cores) and the bundle is
 * shared by every worker the process creates, so a second worker (tests, a restart after a
 * connection loss) starts in well under a second.
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, type NativeConnection, Worker, type WorkerOptions, type WorkflowBundle } from '@temporalio/worker';
import type { SkillgateActivities } from '../contracts/activities.js';

/**
 * Tracing of a worker (tracing.ts `workerTracing`, loaded only when tracing is on): activity
 * interceptors and the workflow span sink, and the workflow interceptor module to bundle.
 */
export interface WorkerTracing {
  options: Pick<WorkerOptions, 'interceptors' | 'sinks'>;
  workflowModule: string;
}

/** Worker options that may be tuned (see BENCHMARKS.md for what they change). */
export type WorkerTuning = Pick<
  WorkerOptions,
  | 'maxCachedWorkflows'
  | 'maxConcurrentActivityTaskExecutions'
  | 'maxConcurrentLocalActivityExecutions'
  | 'maxConcurrentWorkflowTaskExecutions'
  | 'maxConcurrentActivityTaskPolls'
  | 'maxConcurrentWorkflowTaskPolls'
  | 'stickyQueueScheduleToStartTimeout'
  | 'shutdownGraceTime'
  | 'identity'
>;

export interface SkillWorkerOptions {
  /** The worker's connection (TemporalRuntime.nativeConnection). */
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  /** From `createActivities({ pool, authorizer, attestor })` (activities/index.ts). */
  activities: SkillgateActivities;
  /** Extra worker tuning (cache sizes, concurrency). */
  tuning?: WorkerTuning;
  /** Trace workflows and activities; absent: off, and the bundle has no interceptors. */
  tracing?: WorkerTracing;
}

/**
 * The workflow bundle's entry: `workflows/index.ts` when running from source (tsx, vitest —
 * the Temporal bundler resolves the `.js` imports inside to `.ts`), `dist/workflows/index.js`
 * when built.
 */
export function workflowsPath(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`../../workflows/index${ext}`, import.meta.url));
}

const bundles = new Map<string, Promise<WorkflowBundle>>();

/**
 * The workflow code bundle, built on first use and reused by every worker of this process;
 * `{ interceptorModule }` adds a workflow interceptor module (tracing: Temporal's
 * OpenTelemetry interceptors), a bundle of its own.
 */
export function workflowBundle(opts: { interceptorModule?: string } = {}): Promise<WorkflowBundle> {
  const kind = opts.interceptorModule ?? '';
  let b = bundles.get(kind);
  if (!b) {
    b = bundleWorkflowCode({
      workflowsPath: workflowsPath(),
      ...(opts.interceptorModule ? { workflowInterceptorModules: [opts.interceptorModule] } : {}),
      logger: new DefaultLogger('WARN'),
    }).catch((err: unknown) => {
      bundles.delete(kind);
      throw err;
    });
    bundles.set(kind, b);
  }
  return b;
}

/**
 * Create (not run) a worker for skill runs.
 *
 * @example
 * const worker = await createSkillWorker({ connection: rt.nativeConnection, taskQueue: 'skillgate',
 *   activities: createActivities({ pool }) });
 * await worker.run(); // until worker.shutdown()
 */
export async function createSkillWorker(opts: SkillWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(opts.tracing ? { interceptorModule: opts.tracing.workflowModule } : {}),
    activities: opts.activities,
    ...opts.tracing?.options,
    // On shutdown (Ctrl-C) running tool calls get a moment to finish; an unfinished one is
    // retried by the next worker with the same idempotency key.
    shutdownGraceTime: '5s',
    ...opts.tuning,
  });
}
