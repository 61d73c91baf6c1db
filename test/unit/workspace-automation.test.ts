import { describe, expect, it } from 'vitest';
import { capabilitiesFor } from '../../src/prefect/capabilities.js';
import type { JsonObject } from '../../src/prefect/types.js';
import type { DesiredObject, KindContext, LiveObject } from '../../src/workspace/kind.js';
import { automationHandler, NAMES_KEY } from '../../src/workspace/kinds/automation.js';
import {
  automationBody,
  desiredFields,
  isStandaloneAutomation,
  minimalAction,
  nameReferences,
  normaliseTrigger,
  resolveAction,
  sameAction,
  sameTrigger,
  standaloneOwnerOf,
  standaloneOwnerTag,
} from '../../src/workspace/kinds/automation-spec.js';
import { ownerTag } from '../../src/plan/ownership.js';
import { FINGERPRINT_TAG } from '../../src/plan/triggers.js';

const at = { file: 'workspace/automations.yaml', line: 3, column: 1 };

function automation(spec: JsonObject, fieldsAt: DesiredObject['fieldsAt'] = {}): DesiredObject {
  return { kind: 'automation', key: String(spec.name), spec, declaredAt: at, fieldsAt, adopt: false, sensitive: false };
}

function context(overrides: Partial<KindContext> = {}): KindContext {
  return { owner: 'team-a', features: capabilitiesFor('3.8.8'), serverVersion: '3.8.8', inventory: [], desired: [], deploymentKeys: [], ...overrides };
}

const DEPLOYMENT_ID = '7a1c9a52-9d32-4a6c-8a56-0e9b2f1d4a10';
const POOL_ID = '0b8f6f2e-3c1d-4f4e-9a7b-5d6c7e8f9a0b';

/** What Prefect 3.8.8 answers for the automation `spec` made by createBody (read from a real server). */
function serverCopy(sent: JsonObject): JsonObject {
  const body = structuredClone(sent);
  const trigger = body.trigger as JsonObject;
  return {
    id: 'c0ffee00-0000-4000-8000-000000000001',
    name: body.name!,
    description: body.description!,
    enabled: body.enabled!,
    tags: body.tags ?? [],
    trigger: {
      type: 'event',
      id: 'c0ffee00-0000-4000-8000-000000000002',
      match: {},
      match_related: {},
      after: [],
      for_each: [],
      posture: 'Reactive',
      threshold: 1,
      within: 0.0,
      ...trigger,
      // Sets come back in the server's order.
      expect: [...((trigger.expect as string[]) ?? [])].reverse(),
    },
    actions: (body.actions as JsonObject[]).map((a) =>
      a.type === 'run-deployment' ? { source: 'selected', deployment_id: null, parameters: null, job_variables: null, schedule_after: 0.0, ...a } : a.type === 'change-flow-run-state' ? { name: null, message: null, force: false, ...a } : a,
    ),
    actions_on_trigger: [],
    actions_on_resolve: [],
  };
}

function live(raw: JsonObject, names: Record<string, string> = {}): LiveObject {
  const tags = (raw.tags as string[]) ?? [];
  return { kind: 'automation', key: String(raw.name), id: String(raw.id), updated: null, raw: { ...raw, [NAMES_KEY]: names }, taggedOwner: standaloneOwnerOf(tags) };
}

const failing: JsonObject = {
  name: 'rerun-on-failure',
  trigger: { match: { 'prefect.resource.id': 'prefect.flow-run.*' }, expect: ['prefect.flow-run.Failed', 'prefect.flow-run.Crashed'] },
  actions: [
    { type: 'run-deployment', deployment: 'etl/nightly', parameters: { rerun: true } },
    { type: 'change-flow-run-state', state: 'CANCELLED' },
  ],
};

describe('automation markers', () => {
  it('are distinct from the deployment trigger markers', () => {
    expect(standaloneOwnerTag('team-a')).toBe('prefect-gitops:automation:team-a');
    expect(standaloneOwnerTag('team-a')).not.toBe(ownerTag('team-a'));
    expect(isStandaloneAutomation({ tags: [ownerTag('team-a'), `${FINGERPRINT_TAG}abc`] })).toBe(false);
    expect(isStandaloneAutomation({ tags: [standaloneOwnerTag('team-a')] })).toBe(true);
    expect(standaloneOwnerOf([ownerTag('team-a')])).toBeNull();
    expect(standaloneOwnerOf([standaloneOwnerTag('a'), standaloneOwnerTag('b')])).toBeNull();
  });
});

