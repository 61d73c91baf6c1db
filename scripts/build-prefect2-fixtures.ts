// Builds the Prefect 2 deployment.yaml fixtures (test/fixtures/prefect2-deployment-yaml/project)
// with a real Prefect 2.20 `prefect deployment build`, against a throwaway 2.20 server started by
// the harness (PREFECT_GITOPS_PREFECT_VERSION=2.20.27, from scripts/prefect-matrix.json).
//
//   npx tsx scripts/build-prefect2-fixtures.ts           rebuild and rewrite the committed files
//   npx tsx scripts/build-prefect2-fixtures.ts --check   rebuild and compare (exit 1 on a difference)
//
// `prefect deployment build` writes absolute paths (`path:` is the folder it ran in, the local
// storage block's basepath), so it always runs in the same folder, BUILD_DIR, with a copy of the
// fixture flows. Two fields change on every build and are ignored by --check: `timestamp` and the
// storage block's `_block_document_id` (a fresh server gives the block a fresh id).
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runPrefectCli, startLocalPrefectServer, type PrefectServerHandle } from '../src/prefect/local-server.js';
import { ensurePrefectVenv, repoRoot } from './prefect-venv.js';

/** The Prefect 2 release the fixtures are built with (must be in scripts/prefect-matrix.json). */
export const PREFECT2_VERSION = '2.20.27';
export const FIXTURE_DIR = join(repoRoot, 'test', 'fixtures', 'prefect2-deployment-yaml', 'project');
/** Where `prefect deployment build` runs: a fixed folder, because the files record it. */
export const BUILD_DIR = '/tmp/prefect-gitops-prefect2-fixtures/project';
/** The basepath of the local-file-system storage block of the docker case. */
export const STORAGE_DIR = '/tmp/prefect-gitops-prefect2-fixtures/storage';
export const STORAGE_BLOCK = 'fixture-local-storage';

/** The five cases of issue 11: file name -> `prefect deployment build` arguments. */
export const CASES: Readonly<Record<string, readonly string[]>> = {
  'greet-cron-deployment.yaml': [
    'flows/greet.py:greet', '--name', 'weekday-morning', '--cron', '0 6 * * 1-5', '--timezone', 'Europe/Berlin',
    '--params', '{"name": "team", "times": 2}', '--tag', 'prefect2', '--tag', 'reports', '--work-queue', 'reports',
  ],
  'greet-process-deployment.yaml': [
    'flows/greet.py:greet', '--name', 'hourly-process', '--infra', 'process', '--override', 'env.GREETING=hi',
    '--override', 'env.LOG_STYLE=plain', '--override', 'stream_output=false', '--interval', '3600',
    '--anchor-date', '2024-01-01T00:00:00+00:00', '--param', 'name=converted', '--tag', 'prefect2',
  ],
  'tidy-docker-deployment.yaml': [
    'flows/greet.py:tidy_up', '--name', 'docker-rrule', '--infra', 'docker-container', '--override', 'image_pull_policy=IF_NOT_PRESENT',
    '--override', 'env.TIDY=1', '--storage-block', `local-file-system/${STORAGE_BLOCK}`,
    '--rrule', 'FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=30', '--timezone', 'America/New_York', '--work-queue', 'tidy',
  ],
  'greet-pool-deployment.yaml': [
    'flows/greet.py:greet', '--name', 'in-a-pool', '--pool', 'legacy-workers', '--work-queue', 'critical',
    '--override', 'env.GREETING=pool', '--cron', '30 2 * * *',
  ],
  'tidy-manual-deployment.yaml': [
    'flows/greet.py:tidy_up', '--name', 'manual', '--no-schedule', '--description', 'Run by hand only.', '--version', '2024.1',
    '--tag', 'prefect2', '--params', '{"folder": "archive", "keep_days": 30}',
  ],
};

/**
 * Puts the fixture flows into BUILD_DIR/flows, writing (atomically, by rename) only files that are
 * missing or differ: a worker of the integration test may be running a flow from there while the
 * fixture test rebuilds, and must never read a half-written file.
 */
export async function syncFlows(): Promise<void> {
  const from = join(FIXTURE_DIR, 'flows');
  const to = join(BUILD_DIR, 'flows');
  await mkdir(to, { recursive: true });
  for (const name of (await readdir(from)).filter((f) => f.endsWith('.py'))) {
    const text = await readFile(join(from, name), 'utf8');
    if ((await readFile(join(to, name), 'utf8').catch(() => undefined)) === text) continue;
    const temporary = join(to, `.${name}.${process.pid}.tmp`);
    await writeFile(temporary, text);
    await rename(temporary, join(to, name));
  }
}

