// Benchmark (not a test) of the real core against throwaway Prefect servers, side by side with
// `prefect deploy --all` and the raw-read floor:
//
//   npm run bench -- [--db sqlite|postgres|both] [--deployments 100,1000] [--large] [--repeat R]
//                    [--concurrency C | --fixed-concurrency C] [--sweep-concurrency 1,2,4,8,16]
//                    [--install-postgres] [--no-prefect-deploy] [--json <file>] [--timeout-seconds S]
//
// For each database (SQLite, and PostgreSQL in a throwaway cluster from scripts/postgres.ts) a
// Prefect server is started, and for each N, in the same process and interleaved:
// - first apply of N generated deployments (ours); the raw-write floor (the same create bodies
//   posted with plain HTTP under other flows: the server's own cost of N creates); then `prefect
//   deploy --all` of the same N deployments from a generated prefect.yaml (other flow names, so
//   both create), then its re-deploy;
// - R rounds of: the raw-read floor (plain paginated `POST /deployments/filter` + JSON.parse of the
//   same N deployments), our no-op `plan`, our no-op apply, our apply of a 10 % change.
// It prints medians, ratios, requests and writes per deployment, our CPU and the whole process's
// peak RSS, and the load average at start and end. It asserts nothing about time; what does not
// look right (a no-op apply that writes, a plan not empty after apply) is printed as a finding.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { apply, type ApplyResult } from '../src/apply/apply.js';
import { describeError } from '../src/errors.js';
import { pino } from 'pino';
import { silentLogger, type Logger } from '../src/log.js';
import { PrefectClient } from '../src/prefect/client.js';
import type { Plan } from '../src/plan/types.js';
import { reconcile, type ReconcileOptions, type Reconciliation } from '../src/reconcile.js';
import { startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy.js';
import { startPostgres, type PostgresHandle } from './postgres.js';
import { prefectCli, startPrefectServer, type PrefectServerHandle } from './prefect-server.js';
import { repoRoot } from './prefect-venv.js';

type Db = 'sqlite' | 'postgres';

interface BenchOptions {
  dbs: Db[];
  sizes: number[];
  repeat: number;
  json: string | undefined;
  timeoutSeconds: number;
  /** --concurrency: the cap of the adaptive in-flight bound (the CLI's flag). */
  concurrency: number | undefined;
  /** --fixed-concurrency: exactly this many requests and actions in flight, no adaptation. */
  fixedConcurrency: number | undefined;
  /** --sweep-concurrency: only first applies, one per fixed concurrency (and one adaptive). */
  sweep: number[] | undefined;
  installPostgres: boolean;
  prefectDeploy: boolean;
  /** Re-deploy with prefect deploy --all only for N up to this (it takes as long as the first deploy). */
  redeployUpTo: number;
}

const USAGE = `usage: npm run bench -- [options]
  --db sqlite|postgres|both   database(s) of the Prefect server (default both)
  --deployments N[,N...]      generated deployments per size (default 100,1000)
  --large                     also N=10000
  --repeat R                  rounds of floor / plan / no-op apply / 10% change apply (default 3)
  --concurrency C             cap of the adaptive requests in flight, as the CLI's --concurrency (default: adaptive up to 16)
  --fixed-concurrency C       exactly C requests and actions in flight (no adaptation)
  --sweep-concurrency C,C...  instead of the comparison: first apply of N fresh deployments at each fixed C, then adaptive
  --install-postgres          apt-get install postgresql when its server binaries are missing (root)
  --no-prefect-deploy         leave out prefect deploy --all (quick runs)
  --redeploy-up-to N          time prefect deploy --all's re-deploy only for N <= this (default: every N)
  --json <file>               also write the results as JSON to <file>
  --timeout-seconds S         give up (and stop everything) after S seconds (default 7200)`;

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string' },
      deployments: { type: 'string' },
      large: { type: 'boolean' },
      repeat: { type: 'string' },
      json: { type: 'string' },
      'timeout-seconds': { type: 'string' },
      concurrency: { type: 'string' },
      'fixed-concurrency': { type: 'string' },
      'sweep-concurrency': { type: 'string' },
      'install-postgres': { type: 'boolean' },
      'no-prefect-deploy': { type: 'boolean' },
      'redeploy-up-to': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(raw)}\n${USAGE}`);
    return n;
  };
  const list = (name: string, raw: string): number[] => raw.split(',').map((x) => positive(name, x.trim()));
  const db = values.db ?? 'both';
  const dbs = db === 'both' ? ['sqlite', 'postgres'] : db.split(',').map((d) => d.trim());
  if (dbs.some((d) => d !== 'sqlite' && d !== 'postgres')) throw new Error(`--db must be sqlite, postgres, both or a comma list, got ${JSON.stringify(db)}\n${USAGE}`);
  if (values.concurrency !== undefined && values['fixed-concurrency'] !== undefined) throw new Error('--concurrency and --fixed-concurrency exclude each other');
  const sizes = values.deployments === undefined ? [100, 1000] : list('deployments', values.deployments);
  if (values.large && !sizes.includes(10_000)) sizes.push(10_000);
  return {
    dbs: dbs as Db[],
    sizes,
    repeat: values.repeat === undefined ? 3 : positive('repeat', values.repeat),
    json: values.json,
    timeoutSeconds: values['timeout-seconds'] === undefined ? 7200 : positive('timeout-seconds', values['timeout-seconds']),
    concurrency: values.concurrency === undefined ? undefined : positive('concurrency', values.concurrency),
    fixedConcurrency: values['fixed-concurrency'] === undefined ? undefined : positive('fixed-concurrency', values['fixed-concurrency']),
    sweep: values['sweep-concurrency'] === undefined ? undefined : list('sweep-concurrency', values['sweep-concurrency']),
    installPostgres: values['install-postgres'] ?? false,
    prefectDeploy: !(values['no-prefect-deploy'] ?? false),
    redeployUpTo: values['redeploy-up-to'] === undefined ? Number.POSITIVE_INFINITY : positive('redeploy-up-to', values['redeploy-up-to']),
  };
}

// --- measurement helpers -----------------------------------------------------------------

/** Peak RSS of this whole process, sampled on a timer and at every phase boundary. */
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
  resetWindow(): void {
    this.window = 0;
    this.sample();
  }
}

/** One timed run: wall time, this process's CPU (user + system), requests sent. */
interface Sample {
  readonly ms: number;
  readonly cpuMs: number;
  readonly reads: number;
  readonly writes: number;
  readonly retries: number;
}

async function measure<T>(rss: RssSampler, fn: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await fn();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  rss.sample();
  return { value, ms, cpuMs: (used.user + used.system) / 1000 };
}

const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round1 = (n: number): number => Math.round(n * 10) / 10;
const mib = (bytes: number): number => round1(bytes / 1024 / 1024);

interface Summary {
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly medianCpuMs: number;
  /** Per run (they should all be equal). */
  readonly reads: number[];
  readonly writes: number[];
  readonly retries: number[];
}

function summarize(samples: readonly Sample[]): Summary {
  const ms = samples.map((s) => s.ms);
  return {
    runs: samples.length,
    medianMs: round1(median(ms)),
    minMs: round1(Math.min(...ms)),
    maxMs: round1(Math.max(...ms)),
    medianCpuMs: round1(median(samples.map((s) => s.cpuMs))),
    reads: samples.map((s) => s.reads),
    writes: samples.map((s) => s.writes),
    retries: samples.map((s) => s.retries),
  };
}

// --- generated projects ------------------------------------------------------------------

const BENCH_POOL = 'bench-process';
const FLOWS = 5;
const TIMEZONES = ['Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Tokyo'];

const flowSource = (flowName: string): string => `from prefect import flow


