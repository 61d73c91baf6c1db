import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import { describe, expect, it } from 'vitest';
import { liveDeployment } from '../helpers/fixtures.js';
import { parse, parseAllDocuments } from 'yaml';
import { exportManifests, type ExportDeployment, type ExportAutomation } from '../../src/export/export.js';
import type { DeploymentManifest, DesiredDeployment } from '../../src/manifests/types.js';
import { OWNER_LABEL, PROTECTED_TAG, ownerTag } from '../../src/plan/ownership.js';
import { plan } from '../../src/plan/plan.js';
import { automationBody, automationsByDeployment, desiredTriggers } from '../../src/plan/triggers.js';
import type { PlanOptions } from '../../src/plan/types.js';
import type { JsonObject, LiveDeployment, LiveSchedule } from '../../src/prefect/types.js';

const OWNER = 'team-a';
const FLOW = 'etl';

let ids = 0;
/** A deployment as Prefect 3.8 reads back one that prefect-gitops created with only name, entrypoint and pool. */
const live = (name: string, overrides: Partial<LiveDeployment> = {}, owner: string | null = OWNER): LiveDeployment =>
  liveDeployment(name, { parameter_openapi_schema: { type: 'object', properties: {} }, ...overrides }, owner);

function schedule(slug: string | null, spec: LiveSchedule['schedule'], extra: Partial<LiveSchedule> = {}): LiveSchedule {
  const n = ++ids;
  return { id: `s-${n}`, created: `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}Z`, schedule: spec, active: true, max_scheduled_runs: null, parameters: {}, slug, ...extra };
}

const entry = (l: LiveDeployment, automations: ExportAutomation[] = [], flowName = FLOW): ExportDeployment => ({ flowName, live: l, automations });

/** The automation Prefect reads back for a trigger prefect-gitops created: defaults filled in, ids added. */
function serverAutomation(deployment: LiveDeployment, spec: JsonObject, index: number, owner: string | null = OWNER, triggerOverrides: JsonObject = {}): ExportAutomation {
  const [trigger] = desiredTriggers(deployment.name, [...Array.from({ length: index }, () => ({})), spec]).slice(index);
  const body = automationBody(trigger!, deployment.id, owner ?? 'x');
  const sent = body.trigger as JsonObject;
  const defaults: JsonObject = sent.type === 'event' ? { match: {}, match_related: {}, after: [], expect: [], for_each: [], threshold: 1, within: 0 } : {};
  const expanded: JsonObject = { id: `t-${++ids}`, ...defaults, ...sent, ...triggerOverrides };
  const action = (body.actions as JsonObject[])[0]!;
  return {
    id: `a-${++ids}`,
    name: String(body.name),
    description: String(body.description),
    enabled: body.enabled === true,
    tags: owner ? (body.tags as string[]) : [],
    trigger: expanded,
    actions: [{ ...action, schedule_after: typeof action.schedule_after === 'number' ? action.schedule_after : 0 }],
    actions_on_trigger: [],
    actions_on_resolve: [],
  };
}

function onlyDocument(deployments: ExportDeployment[], adopt = false): { doc: Record<string, unknown>; content: string; notices: string[] } {
  const { files, notices } = exportManifests({ deployments }, { layout: 'per-deployment', adopt });
  expect(files).toHaveLength(1);
  return { doc: parse(files[0]!.content) as Record<string, unknown>, content: files[0]!.content, notices };
}

const planOptions: PlanOptions = {
  owner: OWNER,
  serverVersion: '3.8.8',
  prune: false,
  maxDeletes: 10,
  maxDeleteRatio: 0.5,
  allowMassDelete: false,
  adoptAll: false,
  features: NEWEST_CAPABILITIES,
};

