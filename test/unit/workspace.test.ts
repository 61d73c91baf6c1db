// The workspace framework's pure parts (issue 13): documents by kind, the planner over kinds,
// ownership (tags, inventory), the prune safeguards over every kind, redaction of sensitive values.
import { describe, expect, it } from 'vitest';
import { parseYamlText } from '../../src/manifests/source.js';
import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import type { Plan } from '../../src/plan/types.js';
import { redact } from '../../src/render/redact.js';
import { renderPlanJson, renderPlanText } from '../../src/render/text.js';
import { renderPlanComment, renderPlanSummary } from '../../src/render/markdown.js';
import { planAnnotations } from '../../src/action/annotations.js';
import { splitByKind, validateWorkspaceDocuments } from '../../src/workspace/documents.js';
import { inventoryName } from '../../src/workspace/inventory.js';
import type { DesiredObject, InventoryEntry, KindContext, KindHandler, LiveObject } from '../../src/workspace/kind.js';
import { variableKind } from '../../src/workspace/kinds/variable.js';
import { ownerFromTags } from '../../src/workspace/ownership.js';
import { planWorkspace, withWorkspace, type WorkspaceLive } from '../../src/workspace/plan.js';

const OWNER = 'team-a';
const at = { file: 'w.yaml', line: 1, column: 1 };
const ctx = (inventory: InventoryEntry[] = []): KindContext => ({ owner: OWNER, features: NEWEST_CAPABILITIES, serverVersion: '3.8.8', inventory, desired: [], deploymentKeys: [] });

const variable = (name: string, value: unknown, extra: Partial<DesiredObject> = {}): DesiredObject => ({
  kind: 'variable',
  key: name,
  spec: { name, value: value as never },
  declaredAt: at,
  fieldsAt: {},
  adopt: false,
  sensitive: false,
  ...extra,
});
const liveVariable = (name: string, value: unknown, tags: string[], id = `id-${name}`): LiveObject => ({
  kind: 'variable',
  key: name,
  id,
  updated: '2026-01-01T00:00:00Z',
  raw: { id, name, value: value as never, tags },
  taggedOwner: ownerFromTags(tags),
});
const mineTags = [`prefect-gitops:${OWNER}`];
const live = (objects: LiveObject[], inventory: InventoryEntry[] = []): WorkspaceLive => ({ objects: new Map([['variable', objects]]), inventory });
const opts = (over: Partial<Parameters<typeof planWorkspace>[2]> = {}): Parameters<typeof planWorkspace>[2] => ({ owner: OWNER, prune: true, adoptAll: false, ctx: ctx(), handlers: [variableKind], ...over });

describe('planWorkspace: the variable kind', () => {
  it.each([
    ['absent: created with the owner tag', [], 'create', { name: 'v', value: 1, tags: [`prefect-gitops:${OWNER}`] }],
    ['ours and equal: unchanged (no write)', [liveVariable('v', 1, mineTags)], undefined, undefined],
    ['ours, value differs: one PATCH of the value', [liveVariable('v', 2, mineTags)], 'update', { value: 1 }],
    ['ours, an extra tag: the tags are PATCHed', [liveVariable('v', 1, [...mineTags, 'x'])], 'update', { tags: mineTags }],
  ])('%s', (_name, lives, action, body) => {
    const draft = planWorkspace([variable('v', 1)], live(lives), opts());
    expect(draft.writes.map((w) => w.action)[0]).toBe(action);
    expect(draft.writes[0]?.body).toEqual(body);
    expect(draft.unchanged.length).toBe(action ? 0 : 1);
  });

  it('an unowned variable is a conflict; gitops.adopt takes it (PATCH adds the owner tag); another owner\'s needs --adopt', () => {
    const lives = [liveVariable('free', 1, []), liveVariable('theirs', 1, ['prefect-gitops:team-b'])];
    const plain = planWorkspace([variable('free', 1), variable('theirs', 1)], live(lives), opts());
    expect(plain.conflicts.map((c) => [c.key, c.owner])).toEqual([['free', null], ['theirs', 'team-b']]);
    expect(plain.writes).toEqual([]);
    const adopt = planWorkspace([variable('free', 1, { adopt: true }), variable('theirs', 1, { adopt: true })], live(lives), opts());
    expect(adopt.writes.map((w) => [w.action, w.key, w.body])).toEqual([['adopt', 'free', { tags: mineTags }]]);
    expect(adopt.conflicts.map((c) => c.key)).toEqual(['theirs']);
    const all = planWorkspace([variable('free', 1), variable('theirs', 1)], live(lives), opts({ adoptAll: true }));
    expect(all.writes.map((w) => w.key)).toEqual(['free', 'theirs']);
  });

  it('prune deletes only owned, undeclared, unprotected variables; without prune they are orphans', () => {
    const lives = [liveVariable('old', 1, mineTags), liveVariable('kept', 1, [...mineTags, 'prefect-gitops:protected']), liveVariable('stranger', 1, []), liveVariable('theirs', 1, ['prefect-gitops:team-b'])];
    const draft = planWorkspace([], live(lives), opts());
    expect(draft.deletable.map((d) => d.key)).toEqual(['old']);
    expect(draft.orphans.map((o) => [o.key, o.reason])).toEqual([['kept', 'protected']]);
    expect(draft.owned).toBe(2);
    const off = planWorkspace([], live(lives), opts({ prune: false }));
    expect(off.deletable).toEqual([]);
    expect(off.orphans.map((o) => [o.key, o.reason])).toEqual([['kept', 'prune-disabled'], ['old', 'prune-disabled']]);
  });

  it('a sensitive variable: creates and changes show (sensitive), the body keeps the value for the apply; redact() hides it', () => {
    const draft = planWorkspace([variable('tok', 'new-secret', { sensitive: true })], live([liveVariable('tok', 'old-secret', [...mineTags, 'prefect-gitops:sensitive'])]), opts());
    expect(draft.writes[0]!.changes).toEqual([{ field: 'value', before: '(sensitive)', after: '(sensitive)' }]);
    expect(draft.writes[0]!.body).toEqual({ value: 'new-secret' });
    expect(JSON.stringify(redact(draft.writes))).not.toContain('secret');
    const created = planWorkspace([variable('tok', { pw: 'abc-secret' }, { sensitive: true })], live([]), opts());
    expect(JSON.stringify(created.writes[0]!.changes)).not.toContain('abc-secret');
    expect(created.writes[0]!.body?.tags).toContain('prefect-gitops:sensitive');
  });
});

