import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import { describe, expect, it } from 'vitest';
import type { DeploymentManifest, DesiredDeployment } from '../../src/manifests/types.js';
import { ownerTag } from '../../src/plan/ownership.js';
import { plan, type LiveState } from '../../src/plan/plan.js';
import { automationBody, desiredTriggers } from '../../src/plan/triggers.js';
import type { Plan, PlanOptions } from '../../src/plan/types.js';
import type { JsonObject, LiveAutomation, LiveDeployment } from '../../src/prefect/types.js';
import { planFacts, shownChanges, warningText } from '../../src/render/facts.js';
import { renderPlanComment, renderPlanSummary } from '../../src/render/markdown.js';
import { renderPlanText } from '../../src/render/text.js';
import { desiredDeployment, liveDeployment, liveSchedule } from '../helpers/fixtures.js';

const OWNER = 'team-a';
const options: PlanOptions = {
  owner: OWNER,
  serverVersion: '3.8.8',
  prune: true,
  maxDeletes: 10_000,
  maxDeleteRatio: 1,
  allowMassDelete: false,
  adoptAll: false,
  features: NEWEST_CAPABILITIES,
};
const NOW = new Date('2026-11-23T12:00:00Z');

const desired = (manifest: Partial<DeploymentManifest> & { name: string }, extra: Partial<DesiredDeployment> = {}): DesiredDeployment =>
  desiredDeployment(manifest, { declaredAt: { file: `deployments/${manifest.name}.yaml`, line: 2, column: 1 }, ...extra });
const live = (name: string, overrides: Partial<LiveDeployment> = {}, owner: string | null = OWNER): LiveDeployment => liveDeployment(name, overrides, owner);
const state = (deployments: LiveDeployment[], automations?: Map<string, LiveAutomation[]>): LiveState => ({
  deployments: new Map(deployments.map((d) => [`etl/${d.name}`, d])),
  ...(automations ? { automations } : {}),
});
const text = (p: Plan, extra: Parameters<typeof renderPlanText>[1] extends infer O ? Partial<O> : never = {}): string => renderPlanText(p, { color: false, now: NOW, ...extra });
const schema = (properties: JsonObject, extra: JsonObject = {}): JsonObject => ({ title: 'Parameters', type: 'object', properties, ...extra });

describe('diffs over canonical (key-sorted) forms', () => {
  it('a mapping read back in another key order is no change at all', () => {
    const p = plan(
      [desired({ name: 'd', work_pool: { name: 'pool', job_variables: { image: 'acme/etl:1', mem_limit: '4Gi', env: { B: '2', A: '1' } } }, parameters: { y: 1, x: { b: 2, a: 1 } } })],
      state([live('d', { job_variables: { env: { A: '1', B: '2' }, mem_limit: '4Gi', image: 'acme/etl:1' }, parameters: { x: { a: 1, b: 2 }, y: 1 } })]),
      options,
    );
    expect(p.actions).toEqual([]);
    expect(p.unchanged).toEqual(['etl/d']);
  });

  it('a PATCH that only changed mem_limit shows only mem_limit, in the text plan and in markdown', () => {
    const p = plan(
      [desired({ name: 'd', work_pool: { name: 'pool', job_variables: { image: 'acme/etl:1', mem_limit: '8Gi', cpu: 2 } } })],
      state([live('d', { job_variables: { mem_limit: '4Gi', cpu: 2, image: 'acme/etl:1' } })]),
      options,
    );
    expect(p.actions.map((a) => a.kind)).toEqual(['update']);
    const diffLines = (t: string, row: RegExp): string[] => t.split('\n').filter((l) => row.test(l));
    expect(diffLines(text(p), /^ {8}[-+] /)).toEqual(['        - mem_limit: 4Gi', '        + mem_limit: 8Gi']);
    expect(diffLines(renderPlanSummary(p, { now: NOW }), /^[-+] /)).toEqual(['-  mem_limit: 4Gi', '+  mem_limit: 8Gi']);
  });

  it('adopting shows the parameter schema per parameter, with no keys that only moved', () => {
    const declared = schema({ n: { title: 'N', type: 'integer', default: 1 }, label: { title: 'Label', type: 'string', default: 'x' } }, { required: [] });
    // prefect deploy wrote the same schema in another key order, with another default for label.
    const fromDeploy: JsonObject = { required: [], properties: { label: { default: 'y', type: 'string', title: 'Label' }, n: { type: 'integer', default: 1, title: 'N' } }, type: 'object', title: 'Parameters' };
    const p = plan([desired({ name: 'd', parameter_openapi_schema: declared }, { adopt: true })], state([live('d', { parameter_openapi_schema: fromDeploy }, null)]), options);
    const [action] = p.actions;
    expect(action?.kind).toBe('adopt');
    if (action?.kind !== 'adopt') return;
    expect(shownChanges(action).filter((c) => c.field.startsWith('parameter_openapi_schema')).map((c) => [c.field, c.before, c.after])).toEqual([
      ['parameter_openapi_schema.properties.label', { default: 'y', title: 'Label', type: 'string' }, { default: 'x', title: 'Label', type: 'string' }],
    ]);
    const shown = text(p);
    expect(shown).toContain('    ~ parameter_openapi_schema.properties.label:\n        - default: y\n        + default: x\n          title: Label\n          type: string\n');
    expect(shown).not.toMatch(/[-+] (title|type|required|properties|n):/);
  });

  it('a create collapses the parameter schema to its parameters', () => {
    const p = plan([desired({ name: 'd', parameter_openapi_schema: schema({ a: { type: 'string' }, b: { type: 'integer' }, c: {}, d: {}, e: {} }) })], state([]), options);
    const shown = text(p);
    expect(shown).toContain('    + parameter_openapi_schema: 5 parameters (a, b, c, d, e)\n');
    expect(shown).not.toContain('type: integer');
    expect(renderPlanSummary(p, { now: NOW })).toContain('+parameter_openapi_schema: 5 parameters (a, b, c, d, e)');
  });
});

