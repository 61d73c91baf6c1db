// Benchmark (not a test) of the real core against a throwaway Prefect server:
// `npm run bench -- [--deployments N] [--repeat R] [--json <file>] [--timeout-seconds S]`.
//
// Two workloads: the repository's examples/ and N generated deployments. For each it times the
// first apply (create all), `plan` on the converged state, a no-op apply, and an apply that
// changes 10 % of the deployments, and it counts the requests each sends (client.stats).
// Everything that does not look right (a no-op apply that writes, a plan that is not empty after
// apply) is collected as a finding and printed; src/ is never patched from here.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { apply, type ApplyResult } from '../src/apply/apply.js';
import { describeError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { loadManifests } from '../src/manifests/load.js';
import { PrefectClient } from '../src/prefect/client.js';
import type { Plan } from '../src/plan/types.js';
import { reconcile, type ReconcileOptions, type Reconciliation } from '../src/reconcile.js';
import { validateProject } from '../src/validate/validate.js';
import { repoRoot } from './prefect-venv.js';
import { startPrefectServer, type PrefectServerHandle } from './prefect-server.js';

const run = promisify(execFile);

interface BenchOptions {
  deployments: number;
  repeat: number;
  json: string | undefined;
  timeoutSeconds: number;
  /** Requests in flight and apply concurrency; the CLI's default is 4. */
  concurrency: number;
}

const USAGE = `usage: tsx scripts/benchmark.ts [--deployments N] [--repeat R] [--json <file>] [--timeout-seconds S] [--concurrency C]
  --deployments N      generated deployments (default 200)
  --repeat R           repetitions of plan / no-op apply / 10% change apply (default 5)
  --json <file>        also write the results as JSON to <file>
  --timeout-seconds S  give up (and stop the server) after S seconds (default 600)
  --concurrency C      requests in flight and apply concurrency, as the CLI's --concurrency (default 4)`;

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      deployments: { type: 'string' },
      repeat: { type: 'string' },
      json: { type: 'string' },
      'timeout-seconds': { type: 'string' },
      concurrency: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(raw)}\n${USAGE}`);
    return n;
  };
  return {
    deployments: positive('deployments', values.deployments, 200),
    repeat: positive('repeat', values.repeat, 5),
    json: values.json,
    timeoutSeconds: positive('timeout-seconds', values['timeout-seconds'], 600),
    concurrency: positive('concurrency', values.concurrency, 4),
  };
}

// --- measurement helpers -----------------------------------------------------------------

/** Peak RSS, sampled on a timer and at every phase boundary. */
class RssSampler {
  overall = 0;
  window = 0;
  private timer: NodeJS.Timeout | undefined;
  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 20);
    this.timer.unref();
  }
  stop(): void {
    clearInterval(this.timer);
  }
  sample(): void {
    const rss = process.memoryUsage().rss;
    if (rss > this.overall) this.overall = rss;
    if (rss > this.window) this.window = rss;
  }
  /** Starts a new window (per workload) at the current RSS. */
  resetWindow(): void {
    this.window = 0;
    this.sample();
  }
}

interface Series {
  readonly samplesMs: number[];
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

function series(samplesMs: number[]): Series {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const medianMs = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { samplesMs: samplesMs.map(round1), medianMs: round1(medianMs), minMs: round1(sorted[0]!), maxMs: round1(sorted[sorted.length - 1]!) };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

interface Requests {
  reads: number;
  writes: number;
  retries: number;
}

interface RunOutcome {
  readonly ms: number;
  readonly plan: Plan;
  readonly requests: Requests;
  readonly result?: ApplyResult;
}

// --- workloads ---------------------------------------------------------------------------

interface Workload {
  readonly name: string;
  /** The manifest project the first apply, the plans and the no-op applies read. */
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly pool: string;
  /**
   * A project with the same deployments whose files may be edited (examples/ itself is never
   * written). `settle` says whether one unmeasured apply is needed before it is converged.
   */
  mutable(): Promise<{ dir: string; settle: boolean }>;
}

const BENCH_POOL = 'bench-process';
const FLOWS = 5;

function examplesWorkload(tmpRoot: string): Workload {
  const dir = join(repoRoot, 'examples');
  return {
    name: 'examples',
    dir,
    env: { EXAMPLES_DIR: dir },
    pool: 'local-process',
    async mutable() {
      // A copy in its own git repository, so {{ git.* }} resolves. Its sha and branch differ from
      // the checkout's, hence one unmeasured apply to converge on the copy first.
      const copy = join(tmpRoot, 'examples-copy');
      await cp(dir, copy, { recursive: true, filter: (src) => !src.startsWith(join(dir, 'out')) });
      const git = (...args: string[]) => run('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd: copy });
      await git('init', '-q');
      await git('add', '-A');
      await git('commit', '-q', '-m', 'benchmark copy of examples/');
      return { dir: copy, settle: true };
    },
  };
}

const flowSource = (flowName: string): string => `from prefect import flow


