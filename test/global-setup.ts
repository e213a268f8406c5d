/**
 * One Temporal dev server for the whole test run (in memory, free port, search attributes
 * registered). Test files read its address with `inject('temporalAddress')` and use their
 * own task queues. Set TEMPORAL_ADDRESS to run the suite against an existing server.
 *
 * Also the suite's own folder (SKILLGATE_SUITE_DIR, inherited by every test process): the
 * ledger of tokens the tests minted and the scans of what they wrote, which
 * test/no-raw-token.test.ts reads after everything else has run (vitest.config.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { connectTemporal, startEmbeddedTemporal, type TemporalRuntime } from '../src/app/runtime/temporal.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

let runtime: TemporalRuntime | undefined;
let suiteDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  suiteDir = mkdtempSync(join(tmpdir(), 'suite-skillgate-'));
  process.env.SKILLGATE_SUITE_DIR = suiteDir;
  runtime = process.env.TEMPORAL_ADDRESS
    ? await connectTemporal(process.env.TEMPORAL_ADDRESS)
    : await startEmbeddedTemporal({ port: 0 });
  writeFileSync(join(suiteDir, 'temporal-address'), runtime.address);
  project.provide('temporalAddress', runtime.address);
}

export async function teardown(): Promise<void> {
  await runtime?.close();
  if (suiteDir) rmSync(suiteDir, { recursive: true, force: true });
}
