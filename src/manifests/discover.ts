import type { Dirent } from 'node:fs';
import { lstat, open, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Ignore } from 'ignore';
import { simpleGit } from 'simple-git';
import { parseAllDocuments } from 'yaml';
import type { Issue } from '../validate/issue.js';
import { describeFsError } from './source.js';
import type { UnreadSource } from './types.js';

/** Why a path below the manifest directory is not read. */
export type SkipReason = 'hidden' | 'ignored' | 'not-manifest' | 'empty' | 'tool-folder' | 'duplicate' | 'symlink-cycle';

/** A file or folder (display path ending in `/`) that discovery did not read, and why. */
export interface SkippedPath {
  readonly path: string;
  readonly reason: SkipReason;
  /** Human detail: the ignore rule and where it is written, the file a duplicate link points to. */
  readonly detail: string;
}

export interface Discovery {
  /** Absolute (logical: through links) paths of the manifest files to read, sorted. */
  readonly files: readonly string[];
  readonly skipped: readonly SkippedPath[];
  /** Names found in skipped YAML files, to explain why a deployment is no longer declared. */
  readonly unread: readonly UnreadSource[];
  /** Broken links, links leaving the repository, symlink cycles. */
  readonly issues: readonly Issue[];
}

export interface DiscoverOptions {
  /** Absolute manifest directory. */
  readonly dir: string;
  /** Absolute real path no link may point outside of (the git root, else the project root). */
  readonly boundary: string;
  readonly matcher: Ignore;
  readonly display: (absolutePath: string) => string;
}

/** Tool folders, never read; the hidden ones are not listed either (nobody keeps manifests there). */
const UNLISTED = new Set(['.git', '.venv', '.prefect-venv', '.github', '.gitlab', '.idea', '.vscode', '.cache', '.pytest_cache', '.mypy_cache', '.ruff_cache', '.tox', '.nox']);
const ALWAYS_SKIPPED = new Set(['node_modules', '__pycache__', ...UNLISTED]);
const MANIFEST = /\.ya?ml$/i;
/** `etl.yaml.disabled`, `etl.yml~`, `etl.yaml.bak`: a manifest someone parked. */
const PARKED_MANIFEST = /\.ya?ml[^/]+$/i;

/** Bounds on the cheap scan of skipped files for deployment names. */
const SCAN_MAX_FILES = 200;
const SCAN_MAX_BYTES = 256 * 1024;
const SCAN_MAX_DEPTH = 8;

const posix = (p: string): string => p.split(sep).join('/');
const inside = (root: string, p: string): boolean => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

/**
 * Finds the manifest files below `dir`: `*.yaml`/`*.yml`, recursively, following symbolic links
 * (files and folders) as long as they stay inside `boundary`. Nothing is skipped silently: every
 * hidden, ignored or parked file and folder is returned in `skipped`, and the names declared in
 * skipped YAML files are returned in `unread`, so a prune can say why a deployment is gone.
 *
 * Links: a link leaving `boundary` and a broken link are errors naming the link and its target (a
 * deployment declared through it would otherwise be pruned); a link to one of its own parent
 * folders is a cycle, reported as a warning and not followed (its files are read anyway); a file or
 * folder reached twice (through a link and directly) is read once.
 */
