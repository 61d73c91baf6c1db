import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import { describe, expect, it } from 'vitest';
import type { DeploymentManifest, DesiredDeployment } from '../../src/manifests/types.js';
import type { LiveDeployment, LiveSchedule } from '../../src/prefect/types.js';
import { plan, type LiveState } from '../../src/plan/plan.js';
import { desiredDeployment, liveDeployment, liveSchedule } from '../helpers/fixtures.js';
import { OWNER_LABEL, PROTECTED_TAG, ownerTag } from '../../src/plan/ownership.js';
import type { PlanOptions, UpdateAction } from '../../src/plan/types.js';

const OWNER = 'team-a';
const options: PlanOptions = {
  owner: OWNER,
  serverVersion: '3.8.8',
  prune: true,
  maxDeletes: 10,
  maxDeleteRatio: 0.5,
  allowMassDelete: false,
  adoptAll: false,
  features: NEWEST_CAPABILITIES,
};

const desired = desiredDeployment;
const live = (name: string, overrides: Partial<LiveDeployment> = {}, owner: string | null = OWNER): LiveDeployment => liveDeployment(name, overrides, owner);
const schedule = liveSchedule;

const state = (...deployments: LiveDeployment[]): LiveState => ({ deployments: new Map(deployments.map((d) => [`etl/${d.name}`, d])) });

describe('plan: read-back forms compare equal (no perpetual diffs)', () => {
  it.each([
    ['defaults only', {}, {}],
    ['interval read back as float, anchor stamped by the server', { schedules: [{ interval: 3600 }] }, { schedules: [schedule('interval-1', { interval: 3600.0, anchor_date: '2026-11-21T22:46:20.849023Z', timezone: 'UTC' })] }],
    ['ISO duration interval', { schedules: [{ interval: 'PT1H' }] }, { schedules: [schedule('interval-1', { interval: 3600.0, anchor_date: '2026-11-21T22:46:20Z', timezone: 'UTC' })] }],
    ['naive anchor_date read back with Z', { schedules: [{ interval: 60, anchor_date: '2024-01-01T00:00:00', timezone: 'Europe/Paris' }] }, { schedules: [schedule('interval-1', { interval: 60.0, anchor_date: '2024-01-01T00:00:00Z', timezone: 'Europe/Paris' })] }],
    ['rrule with DTSTART prepended by the server', { schedules: [{ rrule: 'FREQ=WEEKLY;BYDAY=MO' }] }, { schedules: [schedule('rrule-1', { rrule: 'DTSTART:20200101T000000\nFREQ=WEEKLY;BYDAY=MO', timezone: 'UTC' })] }],
    ['cron without timezone reads back null', { schedules: [{ cron: '0 9 * * *' }] }, { schedules: [schedule('cron-1', { cron: '0 9 * * *', timezone: null, day_or: true })] }],
    ['concurrency read from global_concurrency_limit', { concurrency_limit: 3 }, { global_concurrency_limit: { limit: 3 } }],
    ['concurrency object', { concurrency_limit: { limit: 2, collision_strategy: 'CANCEL_NEW' } }, { global_concurrency_limit: { limit: 2 }, concurrency_options: { collision_strategy: 'CANCEL_NEW', grace_period_seconds: null } }],
    ['tags in another order', { tags: ['b', 'a'] }, { tags: ['a', ownerTag(OWNER), 'b'] }],
    ['prefect.* labels are ignored', {}, { labels: { 'prefect.flow.id': 'x', [OWNER_LABEL]: OWNER, 'prefect.other': 'y' } }],
    ['empty parameter schema in its expanded form', {}, { parameter_openapi_schema: { type: 'object', properties: {} } }],
    ['null pull_steps', {}, { pull_steps: null }],
  ] as const)('%s', (_title, manifest, liveOverrides) => {
    const result = plan([desired({ name: 'd', ...(manifest as Partial<DeploymentManifest>) })], state(live('d', liveOverrides as Partial<LiveDeployment>)), options);
    expect(result.actions).toEqual([]);
    expect(result.unchanged).toEqual(['etl/d']);
  });
});

