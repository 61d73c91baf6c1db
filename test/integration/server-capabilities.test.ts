// What older Prefect 3.x servers lack, against the real server PREFECT_GITOPS_PREFECT_VERSION
// selects (default: the pinned version). Each test states what the version under test must do:
// the capability gates (src/prefect/capabilities.ts) decide which branch a server takes, and the
// first test checks those gates against the running server's own OpenAPI document.
import { beforeAll, describe, expect, it } from 'vitest';
import { capabilitiesFor, capabilitiesFromOpenApi, NOT_IN_OPENAPI, trimOpenApi, type OpenApiDocument, type ServerCapabilities } from '../../src/prefect/capabilities.js';
import { driftReport } from '../../src/plan/drift.js';
import { reconcile } from '../../src/reconcile.js';
import { silentLogger } from '../../src/log.js';
import type { UpdateAction } from '../../src/plan/types.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment, type ServerDeployment } from '../helpers/gitops.js';
import { api, fetchRetrying, prefectApiUrl, uniqueName } from '../helpers/prefect.js';

let version = '';
let caps: ServerCapabilities;
const pool = uniqueName('caps-pool');

beforeAll(async () => {
  version = await api<string>('GET', '/admin/version');
  caps = capabilitiesFor(version);
  await ensurePool(pool);
});

async function live(flow: string, name: string): Promise<ServerDeployment> {
  const d = await readDeployment(flow, name);
  if (!d) throw new Error(`${flow}/${name} is not on the server`);
  return d;
}

type Schedule = { id: string; schedule: Record<string, unknown>; parameters?: Record<string, unknown> };
const schedulesOf = (d: ServerDeployment): Schedule[] => d.schedules as unknown as Schedule[];

describe('capabilities of the server under test', () => {
  it('the gates agree with what this server\'s /api/openapi.json accepts', async () => {
    const doc = (await (await fetchRetrying(`${prefectApiUrl()}/openapi.json`)).json()) as OpenApiDocument;
    const expected: Record<string, boolean> = { ...caps };
    for (const c of NOT_IN_OPENAPI) delete expected[c];
    expect(capabilitiesFromOpenApi(trimOpenApi(doc, version))).toEqual(expected);
  });
});