/** Loads exported files the way a plan reads them (without templating, which they do not use) and plans them against `deployments`. */
function planExported(deployments: ExportDeployment[], layout: 'per-deployment' | 'per-flow' = 'per-flow', adopt = false) {
  const { files, notices } = exportManifests({ deployments }, { layout, adopt });
  const desired: DesiredDeployment[] = files.flatMap((f) =>
    parseAllDocuments(f.content).map((doc) => {
      const { gitops, ...manifest } = doc.toJS() as DeploymentManifest & { gitops?: { adopt?: boolean; protected?: boolean } };
      return {
        key: `${manifest.flow_name!}/${manifest.name}`,
        flowName: manifest.flow_name!,
        name: manifest.name,
        manifest,
        adopt: gitops?.adopt === true,
        protected: gitops?.protected === true,
        ignoreDifferences: [],
        declaredAt: { file: f.path, line: 1, column: 1 },
      };
    }),
  );
  const automations = deployments.flatMap((d) => d.automations).filter((a) => a.tags.includes(ownerTag(OWNER)));
  const result = plan(desired, { deployments: new Map(deployments.map((d) => [`${d.flowName}/${d.live.name}`, d.live])), automations: automationsByDeployment(automations) }, planOptions);
  return { result, files, notices };
}

describe('exportManifests: what a document says', () => {
  it('writes only name, flow_name, entrypoint and the pool when everything else is a default', () => {
    const { content, notices } = onlyDocument([entry(live('plain'))]);
    expect(content).toBe('name: plain\nflow_name: etl\nentrypoint: flows/etl.py:etl\nwork_pool:\n  name: pool\n');
    expect(notices.filter((n) => n.startsWith('etl/plain:'))).toEqual([]);
  });

  it.each([
    ['description null', { description: null }],
    ['version null', { version: null }],
    ['path null', { path: null }],
    ['only marker tags', { tags: [ownerTag(OWNER), 'prefect-gitops:someone-else'] }],
    ['parameters null', { parameters: null }],
    ['job_variables null', { job_variables: null }],
    ['parameter schema {}', { parameter_openapi_schema: {} }],
    ['parameter schema null', { parameter_openapi_schema: null }],
    ['pull_steps null', { pull_steps: null }],
    ['paused false', { paused: false }],
    ['queue "default"', { work_queue_name: 'default' }],
    ['no concurrency', { global_concurrency_limit: null, concurrency_options: null }],
  ] as const)('omits a server default: %s', (_title, overrides) => {
    const { doc } = onlyDocument([entry(live('d', overrides as Partial<LiveDeployment>))]);
    expect(Object.keys(doc)).toEqual(['name', 'flow_name', 'entrypoint', 'work_pool']);
    expect(doc.work_pool).toEqual({ name: 'pool' });
  });

  it('writes every key in one fixed order, and nothing the server adds', () => {
    const d = live('full', {
      description: 'Weekday refresh',
      version: '1.2.3',
      tags: ['etl', ownerTag(OWNER), 'customers'],
      parameters: { source: 'data/customers.json' },
      enforce_parameter_schema: false,
      parameter_openapi_schema: { type: 'object', properties: { source: { type: 'string', position: 0 } } },
      work_queue_name: 'urgent',
      job_variables: { image: 'acme/etl:1', env: { MODE: 'full' } },
      paused: true,
      global_concurrency_limit: { limit: 1 },
      concurrency_options: { collision_strategy: 'CANCEL_NEW', grace_period_seconds: 300 },
      pull_steps: [{ 'prefect.deployments.steps.git_clone': { repository: 'https://github.com/acme/pipelines.git', branch: 'main' } }],
      path: '/opt/flows',
      schedules: [schedule('weekday', { cron: '0 6 * * 1-5', timezone: 'Europe/Berlin', day_or: true })],
    });
    Object.assign(d, { status: 'READY', last_polled: '2026-01-01T00:00:00Z', work_queue_id: 'q-1', storage_document_id: null, created_by: null });
    const { doc, notices } = onlyDocument([entry(d)], true);
    expect(Object.keys(doc)).toEqual([
      'name',
      'flow_name',
      'entrypoint',
      'description',
      'version',
      'tags',
      'parameters',
      'enforce_parameter_schema',
      'parameter_openapi_schema',
      'work_pool',
      'schedules',
      'paused',
      'concurrency_limit',
      'pull',
      'path',
      'gitops',
    ]);
    expect(Object.keys(doc.work_pool as object)).toEqual(['name', 'work_queue_name', 'job_variables']);
    expect(doc.tags).toEqual(['etl', 'customers']);
    expect(doc.concurrency_limit).toEqual({ limit: 1, collision_strategy: 'CANCEL_NEW', grace_period_seconds: 300 });
    expect(doc.gitops).toEqual({ adopt: true });
    expect(JSON.stringify(doc)).not.toMatch(/"(id|created|updated|labels|status|last_polled|work_queue_id|flow_id)"/);
    expect(notices.filter((n) => n.includes('does not reproduce'))).toEqual([]);
  });

  it('writes an int concurrency limit without options, and an object when options exist', () => {
    expect(onlyDocument([entry(live('c', { global_concurrency_limit: { limit: 3 } }))]).doc.concurrency_limit).toBe(3);
    const withOptions = live('o', { global_concurrency_limit: { limit: 2 }, concurrency_options: { collision_strategy: 'ENQUEUE', grace_period_seconds: null } });
    expect(onlyDocument([entry(withOptions)]).doc.concurrency_limit).toEqual({ limit: 2, collision_strategy: 'ENQUEUE' });
  });

  it('marks a protected deployment, and adds adopt only when asked', () => {
    expect(onlyDocument([entry(live('p', { tags: [ownerTag(OWNER), PROTECTED_TAG] }))]).doc.gitops).toEqual({ protected: true });
    expect(onlyDocument([entry(live('p'))]).doc.gitops).toBeUndefined();
  });
});

