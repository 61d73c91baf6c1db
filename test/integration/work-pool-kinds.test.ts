// The work-pool and work-queue kinds' handlers driven directly against the real server: what they
// read, what they send, and that the server's answer plans empty (server defaults, priorities).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrefectClient } from '../../src/prefect/client.js';
import type { JsonObject } from '../../src/prefect/types.js';
import type { DesiredObject, KindContext, KindHandler, LiveObject, ObjectAction } from '../../src/workspace/kind.js';
import { workPoolKind, type LivePool } from '../../src/workspace/kinds/work-pool.js';
import { workQueueKind } from '../../src/workspace/kinds/work-queue.js';
import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { api, prefectApiUrl, uniqueName } from '../helpers/prefect.js';

let proxy: FaultProxy;
let client: PrefectClient;

beforeAll(async () => {
  proxy = await startFaultProxy(prefectApiUrl());
  client = await PrefectClient.connect({ apiUrl: proxy.apiUrl });
});
afterAll(async () => {
  await proxy.close();
});

function doc(kind: 'work-pool' | 'work-queue', spec: JsonObject): DesiredObject {
  const key = kind === 'work-pool' ? String(spec['name']) : `${String(spec['pool'])}/${String(spec['name'])}`;
  return { kind, key, spec, declaredAt: { file: 'm.yaml', line: 1, column: 1 }, fieldsAt: {}, adopt: false, sensitive: false };
}

const HANDLERS: readonly KindHandler[] = [workPoolKind, workQueueKind];

/** What the framework does with these two kinds, in small: read, plan (create/update, with the kinds' hooks), and optionally apply. */
async function run(desired: DesiredObject[], options: { apply?: boolean; inventory?: KindContext['inventory'] } = {}): Promise<{ actions: ObjectAction[]; live: LiveObject[]; ctx: KindContext; writes: number }> {
  const base = { owner: 'it', features: NEWEST_CAPABILITIES, serverVersion: client.serverVersion, desired, deploymentKeys: [], inventory: options.inventory ?? [] } as KindContext;
  const reference = { 'work-pool': await workPoolKind.readReference!(client, base) };
  const withRef = { ...base, reference } as KindContext;
  const live = (await Promise.all(HANDLERS.map((h) => h.readLive(client, withRef)))).flat();
  const ctx = { ...withRef, live } as KindContext;
  for (const h of HANDLERS) {
    const issues = h.planIssues(desired.filter((d) => d.kind === h.kind), live.filter((l) => l.kind === h.kind), ctx).filter((i) => i.severity === 'error');
    if (issues.length > 0) throw new Error(issues.map((i) => i.message).join('\n'));
  }
  const actions: ObjectAction[] = [];
  for (const h of HANDLERS) {
    const mine: ObjectAction[] = [];
    for (const d of desired.filter((x) => x.kind === h.kind)) {
      const l = live.find((x) => x.kind === h.kind && x.key === d.key);
      const notes = h.notes?.(d, l, ctx) ?? [];
      if (!l) mine.push({ action: 'create', kind: h.kind, key: d.key, body: h.createBody(d, ctx), changes: [], notes, sensitive: false });
      else {
        const diff = h.diff(d, l, ctx);
        if (diff) mine.push({ action: 'update', kind: h.kind, key: d.key, id: l.id, body: diff.body, changes: diff.changes, notes, sensitive: false });
      }
    }
    actions.push(...(h.orderActions?.(mine) ?? mine));
  }
  proxy.reset();
  if (options.apply) {
    for (const a of actions) await HANDLERS.find((h) => h.kind === a.kind)!.write(client, a, ctx);
  }
  const writes = proxy.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith('/filter') && !r.path.endsWith('/count')).length;
  return { actions, live, ctx, writes };
}

const poolOf = (live: LiveObject[], name: string): LivePool => live.find((l) => l.kind === 'work-pool' && l.key === name) as LivePool;

