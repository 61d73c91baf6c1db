// Concurrent applies against the real server, with the real CLI in child processes: the apply lock
// serialises applies of one owner, name claims and the pre-create check keep two owners apart,
// a SIGKILLed holder's lock expires, Ctrl-C stops cleanly and releases the lock.
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { apply } from '../../src/apply/apply.js';
import { acquireApplyLock, claimName, lockName, type ApplyLock } from '../../src/apply/lock.js';
import { silentLogger } from '../../src/log.js';
import { PrefectClient } from '../../src/prefect/client.js';
import { runCli, startCli } from '../helpers/cli-process.js';
import { ensurePool, makeProject, planProject, readDeployment, type Project } from '../helpers/gitops.js';
import { api, prefectApiUrl } from '../helpers/prefect.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';

const POOL = 'gitops-it-pool';

interface Automation {
  name: string;
  actions: { deployment_id?: string }[];
}

const trigger = (label: string): Record<string, unknown> => ({ enabled: true, match: { 'prefect.resource.id': 'acme.upstream.*' }, expect: ['acme.file.landed'], parameters: { label } });

/** `n` deployments, each with one trigger and one schedule. */
function deployments(names: readonly string[], description = 'x'): Record<string, unknown>[] {
  return names.map((name) => ({ name, description, work_pool: { name: POOL }, triggers: [trigger(name)], schedules: [{ cron: '0 9 * * *' }] }));
}

const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);

/** Another manifest directory with the same owner and flow as `project` (a second checkout). */
async function checkout(project: Project, list: Record<string, unknown>[], owner = project.owner): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gitops-checkout-'));
  await cp(join(project.dir, 'flows'), join(dir, 'flows'), { recursive: true });
  await mkdir(join(dir, 'deployments'));
  await writeFile(join(dir, 'prefect-gitops.yaml'), stringify({ owner, prune: { enabled: true } }));
  for (const d of list) await writeFile(join(dir, 'deployments', `${String(d.name)}.yaml`), stringify({ entrypoint: 'flows/job.py:job', ...d }));
  return dir;
}