@flow(name="${flowName}")
def job(n: int = 1) -> int:
    return n
`;

/** The i-th generated deployment, as both tools declare it (1-2 schedules, tags, parameters, job variables). */
function deploymentSpec(i: number): { name: string; flowIndex: number; body: Record<string, unknown> } {
  const name = `bench-${String(i).padStart(5, '0')}`;
  const schedules: Record<string, unknown>[] = [{ cron: `${i % 60} ${i % 24} * * 1-5`, timezone: TIMEZONES[i % TIMEZONES.length] }];
  if (i % 2 === 0) schedules.push({ interval: 3600 + 60 * (i % 30), anchor_date: '2024-01-01T00:00:00Z' });
  return {
    name,
    flowIndex: i % FLOWS,
    body: {
      description: `Generated benchmark deployment ${i}`,
      tags: [`group-${i % 7}`, i % 3 === 0 ? 'nightly' : 'daytime'],
      parameters: { n: i },
      schedules,
    },
  };
}

const jobVariables = (i: number): Record<string, unknown> => ({ env: { BENCH_INDEX: String(i), BENCH_GROUP: `g${i % 7}` } });

interface Project {
  readonly dir: string;
  readonly flowNames: string[];
  readonly count: number;
}

async function writeFlows(dir: string, prefix: string): Promise<{ flowNames: string[]; entrypoints: string[] }> {
  await mkdir(join(dir, 'flows'), { recursive: true });
  const flowNames: string[] = [];
  const entrypoints: string[] = [];
  for (let f = 1; f <= FLOWS; f++) {
    const flowName = `${prefix}-flow-${f}`;
    await writeFile(join(dir, 'flows', `job_${f}.py`), flowSource(flowName));
    flowNames.push(flowName);
    entrypoints.push(`flows/job_${f}.py:job`);
  }
  return { flowNames, entrypoints };
}

/** N deployments as prefect-gitops manifests (one file each), owned by a fresh owner. */
async function oursProject(root: string, prefix: string, count: number): Promise<Project> {
  const dir = join(root, prefix);
  const { flowNames, entrypoints } = await writeFlows(dir, prefix);
  await mkdir(join(dir, 'deployments'), { recursive: true });
  await writeFile(join(dir, 'prefect-gitops.yaml'), stringify({ owner: `${prefix}-owner`, defaults: { tags: ['bench'], work_pool: { name: BENCH_POOL } }, prune: { enabled: true } }));
  for (let i = 0; i < count; i++) {
    const d = deploymentSpec(i);
    const manifest = { name: d.name, entrypoint: entrypoints[d.flowIndex], ...d.body, work_pool: { job_variables: jobVariables(i) } };
    await writeFile(join(dir, 'deployments', `${d.name}.yaml`), stringify(manifest));
  }
  return { dir, flowNames, count };
}

/** The same N deployments in one prefect.yaml, for `prefect deploy --all`. */
async function prefectYamlProject(root: string, prefix: string, count: number): Promise<Project> {
  const dir = join(root, prefix);
  const { flowNames, entrypoints } = await writeFlows(dir, prefix);
  const deployments = Array.from({ length: count }, (_, i) => {
    const d = deploymentSpec(i);
    return { name: d.name, entrypoint: entrypoints[d.flowIndex], ...d.body, tags: ['bench', ...(d.body.tags as string[])], work_pool: { name: BENCH_POOL, job_variables: jobVariables(i) } };
  });
  await writeFile(join(dir, 'prefect.yaml'), stringify({ name: prefix, 'prefect-version': '3', pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: dir } }], deployments }));
  return { dir, flowNames, count };
}

/** Rewrites the description of `keys` in their manifest files; `set(true)` edits, `set(false)` restores. */
async function descriptionToggle(rec: Reconciliation, keys: readonly string[]): Promise<(changed: boolean) => Promise<void>> {
  const originals = new Map<string, string>();
  const edited = new Map<string, string>();
  const byFile = new Map<string, string[]>();
  const wanted = new Set(keys);
  for (const d of rec.desired) {
    if (!wanted.has(d.key)) continue;
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

// --- the runs ----------------------------------------------------------------------------

interface Ctx {
  readonly server: PrefectServerHandle;
  readonly proxy: FaultProxy;
  readonly options: BenchOptions;
  readonly rss: RssSampler;
  readonly log: (line: string) => void;
}

function clientOptions(ctx: Ctx, fixed?: number): ReconcileOptions['client'] {
  const f = fixed ?? ctx.options.fixedConcurrency;
  if (f !== undefined) return { apiUrl: ctx.server.apiUrl, concurrency: f, adaptiveConcurrency: false };
  return { apiUrl: ctx.server.apiUrl, ...(ctx.options.concurrency !== undefined ? { concurrency: ctx.options.concurrency } : {}) };
}

function reconcileOptions(ctx: Ctx, dir: string, fixed?: number, logger: Logger = silentLogger()): ReconcileOptions {
  return { manifests: dir, cwd: repoRoot, env: {}, client: clientOptions(ctx, fixed), allowMassDelete: false, adoptAll: false, logger };
}

/** A logger that keeps the latency (ms) of each request the client sent, by `METHOD /route` (its debug log). */
function latencyLogger(into: Map<string, number[]>): Logger {
  return pino(
    { level: 'debug' },
    {
      write(line: string) {
        if (!line.includes('"prefect request"')) return;
        const r = JSON.parse(line) as { method?: string; path?: string; ms?: number; status?: number };
        if (r.ms === undefined || r.status === undefined || r.status >= 300) return;
        const key = `${r.method} ${(r.path ?? '').split('?')[0]!.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '{id}')}`;
        into.set(key, [...(into.get(key) ?? []), r.ms]);
      },
    },
  );
}

function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? Number.NaN;
}

interface OurRun extends Sample {
  readonly plan: Plan;
  readonly rec: Reconciliation;
  readonly result?: ApplyResult;
  readonly concurrency: PrefectClient['concurrency'];
}

async function ourPlan(ctx: Ctx, dir: string): Promise<OurRun> {
  const { value: rec, ms, cpuMs } = await measure(ctx.rss, () => reconcile(reconcileOptions(ctx, dir)));
  return { ms, cpuMs, ...rec.client.stats, plan: rec.plan, rec, concurrency: rec.client.concurrency };
}

/** What `prefect-gitops apply` does: reconcile, then apply the plan (even when it is empty). */
async function ourApply(ctx: Ctx, dir: string, fixed?: number, logger?: Logger): Promise<OurRun> {
  const { value, ms, cpuMs } = await measure(ctx.rss, async () => {
    const rec = await reconcile(reconcileOptions(ctx, dir, fixed, logger));
    const result = await apply(rec.plan, rec.client, { logger: silentLogger(), ...(fixed !== undefined ? { concurrency: fixed } : {}) });
    return { rec, result };
  });
  return { ms, cpuMs, ...value.rec.client.stats, plan: value.rec.plan, rec: value.rec, result: value.result, concurrency: value.rec.client.concurrency };
}

const READ_ROUTE = /\/(filter|count|paginate)\/?$/;

/** `prefect deploy --all` in `dir`, through the counting proxy. */
async function prefectDeploy(ctx: Ctx, dir: string): Promise<Sample & { code: number; tail: string }> {
  ctx.proxy.reset();
  const target = { env: { ...ctx.server.env, PREFECT_API_URL: ctx.proxy.apiUrl } };
  const { value, ms, cpuMs } = await measure(ctx.rss, () => prefectCli(target, ['--no-prompt', 'deploy', '--all'], { cwd: dir, timeoutMs: 3 * 3600_000 }));
  let reads = 0;
  let writes = 0;
  for (const r of ctx.proxy.requests) {
    const route = r.path.split('?')[0] ?? '';
    if (r.method === 'GET' || (r.method === 'POST' && READ_ROUTE.test(route))) reads += 1;
    else writes += 1;
  }
  const tail = (value.stderr + value.stdout).trim().split('\n').slice(-5).join(' | ');
  return { ms, cpuMs, reads, writes, retries: 0, code: value.code, tail };
}

/** The floor: the same deployments read with plain paginated HTTP and JSON.parse, nothing else. */
async function rawFloor(ctx: Ctx, flowNames: string[]): Promise<Sample & { rows: number }> {
  const { value, ms, cpuMs } = await measure(ctx.rss, async () => {
    let rows = 0;
    let requests = 0;
    for (let offset = 0; ; offset += 200) {
      const response = await fetch(`${ctx.server.apiUrl}/deployments/filter`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ flows: { name: { any_: flowNames } }, sort: 'CREATED_DESC', limit: 200, offset }),
      });
      requests += 1;
      if (!response.ok) throw new Error(`raw floor: POST /deployments/filter -> ${response.status}`);
      const page = JSON.parse(await response.text()) as unknown[];
      rows += page.length;
      if (page.length < 200) break;
    }
    return { rows, requests };
  });
  return { ms, cpuMs, reads: value.requests, writes: 0, retries: 0, rows: value.rows };
}

/**
 * The write floor: the very bodies our first apply sent (each create with its schedules inline, as
 * `POST /deployments/` takes them), posted with plain HTTP at a fixed concurrency, under flows of
 * their own: no claims, no reads, no checks. What the server needs to create N such deployments;
 * a 503 (Prefect on SQLite while another writer holds the database) is sent again after 50 ms.
 */
async function rawWriteFloor(ctx: Ctx, plan: Plan, prefix: string, concurrency: number): Promise<Sample & { created: number }> {
  const creates = plan.actions.filter((a): a is Extract<Plan['actions'][number], { kind: 'create' }> => a.kind === 'create');
  const post = async (path: string, body: unknown): Promise<{ status: number; text: string }> => {
    const response = await fetch(`${ctx.server.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, text: await response.text() };
  };
  const { value, ms, cpuMs } = await measure(ctx.rss, async () => {
    let requests = 0;
    let retries = 0;
    let created = 0;
    const flowIds = new Map<string, string>();
    for (const flowName of new Set(creates.map((a) => a.flowName))) {
      const reply = await post('/flows/', { name: `${prefix}-${flowName}` });
      requests += 1;
      flowIds.set(flowName, (JSON.parse(reply.text) as { id: string }).id);
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < creates.length) {
        const a = creates[next++]!;
        const schedules = a.schedules.map(({ max_scheduled_runs: _m, ...rest }) => rest);
        // Under another owner (tags and labels): the floor's deployments must not count as ours.
        const body = JSON.parse(JSON.stringify({ ...a.body, ...(schedules.length > 0 ? { schedules } : {}), name: a.name, flow_id: flowIds.get(a.flowName) }).split(plan.owner).join(`${plan.owner}-floor`)) as Record<string, unknown>;
        for (;;) {
          const reply = await post('/deployments/', body);
          requests += 1;
          if (reply.status === 503 || reply.status === 429) {
            retries += 1;
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          if (reply.status !== 201) throw new Error(`raw write floor: POST /deployments/ -> ${reply.status} ${reply.text.slice(0, 200)}`);
          created += 1;
          break;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { requests, retries, created };
  });
  return { ms, cpuMs, reads: 0, writes: value.requests, retries: value.retries, created: value.created };
}

function describePlan(plan: Plan, limit = 3): string {
  const parts = plan.actions.slice(0, limit).map((a) => {
    if (a.kind === 'delete') return `${a.kind} ${a.key}`;
    const fields = a.changes.map((c) => `${c.field}: ${JSON.stringify(c.before)} -> ${JSON.stringify(c.after)}`).join('; ');
    return `${a.kind} ${a.key} [${fields}]`;
  });
  return parts.join(' | ') + (plan.actions.length > limit ? ` (+${plan.actions.length - limit} more)` : '');
}

function failures(result: ApplyResult | undefined): string {
  return (result?.results ?? []).filter((r) => r.status !== 'ok').slice(0, 3).map((r) => `${r.kind} ${r.key}: ${r.status} ${r.message ?? ''}`).join(' | ');
}

interface SizeResult {
  db: Db;
  n: number;
  firstApply: Sample & { concurrency: PrefectClient['concurrency'] };
  writeFloor: Sample & { concurrency: number };
  prefectDeploy?: Sample;
  prefectRedeploy?: Sample;
  floor: Summary;
  plan: Summary;
  noopApply: Summary;
  changeApply: Summary & { changed: number };
  peakRssMiB: number;
  loadStart: number[];
  loadEnd: number[];
  findings: string[];
}

const strip = (s: Sample): Sample => ({ ms: round1(s.ms), cpuMs: round1(s.cpuMs), reads: s.reads, writes: s.writes, retries: s.retries });

async function benchSize(ctx: Ctx, db: Db, n: number, root: string): Promise<SizeResult> {
  const { repeat } = ctx.options;
  const findings: string[] = [];
  const loadStart = load();
  ctx.rss.resetWindow();
  const tag = randomBytes(3).toString('hex');
  const ours = await oursProject(root, `g${n}-${tag}`, n);

  ctx.log(`${db} N=${n}: our first apply`);
  const first = await ourApply(ctx, ours.dir);
  if (first.plan.summary.add !== n) findings.push(`first apply: expected ${n} creates, planned ${JSON.stringify(first.plan.summary)}`);
  if (!first.result?.ok) findings.push(`first apply failed: ${failures(first.result)}`);
  // The server's own cost of the same creates: one at a time on SQLite (one writer at a time: more
  // only meets 503s), else at the concurrency our adaptive client peaked at (and never below 4).
  const writeFloorConcurrency = db === 'sqlite' ? 1 : Math.max(4, first.concurrency.peak);
  ctx.log(`${db} N=${n}: raw-write floor (the same ${n} create bodies, plain HTTP, ${writeFloorConcurrency} in flight)`);
  const writeFloor = await rawWriteFloor(ctx, first.plan, `w${n}-${tag}`, writeFloorConcurrency);
  if (writeFloor.created !== n) findings.push(`raw-write floor created ${writeFloor.created} deployments, expected ${n}`);

  let prefectFirst: Sample | undefined;
  let prefectRe: Sample | undefined;
  if (ctx.options.prefectDeploy) {
    const theirs = await prefectYamlProject(root, `p${n}-${tag}`, n);
    ctx.log(`${db} N=${n}: prefect deploy --all (first)`);
    const pd1 = await prefectDeploy(ctx, theirs.dir);
    if (pd1.code !== 0) findings.push(`prefect deploy --all (first) exited ${pd1.code}: ${pd1.tail}`);
    prefectFirst = pd1;
    if (n <= ctx.options.redeployUpTo) {
      ctx.log(`${db} N=${n}: prefect deploy --all (re-deploy)`);
      const pd2 = await prefectDeploy(ctx, theirs.dir);
      if (pd2.code !== 0) findings.push(`prefect deploy --all (re-deploy) exited ${pd2.code}: ${pd2.tail}`);
      prefectRe = pd2;
    }
  }

  // The 10 % to edit, spread over the whole set (and so over all flows).
  const base = await ourPlan(ctx, ours.dir);
  if (base.plan.actions.length > 0) findings.push(`plan after the first apply is not empty: ${describePlan(base.plan)}`);
  const keys = [...base.plan.unchanged].sort();
  const count = Math.max(1, Math.round(keys.length / 10));
  const chosen = Array.from({ length: count }, (_, i) => keys[Math.floor((i * keys.length) / count)]!);
  const setChanged = await descriptionToggle(base.rec, chosen);

  const floors: Sample[] = [];
  const plans: Sample[] = [];
  const noops: Sample[] = [];
  const changes: Sample[] = [];
  let changed = false;
  try {
    for (let r = 1; r <= repeat; r++) {
      ctx.log(`${db} N=${n}: round ${r}/${repeat}: raw floor, plan, no-op apply, 10% change apply`);
      const floor = await rawFloor(ctx, ours.flowNames);
      if (floor.rows !== n) findings.push(`raw floor read ${floor.rows} deployments, expected ${n}`);
      floors.push(floor);
      const plan = await ourPlan(ctx, ours.dir);
      if (plan.plan.actions.length > 0) findings.push(`no-op plan ${r}: ${plan.plan.actions.length} action(s): ${describePlan(plan.plan)}`);
      if (plan.writes > 0) findings.push(`plan ${r} sent ${plan.writes} writes`);
      plans.push(plan);
      const noop = await ourApply(ctx, ours.dir);
      if (noop.writes > 0) findings.push(`no-op apply ${r} sent ${noop.writes} writes; its plan: ${describePlan(noop.plan)}`);
      noops.push(noop);
      changed = !changed;
      await setChanged(changed);
      const change = await ourApply(ctx, ours.dir);
      const fields = new Set(change.plan.actions.flatMap((a) => (a.kind === 'delete' ? ['<delete>'] : a.changes.map((c) => c.field))));
      if (change.plan.actions.length !== count || [...fields].some((f) => f !== 'description')) {
        findings.push(`change apply ${r}: expected ${count} description updates, planned ${change.plan.actions.length}: ${describePlan(change.plan)}`);
      }
      if (change.writes !== count) findings.push(`change apply ${r}: ${change.writes} writes for ${count} changed deployments (expected one PATCH each)`);
      if (!change.result?.ok) findings.push(`change apply ${r} failed: ${failures(change.result)}`);
      changes.push(change);
    }
  } finally {
    if (changed) {
      await setChanged(false);
      await ourApply(ctx, ours.dir).catch((error: unknown) => findings.push(`restoring apply failed: ${describeError(error)}`));
    }
  }
  return {
    db,
    n,
    firstApply: { ...strip(first), concurrency: first.concurrency },
    writeFloor: { ...strip(writeFloor), concurrency: writeFloorConcurrency },
    ...(prefectFirst ? { prefectDeploy: strip(prefectFirst) } : {}),
    ...(prefectRe ? { prefectRedeploy: strip(prefectRe) } : {}),
    floor: summarize(floors),
    plan: summarize(plans),
    noopApply: summarize(noops),
    changeApply: { ...summarize(changes), changed: count },
    peakRssMiB: mib(ctx.rss.window),
    loadStart,
    loadEnd: load(),
    findings,
  };
}

interface SweepRow {
  db: Db;
  n: number;
  concurrency: string;
  ms: number;
  cpuMs: number;
  writes: number;
  retries: number;
  peak: number;
  ok: boolean;
  /** Requests (reads + writes) per created deployment. */
  perCreate: number;
  /** Server latency of POST /deployments/ as the client saw it: median and 90th percentile (ms). */
  createP50: number;
  createP90: number;
}

/** First applies of N fresh deployments at each fixed concurrency, then one adaptive: where does it stop getting faster? */
async function sweep(ctx: Ctx, db: Db, n: number, root: string, levels: number[]): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  const runs: (number | undefined)[] = [...levels, undefined];
  for (const level of runs) {
    const project = await oursProject(root, `s${n}-${level ?? 'a'}-${randomBytes(3).toString('hex')}`, n);
    ctx.log(`${db} N=${n}: sweep, first apply at concurrency ${level ?? 'adaptive'}`);
    const latency = new Map<string, number[]>();
    const run = await ourApply(ctx, project.dir, level, latencyLogger(latency));
    const creates = latency.get('POST /deployments/') ?? [];
    rows.push({
      db,
      n,
      concurrency: level === undefined ? `adaptive (${run.concurrency.limit} at end)` : String(level),
      ms: round1(run.ms),
      cpuMs: round1(run.cpuMs),
      writes: run.writes,
      retries: run.retries,
      peak: run.concurrency.peak,
      ok: run.result?.ok ?? false,
      perCreate: Math.round(((run.reads + run.writes) / n) * 100) / 100,
      createP50: percentile(creates, 0.5),
      createP90: percentile(creates, 0.9),
    });
  }
  return rows;
}

async function ensurePool(apiUrl: string, name: string): Promise<void> {
  const client = await PrefectClient.connect({ apiUrl });
  if (!(await client.readWorkPool(name))) await client.createWorkPool({ name, type: 'process' });
}

// --- output ------------------------------------------------------------------------------

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const list = (xs: number[]): string => (new Set(xs).size === 1 ? String(xs[0]) : xs.join('/'));
const perDep = (x: number, n: number): string => (x / n).toFixed(2);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
const load = (): number[] => loadavg().map((l) => Math.round(l * 100) / 100);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]): string => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function renderSize(r: SizeResult): string {
  const n = r.n;
  const rows: string[][] = [['work', 'time (median, min-max)', 'our CPU', 'reads / writes / retries', 'requests / deployment', 'writes / deployment']];
  const one = (label: string, s: Sample, cpu = true): string[] => [label, fmt(s.ms), cpu ? fmt(s.cpuMs) : '-', `${s.reads} / ${s.writes} / ${s.retries}`, perDep(s.reads + s.writes, n), perDep(s.writes, n)];
  const many = (label: string, s: Summary, per = n, cpu = true): string[] => [
    label,
    `${fmt(s.medianMs)} (${fmt(s.minMs)}-${fmt(s.maxMs)})`,
    cpu ? fmt(s.medianCpuMs) : '-',
    `${list(s.reads)} / ${list(s.writes)} / ${list(s.retries)}`,
    perDep(median(s.reads) + median(s.writes), per),
    perDep(median(s.writes), per),
  ];
  rows.push(one('our first apply', r.firstApply));
  rows.push(one(`raw-write floor (${r.writeFloor.concurrency} in flight)`, r.writeFloor));
  if (r.prefectDeploy) rows.push(one('prefect deploy --all, first', r.prefectDeploy, false));
  if (r.prefectRedeploy) rows.push(one('prefect deploy --all, re-deploy', r.prefectRedeploy, false));
  rows.push(many(`raw-read floor (x${r.floor.runs})`, r.floor));
  rows.push(many(`our no-op plan (x${r.plan.runs})`, r.plan));
  rows.push(many(`our no-op apply (x${r.noopApply.runs})`, r.noopApply));
  const change = many(`our 10% change apply (x${r.changeApply.runs}), per changed`, r.changeApply, r.changeApply.changed);
  rows.push(change);
  const c = r.firstApply.concurrency;
  const ratios = [
    `no-op plan / raw floor: ${ratio(r.plan.medianMs, r.floor.medianMs)}; no-op apply / raw floor: ${ratio(r.noopApply.medianMs, r.floor.medianMs)}`,
    ...(r.prefectDeploy ? [`prefect deploy --all first / our first apply: ${ratio(r.prefectDeploy.ms, r.firstApply.ms)} (ours faster by that factor); / raw-write floor: ${ratio(r.prefectDeploy.ms, r.writeFloor.ms)} (the most any client of this server could reach)`] : []),
    `our first apply / raw-write floor: ${ratio(r.firstApply.ms, r.writeFloor.ms)}`,
    ...(r.prefectRedeploy ? [`prefect deploy --all re-deploy / our no-op apply: ${ratio(r.prefectRedeploy.ms, r.noopApply.medianMs)}; / our 10% change apply: ${ratio(r.prefectRedeploy.ms, r.changeApply.medianMs)}`] : []),
    `first apply concurrency: ended at ${c.limit}, peak ${c.peak}, cap ${c.max} (${c.increases} rises, ${c.decreases} cuts)`,
    `10% change: ${r.changeApply.changed} deployments changed`,
    `peak RSS of the whole process during this size: ${r.peakRssMiB} MiB; load average ${r.loadStart.join(' ')} -> ${r.loadEnd.join(' ')}`,
  ];
  return `${r.db}, N=${n}\n${table(rows)}\n${ratios.map((l) => `  ${l}`).join('\n')}`;
}

