import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ensurePool } from '../helpers/gitops.js';
import { api, prefectApiUrl, uniqueName } from '../helpers/prefect.js';

const POOL = 'gitops-it-pool';

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: prefectApiUrl() }, cwd, isTty: false });
  return { code, stdout, stderr };
}

describe('export of deployments made by prefect deploy, through the CLI', () => {
  const warnings: unknown[] = [];
  beforeEach(() => {
    warnings.length = 0;
    vi.spyOn(process, 'emitWarning').mockImplementation((w: unknown) => void warnings.push(w));
    vi.spyOn(console, 'warn').mockImplementation((w: unknown) => void warnings.push(w));
  });
  afterEach(() => vi.restoreAllMocks());

  it('says exactly how to give an owner, converges with description "None", and prints no Node warnings', async () => {
    await ensurePool(POOL);
    const flowName = uniqueName('export-cli-flow');
    const flow = await api<{ id: string }>('POST', '/flows/', { name: flowName });
    // What `prefect deploy` stores for a flow without a docstring, and a templated job variable.
    await api('POST', '/deployments/', {
      name: 'deployed',
      flow_id: flow.id,
      entrypoint: 'flows/deployed.py:deployed',
      work_pool_name: POOL,
      description: 'None',
      job_variables: { env: { RUN_ID: '{{ ctx.flow_run.id }}' } },
      schedules: [{ schedule: { cron: '0 3 * * *' } }],
    });
    const cwd = await mkdtemp(join(tmpdir(), 'gitops-export-cli-'));

    const unowned = await cli(['export', '--flow', flowName, '--adopt', '--out', 'deploy'], cwd);
    expect(unowned.code).toBe(0);
    expect(await stat(join(cwd, 'deploy', 'prefect-gitops.yaml')).catch(() => undefined)).toBeUndefined();
    expect(unowned.stdout).toContain('No prefect-gitops.yaml was written: the exported deployments have no prefect-gitops owner.');
    expect(unowned.stdout).toContain('run export again with --owner <id>, or create deploy/prefect-gitops.yaml containing `owner: <id>`');
    const manifest = await readFile(join(cwd, 'deploy', 'deployments', flowName, 'deployed.yaml'), 'utf8').catch(async () => '');
    expect(manifest === '' || !/description/.test(manifest)).toBe(true);

    const owner = uniqueName('export-cli-owner');
    const owned = await cli(['export', '--flow', flowName, '--adopt', '--out', 'deploy', '--owner', owner], cwd);
    expect(owned.code).toBe(0);
    expect(owned.stdout).toContain(`wrote deploy/prefect-gitops.yaml (owner ${owner})`);
    expect(owned.stdout).toContain('Check with: prefect-gitops plan deploy');

    const planned = await cli(['plan', 'deploy', '--json'], cwd);
    expect(planned.code, planned.stderr + planned.stdout.slice(0, 2000)).toBe(0);
    const plan = JSON.parse(planned.stdout) as { actions: { kind: string }[] };
    expect(plan.actions.map((a) => a.kind)).toEqual(['adopt']);
    const applied = await cli(['apply', 'deploy'], cwd);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const again = await cli(['plan', 'deploy', '--detailed-exitcode'], cwd);
    expect(again.stdout, again.stderr).toContain('No changes.');
    expect(again.code).toBe(0);
    expect(warnings).toEqual([]);
  });
});
