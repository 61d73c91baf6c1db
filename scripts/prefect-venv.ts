// Creates (or reuses) the git-ignored virtualenv holding the Prefect server that the
// integration tests and the demo run against: the pinned version (scripts/prefect-requirements.txt)
// in .prefect-venv, or another version of the compatibility matrix (scripts/prefect-matrix.json)
// in .prefect-venvs/<version>, chosen by PREFECT_GITOPS_PREFECT_VERSION or `--version`.
// CLI: `npx tsx scripts/prefect-venv.ts [--version 3.1.15 | --all]`.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compareVersions, parseVersion } from '../src/prefect/capabilities.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const requirementsFile = join(repoRoot, 'scripts', 'prefect-requirements.txt');
export const matrixFile = join(repoRoot, 'scripts', 'prefect-matrix.json');
/** Selects the Prefect version of every venv, server, worker and CLI the harness starts. */
export const VERSION_ENV = 'PREFECT_GITOPS_PREFECT_VERSION';

interface MatrixEntry {
  /** Requirement lines installed with `prefect==<version>`, e.g. `fastapi==0.115.12`. */
  pins: string[];
  /** Why each pin is there. */
  why?: string[];
}
interface MatrixFile {
  versions: Record<string, MatrixEntry>;
}

/** The matrix's versions (the pinned one included), oldest first. */
export async function readMatrixVersions(): Promise<string[]> {
  const matrix = JSON.parse(await readFile(matrixFile, 'utf8')) as MatrixFile;
  const versions = new Set([...Object.keys(matrix.versions), await readPinnedPrefectVersion()]);
  return [...versions].sort(compareDotted);
}

function compareDotted(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  return pa && pb ? compareVersions(pa, pb) : a.localeCompare(b);
}

/** The version asked for by PREFECT_GITOPS_PREFECT_VERSION, or undefined for the pinned one. */
export function selectedPrefectVersion(): string | undefined {
  const value = process.env[VERSION_ENV]?.trim();
  return value ? value : undefined;
}

/** The requirements text for a version: the pinned file, or `prefect==v` plus the matrix's pins. */
async function requirementsFor(version: string | undefined): Promise<{ text: string; version: string; pinned: boolean }> {
  const pinnedText = await readFile(requirementsFile, 'utf8');
  const pinnedVersion = parsePinnedPrefectVersion(pinnedText);
  if (version === undefined || version === pinnedVersion) return { text: pinnedText, version: pinnedVersion, pinned: true };
  const matrix = JSON.parse(await readFile(matrixFile, 'utf8')) as MatrixFile;
  const entry = matrix.versions[version];
  if (!entry) {
    throw new Error(
      `prefect ${version} is not in ${matrixFile} (known: ${Object.keys(matrix.versions).join(', ')}, pinned ${pinnedVersion}); add it with the pins it needs`,
    );
  }
  return { text: [`prefect==${version}`, ...entry.pins].join('\n') + '\n', version, pinned: false };
}

export interface PrefectVenv {
  /** The venv's python interpreter. */
  python: string;
  /** The venv's `prefect` CLI. */
  prefect: string;
  /** The Prefect version installed: the pinned one, or the one selected from the matrix. */
  version: string;
}

/**
 * Where the venv of a version lives (default: the selected version, else the pinned one); pure,
 * nothing is checked or installed. The pinned version always lives in `.prefect-venv`.
 */
export function prefectVenvPaths(version: string | undefined = selectedPrefectVersion()): { dir: string; python: string; prefect: string } {
  const pinned = pinnedVersionSync();
  const dir = version === undefined || version === pinned ? join(repoRoot, '.prefect-venv') : join(repoRoot, '.prefect-venvs', version);
  return { dir, python: join(dir, 'bin', 'python'), prefect: join(dir, 'bin', 'prefect') };
}

