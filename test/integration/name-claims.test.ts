// Batched deployment name claims (src/apply/claims.ts) against the real server: two owners
// creating the same names at once, ordered by a fault proxy so that each interleaving happens for
// sure; stale claim sets of killed runs; the claims an older version made per name.
import { randomUUID } from 'node:crypto';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { apply, type ApplyResult } from '../../src/apply/apply.js';
import { claimNames } from '../../src/apply/claims.js';
import { CLAIM_TAG, claimDigest } from '../../src/apply/lock.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { PrefectClient } from '../../src/prefect/client.js';
import type { Plan } from '../../src/plan/types.js';
import { reconcile } from '../../src/reconcile.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { ensurePool, makeProject, readDeployment, type Project } from '../helpers/gitops.js';
import { api, fetchRetrying, prefectApiUrl } from '../helpers/prefect.js';

const POOL = 'gitops-it-pool';
let proxy: FaultProxy;

beforeAll(async () => {
  await ensurePool(POOL);
  proxy = await startFaultProxy(prefectApiUrl());
});
afterAll(() => proxy.close());
beforeEach(() => proxy.reset());

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `d${i + 1}`);
const manifests = (list: readonly string[], description: string): Record<string, unknown>[] => list.map((name) => ({ name, description, work_pool: { name: POOL } }));

/** A second checkout of `project`'s flow with another owner and its own descriptions. */
async function otherOwner(project: Project, list: readonly string[]): Promise<{ dir: string; owner: string }> {
  const dir = `${project.dir}-other`;
  const owner = `${project.owner}-other`;
  await cp(project.dir, dir, { recursive: true });
  await writeFile(join(dir, 'prefect-gitops.yaml'), stringify({ owner, prune: { enabled: true } }));
  for (const d of manifests(list, 'theirs')) await writeFile(join(dir, 'deployments', `${String(d.name)}.yaml`), stringify({ entrypoint: 'flows/job.py:job', ...d }));
  return { dir, owner };
}

async function planThrough(dir: string): Promise<{ plan: Plan; client: PrefectClient }> {
  return reconcile({ manifests: dir, cwd: process.cwd(), env: {}, client: { apiUrl: proxy.apiUrl, retryBaseMs: 200, timeoutMs: 90_000 }, allowMassDelete: false, adoptAll: false, logger: silentLogger() });
}

const applyPlan = (p: { plan: Plan; client: PrefectClient }, logger: Logger = silentLogger()): Promise<ApplyResult> => apply(p.plan, p.client, { logger, concurrency: 4 });

/** Claim records on the server whose holder is one of `owners`. */
async function claimsOf(...owners: string[]): Promise<{ name: string; value: Record<string, unknown> }[]> {
  const all = await api<{ name: string; value: Record<string, unknown> }[]>('POST', '/variables/filter', { variables: { tags: { all_: [CLAIM_TAG] } }, limit: 200 });
  return all.filter((v) => owners.includes(String(v.value?.owner)));
}

/** A claim set as another run (or a killed one) leaves it on the server. */
async function writeClaimSet(flow: string, list: readonly string[], holder: { owner: string; since?: string; ttlSeconds: number; decided: boolean }): Promise<string> {
  const run = randomUUID();
  const name = `prefect-gitops-claims-${run.replace(/-/g, '')}-0000`;
  const value = {
    owner: holder.owner,
    host: 'elsewhere',
    pid: 4242,
    since: holder.since ?? new Date().toISOString(),
    ttlSeconds: holder.ttlSeconds,
    nonce: run,
    part: 0,
    parts: 1,
    decided: holder.decided,
    names: list.map((n) => claimDigest(flow, n).slice(0, 16)).join(''),
  };
  await api('POST', '/variables/', { name, value, tags: [CLAIM_TAG] });
  return name;
}