@flow(name="${flowName}")
def job(n: int = 1) -> int:
    return n
`;

/** N deployments over 5 flow files, one manifest file per deployment, 1-2 schedules each. */
async function generatedWorkload(tmpRoot: string, count: number): Promise<Workload> {
  const dir = join(tmpRoot, 'generated');
  await mkdir(join(dir, 'flows'), { recursive: true });
  await mkdir(join(dir, 'deployments'), { recursive: true });
  const owner = `bench-${randomBytes(4).toString('hex')}`;
  await writeFile(
    join(dir, 'prefect-gitops.yaml'),
    stringify({ owner, defaults: { tags: ['bench'], work_pool: { name: BENCH_POOL } }, prune: { enabled: true } }),
  );
  const entrypoints: string[] = [];
  for (let f = 1; f <= FLOWS; f++) {
    const file = f === 1 ? 'job.py' : `job_${f}.py`;
    await writeFile(join(dir, 'flows', file), flowSource(f === 1 ? 'bench-flow' : `bench-flow-${f}`));
    entrypoints.push(`flows/${file}:job`);
  }
  const timezones = ['Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Tokyo'];
  for (let i = 0; i < count; i++) {
    const name = `bench-${String(i).padStart(4, '0')}`;
    const schedules: Record<string, unknown>[] = [{ cron: `${i % 60} ${i % 24} * * 1-5`, timezone: timezones[i % timezones.length] }];
    if (i % 2 === 0) schedules.push({ interval: 3600 + 60 * (i % 30), anchor_date: '2024-01-01T00:00:00Z' });
    const deployment = {
      name,
      entrypoint: entrypoints[i % FLOWS],
      description: `Generated benchmark deployment ${i}`,
      tags: [`group-${i % 7}`, i % 3 === 0 ? 'nightly' : 'daytime'],
      parameters: { n: i },
      work_pool: { job_variables: { env: { BENCH_INDEX: String(i), BENCH_GROUP: `g${i % 7}` } } },
      schedules,
    };
    await writeFile(join(dir, 'deployments', `${name}.yaml`), stringify(deployment));
  }
  return { name: 'generated', dir, env: {}, pool: BENCH_POOL, mutable: async () => ({ dir, settle: false }) };
}

/** Rewrites the description of `keys` in their manifest files; `set(true)` edits, `set(false)` restores. */
async function descriptionToggle(rec: Reconciliation, keys: readonly string[]): Promise<(changed: boolean) => Promise<void>> {
  const originals = new Map<string, string>();
  const edited = new Map<string, string>();
  const byFile = new Map<string, string[]>();
  for (const d of rec.desired) {
    if (!keys.includes(d.key)) continue;
    const file = resolve(repoRoot, d.declaredAt.file);
    byFile.set(file, [...(byFile.get(file) ?? []), d.name]);
  }
  for (const [file, names] of byFile) {
    const text = await readFile(file, 'utf8');
    const docs = parseAllDocuments(text);
    if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
    for (const doc of docs) {
      const name = doc.get('name');
      if (typeof name === 'string' && names.includes(name)) doc.set('description', `${String(doc.get('description') ?? '')} (benchmark edit)`);
    }
    originals.set(file, text);
    edited.set(file, docs.map((d) => d.toString()).join(''));
  }
  if (byFile.size === 0) throw new Error('none of the deployments to edit were found in the manifests');
  return async (changed) => {
    for (const [file, text] of changed ? edited : originals) await writeFile(file, text);
  };
}

// --- the benchmark -----------------------------------------------------------------------

interface WorkloadResult {
  workload: string;
  deployments: number;
  firstApply: { ms: number; actions: number; reads: number; writes: number; retries: number; ok: boolean };
  plan: Series & { reads: number[]; actions: number[] };
  /** loadManifests + validateProject alone: the part of every plan that sends no request. */
  loadValidate: Series;
  noopApply: Series & { reads: number[]; writes: number[]; retries: number[]; deploymentPagesPerScan: number };
  changeApply: Series & { changed: number; writes: number[]; reads: number[]; retries: number[] };
  peakRssMiB: number;
  findings: string[];
}

interface Bench {
  readonly server: PrefectServerHandle;
  readonly options: BenchOptions;
  readonly rss: RssSampler;
}

function reconcileOptions(bench: Bench, dir: string, env: Record<string, string>): ReconcileOptions {
  return {
    manifests: dir,
    cwd: repoRoot,
    env,
    client: { apiUrl: bench.server.apiUrl, concurrency: bench.options.concurrency },
    allowMassDelete: false,
    adoptAll: false,
    logger: silentLogger(),
  };
}

async function timedPlan(bench: Bench, dir: string, env: Record<string, string>): Promise<RunOutcome & { rec: Reconciliation }> {
  const started = performance.now();
  const rec = await reconcile(reconcileOptions(bench, dir, env));
  const ms = performance.now() - started;
  bench.rss.sample();
  return { ms, plan: rec.plan, requests: { ...rec.client.stats }, rec };
}

/** What `prefect-gitops apply` does: reconcile, then apply the plan (even when it is empty). */
async function timedApply(bench: Bench, dir: string, env: Record<string, string>): Promise<RunOutcome> {
  const started = performance.now();
  const { plan, client } = await reconcile(reconcileOptions(bench, dir, env));
  const result = await apply(plan, client, { logger: silentLogger(), concurrency: bench.options.concurrency });
  const ms = performance.now() - started;
  bench.rss.sample();
  return { ms, plan, result, requests: { ...client.stats } };
}

function describePlan(plan: Plan, limit = 3): string {
  const parts = plan.actions.slice(0, limit).map((a) => {
    if (a.kind === 'delete') return `${a.kind} ${a.key}`;
    const fields = a.changes.map((c) => `${c.field}: ${JSON.stringify(c.before)} -> ${JSON.stringify(c.after)}`).join('; ');
    return `${a.kind} ${a.key} [${fields}]`;
  });
  const more = plan.actions.length > limit ? ` (+${plan.actions.length - limit} more)` : '';
  return parts.join(' | ') + more;
}

function failures(result: ApplyResult | undefined): string {
  return (result?.results ?? []).filter((r) => r.status !== 'ok').slice(0, 3).map((r) => `${r.kind} ${r.key}: ${r.status} ${r.message ?? ''}`).join(' | ');
}

async function benchWorkload(bench: Bench, workload: Workload, log: (line: string) => void): Promise<WorkloadResult> {
  const { repeat } = bench.options;
  const findings: string[] = [];
  bench.rss.resetWindow();

  log(`${workload.name}: first apply`);
  const first = await timedApply(bench, workload.dir, workload.env);
  const n = first.plan.summary.add + first.plan.summary.change + first.plan.summary.adopt + first.plan.summary.unchanged;
  if (first.plan.summary.unchanged > 0 || first.plan.summary.change > 0) findings.push(`first apply: the server was not empty for this workload (${JSON.stringify(first.plan.summary)})`);
  if (!first.result?.ok) findings.push(`first apply failed: ${failures(first.result)}`);

  log(`${workload.name}: plan x${repeat}`);
  const plans: RunOutcome[] = [];
  for (let i = 0; i < repeat; i++) plans.push(await timedPlan(bench, workload.dir, workload.env));
  const firstPlan = plans[0]!;
  if (firstPlan.plan.actions.length > 0) {
    findings.push(`plan after the first apply is not empty: ${firstPlan.plan.actions.length} action(s): ${describePlan(firstPlan.plan)}`);
  }
  if (plans.some((p) => p.requests.writes > 0)) findings.push(`plan sent writes: ${plans.map((p) => p.requests.writes).join(',')}`);

  log(`${workload.name}: no-op apply x${repeat}`);
  const noops: RunOutcome[] = [];
  for (let i = 0; i < repeat; i++) noops.push(await timedApply(bench, workload.dir, workload.env));
  const noopWrites = noops.map((r) => r.requests.writes);
  if (noops.some((r) => r.plan.actions.length > 0)) findings.push(`no-op apply planned actions: ${list(noops.map((r) => r.plan.actions.length))}`);
  if (noopWrites.some((w) => w > 0)) {
    const bad = noops.find((r) => r.requests.writes > 0)!;
    findings.push(`no-op apply sent writes (${noopWrites.join(',')}); its plan: ${describePlan(bad.plan)}`);
  }
  // Two paged deployment scans (declared flows, owned tag) grow with N; a scan needs one more
  // page when the count is an exact multiple of the page size. Everything else (version, CSRF
  // probe, flow list, ...) should stay constant.
  const pages = Math.floor(n / 200) + 1;

  const loads: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    const project = await loadManifests(workload.dir, { cwd: repoRoot });
    validateProject(project, { env: workload.env });
    loads.push(performance.now() - started);
  }

  log(`${workload.name}: 10% change apply x${repeat}`);
  const mutable = await workload.mutable();
  if (mutable.settle) {
    const settled = await timedApply(bench, mutable.dir, workload.env);
    if (!settled.result?.ok) findings.push(`settling apply on the editable copy failed: ${failures(settled.result)}`);
  }
  const base = await timedPlan(bench, mutable.dir, workload.env);
  if (base.plan.actions.length > 0) findings.push(`editable copy not converged before the change runs: ${describePlan(base.plan)}`);
  const keys = [...base.plan.unchanged].sort();
  const count = Math.max(1, Math.round(keys.length / 10));
  // Spread the edits over the whole set (and so over all flows).
  const chosen = Array.from({ length: count }, (_, i) => keys[Math.floor((i * keys.length) / count)]!);
  const setChanged = await descriptionToggle(base.rec, chosen);
  const changes: RunOutcome[] = [];
  let changed = false;
  try {
    for (let i = 0; i < repeat; i++) {
      changed = !changed;
      await setChanged(changed);
      const outcome = await timedApply(bench, mutable.dir, workload.env);
      changes.push(outcome);
      const fields = new Set(outcome.plan.actions.flatMap((a) => (a.kind === 'delete' ? ['<delete>'] : a.changes.map((c) => c.field))));
      if (outcome.plan.actions.length !== count || [...fields].some((f) => f !== 'description')) {
        findings.push(`change apply ${i + 1}: expected ${count} description update(s), planned ${outcome.plan.actions.length}: ${describePlan(outcome.plan)}`);
      }
      if (!outcome.result?.ok) findings.push(`change apply ${i + 1} failed: ${failures(outcome.result)}`);
    }
  } finally {
    if (changed) {
      await setChanged(false);
      await timedApply(bench, mutable.dir, workload.env).catch((error: unknown) => findings.push(`restoring apply failed: ${describeError(error)}`));
    }
  }
  const after = await timedPlan(bench, mutable.dir, workload.env);
  if (after.plan.actions.length > 0) findings.push(`plan after the change runs is not empty: ${describePlan(after.plan)}`);

  bench.rss.sample();
  return {
    workload: workload.name,
    deployments: n,
    firstApply: { ms: round1(first.ms), actions: first.plan.actions.length, ...first.requests, ok: first.result?.ok ?? false },
    plan: { ...series(plans.map((p) => p.ms)), reads: plans.map((p) => p.requests.reads), actions: plans.map((p) => p.plan.actions.length) },
    loadValidate: series(loads),
    noopApply: {
      ...series(noops.map((r) => r.ms)),
      reads: noops.map((r) => r.requests.reads),
      writes: noopWrites,
      retries: noops.map((r) => r.requests.retries),
      deploymentPagesPerScan: pages,
    },
    changeApply: {
      ...series(changes.map((r) => r.ms)),
      changed: count,
      writes: changes.map((r) => r.requests.writes),
      reads: changes.map((r) => r.requests.reads),
      retries: changes.map((r) => r.requests.retries),
    },
    peakRssMiB: mib(bench.rss.window),
    findings,
  };
}

const mib = (bytes: number): number => round1(bytes / 1024 / 1024);

async function ensurePool(apiUrl: string, name: string): Promise<void> {
  const client = await PrefectClient.connect({ apiUrl });
  if (!(await client.readWorkPool(name))) await client.createWorkPool({ name, type: 'process' });
}

// --- output ------------------------------------------------------------------------------

const ms = (n: number): string => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(0)} ms`);
const range = (s: Series): string => `${ms(s.medianMs)} (min ${ms(s.minMs)}, max ${ms(s.maxMs)})`;
const list = (xs: number[]): string => (new Set(xs).size === 1 ? String(xs[0]) : xs.join('/'));

