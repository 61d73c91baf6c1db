// The CLI's text plan states what the pull request comment states, and apply shows what plan shows.
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { api, prefectApiUrl } from '../helpers/prefect.js';
import { ensurePool, makeProject, readDeployment } from '../helpers/gitops.js';

const POOL = 'gitops-it-pool';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { PREFECT_API_URL: prefectApiUrl(), ...env },
    cwd: process.cwd(),
    isTty: false,
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  await ensurePool(POOL);
});

describe('the text plan has the facts of the PR comment', () => {
  it('schedule previews and "updating X deletes its N future scheduled runs"', async () => {
    const project = await makeProject('facts');
    await project.write([{ name: 'daily', work_pool: { name: POOL }, schedules: [{ cron: '0 6 * * *', timezone: 'Europe/Berlin', slug: 'morning', active: false }] }]);
    expect((await cli(['apply', project.dir])).code).toBe(0);
    const deployment = (await readDeployment(project.flow, 'daily'))!;
    // Two runs scheduled in the future (the schedule itself is inactive, so only these exist).
    for (const days of [2, 3]) {
      const at = new Date(Date.now() + days * 86_400_000).toISOString();
      await api('POST', `/deployments/${deployment.id}/create_flow_run`, { state: { type: 'SCHEDULED', name: 'Scheduled', state_details: { scheduled_time: at } } });
    }
    await project.write([{ name: 'daily', description: 'now described', work_pool: { name: POOL }, schedules: [{ cron: '0 7 * * *', timezone: 'Europe/Berlin', slug: 'morning' }] }]);
    const run = await cli(['plan', project.dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`~ ${project.flow}/daily (${project.dir}/deployments/daily.yaml:1) will be updated in place (2 scheduled runs now)`);
    expect(run.stdout).toContain('    schedule morning:\n      next runs before: inactive\n      next runs after: ');
    expect(run.stdout).toMatch(/next runs after: \w{3} \d{4}-\d{2}-\d{2} 07:00 CES?T, /);
    expect(run.stdout).toContain('      runs in the next 7 days: 0 -> 7\n');
    expect(run.stdout).toContain(`Warning: updating ${project.flow}/daily deletes its 2 future scheduled runs; Prefect's scheduler recreates them\n`);
  });
});

describe('apply prints the validation warnings that plan prints', () => {
  it('a deployment without a work pool', async () => {
    const project = await makeProject('warn');
    await project.write([{ name: 'poolless' }]);
    const planned = await cli(['plan', project.dir]);
    const warning = /deployments\/poolless\.yaml:\d+:\d+: warning: deployment "poolless" has no work pool[^\n]*\n/;
    expect(planned.stderr).toMatch(warning);
    const applied = await cli(['apply', project.dir]);
    expect(applied.code).toBe(0);
    expect(applied.stderr).toMatch(warning);
    expect(applied.stderr.match(warning)?.[0]).toBe(planned.stderr.match(warning)?.[0]);
  });
});