function machineNote(): { cpus: number; cpuModel: string; loadavg: number[]; totalMemMiB: number; freeMemMiB: number; node: string } {
  const cpuList = cpus();
  return { cpus: cpuList.length, cpuModel: cpuList[0]?.model.trim() ?? 'unknown', loadavg: load(), totalMemMiB: mib(totalmem()), freeMemMiB: mib(freemem()), node: process.version };
}

// --- main --------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const log = (line: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const rss = new RssSampler();
  rss.start();
  const before = machineNote();
  const started = performance.now();
  console.log(`prefect-gitops benchmark ${new Date().toISOString()}: ${process.argv.slice(2).join(' ') || '(defaults)'}; ${before.cpus} CPUs, load average 1/5/15 min at start: ${before.loadavg.join(' ')}`);
  // Everything started is stopped by cleanup(), once, in reverse order: on success, error, Ctrl-C and the deadline.
  const stops: (() => Promise<void>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      rss.stop();
      for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => log(`cleanup: ${describeError(error)}`));
    })());
  const abort = (why: string, code: number): void => {
    log(why);
    const hard = setTimeout(() => process.exit(code), 30_000);
    hard.unref();
    void cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('interrupted; stopping servers', 130));
  process.once('SIGTERM', () => abort('terminated; stopping servers', 143));
  const deadline = setTimeout(() => abort(`timed out after ${options.timeoutSeconds}s; stopping servers`, 124), options.timeoutSeconds * 1000);
  deadline.unref();

  const results: SizeResult[] = [];
  const sweeps: SweepRow[] = [];
  const servers: { db: Db; prefect: string; database: string }[] = [];
  try {
    const tmpRoot = await mkdtemp(join(tmpdir(), 'prefect-gitops-bench-'));
    stops.push(() => rm(tmpRoot, { recursive: true, force: true }));
    for (const db of options.dbs) {
      let pg: PostgresHandle | undefined;
      if (db === 'postgres') {
        log('starting a throwaway PostgreSQL');
        pg = await startPostgres({ install: options.installPostgres, log });
        stops.push(pg.stop);
      }
      log(`starting a throwaway Prefect server on ${db} (scheduler off)`);
      const env: Record<string, string> = pg ? { PREFECT_SERVER_DATABASE_CONNECTION_URL: pg.asyncpgUrl, PREFECT_API_DATABASE_CONNECTION_URL: pg.asyncpgUrl } : {};
      const server = await startPrefectServer({ scheduler: false, env, readyTimeoutMs: 180_000 });
      stops.push(server.stop);
      const proxy = await startFaultProxy(server.apiUrl);
      stops.push(() => proxy.close());
      log(`prefect ${server.version} at ${server.apiUrl}${pg ? ` on ${pg.version}` : ''}`);
      servers.push({ db, prefect: server.version, database: pg ? pg.version : 'SQLite (aiosqlite)' });
      await ensurePool(server.apiUrl, BENCH_POOL);
      const ctx: Ctx = { server, proxy, options, rss, log };
      for (const n of options.sizes) {
        if (options.sweep) {
          sweeps.push(...(await sweep(ctx, db, n, tmpRoot, options.sweep)));
        } else {
          const r = await benchSize(ctx, db, n, tmpRoot);
          results.push(r);
          // Printed as soon as it is known, so a run cut short by the deadline keeps what it measured.
          console.log(`\n${renderSize(r)}\n`);
        }
      }
      // One database at a time: stop this server (and its PostgreSQL) before the next starts.
      await proxy.close();
      await server.stop();
      await pg?.stop();
    }
    const after = machineNote();

    console.log(`\n== summary; load average at start ${before.loadavg.join(' ')}`);
    const mode = options.fixedConcurrency !== undefined ? `fixed concurrency ${options.fixedConcurrency}` : `adaptive concurrency (cap ${options.concurrency ?? 16})`;
    console.log(`\nprefect-gitops benchmark, node ${process.version}, ${mode}; ${servers.map((s) => `${s.db}: prefect ${s.prefect} on ${s.database}`).join('; ')}; scheduler off`);
    console.log(`machine: ${before.cpus} CPUs (${before.cpuModel}), ${before.totalMemMiB} MiB RAM; load average 1/5/15 min: ${before.loadavg.join(' ')} at start, ${after.loadavg.join(' ')} at end; ${((performance.now() - started) / 60_000).toFixed(1)} min`);
    console.log('times in-process (our CPU = this process, user + system); prefect deploy runs as a child process through a counting proxy on 127.0.0.1; compare medians from the same run only.\n');
    if (results.length > 0) console.log('(per-size tables printed above as each finished)\n');
    if (sweeps.length > 0) {
      const rows = [['db', 'N', 'concurrency', 'first apply', 'creates / s', 'our CPU', 'writes', 'requests / create', 'POST /deployments/ p50 / p90', 'retries', 'peak in flight', 'ok']];
      for (const s of sweeps) {
        rows.push([s.db, String(s.n), s.concurrency, fmt(s.ms), ((s.n * 1000) / s.ms).toFixed(1), fmt(s.cpuMs), String(s.writes), String(s.perCreate), `${s.createP50} / ${s.createP90} ms`, String(s.retries), String(s.peak), String(s.ok)]);
      }
      console.log(`${table(rows)}\n`);
    }
    console.log(`peak RSS of the benchmark process (whole run): ${mib(rss.overall)} MiB`);
    const findings = results.flatMap((r) => r.findings.map((f) => `${r.db} N=${r.n}: ${f}`));
    const sweepFailures = sweeps.filter((s) => !s.ok).map((s) => `${s.db} N=${s.n} concurrency ${s.concurrency}: first apply failed`);
    findings.push(...sweepFailures);
    console.log(findings.length ? `\nFINDINGS (${findings.length}):\n${findings.map((f) => `- ${f}`).join('\n')}` : '\nno findings: every plan after apply was empty, no-op applies sent 0 writes, a 10% change sent one PATCH per changed deployment');

    if (options.json) {
      const report = { date: new Date().toISOString(), options, servers, machine: { ...before, loadavgEnd: after.loadavg }, peakRssMiB: mib(rss.overall), results, sweeps };
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
