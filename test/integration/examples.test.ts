import { resolve } from 'node:path';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startPrefectWorker } from '../../scripts/prefect-server.js';
import { api, prefectTarget, waitForFlowRun } from '../helpers/prefect.js';
import { applyProject, planProject, readDeployment, type ServerDeployment } from '../helpers/gitops.js';

const examples = resolve('examples');
const env = { EXAMPLES_DIR: examples };
const KEYS = ['daily-report/finance-month-end', 'daily-report/regional-mornings', 'daily-report/us-mon-wed', 'etl-pipeline/customers-full-refresh', 'etl-pipeline/customers-weekday', 'healthcheck/heartbeat'];

async function snapshot(): Promise<Record<string, ServerDeployment>> {
  const out: Record<string, ServerDeployment> = {};
  for (const key of KEYS) {
    const [flow, name] = key.split('/') as [string, string];
    out[key] = (await readDeployment(flow, name))!;
  }
  return out;
}

describe('examples/ against a real server', () => {
  afterAll(async () => {
    await rm(resolve(examples, 'out'), { recursive: true, force: true });
  });

  it('applies to an empty server, then plans 0 changes and a second apply sends 0 writes', async () => {
    // examples/ declares its work pool and queues (examples/workspace/work-pool.yaml): nothing is made by hand.
    const first = await applyProject(examples, { env });
    expect(first.plan.summary).toMatchObject({ add: 9, change: 0, delete: 0, conflicts: 0 });
    expect(first.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual(['create local-process', 'create local-process/etl', 'create local-process/reports']);
    expect(first.result.results.map((r) => `${r.key} ${r.status} ${r.message ?? ''}`.trim())).toEqual([
      'work-pool "local-process" ok',
      'work-queue "local-process/etl" ok',
      'work-queue "local-process/reports" ok',
      ...KEYS.map((k) => `${k} ok`),
    ]);

    const planned = await planProject(examples, { env });
    expect(planned.plan.actions).toEqual([]);
    expect(planned.plan.workspace?.actions).toEqual([]);
    expect(planned.plan.summary.unchanged).toBe(9);
    expect(planned.writes).toBe(0);

    const before = await snapshot();
    const second = await applyProject(examples, { env });
    expect(second.plan.actions).toEqual([]);
    expect(second.result.results).toEqual([]);
    expect(second.writes).toBe(0);
    // Reads: the server version, the CSRF probe, two deployment lists, the flows and our automations;
    // then the owner's inventory of workspace objects (one GET), and for the declared pool and queues:
    // the pool types' default templates, the pools, the pool's deployment count and the queues (one
    // each). The pool and queues the deployments name are declared, so they are not read again.
    expect(second.reads).toBe(11);

    const after = await snapshot();
    for (const key of KEYS) {
      expect(after[key]!.updated, key).toBe(before[key]!.updated);
      expect(after[key]!.schedules.map((s) => s.id).sort(), key).toEqual(before[key]!.schedules.map((s) => s.id).sort());
    }
  });

  it('every environment also converges: apply prod, then the prod plan is empty', async () => {
    const first = await applyProject(examples, { env, environment: 'prod' });
    expect(first.result.ok).toBe(true);
    // prod has its own owner (acme-data.prod), so the default environment's deployments are
    // conflicts, not updates; `gitops.adopt` does not take them from another owner. So are the
    // pool and queues the default environment declared (in its inventory, not in prod's).
    expect(first.plan.summary.conflicts).toBe(9);
    expect(first.plan.conflicts.every((c) => c.owner === 'acme-data')).toBe(true);
    expect(first.plan.workspace?.conflicts.map((c) => c.key)).toEqual(['local-process', 'local-process/etl', 'local-process/reports']);
    expect(first.plan.actions.map((a) => a.key)).toEqual(['healthcheck/prod-canary']);
    const again = await planProject(examples, { env, environment: 'prod' });
    expect(again.plan.actions).toEqual([]);
  });

  it('the ETL deployment created by apply runs to Completed on a real process worker', async () => {
    const worker = await startPrefectWorker(prefectTarget(), { pool: 'local-process' });
    try {
      const deployment = (await readDeployment('etl-pipeline', 'customers-weekday'))!;
      const run = await api<{ id: string }>('POST', `/deployments/${deployment.id}/create_flow_run`, { parameters: { output: 'out/it-active.json' }, idempotency_key: 'examples-it-active' });
      expect(await waitForFlowRun(run.id)).toBe('COMPLETED');
      const { readFile } = await import('node:fs/promises');
      const written = JSON.parse(await readFile(resolve(examples, 'out/it-active.json'), 'utf8')) as { active: boolean }[];
      expect(written.length).toBeGreaterThan(0);
      expect(written.every((r) => r.active === true)).toBe(true);
    } finally {
      await worker.stop();
    }
  }, 360_000);
});
