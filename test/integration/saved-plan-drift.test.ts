import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { checkSchema } from '../../src/validate/schema.js';
import { api, prefectApiUrl } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment } from '../helpers/gitops.js';

const POOL = 'gitops-it-pool';
const KEY = 'pnb_drift_and_plans_key_123456';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: prefectApiUrl(), PREFECT_API_KEY: KEY }, cwd: process.cwd(), isTty: false });
  return { code, stdout, stderr };
}

describe('saved plans', () => {
  it('apply plan.json applies exactly the saved plan, and refuses entries whose deployment changed since', async () => {
    await ensurePool(POOL);
    const project = await makeProject('saved');
    await project.write([
      { name: 'a', work_pool: { name: POOL }, description: 'one' },
      { name: 'b', work_pool: { name: POOL }, description: 'one' },
    ]);
    await applyProject(project.dir);
    await project.write([
      { name: 'a', work_pool: { name: POOL }, description: 'two', parameters: { label: 'secret-free' } },
      { name: 'b', work_pool: { name: POOL, job_variables: { env: { DB_PASSWORD: 'hunter2-very-secret' } } }, description: 'two' },
    ]);
    const planFile = join(project.dir, 'plan.json');
    const planned = await cli(['plan', project.dir, '--out', planFile]);
    expect(planned.code).toBe(0);
    const saved = JSON.parse(await readFile(planFile, 'utf8')) as unknown;
    expect(checkSchema('savedPlan', saved)).toEqual([]);
    const text = await readFile(planFile, 'utf8');
    expect(text).not.toContain('hunter2-very-secret');
    expect(text).not.toContain(KEY);

    // Someone edits deployment a on the server after the plan was reviewed.
    const a = (await readDeployment(project.flow, 'a'))!;
    await api('PATCH', `/deployments/${a.id}`, { description: 'edited in the UI' });

    const applied = await cli(['apply', planFile]);
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain(`refused (stale): ${project.flow}/a changed on the server since the plan`);
    expect(applied.stderr).toContain('~ description: edited in the UI -> two');
    expect(applied.stdout).toContain('Applying 1 of 2 saved actions');
    expect((await readDeployment(project.flow, 'a'))!.description).toBe('edited in the UI');
    const b = (await readDeployment(project.flow, 'b'))!;
    expect(b.description).toBe('two');
    expect((b.job_variables as { env: Record<string, string> }).env.DB_PASSWORD).toBe('hunter2-very-secret');
    expect(applied.stdout + applied.stderr).not.toContain('hunter2-very-secret');

    // Applying the same file again: b is done, a is still stale; nothing is written.
    const again = await cli(['apply', planFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${project.flow}/b no longer needs this change`);
  });
});

describe('drift', () => {
  it('names the changed field, and reports missing, orphaned and unmanaged deployments', async () => {
    await ensurePool(POOL);
    const project = await makeProject('drift');
    await project.write([{ name: 'x', work_pool: { name: POOL } }, { name: 'y', work_pool: { name: POOL } }, { name: 'z', work_pool: { name: POOL } }]);
    await applyProject(project.dir);
    const clean = await cli(['drift', project.dir]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('No drift: the server matches git.');

    const x = (await readDeployment(project.flow, 'x'))!;
    await api('PATCH', `/deployments/${x.id}`, { paused: true });
    const flow = await api<{ id: string }>('POST', '/flows/', { name: project.flow });
    await api('POST', '/deployments/', { name: 'handmade', flow_id: flow.id });
    await project.write([{ name: 'x', work_pool: { name: POOL } }, { name: 'y', work_pool: { name: POOL } }, { name: 'new', work_pool: { name: POOL } }]);

    const drift = await cli(['drift', project.dir, '--json']);
    expect(drift.code).toBe(2);
    const report = JSON.parse(drift.stdout) as { changed: { key: string; changes: { field: string; before: unknown; after: unknown }[] }[]; missing: { key: string }[]; orphaned: { key: string }[]; unmanaged: { key: string; declared: boolean }[] };
    expect(report.changed.map((c) => [c.key, c.changes.map((f) => [f.field, f.before, f.after])])).toEqual([[`${project.flow}/x`, [['paused', true, false]]]]);
    expect(report.missing.map((m) => m.key)).toEqual([`${project.flow}/new`]);
    expect(report.orphaned.map((o) => o.key)).toEqual([`${project.flow}/z`]);
    expect(report.unmanaged).toEqual([expect.objectContaining({ key: `${project.flow}/handmade`, declared: false })]);
    // Drift detection writes nothing.
    expect((await readDeployment(project.flow, 'x'))!.paused).toBe(true);

    const text = await cli(['drift', project.dir]);
    expect(text.stdout).toContain(`~ ${project.flow}/x changed on the server`);
    expect(text.stdout).toContain('~ paused: false -> true');
    expect(text.stdout).toContain('Drift: 1 changed, 1 missing, 1 orphaned, 1 unmanaged.');
  });

  it('ignore_differences hides a field from drift and plan alike', async () => {
    const project = await makeProject('ignore');
    await project.write([{ name: 'p', work_pool: { name: POOL } }], { ignore_differences: ['/paused'] });
    await applyProject(project.dir);
    const p = (await readDeployment(project.flow, 'p'))!;
    await api('PATCH', `/deployments/${p.id}`, { paused: true });
    expect((await cli(['drift', project.dir])).code).toBe(0);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });
});
