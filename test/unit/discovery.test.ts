// Manifest discovery (symlinks, skipped files), the reasons a prune gives, and the refusal of a whole
// apply: file-system and pure tests, no Prefect server.
import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/apply/apply.js';
import { silentLogger } from '../../src/log.js';
import { declaredNames } from '../../src/manifests/discover.js';
import { loadManifests } from '../../src/manifests/load.js';
import type { PrefectClient } from '../../src/prefect/client.js';
import { OWNER_LABEL } from '../../src/plan/ownership.js';
import { plan, type LiveState } from '../../src/plan/plan.js';
import type { PlanOptions } from '../../src/plan/types.js';
import { renderFilesText, renderIssuesJson } from '../../src/render/issues.js';
import { renderPlanComment } from '../../src/render/markdown.js';
import { renderApplyText, renderPlanJson, renderPlanText } from '../../src/render/text.js';
import { desiredDeployment, liveDeployment } from '../helpers/fixtures.js';

async function tree(files: Record<string, string>, links: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'gitops-discover-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  for (const [path, target] of Object.entries(links)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await symlink(target, join(root, path));
  }
  return root;
}

const manifest = (name: string): string => `name: ${name}\nentrypoint: flows/job.py:job\n`;

async function load(root: string, dir = 'deploy'): Promise<{ files: string[]; skipped: string[]; issues: string[]; unread: string[]; names: string[] }> {
  const project = await loadManifests(join(root, dir), { cwd: root, env: {} });
  return {
    files: project.files.map((f) => f),
    skipped: project.skipped.map((s) => `${s.path} ${s.reason}`),
    issues: project.issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.severity}: ${i.message}`),
    unread: project.unread.map((u) => `${u.file} [${u.names.join(',')}] ${u.why}`),
    names: project.documents.map((d) => (d.value as { name: string }).name).sort(),
  };
}

describe('discovery: symbolic links', () => {
  it('follows a linked manifest file and a linked folder inside the project root', async () => {
    const root = await tree(
      { 'deploy/prefect-gitops.yaml': 'owner: o\nproject_root: ..\n', 'deploy/a.yaml': manifest('a'), 'shared/b.yaml': manifest('b'), 'more/c.yaml': manifest('c') },
      { 'deploy/b.yaml': '../shared/b.yaml', 'deploy/linked': '../more' },
    );
    const r = await load(root);
    expect(r.names).toEqual(['a', 'b', 'c']);
    expect(r.files).toEqual(['deploy/a.yaml', 'deploy/b.yaml', 'deploy/linked/c.yaml']);
    expect(r.issues).toEqual([]);
  });

  it('refuses a link that leaves the repository root, naming the link and its target', async () => {
    const root = await tree({ 'repo/deploy/prefect-gitops.yaml': 'owner: o\n', 'repo/deploy/a.yaml': manifest('a'), 'elsewhere/x.yaml': manifest('x') }, { 'repo/deploy/x.yaml': '../../elsewhere/x.yaml', 'repo/deploy/dir': '../../elsewhere' });
    const r = await load(root, 'repo/deploy');
    expect(r.names).toEqual(['a']);
    expect(r.issues).toEqual([
      `repo/deploy/dir:0:0: error: symbolic link repo/deploy/dir points outside the repository root (repo/deploy): to ${join(root, 'elsewhere')}; manifests are read only from inside it. Copy the file into the repository or point the link inside it`,
      `repo/deploy/x.yaml:0:0: error: symbolic link repo/deploy/x.yaml points outside the repository root (repo/deploy): to ${join(root, 'elsewhere/x.yaml')}; manifests are read only from inside it. Copy the file into the repository or point the link inside it`,
    ]);
  });

  it('takes the git work tree as the root: a link to a sibling folder of the manifests is fine there', async () => {
    const root = await tree({ 'repo/.git/HEAD': 'ref: refs/heads/main\n', 'repo/deploy/prefect-gitops.yaml': 'owner: o\n', 'repo/shared/b.yaml': manifest('b') }, { 'repo/deploy/b.yaml': '../shared/b.yaml' });
    const r = await load(root, 'repo/deploy');
    expect(r.names).toEqual(['b']);
    expect(r.issues).toEqual([]);
  });

  it('reports a broken link and a loop of links as errors', async () => {
    const root = await tree({ 'deploy/prefect-gitops.yaml': 'owner: o\n' }, { 'deploy/gone.yaml': 'nowhere.yaml', 'deploy/p.yaml': 'q.yaml', 'deploy/q.yaml': 'p.yaml' });
    const r = await load(root);
    expect(r.issues).toEqual([
      'deploy/gone.yaml:0:0: error: symbolic link deploy/gone.yaml -> nowhere.yaml is broken (its target does not exist); a deployment declared through it would be pruned. Fix the link or remove it',
      'deploy/p.yaml:0:0: error: symbolic link deploy/p.yaml -> q.yaml is a loop of links; fix or remove it',
      'deploy/q.yaml:0:0: error: symbolic link deploy/q.yaml -> p.yaml is a loop of links; fix or remove it',
    ]);
  });

  it('does not recurse into a link to a parent folder, and reads a file reached twice once', async () => {
    const root = await tree({ 'deploy/prefect-gitops.yaml': 'owner: o\n', 'deploy/sub/a.yaml': manifest('a') }, { 'deploy/sub/up': '..', 'deploy/again.yaml': 'sub/a.yaml', 'deploy/a-first': 'sub' });
    const r = await load(root);
    expect(r.names).toEqual(['a']);
    expect(r.files).toEqual(['deploy/sub/a.yaml']);
    expect(r.skipped).toEqual(['deploy/a-first/ duplicate', 'deploy/again.yaml duplicate', 'deploy/sub/up/ symlink-cycle']);
    expect(r.issues).toEqual(['deploy/sub/up:0:0: warning: symbolic link deploy/sub/up points to deploy, one of its own parent folders (a cycle); it is not followed, the folder is read once']);
  });
});

describe('discovery: skipped files and what they declare', () => {
  it('lists hidden, ignored, parked and empty files, with the names they declare', async () => {
    const root = await tree({
      'deploy/prefect-gitops.yaml': 'owner: o\nignore: ["legacy/"]\n',
      'deploy/.gitopsignore': '# old ones\nold.yaml\n',
      'deploy/a.yaml': manifest('a'),
      'deploy/.old/etl.yaml': manifest('etl'),
      'deploy/.hidden.yaml': manifest('h'),
      'deploy/old.yaml': manifest('o1'),
      'deploy/legacy/l.yaml': manifest('l1'),
      'deploy/parked.yaml.disabled': manifest('p'),
      'deploy/empty.yaml': '  \n# nothing here\n',
      'deploy/node_modules/x.yaml': manifest('nm'),
      'deploy/.github/workflows/ci.yaml': 'name: CI\non: push\n',
      'deploy/README.md': '# not listed\n',
    });
    const r = await load(root);
    expect(r.names).toEqual(['a']);
    expect(r.skipped).toEqual([
      'deploy/.hidden.yaml hidden',
      'deploy/.old/ hidden',
      'deploy/legacy/ ignored',
      'deploy/node_modules/ tool-folder',
      'deploy/old.yaml ignored',
      'deploy/parked.yaml.disabled not-manifest',
      'deploy/empty.yaml empty',
    ]);
    expect(r.unread).toEqual([
      'deploy/.hidden.yaml [h] is a hidden file and is not read',
      'deploy/old.yaml [o1] is ignored by rule "old.yaml" in deploy/.gitopsignore and is not read',
      'deploy/parked.yaml.disabled [p] does not end in .yaml or .yml and is not read',
      'deploy/.old/etl.yaml [etl] is in a hidden folder (deploy/.old/) and is not read',
      'deploy/legacy/l.yaml [l1] is in deploy/legacy/, ignored by rule "legacy/" in prefect-gitops.yaml ignore:, and is not read',
      'deploy/empty.yaml [empty] is empty',
    ]);
    expect(r.issues).toEqual(['deploy/empty.yaml:0:0: warning: manifest file is empty (or only comments): it declares nothing; delete it, or add a deployment']);
  });

  it.each([
    ['a manifest', 'name: etl\nentrypoint: x.py:f\n', ['etl']],
    ['several documents', 'name: a\n---\nname: b\nwork_pool: {name: pool}\n', ['a', 'b']],
    ['a prefect.yaml', 'deployments:\n  - name: one\n    work_pool: {name: p}\n  - name: two\n', ['one', 'two']],
    ['broken YAML (falls back to name: lines)', 'name: "half\n  - name: other # c\n: :\n', ['half', 'other']],
    ['nothing', '# only a comment\n', []],
  ])('declaredNames reads %s', (_title, text, names) => {
    expect(declaredNames(text)).toEqual(names);
  });
});

const OWNER = 'team-a';
const options: PlanOptions = { owner: OWNER, serverVersion: '3.8.8', prune: true, maxDeletes: 1, maxDeleteRatio: 1, allowMassDelete: false, adoptAll: false, features: NEWEST_CAPABILITIES };
const live = (name: string) => liveDeployment(name, { labels: { [OWNER_LABEL]: OWNER } }, OWNER);
const state = (...names: string[]): LiveState => ({ deployments: new Map(names.map((n) => [`etl/${n}`, live(n)])) });
const unread = [{ file: 'deploy/.old/etl.yaml', why: 'is in a hidden folder (deploy/.old/) and is not read', names: ['old'] }];

describe('renderers: why a deployment is deleted, and a refused apply up front', () => {
  const deleting = plan([desiredDeployment({ name: 'a' })], state('a', 'old'), { ...options, unread });
  const refused = plan([desiredDeployment({ name: 'a' }), desiredDeployment({ name: 'new' })], state('a', 'old', 'old2'), { ...options, unread });
  const why = 'no longer declared: deploy/.old/etl.yaml, which declares it, is in a hidden folder (deploy/.old/) and is not read';

  it('text, markdown and JSON show the reason of a delete', () => {
    expect(renderPlanText(deleting, { color: false })).toContain(`- etl/old will be deleted (owned, no longer declared)\n    ${why}\n`);
    expect(renderPlanComment(deleting, { now: new Date('2026-11-28T12:00:00Z') })).toContain(`> - \`etl/old\`: ${why}`);
    expect(JSON.parse(renderPlanJson(deleting)).actions).toEqual([expect.objectContaining({ kind: 'delete', key: 'etl/old', whyUndeclared: why })]);
  });

  it('a refused prune is the first thing the plan says, and the summary says nothing will be written', () => {
    const text = renderPlanText(refused, { color: false });
    const lines = text.split('\n');
    expect(lines[2]).toBe('Apply refused: prune would delete 2 deployments > max_deletes 1; nothing will be written; review the deletes, then use --allow-mass-delete or raise max_deletes.');
    expect(lines.indexOf(lines[2]!)).toBeLessThan(lines.findIndex((l) => l.includes('etl/new')));
    expect(text).toContain('Plan: 1 to add, 0 to change, 0 to delete, 1 unchanged. Apply refused: nothing will be written.');
    expect(text).toContain(`? etl/old\n    owned but no longer declared; not deleted because a prune safeguard refused the apply (see below)\n    ${why}`);
    const markdown = renderPlanComment(refused, { now: new Date('2026-11-28T12:00:00Z') });
    expect(markdown.indexOf('**Apply refused**')).toBeGreaterThan(0);
    expect(markdown.indexOf('**Apply refused**')).toBeLessThan(markdown.indexOf('#### Changes'));
  });

  it('apply writes nothing for a refused plan: every action is skipped and the client is never touched', async () => {
    const untouchable = new Proxy({}, { get: (_t, property) => { throw new Error(`the client was used: ${String(property)}`); } }) as PrefectClient;
    const result = await apply(refused, untouchable, { logger: silentLogger() });
    expect(result.ok).toBe(false);
    expect(result.results).toEqual([{ kind: 'create', key: 'etl/new', status: 'skipped', message: `apply refused: ${refused.pruneRefused}` }]);
    expect(renderApplyText(result, refused, { color: false })).toContain('0 added, 0 changed, 0 deleted, 0 failed, 1 skipped.');
  });
});

