// The compatibility matrix: runs the short compat suite (test/matrix/, vitest.matrix.config.ts)
// once per Prefect version, in sequence, each against a real server of that version
// (PREFECT_GITOPS_PREFECT_VERSION), and prints one summary table.
//
//   npm run test:matrix                              every version (scripts/prefect-matrix.json + the pinned one)
//   npm run test:matrix -- --versions 3.1.15,2.20.27 just these
//   npm run test:matrix -- --ci                      the versions whose entry says "ci": true, plus the pinned one
//   npm run test:matrix -- --ci --install-only       only build (or reuse) their venvs, in sequence (.ci/run prefetch)
//
// Each version's venv is built (or reused) first, outside the timed suite run, so the table's
// seconds are the suite's own. Exit code 1 when any version failed.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VERSION_ENV, ensurePrefectVenv, matrixFile, readMatrixVersions, readPinnedPrefectVersion, repoRoot } from './prefect-venv.js';

interface MatrixEntry {
  pins: string[];
  why?: string[];
  ci?: boolean;
}

export interface VersionResult {
  version: string;
  ok: boolean;
  passed: number;
  failed: number;
  venvSeconds: number;
  suiteSeconds: number;
  note?: string;
}

/** The versions `--ci` selects: every matrix entry with `"ci": true`, plus the pinned version. */
export async function ciVersions(): Promise<string[]> {
  const matrix = JSON.parse(await readFile(matrixFile, 'utf8')) as { versions: Record<string, MatrixEntry> };
  const pinned = await readPinnedPrefectVersion();
  const all = await readMatrixVersions();
  return all.filter((v) => v === pinned || matrix.versions[v]?.ci === true);
}

export function parseArgs(argv: string[]): { versions?: string[]; ci: boolean; installOnly: boolean; files: string[] } {
  let versions: string[] | undefined;
  let ci = false;
  let installOnly = false;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--ci') ci = true;
    else if (arg === '--install-only') installOnly = true;
    else if (arg === '--versions' || arg.startsWith('--versions=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!value) throw new Error('--versions needs a comma-separated list, e.g. --versions 3.1.15,2.20.27');
      versions = value.split(',').map((v) => v.trim()).filter(Boolean);
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg} (known: --versions a,b  --ci  --install-only  [test files])`);
    else files.push(arg);
  }
  return { ...(versions ? { versions } : {}), ci, installOnly, files };
}

/** One line per version plus a total, as a fixed-width table. */
export function renderTable(results: VersionResult[]): string {
  const rows = [
    ['prefect', 'result', 'tests', 'suite s', 'venv s', 'note'],
    ...results.map((r) => [r.version, r.ok ? 'passed' : 'FAILED', `${r.passed}/${r.passed + r.failed}`, r.suiteSeconds.toFixed(1), r.venvSeconds.toFixed(1), r.note ?? '']),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

interface VitestJson {
  numPassedTests?: number;
  numFailedTests?: number;
  numTotalTests?: number;
}

async function runSuite(version: string, files: string[]): Promise<{ code: number; passed: number; failed: number }> {
  const report = join(tmpdir(), `prefect-gitops-matrix-${process.pid}-${version}.json`);
  await rm(report, { force: true });
  const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
  const args = [vitest, 'run', '--config', 'vitest.matrix.config.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...files];
  const code = await new Promise<number>((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: 'inherit', env: { ...process.env, [VERSION_ENV]: version } });
    child.once('error', reject);
    child.once('close', (c, signal) => resolvePromise(c ?? (signal ? 128 : 1)));
  });
  let passed = 0;
  let failed = 0;
  try {
    const json = JSON.parse(await readFile(report, 'utf8')) as VitestJson;
    passed = json.numPassedTests ?? 0;
    failed = json.numFailedTests ?? 0;
  } catch {
    // vitest died before writing its report (e.g. the server did not start): counted as failed below
  }
  await rm(report, { force: true });
  return { code, passed, failed };
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const known = await readMatrixVersions();
  const versions = args.versions ?? (args.ci ? await ciVersions() : known);
  const unknown = versions.filter((v) => !known.includes(v));
  if (unknown.length > 0) throw new Error(`not in the matrix: ${unknown.join(', ')} (known: ${known.join(', ')})`);
  if (args.installOnly) {
    // Venvs only, one after the other (each under its lock, so a suite run started meanwhile waits for it).
    let failed = 0;
    for (const version of versions) {
      const started = performance.now();
      try {
        await ensurePrefectVenv({ version, log: (line) => console.log(line) });
      } catch (error) {
        failed++;
        console.error(error instanceof Error ? error.message : error);
      }
      console.log(`prefect ${version} venv: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    return failed === 0 ? 0 : 1;
  }
  console.log(`prefect matrix: ${versions.join(', ')}`);
  const results: VersionResult[] = [];
  const started = performance.now();
  for (const version of versions) {
    console.log(`\n=== prefect ${version} ===`);
    const venvStarted = performance.now();
    let venvSeconds = 0;
    try {
      await ensurePrefectVenv({ version, log: (line) => console.log(line) });
      venvSeconds = (performance.now() - venvStarted) / 1000;
    } catch (error) {
      venvSeconds = (performance.now() - venvStarted) / 1000;
      console.error(error instanceof Error ? error.message : error);
      results.push({ version, ok: false, passed: 0, failed: 0, venvSeconds, suiteSeconds: 0, note: 'venv install failed' });
      continue;
    }
    const suiteStarted = performance.now();
    const run = await runSuite(version, args.files);
    const suiteSeconds = (performance.now() - suiteStarted) / 1000;
    const ok = run.code === 0 && run.failed === 0 && run.passed > 0;
    results.push({
      version,
      ok,
      passed: run.passed,
      failed: run.failed,
      venvSeconds,
      suiteSeconds,
      ...(run.code !== 0 && run.passed + run.failed === 0 ? { note: `vitest exited ${run.code} before running tests` } : {}),
    });
  }
  const total = (performance.now() - started) / 1000;
  console.log(`\nprefect compatibility matrix (${total.toFixed(0)} s in all; command: npm run test:matrix -- --versions ${versions.join(',')})`);
  console.log(renderTable(results));
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed + (r.ok || r.failed > 0 ? 0 : 1), 0);
  console.log(`matrix: ${passed} passed, ${failed} failed`);
  return results.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 2;
    },
  );
}