/** Resolves once the test server's own clock (its Date header) is past `instant`. */
async function serverClockPast(instant: number): Promise<void> {
  for (;;) {
    const response = await fetchRetrying(`${prefectApiUrl()}/health`);
    await response.arrayBuffer();
    if (Date.parse(response.headers.get('date') ?? '') > instant) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const variableExists = async (name: string): Promise<boolean> => {
  try {
    await api('GET', `/variables/name/${name}`);
    return true;
  } catch {
    return false;
  }
};

const until = async (what: () => boolean): Promise<void> => {
  while (!what()) await new Promise((r) => setTimeout(r, 20));
};

describe('two owners creating the same names at once', () => {
  it('both claim before either reads: exactly one creates every name, the other creates none and names the holder', async () => {
    const list = names(6);
    const project = await makeProject('claims-both');
    await project.write(manifests(list, 'mine'));
    const other = await otherOwner(project, list);
    const [a, b] = await Promise.all([planThrough(project.dir), planThrough(other.dir)]);
    expect(a.plan.summary.add).toBe(6);
    expect(b.plan.summary.add).toBe(6);
    // The claim reads wait until both claim sets are written: each run sees the other's.
    proxy.addRule({ method: 'POST', path: '/variables/filter', times: 2, fault: { kind: 'delay', ms: 1500 } });
    const [ra, rb] = await Promise.all([applyPlan(a), applyPlan(b)]);
    const okA = ra.results.filter((r) => r.status === 'ok').length;
    const okB = rb.results.filter((r) => r.status === 'ok').length;
    const notOk = [...ra.results, ...rb.results].filter((r) => r.status !== 'ok').map((r) => `${r.key}: ${r.message}`);
    expect([okA, okB].sort(), notOk.join('\n')).toEqual([0, 6]);
    const [winner, loser, loserResult] = okA === 6 ? [project.owner, other.owner, rb] : [other.owner, project.owner, ra];
    for (const r of loserResult.results) {
      expect(r).toMatchObject({ kind: 'create', status: 'failed', message: expect.stringMatching(new RegExp(`^conflict: another apply is creating ${project.flow}/d\\d right now: owner "${winner}" on host `)) });
    }
    expect(loserResult.ok).toBe(false);
    for (const name of list) {
      const live = (await readDeployment(project.flow, name))!;
      expect(live.labels['prefect-gitops.owner']).toBe(winner);
      expect(live.description).toBe(winner === project.owner ? 'mine' : 'theirs');
    }
    // Only the winner's deployments were posted: the loser overwrote nothing.
    expect(proxy.requests.filter((r) => r.method === 'POST' && r.path === '/deployments/' && r.upstreamStatus === 201)).toHaveLength(6);
    expect(proxy.requests.filter((r) => r.method === 'POST' && r.path === '/deployments/' && r.upstreamStatus === 200)).toHaveLength(0);
    expect(await claimsOf(winner, loser)).toEqual([]);
  });

  it('a run that ranks first but claims after the other has read waits for its decision, then yields to it', async () => {
    // The unsafe case of a plain "the earlier wins" rule: A read before B claimed, so A never sees B;
    // B ranks first. B must not create what A decided to create.
    const list = names(4);
    const project = await makeProject('claims-late');
    await project.write(manifests(list, 'mine'));
    const a = await planThrough(project.dir);
    // A's decision (its claim set rewritten) is held back until B has read A's claim undecided.
    let decide = (): void => {};
    const decision = new Promise<void>((resolve) => (decide = resolve));
    proxy.addRule({ method: 'PATCH', path: /^\/variables\//, times: 1, fault: { kind: 'delay', ms: 0, until: decision } });
    // A's creates are held until B has decided, so A's claim sets (deleted only after its creates) are
    // still there, decided, when B reads again. Without this, A could publish, create and delete its
    // sets between two of B's reads (they back off up to 2 s on a busy server); B then sees no claim,
    // which is safe (a real apply reads the deployments by name next and finds A's) but not this case.
    let bDecided = (): void => {};
    const bDone = new Promise<void>((resolve) => (bDecided = resolve));
    proxy.addRule({ method: 'POST', path: '/deployments/', times: list.length, fault: { kind: 'delay', ms: 0, until: bDone } });
    const applying = applyPlan(a);
    const filterReads = (): number => proxy.requests.filter((r) => r.path === '/variables/filter' && r.upstreamStatus === 200).length;
    await until(() => filterReads() === 1);
    const b = await PrefectClient.connect({ apiUrl: proxy.apiUrl });
    const rival = `${project.owner}-rival`;
    const started = proxy.requests.length;
    const claiming = claimNames(b, rival, list.map((name) => ({ key: `${project.flow}/${name}`, flowName: project.flow, name })), {
      ttlMs: 60_000,
      env: {},
      logger: silentLogger(),
      lockHeld: false,
      holder: { since: '2000-01-01T00:00:00.000Z', host: 'rival-host' },
    });
    await until(() => filterReads() === 2);
    decide();
    const claims = await claiming.finally(bDecided);
    try {
      // B saw A's claim undecided, read again until A decided, and then yields every name.
      const bReads = proxy.requests.slice(started).filter((r) => r.path === '/variables/filter');
      expect(bReads.length).toBeGreaterThan(1);
      expect([...claims.conflicts.keys()].sort()).toEqual(list.map((n) => `${project.flow}/${n}`));
      for (const why of claims.conflicts.values()) expect(why).toMatch(new RegExp(`^another apply is creating ${project.flow}/d\\d right now: owner "${project.owner}" on host `));
    } finally {
      await claims.release();
    }
    const result = await applying;
    expect(result.results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    for (const name of list) expect((await readDeployment(project.flow, name))!.labels['prefect-gitops.owner']).toBe(project.owner);
    expect(await claimsOf(project.owner, rival)).toEqual([]);
  });

  it('an undecided claim that ranks first: the other yields at once', async () => {
    const list = names(3);
    const project = await makeProject('claims-first');
    await project.write(manifests(list, 'mine'));
    // A set written first, undecided, ranking before any run now, whose holder then decides to create.
    const set = await writeClaimSet(project.flow, list, { owner: 'first-owner', since: '2000-01-01T00:00:00.000Z', ttlSeconds: 60, decided: false });
    try {
      const result = await applyPlan(await planThrough(project.dir));
      expect(result.results.map((r) => r.message)).toEqual(list.map((n) => expect.stringMatching(new RegExp(`^conflict: another apply is creating ${project.flow}/${n} right now: owner "first-owner" on host elsewhere \\(pid 4242\\)`))));
      for (const name of list) expect(await readDeployment(project.flow, name)).toBeUndefined();
      expect(await claimsOf(project.owner)).toEqual([]);
    } finally {
      const v = await api<{ id: string }>('GET', `/variables/name/${set}`);
      await api('DELETE', `/variables/${v.id}`);
    }
  });
});

describe('claims left behind', () => {
  it('a decided claim set that is still fresh is a conflict naming its holder; once it is older than its TTL it is broken and the names are created', async () => {
    const list = names(3);
    const project = await makeProject('claims-stale');
    await project.write(manifests(list, 'mine'));
    // A run that has decided to create d1 and d2. Its TTL is long enough that a busy server cannot
    // make it expire during this first apply (a 2 s TTL once did, in a full CI run).
    const set = await writeClaimSet(project.flow, ['d1', 'd2'], { owner: 'killed-owner', ttlSeconds: 120, decided: true });
    const fresh = await applyPlan(await planThrough(project.dir));
    expect(fresh.results.map((r) => r.message ?? r.status)).toEqual([
      expect.stringMatching(new RegExp(`^conflict: another apply is creating ${project.flow}/d1 right now: owner "killed-owner" on host elsewhere \\(pid 4242`)),
      expect.stringMatching(/^conflict: .*\/d2 right now: owner "killed-owner"/),
      'ok',
    ]);
    expect(await variableExists(set)).toBe(true);
    // Then it is killed after a last renewal that set a 1 s TTL. Expiry is judged by the server's
    // clock, its Date header: whole seconds, and late when its event loop is busy (as in a full CI
    // run), so wait until that header itself is past the TTL.
    const record = await api<{ value: Record<string, unknown> }>('GET', `/variables/name/${set}`);
    await api('PATCH', `/variables/name/${set}`, { value: { ...record.value, ttlSeconds: 1 } });
    const renewed = await api<{ updated: string }>('GET', `/variables/name/${set}`);
    await serverClockPast(Date.parse(renewed.updated) + 2000);
    const warnings: string[] = [];
    const logger = silentLogger();
    logger.warn = ((_data: unknown, message: string) => void warnings.push(message)) as Logger['warn'];
    const later = await applyPlan(await planThrough(project.dir), logger);
    expect(later.results.map((r) => `${r.key} ${r.message ?? r.status}`)).toEqual([`${project.flow}/d1 ok`, `${project.flow}/d2 ok`]);
    expect(warnings).toContain('breaking an expired deployment name claim: its holder stopped renewing it');
    expect(await variableExists(set)).toBe(false);
    expect(await claimsOf(project.owner)).toEqual([]);
  });

  it('an undecided claim set of a killed run that ranks after us is waited for until its TTL, then broken', async () => {
    const list = names(2);
    const project = await makeProject('claims-wait');
    await project.write(manifests(list, 'mine'));
    // Planned first: the set's 2 s run from just before the apply reads it, however busy the server.
    const plan = await planThrough(project.dir);
    const set = await writeClaimSet(project.flow, list, { owner: 'undecided-owner', since: '2999-01-01T00:00:00.000Z', ttlSeconds: 2, decided: false });
    const result = await applyPlan(plan);
    expect(result.results.map((r) => r.status)).toEqual(['ok', 'ok']);
    // It read the claims until the set expired.
    expect(proxy.requests.filter((r) => r.path === '/variables/filter').length).toBeGreaterThan(1);
    expect(await variableExists(set)).toBe(false);
  });

  it('the per-name claim of an older prefect-gitops is honoured', async () => {
    const project = await makeProject('claims-old');
    await project.write(manifests(['old', 'free'], 'mine'));
    const name = `prefect-gitops-claim-${claimDigest(project.flow, 'old').slice(0, 40)}`;
    await api('POST', '/variables/', { name, value: { owner: 'old-version', host: 'legacy', pid: 7, since: new Date().toISOString(), ttlSeconds: 60, nonce: 'n' }, tags: [CLAIM_TAG] });
    const result = await applyPlan(await planThrough(project.dir));
    const byKey = Object.fromEntries(result.results.map((r) => [r.key, r.message ?? r.status]));
    expect(byKey).toEqual({
      [`${project.flow}/free`]: 'ok',
      [`${project.flow}/old`]: expect.stringMatching(/^conflict: another apply is creating .*\/old right now: owner "old-version" on host legacy/),
    });
    expect(await readDeployment(project.flow, 'old')).toBeUndefined();
    const v = await api<{ id: string }>('GET', `/variables/name/${name}`);
    await api('DELETE', `/variables/${v.id}`);
  });

  it("a thousand names fit in a few claim sets under the server's limit on a variable's value; all are released", async () => {
    const client = await PrefectClient.connect({ apiUrl: proxy.apiUrl });
    const owner = `claims-many-${randomUUID().slice(0, 8)}`;
    const wanted = Array.from({ length: 1000 }, (_, i) => ({ key: `f/n${i}`, flowName: `${owner}-flow`, name: `n${i}` }));
    const claims = await claimNames(client, owner, wanted, {
      ttlMs: 600_000,
      env: {},
      logger: silentLogger(),
      lockHeld: false,
      // A long CI URL leaves less room for names; the server still accepts every set.
      holder: { ciRunUrl: `https://ci.example.com/${'x'.repeat(300)}`, host: 'h'.repeat(100) },
    });
    try {
      expect(claims.conflicts.size).toBe(0);
      const sets = await claimsOf(owner);
      expect(sets).toHaveLength(4);
      expect(sets.reduce((n, v) => n + String(v.value.names).length / 16, 0)).toBe(1000);
      for (const v of sets) expect(Buffer.byteLength(JSON.stringify(v.value))).toBeLessThanOrEqual(5000);
    } finally {
      await claims.release();
    }
    expect(await claimsOf(owner)).toEqual([]);
  });
});

describe('claims while the creates queue (the apply is slower than the claims TTL)', () => {
  /** A plan through the proxy whose client keeps exactly one request in flight. */
  const planOneAtATime = (dir: string, inFlight = 1): Promise<{ plan: Plan; client: PrefectClient }> =>
    reconcile({ manifests: dir, cwd: process.cwd(), env: {}, client: { apiUrl: proxy.apiUrl, retryBaseMs: 200, timeoutMs: 90_000, concurrency: inFlight, adaptiveConcurrency: false }, allowMassDelete: false, adoptAll: false, logger: silentLogger() });

  it('renewals do not wait behind the queued creates: the claims stay fresh and every create is sent', async () => {
    const list = names(10);
    const project = await makeProject('claims-queue');
    await project.write(manifests(list, 'mine'));
    const p = await planOneAtATime(project.dir);
    // 10 creates of 1 s each, one at a time: 10 s, while the claims' TTL is 6 s (renewed every 2 s).
    // (A 3 s TTL lost a create in a full CI run: one renewal on the busy shared server took > 2 s.)
    proxy.addRule({ method: 'POST', path: '/deployments/', times: 10, fault: { kind: 'delay', ms: 1000 } });
    // All ten queue in the client at once (ten actions in flight, one request at a time).
    const result = await apply(p.plan, p.client, { logger: silentLogger(), concurrency: 10, lock: { held: false, ttlMs: 6000 } });
    expect(result.results.map((r) => r.message ?? r.status)).toEqual(list.map(() => 'ok'));
    // The claim sets were renewed (PATCHed) while the creates were going out, not after them.
    const firstCreate = proxy.requests.findIndex((r) => r.method === 'POST' && r.path === '/deployments/');
    const lastCreate = proxy.requests.findLastIndex((r) => r.method === 'POST' && r.path === '/deployments/');
    const renewalsBetween = proxy.requests.slice(firstCreate, lastCreate).filter((r) => r.method === 'PATCH' && r.path.startsWith('/variables/'));
    expect(renewalsBetween.length).toBeGreaterThanOrEqual(2);
    expect(await claimsOf(project.owner)).toEqual([]);
  });

  it('on a server that takes one writer at a time (Prefect on SQLite), renewals take the next free slot instead of colliding with a create', async () => {
    const list = names(16);
    const project = await makeProject('claims-one-writer');
    await project.write(manifests(list, 'mine'));
    const p = await planOneAtATime(project.dir);
    // A create is nearly always in flight: 16 x 0.3 s one after another, over a TTL of 3 s.
    proxy.addRule({ method: 'POST', path: '/deployments/', times: 16, fault: { kind: 'delay', ms: 300 } });
    proxy.setSingleWriter(true);
    const result = await apply(p.plan, p.client, { logger: silentLogger(), concurrency: 16, lock: { held: false, ttlMs: 3000 } });
    proxy.setSingleWriter(false);
    expect(result.results.map((r) => r.message ?? r.status)).toEqual(list.map(() => 'ok'));
    // Our own requests never met the lock: none was answered "database is locked".
    expect(proxy.requests.filter((r) => r.fault === 'single-writer:503')).toEqual([]);
    expect(proxy.requests.filter((r) => r.method === 'PATCH' && r.path.startsWith('/variables/')).length).toBeGreaterThanOrEqual(3);
    expect(await claimsOf(project.owner)).toEqual([]);
  });

  it('once the claims could have expired (renewals not answered), no queued create is sent: each fails saying why', async () => {
    const list = names(30);
    const project = await makeProject('claims-stale-queue');
    await project.write(manifests(list, 'mine'));
    // Two slots: the hung renewal holds one, the creates go one at a time through the other.
    const p = await planOneAtATime(project.dir, 2);
    proxy.addRule({ method: 'POST', path: '/deployments/', times: 30, fault: { kind: 'delay', ms: 300 } });
    let unblock = (): void => {};
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    // Without a refusal the test would hang on release(): fail it instead.
    const failsafe = setTimeout(() => unblock(), 30_000);
    // Once a create was refused, the hung renewals are let go (release() waits for them).
    const applying = apply(p.plan, p.client, { logger: silentLogger(), concurrency: 30, lock: { held: false, ttlMs: 6000 }, onProgress: (_d, _t, r) => void (r.status === 'failed' && unblock()) });
    // After the claims are published (the first create arrives), every renewal hangs.
    await until(() => proxy.requests.some((r) => r.method === 'POST' && r.path === '/deployments/'));
    proxy.addRule({ method: 'PATCH', path: /^\/variables\//, times: 100, fault: { kind: 'delay', ms: 0, until: blocked } });
    const result = await applying;
    clearTimeout(failsafe);
    const ok = result.results.filter((r) => r.status === 'ok');
    const refused = result.results.filter((r) => r.status !== 'ok');
    // 30 creates x 0.3 s = 9 s one at a time; the claims are stale after two thirds of 6 s.
    expect(ok.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(r.message).toMatch(/^not sent: lost the deployment name claims: not renewed for \S+ \(TTL 6s\); plan again$/);
    // Nothing refused was sent: the server has exactly the deployments that succeeded. (Under load a
    // create may time out within its window and be sent again, so requests are not counted.)
    for (const r of ok) expect(await readDeployment(project.flow, r.key.split('/')[1]!)).toBeDefined();
    for (const r of refused) expect(await readDeployment(project.flow, r.key.split('/')[1]!)).toBeUndefined();
  });
});
