// Offline benchmark (not a test) of `validate` on N generated manifests: no server needed.
//
//   npx tsx scripts/bench-validate.ts [--deployments N] [--dir DIR] [--generate-only]
//
// Writes a project of N deployments (one manifest file each) whose entrypoints go into a handful
// of shared flow files with typed parameters (so each deployment gets a parameter schema built
// from its flow's signature), with parameters, and cron / rrule / interval schedules over a few
// repeated expressions and timezones. Then loads and validates it in this process and prints wall
// time, this process's CPU time and peak RSS. `--generate-only` stops after writing, so the
// project can be validated by the CLI as a whole process (e.g. under `/usr/bin/time -v`):
//
//   npx tsx scripts/bench-validate.ts --deployments 10000 --dir /tmp/v10k --generate-only
//   /usr/bin/time -v node bin/prefect-gitops.js validate /tmp/v10k
//
// It asserts nothing about time; it exits 1 only when the generated project does not validate.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { loadManifests } from '../src/manifests/load.js';
import { hasErrors, validateProject } from '../src/validate/validate.js';

const FLOW_FILES = 6;

const flowSource = (f: number): string => `"""Generated benchmark flows, file ${f}."""
from typing import Literal, Optional

from prefect import flow


@flow(name="bench-etl-${f}", description="Extract, transform and load batch ${f}")
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

export async function generateProject(dir: string, count: number): Promise<void> {
  await mkdir(join(dir, 'flows'), { recursive: true });
  await mkdir(join(dir, 'deployments'), { recursive: true });
  await writeFile(join(dir, 'prefect-gitops.yaml'), stringify({ owner: 'bench-validate', defaults: { tags: ['bench'], work_pool: { name: 'bench-pool' } } }));
  for (let f = 1; f <= FLOW_FILES; f++) await writeFile(join(dir, 'flows', `batch_${f}.py`), flowSource(f));
  const regions = ['eu', 'us', 'ap'];
  for (let i = 0; i < count; i++) {
    const f = (i % FLOW_FILES) + 1;
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

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { deployments: { type: 'string', default: '10000' }, dir: { type: 'string' }, 'generate-only': { type: 'boolean' } },
    strict: true,
  });
  const count = Number(values.deployments);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--deployments must be a positive integer, got ${values.deployments}`);
  const dir = values.dir ? resolve(values.dir) : await mkdtemp(join(tmpdir(), 'bench-validate-'));
  try {
    await generateProject(dir, count);
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
