import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { exportManifests, fetchForExport, type ExportOptions } from '../../src/export/export.js';
import { PrefectClient } from '../../src/prefect/client.js';
import { applyProject, ensurePool, makeProject, planProject, type Project } from '../helpers/gitops.js';
import { api, prefectApiUrl, uniqueName } from '../helpers/prefect.js';

const POOL = 'gitops-it-pool';
const OTHER_POOL = 'gitops-it-export-pool';

/** Exports the selection into a fresh directory with a config of the given owner; returns the directory and the notices. */
async function exportInto(owner: string, selection: Parameters<typeof fetchForExport>[1], options: ExportOptions): Promise<{ dir: string; notices: string[]; files: string[] }> {
  const client = await PrefectClient.connect({ apiUrl: prefectApiUrl() });
  const fetched = await fetchForExport(client, selection);
  expect(client.stats.writes).toBe(0);
  const { files, notices } = exportManifests(fetched, options);
  const dir = await mkdtemp(join(tmpdir(), 'gitops-exported-'));
  await writeFile(join(dir, 'prefect-gitops.yaml'), stringify({ owner }));
  for (const file of files) {
    await mkdir(dirname(join(dir, file.path)), { recursive: true });
    await writeFile(join(dir, file.path), file.content);
  }
  return { dir, notices, files: files.map((f) => f.path) };
}

const trigger = (event: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ match: { 'prefect.resource.id': 'acme.upstream.*' }, expect: [event], ...extra });

