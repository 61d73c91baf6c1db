// Issue 11, "Prefect 2 deployment.yaml files": the five files a real Prefect 2.20 `prefect
// deployment build` wrote (test/fixtures/prefect2-deployment-yaml, kept honest by
// prefect2-fixtures.test.ts) are converted, applied to the pinned 3.x server, plan empty after,
// and the process one runs to Completed on a real process worker.
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { BUILD_DIR, syncFlows } from '../../scripts/build-prefect2-fixtures.js';
import { startPrefectWorker } from '../../scripts/prefect-server.js';
import { api, prefectApiUrl, prefectTarget, uniqueName, waitForFlowRun } from '../helpers/prefect.js';
import { applyProject, ensurePool, planProject, readDeployment } from '../helpers/gitops.js';

const fixtures = resolve('test/fixtures/prefect2-deployment-yaml/project');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: prefectApiUrl() }, cwd: process.cwd(), isTty: false });
  return { code, stdout, stderr };
}

describe('Prefect 2 deployment.yaml files built by Prefect 2.20, converted and applied to 3.x', () => {
  const owner = uniqueName('prefect2');
  const processPool = uniqueName('p2-process');
  const dockerPool = uniqueName('p2-docker');
  let out: string;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'gitops-prefect2-'));
    await ensurePool(processPool, 'process');
    await ensurePool(dockerPool, 'docker');
    // The pool the `-p pool` fixture names: Prefect 2 and 3 both need it to exist.
    await ensurePool('legacy-workers', 'process');
    // The fixtures' `path` is where they were built; the worker runs the flow from there, as a
    // Prefect 2 agent on that machine did.
    await syncFlows();
  });

  it('plan and validate recognise a deployment.yaml and say how to convert it', async () => {
    const run = await cli(['validate', fixtures]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/greet-cron-deployment\.yaml:4:1: error: this is a Prefect 2 deployment\.yaml \(written by `prefect deployment build`\).*prefect-gitops convert/);
    // One message per file, not a schema error per Prefect 2 key.
    expect(run.stdout).not.toMatch(/infra_overrides|unknown key/);
    const plan = await cli(['plan', fixtures, '--owner', owner]);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/tidy-docker-deployment\.yaml:4:1: error: this is a Prefect 2 deployment\.yaml/);
  });

  it('converts the five files, applies them, plans empty after, and the process deployment runs to Completed', async () => {
    const converted = await cli(['convert', fixtures, '--out', out, '--owner', owner, '--work-pool', `process=${processPool}`, '--work-pool', `docker=${dockerPool}`]);
    expect(converted.stderr).toContain("image prefecthq/prefect:2.20.27-python3.11 is Prefect 2's default image");
    expect(converted.code).toBe(0);
    expect(converted.stdout).toContain('Converted 5 deployments from 5 files.');
    expect(converted.stdout).toContain(`prefect work-pool create ${dockerPool} --type docker`);
    const files = (await readdir(join(out, 'deployments'))).sort();
    expect(files).toEqual(['greet-hourly-process.yaml', 'greet-in-a-pool.yaml', 'greet-weekday-morning.yaml', 'tidy-up-docker-rrule.yaml', 'tidy-up-manual.yaml']);
    expect(parse(await readFile(join(out, 'prefect-gitops.yaml'), 'utf8'))).toMatchObject({ owner });

    const first = await applyProject(out);
    expect(first.plan.summary).toMatchObject({ add: 5, change: 0, delete: 0, conflicts: 0 });
    expect(first.result.results.filter((r) => r.status !== 'ok')).toEqual([]);

    const again = await planProject(out);
    expect(again.plan.actions).toEqual([]);
    expect(again.plan.summary.unchanged).toBe(5);
    expect(again.writes).toBe(0);

    // What Prefect 2 would have run: the fields that matter, as the 3.x server holds them.
    const cron = (await readDeployment('greet', 'weekday-morning'))!;
    expect(cron).toMatchObject({ parameters: { name: 'team', times: 2 }, work_pool_name: processPool, work_queue_name: 'reports', enforce_parameter_schema: false });
    expect(cron.schedules).toMatchObject([{ schedule: { cron: '0 6 * * 1-5', timezone: 'Europe/Berlin' }, active: true }]);
    const docker = (await readDeployment('tidy-up', 'docker-rrule'))!;
    expect(docker).toMatchObject({ work_pool_name: dockerPool, job_variables: { image_pull_policy: 'IF_NOT_PRESENT', env: { TIDY: '1' } } });
    expect((docker.schedules[0] as unknown as { schedule: { rrule: string; timezone: string } }).schedule).toMatchObject({ timezone: 'America/New_York' });
    const pooled = (await readDeployment('greet', 'in-a-pool'))!;
    expect(pooled).toMatchObject({ work_pool_name: 'legacy-workers', work_queue_name: 'critical', job_variables: { env: { GREETING: 'pool' } } });
    expect((await readDeployment('tidy-up', 'manual'))!.schedules).toEqual([]);

    const processDeployment = (await readDeployment('greet', 'hourly-process'))!;
    expect(processDeployment).toMatchObject({ job_variables: { env: { GREETING: 'hi', LOG_STYLE: 'plain' }, stream_output: false }, pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: BUILD_DIR } }] });
    const worker = await startPrefectWorker(prefectTarget(), { pool: processPool });
    try {
      const run = await api<{ id: string }>('POST', `/deployments/${processDeployment.id}/create_flow_run`, {});
      expect(await waitForFlowRun(run.id)).toBe('COMPLETED');
    } finally {
      await worker.stop();
    }
  });
});
