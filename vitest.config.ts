import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The compatibility suite runs per Prefect version through `npm run test:matrix` (vitest.matrix.config.ts).
    exclude: ['test/matrix/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Integration tests share one Prefect server; files run in parallel but each test uses its own names.
    pool: 'forks',
    maxWorkers: 2,
  },
});
