/**
 * The Skillgate worker: runs `runSkill` workflows and the `callTool` activity on a task queue.
 *
 * The workflow code is bundled once per process (webpack, ~2 s on two cores) and the bundle is
 * shared by every worker the process creates, so a second worker (tests, a restart after a
 * connection loss) starts in well under a second.
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, type InjectedSinks, type NativeConnection, Worker, type WorkerOptions, type WorkflowBundle } from '@temporalio/worker';
import type { SkillgateActivities } from '../contracts/activities.js';
import type { AuditSink, RunAuditSinks } from '../contracts/audit.js';

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
  /** From `createActivities({ pool, authorizer, attestor, audit })` (activities/index.ts). */
  activities: SkillgateActivities;
  /** Where the runs' own events (started, ended) are recorded. Required. */
  audit: AuditSink & { flush?: () => Promise<void> };
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
  return sourcePath('../../workflows/index');
}

/** A module of this repository as the bundler resolves it: `.ts` from source (tsx, vitest), `.js` when built. */
function sourcePath(relative: string): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`${relative}${ext}`, import.meta.url));
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
      // Loaded once per worker thread and shared by every run, instead of once per run: the CEL
      // library builds its function registry when loaded (~3 ms, a step's worth of a run's time;
      // BENCHMARKS.md). Both are pure — the library's registry and the expressions' parse cache
      // depend on nothing but their input — so sharing them cannot leak one run's state into another.
      preloadModules: ['@marcbachmann/cel-js', sourcePath('../pure/expressions')],
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
    ...(opts.tracing ? { interceptors: opts.tracing.options.interceptors } : {}),
    sinks: { ...runAuditSinks(opts.audit), ...opts.tracing?.options.sinks },
    // On shutdown (Ctrl-C) running tool calls get a moment to finish; an unfinished one is
    // retried by the next worker with the same idempotency key.
    shutdownGraceTime: '5s',
    ...opts.tuning,
  });
}

/**
 * What the workflow reports through Temporal sinks, recorded as `run.started` / `run.ended`.
 * A sink emits no command (old histories replay unchanged) and the worker awaits it before the
 * workflow task's completion is sent: at least once, never on replay, and in the audit trail
 * before Temporal learns that the run ended — a store that writes asynchronously (PostgreSQL)
 * is flushed first, waiting at most 1 s (with the store down, the event stays queued for the
 * log's retry: a run is not held back by its audit trail).
 */
export function runAuditSinks(audit: AuditSink & { flush?: () => Promise<void> }): InjectedSinks<RunAuditSinks> {
  /** What both events say about the run: who, where, which skill, which execution. */
  const run = (info: { workflowId: string; runId: string }, f: { workspace: string; gateway: string; user: string; agent: string; skill: string }) => ({
    workspace: f.workspace,
    gateway: f.gateway,
    user: f.user,
    agent: f.agent,
    skill: f.skill,
    ids: { workflowId: info.workflowId, runId: info.runId },
  });
  const stored = async () => {
    if (!audit.flush) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([audit.flush(), new Promise<void>((r) => (timer = setTimeout(r, 1_000)))]);
    clearTimeout(timer);
  };
  return {
    skillgateAudit: {
      runStarted: {
        fn: async (info, f) => {
          audit.record({ kind: 'run.started', outcome: 'info', reason: 'started', ...run(info, f), detail: { skillVersion: f.skillVersion, planHash: f.planHash } });
          await stored();
        },
      },
      runEnded: {
        fn: async (info, f) => {
          audit.record({
            kind: 'run.ended',
            outcome: f.outcome,
            reason: f.reason,
            ...run(info, f),
            detail: {
              skillVersion: f.skillVersion,
              planHash: f.planHash,
              ...(f.message ? { message: f.message.slice(0, 500) } : {}),
              ...(f.executed ? { executed: f.executed } : {}),
              ...(f.compensated ? { compensated: f.compensated } : {}),
            },
          });
          await stored();
        },
      },
    },
  };
}
