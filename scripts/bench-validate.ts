// Offline benchmark (not a test) of `validate` on N generated manifests: no server needed.
//
//   npx tsx scripts/bench-validate.ts [--deployments N] [--dir DIR] [--generate-only]
//                                     [--flow-files F] [--tasks-per-file T]
//
// Writes a project of N deployments (one manifest file each) whose entrypoints go into a handful
// of shared flow files with typed parameters (so each deployment gets a parameter schema built
// from its flow's signature), with parameters, and cron / rrule / interval schedules over a few
// repeated expressions and timezones. `--flow-files 400 --tasks-per-file 25` instead spreads them
// over 400 distinct flow files of ~420 lines each (a repo of many long flow files: each is parsed;
// their flows take the description from the docstring, as most flows do). Then loads and validates it in this process and prints wall
// time, this process's CPU time and peak RSS. `--generate-only` stops after writing, so the
// project can be validated by the CLI as a whole process (e.g. under `/usr/bin/time -v`):
//
//   npx tsx scripts/bench-validate.ts --deployments 10000 --dir /tmp/v10k --generate-only
//   /usr/bin/time -v node bin/prefect-gitops.js validate /tmp/v10k
//
// `--compare REF,REF` is the before/after figure in one run: it builds each git ref (`.` = this
// working tree, uncommitted changes included) as npm users get it (its files in a scratch folder,
// lib/ bundled by its own scripts/build-lib.ts, or the first one for a ref from before the bundle,
// so every ref starts alike, src/ removed,
// node_modules linked from this checkout), then runs `validate DIR` with each build, interleaved
// (A B A B ...) so load changes hit both alike, and prints each run's wall time, CPU (user + system)
// and peak RSS of the whole process, their medians side by side and the load average:
//
//   npx tsx scripts/bench-validate.ts --dir /tmp/v10k --compare fde344c,. --runs 5
//
// It asserts nothing about time; it exits 1 only when the generated project does not validate.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { loadManifests } from '../src/manifests/load.js';
import { hasErrors, validateProject } from '../src/validate/validate.js';

const FLOW_FILES = 6;

/** A task of a generated flow file: what real flow files mostly hold besides the flows (~18 lines). */
const taskSource = (t: number): string => `
@task(retries=2, retry_delay_seconds=10)
def step_${t}(rows: list[dict], factor: float = ${t}.5, label: str = "s${t}") -> list[dict]:
    """Step ${t}: transforms rows.

    Args:
        rows: the input rows
        factor: a factor
    """
    out = []
    for r in rows:
        if r.get("skip"):
            continue
        out.append({**r, "v": r.get("v", 0) * factor + ${t}, "label": label})
    return out

`;

const flowSource = (f: number, tasks = 0): string => `"""Generated benchmark flows, file ${f}."""
from typing import Literal, Optional

from prefect import flow, task
${Array.from({ length: tasks }, (_, t) => taskSource(t)).join('')}


@flow(name="bench-etl-${f}"${tasks > 0 ? '' : `, description="Extract, transform and load batch ${f}"`})
def etl(
    batch_size: int = 100,
    region: Literal["eu", "us", "ap"] = "eu",
    tables: list[str] = ["orders"],
    dry_run: bool = False,
    threshold: Optional[float] = None,
    labels: dict[str, str] = {},
) -> int:
    """Moves one batch."""
    return batch_size


@flow
def report_${f}(day: str, recipients: list[str] = [], verbose: bool = False) -> None:
    """Sends the daily report."""
`;

const CRONS = ['0 * * * *', '*/15 * * * 1-5', '30 2 * * *', '0 6 1 * *', '0 0/3 * * *'];
const RRULES = ['FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=7', 'FREQ=DAILY;INTERVAL=2'];
const TIMEZONES = ['Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Tokyo'];

/**
 * `flowFiles`: how many distinct flow files the deployments spread over (default 6: many
 * deployments per file); `tasksPerFile`: task functions written into each (default 0), for repos
 * whose flow files are many and long.
 */
