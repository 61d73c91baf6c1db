// The planner against what older Prefect 3.x servers accept (client.capabilities): what is sent,
// what is matched differently, and what is said in the plan before any write.
import { describe, expect, it } from 'vitest';
import { capabilitiesFor } from '../../src/prefect/capabilities.js';
import type { LiveDeployment } from '../../src/prefect/types.js';
import { plan, type LiveState } from '../../src/plan/plan.js';
import { driftReport } from '../../src/plan/drift.js';
import { ownerOf, ownerTag, PROTECTED_TAG } from '../../src/plan/ownership.js';
import type { CreateAction, PlanOptions, UpdateAction } from '../../src/plan/types.js';
import type { DeploymentManifest } from '../../src/manifests/types.js';
import { serverSupportIssues } from '../../src/plan/server-support.js';
import { desiredDeployment as desired, liveDeployment } from '../helpers/fixtures.js';

const OWNER = 'team-a';
const optionsFor = (version: string): PlanOptions => ({
  owner: OWNER,
  serverVersion: version,
  prune: true,
  maxDeletes: 10,
  maxDeleteRatio: 1,
  allowMassDelete: false,
  adoptAll: false,
  features: capabilitiesFor(version),
});

/** A deployment as a server without labels returns it: no labels at all, ownership only in the tags. */
const unlabelled = (name: string, tags: string[], overrides: Partial<LiveDeployment> = {}): LiveDeployment => {
  const { labels: _labels, ...rest } = liveDeployment(name, { tags, ...overrides }, null);
  return rest as LiveDeployment;
};
const tagState = (...deployments: LiveDeployment[]): LiveState => ({ deployments: new Map(deployments.map((d) => [`etl/${d.name}`, d])), ownership: 'tag' });

describe('ownership without labels (before Prefect 3.1.5): the owner tag', () => {
  it('reads the owner from the tag; the protected tag, trigger tags and two owner tags are not an owner', () => {
    expect(ownerOf(unlabelled('d', ['x', ownerTag(OWNER)]), 'tag')).toBe(OWNER);
    expect(ownerOf(unlabelled('d', [PROTECTED_TAG, 'prefect-gitops:trigger:abc']), 'tag')).toBeUndefined();
    expect(ownerOf(unlabelled('d', [ownerTag('a'), ownerTag('b')]), 'tag')).toBeUndefined();
    // Where labels exist the tag alone is not ownership (a UI edit of tags cannot forge it).
    expect(ownerOf(unlabelled('d', [ownerTag(OWNER)]), 'label')).toBeUndefined();
  });

  it.each(['3.0.11', '3.1.4'])('%s: a create sends no labels, only the owner tag', (version) => {
    const result = plan([desired({ name: 'd' })], tagState(), optionsFor(version));
    const create = result.actions[0] as CreateAction;
    expect(create.body).not.toHaveProperty('labels');
    expect(create.body.tags).toContain(ownerTag(OWNER));
  });

  it('3.1.5: a create carries the owner label', () => {
    const create = plan([desired({ name: 'd' })], { deployments: new Map() }, optionsFor('3.1.5')).actions[0] as CreateAction;
    expect(create.body.labels).toEqual({ 'prefect-gitops.owner': OWNER });
  });

  it('an owned deployment (by tag) compares equal and is pruned when no longer declared', () => {
    const result = plan([desired({ name: 'd' })], tagState(unlabelled('d', [ownerTag(OWNER)]), unlabelled('gone', [ownerTag(OWNER)])), optionsFor('3.0.11'));
    expect(result.unchanged).toEqual(['etl/d']);
    expect(result.actions.map((a) => `${a.kind} ${a.key}`)).toEqual(['delete etl/gone']);
  });

  it('a removed owner tag makes the deployment not ours: a conflict in the plan, unmanaged in drift, never pruned', () => {
    const live = tagState(unlabelled('d', ['someone-edited-tags']), unlabelled('other', []));
    const result = plan([desired({ name: 'd' })], live, optionsFor('3.0.11'));
    expect(result.actions).toEqual([]);
    expect(result.conflicts.map((c) => c.key)).toEqual(['etl/d']);
    const drift = driftReport(result, live, new Set(['etl']));
    expect(drift.unmanaged).toEqual([
      { key: 'etl/d', id: live.deployments.get('etl/d')!.id, owner: null, declared: true },
      { key: 'etl/other', id: live.deployments.get('etl/other')!.id, owner: null, declared: false },
    ]);
    expect(drift.hasDrift).toBe(true);
  });
});

