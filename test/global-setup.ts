/**
 * One Temporal dev server for the whole test run (in memory, free port, search attributes
 * registered). Test files read its address with `inject('temporalAddress')` and use their
 * own task queues. Set TEMPORAL_ADDRESS to run the suite against an existing server.
 */
import type { TestProject } from 'vitest/node';
import { connectTemporal, startEmbeddedTemporal, type TemporalRuntime } from '../src/app/runtime/temporal.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

let runtime: TemporalRuntime | undefined;

export async function setup(project: TestProject): Promise<void> {
  runtime = process.env.TEMPORAL_ADDRESS
    ? await connectTemporal(process.env.TEMPORAL_ADDRESS)
    : await startEmbeddedTemporal({ port: 0 });
  project.provide('temporalAddress', runtime.address);
}

export async function teardown(): Promise<void> {
  await runtime?.close();
}
