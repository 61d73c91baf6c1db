import { describe, expect, it } from 'vitest';
import { api } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, readDeployment } from '../helpers/gitops.js';

const POOL = 'gitops-it-pool';

async function scheduledRunIds(deploymentId: string): Promise<string[]> {
  const runs = await api<{ id: string }[]>('POST', '/flow_runs/filter', {
    flow_runs: { deployment_id: { any_: [deploymentId] }, state: { type: { any_: ['SCHEDULED'] } } },
    limit: 200,
  });
  return runs.map((r) => r.id).sort();
}

async function waitForRuns(deploymentId: string): Promise<string[]> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ids = await scheduledRunIds(deploymentId);
    if (ids.length > 0) return ids;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`no scheduled runs appeared for deployment ${deploymentId}`);
}

describe('with the scheduler running', () => {
  it('changing deployment A leaves the future scheduled runs of unchanged B untouched', async () => {
    await ensurePool(POOL);
    const project = await makeProject('sched');
    const deployment = (name: string, description: string): Record<string, unknown> => ({
      name,
      description,
      work_pool: { name: POOL },
      schedules: [{ interval: 3600, slug: 'hourly', anchor_date: '2024-01-01T00:00:00Z' }],
    });
    await project.write([deployment('a', 'first'), deployment('b', 'first')]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const a = (await readDeployment(project.flow, 'a'))!;
    const b = (await readDeployment(project.flow, 'b'))!;
    const runsA = await waitForRuns(a.id);
    const runsB = await waitForRuns(b.id);

    await project.write([deployment('a', 'second'), deployment('b', 'first')]);
    const applied = await applyProject(project.dir);
    expect(applied.plan.actions.map((x) => x.name)).toEqual(['a']);
    expect(applied.result.ok).toBe(true);

    // Prefect deleted A's auto-scheduled runs (that is what any update does) ...
    const afterA = await scheduledRunIds(a.id);
    expect(afterA.filter((id) => runsA.includes(id))).toEqual([]);
    // ... but B was not written to, so its runs are exactly the ones it had.
    expect(await scheduledRunIds(b.id)).toEqual(runsB);
    expect((await readDeployment(project.flow, 'b'))!.updated).toBe(b.updated);
  });
});
