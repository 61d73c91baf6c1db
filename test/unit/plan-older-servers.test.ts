// The planner against what older Prefect 3.x servers accept (client.capabilities): what is sent,
// what is matched differently, and what is said in the plan before any write.
import { describe, expect, it } from 'vitest';
import { capabilitiesFor } from '../../src/prefect/capabilities.js';
import type { LiveDeployment } from '../../src/prefect/types.js';
import { plan, type LiveState } from '../../src/plan/plan.js';
import { driftReport } from '../../src/plan/drift.js';
import { ownerOf, ownerTag, PROTECTED_TAG } from '../../src/plan/ownership.js';
import type { CreateAction, PlanOptions } from '../../src/plan/types.js';
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
