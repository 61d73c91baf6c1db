// Issue 8 section 1 against the real server: deployments declared through symbolic links are not
// pruned, links leaving the repository are refused with nothing written, a symlink cycle does not
// hang, a delete says which skipped file declared the deployment, and a refused prune writes nothing.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ensurePool, readDeployment } from '../helpers/gitops.js';
import { prefectApiUrl, uniqueName } from '../helpers/prefect.js';

const POOL = 'gitops-discovery-pool';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { PREFECT_API_URL: prefectApiUrl() },
    cwd: process.cwd(),
    isTty: false,
  });
  return { code, stdout, stderr };
}

/** A git repository `<tmp>/repo` whose manifest directory is `repo/deploy`; `outside` is beside it. */
interface Repo {
  readonly root: string;
  readonly repo: string;
  readonly deploy: string;
  readonly flow: string;
  readonly owner: string;
  manifest(path: string, name: string, extra?: Record<string, unknown>): Promise<void>;
  commit(): void;
}

async function makeRepo(config: Record<string, unknown> = {}): Promise<Repo> {
  const root = await mkdtemp(join(tmpdir(), 'gitops-discovery-'));
  const repo = join(root, 'repo');
  const deploy = join(repo, 'deploy');
  const flow = uniqueName('disc-flow');
  const owner = uniqueName('disc');
  await mkdir(join(deploy, 'flows'), { recursive: true });
  await writeFile(join(deploy, 'flows', 'job.py'), `from prefect import flow\n\n\n@flow(name="${flow}")\ndef job(n: int = 1) -> int:\n    return n\n`);
  await writeFile(join(deploy, 'prefect-gitops.yaml'), stringify({ owner, prune: { enabled: true, max_delete_ratio: 1 }, defaults: { work_pool: { name: POOL } }, ...config }));
  const git = (...args: string[]): void => void execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: repo, stdio: 'ignore' });
  git('init', '-q');
  await ensurePool(POOL);
  return {
    root,
    repo,
    deploy,
    flow,
    owner,
    async manifest(path, name, extra = {}) {
      const file = join(repo, path);
      await mkdir(join(file, '..'), { recursive: true });
      await writeFile(file, stringify({ name, entrypoint: 'flows/job.py:job', ...extra }));
    },
    commit() {
      git('add', '-A');
      git('commit', '-q', '-m', 'manifests');
    },
  };
}

const names = async (r: Repo, ...wanted: string[]): Promise<Record<string, boolean>> =>
  Object.fromEntries(await Promise.all(wanted.map(async (n) => [n, (await readDeployment(r.flow, n)) !== undefined] as const)));