describe('exportManifests: schedules', () => {
  const schedulesOf = (schedules: LiveSchedule[]): Record<string, unknown>[] => onlyDocument([entry(live('s', { schedules }))]).doc.schedules as Record<string, unknown>[];

  it('strips the DTSTART Prefect prepends to an rrule, and keeps one the author wrote', () => {
    expect(
      schedulesOf([
        schedule('r', { rrule: 'DTSTART:20200101T000000\nFREQ=WEEKLY;BYDAY=MO', timezone: 'UTC' }),
        schedule('own', { rrule: 'DTSTART:20240301T090000\nRRULE:FREQ=DAILY', timezone: 'Europe/Berlin' }),
      ]),
    ).toEqual([
      { slug: 'r', rrule: 'FREQ=WEEKLY;BYDAY=MO' },
      { slug: 'own', rrule: 'DTSTART:20240301T090000\nRRULE:FREQ=DAILY', timezone: 'Europe/Berlin' },
    ]);
  });

  it('writes whole intervals as integer seconds, with the anchor as an ISO string', () => {
    const { content, doc } = onlyDocument([
      entry(
        live('s', {
          schedules: [
            schedule('hourly', { interval: 3600.0, anchor_date: '2024-01-01T00:00:00Z', timezone: 'UTC' }),
            schedule('half', { interval: 0.5, anchor_date: '2026-11-21T22:46:20.849023Z', timezone: 'America/New_York' }),
          ],
        }),
      ),
    ]);
    expect(doc.schedules).toEqual([
      { slug: 'hourly', interval: 3600, anchor_date: '2024-01-01T00:00:00Z' },
      { slug: 'half', interval: 0.5, timezone: 'America/New_York', anchor_date: '2026-11-21T22:46:20.849023Z' },
    ]);
    expect(content).toContain('interval: 3600\n');
    expect(content).toContain('anchor_date: "2024-01-01T00:00:00Z"');
  });

  it('writes cron timezone, day_or, active, parameters and max_scheduled_runs only when they are not defaults', () => {
    expect(
      schedulesOf([
        schedule('a', { cron: '0 9 * * *', timezone: null, day_or: true }),
        schedule('b', { cron: '0 9 1 * 1', timezone: 'UTC', day_or: false }, { active: false, parameters: { n: 2 }, max_scheduled_runs: 5 }),
      ]),
    ).toEqual([
      { slug: 'a', cron: '0 9 * * *' },
      { slug: 'b', cron: '0 9 1 * 1', timezone: 'UTC', day_or: false, active: false, parameters: { n: 2 }, max_scheduled_runs: 5 },
    ]);
  });

  it('gives slugless schedules the slug the planner would, in creation order, never reusing a live slug', () => {
    const first = schedule(null, { cron: '0 1 * * *', timezone: null, day_or: true });
    const taken = schedule('cron-2', { cron: '0 2 * * *', timezone: null, day_or: true });
    const second = schedule(null, { cron: '0 3 * * *', timezone: null, day_or: true });
    const interval = schedule(null, { interval: 60, anchor_date: '2026-01-01T00:00:00Z', timezone: 'UTC' });
    const { doc, notices } = onlyDocument([entry(live('s', { schedules: [interval, second, taken, first] }))]);
    expect((doc.schedules as { slug: string }[]).map((s) => s.slug)).toEqual(['cron-1', 'cron-2', 'cron-2-2', 'interval-1']);
    expect(notices.some((n) => n.includes('schedules without a slug were given one (cron-1, cron-2-2, interval-1)'))).toBe(true);
  });
});

