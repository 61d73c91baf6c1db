// Global concurrency limits and automations on every Prefect version of the matrix
// (PREFECT_GITOPS_PREFECT_VERSION=2.20.27 / 3.0.11 / 3.4.6 npx vitest run test/integration/workspace-auto-versions.test.ts):
// limits everywhere; automations from Prefect 3 (tags from 3.4.7, schedule_after from 3.4.15);
// what a version cannot hold is a located error at plan time, with nothing written.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ValidationFailedError } from '../../src/errors.js';
import { capabilitiesFor } from '../../src/prefect/capabilities.js';
import { applyProject, ensurePool, makeProject, planProject, type Project } from '../helpers/gitops.js';
import { api, uniqueName } from '../helpers/prefect.js';

const POOL = 'gitops-it-pool';
const serverVersion = async (): Promise<string> => String(await api<string>('GET', '/admin/version'));

async function writeProject(project: Project, docs: Record<string, unknown>[], deployments: Record<string, unknown>[] = []): Promise<void> {
  await project.write(deployments);
  await mkdir(join(project.dir, 'workspace'), { recursive: true });
  await writeFile(join(project.dir, 'workspace', 'objects.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

async function planError(dir: string): Promise<ValidationFailedError> {
  const error = await planProject(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationFailedError);
  return error as ValidationFailedError;
}

describe('global concurrency limits and automations on this server version', () => {
  it('limits: created, planned empty, re-applied with 0 writes, a new limit keeps the slots in use, pruned', async () => {
    const project = await makeProject('wsgcl-ver');
    const a = uniqueName('a');
    const b = uniqueName('b');
    await writeProject(project, [
      { kind: 'global-concurrency-limit', name: a, limit: 2 },
      { kind: 'global-concurrency-limit', name: b, limit: 1, slot_decay_per_second: 0.5 },
    ]);
    expect((await applyProject(project.dir)).result.results.filter((r) => r.status !== 'ok')).toEqual([]);
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
    expect((await applyProject(project.dir)).writes).toBe(0);
    await api('POST', '/v2/concurrency_limits/increment', { names: [a], slots: 1, mode: 'concurrency' });
    await writeProject(project, [{ kind: 'global-concurrency-limit', name: a, limit: 3 }]);
    const changed = await applyProject(project.dir);
    expect(changed.result.ok).toBe(true);
    expect(changed.plan.workspace?.actions.map((x) => [x.action, x.key, x.body ?? null])).toEqual([
      ['update', a, { limit: 3 }],
      ['delete', b, null],
    ]);
    expect(await api('GET', `/v2/concurrency_limits/${a}`)).toMatchObject({ limit: 3, active_slots: 1 });
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
  });

  it('automations: managed on Prefect 3, refused at their line on Prefect 2; tags and schedule_after only where the server keeps them', async () => {
    await ensurePool(POOL);
    const version = await serverVersion();
    const features = capabilitiesFor(version);
    const project = await makeProject('wsauto-ver');
    const name = uniqueName('auto');
    const deployments = [{ name: 'target', work_pool: { name: POOL } }];
    const automation = { kind: 'automation', name, trigger: { expect: ['acme.ping'] }, actions: [{ type: 'run-deployment', deployment: `${project.flow}/target`, parameters: { n: 1 } }] };
    await writeProject(project, [automation], deployments);
    if (version.startsWith('2.')) {
      const error = await planError(project.dir);
      expect(error.issues.map((i) => `${i.file}:${i.line}:${i.column}`)).toEqual([`${join(project.dir, 'workspace', 'objects.yaml')}:1:1`]);
      expect(error.message).toContain('automations need Prefect 3');
      expect(await api('POST', '/deployments/filter', { flows: { name: { any_: [project.flow] } } })).toEqual([]);
      return;
    }
    const first = await applyProject(project.dir);
    expect(first.result.ok).toBe(true);
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
    expect((await applyProject(project.dir)).writes).toBe(0);

    // Fields a version does not keep are refused where written; nothing is sent.
    await writeProject(project, [{ ...automation, tags: ['ops'], actions: [{ type: 'run-deployment', deployment: `${project.flow}/target`, schedule_after: 60 }] }], deployments);
    if (features.automationTags && features.triggerScheduleAfter) {
      expect((await applyProject(project.dir)).result.ok).toBe(true);
      expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
    } else {
      const error = await planError(project.dir);
      const expected = [...(features.automationTags ? [] : ['tags']), ...(features.triggerScheduleAfter ? [] : ['actions[0].schedule_after'])];
      expect(error.issues.map((i) => i.path)).toEqual(expected);
      expect(error.issues.every((i) => i.line > 1)).toBe(true);
    }

    await writeProject(project, [], deployments);
    const pruned = await applyProject(project.dir);
    expect(pruned.plan.workspace?.actions.map((x) => `${x.action} ${x.key}`)).toEqual([`delete ${name}`]);
    expect(pruned.result.ok).toBe(true);
    expect(await api('POST', '/automations/filter', { automations: { name: { any_: [name] } } })).toEqual([]);
  });
});
