// The Action's pure parts and its GitHub client, with a typed fake of @actions/core and a fake
// fetch: no server, no child process.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { issueAnnotations, MAX_NOTICES, planAnnotations } from '../../src/action/annotations.js';
import type { ActionsCore, AnnotationLocation } from '../../src/action/core.js';
import { scrubbingCore } from '../../src/action/core.js';
import { workspacePath } from '../../src/action/context.js';
import { DRIFT_MARKER, renderDriftMarkdown } from '../../src/action/drift-markdown.js';
import { renderValidationFailedMarkdown } from '../../src/action/failure-markdown.js';
import { GitHubApiError, GitHubClient } from '../../src/action/github.js';
import { INPUT_NAMES, OUTPUT_NAMES, readInputs, readSecrets, toReconcileOptions } from '../../src/action/inputs.js';
import { run } from '../../src/action/main.js';
import { countScheduledRuns } from '../../src/scheduled-runs.js';
import { describeError, UserInputError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { DriftReport } from '../../src/plan/drift.js';
import type { Plan, PlanAction, UpdateAction } from '../../src/plan/types.js';
import type { JsonObject } from '../../src/prefect/types.js';
import type { Issue } from '../../src/validate/issue.js';

type Call = { method: keyof ActionsCore; args: unknown[] };

/** A typed fake of the @actions/core subset the Action uses: inputs in, every call recorded. */
class FakeCore implements ActionsCore {
  readonly calls: Call[] = [];
  summary = '';
  constructor(private readonly inputs: Record<string, string> = {}) {}
  private record(method: keyof ActionsCore, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }
  getInput(name: string): string {
    return this.inputs[name] ?? '';
  }
  setOutput(name: string, value: string): void {
    this.record('setOutput', name, value);
  }
  setSecret(value: string): void {
    this.record('setSecret', value);
  }
  setFailed(message: string): void {
    this.record('setFailed', message);
  }
  error(message: string, where?: AnnotationLocation): void {
    this.record('error', message, where);
  }
  warning(message: string, where?: AnnotationLocation): void {
    this.record('warning', message, where);
  }
  notice(message: string, where?: AnnotationLocation): void {
    this.record('notice', message, where);
  }
  info(message: string): void {
    this.record('info', message);
  }
  logUntrusted(text: string): void {
    this.record('logUntrusted', text);
  }
  debug(message: string): void {
    this.record('debug', message);
  }
  async appendSummary(markdown: string): Promise<void> {
    this.summary += markdown;
  }
  of(method: keyof ActionsCore): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }
}

const KEY = 'pnu_unit_key_abcdef123456';

