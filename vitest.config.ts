import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's native bridge crashes inside worker threads: run each file in a forked process.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: integration files each run a Temporal worker; keep them from starving each other.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: ['test/no-raw-token.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          // Records the tokens tests mint and scans what they wrote before they delete it.
          setupFiles: ['test/setup/token-watch.ts'],
        },
      },
      {
        // After everything else (groupOrder): greps everything the suite wrote for tokens.
        extends: true,
        test: { name: 'written', include: ['test/no-raw-token.test.ts'], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
