// The compatibility suite: what prefect-gitops promises, checked against one real Prefect server
// of the version under test (PREFECT_GITOPS_PREFECT_VERSION; `npm run test:matrix` runs it once per
// matrix version). Steps build on each other within this file and share one server.
//
// Features some versions lack are declared anyway (the probes below). For each, the tool may
//   - make it work (the server shows it, the next plan is empty),
//   - or warn in the plan, naming the feature, and converge without it (the next plan is empty),
//   - or refuse at plan time with an error naming it, before anything is written.
// Where the server has the feature (SUPPORTED_FROM), only "work" passes. What never passes: a
// failure half-way through an apply, a plan that does not converge, or a silent no-op.
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { prefectCli, startPrefectWorker } from '../../scripts/prefect-server.js';
import { ValidationFailedError, describeError } from '../../src/errors.js';
import { driftReport } from '../../src/plan/drift.js';
import { reconcile, type ReconcileOptions } from '../../src/reconcile.js';
import { silentLogger } from '../../src/log.js';
import { api, prefectApiUrl, prefectTarget, waitForFlowRun } from '../helpers/prefect.js';
import { applyProject, ensurePool, makeProject, planProject, readDeployment, type ServerDeployment } from '../helpers/gitops.js';

const FIXTURE = resolve('test/matrix/fixtures/portable');
const POOL = 'compat-process';
const OWNER = 'matrix-compat';
const OWNER_TAG = `prefect-gitops:${OWNER}`;

/** First server version with each feature, as each version's /api/openapi.json shows it. */
const SUPPORTED_FROM = {
  labels: '3.1.5',
  scheduleSlugs: '3.2.0',
  concurrencyLimit: '3.0.0',
  concurrencyOptions: '3.0.3',
  automationTags: '3.4.7',
  gracePeriod: '3.6.6',
} as const;

const matrix = JSON.parse(readFileSync(resolve('scripts/prefect-matrix.json'), 'utf8')) as { runToCompleted?: string[] };
const pinned = /^\s*prefect\s*==\s*(\S+)/m.exec(readFileSync(resolve('scripts/prefect-requirements.txt'), 'utf8'))![1]!;
/** The version under test, known before the server answers so that tests are chosen, never skipped. */
const version = process.env['PREFECT_GITOPS_PREFECT_VERSION']?.trim() || pinned;
/**
 * The versions whose run of this suite also takes a flow run to Completed on a process worker, one
 * per major; the pinned version does it in `npm test` (test/integration/examples.test.ts).
 */
const RUN_TO_COMPLETED = matrix.runToCompleted ?? [];

