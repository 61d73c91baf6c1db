// Issue 13's Done-when for work pools and queues, through plan and apply: one manifest directory
// with a pool, a queue and a deployment -> one apply -> a run Completed on a worker of the declared
// pool; empty plan; 0-write re-apply; a job variable default changes only the pool; prune deletes
// only what this owner made (another owner's pool, an unowned pool and a pool still in use stay).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startPrefectWorker } from '../../scripts/prefect-server.js';
import { api, prefectTarget, uniqueName, waitForFlowRun } from '../helpers/prefect.js';
import { applyProject, makeProject, planProject, readDeployment, type Project } from '../helpers/gitops.js';

/** Writes the deployments and, in workspace/pools.yaml, the workspace documents. */
async function writeAll(project: Project, deployments: Record<string, unknown>[], docs: Record<string, unknown>[]): Promise<void> {
  await project.write(deployments);
  await mkdir(join(project.dir, 'workspace'), { recursive: true });
  await writeFile(join(project.dir, 'workspace', 'pools.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

async function poolExists(name: string): Promise<boolean> {
  try {
    await api('GET', `/work_pools/${name}`);
    return true;
  } catch (error) {
    if (error instanceof Error && / -> 404:/.test(error.message)) return false;
    throw error;
  }
}

const envDefault = async (pool: string): Promise<unknown> =>
  ((await api<{ base_job_template: { variables: { properties: { env: { default?: unknown } } } } }>('GET', `/work_pools/${pool}`)).base_job_template.variables.properties.env.default);

describe('kind: work-pool and kind: work-queue through plan and apply', () => {
  it('one apply creates the pool, its queue and the deployment; a worker of the declared pool runs it to Completed; then 0 writes; a job variable change updates only the pool', async () => {
    const project = await makeProject('wspool');
    const pool = uniqueName('wspool');
    const docs = (env: Record<string, string>): Record<string, unknown>[] => [
      { kind: 'work-pool', name: pool, type: 'process', description: 'declared in git', job_variables: { env } },
      { kind: 'work-queue', name: 'critical', pool, priority: 1, concurrency_limit: 5 },
    ];
    const deployment = { name: 'run-me', work_pool: { name: pool, work_queue_name: 'critical' }, pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: project.dir } }] };
    await writeAll(project, [deployment], docs({ TEAM: 'data' }));

    const first = await applyProject(project.dir);
    expect(first.result.ok).toBe(true);
    expect(first.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual([`create ${pool}`, `create ${pool}/critical`]);
    expect(first.plan.actions.map((a) => `${a.kind} ${a.key}`)).toEqual([`create ${project.flow}/run-me`]);
    expect(await envDefault(pool)).toEqual({ TEAM: 'data' });
    const queues = await api<{ name: string; priority: number; concurrency_limit: number | null }[]>('POST', `/work_pools/${pool}/queues/filter`, {});
    expect(queues.map((q) => [q.name, q.priority, q.concurrency_limit])).toEqual([
      ['critical', 1, 5],
      ['default', 2, null],
    ]);

    const planned = await planProject(project.dir);
    expect(planned.plan.workspace?.actions).toEqual([]);
    expect(planned.plan.actions).toEqual([]);
    expect(planned.plan.workspace?.unchanged.map((u) => u.key)).toEqual([pool, `${pool}/critical`]);
    const noop = await applyProject(project.dir);
    expect(noop.writes).toBe(0);

    const worker = await startPrefectWorker(prefectTarget(), { pool });
    try {
      const d = (await readDeployment(project.flow, 'run-me'))!;
      const run = await api<{ id: string }>('POST', `/deployments/${d.id}/create_flow_run`, { parameters: { n: 2 }, idempotency_key: `wspool-${pool}` });
      expect(await waitForFlowRun(run.id)).toBe('COMPLETED');
    } finally {
      await worker.stop();
    }

    await writeAll(project, [deployment], docs({ TEAM: 'platform' }));
    const changed = await applyProject(project.dir);
    expect(changed.plan.actions).toEqual([]);
    expect(changed.plan.workspace?.actions.map((a) => [a.action, a.key, a.changes])).toEqual([['update', pool, [{ field: 'job_variables.env', before: { TEAM: 'data' }, after: { TEAM: 'platform' } }]]]);
    expect(changed.plan.workspace?.actions[0]?.notes).toEqual(['used by 1 deployment']);
    expect(changed.writes).toBe(1);
    expect(await envDefault(pool)).toEqual({ TEAM: 'platform' });
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
  }, 400_000);

  it('prune deletes the owned queue and pool; another owner\'s pool, an unowned pool and a pool still in use are left alone', async () => {
    const ours = await makeProject('wsprune');
    const theirs = await makeProject('wsother');
    const pool = uniqueName('wsp-ours');
    const busy = uniqueName('wsp-busy');
    const other = uniqueName('wsp-theirs');
    const unowned = uniqueName('wsp-hand');
    await api('POST', '/work_pools/', { name: unowned, type: 'process' });
    await writeAll(theirs, [], [{ kind: 'work-pool', name: other, type: 'process' }]);
    expect((await applyProject(theirs.dir)).result.ok).toBe(true);
    const all = [
      { kind: 'work-pool', name: pool, type: 'process' },
      { kind: 'work-queue', name: 'extra', pool },
      { kind: 'work-queue', name: 'default', pool, description: 'ours' },
      { kind: 'work-pool', name: busy, type: 'process' },
    ];
    await writeAll(ours, [{ name: 'on-pool', work_pool: { name: pool } }], all);
    const first = await applyProject(ours.dir);
    expect(first.result.ok).toBe(true);
    expect(first.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`).sort()).toEqual([`create ${busy}`, `create ${pool}`, `create ${pool}/default`, `create ${pool}/extra`].sort());
    // A deployment made by hand on `busy`: removing `busy` from the manifests must not delete it.
    const flow = await api<{ id: string }>('POST', '/flows/', { name: uniqueName('wsp-hand-flow') });
    await api('POST', '/deployments/', { name: 'by-hand', flow_id: flow.id, work_pool_name: busy, entrypoint: 'x.py:f' });

    // The queue goes: deleted. The default queue stays declared.
    await writeAll(ours, [{ name: 'on-pool', work_pool: { name: pool } }], all.filter((d) => d.name !== 'extra'));
    const queueGone = await applyProject(ours.dir);
    expect(queueGone.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual([`delete ${pool}/extra`]);
    expect((await api<{ name: string }[]>('POST', `/work_pools/${pool}/queues/filter`, {})).map((q) => q.name)).toEqual(['default']);

    // Everything goes: the deployment and `pool` (with its default queue) are deleted; `busy` is held back.
    await writeAll(ours, [], []);
    const pruned = await applyProject(ours.dir, { allowMassDelete: true });
    expect(pruned.result.ok).toBe(true);
    expect(pruned.plan.actions.map((a) => `${a.kind} ${a.key}`)).toEqual([`delete ${ours.flow}/on-pool`]);
    expect(pruned.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual([`delete ${pool}`]);
    expect(pruned.plan.workspace?.orphans).toEqual([
      { kind: 'work-pool', key: busy, id: expect.any(String), reason: 'held', notes: [expect.stringMatching(/^not deleted: still used by 1 deployment after this plan \(wsp-hand-flow-[0-9a-f]+\/by-hand\); move or delete them first$/)] },
    ]);
    expect(await poolExists(pool)).toBe(false);
    expect(await poolExists(busy)).toBe(true);
    expect(await poolExists(other)).toBe(true);
    expect(await poolExists(unowned)).toBe(true);
  }, 200_000);

  it('a queue naming a pool that is neither declared nor on the server: an error at its `pool` line, nothing written', async () => {
    const project = await makeProject('wsqerr');
    const missing = uniqueName('nowhere');
    await writeAll(project, [], [{ kind: 'work-queue', name: 'q', pool: missing }]);
    await expect(planProject(project.dir)).rejects.toMatchObject({
      issues: [expect.objectContaining({ file: expect.stringMatching(/workspace\/pools\.yaml$/), line: 3, column: 7, message: expect.stringContaining(`work pool "${missing}" of work queue "q" is neither declared (kind: work-pool) nor on the server`) })],
    });
  });
});
