import { beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment, type Project } from '../helpers/gitops.js';
import { OWNER_LABEL } from '../../src/plan/ownership.js';

const POOL = 'gitops-it-pool';
const OTHER_POOL = 'gitops-it-pool-2';

beforeAll(async () => {
  await ensurePool(POOL);
  await ensurePool(OTHER_POOL);
});

const base = (): Record<string, unknown> => ({
  name: 'main',
  description: 'base',
  tags: ['a'],
  parameters: { n: 1 },
  work_pool: { name: POOL },
  schedules: [
    { cron: '0 9 * * *', slug: 'daily', timezone: 'Europe/Berlin' },
    { interval: 3600, slug: 'hourly', anchor_date: '2024-01-01T00:00:00Z' },
  ],
});

type Mutation = [title: string, mutate: (d: Record<string, unknown>) => void, fields: string[]];
const schedules = (d: Record<string, unknown>): Record<string, unknown>[] => d.schedules as Record<string, unknown>[];

const mutations: Mutation[] = [
  ['description', (d) => void (d.description = 'changed'), ['description']],
  ['version', (d) => void (d.version = '1.2.3'), ['version']],
  ['entrypoint', (d) => void (d.entrypoint = 'flows/job.py:job_v2'), ['entrypoint']],
  ['path', (d) => void (d.path = '/opt/flows'), ['path']],
  ['tags', (d) => void (d.tags = ['a', 'b']), ['tags']],
  ['parameters', (d) => void (d.parameters = { n: 2, label: 'y' }), ['parameters']],
  ['enforce_parameter_schema', (d) => void (d.enforce_parameter_schema = false), ['enforce_parameter_schema']],
  ['parameter_openapi_schema', (d) => void (d.parameter_openapi_schema = { type: 'object', properties: { n: { type: 'integer', position: 0 }, label: { type: 'string', position: 1 } } }), ['parameter_openapi_schema']],
  ['work pool', (d) => void (d.work_pool = { name: OTHER_POOL }), ['work_pool_name']],
  ['work queue', (d) => void (d.work_pool = { name: POOL, work_queue_name: 'urgent' }), ['work_queue_name']],
  ['job variables', (d) => void (d.work_pool = { name: POOL, job_variables: { env: { MODE: 'fast' }, stream_output: true } }), ['job_variables']],
  ['paused', (d) => void (d.paused = true), ['paused']],
  ['concurrency limit', (d) => void (d.concurrency_limit = 2), ['concurrency_limit']],
  ['concurrency options', (d) => void (d.concurrency_limit = { limit: 2, collision_strategy: 'CANCEL_NEW', grace_period_seconds: 120 }), ['concurrency_limit', 'concurrency_options']],
  ['pull steps', (d) => void (d.pull = [{ 'prefect.deployments.steps.set_working_directory': { directory: '/tmp' } }]), ['pull_steps']],
  ['cron expression', (d) => void (schedules(d)[0]!.cron = '30 9 * * 1-5'), ['schedules[daily]']],
  ['schedule timezone', (d) => void (schedules(d)[0]!.timezone = 'America/New_York'), ['schedules[daily]']],
  ['schedule active', (d) => void (schedules(d)[0]!.active = false), ['schedules[daily]']],
  ['schedule parameters', (d) => void (schedules(d)[1]!.parameters = { label: 'hourly' }), ['schedules[hourly]']],
  ['max_scheduled_runs', (d) => void (schedules(d)[1]!.max_scheduled_runs = 4), ['schedules[hourly]']],
  ['interval', (d) => void (schedules(d)[1]!.interval = 'PT30M'), ['schedules[hourly]']],
  ['add an rrule schedule', (d) => void schedules(d).push({ rrule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=8', timezone: 'UTC' }), ['schedules[rrule-1]']],
  ['remove a schedule', (d) => void (d.schedules = [schedules(d)[0]]), ['schedules[hourly]']],
];

describe('apply converges and each field change is planned alone', () => {
  let project: Project;
  let scheduleIds: Record<string, string>;

  beforeAll(async () => {
    project = await makeProject('fields');
    await project.write([base()]);
    const first = await applyProject(project.dir);
    expect(first.result.ok).toBe(true);
    expect(first.plan.summary.add).toBe(1);
    const live = await readDeployment(project.flow, 'main');
    scheduleIds = Object.fromEntries(live!.schedules.map((s) => [s.slug!, s.id]));
  });

  it('marks what it creates with the ownership label and tag', async () => {
    const live = await readDeployment(project.flow, 'main');
    expect(live!.labels[OWNER_LABEL]).toBe(project.owner);
    expect(live!.tags).toContain(`prefect-gitops:${project.owner}`);
  });

  it.each(mutations)('%s', async (_title, mutate, fields) => {
    const changed = base();
    mutate(changed);
    await project.write([changed]);
    const planned = await planProject(project.dir);
    expect(planned.writes).toBe(0);
    expect(planned.plan.actions).toHaveLength(1);
    const action = planned.plan.actions[0]!;
    expect(action.kind).toBe('update');
    expect(action.kind === 'update' && action.changes.map((c) => c.field)).toEqual(fields);

    const applied = await applyProject(project.dir);
    expect(applied.result.results).toEqual([expect.objectContaining({ status: 'ok' })]);
    const after = await planProject(project.dir);
    expect(after.plan.actions).toEqual([]);
    expect(after.plan.summary.unchanged).toBe(1);

    // Every schedule that still exists kept its id: schedules are updated in place, by slug.
    const live = await readDeployment(project.flow, 'main');
    for (const s of live!.schedules) {
      if (scheduleIds[s.slug!]) expect(s.id, `schedule ${s.slug}`).toBe(scheduleIds[s.slug!]);
    }

    // Back to the base: converges again.
    await project.write([base()]);
    const reverted = await applyProject(project.dir);
    expect(reverted.result.ok).toBe(true);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
    const again = await readDeployment(project.flow, 'main');
    scheduleIds = Object.fromEntries(again!.schedules.map((s) => [s.slug!, s.id]));
  });
});

describe('renames, removals and what we do not own', () => {
  it('a rename is one create and one delete', async () => {
    const project = await makeProject('rename');
    await project.write([{ name: 'old', work_pool: { name: POOL } }, { name: 'other', work_pool: { name: POOL } }, { name: 'third', work_pool: { name: POOL } }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    await project.write([{ name: 'new', work_pool: { name: POOL } }, { name: 'other', work_pool: { name: POOL } }, { name: 'third', work_pool: { name: POOL } }]);
    const { plan, result } = await applyProject(project.dir);
    expect(plan.actions.map((a) => `${a.kind} ${a.name}`)).toEqual(['create new', 'delete old']);
    expect(result.ok).toBe(true);
    expect(await readDeployment(project.flow, 'old')).toBeUndefined();
    expect(await readDeployment(project.flow, 'new')).toBeDefined();
  });

  it('a removed manifest is deleted only with prune on', async () => {
    const project = await makeProject('removal');
    const keep = { name: 'keep', work_pool: { name: POOL } };
    await project.write([keep, { name: 'drop', work_pool: { name: POOL } }, { name: 'keep2', work_pool: { name: POOL } }]);
    await applyProject(project.dir);
    await project.write([keep, { name: 'keep2', work_pool: { name: POOL } }]);

    const withoutPrune = await applyProject(project.dir, { prune: false });
    expect(withoutPrune.plan.actions).toEqual([]);
    expect(withoutPrune.writes).toBe(0);
    expect(withoutPrune.plan.orphans.map((o) => `${o.name}:${o.reason}`)).toEqual(['drop:prune-disabled']);
    expect(await readDeployment(project.flow, 'drop')).toBeDefined();

    const withPrune = await applyProject(project.dir);
    expect(withPrune.plan.actions.map((a) => `${a.kind} ${a.name}`)).toEqual(['delete drop']);
    expect(withPrune.result.ok).toBe(true);
    expect(await readDeployment(project.flow, 'drop')).toBeUndefined();
  });

  it('never deletes or changes a deployment it does not own; adopting takes it over', async () => {
    const project = await makeProject('unowned');
    const flow = await api<{ id: string }>('POST', '/flows/', { name: project.flow });
    await api('POST', '/deployments/', { name: 'handmade', flow_id: flow.id, work_pool_name: POOL, tags: ['manual'], paused: true });
    const before = await readDeployment(project.flow, 'handmade');

    await project.write([{ name: 'handmade', work_pool: { name: POOL } }, { name: 'mine', work_pool: { name: POOL } }]);
    const { plan, result } = await applyProject(project.dir);
    expect(plan.conflicts.map((c) => c.name)).toEqual(['handmade']);
    expect(plan.conflicts[0]!.message).toContain('was not created by prefect-gitops');
    expect(plan.actions.map((a) => `${a.kind} ${a.name}`)).toEqual(['create mine']);
    expect(result.ok).toBe(true);

    // Removing it from the manifests does not delete it either (prune is on).
    await project.write([{ name: 'mine', work_pool: { name: POOL } }]);
    const pruned = await applyProject(project.dir);
    expect(pruned.plan.actions).toEqual([]);
    const after = await readDeployment(project.flow, 'handmade');
    expect(after!.updated).toBe(before!.updated);
    expect(after!.paused).toBe(true);

    // Adoption: the plan says so, apply takes ownership, the next plan is empty.
    await project.write([{ name: 'handmade', work_pool: { name: POOL }, gitops: { adopt: true } }, { name: 'mine', work_pool: { name: POOL } }]);
    const adopted = await applyProject(project.dir);
    expect(adopted.plan.actions.map((a) => `${a.kind} ${a.name}`)).toEqual(['adopt handmade']);
    expect(adopted.result.ok).toBe(true);
    const owned = await readDeployment(project.flow, 'handmade');
    expect(owned!.labels[OWNER_LABEL]).toBe(project.owner);
    expect(owned!.paused).toBe(false);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });

  it('two owners share a server without touching each other', async () => {
    const a = await makeProject('owner-a');
    const b = await makeProject('owner-b');
    await a.write([{ name: 'x', work_pool: { name: POOL } }]);
    await b.write([{ name: 'y', work_pool: { name: POOL } }]);
    await applyProject(a.dir);
    await applyProject(b.dir);
    await b.write([{ name: 'z', work_pool: { name: POOL } }]);
    const second = await applyProject(b.dir, { allowMassDelete: true });
    expect(second.plan.actions.map((x) => `${x.kind} ${x.name}`)).toEqual(['create z', 'delete y']);
    expect(await readDeployment(a.flow, 'x')).toBeDefined();
  });
});

describe('failures', () => {
  it('a deployment the server rejects fails alone; the rest apply; a re-run converges', async () => {
    const project = await makeProject('reject');
    const missingPool = `missing-pool-${project.owner}`;
    await project.write([
      { name: 'good-1', work_pool: { name: POOL } },
      { name: 'bad', work_pool: { name: missingPool } },
      { name: 'good-2', work_pool: { name: POOL } },
    ]);
    // The plan would stop at the missing pool; let it through to see the server reject it.
    const first = await applyProject(project.dir, { allowMissingPools: true });
    expect(first.result.ok).toBe(false);
    const byName = Object.fromEntries(first.result.results.map((r) => [r.key.split('/')[1], r]));
    expect(byName['good-1']!.status).toBe('ok');
    expect(byName['good-2']!.status).toBe('ok');
    expect(byName.bad!.status).toBe('failed');
    expect(byName.bad!.message).toContain(`Work pool "${missingPool}" not found`);

    await ensurePool(missingPool);
    const second = await applyProject(project.dir);
    expect(second.plan.actions.map((a) => `${a.kind} ${a.name}`)).toEqual(['create bad']);
    expect(second.result.ok).toBe(true);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });

  it('invalid manifests stop before any request is sent', async () => {
    const project = await makeProject('invalid');
    await project.write([{ name: 'ok', work_pool: { name: POOL } }, { name: 'broken', work_pool: { name: POOL }, schedules: [{ cron: '0 R * * *' }] }]);
    await expect(applyProject(project.dir)).rejects.toThrow(/problem/);
    expect(await readDeployment(project.flow, 'ok')).toBeUndefined();
  });
});

describe('schedules[].replaces: a schedule renamed in place', () => {
  it('keeps its id and its scheduled runs through a new slug (with or without a change), and the next plan is empty', async () => {
    const project = await makeProject('replaces');
    const deployment = (schedules: Record<string, unknown>[]) => ({ name: 'main', work_pool: { name: POOL }, schedules });
    await project.write([deployment([{ cron: '0 6 * * *', slug: 'morning' }, { interval: 3600, slug: 'hourly' }])]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const ids = Object.fromEntries((await readDeployment(project.flow, 'main'))!.schedules.map((s) => [s.slug!, s.id]));

    // Renamed only: one schedule PATCH with the new slug, nothing else.
    await project.write([deployment([{ cron: '0 6 * * *', slug: 'early', replaces: 'morning' }, { interval: 3600, slug: 'hourly' }])]);
    const renamed = await applyProject(project.dir);
    const action = renamed.plan.actions[0]!;
    expect(action.kind === 'update' && [action.changes, action.scheduleOps.update.map((u) => u.id), action.scheduleOps.create, action.scheduleOps.delete]).toEqual([
      [{ field: 'schedules[early].slug', before: 'morning', after: 'early' }],
      [ids.morning],
      [],
      [],
    ]);
    expect(renamed.result.ok).toBe(true);
    let live = (await readDeployment(project.flow, 'main'))!;
    expect(Object.fromEntries(live.schedules.map((s) => [s.slug!, s.id]))).toEqual({ early: ids.morning, hourly: ids.hourly });
    expect((await planProject(project.dir)).plan.actions).toEqual([]);

    // Renamed and changed at once: still the same schedule, updated in place.
    await project.write([deployment([{ cron: '0 5 * * *', slug: 'dawn', replaces: 'early' }, { interval: 3600, slug: 'hourly' }])]);
    const both = await applyProject(project.dir);
    expect(both.result.ok).toBe(true);
    expect(both.plan.actions[0]!.kind === 'update' && both.plan.actions[0]!.changes.map((c) => c.field)).toEqual(['schedules[dawn].slug', 'schedules[dawn]']);
    live = (await readDeployment(project.flow, 'main'))!;
    expect(live.schedules.map((s) => [s.slug, s.id, (s.schedule as { cron?: string }).cron]).sort()).toEqual([['dawn', ids.morning, '0 5 * * *'], ['hourly', ids.hourly, undefined]].sort());
    // `replaces` naming a slug that is gone is nothing to do.
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });
});