function atLeast(version: string, min: string): boolean {
  const a = version.split(/[^0-9]+/).map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

const has = (feature: keyof typeof SUPPORTED_FROM): boolean => atLeast(version, SUPPORTED_FROM[feature]);

let dir = '';
const env = (): Record<string, string> => ({ COMPAT_DIR: dir });

/** Rewrites one manifest file of the working copy: `edit` gets every document of it, by name. */
async function editManifest(file: string, edit: (docs: Record<string, Record<string, unknown>>) => void | Record<string, unknown>[]): Promise<void> {
  const path = join(dir, 'deployments', file);
  const docs = parseAllDocuments(await readFile(path, 'utf8')).map((d) => d.toJSON() as Record<string, unknown>);
  const byName = Object.fromEntries(docs.map((d) => [String(d.name), d]));
  const replaced = edit(byName);
  await writeFile(path, (replaced ?? docs).map((d) => stringify(d)).join('---\n'));
}

async function live(flow: string, name: string): Promise<ServerDeployment> {
  const d = await readDeployment(flow, name);
  if (!d) throw new Error(`${flow}/${name} is not on the server`);
  return d;
}

const reconcileOptions = (manifests: string, vars: Record<string, string>): ReconcileOptions => ({
  manifests, cwd: process.cwd(), env: vars, client: { apiUrl: prefectApiUrl(), retryBaseMs: 200 },
  allowMassDelete: false, adoptAll: false, logger: silentLogger(),
});

const PORTABLE = ['compat-etl/hourly', 'compat-etl/nightly', 'compat-report/on-demand', 'compat-report/weekly'];

beforeAll(async () => {
  expect(await api<string>('GET', '/admin/version')).toBe(version);
  dir = await mkdtemp(join(tmpdir(), 'gitops-compat-'));
  await cp(FIXTURE, dir, { recursive: true });
  await ensurePool(POOL);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the portable project (every matrix version)', () => {
  it('applies to an empty server; the plan after is empty and a second apply sends 0 writes', async () => {
    const first = await applyProject(dir, { env: env() });
    expect(first.plan.summary).toMatchObject({ add: 4, change: 0, delete: 0, conflicts: 0 });
    expect(first.result.results.map((r) => [r.key, r.status, r.message ?? ''])).toEqual(PORTABLE.map((k) => [k, 'ok', '']));

    const planned = await planProject(dir, { env: env() });
    expect(planned.plan.actions).toEqual([]);
    expect([...planned.plan.unchanged].sort()).toEqual(PORTABLE);
    expect(planned.writes).toBe(0);

    const before = await live('compat-etl', 'nightly');
    const second = await applyProject(dir, { env: env() });
    expect(second.plan.actions).toEqual([]);
    expect(second.writes).toBe(0);
    expect((await live('compat-etl', 'nightly')).updated).toBe(before.updated);
  });

  it('what it created is what was declared, marked as ours, and readable by Prefect\'s own client', async () => {
    const nightly = await live('compat-etl', 'nightly');
    expect(nightly).toMatchObject({ description: 'Nightly load.', version: '1', work_pool_name: POOL, work_queue_name: 'etl', parameters: { source: 'nightly.csv', batch: 500 } });
    expect([...nightly.tags].sort()).toEqual(['compat', 'etl', OWNER_TAG].sort());
    expect(nightly.schedules).toHaveLength(1);
    expect((nightly.schedules[0] as unknown as { schedule: { cron: string; timezone: string } }).schedule).toMatchObject({ cron: '0 2 * * *', timezone: 'Europe/Berlin' });
    expect((await live('compat-report', 'on-demand')).paused).toBe(true);
    if (has('labels')) expect(nightly.labels?.['prefect-gitops.owner']).toBe(OWNER);

    const ls = await prefectCli(prefectTarget(), ['deployment', 'ls'], { env: { COLUMNS: '300' } });
    expect(ls.code, ls.stderr).toBe(0);
    for (const name of ['nightly', 'hourly', 'weekly', 'on-demand']) expect(ls.stdout).toContain(name);
  });

  it('one change of each kind (a field, a schedule, a parameter, a tag, pause) is planned alone and converges', async () => {
    const scheduleIdBefore = (await live('compat-etl', 'nightly')).schedules[0]!.id;
    await editManifest('etl.yaml', (d) => {
      d.nightly!.description = 'Nightly load, changed.';
      (d.nightly!.schedules as Record<string, unknown>[])[0]!.cron = '0 3 * * *';
      (d.hourly!.parameters as Record<string, unknown>).batch = 20;
    });
    await editManifest('report.yaml', (d) => {
      d.weekly!.tags = ['reports', 'gold'];
      d['on-demand']!.paused = false;
    });
    const planned = await planProject(dir, { env: env() });
    expect(planned.writes).toBe(0);
    // Without slugs (before 3.2) a changed schedule is one removed and one added: fields are deduplicated.
    const changed = Object.fromEntries(planned.plan.actions.map((a) => [a.key, a.kind === 'update' ? [...new Set(a.changes.map((c) => c.field.replace(/\[.*\]$/, '')))].sort() : a.kind]));
    expect(changed).toEqual({
      'compat-etl/nightly': ['description', 'schedules'],
      'compat-etl/hourly': ['parameters'],
      'compat-report/weekly': ['tags'],
      'compat-report/on-demand': ['paused'],
    });

    const applied = await applyProject(dir, { env: env() });
    expect(applied.result.ok, JSON.stringify(applied.result.results)).toBe(true);
    const nightly = await live('compat-etl', 'nightly');
    expect(nightly.description).toBe('Nightly load, changed.');
    expect(nightly.schedules.map((s) => (s as unknown as { schedule: { cron: string } }).schedule.cron)).toEqual(['0 3 * * *']);
    // From 3.2 schedules have slugs and are updated in place; before, they may be recreated.
    if (has('scheduleSlugs')) expect(nightly.schedules[0]!.id).toBe(scheduleIdBefore);
    expect((await live('compat-etl', 'hourly')).parameters).toEqual({ batch: 20 });
    expect([...(await live('compat-report', 'weekly')).tags].sort()).toEqual(['compat', 'gold', 'reports', OWNER_TAG].sort());
    expect((await live('compat-report', 'on-demand')).paused).toBe(false);

    const after = await planProject(dir, { env: env() });
    expect(after.plan.actions).toEqual([]);
  });

  it('drift: a change made outside git is reported, and apply puts git back', async () => {
    const weekly = await live('compat-report', 'weekly');
    await api('PATCH', `/deployments/${weekly.id}`, { description: 'edited in the UI' });
    const r = await reconcile(reconcileOptions(dir, env()));
    const report = driftReport(r.plan, r.live, new Set(r.desired.map((d) => d.flowName)));
    expect(report.hasDrift).toBe(true);
    expect(report.changed.map((c) => [c.key, c.changes.map((x) => [x.field, x.before, x.after])])).toEqual([
      ['compat-report/weekly', [['description', 'edited in the UI', 'Weekly report.']]],
    ]);
    expect(report.missing).toEqual([]);
    expect(report.orphaned).toEqual([]);

    const restored = await applyProject(dir, { env: env() });
    expect(restored.result.ok, JSON.stringify(restored.result.results)).toBe(true);
    expect((await live('compat-report', 'weekly')).description).toBe('Weekly report.');
    expect((await planProject(dir, { env: env() })).plan.actions).toEqual([]);
  });

  it('prune deletes what we own and no longer declare, and never what we do not own', async () => {
    const flow = (await live('compat-report', 'weekly')).flow_id as string;
    const theirs = await api<{ id: string }>('POST', '/deployments/', { name: 'made-by-hand', flow_id: flow, work_pool_name: POOL, entrypoint: 'flows/jobs.py:report' });
    await editManifest('report.yaml', (d) => [d.weekly!]);

    const planned = await planProject(dir, { env: env() });
    expect(planned.plan.actions.map((a) => [a.kind, a.key])).toEqual([['delete', 'compat-report/on-demand']]);
    const applied = await applyProject(dir, { env: env() });
    expect(applied.result.ok, JSON.stringify(applied.result.results)).toBe(true);
    expect(await readDeployment('compat-report', 'on-demand')).toBeUndefined();
    expect((await api<{ id: string }>('GET', `/deployments/${theirs.id}`)).id).toBe(theirs.id);
    expect((await planProject(dir, { env: env() })).plan.actions).toEqual([]);
  });

  // A run costs ~30 s, so it is taken once per major (scripts/prefect-matrix.json runToCompleted).
  if (RUN_TO_COMPLETED.includes(version)) {
    it('a flow run of a deployment it created runs to Completed on a process worker', async () => {
      const worker = await startPrefectWorker(prefectTarget(), { pool: POOL });
      try {
        const nightly = await live('compat-etl', 'nightly');
        const run = await api<{ id: string }>('POST', `/deployments/${nightly.id}/create_flow_run`, { parameters: { batch: 7 } });
        expect(await waitForFlowRun(run.id)).toBe('COMPLETED');
      } finally {
        await worker.stop();
      }
    });
  }
});

interface Probe {
  title: string;
  feature: keyof typeof SUPPORTED_FROM;
  /** Names the feature in a warning or an error. */
  mentions: RegExp;
  deployment: Record<string, unknown>;
  /** The server shows the feature on the deployment. */
  works(d: ServerDeployment): Promise<boolean> | boolean;
}

const concurrency = (d: ServerDeployment): Record<string, unknown> => (d.concurrency_options ?? {}) as Record<string, unknown>;
const limitOf = (d: ServerDeployment): unknown => (d.global_concurrency_limit as { limit?: number } | null | undefined)?.limit ?? d.concurrency_limit;

const PROBES: Probe[] = [
  {
    title: 'schedule slug and schedule parameters',
    feature: 'scheduleSlugs',
    mentions: /slug|schedule/i,
    deployment: { schedules: [{ cron: '0 9 * * *', slug: 'morning', parameters: { n: 2 } }] },
    works: (d) => d.schedules.length === 1 && d.schedules[0]!.slug === 'morning' && (d.schedules[0] as unknown as { parameters?: { n?: number } }).parameters?.n === 2,
  },
  {
    title: 'concurrency_limit',
    feature: 'concurrencyLimit',
    mentions: /concurrency/i,
    deployment: { concurrency_limit: 2 },
    works: (d) => limitOf(d) === 2,
  },
  {
    title: 'concurrency options (collision_strategy)',
    feature: 'concurrencyOptions',
    mentions: /concurrency|collision/i,
    deployment: { concurrency_limit: { limit: 1, collision_strategy: 'CANCEL_NEW' } },
    works: (d) => limitOf(d) === 1 && concurrency(d).collision_strategy === 'CANCEL_NEW',
  },
  {
    title: 'concurrency grace_period_seconds',
    feature: 'gracePeriod',
    // On 2.x the whole concurrency_limit is refused, naming it.
    mentions: /grace|concurrency/i,
    deployment: { concurrency_limit: { limit: 1, collision_strategy: 'ENQUEUE', grace_period_seconds: 120 } },
    works: (d) => concurrency(d).grace_period_seconds === 120,
  },
  {
    title: 'triggers (automations)',
    feature: 'automationTags',
    mentions: /trigger|automation/i,
    deployment: { triggers: [{ enabled: true, expect: ['acme.file.landed'], match: { 'prefect.resource.id': 'acme.upstream.*' } }] },
    works: async (d) => (await api<unknown[]>('GET', `/automations/related-to/prefect.deployment.${d.id}`)).length === 1,
  },
];

describe('features some versions lack: they work, or the plan says so before any write', () => {
  it.each(PROBES)('$title', async (probe) => {
    const project = await makeProject('probe');
    await project.write([{ name: 'probe', work_pool: { name: POOL }, ...probe.deployment }]);
    let warnings: string[];
    try {
      const r = await reconcile(reconcileOptions(project.dir, {}));
      // Both kinds of warning the CLI prints with a plan: the plan's own and the checks' (file:line).
      warnings = [...r.plan.warnings, ...r.warnings.map((i) => i.message)];
    } catch (error) {
      // Refused at plan time: must name the feature, and nothing may have been written.
      // A refusal with file:line is a ValidationFailedError: its issues say what and where.
      const said = error instanceof ValidationFailedError ? error.issues.map((i) => `${i.file}:${i.line}: ${i.message}`).join('\n') : describeError(error);
      expect(has(probe.feature), `${version} has ${probe.feature}, yet the plan refused it: ${said}`).toBe(false);
      expect(said).toMatch(probe.mentions);
      expect(await readDeployment(project.flow, 'probe')).toBeUndefined();
      console.log(`prefect ${version}: ${probe.title}: refused at plan time`);
      return;
    }
    const warned = warnings.some((w) => probe.mentions.test(w));
    const applied = await applyProject(project.dir);
    expect(applied.result.ok, JSON.stringify(applied.result.results)).toBe(true);
    const deployment = await live(project.flow, 'probe');
    const works = await probe.works(deployment);
    if (has(probe.feature)) expect(works, `${version} supports ${probe.title}`).toBe(true);
    else expect(works || warned, `${probe.title} on ${version}: neither applied nor warned about in the plan`).toBe(true);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
    // What the README's version table says comes from these lines of the matrix run.
    console.log(`prefect ${version}: ${probe.title}: ${works ? 'works' : 'warned in the plan, not applied'}`);
  });
});

describe('a schedule renamed with replaces', () => {
  it(`keeps its id where the server has schedule slugs (${has('scheduleSlugs') ? 'this one has' : 'not this one: matched by content, nothing to do'}), and converges`, async () => {
    const project = await makeProject('rename-slug');
    const deployment = (schedule: Record<string, unknown>) => ({ name: 'renamed', work_pool: { name: POOL }, schedules: [{ cron: '0 4 * * *', ...schedule }] });
    await project.write([deployment({ slug: 'early' })]);
    expect((await applyProject(project.dir)).result.ok).toBe(true);
    const before = (await live(project.flow, 'renamed')).schedules[0]!.id;
    await project.write([deployment({ slug: 'dawn', replaces: 'early' })]);
    const applied = await applyProject(project.dir);
    expect(applied.result.ok, JSON.stringify(applied.result.results)).toBe(true);
    const after = (await live(project.flow, 'renamed')).schedules;
    expect(after.map((s) => s.id)).toEqual([before]);
    if (has('scheduleSlugs')) {
      expect(applied.plan.actions.map((a) => (a.kind === 'update' ? a.changes.map((c) => `${c.field} ${String(c.before)} -> ${String(c.after)}`) : a.kind))).toEqual([['schedules[dawn].slug early -> dawn']]);
      expect(after.map((s) => s.slug)).toEqual(['dawn']);
    } else expect(applied.plan.actions).toEqual([]);
    expect((await planProject(project.dir)).plan.actions).toEqual([]);
  });
});

// examples/ uses everything (grace_period_seconds needs 3.6.6); on older servers the probes above
// cover what it would need, feature by feature.
if (atLeast(version, SUPPORTED_FROM.gracePeriod)) {
  describe('examples/ (this server supports all of it)', () => {
    it('applies, then plans empty and re-applies with 0 writes', async () => {
      // In place: the manifests read the git context ({{ git.short_sha }}); the server is this run's own.
      const examples = resolve('examples');
      try {
        // examples/ declares its work pool and two queues: created by the same apply.
        const examplesEnv = { EXAMPLES_DIR: examples };
        const first = await applyProject(examples, { env: examplesEnv });
        expect(first.plan.summary).toMatchObject({ add: 9, change: 0, delete: 0, conflicts: 0 });
        expect(first.result.ok, JSON.stringify(first.result.results)).toBe(true);
        const planned = await planProject(examples, { env: examplesEnv });
        expect(planned.plan.actions).toEqual([]);
        const second = await applyProject(examples, { env: examplesEnv });
        expect(second.plan.actions).toEqual([]);
        expect(second.writes).toBe(0);
      } finally {
        await rm(join(examples, 'out'), { recursive: true, force: true });
      }
    });
  });
}