describe('inputs', () => {
  it('action.yml, the README and the code name the same inputs and outputs', async () => {
    const manifest = parse(await readFile('action.yml', 'utf8')) as { inputs: Record<string, unknown>; outputs: Record<string, unknown>; runs: Record<string, string> };
    expect(Object.keys(manifest.inputs).sort()).toEqual([...INPUT_NAMES].sort());
    expect(Object.keys(manifest.outputs).sort()).toEqual([...OUTPUT_NAMES].sort());
    expect(manifest.runs).toEqual({ using: 'node24', main: 'dist/action/index.js' });
    const docs = await readFile('README.md', 'utf8');
    for (const name of [...INPUT_NAMES, ...OUTPUT_NAMES]) expect(docs).toContain(`| \`${name}\` |`);
    const main = await readFile('src/action/main.ts', 'utf8');
    const set = [...main.matchAll(/setOutput\('([a-z-]+)'/g)].map((m) => m[1]);
    expect([...new Set(set)].sort()).toEqual([...OUTPUT_NAMES].sort());
  });

  it('the example workflows use the Action with the least permissions each needs', async () => {
    type Workflow = { on: Record<string, unknown>; permissions: Record<string, string>; concurrency?: Record<string, unknown>; jobs: Record<string, { steps: { uses?: string; with?: Record<string, unknown> }[] }> };
    const read = async (name: string): Promise<Workflow> => parse(await readFile(`examples/.github/workflows/${name}`, 'utf8')) as Workflow;
    const step = (w: Workflow): Record<string, unknown> => Object.values(w.jobs)[0]!.steps.find((s) => s.uses === 'your-org/prefect-gitops@v1')!.with!;
    const plan = await read('prefect-plan.yml');
    expect(Object.keys(plan.on)).toEqual(['pull_request']);
    expect(plan.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' });
    expect(step(plan)).toMatchObject({ command: 'plan', 'prefect-api-url': '${{ vars.PREFECT_API_URL }}', 'prefect-api-key': '${{ secrets.PREFECT_API_KEY }}' });
    const applyWorkflow = await read('prefect-apply.yml');
    expect(applyWorkflow.on).toEqual({ push: { branches: ['main'] } });
    expect(applyWorkflow.permissions).toEqual({ contents: 'read' });
    expect(applyWorkflow.concurrency).toEqual({ group: 'prefect-gitops-apply-prod', 'cancel-in-progress': false });
    expect(step(applyWorkflow)).toMatchObject({ command: 'apply' });
    const drift = await read('prefect-drift.yml');
    expect(Object.keys(drift.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    expect(drift.permissions).toEqual({ contents: 'read', issues: 'write' });
    expect(step(drift)).toMatchObject({ command: 'drift', 'drift-issue': true });
    for (const w of [plan, applyWorkflow, drift]) expect(Object.keys(step(w)).every((k) => (INPUT_NAMES as readonly string[]).includes(k))).toBe(true);
  });

  it('parses every input into the options the CLI builds', () => {
    const core = new FakeCore({ command: 'apply', manifests: 'deploy', environment: 'prod', 'prefect-api-url': 'http://p/api', 'prefect-api-key': KEY, prune: 'false', 'max-deletes': '3', 'log-level': 'debug', 'lock-timeout': '1m30s' });
    const inputs = readInputs(core, {});
    expect(inputs).toEqual({ command: 'apply', manifests: 'deploy', environment: 'prod', prefectApiUrl: 'http://p/api', prefectApiKey: KEY, prune: false, maxDeletes: 3, failOnDrift: false, driftIssue: false, logLevel: 'debug', stepOutputs: {}, allowMissingPools: false, lockTimeoutMs: 90_000 });
    expect(readInputs(new FakeCore({ command: 'apply', 'prefect-api-url': 'u' }), {}).lockTimeoutMs).toBe(5 * 60_000);
    const timed = readInputs(new FakeCore({ command: 'plan', 'prefect-api-url': 'u', timeout: '10m', 'request-timeout': '1m30s' }), {});
    expect([timed.timeoutMs, timed.requestTimeoutMs]).toEqual([600_000, 90_000]);
    expect(toReconcileOptions(timed, { cwd: '/w', env: {}, logger: silentLogger() }).client).toEqual({ apiUrl: 'u', concurrency: 4, totalTimeoutMs: 600_000, deadlineAt: expect.any(Number), timeoutMs: 90_000 });
    const logger = silentLogger();
    expect(toReconcileOptions(inputs, { cwd: '/w', env: {}, logger })).toEqual({
      manifests: 'deploy',
      cwd: '/w',
      environment: 'prod',
      env: {},
      client: { apiUrl: 'http://p/api', apiKey: KEY, concurrency: 4 },
      prune: false,
      maxDeletes: 3,
      allowMassDelete: false,
      adoptAll: false,
      stepOutputs: {},
      logger,
    });
  });

  it('set: one --set value per line, as the CLI takes them; allow-missing-pools', () => {
    const core = new FakeCore({
      command: 'plan',
      'prefect-api-url': 'http://p/api',
      set: 'build-image.image=acme/etl:1.2=rc\r\n\n# a comment\n  push.tag = v1  \n',
      'allow-missing-pools': 'true',
    });
    const inputs = readInputs(core, {});
    expect(inputs.stepOutputs).toEqual({ 'build-image.image': 'acme/etl:1.2=rc', 'push.tag': 'v1' });
    expect(inputs.allowMissingPools).toBe(true);
    expect(toReconcileOptions(inputs, { cwd: '/w', env: {}, logger: silentLogger() })).toMatchObject({ stepOutputs: { 'build-image.image': 'acme/etl:1.2=rc', 'push.tag': 'v1' }, allowMissingPools: true });
    expect(() => readInputs(new FakeCore({ command: 'plan', 'prefect-api-url': 'u', set: 'a.b=1\nnot a pair' }), {})).toThrow('input set, line 2: expected <step-id>.<key>=<value>, got "not a pair"');
  });

  it('falls back to PREFECT_* like the CLI, and lists every problem at once', () => {
    expect(readInputs(new FakeCore({ command: 'plan' }), { PREFECT_API_URL: 'http://e/api', PREFECT_API_KEY: KEY })).toMatchObject({ prefectApiUrl: 'http://e/api', prefectApiKey: KEY, manifests: '.', logLevel: 'warn' });
    expect(readInputs(new FakeCore({ command: 'plan', 'prefect-api-url': 'u' }), { RUNNER_DEBUG: '1' }).logLevel).toBe('debug');
    let error: unknown;
    try {
      readInputs(new FakeCore({ command: 'destroy', comment: 'maybe', 'log-level': 'loud', 'lock-timeout': 'soon' }), {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserInputError);
    expect((error as Error).message.split('; ')).toEqual([
      'input command must be one of plan, apply, drift, not "destroy"',
      'input prefect-api-url is required (or set PREFECT_API_URL), e.g. ${{ vars.PREFECT_API_URL }}',
      'input log-level must be one of trace, debug, info, warn, error, silent, not "loud"',
      'input comment must be true or false, not "maybe"',
      'input lock-timeout must be a duration such as 30s, 5m or 0, not "soon"',
    ]);
  });

  it('masks the credentials, and the password of an auth string, before writing anything', async () => {
    const core = new FakeCore({ command: 'nope', 'prefect-api-auth-string': 'admin:s3cret-pass', 'github-token': 'ghs_x1234' });
    expect(readSecrets(core, { PREFECT_API_KEY: KEY })).toEqual([KEY, 'admin:s3cret-pass', 'ghs_x1234', 's3cret-pass']);
    await run({ core, env: { PREFECT_API_KEY: KEY }, cwd: '/nowhere' });
    expect(core.calls.slice(0, 4).map((c) => c.method)).toEqual(['setSecret', 'setSecret', 'setSecret', 'setSecret']);
    expect(core.of('setFailed')).toHaveLength(1);
    expect(core.summary).toContain('prefect-gitops failed');
  });

  it('scrubs secrets from everything written through the core', () => {
    const inner = new FakeCore();
    const core = scrubbingCore(inner, (t) => t.split(KEY).join('***'));
    core.info(`key=${KEY}`);
    core.setOutput('x', KEY);
    core.error(`bad ${KEY}`, { file: 'a.yaml', line: 1 });
    expect(JSON.stringify(inner.calls)).not.toContain(KEY);
  });
});

describe('annotations', () => {
  const issue = (over: Partial<Issue>): Issue => ({ file: 'deploy/a.yaml', line: 3, column: 5, path: 'schedules[0].cron', message: 'bad cron', severity: 'error', ...over });

  it('puts each issue on its file, line and column, relative to the checkout', () => {
    const toPath = (f: string): string => workspacePath(f, '/repo/sub', '/repo');
    expect(issueAnnotations([issue({}), issue({ severity: 'warning', message: 'schedules[0].cron is odd' })], toPath)).toEqual([
      { level: 'error', message: 'bad cron (schedules[0].cron)', where: { file: 'sub/deploy/a.yaml', line: 3, column: 5 } },
      { level: 'warning', message: 'schedules[0].cron is odd', where: { file: 'sub/deploy/a.yaml', line: 3, column: 5 } },
    ]);
    expect(workspacePath('/elsewhere/x.yaml', '/repo', '/repo')).toBe('/elsewhere/x.yaml');
  });

  it('caps notices and names fields, never values', () => {
    const update = (i: number): UpdateAction =>
      ({ kind: 'update', key: `f/d${i}`, flowName: 'f', name: `d${i}`, id: `id${i}`, declaredAt: { file: `d${i}.yaml`, line: 1, column: 1 }, liveUpdated: '', lastUpdatedBy: null, patch: {}, scheduleOps: { create: [], update: [], delete: [] }, changes: [{ field: 'parameters', before: { token: KEY }, after: {} }], jsonPatch: [] }) as unknown as UpdateAction;
    const plan = { formatVersion: 1, owner: 'o', environment: null, serverVersion: '3', actions: Array.from({ length: 60 }, (_, i) => update(i)), unchanged: [], conflicts: [], orphans: [], pruneRefused: 'too many', warnings: [], summary: { add: 0, change: 60, delete: 0, adopt: 0, unchanged: 0, conflicts: 0 } } satisfies Plan;
    const notes = planAnnotations(plan, (f) => f, { secrets: [KEY] });
    expect(notes[0]).toEqual({ level: 'warning', message: 'Apply refused: too many.' });
    expect(notes[1]).toEqual({ level: 'notice', message: 'f/d0 will be updated in place: parameters', where: { file: 'd0.yaml', line: 1 } });
    expect(notes.filter((n) => n.level === 'notice')).toHaveLength(MAX_NOTICES + 1);
    expect(notes.at(-1)!.message).toBe('…and 10 more planned changes; the job summary lists them all');
    expect(JSON.stringify(notes)).not.toContain(KEY);
  });
});

describe('markdown', () => {
  const report = (n: number): DriftReport => ({
    owner: 'acme',
    environment: 'prod',
    changed: Array.from({ length: n }, (_, i) => ({
      key: `flow/d${i}`,
      id: `id${i}`,
      declaredAt: { file: `deploy/d${i}.yaml`, line: 1, column: 1 },
      changes: [{ field: 'description', before: `live <b>|@team ${'x'.repeat(200)}`, after: 'git' }, { field: 'parameters', before: { api_key: KEY }, after: {} }],
      updated: '2025-01-01T00:00:00Z',
      updatedBy: 'someone',
    })),
    missing: [],
    orphaned: [{ key: 'flow/old', id: 'o1' }],
    unmanaged: [],
    hasDrift: true,
  });

  it('renders drift with both values, escaped, and cuts whole entries to fit', () => {
    const small = renderDriftMarkdown(report(1), { secrets: [KEY], now: new Date(0), marker: DRIFT_MARKER('prod') });
    expect(small.startsWith('<!-- prefect-gitops-drift:prod -->\n')).toBe(true);
    expect(small).toContain('| <code>description</code> | <code>&quot;git&quot;</code>'.replace('&quot;', '"').replace('&quot;', '"'));
    expect(small).toContain('&lt;b&gt;&#124;&#64;team');
    expect(small).not.toContain(KEY);
    expect(small).toContain('(sensitive)');
    expect(small).toContain('### Orphaned (1)');

    const big = renderDriftMarkdown(report(2000), { secrets: [], now: new Date(0), maxLength: 65_536, runUrl: 'https://x/run' });
    expect(big.length).toBeLessThanOrEqual(65_536);
    expect(big).toMatch(/…and \d+ more entries not shown here: the \[run's job summary\]\(https:\/\/x\/run\) lists them all/);
  });

  it('lists validation problems within the limit', () => {
    const issues: Issue[] = Array.from({ length: 3000 }, (_, i) => ({ file: `d${i}.yaml`, line: i, column: 1, path: '', message: `problem | ${i}`, severity: 'error' }));
    const text = renderValidationFailedMarkdown(issues, { toPath: (f) => f, marker: '<!-- m -->', maxLength: 20_000 });
    expect(text.length).toBeLessThanOrEqual(20_000);
    expect(text).toContain('| error | <code>d0.yaml:0:1</code> | problem &#124; 0 |');
    expect(text).toContain('**3000 errors in the manifests; nothing was sent to Prefect.**');
    expect(text).toContain('problem &#124; 0');
    expect(text).toMatch(/…and \d+ more; the step's annotations and log list them all/);
  });
});

describe('scheduled runs', () => {
  it('counts them only for deployments whose action makes Prefect delete them', async () => {
    const target = { flowName: 'f', declaredAt: { file: 'd.yaml', line: 1, column: 1 }, liveUpdated: '', lastUpdatedBy: null, changes: [], jsonPatch: [], replaceTriggers: null };
    const noOps = { create: [], update: [], delete: [] };
    const actions = [
      { ...target, kind: 'create', key: 'f/new', name: 'new' },
      { ...target, kind: 'update', key: 'f/triggers', name: 'triggers', id: 'id-triggers', patch: {}, scheduleOps: noOps, replaceTriggers: [] },
      { ...target, kind: 'update', key: 'f/patched', name: 'patched', id: 'id-patched', patch: { description: 'x' }, scheduleOps: noOps },
      { ...target, kind: 'update', key: 'f/rescheduled', name: 'rescheduled', id: 'id-rescheduled', patch: {}, scheduleOps: { ...noOps, delete: [{ id: 's', slug: 'a' }] } },
      { ...target, kind: 'adopt', key: 'f/adopted', name: 'adopted', id: 'id-adopted', previousOwner: null },
      { ...target, kind: 'delete', key: 'f/gone', name: 'gone', id: 'id-gone' },
    ] as unknown as PlanAction[];
    const plan = { formatVersion: 1, owner: 'o', environment: null, serverVersion: '3', actions, unchanged: [], conflicts: [], orphans: [], pruneRefused: null, warnings: [], summary: { add: 1, change: 3, delete: 1, adopt: 1, unchanged: 0, conflicts: 0 } } satisfies Plan;
    const asked: JsonObject[] = [];
    const counts = await countScheduledRuns({ countFlowRuns: async (filter) => (asked.push(filter), asked.length) }, plan);
    expect(Object.keys(counts).sort()).toEqual(['f/adopted', 'f/gone', 'f/patched', 'f/rescheduled']);
    expect(asked.map((f) => (f.flow_runs as { deployment_id: { any_: string[] } }).deployment_id.any_[0]).sort()).toEqual(['id-adopted', 'id-gone', 'id-patched', 'id-rescheduled']);
    expect(asked[0]).toMatchObject({ flow_runs: { state: { type: { any_: ['SCHEDULED'] } } } });
  });
});

describe('GitHubClient', () => {
  it('sends the documented headers, pages until a short page, and maps errors without headers', async () => {
    const seen: { url: string; headers: Record<string, string>; method: string }[] = [];
    const fake = (async (url: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(url), headers: init!.headers as Record<string, string>, method: init!.method! });
      const page = Number(new URL(String(url)).searchParams.get('page'));
      if (String(url).includes('/comments')) {
        const items = Array.from({ length: page === 1 ? 100 : 3 }, (_, i) => ({ id: page * 1000 + i, body: '', html_url: 'u' }));
        return new Response(JSON.stringify(items), { status: 200 });
      }
      return new Response(JSON.stringify({ message: `Bad credentials for ghs_secret_token_1` }), { status: 401 });
    }) as typeof fetch;
    const client = new GitHubClient({ apiUrl: 'https://api.example/', token: 'ghs_secret_token_1', repository: 'acme/pipelines', fetch: fake, scrub: (t) => t.split('ghs_secret_token_1').join('***') });
    expect(await client.listIssueComments(5)).toHaveLength(103);
    expect(seen.map((s) => s.url)).toEqual([
      'https://api.example/repos/acme/pipelines/issues/5/comments?per_page=100&page=1',
      'https://api.example/repos/acme/pipelines/issues/5/comments?per_page=100&page=2',
    ]);
    expect(seen[0]!.headers).toMatchObject({ accept: 'application/vnd.github+json', authorization: 'Bearer ghs_secret_token_1', 'x-github-api-version': '2022-11-28' });

    const error = await client.createIssue({ title: 't', body: 'b', labels: ['l'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubApiError);
    expect(error).toMatchObject({ method: 'POST', path: '/repos/acme/pipelines/issues', status: 401 });
    expect(describeError(error)).toBe(
      "GitHub refused the request (401); check the job's `permissions:` and the github-token input (POST /repos/acme/pipelines/issues -> 401): {\"message\":\"Bad credentials for ***\"}",
    );
  });
});
