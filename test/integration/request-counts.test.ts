// Exact request and write counts against the real server, seen by a recording proxy in front of it:
// what a first apply, a no-op apply and a small change cost. No timings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { applyProject, ensurePool, makeProject, readDeployment } from '../helpers/gitops.js';
import { api, prefectApiUrl } from '../helpers/prefect.js';
import { capabilitiesFor } from '../../src/prefect/capabilities.js';

const POOL = 'gitops-it-pool';
let proxy: FaultProxy;
/** Servers before 3.2 drop schedule slugs on the create path: there schedules take their own POST. */
let inline = true;

beforeAll(async () => {
  await ensurePool(POOL);
  inline = capabilitiesFor(await api<string>('GET', '/admin/version')).scheduleSlugs;
  proxy = await startFaultProxy(prefectApiUrl());
});
afterAll(async () => {
  await proxy.close();
});

const READ = /\/(filter|count|paginate)\/?$/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * The writes the server carried out (answered 2xx), as `METHOD /route` with ids replaced by
 * `{id}`, counted. A busy SQLite answers some with 503 (rolled back, retried by the client): those
 * are not writes that happened, and the client's own counter counts each write once.
 */
function writes(requests: readonly ProxiedRequest[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of requests) {
    if (r.upstreamStatus === undefined || r.upstreamStatus >= 300) continue;
    const route = r.path.split('?')[0] ?? '';
    if (r.method === 'GET' || (r.method === 'POST' && READ.test(route))) continue;
    const key = `${r.method} ${route.replace(UUID, '{id}')}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

const deployment = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  description: `deployment ${name}`,
  work_pool: { name: POOL },
  schedules: [
    { cron: '0 6 * * *', timezone: 'Europe/Berlin', slug: 'morning' },
    { interval: 3600, anchor_date: '2024-01-01T00:00:00Z', slug: 'hourly' },
  ],
  ...extra,
});

/** Reads of one route (2xx answers only). */
const reads = (requests: readonly ProxiedRequest[], route: string): number =>
  requests.filter((r) => r.upstreamStatus !== undefined && r.upstreamStatus < 300 && r.path.split('?')[0] === route).length;

/** Long enough that no claim renewal (every third of it) falls inside a test on a slow machine. */
const claimTtlMs = 600_000;

describe('requests per deployment', () => {
  it('a create is one POST /deployments/ carrying its schedules (slugs kept); no-op apply writes nothing; a change is one PATCH per changed deployment or schedule', async () => {
    const project = await makeProject('counts');
    await project.write([deployment('a'), deployment('b'), deployment('c')]);

    proxy.reset();
    const first = await applyProject(project.dir, { apiUrl: proxy.apiUrl, claimTtlMs });
    expect(first.result.ok).toBe(true);
    expect(first.result.results.map((r) => r.kind)).toEqual(['create', 'create', 'create']);
    // Per create: the deployment with its schedules in the same request; no POST
    // /deployments/{id}/schedules. Per apply: one flow upsert and the names claimed at once (one
    // claim set written, rewritten with the decision, removed).
    expect(writes(proxy.requests)).toEqual({
      'POST /flows/': 1,
      'POST /variables/': 1,
      'PATCH /variables/{id}': 1,
      'DELETE /variables/{id}': 1,
      'POST /deployments/': 3,
      ...(inline ? {} : { 'POST /deployments/{id}/schedules': 3 }),
    });
    expect(first.writes).toBe(inline ? 7 : 10);
    // One read of every claim; no read of a deployment by name per create.
    expect(reads(proxy.requests, '/variables/filter')).toBe(1);
    expect(proxy.requests.filter((r) => r.path.startsWith('/deployments/name/'))).toEqual([]);
    const live = await readDeployment(project.flow, 'a');
    expect(live?.schedules.map((s) => s.slug).sort()).toEqual(['hourly', 'morning']);

    proxy.reset();
    const noop = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(noop.plan.actions).toEqual([]);
    expect(noop.writes).toBe(0);
    expect(writes(proxy.requests)).toEqual({});

    // a: description changed; b: one schedule's cron changed; c: unchanged.
    await project.write([
      deployment('a', { description: 'changed' }),
      deployment('b', {
        schedules: [
          { cron: '30 7 * * *', timezone: 'Europe/Berlin', slug: 'morning' },
          { interval: 3600, anchor_date: '2024-01-01T00:00:00Z', slug: 'hourly' },
        ],
      }),
      deployment('c'),
    ]);
    proxy.reset();
    const change = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(change.result.ok).toBe(true);
    expect(writes(proxy.requests)).toEqual({
      'PATCH /deployments/{id}': 1,
      'PATCH /deployments/{id}/schedules/{id}': 1,
    });
    expect(change.writes).toBe(2);

    proxy.reset();
    const after = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(after.plan.actions).toEqual([]);
    expect(after.writes).toBe(0);
  });

  it('a schedule with max_scheduled_runs, which POST /deployments/ drops, is created by POST .../schedules, and kept', async () => {
    const project = await makeProject('counts-max');
    await project.write([
      deployment('m', { schedules: [{ interval: 600, anchor_date: '2024-01-01T00:00:00Z', slug: 'often', max_scheduled_runs: 3 }] }),
    ]);
    proxy.reset();
    const first = await applyProject(project.dir, { apiUrl: proxy.apiUrl, claimTtlMs });
    expect(first.result.ok).toBe(true);
    expect(writes(proxy.requests)).toEqual({
      'POST /flows/': 1,
      'POST /variables/': 1,
      'PATCH /variables/{id}': 1,
      'DELETE /variables/{id}': 1,
      'POST /deployments/': 1,
      'POST /deployments/{id}/schedules': 1,
    });
    const live = await readDeployment(project.flow, 'm');
    expect(live?.schedules).toEqual([expect.objectContaining({ slug: 'often', max_scheduled_runs: 3 })]);
    proxy.reset();
    const noop = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
    expect(noop.plan.actions).toEqual([]);
    expect(noop.writes).toBe(0);
  });

  it('the claim requests of a first apply do not grow with the number of creates: 1 or 40 creates cost the same claims', async () => {
    const claimRequests = async (n: number): Promise<Record<string, number>> => {
      const project = await makeProject(`counts-n${n}`);
      await project.write(Array.from({ length: n }, (_, i) => ({ name: `d${i}`, work_pool: { name: POOL } })));
      proxy.reset();
      const run = await applyProject(project.dir, { apiUrl: proxy.apiUrl, claimTtlMs });
      expect(run.result.ok).toBe(true);
      const all = writes(proxy.requests);
      expect(all['POST /deployments/']).toBe(n);
      const claims = Object.fromEntries(Object.entries(all).filter(([k]) => k.includes('/variables/')));
      return { ...claims, 'read POST /variables/filter': reads(proxy.requests, '/variables/filter') };
    };
    const one = await claimRequests(1);
    expect(one).toEqual({ 'POST /variables/': 1, 'PATCH /variables/{id}': 1, 'DELETE /variables/{id}': 1, 'read POST /variables/filter': 1 });
    expect(await claimRequests(40)).toEqual(one);
  });
});
