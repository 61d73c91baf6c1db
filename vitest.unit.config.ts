import { defineConfig } from 'vitest/config';

// Unit tier only: no global setup, so it runs without a Prefect server.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
  },
});
