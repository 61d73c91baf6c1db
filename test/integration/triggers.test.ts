import { describe, expect, it } from 'vitest';
import { api } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment } from '../helpers/gitops.js';

const POOL = 'gitops-it-pool';

interface Automation {
  id: string;
  name: string;
  enabled: boolean;
  tags: string[];
  trigger: { type: string; expect: string[] };
  actions: { type: string; deployment_id: string; parameters: Record<string, unknown> | null }[];
}

const owned = (deploymentId: string): Promise<Automation[]> => api<Automation[]>('GET', `/automations/related-to/prefect.deployment.${deploymentId}`);

describe('triggers become automations owned by the deployment', () => {
  it('creates, leaves alone, replaces and removes them; the deployment itself is not written', async () => {
    await ensurePool(POOL);
    const project = await makeProject('triggers');
    const trigger = (expectEvent: string, label: string): Record<string, unknown> => ({
      enabled: true,
      match: { 'prefect.resource.id': 'acme.upstream.*' },
      expect: [expectEvent],
      parameters: { label },
    });
    await project.write([{ name: 'reactive', work_pool: { name: POOL }, triggers: [trigger('acme.file.landed', 'first')] }]);
    const created = await applyProject(project.dir);
    expect(created.result.ok).toBe(true);
    const deployment = (await readDeployment(project.flow, 'reactive'))!;
    const first = await owned(deployment.id);
    expect(first).toHaveLength(1);
    expect(first[0]!.name).toBe('reactive__automation_1');
    expect(first[0]!.trigger.expect).toEqual(['acme.file.landed']);
    expect(first[0]!.actions[0]).toMatchObject({ type: 'run-deployment', deployment_id: deployment.id, parameters: { label: 'first' } });
    expect(first[0]!.tags).toContain(`prefect-gitops:${project.owner}`);

    const noop = await applyProject(project.dir);
    expect(noop.plan.actions).toEqual([]);
    expect(noop.writes).toBe(0);

    await project.write([{ name: 'reactive', work_pool: { name: POOL }, triggers: [trigger('acme.file.landed', 'second'), { ...trigger('acme.file.late', 'late'), name: 'late-file', enabled: false }] }]);
    const changed = await applyProject(project.dir);
    const action = changed.plan.actions[0]!;
    expect(action.kind === 'update' && action.changes.map((c) => c.field)).toEqual(['triggers']);
    expect(action.kind === 'update' && action.patch).toEqual({});
    expect(changed.result.ok).toBe(true);
    expect((await readDeployment(project.flow, 'reactive'))!.updated).toBe(deployment.updated);
    const second = await owned(deployment.id);
    expect(second.map((a) => [a.name, a.enabled]).sort()).toEqual([['late-file', false], ['reactive__automation_1', true]]);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);

    await project.write([{ name: 'reactive', work_pool: { name: POOL } }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    expect(await owned(deployment.id)).toEqual([]);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });

  it('pruning a deployment deletes its automations first', async () => {
    const project = await makeProject('trigger-prune');
    const spec = { match: { 'prefect.resource.id': 'acme.*' }, expect: ['acme.ping'] };
    await project.write([{ name: 'keep', work_pool: { name: POOL } }, { name: 'k2', work_pool: { name: POOL } }, { name: 'gone', work_pool: { name: POOL }, triggers: [spec] }]);
    await applyProject(project.dir);
    const gone = (await readDeployment(project.flow, 'gone'))!;
    expect(await owned(gone.id)).toHaveLength(1);
    await project.write([{ name: 'keep', work_pool: { name: POOL } }, { name: 'k2', work_pool: { name: POOL } }]);
    const pruned = await applyProject(project.dir);
    expect(pruned.plan.actions.map((a) => `${a.kind} ${a.name}`)).toEqual(['delete gone']);
    expect(await owned(gone.id)).toEqual([]);
  });
});
