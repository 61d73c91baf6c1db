import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import { describe, expect, it } from 'vitest';
import { plan } from '../../src/plan/plan.js';
import { fingerprint, matchSavedPlan, toSavedPlan } from '../../src/plan/saved.js';
import type { PlanOptions } from '../../src/plan/types.js';
import { desiredDeployment, liveDeployment } from '../helpers/fixtures.js';

const options: PlanOptions = { owner: 'o', serverVersion: '3.8.8', prune: true, maxDeletes: 10, maxDeleteRatio: 0.5, allowMassDelete: false, adoptAll: false, features: NEWEST_CAPABILITIES };
const savedOptions = { prune: null, maxDeletes: null, allowMassDelete: false, adoptAll: false, owner: null, stepOutputs: {} };

describe('saved plans', () => {
  const live = liveDeployment('d', {}, 'o');
  const state = { deployments: new Map([['etl/d', live]]) };
  const planned = plan([desiredDeployment({ name: 'd', description: 'new' })], state, options);

  it('fingerprints what apply sends, not where the manifest declares it', () => {
    const moved = plan([desiredDeployment({ name: 'd', description: 'new' }, { declaredAt: { file: 'elsewhere.yaml', line: 40, column: 1 } })], state, options);
    expect(fingerprint(moved.actions[0]!)).toBe(fingerprint(planned.actions[0]!));
    const other = plan([desiredDeployment({ name: 'd', description: 'newer' })], state, options);
    expect(fingerprint(other.actions[0]!)).not.toBe(fingerprint(planned.actions[0]!));
  });

  it('applies unchanged entries and refuses one whose deployment moved on the server', () => {
    const saved = toSavedPlan(planned, planned, { manifests: 'm', now: new Date(0), options: savedOptions });
    expect(matchSavedPlan(saved, planned)).toMatchObject({ apply: planned.actions, stale: [] });
    const edited = { deployments: new Map([['etl/d', { ...live, updated: '2026-02-02T00:00:00Z', description: 'UI' }]]) };
    const fresh = plan([desiredDeployment({ name: 'd', description: 'new' })], edited, options);
    const matched = matchSavedPlan(saved, fresh);
    expect(matched.apply).toEqual([]);
    expect(matched.stale.map((s) => s.reason)).toEqual(['etl/d changed on the server since the plan (updated 2026-01-01T00:00:00Z, now 2026-02-02T00:00:00Z)']);
  });
});
