// The client's capability gates against what real Prefect servers say they accept: one trimmed
// OpenAPI document per matrix version in test/fixtures/openapi/ (scripts/openapi-fixtures.ts
// writes them from a running server of that version).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { capabilitiesFor, capabilitiesFromOpenApi, CAPABILITY_MIN_VERSION, FIXTURE_SCHEMAS, NOT_IN_OPENAPI, type OpenApiFixture } from '../../src/prefect/capabilities.js';

const DIR = new URL('../fixtures/openapi/', import.meta.url);
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(new URL(f, DIR), 'utf8')) as OpenApiFixture);

/** Every route the client sends to; none is gated, so every 3.x server must have them all. */
const CLIENT_PATHS = [
  '/admin/version',
  '/csrf-token',
  '/flows/',
  '/flows/filter',
  '/deployments/',
  '/deployments/filter',
  '/deployments/{id}',
  '/deployments/name/{flow_name}/{deployment_name}',
  '/deployments/{id}/schedules',
  '/deployments/{id}/schedules/{schedule_id}',
  '/automations/',
  '/automations/filter',
  '/automations/{id}',
  '/automations/owned-by/{resource_id}',
  '/automations/related-to/{resource_id}',
  '/variables/',
  '/variables/name/{name}',
  '/variables/{id}',
  '/work_pools/',
  '/work_pools/{name}',
  '/work_pools/{work_pool_name}/queues/{name}',
  '/flow_runs/count',
];

describe('capability gates agree with each version\'s own OpenAPI document', () => {
  it('has fixtures for the oldest and the newest 3.x the matrix runs, and for Prefect 2.19 and 2.20', () => {
    const versions = fixtures.map((f) => f.version);
    expect(versions).toContain('2.19.9');
    expect(versions).toContain('2.20.27');
    expect(versions).toContain('3.0.11');
    expect(versions).toContain('3.9.1');
  });

  it.each(fixtures.map((f) => [f.version, f] as const))('%s', (version, fixture) => {
    // Prefect 2 has no ConcurrencyOptions model at all (deployments there have no concurrency).
    const absent: readonly string[] = version.startsWith('2.') ? ['ConcurrencyOptions'] : [];
    for (const name of FIXTURE_SCHEMAS) expect(fixture.schemas[name], `${name} in the fixture`)[absent.includes(name) ? 'toBeUndefined' : 'toBeDefined']();
    const fromVersion: Record<string, boolean> = { ...capabilitiesFor(fixture.version) };
    for (const c of NOT_IN_OPENAPI) delete fromVersion[c];
    expect(fromVersion).toEqual(capabilitiesFromOpenApi(fixture));
  });

  it.each(fixtures.map((f) => [f.version, f] as const))('%s has every route the client uses', (_version, fixture) => {
    expect(CLIENT_PATHS.filter((p) => !fixture.paths.includes(p))).toEqual([]);
  });

  it('every gate is off on the oldest fixture and on on the newest (so each is really tested both ways)', () => {
    const byVersion = new Map(fixtures.map((f) => [f.version, capabilitiesFromOpenApi(f)]));
    const oldest = byVersion.get('2.19.9')!;
    const newest = byVersion.get('3.9.1')!;
    const gates = Object.keys(CAPABILITY_MIN_VERSION).filter((c) => !(NOT_IN_OPENAPI as readonly string[]).includes(c)) as (keyof typeof oldest)[];
    expect(gates.filter((c) => oldest[c])).toEqual([]);
    expect(Object.entries(newest).filter(([, on]) => !on)).toEqual([]);
  });
});
