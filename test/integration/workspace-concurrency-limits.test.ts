// Workspace objects (issue 13), the `global-concurrency-limit` kind against the real server: create,
// empty plan, 0-write re-apply, a new limit keeps the slots in use, prune of owned limits only
// (inventory ownership), adoption, and Prefect's own `deployment:<id>` limits left alone.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { apply } from '../../src/apply/apply.js';
import { silentLogger } from '../../src/log.js';
import { PrefectClient } from '../../src/prefect/client.js';
import { reconcile } from '../../src/reconcile.js';
import { globalConcurrencyLimitHandler } from '../../src/workspace/kinds/global-concurrency-limit.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment, type Project } from '../helpers/gitops.js';
import { api, prefectApiUrl, uniqueName } from '../helpers/prefect.js';

const POOL = 'gitops-it-pool';

interface ServerLimit {
  id: string;
  name: string;
  limit: number;
  active: boolean;
  active_slots: number;
  slot_decay_per_second: number;
  updated: string;
}

async function readLimit(name: string): Promise<ServerLimit | undefined> {
  try {
    return await api<ServerLimit>('GET', `/v2/concurrency_limits/${encodeURIComponent(name)}`);
  } catch (error) {
    if (error instanceof Error && / -> 404:/.test(error.message)) return undefined;
    throw error;
  }
}

