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

let bundle: Promise<WorkflowBundle> | undefined;

/** The workflow code bundle, built on first use and reused by every worker of this process. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: new DefaultLogger('WARN') }).catch((err: unknown) => {
    bundle = undefined;
    throw err;
  });
  return bundle;
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
    workflowBundle: await workflowBundle(),
    activities: opts.activities,
    // On shutdown (Ctrl-C) running tool calls get a moment to finish; an unfinished one is
    // retried by the next worker with the same idempotency key.
    shutdownGraceTime: '5s',
    ...opts.tuning,
  });
}
