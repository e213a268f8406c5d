/**
 * The Skillgate worker: runs `runSkill` workflows and the `callTool` activity on a task queue.
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { createActivities } from '../../activities/index.js';

export interface SkillWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  activities: ReturnType<typeof createActivities>;
  /** Extra worker tuning (cache sizes, concurrency); see BENCHMARKS.md. */
  tuning?: Pick<
    WorkerOptions,
    | 'maxCachedWorkflows'
    | 'maxConcurrentActivityTaskExecutions'
    | 'maxConcurrentLocalActivityExecutions'
    | 'maxConcurrentWorkflowTaskExecutions'
    | 'stickyQueueScheduleToStartTimeout'
    | 'shutdownGraceTime'
  >;
}

/**
 * The workflow bundle's entry: `workflows/index.ts` from source (tsx, vitest — the Temporal
 * bundler resolves `.js` imports to `.ts`), `dist/workflows/index.js` when built.
 */
export function workflowsPath(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`../../workflows/index${ext}`, import.meta.url));
}

/** Create (not run) a worker. */
export async function createSkillWorker(opts: SkillWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue,
    workflowsPath: workflowsPath(),
    activities: opts.activities,
    // A worker stopping (Ctrl-C) lets running tool calls finish briefly before giving up.
    shutdownGraceTime: '5s',
    ...opts.tuning,
  });
}