function pinnedVersionSync(): string | undefined {
  try {
    return parsePinnedPrefectVersion(readFileSync(requirementsFile, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The `prefect==X` pin from the requirements file, the single record of the Prefect version. */
export async function readPinnedPrefectVersion(): Promise<string> {
  return parsePinnedPrefectVersion(await readFile(requirementsFile, 'utf8'));
}

export function parsePinnedPrefectVersion(requirements: string): string {
  const match = /^\s*prefect\s*==\s*([^\s;#]+)/im.exec(requirements);
  if (!match?.[1]) throw new Error(`no "prefect==<version>" line in ${requirementsFile}`);
  return match[1];
}

export interface EnsurePrefectVenvOptions {
  /** The Prefect version. Default: PREFECT_GITOPS_PREFECT_VERSION, else the pinned version. */
  version?: string;
  /** Where the one-line summary goes. Default: stderr. */
  log?: (line: string) => void;
  /** Also pass every line pip prints to `log`. */
  verbose?: boolean;
}

// Inside the venv directory, so both are covered by the `.prefect-venv/` ignore rule.
const STAMP = '.prefect-gitops-stamp';
const LOCK = '.prefect-gitops-lock';
const LOCK_WAIT_MS = 15 * 60_000;
// A lock directory without an owner file older than this is left over from a crash.
const LOCK_STALE_MS = 30_000;

/**
 * Makes sure `.prefect-venv` holds the pinned requirements and returns its paths.
 *
 * Reuses the venv when its stamp (the sha256 of the requirements file, written only after a
 * successful install) matches; otherwise empties it and installs from scratch. Concurrent
 * callers (vitest's global setup, the demo) serialise on a mkdir lock inside the venv
 * directory. Prints one line saying what it did. Throws with pip's output tail on failure.
 */
export async function ensurePrefectVenv(opts: EnsurePrefectVenvOptions = {}): Promise<PrefectVenv> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const wanted = await requirementsFor(opts.version ?? selectedPrefectVersion());
  const requirements = wanted.text;
  const version = wanted.version;
  const hash = createHash('sha256').update(requirements).digest('hex');
  const paths = prefectVenvPaths(version);
  const result: PrefectVenv = { python: paths.python, prefect: paths.prefect, version };
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

  const release = await acquireLock(paths.dir, log);
  try {
    if ((await readStamp(paths.dir)) === hash && launcherWorks(paths.prefect)) {
      log(`prefect venv: reused ${paths.dir} (prefect ${version}) in ${seconds()}s`);
      return result;
    }
    await emptyVenvDir(paths.dir);
    const python = process.env['PREFECT_GITOPS_PYTHON'] ?? 'python3';
    const echo = opts.verbose ? log : undefined;
    log(`prefect venv: installing prefect ${version} into ${paths.dir}`);
    // pip writes the venv's own path into every launcher's #! line: create it at its real path, so
    // a venv made through a symlink (a git worktree sharing the cache) works from every checkout.
    await run(python, ['-m', 'venv', realpathSync(paths.dir)], echo);
    const file = join(paths.dir, 'requirements.txt');
    await writeFile(file, requirements);
    await run(paths.python, [
      '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', file,
    ], echo);
    await writeFile(join(paths.dir, STAMP), `${hash}\n`);
    log(`prefect venv: installed prefect ${version} into ${paths.dir} in ${seconds()}s`);
    return result;
  } finally {
    await release();
  }
}

/** The launcher exists and its `#!` interpreter too (a venv moved or made through a removed link has neither). */
function launcherWorks(launcher: string): boolean {
  try {
    const interpreter = /^#!(\S+)/.exec(readFileSync(launcher, 'utf8').slice(0, 500))?.[1];
    return interpreter !== undefined && existsSync(interpreter);
  } catch {
    return false;
  }
}

async function readStamp(dir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, STAMP), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

// Keeps the directory itself (it holds the lock) and removes everything else, stamp first,
// so an interrupted install can never look complete.
async function emptyVenvDir(dir: string): Promise<void> {
  await rm(join(dir, STAMP), { force: true });
  for (const entry of await readdir(dir)) {
    if (entry !== LOCK) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

async function acquireLock(dir: string, log: (line: string) => void): Promise<() => Promise<void>> {
  const lock = join(dir, LOCK);
  const owner = join(lock, 'pid');
  await mkdir(dir, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  let announced = false;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(owner, String(process.pid));
      heldLocks.add(lock);
      return async () => {
        heldLocks.delete(lock);
        await rm(lock, { recursive: true, force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await isStaleLock(lock, owner)) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lock}`);
    if (!announced) {
      log(`prefect venv: waiting for another process to finish with ${dir}`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function isStaleLock(lock: string, owner: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number((await readFile(owner, 'utf8')).trim());
  } catch {
    // The owner may be between mkdir and writing its pid; only an old ownerless lock is stale.
    try {
      return Date.now() - (await stat(lock)).mtimeMs > LOCK_STALE_MS;
    } catch {
      return false; // released meanwhile; the next mkdir decides
    }
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

// What to undo synchronously if this process exits mid-install (Ctrl-C, vitest's exit).
const heldLocks = new Set<string>();
const runningChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of runningChildren) child.kill('SIGKILL');
  for (const lock of heldLocks) rmSync(lock, { recursive: true, force: true });
});

/** Runs a command with captured output; rejects with the output's tail when it fails. */
function run(command: string, args: string[], echo?: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    runningChildren.add(child);
    let output = '';
    const collect = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output = (output + text).slice(-20_000);
      if (echo) for (const line of text.trimEnd().split('\n')) echo(line);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (error) => {
      runningChildren.delete(child);
      reject(error);
    });
    child.once('close', (code, signal) => {
      runningChildren.delete(child);
      if (code === 0) return resolvePromise();
      const tail = output.trimEnd().split('\n').slice(-40).join('\n');
      reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--version');
  const main = async () => {
    const versions = args.includes('--all') ? await readMatrixVersions() : [at >= 0 ? args[at + 1] : undefined];
    for (const version of versions) await ensurePrefectVenv({ version, log: (line) => console.log(line), verbose: !args.includes('--quiet') });
  };
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