describe('plan: each field change names exactly that field', () => {
  it.each([
    ['description', { description: 'new' }, { description: 'new' }],
    ['version', { version: 'abc' }, { version: 'abc' }],
    ['entrypoint', { entrypoint: 'flows/etl.py:other' }, { entrypoint: 'flows/etl.py:other' }],
    ['path', { path: '/opt' }, { path: '/opt' }],
    ['tags', { tags: ['x'] }, { tags: ['x', ownerTag(OWNER)] }],
    ['parameters', { parameters: { a: 1 } }, { parameters: { a: 1 } }],
    ['enforce_parameter_schema', { enforce_parameter_schema: false }, { enforce_parameter_schema: false }],
    ['paused', { paused: true }, { paused: true }],
    ['job_variables', { work_pool: { name: 'pool', job_variables: { image: 'x:1' } } }, { job_variables: { image: 'x:1' } }],
    ['work_pool_name', { work_pool: { name: 'other' } }, { work_pool_name: 'other', work_queue_name: 'default' }],
    ['work_queue_name', { work_pool: { name: 'pool', work_queue_name: 'q' } }, { work_pool_name: 'pool', work_queue_name: 'q' }],
    ['concurrency_limit', { concurrency_limit: 5 }, { concurrency_limit: 5, concurrency_options: null }],
    ['pull_steps', { pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/x' } }] }, { pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/x' } }] }],
  ] as const)('%s', (field, manifest, expectedPatch) => {
    const result = plan([desired({ name: 'd', ...(manifest as Partial<DeploymentManifest>) })], state(live('d')), options);
    expect(result.summary).toMatchObject({ add: 0, change: 1, delete: 0 });
    const update = result.actions[0] as UpdateAction;
    expect(update.changes.map((c) => c.field)).toEqual([field]);
    expect(update.patch).toEqual(expectedPatch);
    expect(update.scheduleOps).toEqual({ create: [], update: [], delete: [] });
  });
});

describe('plan: schedules are reconciled by slug', () => {
  it('edits a schedule in place, keeping its id', () => {
    const s = schedule('nightly', { cron: '0 1 * * *', timezone: null, day_or: true });
    const result = plan([desired({ name: 'd', schedules: [{ cron: '0 2 * * *', slug: 'nightly' }] })], state(live('d', { schedules: [s] })), options);
    const update = result.actions[0] as UpdateAction;
    expect(update.patch).toEqual({});
    expect(update.scheduleOps.update).toEqual([{ id: s.id, slug: 'nightly', body: { schedule: { cron: '0 2 * * *', timezone: null, day_or: true }, active: true, parameters: {}, slug: 'nightly' } }]);
    expect(update.scheduleOps.create).toEqual([]);
    expect(update.scheduleOps.delete).toEqual([]);
    expect(update.changes.map((c) => c.field)).toEqual(['schedules[nightly]']);
  });

  it('creates new slugs, deletes removed and slugless ones, leaves unchanged ones alone', () => {
    const keep = schedule('keep', { cron: '0 1 * * *', timezone: null, day_or: true });
    const gone = schedule('gone', { cron: '0 3 * * *', timezone: null, day_or: true });
    const slugless = schedule(null, { interval: 60, anchor_date: '2026-01-01T00:00:00Z', timezone: 'UTC' });
    const result = plan(
      [desired({ name: 'd', schedules: [{ cron: '0 1 * * *', slug: 'keep' }, { interval: 600, slug: 'new', parameters: { a: 1 }, max_scheduled_runs: 5 }] })],
      state(live('d', { schedules: [keep, gone, slugless] })),
      options,
    );
    const ops = (result.actions[0] as UpdateAction).scheduleOps;
    expect(ops.update).toEqual([]);
    expect(ops.create).toEqual([{ schedule: { interval: 600, timezone: 'UTC' }, active: true, max_scheduled_runs: 5, parameters: { a: 1 }, slug: 'new' }]);
    expect(ops.delete.map((d) => d.id).sort()).toEqual([gone.id, slugless.id].sort());
  });

  it('recreates a schedule that drops max_scheduled_runs (PATCH cannot clear it)', () => {
    const s = schedule('s', { cron: '0 1 * * *', timezone: null, day_or: true }, { max_scheduled_runs: 3 });
    const ops = (plan([desired({ name: 'd', schedules: [{ cron: '0 1 * * *', slug: 's' }] })], state(live('d', { schedules: [s] })), options).actions[0] as UpdateAction).scheduleOps;
    expect(ops.delete).toEqual([{ id: s.id, slug: 's' }]);
    expect(ops.create).toHaveLength(1);
  });
});

