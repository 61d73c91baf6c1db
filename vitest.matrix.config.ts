import { defineConfig } from 'vitest/config';

// The compatibility suite (test/matrix/), run once per Prefect version by `npm run test:matrix`
// (scripts/test-matrix.ts) with PREFECT_GITOPS_PREFECT_VERSION set; the global setup starts a real
// server of that version. One file at a time: the suite's steps share one server and build on
// each other within a file.
export default defineConfig({
  test: {
    include: ['test/matrix/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