function renderTable(results: WorkloadResult[], repeat: number): string {
  const rows: [string, ...string[]][] = [
    ['', ...results.map((r) => `${r.workload} (${r.deployments} deployments)`)],
    ['first apply (create all), once', ...results.map((r) => `${ms(r.firstApply.ms)}, ${r.firstApply.actions} creates`)],
    ['  requests (reads / writes / retries)', ...results.map((r) => `${r.firstApply.reads} / ${r.firstApply.writes} / ${r.firstApply.retries}`)],
    [`plan on converged state, median of ${repeat}`, ...results.map((r) => range(r.plan))],
    ['  plan actions / reads', ...results.map((r) => `${list(r.plan.actions)} / ${list(r.plan.reads)}`)],
    ['  of which load + validate (no HTTP)', ...results.map((r) => range(r.loadValidate))],
    [`no-op apply, median of ${repeat}`, ...results.map((r) => range(r.noopApply))],
    ['  reads / writes / retries', ...results.map((r) => `${list(r.noopApply.reads)} / ${list(r.noopApply.writes)} / ${list(r.noopApply.retries)}`)],
    ['  reads = 2 scans x pages + other', ...results.map((r) => `2 x ${r.noopApply.deploymentPagesPerScan} + ${list(r.noopApply.reads.map((x) => x - 2 * r.noopApply.deploymentPagesPerScan))}`)],
    [`10% change apply, median of ${repeat}`, ...results.map((r) => range(r.changeApply))],
    ['  deployments changed / writes', ...results.map((r) => `${r.changeApply.changed} / ${list(r.changeApply.writes)}`)],
    ['  reads / retries', ...results.map((r) => `${list(r.changeApply.reads)} / ${list(r.changeApply.retries)}`)],
    ['peak RSS during workload', ...results.map((r) => `${r.peakRssMiB} MiB`)],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]): string => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  return out.join('\n');
}