describe('plan: ownership, conflicts and adoption', () => {
  it('reports a conflict for a deployment we do not own and changes nothing', () => {
    const result = plan([desired({ name: 'd', paused: true })], state(live('d', {}, null)), options);
    expect(result.actions).toEqual([]);
    expect(result.conflicts).toHaveLength(1);
    expect(result.conflicts[0]!.message).toContain('was not created by prefect-gitops');
    expect(result.conflicts[0]!.message).toContain('--adopt');
  });

  it('names the other owner in a conflict', () => {
    const result = plan([desired({ name: 'd' })], state(live('d', {}, 'team-b')), options);
    expect(result.conflicts[0]!.owner).toBe('team-b');
    expect(result.conflicts[0]!.message).toContain('"team-b"');
  });

  it('adopts when asked (per deployment or --adopt), writing our label with a POST upsert', () => {
    for (const [d, opts] of [
      [desired({ name: 'd' }, { adopt: true }), options],
      [desired({ name: 'd' }), { ...options, adoptAll: true }],
    ] as const) {
      const result = plan([d], state(live('d', {}, null)), opts);
      expect(result.actions.map((a) => a.kind)).toEqual(['adopt']);
      const action = result.actions[0]!;
      expect(action.kind === 'adopt' && action.body.labels).toEqual({ [OWNER_LABEL]: OWNER });
      expect(result.summary.adopt).toBe(1);
    }
  });

  it('never deletes what it does not own, even with prune on', () => {
    const result = plan([desired({ name: 'kept' })], state(live('kept'), live('theirs', {}, null), live('other-owner', {}, 'team-b')), options);
    expect(result.actions).toEqual([]);
  });
});

describe('plan: prune and its safeguards', () => {
  const owned = (n: number): LiveDeployment[] => Array.from({ length: n }, (_, i) => live(`d${i}`));

  it('deletes owned, undeclared deployments last', () => {
    const result = plan([desired({ name: 'd0' }), desired({ name: 'd1' }), desired({ name: 'd2' }), desired({ name: 'new' })], state(...owned(5)), options);
    expect(result.actions.map((a) => `${a.kind}:${a.key}`)).toEqual(['create:etl/new', 'delete:etl/d3', 'delete:etl/d4']);
    expect(result.pruneRefused).toBeNull();
  });

  it('keeps them as orphans when prune is off', () => {
    const result = plan([desired({ name: 'd0' })], state(...owned(2)), { ...options, prune: false });
    expect(result.actions).toEqual([]);
    expect(result.orphans.map((o) => `${o.key}:${o.reason}`)).toEqual(['etl/d1:prune-disabled']);
  });

  it('never prunes a protected deployment', () => {
    const result = plan([desired({ name: 'd0' })], state(live('d0'), live('p', { tags: [ownerTag(OWNER), PROTECTED_TAG] })), options);
    expect(result.actions).toEqual([]);
    expect(result.orphans.map((o) => o.reason)).toEqual(['protected']);
  });

  it.each([
    ['an empty manifest set', [], owned(2), 'declare no deployments'],
    ['more than max_deletes', [desired({ name: 'x' })], owned(12), 'prune would delete 12 deployments > max_deletes 10; nothing will be written; review the deletes, then use --allow-mass-delete or raise max_deletes'],
    ['more than max_delete_ratio', [desired({ name: 'd0' }), desired({ name: 'd1' })], owned(6), '4 of 6 owned deployments (67%) > max_delete_ratio 50%; nothing will be written'],
  ])('refuses to prune with %s unless --allow-mass-delete', (_title, wanted, liveDeployments, message) => {
    const refused = plan(wanted, state(...liveDeployments), options);
    expect(refused.actions.filter((a) => a.kind === 'delete')).toEqual([]);
    expect(refused.pruneRefused).toContain(message);
    const allowed = plan(wanted, state(...liveDeployments), { ...options, allowMassDelete: true });
    expect(allowed.pruneRefused).toBeNull();
    expect(allowed.summary.delete).toBeGreaterThan(0);
  });
});