/** The automation Prefect reads back for a trigger prefect-gitops created: event defaults filled in. */
function serverAutomation(deployment: LiveDeployment, spec: JsonObject): LiveAutomation {
  const [trigger] = desiredTriggers(deployment.name, [spec]);
  const body = automationBody(trigger!, deployment.id, OWNER);
  return {
    id: `auto-${deployment.name}`,
    name: String(body.name),
    description: String(body.description),
    enabled: body.enabled === true,
    tags: body.tags as string[],
    trigger: { id: 't-1', match: {}, match_related: {}, after: [], expect: [], for_each: [], threshold: 1, within: 0, ...(body.trigger as JsonObject) },
    actions: [{ ...(body.actions as JsonObject[])[0]!, schedule_after: 0 }],
    actions_on_trigger: [],
    actions_on_resolve: [],
  };
}

describe('a changed trigger shows its changed fields, not a fingerprint', () => {
  const before: JsonObject = { name: 'on-landing', expect: ['acme.file.landed'], match: { 'prefect.resource.id': 'acme.bucket.raw' }, parameters: { mode: 'incremental' } };
  const after: JsonObject = { ...before, expect: ['acme.file.arrived'] };
  const d = live('reactive');
  const p = plan([desired({ name: 'reactive', triggers: [after] })], state([d], new Map([[d.id, [serverAutomation(d, before)]]])), options);

  it('in the plan value', () => {
    const [action] = p.actions;
    expect(action?.kind).toBe('update');
    expect(action?.kind === 'update' && action.changes).toEqual([
      { field: 'triggers', before: { 'on-landing': { expect: ['acme.file.landed'], match: { 'prefect.resource.id': 'acme.bucket.raw' }, parameters: { mode: 'incremental' } } }, after: { 'on-landing': { expect: ['acme.file.arrived'], match: { 'prefect.resource.id': 'acme.bucket.raw' }, parameters: { mode: 'incremental' } } } },
    ]);
  });

  it('in the text plan and the markdown', () => {
    const shown = text(p);
    expect(shown).toContain('        -     - acme.file.landed\n        +     - acme.file.arrived\n');
    expect(shown).not.toMatch(/fingerprint|[0-9a-f]{16}/);
    const md = renderPlanSummary(p, { now: NOW });
    expect(md).toContain('-      - acme.file.landed\n+      - acme.file.arrived');
    expect(md).not.toMatch(/fingerprint|[0-9a-f]{16}/);
  });
});

describe('one value style (YAML), multi-line strings as real lines', () => {
  const p = plan(
    [desired({ name: 'd', description: 'Loads the raw files.\nThen cleans them.\n', tags: ['etl', 'nightly'], parameters: { when: 'daily' } }), desired({ name: 'fresh', description: 'one\ntwo' })],
    state([live('d', { description: 'Loads the raw files.\nThen checks them.\n', parameters: { when: 'hourly' } })]),
    options,
  );
  const shown = text(p);

  it('prints no \\n escapes and no JSON quoting', () => {
    expect(shown).not.toContain('\\n');
    expect(shown).toContain('    + description: |-\n        one\n        two\n');
    expect(shown).toContain('    ~ description: |\n          Loads the raw files.\n        - Then checks them.\n        + Then cleans them.\n');
    expect(shown).toContain('    ~ parameters:\n        - when: hourly\n        + when: daily\n');
    expect(shown).toContain(`    ~ tags:\n        + - etl\n        + - nightly\n          - ${ownerTag(OWNER)}\n`);
    expect(shown).not.toMatch(/"[^"]*"/);
  });

  it('renders a representative text plan (snapshot)', () => {
    expect(shown).toMatchSnapshot();
  });
});

