// The life cycle of managed deployments (apply, empty plan, 0-write re-apply, one change of each
// kind, prune, drift, export) on whatever server PREFECT_GITOPS_PREFECT_VERSION selects, written
// for Prefect 2.19/2.20 (`PREFECT_GITOPS_PREFECT_VERSION=2.20.27 npx vitest run
// test/integration/prefect2.test.ts`) and version-aware: on 3.x the same scenario runs, and the
// assertions that differ say how.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ValidationFailedError } from '../../src/errors.js';
import type { DriftReport } from '../../src/plan/drift.js';
import type { UpdateAction } from '../../src/plan/types.js';
import { api, prefectApiUrl, uniqueName } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment } from '../helpers/gitops.js';

const run = promisify(execFile);
const POOL = 'gitops-it-pool';
const examples = resolve('examples');
let version = '';
let prefect2 = false;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: prefectApiUrl() }, cwd: process.cwd(), isTty: false });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  version = await api<string>('GET', '/admin/version');
  prefect2 = version.startsWith('2.');
  await ensurePool(POOL);
});

/** examples/ copied, under a new owner and deployment names, without what Prefect 2 lacks. */
async function examplesForPrefect2(): Promise<{ dir: string; owner: string; keys: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'gitops-examples2-'));
  await cp(examples, dir, { recursive: true });
  const owner = uniqueName('ex2');
  const suffix = owner.slice(-6);
  // The examples declare their pool (examples/workspace/): the copy runs on a pool of its own, made here.
  const pool = uniqueName('ex2-pool');
  await ensurePool(pool);
  await rm(join(dir, 'workspace'), { recursive: true, force: true });
  const config = await readFile(join(dir, 'prefect-gitops.yaml'), 'utf8');
  await writeFile(join(dir, 'prefect-gitops.yaml'), config.replace(/^owner: .*$/m, `owner: ${owner}`).replaceAll('local-process', pool));
  const keys: string[] = [];
  const folder = join(dir, 'deployments');
  for (const file of (await readdir(folder)).filter((f) => f.endsWith('.yaml'))) {
    const docs = parseAllDocuments((await readFile(join(folder, file), 'utf8')).replaceAll('local-process', pool)).map((doc) => {
      const d = doc.toJS() as Record<string, unknown> & { name: string; schedules?: Record<string, unknown>[]; flow_name?: string; entrypoint: string };
      delete d.concurrency_limit;
      delete d.triggers;
      for (const s of d.schedules ?? []) delete s.parameters;
      d.name = `${d.name}-${suffix}`;
      return d;
    });
    await writeFile(join(folder, file), docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  }
  // The examples stamp git values ({{ git.short_sha }}): the copy is a repository of its own.
  const git = (...args: string[]): Promise<unknown> => run('git', ['-c', 'user.name=it', '-c', 'user.email=it@example.com', ...args], { cwd: dir });
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-qm', 'examples for Prefect 2');
  const planned = await planProject(dir, { env: { EXAMPLES_DIR: examples } });
  keys.push(...planned.plan.actions.map((a) => a.key));
  return { dir, owner, keys };
}