describe('plan: creates', () => {
  it('creates with our label and tag, and schedules sent separately with slugs', () => {
    const result = plan([desired({ name: 'd', tags: ['t'], schedules: [{ cron: '0 9 * * *', timezone: 'Europe/Berlin' }, { interval: 60, max_scheduled_runs: 2 }] })], state(), options);
    const action = result.actions[0]!;
    expect(action.kind).toBe('create');
    if (action.kind !== 'create') return;
    expect(action.body).toMatchObject({ name: 'd', tags: ['t', ownerTag(OWNER)], labels: { [OWNER_LABEL]: OWNER }, schedules: [] });
    expect(action.schedules.map((s) => s.slug)).toEqual(['cron-1', 'interval-1']);
    expect(action.schedules[1]).toMatchObject({ max_scheduled_runs: 2 });
  });
});

describe('plan: ignore_differences keeps live values', () => {
  it.each([
    ['/paused', { paused: false }, { paused: true }],
    ['/description', { description: 'git' }, { description: 'edited in the UI' }],
    ['/schedules/nightly/active', { schedules: [{ cron: '0 1 * * *', slug: 'nightly' }] }, { schedules: [schedule('nightly', { cron: '0 1 * * *', timezone: null, day_or: true }, { active: false })] }],
  ] as const)('%s: no change reported or written', (pointer, manifest, liveOverrides) => {
    const d = desired({ name: 'd', ...(manifest as Partial<DeploymentManifest>) }, { ignoreDifferences: [pointer] });
    const result = plan([d], state(live('d', liveOverrides as Partial<LiveDeployment>)), options);
    expect(result.actions).toEqual([]);
    expect(result.unchanged).toEqual(['etl/d']);
    // Without the pointer, the same difference is an update.
    expect(plan([{ ...d, ignoreDifferences: [] }], state(live('d', liveOverrides as Partial<LiveDeployment>)), options).summary.change).toBe(1);
  });

  it('an ignored key inside a map is kept when the rest of the map is written', () => {
    const d = desired({ name: 'd', work_pool: { name: 'pool', job_variables: { image: 'git:1', env: { A: '2' } } } }, { ignoreDifferences: ['/job_variables/image'] });
    const result = plan([d], state(live('d', { job_variables: { image: 'hotfix:7', env: { A: '1' } } })), options);
    const update = result.actions[0] as UpdateAction;
    expect(update.patch).toEqual({ job_variables: { image: 'hotfix:7', env: { A: '2' } } });
  });
});

describe('config: branch restrictions', () => {
  it.each([
    ['main', ['main'], true],
    ['feature/x', ['main'], false],
    ['release/1.2', ['release/*'], true],
    ['release/1.2/hotfix', ['release/*'], false],
    ['release/1.2/hotfix', ['release/**'], true],
  ] as const)('%s against %j -> %s', async (branch, branches, allowed) => {
    const { branchAllowed } = await import('../../src/manifests/config.js');
    const config = { owner: 'o', defaults: {}, ignoreDifferences: [], stepOutputs: {}, prune: { enabled: false, maxDeletes: 10, maxDeleteRatio: 0.5 }, environments: { prod: { defaults: {}, ignoreDifferences: [], branches } } };
    expect(branchAllowed(config, 'prod', branch)).toBe(allowed);
    expect(branchAllowed(config, undefined, branch)).toBe(true);
  });
});

