// On every Prefect version: a schedule create whose answer is lost after the server acted leaves
// exactly the declared schedules. Before 3.2 schedules have no slugs, so the client tells its own
// by the ids that were there before it sent (src/prefect/client.ts createSchedules).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { prefectApiUrl } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment, scheduleText } from '../helpers/gitops.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';

const POOL = 'gitops-matrix-faults';
let proxy: FaultProxy;

beforeAll(async () => {
  proxy = await startFaultProxy(prefectApiUrl());
  await ensurePool(POOL);
});
afterAll(() => proxy.close());

it('a reset after POST /deployments/{id}/schedules leaves exactly the declared schedules, and the next plan is empty', async () => {
  const project = await makeProject('matrix-lost');
  await project.write([{ name: 'hourly', work_pool: { name: POOL }, schedules: [{ cron: '0 * * * *' }] }]);
  expect((await applyProject(project.dir)).result.ok).toBe(true);
  await project.write([{ name: 'hourly', work_pool: { name: POOL }, schedules: [{ cron: '0 * * * *' }, { interval: 600 }] }]);
  proxy.addRule({ method: 'POST', path: /^\/deployments\/[^/]+\/schedules\/?$/, fault: { kind: 'reset-after' }, onlyWhenServerActed: true });
  const run = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
  expect(run.result.results.map((r) => r.message ?? r.status)).toEqual(['ok']);
  expect(proxy.requests.filter((r) => r.fault)).toHaveLength(1);
  const deployment = (await readDeployment(project.flow, 'hourly'))!;
  expect(deployment.schedules.map(scheduleText).sort()).toEqual(['cron 0 * * * *', 'interval 600']);
  expect((await planProject(project.dir)).plan.actions).toEqual([]);
});
