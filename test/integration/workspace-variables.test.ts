// Workspace objects (issue 13), the `variable` kind against the real server: create, empty plan,
// a 0-write re-apply, change, prune of owned variables only, conflicts and adoption.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { apply } from '../../src/apply/apply.js';
import { main } from '../../src/cli/main.js';
import { silentLogger } from '../../src/log.js';
import { reconcile } from '../../src/reconcile.js';
import { PrefectClient } from '../../src/prefect/client.js';
import { readInventory, updateInventory } from '../../src/workspace/inventory.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { api, prefectApiUrl } from '../helpers/prefect.js';
import { applyProject, makeProject, planProject, type Project } from '../helpers/gitops.js';

interface ServerVariable {
  id: string;
  name: string;
  value: unknown;
  tags: string[];
}

const varName = (prefix: string): string => `${prefix}_${randomBytes(4).toString('hex')}`;

async function readVariable(name: string): Promise<ServerVariable | undefined> {
  try {
    return await api<ServerVariable>('GET', `/variables/name/${name}`);
  } catch (error) {
    if (error instanceof Error && / -> 404:/.test(error.message)) return undefined;
    throw error;
  }
}

/** Writes the project with no deployments and these workspace documents in workspace/vars.yaml. */
async function writeObjects(project: Project, docs: Record<string, unknown>[], config: Record<string, unknown> = {}): Promise<void> {
  await project.write([], config);
  await mkdir(join(project.dir, 'workspace'), { recursive: true });
  await writeFile(join(project.dir, 'workspace', 'vars.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

describe('kind: variable', () => {
  it('is created with the owner tag, plans empty after, re-applies with 0 writes, changes in place, and is pruned', async () => {
    const project = await makeProject('wsvar');
    const a = varName('a');
    const b = varName('b');
    await writeObjects(project, [
      { kind: 'variable', name: a, value: { region: 'eu', replicas: 3 }, tags: ['team-x'] },
      { kind: 'variable', name: b, value: 'plain' },
    ]);
    const first = await applyProject(project.dir);
    expect(first.result.ok).toBe(true);
    expect(first.plan.workspace?.actions.map((x) => `${x.action} ${x.key}`)).toEqual([`create ${a}`, `create ${b}`]);
    expect(first.plan.summary.add).toBe(2);
    const live = await readVariable(a);
    expect(live?.value).toEqual({ region: 'eu', replicas: 3 });
    expect(live?.tags.sort()).toEqual([`prefect-gitops:${project.owner}`, 'team-x']);

    const again = await planProject(project.dir);
    expect(again.plan.workspace?.actions).toEqual([]);
    expect(again.plan.workspace?.unchanged.map((u) => u.key)).toEqual([a, b]);
    const noop = await applyProject(project.dir);
    expect(noop.writes).toBe(0);

    await writeObjects(project, [
      { kind: 'variable', name: a, value: { region: 'us', replicas: 3 }, tags: ['team-x'] },
      { kind: 'variable', name: b, value: 'plain' },
    ]);
    const change = await applyProject(project.dir);
    expect(change.result.ok).toBe(true);
    expect(change.plan.workspace?.actions.map((x) => [x.action, x.key, x.body])).toEqual([['update', a, { value: { region: 'us', replicas: 3 } }]]);
    expect((await readVariable(a))?.id).toBe(live?.id);
    expect((await readVariable(a))?.value).toEqual({ region: 'us', replicas: 3 });

    await writeObjects(project, [{ kind: 'variable', name: b, value: 'plain' }]);
    const prune = await applyProject(project.dir);
    expect(prune.result.ok).toBe(true);
    expect(prune.plan.workspace?.actions.map((x) => `${x.action} ${x.key}`)).toEqual([`delete ${a}`]);
    expect(await readVariable(a)).toBeUndefined();
    expect(await readVariable(b)).toBeDefined();
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
  });

  it('never prunes an unowned variable or another owner\'s; a declared unowned one is a conflict until adopted', async () => {
    const project = await makeProject('wsvar-own');
    const other = await makeProject('wsvar-other');
    const mine = varName('mine');
    const theirs = varName('theirs');
    const unowned = varName('unowned');
    await writeObjects(other, [{ kind: 'variable', name: theirs, value: 1 }]);
    expect((await applyProject(other.dir)).result.ok).toBe(true);
    await api('POST', '/variables/', { name: unowned, value: 'by hand', tags: [] });

    await writeObjects(project, [{ kind: 'variable', name: mine, value: 1 }]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    // Declared: the unowned one and the other owner's are conflicts, nothing written to them.
    await writeObjects(project, [
      { kind: 'variable', name: mine, value: 1 },
      { kind: 'variable', name: unowned, value: 'from git' },
      { kind: 'variable', name: theirs, value: 2 },
    ]);
    const conflicted = await applyProject(project.dir);
    expect(conflicted.plan.workspace?.conflicts.map((c) => [c.key, c.owner])).toEqual([
      [theirs, other.owner],
      [unowned, null],
    ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))));
    expect(conflicted.writes).toBe(0);
    expect((await readVariable(unowned))?.value).toBe('by hand');

    // gitops.adopt takes the unowned one (not the other owner's); --adopt would take both.
    await writeObjects(project, [
      { kind: 'variable', name: mine, value: 1 },
      { kind: 'variable', name: unowned, value: 'from git', gitops: { adopt: true } },
      { kind: 'variable', name: theirs, value: 2, gitops: { adopt: true } },
    ]);
    const adopted = await applyProject(project.dir);
    expect(adopted.plan.workspace?.actions.map((x) => `${x.action} ${x.key}`)).toEqual([`adopt ${unowned}`]);
    expect(adopted.plan.workspace?.conflicts.map((c) => c.key)).toEqual([theirs]);
    const taken = await readVariable(unowned);
    expect(taken?.value).toBe('from git');
    expect(taken?.tags).toContain(`prefect-gitops:${project.owner}`);

    // Nothing declared of the other owner's or unowned: prune removes only ours.
    const stranger = varName('stranger');
    await api('POST', '/variables/', { name: stranger, value: 'x', tags: [] });
    await writeObjects(project, [{ kind: 'variable', name: mine, value: 1 }]);
    const pruned = await applyProject(project.dir);
    expect(pruned.plan.workspace?.actions.map((x) => `${x.action} ${x.key}`)).toEqual([`delete ${unowned}`]);
    expect(await readVariable(unowned)).toBeUndefined();
    expect(await readVariable(theirs)).toBeDefined();
    expect(await readVariable(stranger)).toBeDefined();
  });
});

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: prefectApiUrl(), ...env }, cwd: process.cwd(), isTty: false });
  return { code, stdout, stderr };
}