/** Runs `prefect <args>` for each argument list given as JSON in argv[1]; stops at the first failure. */
const CLI_DRIVER = `
import json, sys
from prefect.cli import app
for args in json.loads(sys.argv[1]):
    code = app(args, standalone_mode=False)
    if code:
        sys.exit(f"prefect {' '.join(args)} exited with {code}")
`;

/** Lines that change on every build: ignored when comparing. */
export function normalise(text: string): string {
  return text.replace(/^timestamp: .*$/m, 'timestamp: <ignored>').replace(/^(\s*_block_document_id: )[0-9a-f-]{36}$/gm, '$1<ignored>');
}

/** Builds every case with the given Prefect 2 CLI against `server`; returns file name -> content. */
export async function buildFixtures(prefect: string, python: string, server: PrefectServerHandle): Promise<Record<string, string>> {
  // Every checkout on the machine builds in the same folder: one build at a time.
  const release = await lockBuildDir();
  try {
    return await buildLocked(prefect, python, server);
  } finally {
    await release();
  }
}

/** A mkdir lock next to BUILD_DIR; a lock whose holder process is gone is taken over. */
async function lockBuildDir(): Promise<() => Promise<void>> {
  const lock = join(dirname(BUILD_DIR), '.build-lock');
  await mkdir(dirname(BUILD_DIR), { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      return () => rm(lock, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
    if (holder > 0 && !isAlive(holder)) await rm(lock, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`${lock} is held by process ${holder || '?'} for too long`);
    else await new Promise((r) => setTimeout(r, 1000));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function buildLocked(prefect: string, python: string, server: PrefectServerHandle): Promise<Record<string, string>> {
  await rm(STORAGE_DIR, { recursive: true, force: true });
  await syncFlows();
  for (const file of Object.keys(CASES)) await rm(join(BUILD_DIR, file), { force: true });
  const block = await runPrefectCli(python, server, [
    '-c', `from prefect.filesystems import LocalFileSystem\nLocalFileSystem(basepath=${JSON.stringify(STORAGE_DIR)}).save(${JSON.stringify(STORAGE_BLOCK)}, overwrite=True)`,
  ]);
  if (block.code !== 0) throw new Error(`saving the local storage block failed:\n${block.stderr.slice(-2000)}`);
  // One Python process runs the CLI (`prefect.cli:app`, what the `prefect` script calls) once per
  // case: importing Prefect 2 five times would cost most of the build's time.
  const cases = Object.entries(CASES).map(([file, args]) => ['deployment', 'build', ...args, '--output', file]);
  const result = await runPrefectCli(python, server, ['-c', CLI_DRIVER, JSON.stringify(cases)], { cwd: BUILD_DIR, timeoutMs: 300_000 });
  if (result.code !== 0) throw new Error(`prefect deployment build failed (${result.code}):\n${(result.stdout + result.stderr).slice(-3000)}`);
  const built: Record<string, string> = {};
  for (const file of Object.keys(CASES)) built[file] = await readFile(join(BUILD_DIR, file), 'utf8');
  return built;
}

/** The committed fixtures that differ from a fresh build (after normalise), with both texts. */
export async function compareWithCommitted(built: Record<string, string>): Promise<{ file: string; committed: string; built: string }[]> {
  const differences: { file: string; committed: string; built: string }[] = [];
  const committedFiles = (await readdir(FIXTURE_DIR)).filter((f) => f.endsWith('-deployment.yaml'));
  for (const file of new Set([...committedFiles, ...Object.keys(built)])) {
    const committed = await readFile(join(FIXTURE_DIR, file), 'utf8').catch(() => '');
    const fresh = built[file] ?? '';
    if (normalise(committed) !== normalise(fresh)) differences.push({ file, committed, built: fresh });
  }
  return differences;
}

/** Starts a throwaway Prefect 2 server (no scheduler; 2.x has no --no-services), builds, stops it. */
export async function buildWithThrowawayServer(): Promise<Record<string, string>> {
  const venv = await ensurePrefectVenv({ version: PREFECT2_VERSION });
  const server = await startLocalPrefectServer(venv.prefect, { scheduler: false });
  try {
    return await buildFixtures(venv.prefect, venv.python, server);
  } finally {
    await server.stop();
  }
}

async function main(argv: string[]): Promise<void> {
  const built = await buildWithThrowawayServer();
  if (argv.includes('--check')) {
    const differences = await compareWithCommitted(built);
    for (const d of differences) console.error(`${d.file} differs from a fresh build:\n--- committed\n${d.committed}\n--- built\n${d.built}`);
    if (differences.length) process.exitCode = 1;
    else console.error(`${Object.keys(built).length} fixtures match a fresh Prefect ${PREFECT2_VERSION} build`);
    return;
  }
  for (const [file, text] of Object.entries(built)) {
    await writeFile(join(FIXTURE_DIR, file), text);
    console.error(`wrote ${join('test/fixtures/prefect2-deployment-yaml/project', file)}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
