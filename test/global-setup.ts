/**
 * One Temporal dev server for the whole test run (in memory, free port, search attributes
 * registered). Test files read its address with `inject('temporalAddress')` and use their
 * own task queues. Set TEMPORAL_ADDRESS to run the suite against an existing server.
 *
 * With SKILLGATE_TEST_STORAGE=postgres, also one PostgreSQL (test/helpers/postgres.ts) whose
 * URL goes to every test process as SKILLGATE_TEST_POSTGRES_URL: each test workspace then keeps
 * its state in a database of its own there (test/helpers/workspace.ts, testStorage) — the same
 * tests, on the other backend.
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
import { type PostgresServer, startPostgres } from './helpers/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

let runtime: TemporalRuntime | undefined;
let postgres: PostgresServer | undefined;
let suiteDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  suiteDir = mkdtempSync(join(tmpdir(), 'suite-skillgate-'));
  process.env.SKILLGATE_SUITE_DIR = suiteDir;
  runtime = process.env.TEMPORAL_ADDRESS
    ? await connectTemporal(process.env.TEMPORAL_ADDRESS)
    : await startEmbeddedTemporal({ port: 0 });
  writeFileSync(join(suiteDir, 'temporal-address'), runtime.address);
  project.provide('temporalAddress', runtime.address);
  if (process.env.SKILLGATE_TEST_STORAGE === 'postgres') {
    postgres = await startPostgres();
    process.env.SKILLGATE_TEST_POSTGRES_URL = postgres.url();
  } else if (process.env.SKILLGATE_TEST_STORAGE && process.env.SKILLGATE_TEST_STORAGE !== 'sqlite') {
    throw new Error(`SKILLGATE_TEST_STORAGE=${process.env.SKILLGATE_TEST_STORAGE}: expected sqlite (the default) or postgres`);
  }
}

export async function teardown(): Promise<void> {
  await runtime?.close();
  await postgres?.close();
  if (suiteDir) rmSync(suiteDir, { recursive: true, force: true });
}
