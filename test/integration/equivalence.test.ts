import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prefectCli, startPrefectServer, type PrefectServerHandle } from '../../scripts/prefect-server.js';
import { apply } from '../../src/apply/apply.js';
import { silentLogger } from '../../src/log.js';
import { OWNER_LABEL } from '../../src/plan/ownership.js';
import { reconcile } from '../../src/reconcile.js';
import { prefectApiUrl } from '../helpers/prefect.js';

/**
 * `prefect deploy --all` (the real CLI, from the test virtualenv) to one server and
 * `prefect-gitops apply` to another, from the same unchanged prefect.yaml; then every deployment is
 * compared field by field. Left out of the comparison, deliberately:
 * - ids, timestamps, `flow_id`, `work_queue_id`, `status`, `last_polled`, `created_by`/`updated_by`;
 * - `version`: prefect deploy stamps an md5 of the flow file; a manifest without `version` leaves it null;
 * - our ownership marker (label `prefect-gitops.owner`, tag `prefect-gitops:<owner>`) and the tags
 *   and description prefect-gitops puts on the automations it makes (owner tag, fingerprint tag);
 * - schedule `slug`: prefect-gitops gives every schedule one (`cron-1`, ...) so later updates keep
 *   schedule ids; prefect deploy leaves it null and recreates schedules on every redeploy;
 * - the random `id` inside an automation's trigger.
 * One difference is normalised, as a deliberate improvement: for a flow without a docstring,
 * prefect deploy stores the string "None" as the description; prefect-gitops leaves it null.
 */
const PROJECTS = ['etl-project', 'reports-project'] as const;
const ENV = { EQ_REGION: 'apac' };
const STEP_OUTPUTS = { 'get-version.stdout': 'v1.2.3' };

type Json = Record<string, unknown>;

async function call<T>(apiUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${apiUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (!response.ok) throw new Error(`${method} ${path} -> ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

async function ensurePool(apiUrl: string): Promise<void> {
  const response = await fetch(`${apiUrl}/work_pools/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'eq-pool', type: 'process' }) });
  if (!response.ok && response.status !== 409) throw new Error(`work pool: ${response.status}`);
}

const byJson = (a: unknown, b: unknown): number => JSON.stringify(a).localeCompare(JSON.stringify(b));

/** Everything about a deployment that both tools are responsible for, keyed by flow/name. */
async function snapshot(apiUrl: string, flowNames: string[]): Promise<Record<string, Json>> {
  const deployments = await call<Json[]>(apiUrl, 'POST', '/deployments/filter', { flows: { name: { any_: flowNames } }, limit: 200 });
  const flows = await call<{ id: string; name: string }[]>(apiUrl, 'POST', '/flows/filter', { flows: { name: { any_: flowNames } }, limit: 200 });
  const flowName = new Map(flows.map((f) => [f.id, f.name]));
  const out: Record<string, Json> = {};
  for (const d of deployments) {
    const { id, created: _c, updated: _u, flow_id, work_queue_id: _q, status: _s, last_polled: _l, created_by: _cb, updated_by: _ub, version: _v, labels, tags, schedules, global_concurrency_limit, concurrency_limit: _deprecated, ...rest } = d as Json & { labels: Record<string, string>; tags: string[]; schedules: Json[]; global_concurrency_limit: { limit: number } | null };
    const automations = await call<Json[]>(apiUrl, 'GET', `/automations/related-to/prefect.deployment.${String(id)}`);
    out[`${flowName.get(String(flow_id))}/${String(d.name)}`] = {
      ...rest,
      description: rest.description === 'None' ? null : rest.description,
      labels: Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith('prefect.') && k !== OWNER_LABEL)),
      tags: tags.filter((t) => !t.startsWith('prefect-gitops:')).sort(),
      concurrency_limit: global_concurrency_limit?.limit ?? null,
      schedules: schedules.map(({ id: _i, created: _sc, updated: _su, deployment_id: _d, slug: _slug, ...s }) => s).sort(byJson),
      automations: automations
        .map(({ id: _i, created: _ac, updated: _au, tags: _t, description: _desc, actions, trigger, ...a }) => {
          const { id: _triggerId, ...triggerRest } = trigger as Json;
          return { ...a, trigger: triggerRest, actions: (actions as Json[]).map(({ deployment_id: _d, ...x }) => x) };
        })
        .sort(byJson),
    };
  }
  return out;
}

describe('equivalence with prefect deploy --all', () => {
  let other: PrefectServerHandle;
  beforeAll(async () => {
    other = await startPrefectServer({ scheduler: false });
    await ensurePool(other.apiUrl);
    await ensurePool(prefectApiUrl());
  });
  afterAll(async () => {
    await other?.stop();
  });

  it.each(PROJECTS)('%s: every field of every deployment is the same', async (name) => {
    const dir = resolve('test/fixtures/equivalence', name);
    const deployed = await prefectCli(other, ['--no-prompt', 'deploy', '--all'], { cwd: dir, env: ENV, timeoutMs: 180_000 });
    expect(deployed.code, deployed.stdout + deployed.stderr).toBe(0);

    const { plan, client } = await reconcile({
      manifests: dir,
      cwd: process.cwd(),
      env: ENV,
      stepOutputs: STEP_OUTPUTS,
      client: { apiUrl: prefectApiUrl() },
      allowMassDelete: false,
      adoptAll: false,
      logger: silentLogger(),
    });
    const result = await apply(plan, client, { logger: silentLogger() });
    expect(result.ok, JSON.stringify(result.results)).toBe(true);

    const flowNames = [...new Set(plan.actions.map((a) => a.flowName))];
    const theirs = await snapshot(other.apiUrl, flowNames);
    const ours = await snapshot(prefectApiUrl(), flowNames);
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    for (const key of Object.keys(theirs)) expect(ours[key], key).toEqual(theirs[key]);

    // Adopting what prefect deploy made: the plan shows ownership changes only (our owner tag and,
    // where the deployment has triggers, its automations recreated as ours), then converges.
    const adoption = await reconcile({
      manifests: dir,
      cwd: process.cwd(),
      env: ENV,
      stepOutputs: STEP_OUTPUTS,
      client: { apiUrl: other.apiUrl },
      allowMassDelete: false,
      adoptAll: true,
      logger: silentLogger(),
    });
    expect(adoption.plan.actions.map((a) => a.kind)).toEqual(Array(Object.keys(theirs).length).fill('adopt'));
    for (const action of adoption.plan.actions) {
      const hasTriggers = action.kind === 'adopt' && action.triggers.length > 0;
      expect(action.kind === 'adopt' && action.changes.map((c) => c.field), action.key).toEqual(hasTriggers ? ['tags', 'triggers'] : ['tags']);
      expect(action.kind === 'adopt' && action.changes[0]!.after, action.key).toContain(`prefect-gitops:${adoption.plan.owner}`);
    }
    const adopted = await apply(adoption.plan, adoption.client, { logger: silentLogger() });
    expect(adopted.ok, JSON.stringify(adopted.results)).toBe(true);
    const after = await reconcile({ manifests: dir, cwd: process.cwd(), env: ENV, stepOutputs: STEP_OUTPUTS, client: { apiUrl: other.apiUrl }, allowMassDelete: false, adoptAll: false, logger: silentLogger() });
    expect(after.plan.actions).toEqual([]);
    expect(after.plan.conflicts).toEqual([]);
  });
});
