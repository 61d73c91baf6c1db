// Faults between us and the REAL server, injected by a proxy in front of it: responses lost after
// the server acted, gateway errors on reads, resets. The checks read the server directly.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api, prefectApiUrl } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment, scheduleText } from '../helpers/gitops.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { main } from '../../src/cli/main.js';
import { lockName } from '../../src/apply/lock.js';
import { PrefectClient } from '../../src/prefect/client.js';

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
    // A create carries its schedules in POST /deployments/ (Prefect >= 3.2): adding a schedule to
    // an existing deployment is what sends POST /deployments/{id}/schedules.
    await project.write([{ name: 'hourly', work_pool: { name: POOL }, schedules: [{ cron: '0 * * * *', slug: 'hourly' }] }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    await project.write([{ name: 'hourly', work_pool: { name: POOL }, schedules: [{ cron: '0 * * * *', slug: 'hourly' }, { interval: 600, slug: 'ten-minutes' }] }]);
    proxy.addRule({ method: 'POST', path: /^\/deployments\/[^/]+\/schedules$/, fault });
    const run = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(run.result.results.map((r) => r.message ?? r.status)).toEqual(['ok']);
    expect(proxy.requests.filter((r) => r.fault)).toHaveLength(1);
    const deployment = (await readDeployment(project.flow, 'hourly'))!;
    // By content: servers before 3.2 keep no slugs (there the client finds its schedules by id).
    expect(deployment.schedules.map(scheduleText).sort()).toEqual(['cron 0 * * * *', 'interval 600']);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });

  it('a DELETE of a schedule whose answer was lost is retried, and its 404 counts as done', async () => {
    const project = await makeProject('fault-del');
    await project.write([{ name: 'd', work_pool: { name: POOL }, schedules: [{ cron: '0 * * * *', slug: 'a' }, { cron: '0 1 * * *', slug: 'b' }] }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    await project.write([{ name: 'd', work_pool: { name: POOL }, schedules: [{ cron: '0 * * * *', slug: 'a' }] }]);
    proxy.addRule({ method: 'DELETE', path: /\/schedules\//, fault: { kind: 'reset-after' }, onlyWhenServerActed: true });
    const run = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(run.result.results.map((r) => r.message ?? r.status)).toEqual(['ok']);
    // (A 503 from a busy SQLite, retried by the client, is not what this is about.)
    expect(proxy.requests.filter((r) => r.method === 'DELETE' && r.path.includes('/schedules/') && r.upstreamStatus !== 503).map((r) => [r.fault ?? null, r.upstreamStatus])).toEqual([
      ['reset-after', 204],
      [null, 404],
    ]);
    expect((await readDeployment(project.flow, 'd'))!.schedules.map(scheduleText)).toEqual(['cron 0 * * * *']);
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

describe('a hanging server', () => {
  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: proxy.apiUrl }, cwd: process.cwd(), isTty: false });
    return { code, stdout, stderr };
  };

  it('--timeout bounds the whole run and says so', async () => {
    const project = await makeProject('fault-hang');
    await project.write([{ name: 'd', work_pool: { name: POOL } }]);
    proxy.addRule({ path: '/deployments/filter', times: 100, fault: { kind: 'hang-before' } });
    const run = await cli(['plan', project.dir, '--timeout', '2s']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: gave up: the total time limit of 2 s was reached (--timeout, or the timeout input of the Action); later requests were not sent (POST /deployments/filter)\n');
  });

  it('an apply cut short by --timeout still releases its apply lock (the next run does not wait for its TTL)', async () => {
    const project = await makeProject('fault-hang-lock');
    await project.write([{ name: 'd', work_pool: { name: POOL } }]);
    // The lock and the name claims are taken; the create then hangs past the time limit.
    proxy.addRule({ method: 'POST', path: '/deployments/', times: 100, fault: { kind: 'hang-before' } });
    const run = await cli(['apply', project.dir, '--timeout', '3s']);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout + run.stderr).toContain('gave up: the total time limit of 3 s was reached');
    const client = await PrefectClient.connect({ apiUrl: prefectApiUrl() });
    expect(await client.readVariableRecord(lockName(project.owner))).toBeUndefined();
    // The lock and the claim set, each removed once, after the time limit.
    expect(proxy.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/variables/'))).toHaveLength(2);
    expect(await readDeployment(project.flow, 'd')).toBeUndefined();
  });

  it('--request-timeout bounds one request: a hung one is tried twice, then reported without blaming PREFECT_API_URL', async () => {
    const project = await makeProject('fault-hang');
    await project.write([{ name: 'd', work_pool: { name: POOL } }]);
    proxy.addRule({ path: '/deployments/filter', times: 100, fault: { kind: 'hang-before' } });
    const run = await cli(['plan', project.dir, '--request-timeout', '500ms']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`error: the Prefect API at ${new URL(proxy.apiUrl).origin} did not answer within 500 ms (after 1 retries) (POST /deployments/filter)\n`);
    expect(proxy.requests.filter((r) => r.path.startsWith('/deployments/filter'))).toHaveLength(2);
  });

  it('rejects a duration it cannot read as a usage error', async () => {
    const run = await cli(['plan', '.', '--timeout', 'soon']);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain(`option '--timeout <duration>' argument 'soon' is invalid. expected a duration such as 90s, 5m or 500ms, got "soon"`);
  });
});
