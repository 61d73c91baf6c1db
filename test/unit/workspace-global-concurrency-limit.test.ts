import { describe, expect, it } from 'vitest';
import { capabilitiesFor } from '../../src/prefect/capabilities.js';
import type { JsonObject } from '../../src/prefect/types.js';
import type { DesiredObject, KindContext, LiveObject } from '../../src/workspace/kind.js';
import { globalConcurrencyLimitHandler as handler, isDeploymentLimitName } from '../../src/workspace/kinds/global-concurrency-limit.js';

const at = { file: 'workspace/limits.yaml', line: 1, column: 1 };
const ctx: KindContext = { owner: 'team-a', features: capabilitiesFor('3.8.8'), serverVersion: '3.8.8', inventory: [], desired: [], deploymentKeys: [] };

function limit(spec: JsonObject, fieldsAt: DesiredObject['fieldsAt'] = {}): DesiredObject {
  return { kind: 'global-concurrency-limit', key: String(spec.name), spec, declaredAt: at, fieldsAt, adopt: false, sensitive: false };
}

/** A limit as GET /v2/concurrency_limits/{name} answers on 3.8.8. */
function live(fields: JsonObject): LiveObject {
  const raw: JsonObject = { id: '5f0c3f1e-1111-4222-8333-944445555666', created: '2026-11-28T20:45:42Z', updated: '2026-11-28T20:45:42Z', active: true, name: 'db', limit: 3, active_slots: 2, denied_slots: 7, slot_decay_per_second: 0.0, avg_slot_occupancy_seconds: 2.0, ...fields };
  return { kind: 'global-concurrency-limit', key: String(raw.name), id: String(raw.id), updated: String(raw.updated), raw, taggedOwner: null };
}

describe('global concurrency limits', () => {
  it('create with the declared fields and Prefect\'s defaults for the rest', () => {
    expect(handler.createBody(limit({ name: 'db', limit: 3 }), ctx)).toEqual({ name: 'db', limit: 3, active: true, slot_decay_per_second: 0 });
    expect(handler.createBody(limit({ name: 'api', limit: 10, slot_decay_per_second: 0.5, active: false }), ctx)).toEqual({ name: 'api', limit: 10, active: false, slot_decay_per_second: 0.5 });
  });

  it('see no difference in what the server keeps itself (slots in use, denied slots, occupancy)', () => {
    expect(handler.diff(limit({ name: 'db', limit: 3 }), live({}), ctx)).toBeNull();
    expect(handler.diff(limit({ name: 'db', limit: 3, active: true, slot_decay_per_second: 0 }), live({ active_slots: 0, denied_slots: 0 }), ctx)).toBeNull();
  });

  it.each([
    ['a new limit: only the limit is sent, so the slots in use are kept', { name: 'db', limit: 5 }, {}, { limit: 5 }],
    ['deactivated in the UI while the manifest leaves active out', { name: 'db', limit: 3 }, { active: false }, { active: true }],
    ['a decay rate', { name: 'db', limit: 3, slot_decay_per_second: 1.5 }, {}, { slot_decay_per_second: 1.5 }],
  ])('PATCH only what changed: %s', (_what, spec, liveFields, body) => {
    const diff = handler.diff(limit(spec), live(liveFields), ctx);
    expect(diff?.body).toEqual(body);
    expect(diff?.changes.map((c) => c.field)).toEqual(Object.keys(body));
  });

  it('refuse names of the shape Prefect gives a deployment\'s own limit', () => {
    expect(isDeploymentLimitName('deployment:7a1c9a52-9d32-4a6c-8a56-0e9b2f1d4a10')).toBe(true);
    const issues = handler.validate([limit({ name: 'deployment:nightly', limit: 1 }, { name: { file: at.file, line: 2, column: 7 } }), limit({ name: 'db', limit: 1 })], ctx);
    expect(issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.message}`)).toEqual([
      'workspace/limits.yaml:2:7: global concurrency limit "deployment:nightly": names starting with "deployment:" are the limits Prefect makes for a deployment\'s concurrency_limit; set concurrency_limit on the deployment instead, or choose another name',
    ]);
  });

  it('export what plans empty', () => {
    for (const fields of [{}, { active: false, slot_decay_per_second: 0.25, limit: 0 }] as JsonObject[]) {
      const doc = handler.exportDocument(live(fields));
      const { kind, ...spec } = doc;
      expect(kind).toBe('global-concurrency-limit');
      expect(handler.diff(limit(spec), live(fields), ctx)).toBeNull();
    }
    expect(handler.exportDocument(live({}))).toEqual({ kind: 'global-concurrency-limit', name: 'db', limit: 3 });
  });
});
