// A deployment deleted outside prefect-gitops leaves its automations behind (Prefect keeps them):
// drift names them, prune removes ours (only ours), and re-creating the deployment leaves one.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { api, prefectApiUrl } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment } from '../helpers/gitops.js';

const POOL = 'gitops-it-pool';

interface Automation {
  id: string;
  name: string;
  tags: string[];
  actions: { type: string; deployment_id?: string }[];
}

const automationsTagged = (tag: string): Promise<Automation[]> => api<Automation[]>('POST', '/automations/filter', { automations: { tags: { all_: [tag] } } });
const trigger = { enabled: true, match: { 'prefect.resource.id': 'acme.upstream.*' }, expect: ['acme.file.landed'] };

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: prefectApiUrl() }, cwd: process.cwd(), isTty: false });
  return { code, stdout, stderr };
}

beforeAll(() => ensurePool(POOL));

describe('automations of a deployment deleted outside prefect-gitops', () => {
  it('drift reports the orphaned automation; re-creating the deployment leaves exactly one automation', async () => {
    const project = await makeProject('orphan-auto');
    await project.write([{ name: 'reactive', work_pool: { name: POOL }, triggers: [trigger] }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const gone = (await readDeployment(project.flow, 'reactive'))!;
    await api('DELETE', `/deployments/${gone.id}`);

    const drift = await cli(['drift', project.dir]);
    expect(drift.code).toBe(2);
    expect(drift.stdout).toContain(`- automation "reactive__automation_1" is orphaned: an automation of ${project.owner} whose deployment ${gone.id} was deleted outside prefect-gitops`);
    expect(drift.stdout).toContain(`+ ${project.flow}/reactive is missing`);

    // Without prune: the deployment is still declared, so it is created again, with its automation once.
    const recreated = await applyProject(project.dir, { prune: false });
    expect(recreated.plan.actions.map((a) => `${a.kind}:${a.key}`)).toEqual([`create:${project.flow}/reactive`, 'delete:automation "reactive__automation_1"']);
    expect(recreated.result.ok).toBe(true);
    const now = (await readDeployment(project.flow, 'reactive'))!;
    const automations = await automationsTagged(`prefect-gitops:${project.owner}`);
    expect(automations.map((a) => [a.name, a.actions[0]?.deployment_id])).toEqual([['reactive__automation_1', now.id]]);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });

  it('apply --prune removes ours and only ours; without prune they stay, with a warning', async () => {
    const project = await makeProject('orphan-prune');
    await project.write([
      { name: 'keep', work_pool: { name: POOL } },
      { name: 'dropped', work_pool: { name: POOL }, triggers: [trigger, { ...trigger, name: 'second' }] },
    ]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const gone = (await readDeployment(project.flow, 'dropped'))!;
    // Someone else's automation for a deployment that no longer exists: never ours to delete.
    const foreign = await api<Automation>('POST', '/automations/', {
      name: `foreign-${randomUUID().slice(0, 8)}`,
      tags: ['someone-else'],
      trigger: { type: 'event', posture: 'Reactive', expect: ['acme.x'], match: {} },
      actions: [{ type: 'run-deployment', source: 'selected', deployment_id: gone.id, parameters: null, job_variables: null }],
    });
    await api('DELETE', `/deployments/${gone.id}`);
    await project.write([{ name: 'keep', work_pool: { name: POOL } }]);

    const kept = await applyProject(project.dir, { prune: false });
    expect(kept.plan.actions).toEqual([]);
    expect(kept.plan.warnings).toEqual(
      expect.arrayContaining([expect.stringContaining('automation "dropped__automation_1"'), expect.stringContaining('automation "second"')]),
    );
    expect(await automationsTagged(`prefect-gitops:${project.owner}`)).toHaveLength(2);

    const pruned = await applyProject(project.dir, { prune: true });
    expect(pruned.plan.actions.map((a) => `${a.kind}:${a.key}`)).toEqual(['delete:automation "dropped__automation_1"', 'delete:automation "second"']);
    expect(pruned.result.ok).toBe(true);
    expect(await automationsTagged(`prefect-gitops:${project.owner}`)).toEqual([]);
    expect((await automationsTagged('someone-else')).map((a) => a.id)).toContain(foreign.id);
    expect((await planProject(project.dir, { prune: true })).plan.actions).toEqual([]);
    await api('DELETE', `/automations/${foreign.id}`);
  });
});