describe('symbolic links in the manifest directory', () => {
  it('follows a linked manifest file and a linked folder: apply --prune creates and then keeps their deployments', async () => {
    const r = await makeRepo();
    await r.manifest('deploy/deployments/plain.yaml', 'plain');
    await r.manifest('shared/linked-file.yaml', 'linked-file');
    await r.manifest('team/etl/in-linked-folder.yaml', 'in-linked-folder');
    await symlink('../../shared/linked-file.yaml', join(r.deploy, 'deployments', 'linked-file.yaml'));
    await symlink('../../team/etl', join(r.deploy, 'deployments', 'etl'));

    const first = await cli(['apply', r.deploy, '--prune']);
    expect(first.code).toBe(0);
    expect(await names(r, 'plain', 'linked-file', 'in-linked-folder')).toEqual({ plain: true, 'linked-file': true, 'in-linked-folder': true });

    const again = await cli(['apply', r.deploy, '--prune']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No changes. 3 deployments up to date.');
    expect(await names(r, 'plain', 'linked-file', 'in-linked-folder')).toEqual({ plain: true, 'linked-file': true, 'in-linked-folder': true });
  });

  it('does not prune deployments whose manifests were moved behind links after they were applied', async () => {
    const r = await makeRepo();
    await r.manifest('deploy/deployments/a.yaml', 'a');
    await r.manifest('deploy/deployments/b.yaml', 'b');
    await r.manifest('deploy/deployments/sub/c.yaml', 'c');
    expect((await cli(['apply', r.deploy])).code).toBe(0);

    // b.yaml becomes a link to a shared file; the folder sub/ becomes a link to another folder.
    await mkdir(join(r.repo, 'shared'), { recursive: true });
    await rename(join(r.deploy, 'deployments', 'b.yaml'), join(r.repo, 'shared', 'b.yaml'));
    await symlink('../../shared/b.yaml', join(r.deploy, 'deployments', 'b.yaml'));
    await rename(join(r.deploy, 'deployments', 'sub'), join(r.repo, 'team'));
    await symlink('../../team', join(r.deploy, 'deployments', 'sub'));

    const pruned = await cli(['apply', r.deploy, '--prune']);
    expect(pruned.stdout).not.toContain('will be deleted');
    expect(pruned.code).toBe(0);
    expect(await names(r, 'a', 'b', 'c')).toEqual({ a: true, b: true, c: true });
  });

  // validate exits 2; plan and apply exit 1 on invalid manifests (README "Exit codes": 2 means changes there).
  it('refuses a link that leaves the repository root: an error naming the link and its target, nothing written', async () => {
    const r = await makeRepo();
    await r.manifest('deploy/deployments/fresh.yaml', 'fresh');
    await mkdir(join(r.root, 'outside'), { recursive: true });
    await writeFile(join(r.root, 'outside', 'secret.yaml'), stringify({ name: 'outsider', entrypoint: 'flows/job.py:job' }));
    await symlink('../../../outside/secret.yaml', join(r.deploy, 'deployments', 'outsider.yaml'));

    const validated = await cli(['validate', r.deploy]);
    expect(validated.code).toBe(2);
    const applied = await cli(['apply', r.deploy, '--prune']);
    expect(applied.code).toBe(1);
    const output = applied.stdout + applied.stderr;
    expect(validated.stdout).toContain(`${join(r.deploy, 'deployments', 'outsider.yaml')}: error: symbolic link`);
    expect(output).toContain(`symbolic link ${join(r.deploy, 'deployments', 'outsider.yaml')} points outside the repository root (${r.repo})`);
    expect(output).toContain(`to ${join(r.root, 'outside', 'secret.yaml')}`);
    expect(await names(r, 'fresh', 'outsider')).toEqual({ fresh: false, outsider: false });
  });

  it('does not hang on a symlink cycle: the cycle is reported and every deployment is applied once', async () => {
    const r = await makeRepo();
    await r.manifest('deploy/deployments/team/x.yaml', 'x');
    await symlink('..', join(r.deploy, 'deployments', 'team', 'up'));
    await symlink('../..', join(r.deploy, 'deployments', 'team', 'again'));

    const validated = await cli(['validate', r.deploy, '--verbose']);
    expect(validated.code).toBe(0);
    expect(validated.stdout).toContain(`${join(r.deploy, 'deployments', 'team', 'up')}: warning: symbolic link`);
    expect(validated.stdout).toContain('one of its own parent folders (a cycle); it is not followed');
    expect(validated.stdout).toMatch(/skipped 2: 2 symlink cycle/);

    const applied = await cli(['apply', r.deploy]);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Plan: 1 to add');
    expect(await names(r, 'x')).toEqual({ x: true });

    // A loop of links (a -> b -> a) is an error.
    await symlink('loop-b.yaml', join(r.deploy, 'deployments', 'loop-a.yaml'));
    await symlink('loop-a.yaml', join(r.deploy, 'deployments', 'loop-b.yaml'));
    const looped = await cli(['validate', r.deploy]);
    expect(looped.code).toBe(2);
    expect(looped.stdout + looped.stderr).toContain('is a loop of links');
  });
});

describe('a deployment no longer declared because its file is not read', () => {
  it('emptied, ignored and hidden manifests: the delete names the file and why; an emptied file refuses the apply', async () => {
    const r = await makeRepo();
    for (const n of ['keep', 'emptied', 'ignored', 'hidden']) await r.manifest(`deploy/deployments/${n}.yaml`, n);
    expect((await cli(['apply', r.deploy])).code).toBe(0);
    r.commit();

    await writeFile(join(r.deploy, 'deployments', 'emptied.yaml'), '');
    await writeFile(join(r.deploy, '.gitopsignore'), 'deployments/ignored.yaml\n');
    await mkdir(join(r.deploy, 'deployments', '.old'));
    await rename(join(r.deploy, 'deployments', 'hidden.yaml'), join(r.deploy, 'deployments', '.old', 'hidden.yaml'));

    const validated = await cli(['validate', r.deploy]);
    expect(validated.stdout).toMatch(/^read 3 files; skipped 3: (?=.*1 hidden)(?=.*1 ignored)(?=.*1 empty).*\(use --verbose to list\)$/m);
    expect(validated.stdout).toContain(`${join(r.deploy, 'deployments', 'emptied.yaml')}: warning: manifest file is empty`);

    const planned = await cli(['plan', r.deploy, '--prune', '--json']);
    expect(planned.code).toBe(1);
    const plan = JSON.parse(planned.stdout) as { pruneRefused: string; orphans: { name: string; whyUndeclared?: string }[]; actions: unknown[] };
    const emptied = join(r.deploy, 'deployments', 'emptied.yaml');
    expect(plan.pruneRefused).toBe(`prune would delete ${r.flow}/emptied (${emptied}), declared in a manifest file that is now empty; nothing will be written; restore the file, or delete it to remove the deployment, or use --allow-mass-delete`);
    expect(Object.fromEntries(plan.orphans.map((o) => [o.name, o.whyUndeclared]))).toEqual({
      emptied: `no longer declared: ${emptied}, which declared it, is now empty`,
      hidden: `no longer declared: ${join(r.deploy, 'deployments', '.old', 'hidden.yaml')}, which declares it, is in a hidden folder (${join(r.deploy, 'deployments', '.old')}/) and is not read`,
      ignored: `no longer declared: ${join(r.deploy, 'deployments', 'ignored.yaml')}, which declares it, is ignored by rule "deployments/ignored.yaml" in ${join(r.deploy, '.gitopsignore')} and is not read`,
    });

    const text = await cli(['plan', r.deploy, '--prune']);
    expect(text.stdout.split('\n')[2]).toBe(`Apply refused: ${plan.pruneRefused}.`);

    const applied = await cli(['apply', r.deploy, '--prune', '--allow-mass-delete']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(`- ${r.flow}/hidden will be deleted (owned, no longer declared)\n    no longer declared: ${join(r.deploy, 'deployments', '.old', 'hidden.yaml')}, which declares it, is in a hidden folder`);
    expect(applied.stdout).toContain(`- ${r.flow}/emptied will be deleted (owned, no longer declared)\n    no longer declared: ${emptied}, which declared it, is now empty`);
    expect(await names(r, 'keep', 'emptied', 'ignored', 'hidden')).toEqual({ keep: true, emptied: false, ignored: false, hidden: false });
  });

  it('a prefect.yaml whose deployments list was emptied (or left with only unnamed entries) refuses the prune, as an emptied file does', async () => {
    const r = await makeRepo();
    await r.manifest('deploy/deployments/keep.yaml', 'keep');
    const prefectYaml = join(r.deploy, 'prefect.yaml');
    const entry = (name: string | null) => ({ name, entrypoint: 'flows/job.py:job', work_pool: { name: POOL } });
    await writeFile(prefectYaml, stringify({ name: 'p', deployments: [entry('listed-a'), entry('listed-b')] }));
    expect((await cli(['apply', r.deploy])).code).toBe(0);
    r.commit();

    for (const deployments of [[], [entry(null)]]) {
      await writeFile(prefectYaml, stringify({ name: 'p', deployments }));
      const planned = await cli(['plan', r.deploy, '--prune', '--json']);
      expect(planned.code, planned.stderr).toBe(1);
      const plan = JSON.parse(planned.stdout) as { pruneRefused: string; orphans: { name: string; whyUndeclared?: string }[] };
      expect(plan.pruneRefused).toBe(`prune would delete ${r.flow}/listed-a (${prefectYaml}), ${r.flow}/listed-b (${prefectYaml}), declared in a manifest file that is now empty; nothing will be written; restore the file, or delete it to remove them, or use --allow-mass-delete`);
      expect(plan.orphans.map((o) => o.whyUndeclared)).toEqual([0, 1].map(() => `no longer declared: ${prefectYaml}, which declared it, declares no deployment now`));
    }
    expect((await cli(['apply', r.deploy, '--prune'])).code).toBe(1);
    expect(await names(r, 'keep', 'listed-a', 'listed-b')).toEqual({ keep: true, 'listed-a': true, 'listed-b': true });
  });
});

describe('a refused prune refuses the whole apply', () => {
  async function arrange(): Promise<{ r: Repo; before: Record<string, string | undefined> }> {
    const r = await makeRepo({ prune: { enabled: true, max_deletes: 1 } });
    for (const n of ['x', 'y', 'z']) await r.manifest(`deploy/deployments/${n}.yaml`, n);
    expect((await cli(['apply', r.deploy])).code).toBe(0);
    // A rename of y and z and a change of x: 1 create, 1 update, 2 deletes > max_deletes 1.
    await rm(join(r.deploy, 'deployments', 'y.yaml'));
    await rm(join(r.deploy, 'deployments', 'z.yaml'));
    await r.manifest('deploy/deployments/w.yaml', 'w');
    await r.manifest('deploy/deployments/x.yaml', 'x', { description: 'changed' });
    const before: Record<string, string | undefined> = {};
    for (const n of ['x', 'y', 'z']) before[n] = (await readDeployment(r.flow, n))?.updated;
    return { r, before };
  }

  async function expectNothingWritten(r: Repo, before: Record<string, string | undefined>): Promise<void> {
    expect(await readDeployment(r.flow, 'w')).toBeUndefined();
    const after: Record<string, string | undefined> = {};
    for (const n of ['x', 'y', 'z']) after[n] = (await readDeployment(r.flow, n))?.updated;
    expect(after).toEqual(before);
    expect((await readDeployment(r.flow, 'x'))!.description).not.toBe('changed');
  }

  it('apply: exit 1, the refusal first, no create, no update, no delete', async () => {
    const { r, before } = await arrange();
    const applied = await cli(['apply', r.deploy]);
    expect(applied.code).toBe(1);
    expect(applied.stdout.split('\n')[2]).toBe('Apply refused: prune would delete 2 deployments > max_deletes 1; nothing will be written; review the deletes, then use --allow-mass-delete or raise max_deletes.');
    expect(applied.stdout).toContain('Plan: 1 to add, 1 to change, 0 to delete, 0 unchanged. Apply refused: nothing will be written.');
    await expectNothingWritten(r, before);

    const json = await cli(['apply', r.deploy, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).results).toEqual([]);
    await expectNothingWritten(r, before);
  });

  it('plan --detailed-exitcode: exit 1 (an error, not "changes")', async () => {
    const { r } = await arrange();
    const planned = await cli(['plan', r.deploy, '--detailed-exitcode']);
    expect(planned.code).toBe(1);
    expect(planned.stdout).toContain('Apply refused: prune would delete 2 deployments > max_deletes 1');
  });

  it('a saved plan: apply plan.json writes nothing either', async () => {
    const { r, before } = await arrange();
    const out = join(r.root, 'plan.json');
    const planned = await cli(['plan', r.deploy, '--out', out]);
    expect(planned.code).toBe(1);
    const applied = await cli(['apply', out]);
    expect(applied.code).toBe(1);
    await expectNothingWritten(r, before);
  });
});