describe('schedules', () => {
  it('an edited schedule is updated in place (id kept), one removed and one added; the next plan is empty', async () => {
    const project = await makeProject('caps-sched');
    const d = { name: 'd', work_pool: { name: pool } };
    await project.write([{ ...d, schedules: [{ cron: '0 1 * * *' }, { interval: 3600 }] }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const before = await live(project.flow, 'd');
    const cronId = schedulesOf(before).find((s) => 'cron' in s.schedule)!.id;

    await project.write([{ ...d, schedules: [{ cron: '0 5 * * *' }, { rrule: 'FREQ=WEEKLY;BYDAY=MO' }] }]);
    const planned = await planProject(project.dir);
    expect(planned.plan.actions.map((a) => a.kind)).toEqual(['update']);
    const applied = await applyProject(project.dir);
    expect(applied.result.ok, JSON.stringify(applied.result.results)).toBe(true);

    const after = schedulesOf(await live(project.flow, 'd'));
    expect(after.map((s) => s.schedule.cron ?? s.schedule.rrule ?? s.schedule.interval).sort()).toEqual(['0 5 * * *', expect.stringContaining('FREQ=WEEKLY;BYDAY=MO')].sort());
    // With slugs the cron schedule (slug cron-1) is edited in place; without, it is paired by position: kept as well.
    expect(after.find((s) => 'cron' in s.schedule)!.id).toBe(cronId);
    const again = await planProject(project.dir);
    expect(again.plan.actions).toEqual([]);
    expect(again.writes).toBe(0);
  });

  it('schedule parameters: stored from 3.2, refused at plan time before (nothing written)', async () => {
    const project = await makeProject('caps-params');
    await project.write([{ name: 'd', work_pool: { name: pool }, schedules: [{ cron: '0 1 * * *', parameters: { n: 2 } }] }]);
    if (caps.scheduleSlugs) {
      expect((await applyProject(project.dir)).result.ok).toBe(true);
      expect(schedulesOf(await live(project.flow, 'd'))[0]!.parameters).toEqual({ n: 2 });
      expect((await planProject(project.dir)).plan.actions).toEqual([]);
    } else {
      await expect(planProject(project.dir)).rejects.toThrow(`schedule parameters needs Prefect >= 3.2.0 (this server runs ${version})`);
      expect(await readDeployment(project.flow, 'd')).toBeUndefined();
    }
  });
});

describe('pull steps and the parameter schema', () => {
  it('a change converges (PATCH from 3.2, a POST upsert before, which the plan says recreates the schedules)', async () => {
    const project = await makeProject('caps-pull');
    const d = { name: 'd', work_pool: { name: pool }, schedules: [{ cron: '0 1 * * *' }] };
    await project.write([{ ...d, pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/a' } }] }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);

    await project.write([{ ...d, pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/b' } }] }]);
    const planned = await planProject(project.dir);
    const update = planned.plan.actions[0] as UpdateAction;
    if (caps.patchPullSteps) {
      expect(update.patch).toEqual({ pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/b' } }] });
    } else {
      expect(update.upsert).toBeDefined();
      expect(planned.plan.warnings).toEqual([expect.stringContaining('recreates its schedules')]);
    }
    const applied = await applyProject(project.dir);
    expect(applied.result.ok, JSON.stringify(applied.result.results)).toBe(true);
    const after = await live(project.flow, 'd');
    expect(after.pull_steps).toEqual([{ 'prefect.deployments.steps.set_working_directory': { directory: '/b' } }]);
    expect(schedulesOf(after).map((s) => s.schedule.cron)).toEqual(['0 1 * * *']);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });
});

describe('triggers', () => {
  it('created, planned empty, replaced when changed, deleted with their deployment (tags on the description before 3.4.7)', async () => {
    const project = await makeProject('caps-trig');
    const trigger = (event: string) => ({ enabled: true, expect: [event], match: { 'prefect.resource.id': 'acme.upstream.*' } });
    const keep = { name: 'keep', work_pool: { name: pool } };
    await project.write([keep, { name: 'd', work_pool: { name: pool }, triggers: [trigger('acme.one')] }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const d = await live(project.flow, 'd');
    const related = async (): Promise<{ id: string; tags?: string[]; description: string; trigger: { expect: string[] } }[]> => api('GET', `/automations/related-to/prefect.deployment.${d.id}`);
    const [first] = await related();
    expect(first!.trigger.expect).toEqual(['acme.one']);
    if (caps.automationTags) expect(first!.tags).toContain(`prefect-gitops:${project.owner}`);
    else expect(first!.description).toContain(`prefect-gitops-tags: ["prefect-gitops:${project.owner}"`);
    const empty = await planProject(project.dir);
    expect(empty.plan.actions).toEqual([]);
    expect(empty.writes).toBe(0);

    await project.write([keep, { name: 'd', work_pool: { name: pool }, triggers: [trigger('acme.two')] }]);
    const changed = await planProject(project.dir);
    expect((changed.plan.actions[0] as UpdateAction).changes.map((c) => c.field)).toEqual(['triggers']);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    expect((await related()).map((a) => a.trigger.expect)).toEqual([['acme.two']]);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);

    await project.write([keep]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    expect(await readDeployment(project.flow, 'd')).toBeUndefined();
    expect(await related()).toEqual([]);
  });
});

describe('ownership', () => {
  it('tags edited in the UI: with labels still ours (the tag comes back); without, the owner tag was the marker (a conflict, drift names it unmanaged)', async () => {
    const project = await makeProject('caps-own');
    await project.write([{ name: 'd', work_pool: { name: pool }, tags: ['t'] }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const d = await live(project.flow, 'd');
    if (caps.labels) expect(d.labels['prefect-gitops.owner']).toBe(project.owner);
    else expect(d.labels ?? {}).not.toHaveProperty('prefect-gitops.owner');
    await api('PATCH', `/deployments/${d.id}`, { tags: ['t'] });

    const r = await reconcile({ manifests: project.dir, cwd: process.cwd(), env: {}, client: { apiUrl: prefectApiUrl() }, allowMassDelete: false, adoptAll: false, logger: silentLogger() });
    const drift = driftReport(r.plan, r.live, new Set([project.flow]));
    if (caps.labels) {
      expect(r.plan.actions.map((a) => [a.kind, a.kind === 'update' ? a.changes.map((c) => c.field) : []])).toEqual([['update', ['tags']]]);
      expect((await applyProject(project.dir)).result.ok).toBe(true);
      expect((await live(project.flow, 'd')).tags).toContain(`prefect-gitops:${project.owner}`);
    } else {
      expect(r.plan.actions).toEqual([]);
      expect(r.plan.conflicts.map((c) => c.message)).toEqual([expect.stringContaining(`ownership is the owner tag "prefect-gitops:${project.owner}"`)]);
      expect(drift.unmanaged.map((u) => u.key)).toEqual([`${project.flow}/d`]);
      // Adoption takes it back.
      expect((await applyProject(project.dir, { adoptAll: true })).result.ok).toBe(true);
      expect((await planProject(project.dir)).plan.actions).toEqual([]);
    }
  });
});