describe('kind: variable through the CLI', () => {
  it('a sensitive value from {{ env.X }} never shows (text, JSON, saved plan), and a saved plan applies exactly its workspace actions', async () => {
    const project = await makeProject('wsvar-cli');
    const secret = `s3cr3t-${randomBytes(6).toString('hex')}`;
    const token = varName('api_token');
    const plain = varName('plain');
    const hidden = varName('hidden');
    await writeObjects(project, [
      { kind: 'variable', name: token, value: '{{ env.TOKEN }}' },
      { kind: 'variable', name: hidden, value: { password: secret, host: 'db' }, sensitive: true },
      { kind: 'variable', name: plain, value: 'visible-value' },
    ]);
    const env = { TOKEN: secret };
    const text = await cli(['plan', project.dir], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`+ variable "${token}"`);
    expect(text.stdout).toContain('visible-value');
    expect(text.stdout).not.toContain(secret);
    expect(text.stdout).toMatch(/Plan: 3 to add, 0 to change, 0 to delete, 0 unchanged\./);
    const json = await cli(['plan', project.dir, '--json'], env);
    expect(json.stdout).not.toContain(secret);
    const planFile = join(project.dir, 'plan.json');
    const saved = await cli(['plan', project.dir, '--out', planFile], env);
    expect(saved.code).toBe(0);
    expect(await readFile(planFile, 'utf8')).not.toContain(secret);

    // Applying the saved plan writes exactly its three creates, with the real values.
    const applied = await cli(['apply', planFile, '--auto-approve'], env);
    expect(applied.stderr + applied.stdout).not.toContain(secret);
    expect(applied.code).toBe(0);
    expect((await readVariable(token))?.value).toBe(secret);
    expect((await readVariable(hidden))?.tags).toContain('prefect-gitops:sensitive');
    // Once applied, the saved plan is stale: nothing is applied twice.
    const again = await cli(['apply', planFile, '--auto-approve'], env);
    expect(again.stderr).toMatch(/refused \(stale\)/);
    expect((await cli(['plan', project.dir, '--detailed-exitcode'], env)).code).toBe(0);

    // A changed sensitive value shows as changed, never as itself.
    const changed = await cli(['plan', project.dir], { TOKEN: `${secret}-rotated` });
    expect(changed.stdout).toContain(`~ variable "${token}"`);
    expect(changed.stdout).not.toContain(secret);
  });

  it('environments: gitops.environments selects, gitops.overrides replaces fields, reported where written', async () => {
    const project = await makeProject('wsvar-env');
    const name = varName('region');
    const only = varName('prod_only');
    await project.write([], { environments: { staging: {}, prod: {} } });
    await mkdir(join(project.dir, 'workspace'), { recursive: true });
    await writeFile(
      join(project.dir, 'workspace', 'vars.yaml'),
      [stringify({ kind: 'variable', name, value: 'eu', gitops: { overrides: { prod: { value: 'us' } } } }), stringify({ kind: 'variable', name: only, value: 1, gitops: { environments: ['prod'] } })].join('---\n'),
    );
    const staging = await planProject(project.dir, { environment: 'staging' });
    expect(staging.plan.workspace?.actions.map((a) => [a.key, a.body?.value])).toEqual([[name, 'eu']]);
    const prod = await planProject(project.dir, { environment: 'prod' });
    expect(prod.plan.workspace?.actions.map((a) => [a.key, a.body?.value]).sort()).toEqual([[name, 'us'], [only, 1]].sort());
  });
});