describe('plan: what the server cannot store is not planned', () => {
  it.each([
    ['concurrency options before 3.1', { ...NEWEST_CAPABILITIES, concurrencyOptions: false, gracePeriod: false }, { concurrency_limit: { limit: 2, collision_strategy: 'CANCEL_NEW' as const } }, { global_concurrency_limit: { limit: 2 } }],
    ['grace period before 3.6.6', { ...NEWEST_CAPABILITIES, gracePeriod: false }, { concurrency_limit: { limit: 2, collision_strategy: 'CANCEL_NEW' as const, grace_period_seconds: 300 } }, { global_concurrency_limit: { limit: 2 }, concurrency_options: { collision_strategy: 'CANCEL_NEW', grace_period_seconds: null } }],
  ])('%s: no update (the warning comes from serverSupportIssues, before planning)', (_title, features, manifest, liveOverrides) => {
    const result = plan([desired({ name: 'd', ...(manifest as Partial<DeploymentManifest>) })], state(live('d', liveOverrides as Partial<LiveDeployment>)), { ...options, features });
    expect(result.actions).toEqual([]);
    expect(plan([desired({ name: 'd', ...(manifest as Partial<DeploymentManifest>) })], state(live('d', liveOverrides as Partial<LiveDeployment>)), options).summary.change).toBe(1);
  });
});

describe('plan: ignore_differences inside the PATCH', () => {
  it('an ignored queue keeps its live value when the pool changes', () => {
    const d = desired({ name: 'd', work_pool: { name: 'pool2' } }, { ignoreDifferences: ['/work_queue_name'] });
    const update = plan([d], state(live('d', { work_queue_name: 'etl' })), options).actions[0] as UpdateAction;
    expect(update.patch).toEqual({ work_pool_name: 'pool2', work_queue_name: 'etl' });
  });
});

describe('plan: automations left behind by a deployment deleted outside prefect-gitops', () => {
  const automation = (name: string, id = `a-${name}`) => ({ id, name, enabled: true, tags: [ownerTag(OWNER)], actions: [{ type: 'run-deployment', deployment_id: 'gone-1' }] });
  const withOrphans = (names: string[], ...deployments: LiveDeployment[]): LiveState => ({
    ...state(...deployments),
    automations: new Map(),
    orphanedAutomations: names.map((n) => ({ automation: automation(n), deploymentId: 'gone-1' })),
  });
  const trigger = { expect: ['acme.file.landed'] };

  it('deletes them with prune, as deletes of that automation (not of a deployment)', () => {
    const result = plan([desired({ name: 'd0' })], withOrphans(['old__automation_1'], live('d0')), options);
    expect(result.actions).toEqual([
      { kind: 'delete', key: 'automation "old__automation_1"', flowName: '', name: 'old__automation_1', id: 'a-old__automation_1', liveUpdated: '', lastUpdatedBy: null, orphanedAutomationOf: 'gone-1' },
    ]);
    expect(result.summary.delete).toBe(1);
  });

  it('keeps them without prune, with a warning that says how to remove them', () => {
    const result = plan([desired({ name: 'd0' })], withOrphans(['old__automation_1'], live('d0')), { ...options, prune: false });
    expect(result.actions).toEqual([]);
    expect(result.warnings).toEqual(['automation "old__automation_1" (a-old__automation_1) is orphaned: its deployment gone-1 was deleted outside prefect-gitops; apply --prune removes it']);
  });

  it('deletes one without prune when the plan re-creates a deployment with a trigger of that name, so there are not two', () => {
    const result = plan([desired({ name: 'd0', triggers: [trigger] })], withOrphans(['d0__automation_1', 'unrelated']), { ...options, prune: false });
    expect(result.actions.map((a) => `${a.kind}:${a.key}`)).toEqual(['create:etl/d0', 'delete:automation "d0__automation_1"']);
    expect(result.warnings).toHaveLength(1);
  });

  it('deletes none when a prune is refused', () => {
    const result = plan([], withOrphans(['old__automation_1'], live('d0')), options);
    expect(result.pruneRefused).not.toBeNull();
    expect(result.actions).toEqual([]);
  });
});