export async function discoverManifests(options: DiscoverOptions): Promise<Discovery> {
  const { dir, boundary, matcher, display } = options;
  const files: string[] = [];
  const skipped: SkippedPath[] = [];
  const issues: Issue[] = [];
  const scanQueue: { abs: string; why: string; depth: number }[] = [];
  const seenFiles = new Map<string, string>();
  const seenDirs = new Map<string, string>();
  const issue = (abs: string, message: string, severity: Issue['severity'] = 'error'): void => {
    issues.push({ file: display(abs), line: 0, column: 0, path: '', message, severity });
  };
  const skip = (abs: string, isDir: boolean, reason: SkipReason, detail: string, why?: string): void => {
    skipped.push({ path: display(abs) + (isDir ? '/' : ''), reason, detail });
    if (why) scanQueue.push({ abs, why, depth: 0 });
  };
  const ignoredBy = (rel: string): string | undefined => {
    const result = matcher.test(rel);
    if (!result.ignored) return undefined;
    const rule = result.rule;
    return rule ? `rule "${rule.pattern}" in ${rule.mark ?? 'the ignore list'}` : 'an ignore rule';
  };

  // Links are followed after every real file and folder is known, so a file reached both directly
  // and through a link is read at its real place, and the link is the one reported as a duplicate.
  const pendingLinks: { entry: Dirent; logical: string; real: string; ancestors: readonly string[] }[] = [];
  const walk = async (logical: string, real: string, ancestors: readonly string[]): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = (await readdir(logical, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (error) {
      // A folder we cannot list may hold declared deployments: an error, never a silent skip.
      issue(logical, `cannot read the folder: ${describeFsError(error)}`);
      return;
    }
    for (const entry of entries) {
      if (entry.isSymbolicLink()) pendingLinks.push({ entry, logical, real, ancestors });
      else await visit(entry, logical, real, ancestors);
    }
  };
  const visit = async (entry: Dirent, logical: string, real: string, ancestors: readonly string[]): Promise<void> => {
    const abs = join(logical, entry.name);
    const rel = posix(relative(dir, abs));
    const name = entry.name;
    if (ALWAYS_SKIPPED.has(name)) {
      if (!UNLISTED.has(name) && (entry.isDirectory() || entry.isSymbolicLink())) skip(abs, true, 'tool-folder', 'tool folder, never read');
      return;
    }
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    let target = join(real, name);
    if (name.startsWith('.')) {
      if (isDir || (entry.isSymbolicLink() && !MANIFEST.test(name))) skip(abs, true, 'hidden', 'hidden folder, not read', `is in a hidden folder (${display(abs)}/) and is not read`);
      else if (MANIFEST.test(name)) skip(abs, false, 'hidden', 'hidden file, not read', 'is a hidden file and is not read');
      return;
    }
    const ruleForFile = ignoredBy(rel);
    if (entry.isSymbolicLink()) {
      if (ruleForFile) {
        skip(abs, false, 'ignored', `ignored by ${ruleForFile}`, `is ignored by ${ruleForFile} and is not read`);
        return;
      }
      const link = await readlink(abs).catch(() => '?');
      let resolved: string;
      try {
        resolved = await realpath(abs);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ELOOP') issue(abs, `symbolic link ${display(abs)} -> ${link} is a loop of links; fix or remove it`);
        else if (code === 'ENOENT') issue(abs, `symbolic link ${display(abs)} -> ${link} is broken (its target does not exist); a deployment declared through it would be pruned. Fix the link or remove it`);
        else issue(abs, `cannot follow symbolic link ${display(abs)} -> ${link}: ${(error as Error).message}`);
        return;
      }
      if (!inside(boundary, resolved)) {
        issue(abs, `symbolic link ${display(abs)} points outside the repository root (${display(boundary)}): to ${resolved}; manifests are read only from inside it. Copy the file into the repository or point the link inside it`);
        return;
      }
      const info = await stat(resolved);
      isDir = info.isDirectory();
      isFile = info.isFile();
      target = resolved;
    }
    if (isDir) {
      const ruleForDir = ruleForFile ?? ignoredBy(`${rel}/`);
      if (ruleForDir) {
        skip(abs, true, 'ignored', `ignored by ${ruleForDir}`, `is in ${display(abs)}/, ignored by ${ruleForDir}, and is not read`);
        return;
      }
      if (ancestors.includes(target)) {
        issue(abs, `symbolic link ${display(abs)} points to ${display(target)}, one of its own parent folders (a cycle); it is not followed, the folder is read once`, 'warning');
        skip(abs, true, 'symlink-cycle', `link to its own parent folder ${display(target)}/`);
        return;
      }
      const first = seenDirs.get(target);
      if (first !== undefined) {
        skip(abs, true, 'duplicate', `same folder as ${first}/, read once`);
        return;
      }
      seenDirs.set(target, display(abs));
      await walk(abs, target, [...ancestors, target]);
    } else if (isFile) {
      if (MANIFEST.test(name)) {
        if (ruleForFile) {
          skip(abs, false, 'ignored', `ignored by ${ruleForFile}`, `is ignored by ${ruleForFile} and is not read`);
          return;
        }
        const first = seenFiles.get(target);
        if (first !== undefined) {
          skip(abs, false, 'duplicate', `same file as ${first}, read once`);
          return;
        }
        seenFiles.set(target, display(abs));
        files.push(abs);
      } else if (PARKED_MANIFEST.test(name) && !ruleForFile) {
        skip(abs, false, 'not-manifest', 'does not end in .yaml or .yml', 'does not end in .yaml or .yml and is not read');
      }
    }
  };

  const rootReal = await realpath(dir);
  seenDirs.set(rootReal, display(dir));
  await walk(dir, rootReal, [rootReal]);
  while (pendingLinks.length > 0) {
    const { entry, logical, real, ancestors } = pendingLinks.shift()!;
    await visit(entry, logical, real, ancestors);
  }
  return { files: files.sort(), skipped, unread: await scanNames(scanQueue, display), issues };
}

/**
 * The deployment names each skipped YAML file declares, for explaining deletes. Bounded: at most
 * SCAN_MAX_FILES files of at most SCAN_MAX_BYTES each, SCAN_MAX_DEPTH folders deep, links not
 * followed.
 */
async function scanNames(queue: { abs: string; why: string; depth: number }[], display: (p: string) => string): Promise<UnreadSource[]> {
  const out: UnreadSource[] = [];
  let budget = SCAN_MAX_FILES;
  while (queue.length > 0 && budget > 0) {
    const { abs, why, depth } = queue.shift()!;
    const info = await lstat(abs).catch(() => undefined);
    if (!info) continue;
    if (info.isDirectory()) {
      if (depth >= SCAN_MAX_DEPTH) continue;
      const entries = await readdir(abs).catch(() => []);
      for (const name of entries.sort()) if (!ALWAYS_SKIPPED.has(name)) queue.push({ abs: join(abs, name), why, depth: depth + 1 });
      continue;
    }
    if (!info.isFile() || !/\.ya?ml/i.test(basename(abs))) continue;
    budget--;
    const text = await readHead(abs, SCAN_MAX_BYTES);
    const names = declaredNames(text);
    if (names.length > 0) out.push({ file: display(abs), why, names });
  }
  return out;
}

async function readHead(file: string, bytes: number): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Deployment names a YAML text declares: `name` at the top of each document and in each entry of a
 * `deployments:` list (prefect.yaml). Falls back to `name:` lines when the YAML does not parse
 * (a truncated or half-edited file still names what it held).
 */
export function declaredNames(text: string): string[] {
  const names = new Set<string>();
  try {
    for (const doc of parseAllDocuments(text, { uniqueKeys: false })) {
      if (doc.errors.length > 0) throw new Error('unparsable');
      const value = doc.toJS({ maxAliasCount: 50 }) as unknown;
      const add = (v: unknown): void => {
        const name = (v as { name?: unknown } | null)?.name;
        if (v && typeof v === 'object' && typeof name === 'string') names.add(name);
      };
      add(value);
      const list = (value as { deployments?: unknown } | null)?.deployments;
      if (Array.isArray(list)) list.forEach(add);
    }
  } catch {
    for (const m of text.matchAll(/^\s*(?:-\s+)?name:\s*["']?([^"'#\n]+?)["']?\s*(?:#.*)?$/gm)) names.add(m[1]!);
  }
  return [...names];
}

/**
 * The folder no link may leave: the git work tree holding `dir` (a `.git` folder or file found
 * walking up from it), else the project root when it contains `dir`, else `dir`. Real paths.
 */
export async function repositoryRoot(dir: string, projectRoot: string): Promise<string> {
  const realDir = await realpath(dir);
  for (let current = realDir; ; current = dirname(current)) {
    if (await lstat(join(current, '.git')).then(() => true, () => false)) return current;
    if (dirname(current) === current) break;
  }
  const realProject = await realpath(resolve(projectRoot)).catch(() => undefined);
  return realProject && inside(realProject, realDir) ? realProject : realDir;
}

/**
 * The names an emptied file declared the last time git had content in it (at most 5 commits
 * back), or none when the folder is not in git or the file never had any.
 */
export async function namesFromHistory(boundary: string, file: string): Promise<string[]> {
  if (!(await lstat(join(boundary, '.git')).then(() => true, () => false))) return [];
  try {
    const rel = posix(relative(boundary, await realpath(file)));
    const git = simpleGit({ baseDir: boundary });
    const commits = (await git.raw(['log', '-n', '5', '--format=%H', '--', rel])).split('\n').filter(Boolean);
    for (const commit of commits) {
      const text = await git.show([`${commit}:${rel}`]).catch(() => '');
      const names = declaredNames(text.slice(0, SCAN_MAX_BYTES));
      if (names.length > 0) return names;
    }
  } catch {
    // No history to read (not a repository after all, git missing): nothing to say.
  }
  return [];
}
