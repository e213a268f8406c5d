// @ts-check
/**
 * Lint guards what the compiler cannot:
 *  - every promise is awaited or explicitly voided (`no-floating-promises`), everywhere;
 *  - the layers (docs/architecture.md, "Layers"): which folder may import which, enforced by
 *    eslint-plugin-boundaries over resolved imports. Product code never imports demo/, bench/
 *    or test/; workflows/ imports only itself, src/pure/ (expressions, durations: shared by
 *    the compiler and the workflow) and — type-only — the contracts;
 *  - the determinism boundary: code in workflows/ and src/pure/ is replayed by Temporal and
 *    must not touch Node built-ins or I/O libraries. Only @temporalio/workflow,
 *    @temporalio/common and @marcbachmann/cel-js are allowed there. Type-only imports are
 *    erased at build time and stay allowed.
 */
import { builtinModules } from 'node:module';
import boundaries from 'eslint-plugin-boundaries';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/**
 * The layers, first match wins. A newcomer reads a file's layer from its path; the table in
 * docs/architecture.md says the same.
 */
const LAYERS = [
  { type: 'contracts', pattern: 'src/contracts/**' },
  { type: 'shared', pattern: 'src/shared/**' },
  { type: 'core', pattern: ['src/config/**', 'src/storage/**', 'gateway/identity/**', 'gateway/downstream/**', 'gateway/policy/**', 'gateway/authz/**', 'gateway/pipeline/**', 'gateway/upstream/**', 'gateway/curation/**', 'gateway/dlp/**', 'gateway/telemetry/**', 'gateway/audit/**', 'gateway/log.ts'] },
  { type: 'adapters', pattern: 'gateway/adapters/**' },
  { type: 'skills', pattern: 'src/skills/**' },
  { type: 'pure', pattern: 'src/pure/**' },
  { type: 'workflows', pattern: 'workflows/**' },
  { type: 'activities', pattern: 'activities/**' },
  { type: 'worker', pattern: 'src/temporal/**' },
  { type: 'app', pattern: 'src/app/**' },
  { type: 'demo', pattern: 'demo/**' },
  { type: 'bench', pattern: 'bench/**' },
  { type: 'test', pattern: 'test/**' },
  // Build and fetch tools (plain .mjs): the tests import their functions (e.g. ensureTemporalServer).
  { type: 'scripts', pattern: 'scripts/**' },
  // The deployment's shape (deploy/topology.ts): data only, imported by tests.
  { type: 'deploy', pattern: 'deploy/**' },
].map((l) => ({ ...l, mode: 'full' }));

/** Who may import whom (everything else is refused). */
const ALLOWED = [
  { from: 'contracts', allow: ['contracts'] },
  { from: 'pure', allow: ['pure'] },
  { from: 'pure', allow: ['contracts'], importKind: 'type' },
  { from: 'shared', allow: ['shared', 'pure', 'contracts'] },
  { from: 'core', allow: ['core', 'shared', 'pure', 'contracts'] },
  { from: 'workflows', allow: ['workflows', 'pure'] },
  { from: 'workflows', allow: ['contracts'], importKind: 'type' },
  { from: 'activities', allow: ['activities', 'core', 'shared', 'pure', 'contracts'] },
  { from: 'skills', allow: ['skills', 'core', 'shared', 'pure', 'contracts'] },
  { from: 'worker', allow: ['worker', 'shared', 'pure', 'contracts'] },
  { from: 'adapters', allow: ['adapters', 'skills', 'core', 'shared', 'pure', 'contracts'] },
  { from: 'app', allow: ['app', 'adapters', 'skills', 'worker', 'activities', 'core', 'shared', 'pure', 'contracts'] },
  { from: 'demo', allow: ['demo', 'shared', 'pure', 'contracts'] },
  { from: 'bench', allow: ['*'] },
  { from: 'test', allow: ['*'] },
  { from: 'deploy', allow: [] },
];

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
    plugins: { '@typescript-eslint': tseslint.plugin, boundaries },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    settings: {
      'boundaries/elements': LAYERS,
      'boundaries/root-path': import.meta.dirname,
      // Re-exports and dynamic imports are dependencies too.
      'boundaries/dependency-nodes': ['import', 'export', 'dynamic-import'],
      // `.js` specifiers of `.ts` sources, as TypeScript's NodeNext resolution writes them.
      'import/resolver': { typescript: { alwaysTryTypes: true, project: `${import.meta.dirname}/tsconfig.json` } },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      'boundaries/element-types': ['error', { default: 'disallow', rules: ALLOWED, message: '${file.type} may not import ${dependency.type} (docs/architecture.md, "Layers")' }],
      // A product file in no layer, or an import nothing resolves, is a hole in the graph.
      'boundaries/no-unknown': 'error',
      'boundaries/no-unknown-files': 'error',
    },
  },
  {
    // Configuration files at the root are not part of any layer.
    files: ['vitest.config.ts'],
    rules: { 'boundaries/no-unknown-files': 'off' },
  },
  {
    files: ['workflows/**/*.ts', 'src/pure/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', workflowBoundary],
    },
  },
);
