import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { prefectApiUrl } from '../helpers/prefect.js';

async function plan(apiUrl: string): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await main(['plan', 'examples'], { stdout: () => {}, stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: apiUrl, EXAMPLES_DIR: '/x' }, cwd: process.cwd(), isTty: false });
  return { code, stderr };
}

describe('connecting to the real server', () => {
  it('a URL without /api says so and names the URL to try', async () => {
    const withoutApi = prefectApiUrl().replace(/\/api$/, '');
    const run = await plan(withoutApi);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`does not answer as a Prefect API`);
    expect(run.stderr).toContain(`hint: the API URL usually ends in /api: try ${withoutApi}/api`);
  });
});