describe('name references', () => {
  it('are found in every action list and resolved to source: selected and the id', () => {
    const spec = { ...failing, actions_on_resolve: [{ type: 'resume-work-pool', work_pool: 'k8s' }] };
    expect(nameReferences(spec)).toEqual([
      { ref: 'deployment:etl/nightly', target: 'deployment', name: 'etl/nightly', path: 'actions[0].deployment' },
      { ref: 'work-pool:k8s', target: 'work-pool', name: 'k8s', path: 'actions_on_resolve[0].work_pool' },
    ]);
    expect(resolveAction({ type: 'run-deployment', deployment: 'etl/nightly' }, { 'deployment:etl/nightly': DEPLOYMENT_ID })).toEqual({ type: 'run-deployment', source: 'selected', deployment_id: DEPLOYMENT_ID });
    expect(resolveAction({ type: 'pause-work-pool', work_pool: 'k8s' }, { 'work-pool:k8s': POOL_ID })).toEqual({ type: 'pause-work-pool', source: 'selected', work_pool_id: POOL_ID });
  });

  it('stay names in the body when the id is not known yet (created by the same apply)', () => {
    const body = automationHandler.createBody(automation(failing), context({ reference: { automation: { 'deployment:etl/nightly': null } } }));
    expect((body.actions as JsonObject[])[0]).toEqual({ type: 'run-deployment', source: 'selected', deployment: 'etl/nightly', parameters: { rerun: true } });
  });
});

describe('automation bodies', () => {
  it('carry the owner marker as a tag from Prefect 3.4.7, else on the description\'s last line', () => {
    const fields = desiredFields('x', { description: 'why', tags: ['ops'], trigger: { expect: ['a'] }, actions: [{ type: 'do-nothing' }] }, 'team-a', {});
    expect(automationBody(fields, true)).toMatchObject({ description: 'why', tags: ['ops', 'prefect-gitops:automation:team-a'] });
    const old = automationBody(desiredFields('x', { trigger: { expect: ['a'] }, actions: [{ type: 'do-nothing' }] }, 'team-a', {}), false);
    expect(old.tags).toBeUndefined();
    expect(old.description).toBe('prefect-gitops-tags: ["prefect-gitops:automation:team-a"]');
  });

  it('infer the trigger type and fill a Proactive trigger\'s minimum within, as the server does', () => {
    expect(normaliseTrigger({ expect: ['a'] })).toEqual({ type: 'event', posture: 'Reactive', expect: ['a'] });
    expect(normaliseTrigger({ posture: 'Proactive', expect: ['a'] })).toMatchObject({ type: 'event', within: 10 });
    expect(normaliseTrigger({ require: 'all', within: 60, triggers: [{ posture: 'Proactive', expect: ['b'], within: 0 }] })).toMatchObject({ type: 'compound', triggers: [{ type: 'event', within: 10 }] });
  });
});