describe(`the deployment life cycle on the selected server (Prefect 2.19/2.20 and 3.x)`, () => {
  it('examples/: on Prefect 2, what the server lacks is an error at its field before anything is written; on 3.x the plan is made', async () => {
    const outcome = await planProject(examples, { env: { EXAMPLES_DIR: examples } }).then(
      (run) => run,
      (error: unknown) => error,
    );
    if (!prefect2) {
      expect(outcome).not.toBeInstanceOf(Error);
      return;
    }
    expect(outcome).toBeInstanceOf(ValidationFailedError);
    const issues = (outcome as ValidationFailedError).issues.filter((i) => i.severity === 'error');
    const byKey = new Map<string, string[]>();
    for (const i of issues) {
      const key = i.message.slice(0, i.message.indexOf(':'));
      byKey.set(key, [...(byKey.get(key) ?? []), i.path]);
      // Each error points at the field it names: its key's line, or the first line of its value just below.
      const lines = (await readFile(resolve(i.file), 'utf8')).split('\n');
      const field = i.path.split(/[.[\]]/).filter((p) => p && !/^\d+$/.test(p)).at(-1)!;
      expect([i.line - 1, i.line - 2].some((n) => lines[n]?.trim().startsWith(`${field}:`)), `${i.file}:${i.line} ${i.path}`).toBe(true);
    }
    expect(Object.fromEntries(byKey)).toEqual({
      'etl-pipeline/customers-weekday': ['concurrency_limit'],
      'etl-pipeline/customers-full-refresh': ['concurrency_limit'],
      'healthcheck/heartbeat': ['concurrency_limit'],
      'daily-report/regional-mornings': expect.arrayContaining(['triggers[0]', 'schedules[0].parameters', 'schedules[1].parameters', 'schedules[2].parameters']),
    });
    expect(issues[0]!.message).toContain(`this server runs ${version}`);
  });

  it('examples/ without those features: apply, then the plan is empty and a re-apply sends 0 writes', async () => {
    const { dir, keys } = await examplesForPrefect2();
    try {
      const env = { EXAMPLES_DIR: examples };
      const first = await applyProject(dir, { env });
      expect(first.result.results.map((r) => `${r.key} ${r.status} ${r.message ?? ''}`.trim())).toEqual(keys.map((k) => `${k} ok`));
      expect(first.plan.summary.add).toBe(6);
      const planned = await planProject(dir, { env });
      expect(planned.plan.actions).toEqual([]);
      expect(planned.plan.summary.unchanged).toBe(6);
      const again = await applyProject(dir, { env });
      expect(again.writes).toBe(0);
      expect(again.result.results).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('one change of each kind converges; a changed pull step is written whole where PATCH cannot, and the plan says the schedules are recreated', async () => {
    const project = await makeProject('life');
    const base = { name: 'a', work_pool: { name: POOL, job_variables: { env: { A: '1' } } }, tags: ['t1'], parameters: { n: 2 }, schedules: [{ cron: '0 9 * * *', timezone: 'Europe/Berlin' }, { interval: 3600 }] };
    await project.write([base]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);

    const live = (await readDeployment(project.flow, 'a'))!;
    // The ownership marker Prefect 2 has: the owner tag (3.1.5+: also the label).
    expect(live.tags).toContain(`prefect-gitops:${project.owner}`);
    expect(live.labels?.['prefect-gitops.owner']).toBe(prefect2 ? undefined : project.owner);

    const changes: [string, Record<string, unknown>][] = [
      ['tags, parameters, paused, job_variables', { ...base, tags: ['t2'], parameters: { n: 3 }, paused: true, work_pool: { name: POOL, job_variables: { env: { A: '2' } } } }],
      ['a schedule', { ...base, schedules: [{ cron: '0 10 * * *', timezone: 'Europe/Berlin' }, { interval: 3600 }] }],
      ['pull steps', { ...base, pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/tmp' } }] }],
    ];
    for (const [what, manifest] of changes) {
      await project.write([manifest]);
      const applied = await applyProject(project.dir);
      expect(applied.result.results.map((r) => r.status), what).toEqual(['ok']);
      const update = applied.plan.actions[0] as UpdateAction;
      if (what === 'pull steps') {
        // 3.2+ PATCHes pull steps; 2.x (and 3.0/3.1) writes the deployment whole and recreates the schedules.
        expect(update.upsert !== undefined, what).toBe(prefect2);
        if (prefect2) expect(applied.plan.warnings.join('\n')).toMatch(/written whole \(POST upsert\).*2 schedules are recreated|recreates its schedules/);
      }
      const after = await planProject(project.dir);
      expect(after.plan.actions, what).toEqual([]);
    }
    const final = (await readDeployment(project.flow, 'a'))!;
    expect(final.pull_steps).toEqual([{ 'prefect.deployments.steps.set_working_directory': { directory: '/tmp' } }]);
    expect(final.schedules).toHaveLength(2);
  });

  it('prune deletes what we own and no longer declare; an owner tag removed in the UI shows in drift, and the deployment is then left alone', async () => {
    const project = await makeProject('prune2');
    await project.write([
      { name: 'a', work_pool: { name: POOL }, tags: ['x'] },
      { name: 'b', work_pool: { name: POOL } },
    ]);
    expect((await cli(['apply', project.dir, '--auto-approve'])).code).toBe(0);
    await project.write([{ name: 'a', work_pool: { name: POOL }, tags: ['x'] }]);
    const pruned = await cli(['apply', project.dir, '--auto-approve']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(await readDeployment(project.flow, 'b')).toBeUndefined();
    expect(await readDeployment(project.flow, 'a')).toBeDefined();

    // Someone removes the owner tag in the UI.
    const a = (await readDeployment(project.flow, 'a'))!;
    await api('PATCH', `/deployments/${a.id}`, { tags: ['x'] });
    const drift = await cli(['drift', project.dir, '--json']);
    expect(drift.code).toBe(2);
    const report = JSON.parse(drift.stdout) as DriftReport;
    const key = `${project.flow}/a`;
    if (prefect2) {
      // Without labels the tag was the only marker: the deployment is no longer ours.
      expect(report.unmanaged).toEqual([{ key, id: a.id, owner: null, declared: true }]);
      expect(report.changed).toEqual([]);
      const planned = await planProject(project.dir);
      expect(planned.plan.conflicts.map((c) => c.message).join('\n')).toContain(`owner tag "prefect-gitops:${project.owner}"`);
    } else {
      // The label still says who owns it: drift shows the tag change, and apply puts the tag back.
      expect(report.changed.map((c) => [c.key, c.changes.map((x) => x.field)])).toEqual([[key, ['tags']]]);
    }
  });

  it('export writes manifests that plan with 0 changes against the server they came from', async () => {
    const project = await makeProject('export2');
    await project.write([
      { name: 'a', work_pool: { name: POOL, job_variables: { env: { A: '1' } } }, tags: ['x'], parameters: { n: 2 }, schedules: [{ cron: '0 9 * * *' }, { interval: 600, active: false }, { rrule: 'FREQ=DAILY;BYHOUR=9', timezone: 'Europe/Paris' }] },
      { name: 'b', work_pool: { name: POOL }, paused: true, description: 'bee' },
    ]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const out = await mkdtemp(join(tmpdir(), 'gitops-export2-'));
    try {
      const exported = await cli(['export', '--flow', project.flow, '--out', out]);
      expect(exported.code, exported.stderr).toBe(0);
      await cp(join(project.dir, 'flows'), join(out, 'flows'), { recursive: true });
      const written = await readFile(join(out, 'deployments', project.flow, 'a.yaml'), 'utf8');
      // Slugs only where the server stores them (3.2+); elsewhere schedules are matched by content.
      expect(written.includes('slug:')).toBe(!prefect2);
      const planned = await planProject(out);
      expect(planned.plan.actions).toEqual([]);
      expect(planned.plan.summary.unchanged).toBe(2);
      expect(planned.plan.warnings.filter((w) => /slug/.test(w))).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