describe('work pools and queues against the real server', () => {
  it('creates a pool with job variable defaults and its queues; the next plan is empty; a changed default updates only the pool', async () => {
    const name = uniqueName('wsp-pool');
    const desired = [
      doc('work-pool', { name, type: 'process', description: 'built by the test', concurrency_limit: 4, job_variables: { env: { TEAM: 'data' } } }),
      doc('work-queue', { name: 'default', pool: name, concurrency_limit: 2 }),
      doc('work-queue', { name: 'high', pool: name, priority: 1 }),
      doc('work-queue', { name: 'low', pool: name, priority: 3, paused: true, description: 'nightly' }),
    ];
    const first = await run(desired, { apply: true });
    expect(first.actions.map((a) => `${a.action} ${a.key}`)).toEqual([`create ${name}`, `create ${name}/high`, `create ${name}/low`, `create ${name}/default`]);
    const pool = await api<JsonObject>('GET', `/work_pools/${name}`);
    expect(pool).toMatchObject({ type: 'process', description: 'built by the test', concurrency_limit: 4, is_paused: false });
    expect((pool['base_job_template'] as { variables: { properties: { env: { default: unknown } } } }).variables.properties.env.default).toEqual({ TEAM: 'data' });
    const queues = await api<JsonObject[]>('POST', `/work_pools/${name}/queues/filter`, {});
    expect(Object.fromEntries(queues.map((q) => [q['name'], [q['priority'], q['concurrency_limit'], q['is_paused']]]))).toEqual({ high: [1, null, false], default: [2, 2, false], low: [3, null, true] });

    const again = await run(desired, { apply: true });
    expect(again.actions).toEqual([]);
    expect(again.writes).toBe(0);
    expect(workPoolKind.notes!(desired[0]!, poolOf(again.live, name), again.ctx)).toEqual(['used by 0 deployments']);

    const changed = desired.map((d) => (d.kind === 'work-pool' ? doc('work-pool', { ...d.spec, job_variables: { env: { TEAM: 'platform' } } }) : d));
    const update = await run(changed, { apply: true });
    expect(update.actions.map((a) => [a.action, a.key, a.changes])).toEqual([['update', name, [{ field: 'job_variables.env', before: { TEAM: 'data' }, after: { TEAM: 'platform' } }]]]);
    expect(update.writes).toBe(1);
    expect((await run(changed)).actions).toEqual([]);
  });

  it('reordering queue priorities converges in one apply, though the server renumbers the other queues', async () => {
    const name = uniqueName('wsp-prio');
    const q = (queue: string, priority: number): DesiredObject => doc('work-queue', { name: queue, pool: name, priority });
    await run([doc('work-pool', { name, type: 'process' }), q('a', 2), q('b', 3), q('c', 4)], { apply: true });
    // `default` keeps 1 (not declared); now reverse a, b, c and put c first overall.
    const reordered = [doc('work-pool', { name, type: 'process' }), q('c', 1), q('b', 3), q('a', 4)];
    const applied = await run(reordered, { apply: true });
    expect(applied.actions.length).toBeGreaterThan(0);
    const queues = await api<JsonObject[]>('POST', `/work_pools/${name}/queues/filter`, {});
    expect(Object.fromEntries(queues.map((x) => [x['name'], x['priority']]))).toMatchObject({ c: 1, b: 3, a: 4 });
    const after = await run(reordered);
    expect(after.actions).toEqual([]);
  });

  it('a pool and a queue used by a deployment: the plan counts it, and a delete is held back until that deployment goes', async () => {
    const name = uniqueName('wsp-used');
    await run([doc('work-pool', { name, type: 'process' })], { apply: true });
    const flow = await api<{ id: string }>('POST', '/flows/', { name: uniqueName('wsp-flow') });
    const deployment = await api<{ id: string }>('POST', '/deployments/', { name: 'uses-pool', flow_id: flow.id, work_pool_name: name, work_queue_name: 'busy', entrypoint: 'f.py:f' });
    const declared = await run([doc('work-pool', { name, type: 'process' })]);
    expect(workPoolKind.notes!(doc('work-pool', { name, type: 'process' }), poolOf(declared.live, name), declared.ctx)).toEqual(['used by 1 deployment']);
    // Not declared any more and ours (in the inventory): a prune candidate, read with its users; so is its queue.
    const undeclared = await run([], { inventory: [{ kind: 'work-pool', key: name, id: null }, { kind: 'work-queue', key: `${name}/busy`, id: null }] });
    const live = poolOf(undeclared.live, name);
    const holding = new RegExp(`^not deleted: still used by 1 deployment after this plan \\(wsp-flow-[0-9a-f]+/uses-pool\\)`);
    expect(workPoolKind.holdDelete!(live, { ...undeclared.ctx, deletingDeploymentIds: new Set(), declaredPlacements: new Map() })).toEqual([expect.stringMatching(holding)]);
    expect(workPoolKind.holdDelete!(live, { ...undeclared.ctx, deletingDeploymentIds: new Set([deployment.id]), declaredPlacements: new Map() })).toEqual([]);
    const queue = undeclared.live.find((l) => l.key === `${name}/busy`)!;
    expect(workQueueKind.holdDelete!(queue, { ...undeclared.ctx, deletingDeploymentIds: new Set(), declaredPlacements: new Map() })).toEqual([expect.stringMatching(holding)]);
    expect(workQueueKind.holdDelete!(queue, { ...undeclared.ctx, deletingDeploymentIds: new Set([deployment.id]), declaredPlacements: new Map() })).toEqual([]);
    // Not ours: its deployments are not even read.
    expect(poolOf((await run([])).live, name).deployments).toEqual([]);
    await workPoolKind.write(client, { action: 'delete', kind: 'work-pool', key: name, id: live.id, changes: [], notes: [], sensitive: false }, undeclared.ctx);
    await expect(api('GET', `/work_pools/${name}`)).rejects.toThrow(/404/);
  });

  it('the default queue is never deleted by a prune; other queues are', async () => {
    const name = uniqueName('wsp-def');
    await run([doc('work-pool', { name, type: 'process' }), doc('work-queue', { name: 'extra', pool: name })], { apply: true });
    const { live, ctx } = await run([doc('work-pool', { name, type: 'process' })]);
    const def = live.find((l) => l.key === `${name}/default`)!;
    const extra = live.find((l) => l.key === `${name}/extra`)!;
    expect(workQueueKind.forgetOnPrune!(def)).toBe(true);
    expect(workQueueKind.forgetOnPrune!(extra)).toBe(false);
    await workQueueKind.write(client, { action: 'delete', kind: 'work-queue', key: extra.key, id: extra.id, changes: [], notes: [], sensitive: false }, ctx);
    const queues = await api<JsonObject[]>('POST', `/work_pools/${name}/queues/filter`, {});
    expect(queues.map((q) => q['name'])).toEqual(['default']);
  });

  it('plan time: job_variables are checked against the type\'s default template the server has (offline here), with the known names', async () => {
    const name = uniqueName('wsp-k8s');
    const ok = doc('work-pool', { name, type: 'kubernetes', job_variables: { image: 'acme/etl:1', namespace: 'data' } });
    const { ctx } = await run([]);
    expect(workPoolKind.planIssues([ok], [], ctx)).toEqual([]);
    const typo = doc('work-pool', { name, type: 'kubernetes', job_variables: { imagee: 'x' } });
    const [issue] = workPoolKind.planIssues([typo], [], ctx);
    expect(issue?.message).toMatch(/^job variable "imagee" is not a variable of the default template of work pool type "kubernetes" on this server; its variables are: .*\bimage\b.*\bnamespace\b/);
    const queue = doc('work-queue', { name: 'q', pool: uniqueName('nowhere') });
    expect(workQueueKind.planIssues([queue], ctx.live!.filter((l) => l.kind === 'work-queue'), ctx)[0]?.message).toMatch(/is neither declared \(kind: work-pool\) nor on the server/);
  });

  it('export of a pool and its queues plans empty', async () => {
    const name = uniqueName('wsp-export');
    await run([doc('work-pool', { name, type: 'process', paused: true, job_variables: { env: { A: '1' }, stream_output: false } }), doc('work-queue', { name: 'q', pool: name, priority: 5, description: 'd' })], { apply: true });
    const { live } = await run([]);
    const exported = live.filter((l) => l.key === name || l.key.startsWith(`${name}/`)).map((l) => (l.kind === 'work-pool' ? workPoolKind : workQueueKind).exportDocument(l));
    expect(exported.find((d) => d.kind === 'work-pool')).toEqual({ kind: 'work-pool', name, type: 'process', paused: true, job_variables: { env: { A: '1' }, stream_output: false } });
    const desired = exported.map(({ kind, ...spec }) => doc(kind as 'work-pool' | 'work-queue', spec as JsonObject));
    expect((await run(desired)).actions).toEqual([]);
  });
});