/** Every deployment of the flow, with its automations. */
async function live(flow: string): Promise<{ name: string; owner: string | undefined; description: string; automations: number }[]> {
  const list = await api<{ id: string; name: string; description: string; labels: Record<string, string> }[]>('POST', '/deployments/filter', { flows: { name: { any_: [flow] } } });
  const out = [];
  for (const d of list) {
    const automations = await api<Automation[]>('GET', `/automations/related-to/prefect.deployment.${d.id}`);
    out.push({ name: d.name, owner: d.labels['prefect-gitops.owner'], description: d.description, automations: automations.length });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Holds `owner`'s apply lock from the test process, as a named holder. */
async function holdLock(owner: string, holder: { host: string; ciRunUrl?: string } = { host: 'test-holder' }): Promise<ApplyLock> {
  const client = await PrefectClient.connect({ apiUrl: prefectApiUrl() });
  return acquireApplyLock(client, owner, { timeoutMs: 0, ttlMs: 60_000, env: {}, logger: silentLogger(), holder });
}

const lockRecord = async (owner: string): Promise<unknown> => {
  try {
    return await api('GET', `/variables/name/${lockName(owner)}`);
  } catch {
    return undefined;
  }
};

describe('concurrent applies', () => {
  beforeAll(async () => {
    await ensurePool(POOL);
  });

  it('two applies of the same manifests serialise: the second waits, then plans nothing; one automation per trigger', async () => {
    const project = await makeProject('lock-same');
    const list = names('d', 5);
    await project.write(deployments(list));
    const held = await holdLock(project.owner);
    const a = startCli(['apply', project.dir]);
    const b = startCli(['apply', project.dir]);
    // Both planned changes and now wait for the lock, naming who holds it.
    await Promise.all([a.waitFor(/Waiting up to 5m for the apply lock .* held by owner "lock-same-\w+" on host test-holder/), b.waitFor(/Waiting up to 5m/)]);
    await held.release();
    const [ra, rb] = await Promise.all([a.exited, b.exited]);
    expect([ra.code, rb.code]).toEqual([0, 0]);
    const [first, second] = /Apply complete: 5 added/.test(ra.stdout) ? [ra, rb] : [rb, ra];
    expect(first.stdout).toContain('Apply complete: 5 added, 0 changed, 0 deleted, 0 failed.');
    // The second saw the first holding the lock, then planned against the fresh state: nothing to do.
    const firstPid = first === ra ? a.pid : b.pid;
    expect(second.stderr).toMatch(new RegExp(`held by owner "${project.owner}" on host .* \\(pid ${firstPid}`));
    expect(second.stdout).toContain('No changes. 5 deployments up to date.');
    expect(second.stdout).not.toContain('Apply complete');
    expect(await live(project.flow)).toEqual(list.map((name) => ({ name, owner: project.owner, description: 'x', automations: 1 })));
    expect(await lockRecord(project.owner)).toBeUndefined();
    const plan = await runCli(['plan', project.dir, '--detailed-exitcode']);
    expect(plan.code).toBe(0);
  });

  it('stale manifests with prune and fresh ones: whichever applies second sees what the first did; nothing it declares is lost', async () => {
    const project = await makeProject('lock-stale');
    await project.write(deployments(names('d', 3)));
    expect((await runCli(['apply', project.dir])).code).toBe(0);
    // Fresh adds d-04 and d-05; stale still declares only d-01 (and prunes).
    const fresh = await checkout(project, deployments(names('d', 5)));
    const stale = await checkout(project, deployments(names('d', 1)));
    const held = await holdLock(project.owner);
    const f = startCli(['apply', fresh]);
    const s = startCli(['apply', stale, '--allow-mass-delete']);
    await Promise.all([f.waitFor(/Waiting up to/), s.waitFor(/Waiting up to/)]);
    await held.release();
    const [rf, rs] = await Promise.all([f.exited, s.exited]);
    expect([rf.code, rs.code]).toEqual([0, 0]);
    // The one that waited for the other ran second: its manifests are what the server holds now.
    const freshSecond = new RegExp(`\\(pid ${s.pid}`).test(rf.stderr);
    const staleSecond = new RegExp(`\\(pid ${f.pid}`).test(rs.stderr);
    expect(freshSecond !== staleSecond).toBe(true);
    const expected = freshSecond ? names('d', 5) : names('d', 1);
    expect(await live(project.flow)).toEqual(expected.map((name) => ({ name, owner: project.owner, description: 'x', automations: 1 })));
    expect((await runCli(['plan', freshSecond ? fresh : stale, '--detailed-exitcode'])).code).toBe(0);
    if (freshSecond) expect(rf.stdout).toMatch(/Apply complete: 4 added/);
    else expect(rs.stdout).toMatch(/Apply complete: 0 added, 0 changed, 4 deleted/);
  });

  it('two owners declaring the same names: each name is created once, the other owner gets a conflict and overwrites nothing', async () => {
    const project = await makeProject('lock-owners');
    const list = names('d', 10);
    const other = `${project.owner}-other`;
    const mine = await checkout(project, deployments(list, 'mine'));
    const theirs = await checkout(project, deployments(list, 'theirs'), other);
    // Hold both locks so that both plan every create before either writes, then let both go at once.
    const [h1, h2] = await Promise.all([holdLock(project.owner), holdLock(other)]);
    const a = startCli(['apply', mine]);
    const b = startCli(['apply', theirs]);
    await Promise.all([a.waitFor(/Waiting up to/), b.waitFor(/Waiting up to/)]);
    await Promise.all([h1.release(), h2.release()]);
    const [ra, rb] = await Promise.all([a.exited, b.exited]);
    const state = await live(project.flow);
    const outputs = `${ra.stdout}${ra.stderr}\n---\n${rb.stdout}${rb.stderr}`;
    // Every name exists once. On a machine so busy that a run's claims could have expired before
    // its create went out (or it waited past its limit for the other's decision), that create is
    // refused instead, and said so: safety over liveness, and only then may a name be missing.
    const missing = list.filter((name) => !state.some((d) => d.name === name));
    for (const name of missing) expect(outputs, `${name} is missing`).toMatch(new RegExp(`create \\S+/${name}: failed \\((not sent: lost the deployment name claims|conflict: another apply claimed \\S+ at the same time and had not decided)`));
    expect(state.map((d) => d.name), outputs).toEqual(list.filter((name) => !missing.includes(name)));
    for (const d of state) {
      // Whoever created it owns it with its own content, and has one automation; the other wrote nothing to it.
      expect(d.description).toBe(d.owner === project.owner ? 'mine' : 'theirs');
      expect(d.automations, JSON.stringify({ d, a: ra.stdout + ra.stderr, b: rb.stdout + rb.stderr })).toBe(1);
    }
    const createdBy = (run: typeof ra): string[] => [...run.stdout.matchAll(/^\[\d+\/\d+\] create \S+\/(\S+): ok$/gm)].map((m) => m[1]!);
    const mineOk = createdBy(ra);
    const theirsOk = createdBy(rb);
    expect([...mineOk, ...theirsOk].sort()).toEqual(list.filter((name) => !missing.includes(name)));
    expect(state.filter((d) => d.owner === project.owner).map((d) => d.name)).toEqual(mineOk.sort());
    // Anyone who did not create every name says so and fails.
    if (mineOk.length < list.length) expect(ra.code).toBe(1);
    if (theirsOk.length < list.length) expect(rb.code).toBe(1);
    expect(`${ra.stdout}${ra.stderr}${rb.stdout}${rb.stderr}`).toMatch(/conflict/);
  });

  it('a SIGKILLed holder stops renewing: its lock expires and the next apply proceeds and converges', async () => {
    const project = await makeProject('lock-kill');
    const list = names('d', 6);
    await project.write(deployments(list));
    // A TTL long enough that the next apply starts while the record is still fresh, and waits
    // (10 s was too short once: on a machine at load 20 the next CLI took longer than that to start).
    const holder = startCli(['apply', project.dir, '--concurrency', '1'], { PREFECT_GITOPS_LOCK_TTL_SECONDS: '25' });
    await holder.waitFor(/^\[1\/6\] /m);
    holder.child.kill('SIGKILL');
    expect((await holder.exited).signal).toBe('SIGKILL');
    expect(await lockRecord(project.owner)).toBeDefined();
    const next = await runCli(['apply', project.dir, '--lock-timeout', '60s']);
    expect(next.stderr).toMatch(new RegExp(`Waiting up to 1m for the apply lock .* held by owner "${project.owner}" .*\\(pid ${holder.pid}`));
    expect(next.stderr).toMatch(new RegExp(`breaking an expired lock record: its holder stopped renewing it .*pid ${holder.pid}`));
    expect(next.code).toBe(0);
    expect(await live(project.flow)).toEqual(list.map((name) => ({ name, owner: project.owner, description: 'x', automations: 1 })));
    expect((await runCli(['plan', project.dir, '--detailed-exitcode'])).code).toBe(0);
    expect(await lockRecord(project.owner)).toBeUndefined();
  });

  it('--lock-timeout: gives up naming the holder and its CI run, exit 1, nothing written', async () => {
    const project = await makeProject('lock-timeout');
    await project.write(deployments(names('d', 2)));
    const held = await holdLock(project.owner, { host: 'ci-runner-7', ciRunUrl: 'https://github.com/acme/etl/actions/runs/42' });
    try {
      const run = await runCli(['apply', project.dir, '--lock-timeout', '1s']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`the apply lock for owner "${project.owner}" is held by owner "${project.owner}" on host ci-runner-7`);
      expect(run.stderr).toContain('CI run https://github.com/acme/etl/actions/runs/42');
      expect(run.stderr).toContain(`prefect variable unset ${lockName(project.owner)}`);
      expect(run.stdout).not.toContain('Apply complete');
      expect(await readDeployment(project.flow, 'd-01')).toBeUndefined();
      expect(await live(project.flow)).toEqual([]);
      // --no-lock goes ahead anyway, and says so.
      const forced = await runCli(['apply', project.dir, '--no-lock']);
      expect(forced.code).toBe(0);
      expect(forced.stderr).toContain('warning: --no-lock');
      expect((await live(project.flow)).map((d) => d.name)).toEqual(names('d', 2));
    } finally {
      await held.release();
    }
  });

  it('Ctrl-C mid-apply: finishes what is in flight, prints the results and "interrupted", exits 130 and releases the lock; a re-run converges', async () => {
    const project = await makeProject('lock-sigint');
    const list = names('d', 8);
    await project.write(deployments(list));
    const run = startCli(['apply', project.dir, '--concurrency', '1']);
    await run.waitFor(/^\[2\/8\] /m);
    run.child.kill('SIGINT');
    const exit = await run.exited;
    expect(exit.code).toBe(130);
    expect(exit.stdout).toMatch(/^interrupted: \d+ of 8 actions done; run apply again to finish$/m);
    expect(exit.stdout).toMatch(/not started: interrupted/);
    const done = Number(/interrupted: (\d+) of 8/.exec(exit.stdout)![1]);
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(8);
    // What was created is complete (schedules and automation), nothing else was started.
    const partial = await live(project.flow);
    expect(partial).toHaveLength(done);
    expect(partial.every((d) => d.automations === 1)).toBe(true);
    expect(await lockRecord(project.owner)).toBeUndefined();
    // The lock is free at once: no waiting.
    const rerun = await runCli(['apply', project.dir, '--lock-timeout', '0']);
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).not.toContain('Waiting');
    expect(rerun.stdout).toContain(`Apply complete: ${8 - done} added`);
    expect(await live(project.flow)).toEqual(list.map((name) => ({ name, owner: project.owner, description: 'x', automations: 1 })));
  });

  it('a create never takes over a deployment that appeared after the plan, nor races another owner creating that name', async () => {
    const project = await makeProject('lock-recheck');
    await project.write(deployments(['appeared', 'claimed', 'free']));
    const { plan } = await planProject(project.dir);
    expect(plan.actions.map((a) => a.kind)).toEqual(['create', 'create', 'create']);
    // Between plan and apply, someone else creates one name and is in the middle of creating another.
    const flow = await api<{ id: string }>('POST', '/flows/', { name: project.flow });
    await api('POST', '/deployments/', { name: 'appeared', flow_id: flow.id, description: 'theirs', labels: { 'prefect-gitops.owner': 'someone-else' } });
    await api('POST', '/variables/', { name: claimName(project.flow, 'claimed'), value: { owner: 'someone-else', host: 'elsewhere', pid: 1, since: new Date().toISOString(), ttlSeconds: 60, nonce: 'x' } });
    const client = await PrefectClient.connect({ apiUrl: prefectApiUrl() });
    const result = await apply(plan, client, { logger: silentLogger() });
    const byName = Object.fromEntries(result.results.map((r) => [r.key.split('/')[1], r]));
    expect(byName.appeared).toMatchObject({ status: 'failed', message: expect.stringMatching(/^conflict: .*\/appeared was created by owner "someone-else" after the plan; not overwritten/) });
    expect(byName.claimed).toMatchObject({ status: 'failed', message: expect.stringMatching(/^conflict: another apply is creating .*\/claimed right now: owner "someone-else" on host elsewhere/) });
    expect(byName.free).toMatchObject({ status: 'ok' });
    expect(result.ok).toBe(false);
    const theirs = (await readDeployment(project.flow, 'appeared'))!;
    expect(theirs.description).toBe('theirs');
    expect(theirs.labels['prefect-gitops.owner']).toBe('someone-else');
    expect(await readDeployment(project.flow, 'claimed')).toBeUndefined();
    // Our own claim is gone once the create is done.
    await expect(api('GET', `/variables/name/${claimName(project.flow, 'free')}`)).rejects.toThrow(/404/);
  });

  it('a holder that loses its lock (the record was removed) starts no new action and fails', async () => {
    const project = await makeProject('lock-lost');
    const list = names('d', 8);
    await project.write(deployments(list));
    // Each create takes 1.5 s (a proxy delays it), and the holder renews every second, so it
    // notices the removal long before the 8 creates could finish.
    const proxy = await startFaultProxy(prefectApiUrl());
    proxy.addRule({ method: 'POST', path: '/deployments/', times: 8, fault: { kind: 'delay', ms: 1500 } });
    const run = startCli(['apply', project.dir, '--concurrency', '1'], { PREFECT_GITOPS_LOCK_TTL_SECONDS: '3', PREFECT_API_URL: proxy.apiUrl });
    const exit = await (async () => {
      try {
        await run.waitFor(/^\[1\/8\] /m);
        const record = await api<{ id: string }>('GET', `/variables/name/${lockName(project.owner)}`);
        await api('DELETE', `/variables/${record.id}`);
        return await run.exited;
      } finally {
        await proxy.close();
      }
    })();
    expect(exit.code).toBe(1);
    expect(exit.stdout).toMatch(/^lost the apply lock prefect-gitops-lock-lock-lost-\w+: its record was removed .*: \d+ of 8 actions done; run apply again to finish$/m);
    expect(exit.stdout).toMatch(/skipped \(not started: lost the apply lock/);
    const done = Number(/: (\d+) of 8 actions done/.exec(exit.stdout)![1]);
    expect(done).toBeLessThan(8);
    expect(await live(project.flow)).toHaveLength(done);
  });
});
