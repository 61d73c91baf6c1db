import { describe, expect, it } from 'vitest';
import { plan, type LiveState } from '../../src/plan/plan.js';
import { capabilitiesFor } from '../../src/prefect/capabilities.js';
import type { PlanOptions, UpdateAction } from '../../src/plan/types.js';
import type { LiveDeployment } from '../../src/prefect/types.js';
import {
  deploymentCreateForV2,
  deploymentFromV2,
  deploymentUpdateForV2,
  scheduleForV2,
  variableValueForV2,
  variableValueFromV2,
} from '../../src/prefect/v2.js';
import { serverSupportIssues } from '../../src/plan/server-support.js';
import { manifestFromLive } from '../../src/export/manifest.js';
import { desiredDeployment, liveDeployment, liveSchedule } from '../helpers/fixtures.js';

// What a real Prefect 2.20.27 server returns for a deployment prefect-gitops created (trimmed).
const V2_DEPLOYMENT = {
  id: 'd-1',
  created: '2026-11-28T17:25:24.320046+00:00',
  updated: '2026-11-28T17:25:24.317242+00:00',
  infra_overrides: { env: { A: '1' } },
  name: 'd1',
  version: null,
  description: null,
  flow_id: 'f-1',
  schedule: null,
  is_schedule_active: true,
  paused: false,
  schedules: [
    { id: 's-1', deployment_id: 'd-1', schedule: { cron: '0 * * * *', timezone: null, day_or: true }, active: true, max_active_runs: null, max_scheduled_runs: null, catchup: false },
  ],
  parameters: {},
  tags: ['x', 'prefect-gitops:o'],
  work_queue_name: 'default',
  parameter_openapi_schema: { type: 'object', properties: {} },
  path: null,
  pull_steps: [],
  entrypoint: 'flows/a.py:f',
  manifest_path: null,
  storage_document_id: null,
  infrastructure_document_id: null,
  work_pool_name: 'pp',
  enforce_parameter_schema: true,
};

describe('Prefect 2 dialect (src/prefect/v2.ts)', () => {
  it('reads a 2.x deployment in the 3.x shape: job_variables from infra_overrides, schedules without slug or parameters, no labels or concurrency', () => {
    const d = deploymentFromV2(V2_DEPLOYMENT);
    expect(d.job_variables).toEqual({ env: { A: '1' } });
    expect(d).not.toHaveProperty('infra_overrides');
    expect(d).not.toHaveProperty('is_schedule_active');
    expect(d.labels).toBeNull();
    expect(d.global_concurrency_limit).toBeNull();
    expect(d.concurrency_options).toBeNull();
    expect(d.schedules).toEqual([{ ...V2_DEPLOYMENT.schedules[0], slug: null, parameters: {} }]);
  });

  it('writes a create body 2.x accepts: no labels, no null concurrency fields; a concurrency value is a bug, not dropped', () => {
    const body = { name: 'd', flow_id: 'f', tags: ['prefect-gitops:o'], labels: { 'prefect-gitops.owner': 'o' }, concurrency_limit: null, job_variables: {} };
    expect(deploymentCreateForV2(body)).toEqual({ name: 'd', flow_id: 'f', tags: ['prefect-gitops:o'], job_variables: {} });
    expect(() => deploymentCreateForV2({ name: 'd', flow_id: 'f', concurrency_limit: 3 })).toThrow(/concurrency_limit/);
  });

  it('refuses to PATCH what 2.x can only write by upsert', () => {
    expect(deploymentUpdateForV2({ paused: true })).toEqual({ paused: true });
    expect(() => deploymentUpdateForV2({ pull_steps: [] })).toThrow(/pull_steps/);
    expect(() => deploymentUpdateForV2({ parameter_openapi_schema: {} })).toThrow(/parameter_openapi_schema/);
  });

  it('sends schedules without slug and (empty) parameters; non-empty parameters are a bug', () => {
    expect(scheduleForV2({ schedule: { cron: '0 * * * *', timezone: null, day_or: true }, active: true, slug: 'a', parameters: {} })).toEqual({
      schedule: { cron: '0 * * * *', timezone: null, day_or: true },
      active: true,
    });
    expect(() => scheduleForV2({ active: true, slug: 'a', parameters: { x: 1 } })).toThrow(/parameters/);
  });

  it('keeps JSON variable values as JSON text (2.x values are strings) and reads them back', () => {
    const holder = { owner: 'o', pid: 1 };
    expect(variableValueForV2(holder)).toBe('{"owner":"o","pid":1}');
    expect(variableValueFromV2(variableValueForV2(holder))).toEqual(holder);
    expect(variableValueForV2('plain')).toBe('plain');
    expect(variableValueFromV2('plain')).toBe('plain');
    expect(variableValueFromV2('{not json')).toBe('{not json');
  });
});

