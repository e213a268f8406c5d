// @ts-check
/**
 * Lint guards two things the compiler cannot:
 *  - every promise is awaited or explicitly voided (`no-floating-promises`), everywhere;
 *  - the determinism boundary: code in workflows/ is replayed by Temporal and must not touch
 *    Node built-ins or I/O libraries. Only @temporalio/workflow, @temporalio/common,
 *    @marcbachmann/cel-js and relative imports (contracts) are allowed there. Type-only imports
 *    are erased at build time and stay allowed.
 */
import { builtinModules } from 'node:module';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const WORKFLOW_ALLOWED = ['@temporalio/workflow', '@temporalio/common', '@marcbachmann/cel-js'];

/** Libraries that do I/O (network, files, processes, clocks, logging) — activities' business. */
const IO_LIBRARIES = [
  '@modelcontextprotocol/sdk',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
  'fastify',
  'pino',
  'ajv',
  'ajv-formats',
  'oidc-provider',
  'jose',
  'yaml',
  '@cedar-policy/cedar-wasm',
];

const bareBuiltins = [...new Set(builtinModules.filter((m) => !m.startsWith('_')).map((m) => m.split('/')[0] ?? m))];
/** @param {string} s */
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const workflowBoundary = {
  paths: [],
  patterns: [
    {
      regex: '^node:',
      message: 'workflows/ is replayed deterministically by Temporal: no Node built-ins here; do it in an activity.',
      allowTypeImports: true,
      caseSensitive: true,
    },
    {
      regex: `^(${bareBuiltins.map(escape).join('|')})(/.*)?$`,
      message: 'workflows/ is replayed deterministically by Temporal: no Node built-ins here; do it in an activity.',
      allowTypeImports: true,
      caseSensitive: true,
    },
    {
      regex: `^(${IO_LIBRARIES.map(escape).join('|')})(/.*)?$`,
      message: 'workflows/ must not do I/O: this library belongs in activities/ (workflows call it through an activity).',
      allowTypeImports: true,
      caseSensitive: true,
    },
    {
      // Anything else that is not relative or explicitly allowed: keep the boundary closed by default.
      regex: `^(?!\\.{1,2}/|(${WORKFLOW_ALLOWED.map(escape).join('|')})(/|$)|node:|(${[...bareBuiltins, ...IO_LIBRARIES].map(escape).join('|')})(/|$))`,
      message: `workflows/ may import only ${WORKFLOW_ALLOWED.join(', ')} and relative contracts.`,
      allowTypeImports: true,
      caseSensitive: true,
    },
  ],
};

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'scratch/', 'coverage/', '.skillgate/'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', workflowBoundary],
    },
  },
);
