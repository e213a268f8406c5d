/**
 * The determinism boundary is enforced by lint (eslint.config.js), not by convention: these
 * tests run the project's real ESLint config on probe sources placed (virtually) in workflows/.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(fileURLToPath(import.meta.url), '..', '..');

const PROBES = ['workflows/__lint_probe_*.ts', 'activities/__lint_probe__.ts', 'src/__lint_probe__.ts'];

let eslint: ESLint;

beforeAll(() => {
  // The probes exist only in memory; typescript-eslint's project service needs to be told it may
  // type-check such files in a default project (with the repo's tsconfig options). The rules are
  // the real config's.
  eslint = new ESLint({
    cwd: root,
    overrideConfig: {
      files: ['**/*.ts'],
      languageOptions: {
        parserOptions: {
          projectService: { allowDefaultProject: PROBES, defaultProject: 'tsconfig.json' },
          tsconfigRootDir: root,
        },
      },
    },
  });
});

/** Lints `code` as if it were the file at `relPath`; returns `ruleId: message` lines. */
async function lint(code: string, relPath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, relPath) });
  expect(result).toBeDefined();
  return result!.messages.map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

const clean = `
import { proxyActivities, sleep } from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/common';
import type { CallToolInput, CallToolOutput } from '../activities/types.js';
import { SEARCH_ATTRIBUTES } from './definitions.js';

const { callTool } = proxyActivities<{ callTool(i: CallToolInput): Promise<CallToolOutput> }>({
  startToCloseTimeout: '1 minute',
});

export async function probe(input: CallToolInput): Promise<number> {
  await sleep(1);
  if (!input.tool) throw ApplicationFailure.nonRetryable('no tool');
  await callTool(input);
  return SEARCH_ATTRIBUTES.length;
}
`;

describe('workflow determinism boundary (eslint.config.js)', () => {
  it('accepts a workflow importing only @temporalio/workflow, @temporalio/common and relative contracts', async () => {
    expect(await lint(clean, 'workflows/__lint_probe_clean__.ts')).toEqual([]);
  });

  it.each([
    ["import { readFileSync } from 'node:fs';", 'no Node built-ins'],
    ["import { randomUUID } from 'crypto';", 'no Node built-ins'],
    ["import * as path from 'path';", 'no Node built-ins'],
    ["import { promises } from 'fs/promises';", 'no Node built-ins'],
    ["import { Client } from '@modelcontextprotocol/sdk/client/index.js';", 'must not do I/O'],
    ["import { Connection } from '@temporalio/client';", 'must not do I/O'],
    ["import { Context } from '@temporalio/activity';", 'must not do I/O'],
    ["import pino from 'pino';", 'must not do I/O'],
    ["import { jwtVerify } from 'jose';", 'must not do I/O'],
    ["import { z } from 'zod';", 'may import only'],
  ])('refuses `%s` in workflows/', async (line, expected) => {
    const messages = await lint(`${line}\nexport const probe = 1;\n`, 'workflows/__lint_probe_bad__.ts');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^@typescript-eslint\/no-restricted-imports: /);
    expect(messages[0]).toContain(expected);
  });

  it('allows type-only imports (erased at build time)', async () => {
    const code = "import type { Tool } from '@modelcontextprotocol/sdk/types.js';\nexport type Probe = Tool;\n";
    expect(await lint(code, 'workflows/__lint_probe_types__.ts')).toEqual([]);
  });

  it('does not restrict imports outside workflows/', async () => {
    const code = "import { readFileSync } from 'node:fs';\nexport const probe = readFileSync;\n";
    expect(await lint(code, 'activities/__lint_probe__.ts')).toEqual([]);
  });
});

describe('no-floating-promises (everywhere)', () => {
  it('flags an un-awaited promise and accepts an awaited or voided one', async () => {
    const floating = 'async function work(): Promise<void> {}\nexport function go(): void {\n  work();\n}\n';
    const messages = await lint(floating, 'src/__lint_probe__.ts');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^@typescript-eslint\/no-floating-promises: /);

    const handled = 'async function work(): Promise<void> {}\nexport async function go(): Promise<void> {\n  await work();\n  void work();\n}\n';
    expect(await lint(handled, 'src/__lint_probe__.ts')).toEqual([]);
  });
});
