import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { include: ['test/unit/zz-tmp-probe.test.ts', 'test/integration/*.test.ts'], pool: 'forks', globalSetup: ['test/global-setup.ts'] } });