const owned = (name: string, overrides: Partial<LiveDeployment> = {}): LiveDeployment => unlabelled(name, [ownerTag(OWNER)], overrides);
/** A schedule as a server without slugs returns it: no slug, no parameters. */
const slugless = (id: string, schedule: LiveDeployment['schedules'][number]['schedule']): LiveDeployment['schedules'][number] => {
  const { slug: _s, parameters: _p, ...rest } = { id, schedule, active: true, max_scheduled_runs: null, parameters: {}, slug: null };
  return rest as LiveDeployment['schedules'][number];
};

describe('schedules without slugs (before Prefect 3.2): matched by content', () => {
  it('creates send neither slug nor parameters', () => {
    const create = plan([desired({ name: 'd', schedules: [{ cron: '0 1 * * *' }, { interval: 3600 }] })], tagState(), optionsFor('3.1.15')).actions[0] as CreateAction;
    expect(create.schedules).toEqual([
      { schedule: { cron: '0 1 * * *', timezone: null, day_or: true }, active: true },
      { schedule: { interval: 3600, timezone: 'UTC' }, active: true },
    ]);
  });

  it('live schedules equal to declared ones (in any order) are unchanged: an empty plan', () => {
    const live = owned('d', { schedules: [slugless('b', { interval: 3600, anchor_date: '2026-01-01T00:00:00Z', timezone: 'UTC' }), slugless('a', { cron: '0 1 * * *', timezone: null, day_or: true })] });
    const result = plan([desired({ name: 'd', schedules: [{ cron: '0 1 * * *' }, { interval: 3600 }] })], tagState(live), optionsFor('3.1.15'));
    expect(result.actions).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  it('a changed schedule is matched by position and updated in place (its id kept), the equal one untouched', () => {
    const live = owned('d', { schedules: [slugless('old', { cron: '0 2 * * *', timezone: null, day_or: true }), slugless('keep', { cron: '0 1 * * *', timezone: null, day_or: true })] });
    const result = plan([desired({ name: 'd', schedules: [{ cron: '0 1 * * *' }, { cron: '0 3 * * *' }] })], tagState(live), optionsFor('3.1.15'));
    const update = result.actions[0] as UpdateAction;
    expect(update.scheduleOps).toEqual({ delete: [], update: [{ id: 'old', slug: 'cron-2', body: { schedule: { cron: '0 3 * * *', timezone: null, day_or: true }, active: true } }], create: [] });
    expect(update.changes.map((c) => c.field)).toEqual(['schedules[cron-2]']);
    expect(result.warnings).toEqual([]);
  });

  it('extra live schedules are deleted, missing ones created', () => {
    const live = owned('d', { schedules: [slugless('a', { cron: '0 2 * * *', timezone: null, day_or: true }), { ...slugless('b', { cron: '0 4 * * *', timezone: null, day_or: true }), created: '2027-01-01T00:00:00Z' }] });
    const result = plan([desired({ name: 'd', schedules: [{ cron: '0 4 * * *' }] })], tagState(live), optionsFor('3.1.15'));
    expect((result.actions[0] as UpdateAction).scheduleOps).toEqual({ delete: [{ id: 'a', slug: null }], update: [], create: [] });
  });

  it('clearing max_scheduled_runs recreates the schedule, and the plan says its id is not kept', () => {
    const live = owned('d', { schedules: [{ ...slugless('a', { cron: '0 2 * * *', timezone: null, day_or: true }), max_scheduled_runs: 5 }] });
    const result = plan([desired({ name: 'd', schedules: [{ cron: '0 2 * * *' }] })], tagState(live), optionsFor('3.1.15'));
    expect((result.actions[0] as UpdateAction).scheduleOps).toEqual({ delete: [{ id: 'a', slug: 'cron-1' }], update: [], create: [{ schedule: { cron: '0 2 * * *', timezone: null, day_or: true }, active: true }] });
    expect(result.warnings).toEqual([expect.stringContaining('its id is not kept')]);
  });

  it('3.2.0: slugs and parameters are sent', () => {
    const create = plan([desired({ name: 'd', schedules: [{ cron: '0 1 * * *', parameters: { a: 1 } }] })], { deployments: new Map() }, optionsFor('3.2.0')).actions[0] as CreateAction;
    expect(create.schedules[0]).toMatchObject({ slug: 'cron-1', parameters: { a: 1 } });
  });
});

describe('pull_steps and parameter_openapi_schema before Prefect 3.2: a POST upsert, schedules recreated', () => {
  it.each([
    ['pull_steps', { pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/x' } }] }],
    ['parameter_openapi_schema', { parameter_openapi_schema: { type: 'object', properties: { a: { type: 'integer' } } } }],
  ])('%s changed on 3.0.11', (_field, manifest) => {
    const live = owned('d', { schedules: [slugless('s1', { cron: '0 1 * * *', timezone: null, day_or: true })] });
    const result = plan([desired({ name: 'd', schedules: [{ cron: '0 1 * * *' }], ...(manifest as Partial<DeploymentManifest>) })], tagState(live), optionsFor('3.0.11'));
    const update = result.actions[0] as UpdateAction;
    expect(update.patch).toEqual({});
    expect(update.upsert).toMatchObject({ name: 'd', schedules: [], tags: [ownerTag(OWNER)] });
    expect(update.upsert).not.toHaveProperty('labels');
    expect(update.scheduleOps).toEqual({ delete: [], update: [], create: [{ schedule: { cron: '0 1 * * *', timezone: null, day_or: true }, active: true }] });
    expect(result.warnings).toEqual([expect.stringContaining('recreates its schedules')]);
  });

  it('3.2.0 PATCHes them', () => {
    const live = liveDeployment('d', {}, OWNER);
    const result = plan([desired({ name: 'd', pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/x' } }] })], { deployments: new Map([['etl/d', live]]) }, optionsFor('3.2.0'));
    const update = result.actions[0] as UpdateAction;
    expect(update.upsert).toBeUndefined();
    expect(update.patch).toEqual({ pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/x' } }] });
  });
});

describe('what the server cannot hold is reported before any write (serverSupportIssues)', () => {
  const at = (d: ReturnType<typeof desired>) => ({ ...d, fieldsAt: { 'schedules.0.parameters': { file: 'f.yaml', line: 7, column: 9 } } });
  it.each([
    ['3.1.15', { schedules: [{ cron: '0 1 * * *', parameters: { a: 1 } }] }, [['error', 'schedules[0].parameters', 'schedule parameters needs Prefect >= 3.2.0 (this server runs 3.1.15)']]],
    ['3.1.15', { schedules: [{ cron: '0 1 * * *', slug: 'nightly' }] }, [['warning', 'schedules[0].slug', 'schedule slugs needs Prefect >= 3.2.0']]],
    ['3.2.0', { schedules: [{ cron: '0 1 * * *', slug: 'nightly', parameters: { a: 1 } }] }, []],
    ['3.0.0', { concurrency_limit: { limit: 1, collision_strategy: 'CANCEL_NEW' } }, [['warning', 'concurrency_limit', 'collision_strategy needs Prefect >= 3.0.3']]],
    ['3.6.5', { concurrency_limit: { limit: 1, grace_period_seconds: 60 } }, [['warning', 'concurrency_limit', 'grace_period_seconds needs Prefect >= 3.6.6']]],
    ['3.4.14', { triggers: [{ enabled: true, match: { 'prefect.resource.id': 'x' }, expect: ['e'], schedule_after: 60 }] }, [['error', 'triggers[0]', "a trigger's schedule_after needs Prefect >= 3.4.15"]]],
    ['3.4.15', { triggers: [{ enabled: true, match: { 'prefect.resource.id': 'x' }, expect: ['e'], schedule_after: 60 }] }, []],
  ])('%s: %j', (version, manifest, expected) => {
    const issues = serverSupportIssues([at(desired({ name: 'd', ...(manifest as Partial<DeploymentManifest>) }))], capabilitiesFor(version), version);
    expect(issues.map((i) => [i.severity, i.path, i.message])).toEqual(expected.map(([severity, path, text]) => [severity, path, expect.stringContaining(text!)]));
  });

  it('an error points at the field (file:line:col)', () => {
    const [issue] = serverSupportIssues([at(desired({ name: 'd', schedules: [{ cron: '0 1 * * *', parameters: { a: 1 } }] }))], capabilitiesFor('3.1.15'), '3.1.15');
    expect(issue).toMatchObject({ file: 'f.yaml', line: 7, column: 9 });
  });
});