describe('an interrupted apply is completed by a re-run', () => {
  it('a create whose answer is lost (the server made it) is found again through the inventory intent: the re-run plans it unchanged, and prune still removes it', async () => {
    const proxy = await startFaultProxy(prefectApiUrl());
    try {
      const project = await makeProject('wsvar-crash');
      const a = varName('a');
      const b = varName('b');
      await writeObjects(project, [
        { kind: 'variable', name: a, value: 1 },
        { kind: 'variable', name: b, value: 2 },
      ]);
      // The create of b reaches the server, which makes it; its answer never arrives (every retry too).
      proxy.addRule({ method: 'POST', path: '/variables/', times: 20, onlyWhenServerActed: true, fault: { kind: 'reset-after' } });
      proxy.addRule({ method: 'POST', path: '/variables/', times: 20, fault: { kind: 'status-before', status: 503 } });
      const first = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
      expect(first.result.ok).toBe(false);
      expect(await readVariable(a)).toBeDefined();
      proxy.reset();
      // Whatever was written, the re-run converges: after it the plan is empty.
      const rerun = await applyProject(project.dir, { apiUrl: proxy.apiUrl });
      expect(rerun.result.ok).toBe(true);
      expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
      expect((await readVariable(a))?.value).toBe(1);
      expect((await readVariable(b))?.value).toBe(2);
      // Both are ours: removing them from the manifests prunes both.
      await writeObjects(project, [{ kind: 'variable', name: varName('keep'), value: 0 }]);
      const pruned = await applyProject(project.dir, { allowMassDelete: true });
      expect(pruned.plan.workspace?.actions.filter((x) => x.action === 'delete').map((x) => x.key).sort()).toEqual([a, b].sort());
      expect(await readVariable(a)).toBeUndefined();
      expect(await readVariable(b)).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });
});

describe('drift and export cover variables', () => {
  it('drift reports a variable changed on the server and one missing; export --kind variable writes documents that plan empty (sensitive as a placeholder)', async () => {
    const project = await makeProject('wsvar-drift');
    const a = varName('a');
    const b = varName('b');
    const pass = varName('db_password');
    await writeObjects(project, [
      { kind: 'variable', name: a, value: { n: 1 }, tags: ['x'] },
      { kind: 'variable', name: b, value: 'two' },
      { kind: 'variable', name: pass, value: 'hunter2-secret' },
    ]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    expect((await cli(['drift', project.dir])).code).toBe(0);
    const live = await readVariable(a);
    await api('PATCH', `/variables/${live!.id}`, { value: { n: 2 } });
    await api('DELETE', `/variables/${(await readVariable(b))!.id}`);
    const drift = await cli(['drift', project.dir]);
    expect(drift.code).toBe(2);
    expect(drift.stdout).toContain(`variable "${a}" changed on the server`);
    expect(drift.stdout).toContain(`variable "${b}" is missing`);
    expect((await applyProject(project.dir)).result.ok).toBe(true);

    // Export everything of the kind into a fresh directory with this owner: the owned ones plan empty.
    const out = join(project.dir, 'exported');
    const exported = await cli(['export', '--kind', 'variable', '--out', out, '--owner', project.owner]);
    expect(exported.code).toBe(0);
    const text = await readFile(join(out, 'workspace', 'variable.yaml'), 'utf8');
    expect(text).toContain(`name: ${a}`);
    expect(text).not.toContain('hunter2-secret');
    expect(text).toContain(`{{ env.PREFECT_VARIABLE_${pass.toUpperCase()} }}`);
    expect(text).not.toContain('prefect-gitops-lock');
    // Only this owner's variables (others on the shared server would be conflicts): keep ours.
    const docs = text.split(/^---$/m).filter((d) => [a, b, pass].some((n) => d.includes(`name: ${n}\n`)));
    await writeFile(join(out, 'workspace', 'variable.yaml'), docs.join('---\n'));
    const plan = await planProject(out, { env: { [`PREFECT_VARIABLE_${pass.toUpperCase()}`]: 'hunter2-secret' } });
    expect(plan.plan.workspace?.actions).toEqual([]);
    expect(plan.plan.workspace?.unchanged.map((u) => u.key).sort()).toEqual([a, b, pass].sort());
  });
});

describe('a create that finds its name taken since the plan', () => {
  it('fails as a conflict without touching the other variable, and its intent leaves the inventory', async () => {
    const project = await makeProject('wsvar-race');
    const a = varName('a');
    const raced = varName('raced');
    await writeObjects(project, [
      { kind: 'variable', name: a, value: 1 },
      { kind: 'variable', name: raced, value: 'ours' },
    ]);
    const { plan, client } = await reconcile({ manifests: project.dir, cwd: process.cwd(), env: {}, client: { apiUrl: prefectApiUrl(), retryBaseMs: 200 }, allowMassDelete: false, adoptAll: false, logger: silentLogger() });
    await api('POST', '/variables/', { name: raced, value: 'theirs', tags: [] });
    const result = await apply(plan, client, { logger: silentLogger(), concurrency: 1 });
    const failed = result.results.find((r) => r.key === `variable "${raced}"`);
    expect(failed?.status).toBe('failed');
    expect(failed?.message).toMatch(/conflict: variable ".*" was created by someone else after the plan; not overwritten/);
    expect((await readVariable(raced))?.value).toBe('theirs');
    const inventory = await readVariable(`prefect-gitops-inventory-${project.owner}`);
    const keys = (inventory?.value as { entries: [string, string, string | null][] }).entries.map((e) => e[1]);
    expect(keys).toEqual([a]);
    // The next plan: the raced name is a conflict, ours is unchanged.
    const next = await planProject(project.dir);
    expect(next.plan.workspace?.conflicts.map((c) => c.key)).toEqual([raced]);
    expect(next.plan.workspace?.actions).toEqual([]);
  });
});

describe('the owner\'s inventory on the server', () => {
  it('is chunked under Prefect\'s 5000-character limit, read back whole (protection marks included), and shrinks (surplus chunks deleted)', async () => {
    const owner = `inv-${randomBytes(4).toString('hex')}`;
    const client = await PrefectClient.connect({ apiUrl: prefectApiUrl(), retryBaseMs: 200 });
    const many = Array.from({ length: 150 }, (_, i) => ({ kind: 'work-pool' as const, key: `pool-${String(i).padStart(3, '0')}-${'x'.repeat(20)}`, id: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, ...(i % 7 === 0 ? { protected: true as const } : {}) }));
    await updateInventory(client, owner, () => many);
    const base = `prefect-gitops-inventory-${owner}`;
    const second = await readVariable(`${base}-2`);
    expect(second).toBeDefined();
    expect(JSON.stringify((await readVariable(base))!.value).length).toBeLessThan(5000);
    expect((await readInventory(client, owner)).entries).toEqual(many);
    await updateInventory(client, owner, (entries) => entries.slice(0, 1));
    expect((await readInventory(client, owner)).entries).toEqual(many.slice(0, 1));
    expect(await readVariable(`${base}-2`)).toBeUndefined();
    // Nothing changed: nothing written.
    client.resetStats();
    await updateInventory(client, owner, (entries) => [...entries]);
    expect(client.stats.writes).toBe(0);
  });
});
