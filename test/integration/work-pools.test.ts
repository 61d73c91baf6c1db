// plan checks that the work pools (and named work queues) the manifests name exist.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { api, prefectApiUrl, uniqueName } from '../helpers/prefect.js';
import { ensurePool, makeProject } from '../helpers/gitops.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';

const POOL = 'gitops-it-pool';
let proxy: FaultProxy;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: proxy.apiUrl }, cwd: process.cwd(), isTty: false });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  await ensurePool(POOL);
  proxy = await startFaultProxy(prefectApiUrl());
});
afterAll(async () => {
  await proxy.close();
});

describe('work pools and queues are checked against the server', () => {
  it('a missing pool is an error at work_pool.name, a missing named queue a warning at work_queue_name; one read each', async () => {
    const project = await makeProject('pools');
    const missing = uniqueName('no-such-pool');
    const queue = uniqueName('no-such-queue');
    await api('POST', `/work_pools/${POOL}/queues`, { name: 'gitops-it-queue' }).catch(() => undefined);
    await project.write([
      { name: 'a', work_pool: { name: missing } },
      { name: 'b', work_pool: { name: missing } },
      { name: 'c', work_pool: { name: POOL, work_queue_name: queue } },
      { name: 'd', work_pool: { name: POOL, work_queue_name: 'gitops-it-queue' } },
      { name: 'e', work_pool: { name: POOL } },
    ]);
    proxy.reset();
    const run = await cli(['plan', project.dir]);
    expect(run.code).toBe(1);
    // Each manifest is `entrypoint`, `name`, then `work_pool:` with `name` on line 4, column 9.
    expect(run.stderr).toContain(`${project.dir}/deployments/a.yaml:4:9: error: work pool "${missing}" does not exist on the Prefect server; create it first, or pass --allow-missing-pools (Action input allow-missing-pools) if it is created in the same rollout (work_pool.name)\n`);
    expect(run.stderr).toContain(`${project.dir}/deployments/b.yaml:4:9: error: work pool "${missing}"`);
    // A missing queue is a warning (Prefect creates it on apply), printed with the errors.
    expect(run.stderr).toMatch(new RegExp(`deployments/c\\.yaml:5:20: warning: work queue "${queue}" does not exist in work pool "${POOL}" yet: Prefect creates it on apply`));
    expect(run.stderr).not.toMatch(/deployments\/[de]\.yaml/);
    expect(run.stdout).toBe('');
    const reads = (prefix: string): string[] => proxy.requests.filter((r) => r.method === 'GET' && r.path.startsWith(prefix)).map((r) => r.path);
    expect(reads('/work_pools/').sort()).toEqual(
      [`/work_pools/${missing}`, `/work_pools/${POOL}`, `/work_pools/${POOL}/queues/${queue}`, `/work_pools/${POOL}/queues/gitops-it-queue`].sort(),
    );
    // Nothing but reads.
    expect(proxy.requests.filter((r) => r.method !== 'GET' && !r.path.includes('/filter') && !r.path.endsWith('/count'))).toEqual([]);
  });

  it('--allow-missing-pools makes them warnings, and the plan goes on', async () => {
    const project = await makeProject('pools-allow');
    const missing = uniqueName('later-pool');
    await project.write([{ name: 'a', work_pool: { name: missing } }]);
    const run = await cli(['plan', project.dir, '--allow-missing-pools']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`${project.dir}/deployments/a.yaml:4:9: warning: work pool "${missing}" does not exist on the Prefect server (work_pool.name)\n`);
    expect(run.stdout).toContain('Plan: 1 to add, 0 to change, 0 to delete, 0 unchanged.');
  });
});