/** A varied set: every manifest key, each schedule kind with timezones, triggers of several shapes. */
const varied = (): Record<string, unknown>[] => [
  { name: 'plain', work_pool: { name: POOL } },
  {
    name: 'cron-daily',
    description: 'Weekday refresh\nof the customer list',
    version: '1.2.3',
    tags: ['etl', 'on', 'customers'],
    parameters: { n: 2, label: 'x' },
    work_pool: { name: POOL, work_queue_name: 'urgent', job_variables: { env: { MODE: 'full', REGION: 'eu' }, stream_output: true } },
    schedules: [
      { cron: '0 6 * * 1-5', timezone: 'Europe/Berlin' },
      { cron: '30 7 1 * 1', timezone: 'UTC', day_or: false, slug: 'monthly-ish', active: false },
      { cron: '0 12 * * *' },
    ],
    concurrency_limit: 3,
    pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/opt/flows' } }],
  },
  {
    name: 'interval-rrule',
    enforce_parameter_schema: false,
    parameter_openapi_schema: { type: 'object', properties: { n: { type: 'integer', position: 0 }, label: { type: 'string', position: 1 } } },
    work_pool: { name: OTHER_POOL },
    schedules: [
      { interval: 3600, anchor_date: '2024-01-01T00:00:00Z', timezone: 'America/New_York', max_scheduled_runs: 4, parameters: { label: 'hourly' } },
      { interval: 'PT90M' },
      { interval: 0.5, slug: 'fast' },
      { rrule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=8', timezone: 'America/New_York' },
      { rrule: 'DTSTART:20240301T090000\nRRULE:FREQ=DAILY;INTERVAL=2', timezone: 'Europe/Paris', slug: 'own-dtstart' },
    ],
    paused: true,
    concurrency_limit: { limit: 1, collision_strategy: 'CANCEL_NEW', grace_period_seconds: 300 },
    path: '/srv/app',
  },
  {
    name: 'reactive',
    work_pool: { name: POOL },
    concurrency_limit: { limit: 2, collision_strategy: 'ENQUEUE' },
    triggers: [
      trigger('acme.file.landed', { parameters: { label: 'landed' } }),
      trigger('acme.file.late', { name: 'late-file', enabled: false, posture: 'Proactive', within: 600, threshold: 2 }),
      { enabled: true, type: 'event', expect: ['acme.a', 'acme.b'], match_related: { 'prefect.resource.role': 'flow', 'prefect.resource.name': 'upstream' }, schedule_after: 30 },
      { type: 'compound', require: 'all', within: 3600, triggers: [trigger('acme.x'), { expect: ['acme.y'] }], job_variables: { env: { MODE: 'catch-up' } } },
    ],
    gitops: { protected: true },
  },
];

describe('export then plan shows no change', () => {
  let project: Project;

  beforeAll(async () => {
    await ensurePool(POOL);
    await ensurePool(OTHER_POOL);
    project = await makeProject('export');
    await project.write(varied());
    const applied = await applyProject(project.dir);
    expect(applied.result.ok).toBe(true);
    expect(applied.plan.summary.add).toBe(4);
  });

  it.each(['per-flow', 'per-deployment'] as const)('for deployments prefect-gitops made (%s layout)', async (layout) => {
    const exported = await exportInto(project.owner, { flowNames: [project.flow] }, { layout, adopt: false });
    expect(exported.files).toEqual(layout === 'per-flow' ? [`deployments/${project.flow}.yaml`] : ['cron-daily', 'interval-rrule', 'plain', 'reactive'].map((n) => `deployments/${project.flow}/${n}.yaml`));
    expect(exported.notices.filter((n) => n.includes('does not reproduce') || n.includes('could not be written'))).toEqual([]);
    const planned = await planProject(exported.dir);
    expect(planned.plan.actions).toEqual([]);
    expect(planned.plan.conflicts).toEqual([]);
    expect(planned.plan.orphans).toEqual([]);
    expect(planned.plan.unchanged).toHaveLength(4);
    expect(planned.writes).toBe(0);
  });

  it('selects by tag and by work pool', async () => {
    const byPool = await exportInto(project.owner, { flowNames: [project.flow], workPools: [OTHER_POOL] }, { layout: 'per-deployment', adopt: false });
    expect(byPool.files).toEqual([`deployments/${project.flow}/interval-rrule.yaml`]);
    const byTag = await exportInto(project.owner, { flowNames: [project.flow], tags: ['customers', 'nope'] }, { layout: 'per-deployment', adopt: false });
    expect(byTag.files).toEqual([`deployments/${project.flow}/cron-daily.yaml`]);
    // A partial export plans the rest of the owner's deployments as orphans, never as changes.
    const planned = await planProject(byTag.dir);
    expect(planned.plan.actions).toEqual([]);
    expect(planned.plan.unchanged).toEqual([`${project.flow}/cron-daily`]);
  });
});

describe('export with adopt, for a deployment made through the raw API', () => {
  it('plans one adoption; after apply the next plan is empty', async () => {
    await ensurePool(POOL);
    const flowName = uniqueName('export-raw-flow');
    const flow = await api<{ id: string }>('POST', '/flows/', { name: flowName });
    // As `prefect deploy` makes them: slugless schedules, an automation owned by the deployment.
    const deployment = await api<{ id: string }>('POST', '/deployments/', {
      name: 'handmade',
      flow_id: flow.id,
      entrypoint: 'flows/handmade.py:handmade',
      work_pool_name: POOL,
      description: 'made by hand',
      tags: ['manual', 'yes'],
      parameters: { n: 3 },
      job_variables: { env: { API_TOKEN: 'not-really-secret' } },
      paused: false,
      pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/opt' } }],
      schedules: [{ schedule: { cron: '0 1 * * *' } }, { schedule: { interval: 600, anchor_date: '2025-06-01T00:00:00Z' } }, { schedule: { rrule: 'FREQ=HOURLY', timezone: 'Europe/Berlin' } }],
    });
    await api('POST', '/automations/', {
      name: 'handmade__automation_1',
      trigger: { type: 'event', posture: 'Reactive', expect: ['acme.file.landed'], match: { 'prefect.resource.id': 'acme.*' } },
      actions: [{ type: 'run-deployment', source: 'selected', deployment_id: deployment.id, parameters: { n: 4 } }],
      owner_resource: `prefect.deployment.${deployment.id}`,
    });

    const owner = uniqueName('export-adopter');
    const exported = await exportInto(owner, { flowNames: [flowName] }, { layout: 'per-deployment', adopt: true });
    expect(exported.notices).toContainEqual(expect.stringContaining('schedules without a slug were given one (cron-1, interval-1, rrule-1)'));
    expect(exported.notices).toContainEqual(expect.stringContaining('work_pool.job_variables.env.API_TOKEN looks sensitive'));

    const first = await planProject(exported.dir);
    expect(first.plan.actions.map((a) => `${a.kind} ${a.key}`)).toEqual([`adopt ${flowName}/handmade`]);
    const applied = await applyProject(exported.dir);
    expect(applied.result.ok).toBe(true);
    const next = await planProject(exported.dir);
    expect(next.plan.actions).toEqual([]);
    expect(next.plan.unchanged).toEqual([`${flowName}/handmade`]);
    // Adoption replaced the deployment's own automation instead of adding a second one.
    const automations = await api<{ name: string; tags: string[] }[]>('GET', `/automations/related-to/prefect.deployment.${deployment.id}`);
    expect(automations.map((a) => [a.name, a.tags.includes(`prefect-gitops:${owner}`)])).toEqual([['handmade__automation_1', true]]);

    // Now owned: exporting it again (without adopt) still plans to no change.
    const again = await exportInto(owner, { flowNames: [flowName] }, { layout: 'per-flow', adopt: false });
    expect((await planProject(again.dir)).plan.actions).toEqual([]);
  });
});