describe('planWorkspace: inventory kinds and the hooks', () => {
  // A kind without tags: ownership is the inventory.
  const pools: KindHandler = {
    ...variableKind,
    kind: 'work-pool',
    order: 10,
    ownership: 'inventory',
    createBody: (o) => ({ name: o.key }),
    diff: () => null,
    forgetOnPrune: (l) => l.key === 'forget-me',
    holdDelete: (l, c) => (l.key === 'busy' && !c.deletingDeploymentIds.has('dep-1') ? ['used by 1 deployment'] : []),
  };
  const queues: KindHandler = { ...pools, kind: 'work-queue', order: 20, forgetOnPrune: () => false, holdDelete: () => [] };
  const pool = (key: string, id = `id-${key}`): LiveObject => ({ kind: 'work-pool', key, id, updated: null, raw: { name: key }, taggedOwner: null });
  const queue = (key: string): LiveObject => ({ ...pool(key), kind: 'work-queue' });

  it('owned = listed with the same id, or as an intent (null id) by key; another id of the same name is not ours', () => {
    const inventory: InventoryEntry[] = [
      { kind: 'work-pool', key: 'a', id: 'id-a' },
      { kind: 'work-pool', key: 'b', id: null },
      { kind: 'work-pool', key: 'c', id: 'old-id' },
    ];
    const wl: WorkspaceLive = { objects: new Map([['work-pool', [pool('a'), pool('b'), pool('c')]]]), inventory };
    const draft = planWorkspace([], wl, opts({ handlers: [pools], ctx: ctx(inventory) }));
    expect(draft.deletable.map((d) => d.key)).toEqual(['a', 'b']);
  });

  it('deletes run in reverse kind order (queues before pools); held deletes are orphans with the reason; forgotten ones leave the inventory', () => {
    const inventory: InventoryEntry[] = ['p1', 'busy', 'forget-me', 'gone'].map((key) => ({ kind: 'work-pool' as const, key, id: null }));
    inventory.push({ kind: 'work-queue', key: 'p1/q', id: null });
    const wl: WorkspaceLive = { objects: new Map([['work-pool', [pool('p1'), pool('busy'), pool('forget-me')]], ['work-queue', [queue('p1/q')]]]), inventory };
    const draft = planWorkspace([], wl, opts({ handlers: [pools, queues], ctx: ctx(inventory) }));
    expect(draft.deletable.map((d) => `${d.kind} ${d.key}`)).toEqual(['work-queue p1/q', 'work-pool p1']);
    expect(draft.orphans).toEqual([{ kind: 'work-pool', key: 'busy', id: 'id-busy', reason: 'held', notes: ['used by 1 deployment'] }]);
    expect(draft.forget).toEqual([{ kind: 'work-pool', key: 'forget-me' }, { kind: 'work-pool', key: 'gone' }]);
    const withDeploymentDelete = planWorkspace([], wl, opts({ handlers: [pools, queues], ctx: ctx(inventory), deletingDeploymentIds: new Set(['dep-1']) }));
    expect(withDeploymentDelete.deletable.map((d) => d.key)).toContain('busy');
  });

  it('creates and updates run in ascending kind order, each kind through its orderActions', () => {
    const reversed: KindHandler = { ...queues, orderActions: (actions) => [...actions].reverse() };
    const desired: DesiredObject[] = [
      { ...variable('q1', 0), kind: 'work-queue', key: 'p/q1' },
      { ...variable('q2', 0), kind: 'work-queue', key: 'p/q2' },
      { ...variable('p', 0), kind: 'work-pool', key: 'p' },
    ];
    const draft = planWorkspace(desired, { objects: new Map(), inventory: [] }, opts({ handlers: [pools, reversed] }));
    expect(draft.writes.map((w) => w.key)).toEqual(['p', 'p/q2', 'p/q1']);
  });
});