async function writeProject(project: Project, docs: Record<string, unknown>[], deployments: Record<string, unknown>[] = []): Promise<void> {
  await project.write(deployments);
  await mkdir(join(project.dir, 'workspace'), { recursive: true });
  await writeFile(join(project.dir, 'workspace', 'limits.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

const limit = (name: string, fields: Record<string, unknown> = {}): Record<string, unknown> => ({ kind: 'global-concurrency-limit', name, limit: 2, ...fields });

describe('kind: global-concurrency-limit', () => {
  it('is created, plans empty, re-applies with 0 writes; a new limit PATCHes only the limit and keeps the slots in use; prune deletes owned limits only', async () => {
    const project = await makeProject('wsgcl');
    const other = await makeProject('wsgcl-other');
    const db = uniqueName('db');
    const api_ = uniqueName('api-rate');
    await writeProject(project, [limit(db), limit(api_, { limit: 10, slot_decay_per_second: 0.5, active: false })]);
    const first = await applyProject(project.dir);
    expect(first.result.ok).toBe(true);
    expect(first.plan.workspace?.actions.map((a) => [a.action, a.key, a.body])).toEqual(
      [
        ['create', db, { name: db, limit: 2, active: true, slot_decay_per_second: 0 }],
        ['create', api_, { name: api_, limit: 10, active: false, slot_decay_per_second: 0.5 }],
      ].sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    );
    expect(await readLimit(api_)).toMatchObject({ limit: 10, active: false, slot_decay_per_second: 0.5 });

    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
    const noop = await applyProject(project.dir);
    expect(noop.result.ok).toBe(true);
    expect(noop.writes).toBe(0);

    // Two slots held by running work; the new limit must not give them back.
    await api('POST', '/v2/concurrency_limits/increment', { names: [db], slots: 2, mode: 'concurrency' });
    expect((await readLimit(db))?.active_slots).toBe(2);
    await writeProject(project, [limit(db, { limit: 5 }), limit(api_, { limit: 10, slot_decay_per_second: 0.5, active: false })]);
    const change = await applyProject(project.dir);
    expect(change.result.ok).toBe(true);
    expect(change.plan.workspace?.actions.map((a) => [a.action, a.key, a.body, a.changes])).toEqual([['update', db, { limit: 5 }, [{ field: 'limit', before: 2, after: 5 }]]]);
    expect(await readLimit(db)).toMatchObject({ limit: 5, active_slots: 2, active: true });
    // The slots in use are the server's: no difference.
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);

    // Another owner's limit and one made by hand are never pruned.
    const theirs = uniqueName('theirs');
    await writeProject(other, [limit(theirs)]);
    expect((await applyProject(other.dir)).result.ok).toBe(true);
    const byHand = uniqueName('by-hand');
    await api('POST', '/v2/concurrency_limits/', { name: byHand, limit: 1 });
    await writeProject(project, [limit(db, { limit: 5 })]);
    const pruned = await applyProject(project.dir);
    expect(pruned.result.ok).toBe(true);
    expect(pruned.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual([`delete ${api_}`]);
    expect(await readLimit(api_)).toBeUndefined();
    expect(await readLimit(theirs)).toBeDefined();
    expect(await readLimit(byHand)).toBeDefined();
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
  });

  it('a limit made by hand is a conflict until adopted; adopted, it is ours to change and prune', async () => {
    const project = await makeProject('wsgcl-adopt');
    const name = uniqueName('shared');
    await api('POST', '/v2/concurrency_limits/', { name, limit: 3 });
    await writeProject(project, [limit(name, { limit: 3 })]);
    const conflicted = await applyProject(project.dir);
    expect(conflicted.plan.workspace?.conflicts.map((c) => [c.key, c.owner])).toEqual([[name, null]]);
    expect(conflicted.writes).toBe(0);

    await writeProject(project, [limit(name, { limit: 4, gitops: { adopt: true } })]);
    const adopted = await applyProject(project.dir);
    expect(adopted.result.ok).toBe(true);
    expect(adopted.plan.workspace?.actions.map((a) => [a.action, a.key, a.body])).toEqual([['adopt', name, { limit: 4 }]]);
    expect((await readLimit(name))?.limit).toBe(4);
    await writeProject(project, [limit(name, { limit: 4 })]);
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);

    await writeProject(project, [limit(uniqueName('keep'))]);
    const pruned = await applyProject(project.dir, { allowMassDelete: true });
    expect(pruned.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toContain(`delete ${name}`);
    expect(await readLimit(name)).toBeUndefined();
  });

  it('gitops.protected is remembered in the inventory (limits have no tags): a protected limit is never pruned, also once its document is gone', async () => {
    const project = await makeProject('wsgcl-protect');
    const kept = uniqueName('kept');
    const later = uniqueName('later');
    const filler = uniqueName('filler');
    // Created protected: the inventory records it with the create.
    await writeProject(project, [limit(kept, { gitops: { protected: true } }), limit(later), limit(filler)]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);

    // Protected later, unchanged otherwise: only the inventory is written, the limit is not.
    await writeProject(project, [limit(kept, { gitops: { protected: true } }), limit(later, { gitops: { protected: true } }), limit(filler)]);
    const before = await readLimit(later);
    const marked = await applyProject(project.dir);
    expect(marked.result.ok).toBe(true);
    expect(marked.plan.workspace?.actions.map((a) => [a.action, a.key, a.body, a.changes, a.inventoryOnly])).toEqual([['update', later, {}, [{ field: 'gitops.protected', before: false, after: true }], true]]);
    expect(marked.writes).toBe(1);
    expect((await readLimit(later))?.updated).toBe(before?.updated);
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);

    // Both documents removed: neither is deleted, each an orphan kept as protected.
    await writeProject(project, [limit(filler)]);
    const pruned = await applyProject(project.dir, { allowMassDelete: true });
    expect(pruned.result.ok).toBe(true);
    expect(pruned.plan.workspace?.actions).toEqual([]);
    expect(pruned.plan.workspace?.orphans.map((o) => [o.key, o.reason]).sort()).toEqual([[kept, 'protected'], [later, 'protected']].sort());
    expect(await readLimit(kept)).toBeDefined();
    expect(await readLimit(later)).toBeDefined();

    // Declared again without the protection, then removed: pruned.
    await writeProject(project, [limit(later), limit(filler)]);
    const unmarked = await applyProject(project.dir);
    expect(unmarked.plan.workspace?.actions.map((a) => [a.action, a.key, a.changes])).toEqual([['update', later, [{ field: 'gitops.protected', before: true, after: false }]]]);
    await writeProject(project, [limit(filler)]);
    const gone = await applyProject(project.dir, { allowMassDelete: true });
    expect(gone.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual([`delete ${later}`]);
    expect(await readLimit(later)).toBeUndefined();
    expect(await readLimit(kept)).toBeDefined();
  });

  it('leaves the limits Prefect makes for deployments (deployment:<id>) out of reads, plans and prune', async () => {
    await ensurePool(POOL);
    const project = await makeProject('wsgcl-dep');
    const mine = uniqueName('mine');
    await writeProject(project, [limit(mine)], [{ name: 'limited', work_pool: { name: POOL }, concurrency_limit: 2 }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const deployment = (await readDeployment(project.flow, 'limited'))!;
    expect(await readLimit(`deployment:${deployment.id}`)).toMatchObject({ limit: 2 });

    const client = await PrefectClient.connect({ apiUrl: prefectApiUrl() });
    const live = await globalConcurrencyLimitHandler.readLive(client, { owner: project.owner, features: client.capabilities, serverVersion: client.serverVersion, inventory: [], desired: [], deploymentKeys: [] });
    expect(live.some((l) => l.key === mine)).toBe(true);
    expect(live.filter((l) => l.key.startsWith('deployment:'))).toEqual([]);

    const again = await planProject(project.dir);
    expect(again.plan.actions).toEqual([]);
    expect(again.plan.workspace?.actions).toEqual([]);
    // Prune of every limit of ours leaves the deployment's own.
    await writeProject(project, [], [{ name: 'limited', work_pool: { name: POOL }, concurrency_limit: 2 }]);
    const pruned = await applyProject(project.dir);
    expect(pruned.result.ok).toBe(true);
    expect(pruned.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual([`delete ${mine}`]);
    expect(await readLimit(`deployment:${deployment.id}`)).toMatchObject({ limit: 2 });
  });

  it('a create raced by a limit of the same name made by hand fails as a conflict: never taken over, the inventory left clean', async () => {
    const project = await makeProject('wsgcl-race');
    const raced = uniqueName('raced');
    await writeProject(project, [limit(raced, { limit: 9 })]);
    const { plan, client } = await reconcile({ manifests: project.dir, cwd: process.cwd(), env: {}, client: { apiUrl: prefectApiUrl(), retryBaseMs: 200 }, allowMassDelete: false, adoptAll: false, logger: silentLogger() });
    await api('POST', '/v2/concurrency_limits/', { name: raced, limit: 1 });
    const result = await apply(plan, client, { logger: silentLogger(), concurrency: 1 });
    const failed = result.results.find((r) => r.key.includes(raced));
    expect(failed?.status).toBe('failed');
    expect(failed?.message).toMatch(/conflict: global concurrency limit ".*" was created by someone else after the plan; not overwritten/);
    expect((await readLimit(raced))?.limit).toBe(1);
    const next = await planProject(project.dir);
    expect(next.plan.workspace?.conflicts.map((c) => c.key)).toEqual([raced]);
    expect(next.plan.workspace?.actions).toEqual([]);
  });
});
