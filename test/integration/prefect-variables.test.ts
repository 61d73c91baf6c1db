import { describe, expect, it } from 'vitest';
import { api } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment } from '../helpers/gitops.js';

describe('{{ prefect.variables.NAME }}', () => {
  it('is resolved from the server at plan time, except in pull steps; a missing variable is a clear error', async () => {
    await ensurePool('gitops-it-pool');
    const project = await makeProject('vars');
    const variable = `${project.owner.replace(/-/g, '_')}_region`;
    await api('POST', '/variables/', { name: variable, value: 'apac' });
    await project.write([
      {
        name: 'v',
        work_pool: { name: 'gitops-it-pool' },
        parameters: { label: `{{ prefect.variables.${variable} }}`, n: 3 },
        description: `region {{ prefect.variables.${variable} }}`,
        pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: `{{ prefect.variables.${variable} }}` } }],
      },
    ]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const live = (await readDeployment(project.flow, 'v'))!;
    expect(live.parameters).toEqual({ label: 'apac', n: 3 });
    expect(live.description).toBe('region apac');
    expect(live.pull_steps).toEqual([{ 'prefect.deployments.steps.set_working_directory': { directory: `{{ prefect.variables.${variable} }}` } }]);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);

    await project.write([{ name: 'v', work_pool: { name: 'gitops-it-pool' }, description: '{{ prefect.variables.does_not_exist_anywhere }}' }]);
    await expect(planProject(project.dir)).rejects.toThrow('Prefect variable "does_not_exist_anywhere" does not exist on the server');
  });
});