describe('withWorkspace: one plan, prune safeguards over every kind', () => {
  const base: Plan = {
    formatVersion: 1,
    owner: OWNER,
    environment: null,
    serverVersion: '3.8.8',
    actions: [{ kind: 'delete', key: 'f/d', flowName: 'f', name: 'd', id: 'dep', liveUpdated: '', lastUpdatedBy: null }],
    unchanged: ['f/e'],
    conflicts: [],
    orphans: [],
    pruneRefused: null,
    warnings: [],
    summary: { add: 0, change: 0, delete: 1, adopt: 0, unchanged: 1, conflicts: 0 },
  };
  const lives = ['a', 'b', 'c'].map((n) => liveVariable(n, 1, mineTags));
  const guard = { maxDeletes: 3, maxDeleteRatio: 1, allowMassDelete: false, declaredDeployments: 1, ownedDeployments: 2 };

  it('adds workspace actions and counts them in the summary', () => {
    const draft = planWorkspace([variable('a', 1), variable('n', 1)], live(lives), opts());
    const plan = withWorkspace(base, draft, guard);
    expect(plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual(['create n', 'delete b', 'delete c']);
    expect(plan.summary).toEqual({ add: 1, change: 0, delete: 3, adopt: 0, unchanged: 2, conflicts: 0 });
    expect(plan.pruneRefused).toBeNull();
  });

  it('max_deletes counts deployment and workspace deletes together: over it, every delete is held back and the apply refused', () => {
    const draft = planWorkspace([variable('n', 1)], live(lives), opts());
    const plan = withWorkspace(base, draft, guard);
    expect(plan.pruneRefused).toMatch(/prune would delete 4 objects \(1 deployments, 3 workspace objects\) > max_deletes 3/);
    expect(plan.actions).toEqual([]);
    expect(plan.orphans.map((o) => [o.key, o.reason])).toEqual([['f/d', 'prune-refused']]);
    expect(plan.workspace?.actions.map((a) => a.action)).toEqual(['create']);
    expect(plan.workspace?.orphans.map((o) => o.reason)).toEqual(['prune-refused', 'prune-refused', 'prune-refused']);
    expect(plan.summary.delete).toBe(0);
    expect(withWorkspace(base, draft, { ...guard, allowMassDelete: true }).pruneRefused).toBeNull();
  });

  it('nothing declared at all refuses a prune of workspace objects (the empty-directory guard)', () => {
    const draft = planWorkspace([], live(lives), opts());
    const plan = withWorkspace({ ...base, actions: [], summary: { ...base.summary, delete: 0 } }, draft, { ...guard, declaredDeployments: 0 });
    expect(plan.pruneRefused).toMatch(/the manifests declare nothing/);
  });
});

describe('workspace documents', () => {
  const parse = (text: string) => parseYamlText(text, 'ws.yaml').documents;

  it('kind: deployment and no kind stay deployments; an unknown kind is an error at its value', () => {
    const split = splitByKind(parse('name: a\nentrypoint: f.py:f\n---\nkind: deployment\nname: b\nentrypoint: f.py:f\n---\nkind: variable\nname: v\nvalue: 1\n---\nkind: secret-block\nname: x\n'));
    expect(split.deployments.map((d) => d.value)).toEqual([{ name: 'a', entrypoint: 'f.py:f' }, { name: 'b', entrypoint: 'f.py:f' }]);
    expect(split.workspace.length).toBe(1);
    expect(split.issues.map((i) => `${i.line}:${i.column} ${i.message}`)).toEqual([expect.stringMatching(/^12:7 unknown kind "secret-block"; known kinds: deployment, .*variable/)]);
  });

  it('checks the schema, gitops and the kind\'s rules at file:line:col, templating, duplicates naming both places', () => {
    const text = [
      'kind: variable\nname: a\nvalue: "{{ env.A }}"\n',
      'kind: variable\nname: a\nvalue: 2\n',
      'kind: variable\nname: Bad Name\nvalue: 1\nsecret: true\ngitops: {adopt: yes-please}\n',
      'kind: variable\nname: prefect-gitops-lock-x\nvalue: 1\n',
    ].join('---\n');
    const docs = splitByKind(parse(text)).workspace;
    const result = validateWorkspaceDocuments(docs, { env: { A: 'from-env' }, environments: [], owner: OWNER, deploymentKeys: [] });
    expect(result.objects.find((o) => o.key === 'a')?.spec.value).toBe('from-env');
    expect(result.issues).toHaveLength(5);
    expect(result.issues.map((i) => `${i.line}:${i.column} ${i.message}`)).toEqual(
      expect.arrayContaining([
        '6:7 duplicate variable "a": also declared at ws.yaml:1:1; a variable is declared once',
        expect.stringMatching(/^10:7 name "Bad Name" does not match/),
        expect.stringMatching(/^12:1 unknown key "secret"/),
        expect.stringMatching(/^13:17 gitops.adopt must be boolean/),
        expect.stringMatching(/^16:7 variable name "prefect-gitops-lock-x" is reserved/),
      ]),
    );
  });

  it('a name that looks like a secret is sensitive unless it says otherwise', () => {
    const docs = splitByKind(parse('kind: variable\nname: api_token\nvalue: x\n---\nkind: variable\nname: db_password\nvalue: x\nsensitive: false\n---\nkind: variable\nname: region\nvalue: x\n')).workspace;
    const { objects } = validateWorkspaceDocuments(docs, { env: {}, environments: [], owner: OWNER, deploymentKeys: [] });
    expect(objects.map((o) => [o.key, o.sensitive])).toEqual([['api_token', true], ['db_password', false], ['region', false]]);
    expect(objects.every((o) => !('sensitive' in o.spec))).toBe(true);
  });
});

describe('the owner\'s inventory', () => {
  it('is named like the apply lock, apart for owners whose slugs collide', () => {
    expect(inventoryName('team-a')).toBe('prefect-gitops-inventory-team-a');
    expect(inventoryName('Team.A')).toMatch(/^prefect-gitops-inventory-team-a-[0-9a-f]{8}$/);
  });
});

describe('every output shows workspace objects, sensitive values never', () => {
  const secretValue = 'very-secret-value-123';
  const plan = (): Plan => {
    const draft = planWorkspace(
      [variable('region', 'eu'), variable('tok', secretValue, { sensitive: true }), variable('free', 1)],
      live([liveVariable('region', 'us', mineTags), liveVariable('free', 1, []), liveVariable('old', 1, mineTags)]),
      opts(),
    );
    const base: Plan = { formatVersion: 1, owner: OWNER, environment: null, serverVersion: '3.8.8', actions: [], unchanged: [], conflicts: [], orphans: [], pruneRefused: null, warnings: [], summary: { add: 0, change: 0, delete: 0, adopt: 0, unchanged: 0, conflicts: 0 } };
    return withWorkspace(base, draft, { maxDeletes: 10, maxDeleteRatio: 1, allowMassDelete: false, declaredDeployments: 0, ownedDeployments: 0 });
  };

  it('text, JSON, PR comment, job summary and annotations', () => {
    const p = plan();
    const text = renderPlanText(p, { color: false });
    expect(text).toContain('+ variable "tok"');
    expect(text).toContain('~ variable "region"');
    expect(text).toContain('value: us -> eu');
    expect(text).toContain('- variable "old" will be deleted');
    expect(text).toContain('! variable "free"');
    expect(text).toContain('Plan: 1 to add, 1 to change, 1 to delete, 0 unchanged, 1 conflict.');
    const comment = renderPlanComment(p, { title: 'Plan', now: new Date(0) });
    expect(comment).toContain('`region`');
    expect(comment).toMatch(/1 workspace object will be deleted/);
    expect(comment).toMatch(/1 workspace conflict/);
    const summary = renderPlanSummary(p, { title: 'Plan', now: new Date(0) });
    expect(summary).toContain('`tok`');
    const annotations = planAnnotations(p, (f) => f, { secrets: [] });
    expect(annotations.map((a) => a.message)).toEqual(expect.arrayContaining(['variable "tok" will be created', expect.stringMatching(/^variable "free" already exists on the server/)]));
    for (const out of [text, renderPlanJson(p), comment, summary, JSON.stringify(annotations)]) expect(out).not.toContain(secretValue);
  });
});