describe('validate: the files line', () => {
  const skipped = [
    { path: 'deploy/.old/', reason: 'hidden' as const, detail: 'hidden folder, not read' },
    { path: 'deploy/old.yaml', reason: 'ignored' as const, detail: 'ignored by rule "old.yaml" in deploy/.gitopsignore' },
    { path: 'deploy/legacy/', reason: 'ignored' as const, detail: 'ignored by rule "legacy/" in prefect-gitops.yaml ignore:' },
  ];
  const read = ['deploy/prefect-gitops.yaml', 'deploy/a.yaml'];

  it.each([
    ['a summary by default', false, 'read 2 files; skipped 3: 1 hidden, 2 ignored (use --verbose to list)\n'],
    [
      'every path with --verbose',
      true,
      'read 2 files; skipped 3: 1 hidden, 2 ignored\n  skipped deploy/.old/ (hidden folder, not read)\n  skipped deploy/old.yaml (ignored by rule "old.yaml" in deploy/.gitopsignore)\n  skipped deploy/legacy/ (ignored by rule "legacy/" in prefect-gitops.yaml ignore:)\n',
    ],
  ])('%s', (_title, verbose, expected) => {
    expect(renderFilesText({ read, skipped, verbose })).toBe(expected);
  });

  it('says nothing when nothing was skipped, unless asked', () => {
    expect(renderFilesText({ read, skipped: [], verbose: false })).toBe('');
    expect(renderFilesText({ read, skipped: [], verbose: true })).toBe('read 2 files; skipped none\n');
  });

  it('JSON carries the read files and the skipped ones', () => {
    expect(JSON.parse(renderIssuesJson([], { read, skipped }))).toEqual({ valid: true, errors: 0, warnings: 0, issues: [], files: read, skipped });
  });
});