describe('the text plan states the same facts as the markdown', () => {
  const morning = { cron: '0 6 * * *', timezone: 'Europe/Berlin', day_or: true } as const;
  const names = Array.from({ length: 150 }, (_, i) => `d${String(i).padStart(3, '0')}`);
  const p = plan(
    [
      desired({ name: 'daily', schedules: [{ cron: '0 7 * * *', timezone: 'Europe/Berlin', slug: 'morning' }] }),
      ...names.map((name) => desired({ name, description: 'new' })),
    ],
    state([live('daily', { schedules: [liveSchedule('morning', morning)] }), ...names.map((name) => live(name, { description: 'old' }))]),
    options,
  );
  const scheduledRuns = Object.fromEntries([['etl/daily', 3], ...names.map((n) => [`etl/${n}`, 2])]);
  const shown = text(p, { scheduledRuns });
  const md = renderPlanSummary(p, { now: NOW, scheduledRuns });

  it('schedule previews: next runs before and after, runs in the next 7 days', () => {
    const lines = planFacts(p, { now: NOW }).actions.find((a) => a.schedules.length)!.schedules[0]!.lines;
    expect(lines).toEqual([
      'next runs before: Tue 2026-11-24 06:00 CET, Wed 2026-11-25 06:00 CET, Thu 2026-11-26 06:00 CET',
      'next runs after: Tue 2026-11-24 07:00 CET, Wed 2026-11-25 07:00 CET, Thu 2026-11-26 07:00 CET',
      'runs in the next 7 days: 7 -> 7',
    ]);
    for (const line of lines) {
      expect(shown).toContain(`      ${line}\n`);
      expect(md).toContain(`- ${line}\n`);
    }
  });

  it('scheduled-run warnings, repeated ones grouped, in both', () => {
    const warnings = planFacts(p, { now: NOW, scheduledRuns }).warnings;
    expect(warnings).toHaveLength(1);
    const plain = warningText(warnings[0]!, (k) => k);
    expect(plain).toBe(`151 deployments: updating deletes their future scheduled runs; Prefect's scheduler recreates them (303 scheduled runs now): etl/d000, etl/d001, etl/d002, etl/d003, etl/d004, etl/d005, etl/d006, etl/d007, etl/d008, etl/d009 and 141 more`);
    expect(shown).toContain(`Warning: ${plain}\n`);
    expect(shown.match(/scheduler recreates them/g)).toHaveLength(1);
    expect(md).toContain('151 deployments: updating deletes their future scheduled runs');
    expect(md.match(/scheduler recreates them/g)).toHaveLength(1);
    const comment = renderPlanComment(p, { now: NOW, scheduledRuns });
    expect(comment.match(/scheduler recreates them/g)).toHaveLength(1);
  });

  it('one deployment: "updating X deletes its N future scheduled runs"', () => {
    const one = plan([desired({ name: 'a', description: 'new' })], state([live('a', { description: 'old' })]), options);
    expect(text(one, { scheduledRuns: { 'etl/a': 4 } })).toContain("Warning: updating etl/a deletes its 4 future scheduled runs; Prefect's scheduler recreates them\n");
    expect(renderPlanSummary(one, { now: NOW, scheduledRuns: { 'etl/a': 4 } })).toContain("updating `etl/a` deletes its 4 future scheduled runs; Prefect's scheduler recreates them");
  });

  it("groups the planner's repeated per-deployment warnings", () => {
    const cleared = plan(
      ['a', 'b', 'c'].map((name) => desired({ name, work_pool: { name: 'pool', job_variables: {} } })),
      state(['a', 'b', 'c'].map((name) => live(name, { job_variables: { image: 'x' } }))),
      options,
    );
    expect(cleared.warnings).toHaveLength(3);
    const shownCleared = text(cleared);
    expect(shownCleared).toContain('Warning: 3 deployments: Prefect cannot clear job_variables to an empty mapping with an update; set the keys you want explicitly: etl/a, etl/b, etl/c\n');
    expect(renderPlanSummary(cleared, { now: NOW })).toContain('3 deployments: Prefect cannot clear job_variables to an empty mapping with an update; set the keys you want explicitly: `etl/a`, `etl/b`, `etl/c`');
  });
});