describe('exportManifests: triggers', () => {
  it('recovers the spec as written, so its fingerprint matches and the next plan leaves the automation alone', () => {
    const d = live('reactive');
    const specs: JsonObject[] = [
      { expect: ['prefect.flow-run.Completed'], match_related: { 'prefect.resource.role': 'flow', 'prefect.resource.name': 'upstream' }, parameters: { source: 'fresh' } },
      { name: 'late-file', enabled: false, posture: 'Proactive', match: { 'prefect.resource.id': 'acme.*' }, expect: ['acme.a', 'acme.b'], within: 60, threshold: 2 },
      { enabled: true, type: 'event', match: { 'prefect.resource.id': 'x' }, expect: ['x.y'], within: 0, schedule_after: 30, job_variables: { image: 'x' } },
    ];
    // The server reads set fields back in its own order.
    const automations = specs.map((s, i) => serverAutomation(d, s, i, OWNER, i === 1 ? { expect: ['acme.b', 'acme.a'] } : {}));
    const { doc, notices } = onlyDocument([entry(d, [...automations].reverse())]);
    const triggers = doc.triggers as JsonObject[];
    expect(triggers.map((t) => desiredTriggers('reactive', [t])[0]!.fingerprint).sort()).toEqual(desiredTriggers('reactive', specs).map((t) => t.fingerprint).sort());
    expect(triggers[0]).toEqual(specs[0]);
    expect(Object.keys(triggers[1]!)).toEqual(['name', 'enabled', 'posture', 'match', 'expect', 'threshold', 'within']);
    expect(notices.filter((n) => n.includes('trigger') || n.includes('does not reproduce'))).toEqual([]);
    expect(planExported([entry(d, automations)]).result.actions).toEqual([]);
  });

  it('recovers compound triggers, whose nested triggers carry their own defaults', () => {
    const d = live('combo');
    const spec: JsonObject = { type: 'compound', require: 'all', within: 3600, triggers: [{ match: { 'prefect.resource.id': 'a.*' }, expect: ['a.x'] }, { expect: ['a.y'], threshold: 1 }], job_variables: { env: { MODE: 'x' } } };
    const automation = serverAutomation(d, spec, 0);
    const expanded = automation.trigger!;
    const nested = (expanded.triggers as JsonObject[]).map((t) => ({ id: `t-${++ids}`, match: {}, match_related: {}, after: [], expect: [], for_each: [], threshold: 1, within: 0, ...t }));
    automation.trigger = { ...expanded, triggers: nested };
    const started = performance.now();
    const { doc, notices } = onlyDocument([entry(d, [automation])]);
    expect(doc.triggers).toEqual([spec]);
    expect(notices.filter((n) => n.includes('could not be written'))).toEqual([]);
    // The worst case (nothing matches) is bounded too.
    automation.tags = [...automation.tags.filter((t) => !t.startsWith('prefect-gitops:trigger:')), 'prefect-gitops:trigger:0000000000000000'];
    expect(onlyDocument([entry(d, [automation])]).notices).toContainEqual(expect.stringContaining('could not be written exactly'));
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('says so when a trigger cannot be reproduced exactly', () => {
    const d = live('t');
    const spec = { expect: ['a'], posture: 'Proactive', within: 5 };
    // The server raised `within` to its minimum for proactive triggers.
    const automation = serverAutomation(d, spec, 0, OWNER, { within: 10 });
    const { notices } = onlyDocument([entry(d, [automation])]);
    expect(notices).toContainEqual(expect.stringContaining('etl/t: trigger "t__automation_1" could not be written exactly'));
  });

  it('skips automations that are not deployment triggers, with a comment and a notice', () => {
    const d = live('x', {}, null);
    const trigger = serverAutomation(d, { expect: ['a'] }, 0, null);
    const two: ExportAutomation = { ...serverAutomation(d, { expect: ['b'] }, 1, null), name: 'notify-and-run', actions: [...trigger.actions, { type: 'send-notification' }] };
    const metric: ExportAutomation = { ...serverAutomation(d, { expect: ['c'] }, 2, null), name: 'metric', trigger: { type: 'metric', posture: 'Metric', metric: {} } };
    const { doc, content, notices } = onlyDocument([entry(d, [trigger, two, metric])], true);
    expect(doc.triggers).toEqual([{ expect: ['a'] }]);
    expect(content).toMatch(/^# not exported: automation "metric" \(its trigger type "metric" is not one prefect-gitops writes\)\n# not exported: automation "notify-and-run" \(it has 2 actions/);
    expect(notices).toContainEqual(expect.stringContaining('etl/x: not exported: automation "metric"'));
    expect(notices).toContainEqual(expect.stringContaining('adopting it replaces the automations the deployment owns'));
  });

  it('leaves out automations of an owned deployment that its owner did not make', () => {
    const d = live('o');
    const foreign = serverAutomation(d, { expect: ['a'] }, 0, null);
    const { doc, notices } = onlyDocument([entry(d, [foreign])]);
    expect(doc.triggers).toBeUndefined();
    expect(notices).toContainEqual(expect.stringContaining('not made by prefect-gitops for owner "team-a"'));
  });
});

describe('exportManifests: notices', () => {
  it('points at sensitive-looking values without redacting them', () => {
    const d = live('s', { job_variables: { env: { DB_PASSWORD: 'hunter2', MODE: 'x', API_TOKEN: '{{ prefect.blocks.secret.t }}' } }, parameters: { api_key: 'k' } });
    const { doc, notices } = onlyDocument([entry(d)]);
    expect((doc.work_pool as { job_variables: unknown }).job_variables).toEqual({ env: { DB_PASSWORD: 'hunter2', MODE: 'x', API_TOKEN: '{{ prefect.blocks.secret.t }}' } });
    expect(notices.filter((n) => n.includes('looks sensitive'))).toEqual([
      'etl/s: parameters.api_key looks sensitive and was written as it is; consider "{{ env.API_KEY }}" and setting API_KEY where you plan and apply',
      'etl/s: work_pool.job_variables.env.DB_PASSWORD looks sensitive and was written as it is; consider "{{ env.DB_PASSWORD }}" and setting DB_PASSWORD where you plan and apply',
    ]);
  });

  it('names a field the manifest cannot reproduce, and skips deployments a manifest cannot describe', () => {
    const { notices } = exportManifests(
      { deployments: [entry(live('opts', { concurrency_options: { collision_strategy: 'CANCEL_NEW', grace_period_seconds: null } })), entry(live('served', { entrypoint: null }))] },
      { layout: 'per-deployment', adopt: false },
    );
    expect(notices).toContainEqual('etl/opts: the exported manifest does not reproduce concurrency_options; the next plan shows it as a change');
    expect(notices).toContainEqual('etl/served: not exported: it has no entrypoint, which a manifest requires');
  });

  it('tells which owner manages exported deployments, and which need adopting', () => {
    const { notices } = exportManifests({ deployments: [entry(live('a')), entry(live('b', {}, null))] }, { layout: 'per-flow', adopt: false });
    expect(notices).toContainEqual(expect.stringMatching(/^1 deployment is managed by prefect-gitops owner "team-a" \(etl\/a\)/));
    expect(notices).toContainEqual(expect.stringMatching(/^1 deployment was not made by prefect-gitops \(etl\/b\)/));
  });

  it('quotes strings a YAML 1.1 reader (prefect deploy) would read as something else', () => {
    const { content, doc } = onlyDocument([entry(live('q', { tags: ['on', 'yes', '1:30', '2024-01-01', 'plain'], parameters: { n: 'no', y: 1 } }))]);
    expect(content).toContain('  - "on"\n  - "yes"\n  - "1:30"\n  - "2024-01-01"\n  - plain\n');
    expect(content).toContain('"n": "no"');
    expect(doc.parameters).toEqual({ n: 'no', y: 1 });
  });
});

describe('exportManifests: files', () => {
  const deployments = [entry(live('b')), entry(live('a')), entry(live('weird name!')), entry(live('x'), [], 'Other Flow'), entry(live('y'), [], 'other-flow')];

  it('writes one file per deployment under its flow, with safe and unique names', () => {
    const { files } = exportManifests({ deployments }, { layout: 'per-deployment', adopt: false });
    expect(files.map((f) => [f.path, f.deployments])).toEqual([
      ['deployments/Other-Flow/x.yaml', ['Other Flow/x']],
      ['deployments/etl/a.yaml', ['etl/a']],
      ['deployments/etl/b.yaml', ['etl/b']],
      ['deployments/etl/weird-name.yaml', ['etl/weird name!']],
      ['deployments/other-flow-2/y.yaml', ['other-flow/y']],
    ]);
  });

  it('writes one file per flow with a document per deployment, sorted by name', () => {
    const { files } = exportManifests({ deployments }, { layout: 'per-flow', adopt: false });
    const etl = files.find((f) => f.path === 'deployments/etl.yaml')!;
    expect(etl.deployments).toEqual(['etl/a', 'etl/b', 'etl/weird name!']);
    expect(parseAllDocuments(etl.content).map((d) => (d.toJS() as { name: string }).name)).toEqual(['a', 'b', 'weird name!']);
    expect(etl.content.split('\n').filter((l) => l === '---')).toHaveLength(2);
  });

  it('is deterministic: the same input gives the same bytes', () => {
    const one = exportManifests({ deployments }, { layout: 'per-flow', adopt: true });
    const two = exportManifests({ deployments: [...deployments].reverse() }, { layout: 'per-flow', adopt: true });
    expect(two).toEqual(one);
  });
});

describe('exportManifests: export then plan shows no change', () => {
  it('for a varied set of owned deployments', () => {
    const reactive = live('reactive');
    const deployments = [
      entry(live('plain')),
      entry(
        live('scheduled', {
          tags: ['b', ownerTag(OWNER), 'a'],
          parameters: { n: 1 },
          schedules: [
            schedule('daily', { cron: '0 9 * * *', timezone: 'Europe/Berlin', day_or: true }),
            schedule('interval-1', { interval: 3600.0, anchor_date: '2026-11-21T22:46:20.849023Z', timezone: 'UTC' }, { max_scheduled_runs: 3 }),
            schedule('rrule-1', { rrule: 'DTSTART:20200101T000000\nFREQ=WEEKLY;BYDAY=MO', timezone: 'America/New_York' }, { active: false, parameters: { n: 2 } }),
          ],
        }),
      ),
      entry(
        live('heavy', {
          description: 'd',
          version: 'v',
          path: '/opt',
          paused: true,
          enforce_parameter_schema: false,
          work_queue_name: 'urgent',
          job_variables: { env: { MODE: 'x' } },
          global_concurrency_limit: { limit: 2 },
          concurrency_options: { collision_strategy: 'CANCEL_NEW', grace_period_seconds: 120 },
          pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/tmp' } }],
          parameter_openapi_schema: { type: 'object', properties: { n: { type: 'integer' } } },
          tags: [ownerTag(OWNER), PROTECTED_TAG],
        }),
      ),
      entry(reactive, [serverAutomation(reactive, { expect: ['a.b'], parameters: { n: 3 } }, 0), serverAutomation(reactive, { name: 'named', expect: ['c'], enabled: false }, 1)]),
    ];
    for (const layout of ['per-flow', 'per-deployment'] as const) {
      const { result, notices } = planExported(deployments, layout);
      expect(result.actions).toEqual([]);
      expect(result.conflicts).toEqual([]);
      expect(result.unchanged).toHaveLength(deployments.length);
      expect(notices.filter((n) => n.includes('does not reproduce') || n.includes('could not be written'))).toEqual([]);
    }
  });

  it('for a deployment made outside prefect-gitops: an adoption', () => {
    const raw = live('raw', { schedules: [schedule(null, { cron: '0 1 * * *', timezone: null, day_or: true }), schedule(null, { interval: 600, anchor_date: '2026-01-01T00:00:00Z', timezone: 'UTC' })] }, null);
    const { result } = planExported([entry(raw)], 'per-flow', true);
    expect(result.actions.map((a) => a.kind)).toEqual(['adopt']);
  });
});
