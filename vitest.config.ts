import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Integration tests share one Prefect server; files run in parallel but each test uses its own names.
    pool: 'forks',
    maxWorkers: 2,
  },
});
