// Faults between us and the REAL server, injected by a proxy in front of it: responses lost after
// the server acted, gateway errors on reads, resets. The checks read the server directly.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api, prefectApiUrl } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment } from '../helpers/gitops.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';

const POOL = 'gitops-it-pool';
let proxy: FaultProxy;

beforeAll(async () => {
  proxy = await startFaultProxy(prefectApiUrl());
  await ensurePool(POOL);
});
afterAll(() => proxy.close());
beforeEach(() => proxy.reset());

interface Automation {
  id: string;
  name: string;
}
const automationsOf = (deploymentId: string): Promise<Automation[]> => api<Automation[]>('GET', `/automations/related-to/prefect.deployment.${deploymentId}`);

const trigger = { enabled: true, match: { 'prefect.resource.id': 'acme.upstream.*' }, expect: ['acme.file.landed'] };

describe('a response lost after the server acted does not double the write', () => {
  it.each([
    ['a 502', { kind: 'status-after', status: 502 }],
    ['a reset', { kind: 'reset-after' }],
  ] as const)('automations: %s after POST /automations/ leaves exactly one, and the apply succeeds', async (_title, fault) => {
    const project = await makeProject('fault-auto');
    await project.write([{ name: 'reactive', work_pool: { name: POOL }, triggers: [trigger] }]);
    proxy.addRule({ method: 'POST', path: '/automations/', fault });
    const run = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(run.result.results.map((r) => r.message ?? r.status)).toEqual(['ok']);
    expect(proxy.requests.filter((r) => r.fault)).toHaveLength(1);
    const deployment = (await readDeployment(project.flow, 'reactive'))!;
    expect((await automationsOf(deployment.id)).map((a) => a.name)).toEqual(['reactive__automation_1']);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });

  it.each([
    ['a 502', { kind: 'status-after', status: 502 }],
    ['a reset', { kind: 'reset-after' }],
    ['a 504', { kind: 'status-after', status: 504 }],
  ] as const)('schedules: %s after POST /deployments/{id}/schedules leaves exactly one per slug, and the apply succeeds', async (_title, fault) => {
    const project = await makeProject('fault-sched');
    await project.write([{ name: 'hourly', work_pool: { name: POOL }, schedules: [{ cron: '0 * * * *', slug: 'hourly' }, { interval: 600, slug: 'ten-minutes' }] }]);
    proxy.addRule({ method: 'POST', path: /^\/deployments\/[^/]+\/schedules$/, fault });
    const run = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(run.result.results.map((r) => r.message ?? r.status)).toEqual(['ok']);
    expect(proxy.requests.filter((r) => r.fault)).toHaveLength(1);
    const deployment = (await readDeployment(project.flow, 'hourly'))!;
    expect(deployment.schedules.map((s) => s.slug).sort()).toEqual(['hourly', 'ten-minutes']);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });

  it('a DELETE of a schedule whose answer was lost is retried, and its 404 counts as done', async () => {
    const project = await makeProject('fault-del');
    await project.write([{ name: 'd', work_pool: { name: POOL }, schedules: [{ cron: '0 * * * *', slug: 'a' }, { cron: '0 1 * * *', slug: 'b' }] }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    await project.write([{ name: 'd', work_pool: { name: POOL }, schedules: [{ cron: '0 * * * *', slug: 'a' }] }]);
    proxy.addRule({ method: 'DELETE', path: /\/schedules\//, fault: { kind: 'reset-after' } });
    const run = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(run.result.results.map((r) => r.message ?? r.status)).toEqual(['ok']);
    expect(proxy.requests.filter((r) => r.method === 'DELETE').map((r) => [r.fault ?? null, r.upstreamStatus])).toEqual([
      ['reset-after', 204],
      [null, 404],
    ]);
    expect((await readDeployment(project.flow, 'd'))!.schedules.map((s) => s.slug)).toEqual(['a']);
  });
});

describe('gateway errors on reads are retried', () => {
  it.each([504, 500] as const)('a %i on POST /deployments/filter: the plan succeeds', async (status) => {
    const project = await makeProject('fault-read');
    await project.write([{ name: 'd', work_pool: { name: POOL } }]);
    proxy.addRule({ method: 'POST', path: '/deployments/filter', fault: { kind: 'status-before', status } });
    const { plan } = await planProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(plan.actions.map((a) => `${a.kind} ${a.key}`)).toEqual([`create ${project.flow}/d`]);
    expect(proxy.requests.filter((r) => r.path.startsWith('/deployments/filter')).map((r) => r.fault ?? 'ok')).toEqual([`status-before:${status}`, 'ok', 'ok']);
  });
});
