/**
 * The layers and the determinism boundary are enforced by lint (eslint.config.js), not by
 * convention: these tests run the project's real ESLint config on probe sources placed
 * (virtually) in each layer, importing real files.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(fileURLToPath(import.meta.url), '..', '..');

const PROBES = [
  'workflows/__lint_probe_*.ts',
  'activities/__lint_probe__.ts',
  'src/shared/__lint_probe__.ts',
  'src/__lint_probe__.ts',
  'gateway/policy/__lint_probe__.ts',
  'gateway/authz/__lint_probe__.ts',
  'src/app/cli/__lint_probe__.ts',
  'src/skills/__lint_probe__.ts',
];

let eslint: ESLint;

beforeAll(async () => {
  // The probes exist only in memory; typescript-eslint's project service needs to be told it may
  // type-check such files in a default project (with the repo's tsconfig options). The rules are
  // the real config's.
  eslint = new ESLint({
    cwd: root,
    overrideConfig: {
      files: ['**/*.ts'],
      languageOptions: {
        parserOptions: {
          projectService: { allowDefaultProject: PROBES, defaultProject: 'tsconfig.json', maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 20 },
          tsconfigRootDir: root,
        },
      },
    },
  });
  // The first lint builds the TypeScript program of the whole project (tens of seconds on a
  // busy two-core machine); pay it here, under the hook's timeout, not in the first test's.
  await eslint.lintText('export {};\n', { filePath: join(root, 'workflows/__lint_probe_warmup.ts') });
}, 240_000);

/** Lints `code` as if it were the file at `relPath`; returns `ruleId: message` lines. */
async function lint(code: string, relPath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, relPath) });
  expect(result).toBeDefined();
  return result!.messages.map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

const clean = `
import { proxyActivities, sleep } from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/common';
import type { CallToolInput, CallToolOutput } from '../src/contracts/activities.js';
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
  it('accepts a workflow importing only @temporalio/workflow, @temporalio/common, itself and type-only contracts', async () => {
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
    const messages = await lint(floating, 'src/shared/__lint_probe__.ts');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^@typescript-eslint\/no-floating-promises: /);

    const handled = 'async function work(): Promise<void> {}\nexport async function go(): Promise<void> {\n  await work();\n  void work();\n}\n';
    expect(await lint(handled, 'src/shared/__lint_probe__.ts')).toEqual([]);
  });
});

describe('layers (eslint-plugin-boundaries)', () => {
  const refused = (messages: string[]) => messages.filter((m) => m.startsWith('boundaries/'));

  it('refuses a relative import of I/O code from workflows/ (the one that used to lint clean)', async () => {
    const code = "import { createUpstreamPool } from '../gateway/upstream/pool.js';\nexport const probe = createUpstreamPool;\n";
    expect(refused(await lint(code, 'workflows/__lint_probe_layers__.ts'))).toEqual(['boundaries/element-types: workflows may not import core (docs/architecture.md, "Layers")']);
  });

  it('lets workflows/ import contracts only as types', async () => {
    const value = "import { META_SKILL } from '../src/contracts/meta.js';\nexport const probe = META_SKILL;\n";
    expect(refused(await lint(value, 'workflows/__lint_probe_layers__.ts'))).toEqual(['boundaries/element-types: workflows may not import contracts (docs/architecture.md, "Layers")']);
    const type = "import type { Json } from '../src/contracts/json.js';\nexport type Probe = Json;\n";
    expect(await lint(type, 'workflows/__lint_probe_layers__.ts')).toEqual([]);
  });

  it('refuses an import of demo/ (or test/) from product code', async () => {
    const demo = "import { createHrServer } from '../../demo/hr/server.js';\nexport const probe = createHrServer;\n";
    expect(refused(await lint(demo, 'gateway/policy/__lint_probe__.ts'))).toEqual(['boundaries/element-types: core may not import demo (docs/architecture.md, "Layers")']);
    const test = "import { ROOT } from '../../../test/helpers/workspace.js';\nexport const probe = ROOT;\n";
    expect(refused(await lint(test, 'src/app/cli/__lint_probe__.ts'))).toEqual(['boundaries/element-types: app may not import test (docs/architecture.md, "Layers")']);
  });

  it('refuses an import from the app layer into a core module', async () => {
    const code = "import { startDevRuntime } from '../../src/app/runtime/dev.js';\nexport const probe = startDevRuntime;\n";
    expect(refused(await lint(code, 'gateway/authz/__lint_probe__.ts'))).toEqual(['boundaries/element-types: core may not import app (docs/architecture.md, "Layers")']);
  });

  it('refuses an adapter from the skills layer, and a file outside every layer', async () => {
    const code = "import { createGatewayApp } from '../../gateway/adapters/http/app.js';\nexport const probe = createGatewayApp;\n";
    expect(refused(await lint(code, 'src/skills/__lint_probe__.ts'))).toEqual(['boundaries/element-types: skills may not import adapters (docs/architecture.md, "Layers")']);
    expect(refused(await lint('export const probe = 1;\n', 'src/__lint_probe__.ts'))).toEqual([expect.stringMatching(/^boundaries\/no-unknown-files: /)]);
  });

  it('allows what the table allows: skills → core and the pure modules', async () => {
    const code = "import { renderTemplate } from '../pure/expressions.js';\nimport { invokeTool } from '../../gateway/pipeline/index.js';\nexport const probe = [renderTemplate, invokeTool];\n";
    expect(await lint(code, 'src/skills/__lint_probe__.ts')).toEqual([]);
  });
});