describe('comparing with the server\'s copy', () => {
  it('finds no difference in server defaults, generated ids, float durations or set order', () => {
    const ctx = context({ reference: { automation: { 'deployment:etl/nightly': DEPLOYMENT_ID } } });
    const object = automation(failing);
    const copy = serverCopy(automationHandler.createBody(object, ctx));
    expect(automationHandler.diff(object, live(copy), ctx)).toBeNull();
  });

  it.each([
    ['a changed threshold', (c: JsonObject) => ((c.trigger as JsonObject).threshold = 3), 'trigger'],
    ['a field removed from the manifest (live keeps its old non-default value)', (c: JsonObject) => ((c.trigger as JsonObject).within = 60), 'trigger'],
    ['a label added to match in the UI', (c: JsonObject) => (((c.trigger as JsonObject).match as JsonObject).extra = 'x'), 'trigger'],
    ['another deployment', (c: JsonObject) => (((c.actions as JsonObject[])[0]!).deployment_id = POOL_ID), 'actions'],
    ['a parameter added', (c: JsonObject) => ((((c.actions as JsonObject[])[0]!).parameters as JsonObject).more = 1), 'actions'],
    ['an action added', (c: JsonObject) => (c.actions as JsonObject[]).push({ type: 'do-nothing' }), 'actions'],
    ['a forced state change', (c: JsonObject) => (((c.actions as JsonObject[])[1]!).force = true), 'actions'],
    ['disabled in the UI', (c: JsonObject) => (c.enabled = false), 'enabled'],
    ['a description edit', (c: JsonObject) => (c.description = 'edited'), 'description'],
    ['a tag added in the UI', (c: JsonObject) => (c.tags as string[]).push('ui'), 'tags'],
  ])('finds %s', (_what, edit, field) => {
    const ctx = context({ reference: { automation: { 'deployment:etl/nightly': DEPLOYMENT_ID } } });
    const object = automation(failing);
    const body = automationHandler.createBody(object, ctx);
    const copy = serverCopy(body);
    edit(copy);
    const diff = automationHandler.diff(object, live(copy, { [DEPLOYMENT_ID]: 'etl/nightly' }), ctx);
    expect(diff?.changes.map((c) => c.field)).toEqual([field]);
    // An update PUTs the whole automation.
    expect(diff?.body).toEqual(body);
  });

  it('shows the actions as the manifest writes them: names, not ids, without defaults', () => {
    const ctx = context({ reference: { automation: { 'deployment:etl/nightly': DEPLOYMENT_ID } } });
    const object = automation(failing);
    const copy = serverCopy(automationHandler.createBody(object, ctx));
    (copy.actions as JsonObject[])[0]!.parameters = { rerun: false };
    const diff = automationHandler.diff(object, live(copy, { [DEPLOYMENT_ID]: 'etl/nightly' }), ctx)!;
    expect(diff.changes).toEqual([
      {
        field: 'actions',
        before: [{ type: 'run-deployment', deployment: 'etl/nightly', parameters: { rerun: false } }, { type: 'change-flow-run-state', state: 'CANCELLED' }],
        after: failing.actions,
      },
    ]);
  });

  it('is a difference while a named deployment has no id yet', () => {
    const object = automation(failing);
    const copy = serverCopy(automationHandler.createBody(object, context({ reference: { automation: { 'deployment:etl/nightly': DEPLOYMENT_ID } } })));
    const diff = automationHandler.diff(object, live(copy), context({ reference: { automation: { 'deployment:etl/nightly': null } } }));
    expect(diff?.changes.map((c) => c.field)).toEqual(['actions']);
  });

  it('compares sets in any order and an empty match_related of either shape', () => {
    expect(sameTrigger({ type: 'event', expect: ['a', 'b'], match_related: [] }, { type: 'event', expect: ['b', 'a'], match_related: {} })).toBe(true);
    expect(sameTrigger({ type: 'event', expect: ['a'] }, { type: 'event', expect: ['a', 'b'] })).toBe(false);
    expect(sameTrigger({ type: 'event' }, { type: 'compound' })).toBe(false);
    expect(sameAction({ type: 'call-webhook', block_document_id: POOL_ID }, { type: 'call-webhook', block_document_id: POOL_ID, payload: '' })).toBe(true);
    expect(sameAction({ type: 'send-notification', body: 'x' }, { type: 'send-notification', body: 'x', subject: 'Prefect automated notification' })).toBe(true);
    expect(sameAction({ type: 'send-notification', body: 'x' }, { type: 'send-notification', body: 'x', subject: 'custom' })).toBe(false);
  });
});

describe('export', () => {
  it('writes what plans empty: defaults left out, names for ids it knows', () => {
    const ctx = context({ reference: { automation: { 'deployment:etl/nightly': DEPLOYMENT_ID } } });
    const copy = serverCopy(automationHandler.createBody(automation(failing), ctx));
    const doc = automationHandler.exportDocument(live(copy, { [DEPLOYMENT_ID]: 'etl/nightly' }));
    expect(doc).toEqual({
      kind: 'automation',
      name: 'rerun-on-failure',
      trigger: { type: 'event', match: { 'prefect.resource.id': 'prefect.flow-run.*' }, expect: ['prefect.flow-run.Crashed', 'prefect.flow-run.Failed'], posture: 'Reactive' },
      actions: [
        { type: 'run-deployment', deployment: 'etl/nightly', parameters: { rerun: true } },
        { type: 'change-flow-run-state', state: 'CANCELLED' },
      ],
    });
    const { kind: _kind, ...spec } = doc;
    expect(automationHandler.diff(automation(spec), live(copy), ctx)).toBeNull();
  });

  it('keeps an id it cannot name', () => {
    expect(minimalAction({ type: 'pause-deployment', source: 'selected', deployment_id: DEPLOYMENT_ID }, {})).toEqual({ type: 'pause-deployment', deployment_id: DEPLOYMENT_ID });
  });
});