function machineNote(): { cpus: number; cpuModel: string; loadavg: number[]; totalMemMiB: number; freeMemMiB: number; node: string } {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
    totalMemMiB: mib(totalmem()),
    freeMemMiB: mib(freemem()),
    node: process.version,
  };
}

// --- main --------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const log = (line: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const rss = new RssSampler();
  rss.start();
  const before = machineNote();
  let server: PrefectServerHandle | undefined;
  let tmpRoot: string | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      rss.stop();
      await server?.stop();
      if (tmpRoot) await rm(tmpRoot, { recursive: true, force: true });
    })());

  // Ctrl-C and the overall deadline stop the server before leaving; requests still in flight
  // against it would otherwise keep retrying.
  const abort = (why: string, code: number): void => {
    log(why);
    const hard = setTimeout(() => process.exit(code), 20_000);
    hard.unref();
    void cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('interrupted; stopping the Prefect server', 130));
  process.once('SIGTERM', () => abort('terminated; stopping the Prefect server', 143));
  const deadline = setTimeout(() => abort(`timed out after ${options.timeoutSeconds}s; stopping the Prefect server`, 124), options.timeoutSeconds * 1000);
  deadline.unref();

  try {
    log('starting a throwaway Prefect server (scheduler off)');
    const startedAt = performance.now();
    server = await startPrefectServer({ scheduler: false });
    log(`prefect ${server.version} at ${server.apiUrl} after ${((performance.now() - startedAt) / 1000).toFixed(1)}s`);
    tmpRoot = await mkdtemp(join(tmpdir(), 'prefect-gitops-bench-'));
    const bench: Bench = { server, options, rss };

    const workloads = [examplesWorkload(tmpRoot), await generatedWorkload(tmpRoot, options.deployments)];
    for (const w of workloads) await ensurePool(server.apiUrl, w.pool);
    const results: WorkloadResult[] = [];
    for (const w of workloads) results.push(await benchWorkload(bench, w, log));
    const afterNote = machineNote();

    console.log(`\nprefect-gitops benchmark: prefect server ${server.version} (sqlite, scheduler off), node ${process.version}, concurrency ${options.concurrency}`);
    console.log(`machine: ${before.cpus} CPUs (${before.cpuModel}), ${before.totalMemMiB} MiB RAM; load average 1/5/15 min: ${before.loadavg.join(' ')} at start, ${afterNote.loadavg.join(' ')} at end`);
    console.log(`shared and noisy machine: times are medians of ${options.repeat} runs with min/max; compare medians only, and only from the same machine.\n`);
    console.log(renderTable(results, options.repeat));
    console.log(`\npeak RSS of the benchmark process (whole run): ${mib(rss.overall)} MiB`);
    console.log('retries are the client backing off (2^n s, +-20 %) on 408/429/502/503, e.g. a busy SQLite; each one adds seconds to that run');
    const findings = results.flatMap((r) => r.findings.map((f) => `${r.workload}: ${f}`));
    console.log(findings.length ? `\nFINDINGS (${findings.length}):\n${findings.map((f) => `- ${f}`).join('\n')}` : '\nno findings: every plan after apply was empty and no-op applies sent 0 writes');

    if (options.json) {
      const report = {
        date: new Date().toISOString(),
        prefectServer: server.version,
        options,
        machine: { ...before, loadavgEnd: afterNote.loadavg },
        peakRssMiB: mib(rss.overall),
        results,
      };
      await writeFile(resolve(options.json), JSON.stringify(report, null, 2) + '\n');
      log(`results written to ${resolve(options.json)}`);
    }
    return findings.length > 0 ? 1 : 0;
  } finally {
    clearTimeout(deadline);
    await cleanup();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  },
);
