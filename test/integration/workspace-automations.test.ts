// Workspace objects (issue 13), the `automation` kind against the real server: create, empty plan,
// 0-write re-apply, change in place, prune of owned automations only; names of deployments and
// pools resolved (a deployment created by the same apply); never mistaken for a deployment's
// trigger automations, nor they for it.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { main } from '../../src/cli/main.js';
import { fetchForExport } from '../../src/export/export.js';
import { capabilitiesFor } from '../../src/prefect/capabilities.js';
import { PrefectClient } from '../../src/prefect/client.js';
import type { Json } from '../../src/prefect/types.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment, type Project } from '../helpers/gitops.js';
import { api, prefectApiUrl, uniqueName } from '../helpers/prefect.js';

const POOL = 'gitops-it-pool';

interface ServerAutomation {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
  trigger: Record<string, Json>;
  actions: Record<string, Json>[];
}

const serverVersion = async (): Promise<string> => String(await api<string>('GET', '/admin/version'));
const readAutomation = (id: string): Promise<ServerAutomation> => api<ServerAutomation>('GET', `/automations/${id}`);
const byName = async (name: string): Promise<ServerAutomation[]> => api<ServerAutomation[]>('POST', '/automations/filter', { automations: { name: { any_: [name] } } });

/** The project's deployments plus these workspace documents in workspace/automations.yaml. */
async function writeProject(project: Project, deployments: Record<string, unknown>[], docs: Record<string, unknown>[]): Promise<void> {
  await project.write(deployments);
  await mkdir(join(project.dir, 'workspace'), { recursive: true });
  await writeFile(join(project.dir, 'workspace', 'automations.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: prefectApiUrl() }, cwd: process.cwd(), isTty: false });
  return { code, stdout, stderr };
}

const failed = (flow: string): Record<string, unknown> => ({ match: { 'prefect.resource.id': 'prefect.flow-run.*' }, match_related: { 'prefect.resource.name': flow }, expect: ['prefect.flow-run.Failed', 'prefect.flow-run.Crashed'] });

describe('kind: automation', () => {
  it('is created (a deployment it names made by the same apply), plans empty, re-applies with 0 writes, is updated in place and pruned (owned only)', async () => {
    await ensurePool(POOL);
    const project = await makeProject('wsauto');
    const other = await makeProject('wsauto-other');
    const rerun = uniqueName('rerun');
    const pause = uniqueName('pause-pool');
    const deployments = [{ name: 'cleanup', work_pool: { name: POOL } }];
    const automations = (parameters: Record<string, unknown>): Record<string, unknown>[] => [
      { kind: 'automation', name: rerun, description: 'rerun on failure', trigger: failed(project.flow), actions: [{ type: 'run-deployment', deployment: `${project.flow}/cleanup`, parameters }] },
      { kind: 'automation', name: pause, trigger: { posture: 'Proactive', expect: ['acme.heartbeat'], within: 600 }, actions: [{ type: 'pause-work-pool', work_pool: POOL }], actions_on_resolve: [{ type: 'resume-work-pool', work_pool: POOL }] },
    ];
    await writeProject(project, deployments, automations({ n: 1 }));

    // The plan names the deployment it cannot resolve yet (created by this apply); the pool it can.
    const planned = await planProject(project.dir);
    const create = planned.plan.workspace!.actions.find((a) => a.key === rerun)!;
    expect(create.action).toBe('create');
    expect((create.body!.actions as Json[])[0]).toEqual({ type: 'run-deployment', source: 'selected', deployment: `${project.flow}/cleanup`, parameters: { n: 1 } });
    const pool = await api<{ id: string }>('GET', `/work_pools/${POOL}`);
    expect((planned.plan.workspace!.actions.find((a) => a.key === pause)!.body!.actions as Json[])[0]).toEqual({ type: 'pause-work-pool', source: 'selected', work_pool_id: pool.id });

    const first = await applyProject(project.dir);
    expect(first.result.ok).toBe(true);
    const deployment = (await readDeployment(project.flow, 'cleanup'))!;
    const [made] = await byName(rerun);
    expect(made!.actions[0]).toMatchObject({ type: 'run-deployment', source: 'selected', deployment_id: deployment.id, parameters: { n: 1 } });
    // The owner marker: a tag from Prefect 3.4.7, before that the description's last line.
    if (capabilitiesFor(await serverVersion()).automationTags) expect(made!.tags).toEqual([`prefect-gitops:automation:${project.owner}`]);
    else expect(made!.description).toBe(`rerun on failure\nprefect-gitops-tags: ["prefect-gitops:automation:${project.owner}"]`);

    const again = await planProject(project.dir);
    expect(again.plan.actions).toEqual([]);
    expect(again.plan.workspace?.actions).toEqual([]);
    expect(again.plan.workspace?.unchanged.map((u) => u.key).sort()).toEqual([rerun, pause].sort());
    const noop = await applyProject(project.dir);
    expect(noop.result.ok).toBe(true);
    expect(noop.writes).toBe(0);

    // A change is one PUT of the whole automation, which keeps its id.
    await writeProject(project, deployments, automations({ n: 2 }));
    const change = await applyProject(project.dir);
    expect(change.result.ok).toBe(true);
    expect(change.plan.workspace?.actions.map((a) => [a.action, a.key, a.changes.map((c) => c.field)])).toEqual([['update', rerun, ['actions']]]);
    expect(change.plan.workspace?.actions[0]?.changes[0]).toEqual({
      field: 'actions',
      before: [{ type: 'run-deployment', deployment: `${project.flow}/cleanup`, parameters: { n: 1 } }],
      after: [{ type: 'run-deployment', deployment: `${project.flow}/cleanup`, parameters: { n: 2 } }],
    });
    const changed = await readAutomation(made!.id);
    expect(changed.actions[0]).toMatchObject({ deployment_id: deployment.id, parameters: { n: 2 } });
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);

    // Drift: disabled in the UI, re-enabled by the next apply.
    await api('PATCH', `/automations/${made!.id}`, { enabled: false });
    const drift = await planProject(project.dir);
    expect(drift.plan.workspace?.actions.map((a) => [a.action, a.changes])).toEqual([['update', [{ field: 'enabled', before: false, after: true }]]]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    expect((await readAutomation(made!.id)).enabled).toBe(true);

    // Prune removes ours only: another owner's, an unowned one, and an unowned namesake of one of
    // ours (Prefect does not keep automation names unique) stay.
    const theirs = uniqueName('theirs');
    await writeProject(other, [], [{ kind: 'automation', name: theirs, trigger: { expect: ['acme.other'] }, actions: [{ type: 'do-nothing' }] }]);
    expect((await applyProject(other.dir)).result.ok).toBe(true);
    const byHand = (name: string): Promise<{ id: string }> => api<{ id: string }>('POST', '/automations/', { name, trigger: { type: 'event', posture: 'Reactive', expect: ['acme.by-hand'] }, actions: [{ type: 'do-nothing' }] });
    const stranger = await byHand(uniqueName('by-hand'));
    const namesake = await byHand(rerun);
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
    await writeProject(project, deployments, automations({ n: 2 }).slice(0, 1));
    const pruned = await applyProject(project.dir);
    expect(pruned.result.ok).toBe(true);
    expect(pruned.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual([`delete ${pause}`]);
    expect(await byName(pause)).toEqual([]);
    expect(await byName(theirs)).toHaveLength(1);
    await expect(readAutomation(stranger.id)).resolves.toBeDefined();
    expect((await byName(rerun)).map((a) => a.id).sort()).toEqual([made!.id, namesake.id].sort());
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
  });

  it('is never taken for a deployment\'s trigger automation, nor one of those for it', async () => {
    await ensurePool(POOL);
    const project = await makeProject('wsauto-trig');
    const standalone = uniqueName('also-runs');
    // A standalone automation with a trigger's very shape: one run-deployment action of the deployment.
    const docs = [{ kind: 'automation', name: standalone, trigger: { expect: ['acme.file.landed'] }, actions: [{ type: 'run-deployment', deployment: `${project.flow}/reactive` }] }];
    const deployments = [{ name: 'reactive', work_pool: { name: POOL }, triggers: [{ expect: ['acme.file.landed'], parameters: { label: 'trigger' } }] }];
    await writeProject(project, deployments, docs);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const deployment = (await readDeployment(project.flow, 'reactive'))!;
    const related = await api<ServerAutomation[]>('GET', `/automations/related-to/prefect.deployment.${deployment.id}`);
    expect(related.map((a) => a.name).sort()).toEqual([standalone, 'reactive__automation_1'].sort());

    // Both sides plan empty: the deployment does not count the standalone one as a trigger.
    const again = await planProject(project.dir);
    expect(again.plan.actions).toEqual([]);
    expect(again.plan.workspace?.actions).toEqual([]);

    // Export of the deployment writes its trigger only.
    const client = await PrefectClient.connect({ apiUrl: prefectApiUrl() });
    const exported = await fetchForExport(client, { flowNames: [project.flow] });
    expect(exported.deployments.flatMap((d) => d.automations.map((a) => a.name))).toEqual(['reactive__automation_1']);

    // Removing the standalone automation prunes it, not the trigger; removing the trigger replaces
    // the deployment's automations, not the standalone one.
    await writeProject(project, deployments, []);
    const pruned = await applyProject(project.dir);
    expect(pruned.result.ok).toBe(true);
    expect(pruned.plan.actions).toEqual([]);
    expect(pruned.plan.workspace?.actions.map((a) => `${a.action} ${a.key}`)).toEqual([`delete ${standalone}`]);
    expect((await api<ServerAutomation[]>('GET', `/automations/related-to/prefect.deployment.${deployment.id}`)).map((a) => a.name)).toEqual(['reactive__automation_1']);

    await writeProject(project, [{ name: 'reactive', work_pool: { name: POOL } }], docs);
    const swapped = await applyProject(project.dir);
    expect(swapped.result.ok).toBe(true);
    expect((await api<ServerAutomation[]>('GET', `/automations/related-to/prefect.deployment.${deployment.id}`)).map((a) => a.name)).toEqual([standalone]);
    const settled = await planProject(project.dir);
    expect(settled.plan.actions).toEqual([]);
    expect(settled.plan.workspace?.actions).toEqual([]);
  });

  it('a name neither declared nor on the server: an error at file:line:col, offline saying the server was not asked; nothing written', async () => {
    const project = await makeProject('wsauto-missing');
    await writeProject(project, [], [{ kind: 'automation', name: uniqueName('dangling'), trigger: { expect: ['x'] }, actions: [{ type: 'pause-deployment', deployment: 'no-such-flow/nothing' }] }]);
    const plan = await cli(['plan', project.dir]);
    expect(plan.code).not.toBe(0);
    expect(plan.stderr + plan.stdout).toMatch(/workspace\/automations\.yaml:\d+:\d+: error: automation "dangling-[0-9a-f]+" names deployment "no-such-flow\/nothing", which is neither declared in these manifests nor on the server/);
    const validate = await cli(['validate', project.dir]);
    expect(validate.code).toBe(2);
    expect(validate.stdout).toMatch(/workspace\/automations\.yaml:\d+:\d+: error: .*names deployment "no-such-flow\/nothing", which these manifests do not declare; validated offline, so the server was not asked/);
  });

  it('drift reports a UI edit; export --kind automation/global-concurrency-limit writes documents (names, not ids) that plan empty', async () => {
    await ensurePool(POOL);
    const project = await makeProject('wsauto-export');
    const name = uniqueName('notify');
    const gcl = uniqueName('slots');
    const deployments = [{ name: 'target', work_pool: { name: POOL } }];
    await writeProject(project, deployments, [
      { kind: 'automation', name, description: 'two lists', enabled: false, trigger: { require: 'any', within: 120, triggers: [{ expect: ['a.b'] }, { posture: 'Proactive', expect: ['c.d'], for_each: ['prefect.resource.id'] }] }, actions: [{ type: 'pause-deployment', deployment: `${project.flow}/target` }], actions_on_resolve: [{ type: 'resume-deployment', deployment: `${project.flow}/target` }] },
      { kind: 'global-concurrency-limit', name: gcl, limit: 7, slot_decay_per_second: 0.25 },
    ]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    expect((await cli(['drift', project.dir])).code).toBe(0);
    const [made] = await byName(name);
    // Before Prefect 3.4.7 the owner marker is the description's last line: the edit keeps it.
    await api('PUT', `/automations/${made!.id}`, { ...made, id: undefined, created: undefined, updated: undefined, description: made!.description.replace('two lists', 'edited in the UI') });
    const drift = await cli(['drift', project.dir]);
    expect(drift.code).toBe(2);
    expect(drift.stdout).toContain(name);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    expect((await readAutomation(made!.id)).description).toBe(made!.description);

    const out = join(project.dir, 'exported');
    const exported = await cli(['export', '--kind', 'automation', '--kind', 'global-concurrency-limit', '--out', out, '--owner', project.owner]);
    expect(exported.code).toBe(0);
    // Keep only this test's objects (the shared server has others, which would be conflicts).
    const keep = async (file: string, key: string): Promise<string> => {
      const docs = (await readFile(join(out, 'workspace', file), 'utf8')).split(/^---$/m).filter((d) => d.includes(`name: ${key}\n`));
      expect(docs).toHaveLength(1);
      await writeFile(join(out, 'workspace', file), docs[0]!);
      return docs[0]!;
    };
    const automation = await keep('automation.yaml', name);
    expect(automation).toContain(`deployment: ${project.flow}/target`);
    expect(automation).not.toContain('deployment_id');
    expect(automation).not.toContain('prefect-gitops');
    await keep('global-concurrency-limit.yaml', gcl);
    const plan = await planProject(out);
    expect(plan.plan.workspace?.actions).toEqual([]);
    expect(plan.plan.workspace?.unchanged.map((u) => u.key).sort()).toEqual([name, gcl].sort());
  });

  it('a saved plan\'s update of an automation edited on the server since is refused as stale, nothing written', async () => {
    const project = await makeProject('wsauto-saved');
    const name = uniqueName('saved');
    const doc = (label: string): Record<string, unknown> => ({ kind: 'automation', name, trigger: { expect: ['acme.saved'] }, actions: [{ type: 'send-notification', block_document_id: '00000000-0000-4000-8000-000000000000', body: label }] });
    await writeProject(project, [], [doc('first')]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    await writeProject(project, [], [doc('second')]);
    const planFile = join(project.dir, 'plan.json');
    expect((await cli(['plan', project.dir, '--out', planFile])).code).toBe(0);
    const [live] = await byName(name);
    await api('PATCH', `/automations/${live!.id}`, { enabled: false });
    const applied = await cli(['apply', planFile, '--auto-approve']);
    expect(applied.stderr).toMatch(/refused \(stale\)/);
    const after = await readAutomation(live!.id);
    expect(after.enabled).toBe(false);
    expect(after.actions[0]).toMatchObject({ body: 'first' });
  });
});