export async function generateProject(dir: string, count: number, shape: { flowFiles?: number; tasksPerFile?: number } = {}): Promise<void> {
  const flowFiles = shape.flowFiles ?? FLOW_FILES;
  await mkdir(join(dir, 'flows'), { recursive: true });
  await mkdir(join(dir, 'deployments'), { recursive: true });
  await writeFile(join(dir, 'prefect-gitops.yaml'), stringify({ owner: 'bench-validate', defaults: { tags: ['bench'], work_pool: { name: 'bench-pool' } } }));
  for (let f = 1; f <= flowFiles; f++) await writeFile(join(dir, 'flows', `batch_${f}.py`), flowSource(f, shape.tasksPerFile));
  const regions = ['eu', 'us', 'ap'];
  for (let i = 0; i < count; i++) {
    const f = (i % flowFiles) + 1;
    const report = i % 4 === 3;
    const name = `bench-${String(i).padStart(5, '0')}`;
    const schedules: Record<string, unknown>[] = [{ cron: CRONS[i % CRONS.length], timezone: TIMEZONES[i % TIMEZONES.length] }];
    if (i % 3 === 0) schedules.push({ interval: 3600, anchor_date: '2024-01-01T00:00:00Z', parameters: report ? { verbose: true } : { dry_run: true } });
    if (i % 5 === 0) schedules.push({ rrule: RRULES[i % RRULES.length], timezone: TIMEZONES[(i + 1) % TIMEZONES.length] });
    const deployment = {
      name,
      entrypoint: report ? `flows/batch_${f}.py:report_${f}` : `flows/batch_${f}.py:etl`,
      tags: [`group-${i % 7}`],
      parameters: report ? { day: 'today', recipients: [`team-${i % 9}@example.com`] } : { batch_size: 100 + (i % 50), region: regions[i % 3], tables: ['orders', `t${i % 11}`] },
      work_pool: { job_variables: { env: { BENCH_INDEX: String(i) } } },
      schedules,
    };
    await writeFile(join(dir, 'deployments', `${name}.yaml`), stringify(deployment));
  }
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds `ref` (`.` = the working tree) into `into` as npm users get it, lib/ bundled (refs from
 * before the bundle with the first build-lib.ts, so they do not start differently); returns its bin.
 */
async function stage(ref: string, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  const archive = ref === '.'
    ? execFileSync('tar', ['-c', '--null', '--ignore-failed-read', '-T', '-', '-f', '-'], {
        cwd: repoRoot,
        input: execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot }),
        maxBuffer: 1 << 30,
      })
    : execFileSync('git', ['archive', ref], { cwd: repoRoot, maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-f', '-'], { cwd: into, input: archive, maxBuffer: 1 << 30 });
  // A ref from before the bundle gets the first build-lib.ts (later ones need that ref's newer src/).
  if (!existsSync(join(into, 'scripts', 'build-lib.ts'))) {
    await mkdir(join(into, 'scripts'), { recursive: true });
    const first = execFileSync('git', ['log', '--diff-filter=A', '--format=%H', '--', 'scripts/build-lib.ts'], { cwd: repoRoot }).toString().trim().split('\n').at(-1)!;
    await writeFile(join(into, 'scripts', 'build-lib.ts'), execFileSync('git', ['show', `${first}:scripts/build-lib.ts`], { cwd: repoRoot }));
  }
  await symlink(join(repoRoot, 'node_modules'), join(into, 'node_modules'));
  execFileSync(process.execPath, ['--import', 'tsx', join(into, 'scripts', 'build-lib.ts')], { cwd: into, stdio: ['ignore', 'ignore', 'inherit'] });
  await rm(join(into, 'src'), { recursive: true, force: true });
  return join(into, 'bin', 'prefect-gitops.js');
}

interface Run {
  readonly wall: number;
  readonly cpu: number;
  readonly rssMiB: number;
}

/** Written to fd 3 when the measured process exits: its own whole-process rusage. */
const RUSAGE_AT_EXIT = `import { writeSync } from 'node:fs';
process.on('exit', () => { try { const u = process.resourceUsage(); writeSync(3, JSON.stringify([u.userCPUTime + u.systemCPUTime, u.maxRSS])); } catch {} });`;

function runValidate(bin: string, dir: string): Promise<Run> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(RUSAGE_AT_EXIT)}`, bin, 'validate', dir], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let usage = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => (usage += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) return fail(new Error(`${bin} validate ${dir} exited ${code}: ${out.slice(-1000)}`));
      const [cpu, rss] = JSON.parse(usage) as [number, number];
      done({ wall: (performance.now() - started) / 1000, cpu: cpu / 1e6, rssMiB: rss / 1024 });
    });
  });
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

async function compare(dir: string, refs: readonly string[], runs: number): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'bench-validate-builds-'));
  try {
    const bins: { label: string; bin: string }[] = [];
    for (const [i, ref] of refs.entries()) {
      const commit = ref === '.' ? 'working tree' : execFileSync('git', ['rev-parse', '--short', ref], { cwd: repoRoot }).toString().trim();
      bins.push({ label: `${ref} (${commit})`, bin: await stage(ref, join(scratch, String(i))) });
    }
    console.log(`validate ${dir}, ${runs} runs each, interleaved; load average at start ${load()}`);
    const figures = new Map<string, Run[]>(bins.map((b) => [b.label, []]));
    for (let i = 0; i < runs; i++) {
      for (const { label, bin } of bins) {
        const r = await runValidate(bin, dir);
        figures.get(label)!.push(r);
        console.log(`${label} run ${i + 1}: wall ${r.wall.toFixed(2)} s, CPU ${r.cpu.toFixed(2)} s, peak RSS ${r.rssMiB.toFixed(0)} MiB (load ${loadavg()[0]!.toFixed(2)})`);
      }
    }
    console.log(`\n| build | median wall s | median CPU s | median peak RSS MiB |\n|---|---|---|---|`);
    for (const [label, rs] of figures) {
      console.log(`| ${label} | ${median(rs.map((r) => r.wall)).toFixed(2)} | ${median(rs.map((r) => r.cpu)).toFixed(2)} | ${median(rs.map((r) => r.rssMiB)).toFixed(0)} |`);
    }
    console.log(`load average at end ${load()}`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      deployments: { type: 'string', default: '10000' },
      dir: { type: 'string' },
      'generate-only': { type: 'boolean' },
      compare: { type: 'string' },
      runs: { type: 'string', default: '5' },
      'flow-files': { type: 'string' },
      'tasks-per-file': { type: 'string' },
    },
    strict: true,
  });
  if (values.compare) {
    if (!values.dir) throw new Error('--compare needs --dir (a project written with --generate-only)');
    await compare(resolve(values.dir), values.compare.split(','), Number(values.runs));
    return 0;
  }
  const count = Number(values.deployments);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--deployments must be a positive integer, got ${values.deployments}`);
  const whole = (name: string, raw: string | undefined, min: number): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${raw}`);
    return n;
  };
  const flowFiles = whole('flow-files', values['flow-files'], 1);
  const tasksPerFile = whole('tasks-per-file', values['tasks-per-file'], 0);
  const dir = values.dir ? resolve(values.dir) : await mkdtemp(join(tmpdir(), 'bench-validate-'));
  try {
    await generateProject(dir, count, { ...(flowFiles !== undefined ? { flowFiles } : {}), ...(tasksPerFile !== undefined ? { tasksPerFile } : {}) });
    if (values['generate-only']) {
      console.log(`wrote ${count} deployments to ${dir}`);
      return 0;
    }
    let peakRss = process.memoryUsage().rss;
    const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const project = await loadManifests(dir, { env: {} });
    const result = validateProject(project, { env: {}, allEnvironments: true });
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(timer);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`validate of ${result.deployments.length} deployments: wall ${wall.toFixed(2)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
    if (hasErrors(result.issues)) {
      console.error(result.issues.filter((i) => i.severity === 'error').slice(0, 5));
      return 1;
    }
    return 0;
  } finally {
    if (!values.dir) await rm(dir, { recursive: true, force: true });
  }
}

// Run only as a script: scripts/bench-cpu.ts imports generateProject.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = await main();