describe('features a Prefect 2 server lacks are errors at their field, before anything is planned', () => {
  const at = (line: number) => ({ file: 'deployments/etl.yaml', line, column: 1 });
  const d = desiredDeployment(
    { name: 'd', concurrency_limit: 2, triggers: [{ expect: ['x'] }], schedules: [{ cron: '0 * * * *' }, { cron: '0 1 * * *', parameters: { n: 2 } }, { cron: '0 2 * * *', parameters: {} }] },
    { fieldsAt: { concurrency_limit: at(5), 'triggers.0': at(9), 'schedules.1.parameters': at(7) } },
  );

  it('on 2.20: concurrency_limit, triggers and schedule parameters, each located', () => {
    const issues = serverSupportIssues([d], capabilitiesFor('2.20.27'), '2.20.27').sort((a, b) => a.line - b.line);
    expect(issues.map((i) => [i.line, i.path, i.severity])).toEqual([
      [5, 'concurrency_limit', 'error'],
      [7, 'schedules[1].parameters', 'error'],
      [9, 'triggers[0]', 'error'],
    ]);
    expect(issues[0]!.message).toContain('deployment concurrency limits needs Prefect >= 3.0.0 (this server runs 2.20.27)');
    expect(issues[2]!.message).toContain('PREFECT_EXPERIMENTAL_EVENTS');
  });

  it('on 3.x: none of these (3.0 has deployment concurrency; triggers are kept)', () => {
    expect(serverSupportIssues([d], capabilitiesFor('3.0.11'), '3.0.11').filter((i) => i.path !== 'schedules[1].parameters')).toEqual([]);
    expect(serverSupportIssues([d], capabilitiesFor('3.8.8'), '3.8.8')).toEqual([]);
  });
});

describe('a field PATCH cannot write is written by a POST upsert, and the plan says the schedules are recreated', () => {
  const OWNER = 'team-a';
  const base: PlanOptions = {
    owner: OWNER,
    serverVersion: '2.20.27',
    prune: true,
    maxDeletes: 10,
    maxDeleteRatio: 0.5,
    allowMassDelete: false,
    adoptAll: false,
    features: capabilitiesFor('2.20.27'),
  };
  const state = (...deployments: LiveDeployment[]): LiveState => ({ deployments: new Map(deployments.map((l) => [`etl/${l.name}`, l])), ownership: 'tag' });
  const pull = [{ 'prefect.deployments.steps.set_working_directory': { directory: '/x' } }];

  it.each([
    ['pull_steps', { pull }],
    ['parameter_openapi_schema', { parameter_openapi_schema: { type: 'object', properties: { n: { type: 'integer' } } } }],
  ] as const)('%s', (field, manifest) => {
    const live = liveDeployment('d', { schedules: [liveSchedule('cron-1', { cron: '0 1 * * *', timezone: null, day_or: true })] }, OWNER);
    const result = plan([desiredDeployment({ name: 'd', schedules: [{ cron: '0 1 * * *' }], ...manifest })], state(live), base);
    const update = result.actions[0] as UpdateAction;
    expect(update.changes.map((c) => c.field)).toEqual([field]);
    expect(update.patch).toEqual({});
    expect(update.upsert).toMatchObject({ name: 'd', schedules: [], tags: ['prefect-gitops:team-a'] });
    // What the client sends to 2.x: no ownership label (2.x has none), nothing 2.x rejects.
    expect(update.upsert).not.toHaveProperty('labels');
    expect(() => deploymentCreateForV2({ ...update.upsert!, name: 'd', flow_id: live.flow_id })).not.toThrow();
    expect(update.scheduleOps.create).toHaveLength(1);
    expect(update.scheduleOps.delete).toEqual([]);
    expect(result.warnings.join('\n')).toMatch(/written whole \(POST upsert\), which recreates its schedules/);
  });

  it('a server that PATCHes them (3.2+) gets a PATCH', () => {
    const result = plan([desiredDeployment({ name: 'd', pull })], state(liveDeployment('d', {}, OWNER)), { ...base, serverVersion: '3.8.8', features: capabilitiesFor('3.8.8') });
    const update = result.actions[0] as UpdateAction;
    expect(update.upsert).toBeUndefined();
    expect(update.patch).toEqual({ pull_steps: pull });
  });
});

describe('export to a server without schedule slugs (Prefect 2, 3.0/3.1)', () => {
  const live = deploymentFromV2(V2_DEPLOYMENT) as unknown as LiveDeployment;

  it('writes schedules without slugs and says nothing about giving them one', () => {
    const made = manifestFromLive('f', live, [], { adopt: false, ownership: 'tag', scheduleSlugs: false });
    expect(made.manifest.schedules).toEqual([{ cron: '0 * * * *' }]);
    expect(made.notices.filter((n) => n.includes('slug'))).toEqual([]);
  });

  it('where slugs are stored, a slugless schedule is given one, and the notice says so', () => {
    const made = manifestFromLive('f', live, [], { adopt: false, ownership: 'tag' });
    expect(made.manifest.schedules).toEqual([{ slug: 'cron-1', cron: '0 * * * *' }]);
    expect(made.notices.join('\n')).toContain('were given one (cron-1)');
  });
});