describe('automation validation', () => {
  const fieldsAt = { 'actions[0].deployment': { file: at.file, line: 9, column: 17 } };

  it('reports a name on an action that takes none, or given with the id or an inferred source', () => {
    const issues = automationHandler.validate(
      [
        automation({ name: 'a', trigger: {}, actions: [{ type: 'cancel-flow-run', deployment: 'etl/x' }] }, fieldsAt),
        automation({ name: 'b', trigger: {}, actions: [{ type: 'run-deployment', deployment: 'etl/x', deployment_id: DEPLOYMENT_ID }] }),
        automation({ name: 'c', trigger: {}, actions: [{ type: 'pause-work-pool', work_pool: 'p', source: 'inferred' }] }),
        automation({ name: 'd', trigger: {}, actions: [{ type: 'run-deployment', deployment: 'etl/x' }], tags: ['prefect-gitops:automation:other'] }),
        automation({ name: 'e', trigger: { posture: 'Proactive', within: 5 }, actions: [{ type: 'do-nothing' }] }),
      ],
      context({ deploymentKeys: ['etl/x'] }),
    );
    expect(issues.map((i) => [i.line, i.column, i.path, i.message])).toEqual([
      [9, 17, 'actions[0].deployment', expect.stringContaining('a cancel-flow-run action acts on no deployment')],
      [3, 1, 'actions[0].deployment', expect.stringContaining('not both')],
      [3, 1, 'actions[0].work_pool', expect.stringContaining('source: inferred')],
      [3, 1, 'tags[0]', expect.stringContaining('ownership markers')],
      [3, 1, 'trigger.within', expect.stringContaining('at least 10 seconds')],
    ]);
  });

  it('offline, reports a deployment or pool the manifests do not declare, and says the server was not asked', () => {
    const objects = [automation({ name: 'a', trigger: {}, actions: [{ type: 'run-deployment', deployment: 'etl/missing' }, { type: 'pause-work-pool', work_pool: 'declared-pool' }] }, fieldsAt)];
    const pool: DesiredObject = { kind: 'work-pool', key: 'declared-pool', spec: {}, declaredAt: at, fieldsAt: {}, adopt: false, sensitive: false };
    const issues = automationHandler.validate(objects, context({ offline: true, desired: [pool] }));
    expect(issues).toEqual([
      {
        file: at.file,
        line: 9,
        column: 17,
        path: 'actions[0].deployment',
        message: 'automation "a" names deployment "etl/missing", which these manifests do not declare; validated offline, so the server was not asked whether it exists (plan checks it there)',
        severity: 'error',
      },
    ]);
    // With a server the undeclared name is settled by planIssues instead.
    expect(automationHandler.validate(objects, context({ desired: [pool] }))).toEqual([]);
  });

  it('at plan time, reports a name neither declared nor on the server', () => {
    const objects = [automation({ name: 'a', trigger: {}, actions: [{ type: 'run-deployment', deployment: 'etl/missing' }, { type: 'run-deployment', deployment: 'etl/live' }, { type: 'run-deployment', deployment: 'etl/declared' }] }, fieldsAt)];
    const issues = automationHandler.planIssues(objects, [], context({ deploymentKeys: ['etl/declared'], reference: { automation: { 'deployment:etl/missing': null, 'deployment:etl/live': DEPLOYMENT_ID, 'deployment:etl/declared': null } } }));
    expect(issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.message}`)).toEqual([
      'workspace/automations.yaml:9:17: automation "a" names deployment "etl/missing", which is neither declared in these manifests nor on the server',
    ]);
  });

  it('refuses Prefect 2, tags before 3.4.7 and schedule_after before 3.4.15', () => {
    const objects = [automation({ name: 'a', tags: ['ops'], trigger: {}, actions: [{ type: 'run-deployment', source: 'inferred', schedule_after: 60 }] })];
    expect(automationHandler.serverIssues(objects, context({ serverVersion: '2.20.27', features: capabilitiesFor('2.20.27') }))[0]?.message).toContain('automations need Prefect 3');
    expect(automationHandler.serverIssues(objects, context({ serverVersion: '3.4.6', features: capabilitiesFor('3.4.6') })).map((i) => i.path)).toEqual(['tags', 'actions[0].schedule_after']);
    expect(automationHandler.serverIssues(objects, context({ serverVersion: '3.4.15', features: capabilitiesFor('3.4.15') }))).toEqual([]);
  });
});
