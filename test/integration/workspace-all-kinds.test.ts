// Issue 13's Done-when with every kind in one manifest directory: a work pool, a queue, a global
// concurrency limit, two variables (one sensitive), an automation naming the deployment and the
// pool, and a deployment -> one apply -> a run Completed on a worker of the declared pool; the
// plan is then empty and a second apply sends 0 writes; removing each kind prunes it, and only
// what this owner made (another owner's objects and hand-made ones stay); a pool still named by a
// declared deployment is never deleted.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startPrefectWorker } from '../../scripts/prefect-server.js';
import { renderPlanJson, renderPlanText } from '../../src/render/text.js';
import { api, prefectTarget, uniqueName, waitForFlowRun } from '../helpers/prefect.js';
import { applyProject, makeProject, planProject, readDeployment, type Project } from '../helpers/gitops.js';

async function writeAll(project: Project, deployments: Record<string, unknown>[], docs: Record<string, unknown>[]): Promise<void> {
  await project.write(deployments);
  await mkdir(join(project.dir, 'workspace'), { recursive: true });
  await writeFile(join(project.dir, 'workspace', 'all.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

const exists = async (path: string): Promise<boolean> => {
  try {
    await api('GET', path);
    return true;
  } catch (error) {
    if (error instanceof Error && / -> 404:/.test(error.message)) return false;
    throw error;
  }
};
const automationsNamed = async (name: string): Promise<{ id: string }[]> => api('POST', '/automations/filter', { automations: { name: { any_: [name] } } });

describe('every workspace kind in one manifest directory', () => {
  it('one apply creates them all in dependency order; a run completes on the declared pool; 0 writes after; each kind pruned, owned only; a pool still named is kept', async () => {
    const project = await makeProject('wsall');
    const other = await makeProject('wsall-other');
    const pool = uniqueName('wsall-pool');
    const limit = uniqueName('wsall-limit');
    const variable = uniqueName('wsall_var').replace(/-/g, '_');
    const secret = uniqueName('wsall_token').replace(/-/g, '_');
    const automation = uniqueName('wsall-auto');
    const deployment = { name: 'nightly', work_pool: { name: pool, work_queue_name: 'batch' }, pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: project.dir } }] };
    const docs = {
      pool: { kind: 'work-pool', name: pool, type: 'process', job_variables: { env: { TEAM: 'data' } } },
      queue: { kind: 'work-queue', name: 'batch', pool, priority: 1 },
      limit: { kind: 'global-concurrency-limit', name: limit, limit: 3 },
      variable: { kind: 'variable', name: variable, value: 'eu-west-1', tags: ['region'] },
      secret: { kind: 'variable', name: secret, value: 'do-not-print-me', sensitive: true },
      automation: {
        kind: 'automation',
        name: automation,
        trigger: { posture: 'Proactive', expect: ['acme.heartbeat'], within: 600 },
        actions: [{ type: 'run-deployment', deployment: `${project.flow}/nightly`, parameters: {} }, { type: 'pause-work-pool', work_pool: pool }],
      },
    };
    await writeAll(project, [deployment], Object.values(docs));

    // Another owner's objects and hand-made ones, which this owner's prune must never touch.
    const theirPool = uniqueName('wsall-theirs');
    const theirVariable = uniqueName('wsall_theirs').replace(/-/g, '_');
    await writeAll(other, [], [
      { kind: 'work-pool', name: theirPool, type: 'process' },
      { kind: 'variable', name: theirVariable, value: 1 },
    ]);
    expect((await applyProject(other.dir)).result.ok).toBe(true);
    const handPool = uniqueName('wsall-hand');
    const handLimit = uniqueName('wsall-hand-limit');
    await api('POST', '/work_pools/', { name: handPool, type: 'process' });
    await api('POST', '/v2/concurrency_limits/', { name: handLimit, limit: 1 });

    const first = await applyProject(project.dir);
    expect(first.result.ok).toBe(true);
    // Pools before queues before limits and variables; the deployment; automations after it.
    expect(first.plan.workspace?.actions.map((a) => `${a.action} ${a.kind} ${a.key}`)).toEqual([
      `create work-pool ${pool}`,
      `create work-queue ${pool}/batch`,
      `create global-concurrency-limit ${limit}`,
      `create variable ${secret}`,
      `create variable ${variable}`,
      `create automation ${automation}`,
    ]);
    expect(first.plan.actions.map((a) => `${a.kind} ${a.key}`)).toEqual([`create ${project.flow}/nightly`]);
    // The plan value carries what the apply sends; what is shown never holds the sensitive value.
    expect(renderPlanJson(first.plan)).not.toContain('do-not-print-me');
    expect(renderPlanText(first.plan, { color: false })).not.toContain('do-not-print-me');

    const d = (await readDeployment(project.flow, 'nightly'))!;
    expect(d.work_pool_name).toBe(pool);
    const [made] = await automationsNamed(automation);
    const live = await api<{ actions: { type: string; deployment_id?: string; work_pool_id?: string }[] }>('GET', `/automations/${made!.id}`);
    const poolId = (await api<{ id: string }>('GET', `/work_pools/${pool}`)).id;
    expect(live.actions.map((a) => [a.type, a.deployment_id ?? a.work_pool_id])).toEqual([
      ['run-deployment', d.id],
      ['pause-work-pool', poolId],
    ]);
    expect(await api('GET', `/variables/name/${secret}`)).toMatchObject({ value: 'do-not-print-me' });

    const planned = await planProject(project.dir);
    expect(planned.plan.actions).toEqual([]);
    expect(planned.plan.workspace?.actions).toEqual([]);
    expect(planned.plan.workspace?.unchanged).toHaveLength(6);
    const noop = await applyProject(project.dir);
    expect(noop.writes).toBe(0);

    const worker = await startPrefectWorker(prefectTarget(), { pool });
    try {
      const run = await api<{ id: string }>('POST', `/deployments/${d.id}/create_flow_run`, { parameters: {}, idempotency_key: `wsall-${pool}` });
      expect(await waitForFlowRun(run.id)).toBe('COMPLETED');
    } finally {
      await worker.stop();
    }

    // Remove the queue, the limit, the variables and the automation: each is pruned. The pool stays
    // declared (the deployment runs on it). The deployment moves off the queue in the same apply, so
    // the queue is deleted with the rest (its users are judged as they are after the apply).
    await writeAll(project, [{ ...deployment, work_pool: { name: pool } }], [docs.pool]);
    const pruned = await applyProject(project.dir, { allowMassDelete: true });
    expect(pruned.result.ok).toBe(true);
    expect(pruned.plan.workspace?.actions.map((a) => `${a.action} ${a.kind} ${a.key}`).sort()).toEqual(
      [`delete work-queue ${pool}/batch`, `delete global-concurrency-limit ${limit}`, `delete variable ${variable}`, `delete variable ${secret}`, `delete automation ${automation}`].sort(),
    );
    expect(pruned.plan.workspace?.orphans).toEqual([]);
    expect(await exists(`/work_pools/${pool}/queues/batch`)).toBe(false);
    expect(await exists(`/v2/concurrency_limits/${limit}`)).toBe(false);
    expect(await exists(`/variables/name/${variable}`)).toBe(false);
    expect(await exists(`/variables/name/${secret}`)).toBe(false);
    expect(await automationsNamed(automation)).toEqual([]);

    // The pool's document goes but a declared deployment (new here) still names it: held, not deleted.
    await writeAll(project, [{ ...deployment, work_pool: { name: pool } }, { name: 'newcomer', work_pool: { name: pool } }], []);
    const held = await planProject(project.dir, { allowMassDelete: true });
    expect(held.plan.workspace?.actions).toEqual([]);
    expect(held.plan.workspace?.orphans.map((o) => [o.kind, o.key, o.reason])).toEqual([['work-pool', pool, 'held']]);

    // Remove the deployment and the pool: both deleted, the deployment first.
    await writeAll(project, [], []);
    const all = await applyProject(project.dir, { allowMassDelete: true });
    expect(all.result.ok).toBe(true);
    expect(all.plan.actions.map((a) => `${a.kind} ${a.key}`)).toEqual([`delete ${project.flow}/nightly`]);
    expect(all.plan.workspace?.actions.map((a) => `${a.action} ${a.kind} ${a.key}`)).toEqual([`delete work-pool ${pool}`]);
    expect(await exists(`/work_pools/${pool}`)).toBe(false);
    expect((await planProject(project.dir)).plan.workspace?.actions ?? []).toEqual([]);

    // Never this owner's: left alone.
    expect(await exists(`/work_pools/${theirPool}`)).toBe(true);
    expect(await exists(`/variables/name/${theirVariable}`)).toBe(true);
    expect(await exists(`/work_pools/${handPool}`)).toBe(true);
    expect(await exists(`/v2/concurrency_limits/${handLimit}`)).toBe(true);
  }, 400_000);
});