describe('plan: why an owned deployment is no longer declared', () => {
  const unread = [
    { file: 'deploy/.old/etl.yaml', why: 'is in a hidden folder (deploy/.old/) and is not read', names: ['d1'] },
    { file: 'deploy/legacy.yaml', why: 'is ignored by rule "legacy.yaml" in .gitopsignore and is not read', names: ['d2', 'other'] },
  ];

  it('attaches the skipped file that declares it to the delete', () => {
    const result = plan([desired({ name: 'd0' }), desired({ name: 'd3' })], state(live('d0'), live('d1'), live('d2'), live('d3')), { ...options, unread });
    const reasons = Object.fromEntries(result.actions.map((a) => [a.key, a.kind === 'delete' ? a.whyUndeclared : undefined]));
    expect(reasons).toEqual({
      'etl/d1': 'no longer declared: deploy/.old/etl.yaml, which declares it, is in a hidden folder (deploy/.old/) and is not read',
      'etl/d2': 'no longer declared: deploy/legacy.yaml, which declares it, is ignored by rule "legacy.yaml" in .gitopsignore and is not read',
    });
  });

  it('gives no reason when nothing skipped names it, and keeps the reason on orphans', () => {
    const result = plan([desired({ name: 'd0' })], state(live('d0'), live('d1'), live('gone')), { ...options, prune: false, unread });
    expect(result.orphans.map((o) => [o.key, o.whyUndeclared])).toEqual([
      ['etl/d1', expect.stringContaining('deploy/.old/etl.yaml, which declares it')],
      ['etl/gone', undefined],
    ]);
  });

  it('prefers a file read for its names over a file-name guess', () => {
    const guesses = [{ file: 'deploy/d1.yaml', why: 'is empty', names: ['d1'], emptied: true, guessed: true }, ...unread];
    const result = plan([desired({ name: 'd0' }), desired({ name: 'd2' }), desired({ name: 'd3' })], state(live('d0'), live('d1'), live('d2'), live('d3')), { ...options, unread: guesses });
    expect(result.actions).toEqual([expect.objectContaining({ kind: 'delete', key: 'etl/d1', whyUndeclared: expect.stringContaining('deploy/.old/etl.yaml') })]);
  });

  it('refuses the whole apply when a delete is explained by an emptied file, unless --allow-mass-delete', () => {
    const emptied = [{ file: 'deploy/etl.yaml', why: 'is now empty', names: ['d1'], emptied: true }];
    const refused = plan([desired({ name: 'd0' }), desired({ name: 'd2' }), desired({ name: 'new' })], state(live('d0'), live('d1'), live('d2')), { ...options, unread: emptied });
    expect(refused.pruneRefused).toBe('prune would delete etl/d1 (deploy/etl.yaml), declared in a manifest file that is now empty; nothing will be written; restore the file, or delete it to remove the deployment, or use --allow-mass-delete');
    expect(refused.orphans.map((o) => [o.key, o.reason, o.whyUndeclared])).toEqual([['etl/d1', 'prune-refused', 'no longer declared: deploy/etl.yaml, which declared it, is now empty']]);
    const allowed = plan([desired({ name: 'd0' }), desired({ name: 'd2' }), desired({ name: 'new' })], state(live('d0'), live('d1'), live('d2')), { ...options, unread: emptied, allowMassDelete: true });
    expect(allowed.pruneRefused).toBeNull();
    expect(allowed.actions.filter((a) => a.kind === 'delete').map((a) => a.key)).toEqual(['etl/d1']);
  });

  it('says a guessed source is only named like it', () => {
    const result = plan([desired({ name: 'd0' }), desired({ name: 'd2' })], state(live('d0'), live('d1'), live('d2')), { ...options, unread: [{ file: 'deploy/d1.yaml', why: 'is empty', names: ['d1'], emptied: true, guessed: true }], allowMassDelete: true });
    expect(result.actions).toEqual([expect.objectContaining({ whyUndeclared: 'no longer declared: deploy/d1.yaml, named like it, is empty' })]);
  });
});
