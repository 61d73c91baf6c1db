import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, delimiter, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import ignore from 'ignore';
import { simpleGit } from 'simple-git';
import type { Issue } from '../validate/issue.js';
import { UserInputError } from '../errors.js';
import { resolvePrefectSettings } from '../prefect/settings.js';
import { CONFIG_FILE_NAMES } from './config.js';
import { parseYamlFile, readTextFile, type SourceDocument } from './source.js';
import { expandPrefectYaml } from './prefect-yaml.js';
import { isPrefect2DeploymentYaml } from '../convert/recognise.js';
import { entrypointBases, locateFlow } from './flow-source.js';
import { askPythonForFlows, needsPython, type PythonFlowResult } from './python-flows.js';
import { currentBranch, currentCommit } from './git-context.js';
import { discoverManifests, namesFromHistory, repositoryRoot, type SkippedPath } from './discover.js';
import type { UnreadSource } from './types.js';

export interface GitInfo {
  readonly sha: string;
  readonly short_sha: string;
  readonly branch: string;
  readonly tag: string;
}

/**
 * Everything read from disk for one manifest directory. Loading only reads; it decides nothing
 * about validity beyond YAML syntax (validation is pure and works on this value).
 */
export interface LoadedProject {
  /** Absolute path of the manifest directory. */
  readonly dir: string;
  /** How to show paths: relative to the working directory. */
  readonly display: (absolutePath: string) => string;
  readonly configDocument?: SourceDocument;
  readonly configFile?: string;
  readonly documents: readonly SourceDocument[];
  /** Files scanned, for reporting ("read 7 files"). */
  readonly files: readonly string[];
  /** Files and folders not read, and why (hidden, ignored, empty, ...): `validate` lists them. */
  readonly skipped: readonly SkippedPath[];
  /** Deployment names declared in files that were not read, to explain prunes. */
  readonly unread: readonly UnreadSource[];
  /** Contents of referenced Python entrypoint files, keyed by path relative to the project root; null when absent. */
  readonly pythonSources: ReadonlyMap<string, string | null>;
  /** With `--python`: what the user's Prefect said about flows static reading cannot resolve, by pythonFlowKey. */
  readonly pythonFlows?: ReadonlyMap<string, PythonFlowResult>;
  /** Entrypoint files inside the project that resolve (through a symbolic link) outside it, with where to: never read. */
  readonly refusedSources: ReadonlyMap<string, string>;
  /** Values for `{{ git.* }}`; undefined when the directory is not in a git repository or none is referenced. */
  readonly git?: GitInfo;
  readonly gitError?: string;
  /** YAML syntax problems found while reading. */
  readonly issues: readonly Issue[];
  /** Absolute project root entrypoints are relative to (from config `project_root`, else `dir`). */
  readonly projectRoot: string;
  /**
   * Prefect's default work pool (`PREFECT_DEFAULT_WORK_POOL_NAME`, from the environment or Prefect's
   * settings files, as `prefect deploy` reads it), when a prefect.yaml was read and one is set.
   */
  readonly prefectDefaultWorkPool?: { readonly value: string; readonly source: string };
  /** Every prefect.yaml read, whole, with its directory relative to the project root: also those that declare no deployment. */
  readonly prefectYamlFiles: readonly { readonly file: SourceDocument; readonly relativeDir: string }[];
  /** `PYTHONPATH` folders inside the project, relative to its root: module entrypoints are also looked up there. */
  readonly pythonPath?: readonly string[];
}

/** Prefect's own project file: read as `prefect deploy` reads it. */
const PREFECT_YAML = /^prefect\.ya?ml$/;


/**
 * Reads a manifest directory: the project config at its root, every `*.yaml`/`*.yml` below it
 * (recursively, following symbolic links inside the repository, minus ignored paths, hidden
 * directories and `node_modules`: see discoverManifests), the Python files the entrypoints name,
 * and git metadata when a manifest uses `{{ git.* }}`. What it does not read is listed in
 * `skipped`; an empty manifest is a warning.
 *
 * @throws UserInputError when the directory does not exist.
 */
export interface LoadOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly python?: string;
  readonly pythonTimeoutMs?: number;
  /**
   * `--prefect-file`, as `prefect deploy --prefect-file`: read only this prefect.yaml (a path
   * relative to the working directory), whose entrypoints are relative to the project root first.
   */
  readonly prefectFile?: string;
}

export async function loadManifests(dir: string, options: LoadOptions = {}): Promise<LoadedProject> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const absDir = resolve(cwd, dir);
  const info = await stat(absDir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new UserInputError(`manifest directory not found: ${dir}`, 'pass the directory that holds prefect-gitops.yaml and your deployment manifests');
  }
  const display = (p: string): string => {
    const rel = relative(cwd, p);
    return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? p : rel;
  };

  const issues: Issue[] = [];
  let configDocument: SourceDocument | undefined;
  let configFile: string | undefined;
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = join(absDir, name);
    if (await stat(candidate).then((s) => s.isFile(), () => false)) {
      configFile = candidate;
      const parsed = await parseYamlFile(candidate, display(candidate));
      issues.push(...parsed.issues);
      configDocument = parsed.documents[0];
      break;
    }
  }

  // Each rule keeps where it is written, so a skipped file can name the rule that hid it.
  const ignoreMatcher = ignore().add(configIgnorePatterns(configDocument).map((pattern) => ({ pattern, mark: `${configFile ? basename(configFile) : 'the config'} ignore:` })));
  const gitopsIgnorePath = join(absDir, '.gitopsignore');
  if (await stat(gitopsIgnorePath).then(() => true, () => false)) {
    // An ignore file that cannot be read must not silently stop ignoring.
    const gitopsIgnore = await readTextFile(gitopsIgnorePath, display(gitopsIgnorePath));
    if ('issue' in gitopsIgnore) issues.push(gitopsIgnore.issue);
    else ignoreMatcher.add(gitopsIgnore.text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#')).map((pattern) => ({ pattern, mark: display(gitopsIgnorePath) })));
  }

  const configPaths = new Set(CONFIG_FILE_NAMES.map((name) => join(absDir, name)));
  const projectRoot = resolveProjectRoot(absDir, configDocument);
  const boundary = await repositoryRoot(absDir, projectRoot);
  const prefectFile = options.prefectFile === undefined ? undefined : resolve(cwd, options.prefectFile);
  if (prefectFile !== undefined && !(await stat(prefectFile).then((s) => s.isFile(), () => false))) {
    throw new UserInputError(`--prefect-file not found: ${options.prefectFile}`, 'pass the path of a prefect.yaml, relative to the directory you run in (as prefect deploy --prefect-file takes it)');
  }
  // Decision: with --prefect-file, only that file is a manifest (no discovery), as prefect deploy reads only it.
  const discovery = prefectFile !== undefined
    ? { files: [prefectFile], skipped: [], unread: [], issues: [] }
    : await discoverManifests({ dir: absDir, boundary, matcher: ignoreMatcher, display });
  issues.push(...discovery.issues);
  const skipped: SkippedPath[] = [...discovery.skipped];
  const unread: UnreadSource[] = [...discovery.unread];
  // Without a prefect-gitops.yaml the directory is a Prefect project: only its prefect.yaml files
  // are manifests (compose.yaml, dbt or CI files beside them are not ours to read).
  // With neither, it is a manifest directory that lacks its config: read every file anyway, so
  // validate reports the missing config and every manifest's problems at once.
  const found = discovery.files.filter((f) => !configPaths.has(f));
  const prefectProject = prefectFile === undefined && configFile === undefined && found.some((f) => PREFECT_YAML.test(basename(f)));
  const files = found.filter((f) => !prefectProject || PREFECT_YAML.test(basename(f)));
  const documents: SourceDocument[] = [];
  const prefectYamlFiles: { file: SourceDocument; relativeDir: string }[] = [];
  for (const file of files) {
    const parsed = await parseYamlFile(file, display(file));
    issues.push(...parsed.issues);
    if (parsed.documents.length === 0 && parsed.issues.length === 0) {
      // Decision: a warning, not an error (an empty file may be a placeholder); a prune of what it
      // used to declare is refused by the planner (see UnreadSource.emptied).
      issues.push({ file: display(file), line: 0, column: 0, path: '', message: 'manifest file is empty (or only comments): it declares nothing; delete it, or add a deployment', severity: 'warning' });
      skipped.push({ path: display(file), reason: 'empty', detail: 'empty: declares nothing' });
      const history = await namesFromHistory(boundary, file);
      const stem = basename(file, extname(file));
      unread.push(history.length > 0 ? { file: display(file), why: 'is now empty', names: history, emptied: true } : { file: display(file), why: 'is empty', names: [stem], emptied: true, guessed: true });
      continue;
    }
    if (PREFECT_YAML.test(basename(file)) || file === prefectFile) {
      for (const doc of parsed.documents) {
        // A Prefect 2 deployment.yaml given as --prefect-file: kept whole, so validation names it.
        if (isPrefect2DeploymentYaml(doc.value)) {
          documents.push(doc);
          continue;
        }
        prefectYamlFiles.push({ file: doc, relativeDir: relative(projectRoot, dirname(file)).split(sep).join('/') });
        const expanded = expandPrefectYaml(doc, dirname(file), projectRoot, { explicit: file === prefectFile });
        documents.push(...expanded.documents);
        issues.push(...expanded.issues);
        if (expanded.documents.length === 0) {
          // `deployments: []`, or only unnamed entries: it declares nothing, as an emptied file.
          // Pruning what it declared before is refused like an emptied file's (a list cut by
          // mistake is likelier than a way to remove deployments: deleting the entries is).
          const history = await namesFromHistory(boundary, file);
          if (history.length > 0) unread.push({ file: display(file), why: 'declares no deployment now', names: history, emptied: true });
        }
      }
    } else documents.push(...parsed.documents);
  }

  const pythonSources = new Map<string, string | null>();
  const refusedSources = new Map<string, string>();
  const realRoot = await realpath(projectRoot).catch(() => projectRoot);
  const readSource = async (file: string): Promise<void> => {
    // A path that leaves the project (or links out of it) is refused by validation and never read.
    const absolute = resolve(projectRoot, file);
    const real = await realpath(absolute).catch(() => undefined);
    if (real !== undefined && isOutside(realRoot, real)) {
      refusedSources.set(file, display(real));
      pythonSources.set(file, null);
      return;
    }
    pythonSources.set(file, await readFile(absolute, 'utf8').catch(() => null));
  };
  // The flow files the entrypoints name, and the modules they import the flow from: locating asks
  // for the files it needs; read them and locate again until nothing is pending.
  const pythonPath = await pythonPathInside(env.PYTHONPATH, cwd, realRoot);
  const entrypoints = [
    ...documents.flatMap((d) => collectStrings([d.value], undefined, 'entrypoint').map((e) => ({ entrypoint: e, bases: entrypointBases(e, d.prefectYaml?.relativeDir ?? '', d.prefectYaml?.explicit, pythonPath) }))),
    ...collectStrings([], configDocument?.value, 'entrypoint').map((e) => ({ entrypoint: e, bases: entrypointBases(e, '', false, pythonPath) })),
  ];
  for (let round = 0; round < 12; round++) {
    const wanted = new Set<string>();
    for (const { entrypoint, bases } of entrypoints) {
      locateFlow(entrypoint, bases, (path) => {
        if (!pythonSources.has(path) && path.endsWith('.py')) wanted.add(path);
        return pythonSources.has(path) ? pythonSources.get(path) : path.endsWith('.py') ? undefined : null;
      });
    }
    if (wanted.size === 0) break;
    for (const file of wanted) await readSource(file);
  }
  // --python: the user's Prefect loads the flows static reading cannot (see python-flows.ts).
  let pythonFlows: Map<string, PythonFlowResult> | undefined;
  if (options.python) {
    const read = (path: string): string | null => pythonSources.get(path) ?? null;
    const requests = entrypoints
      .filter(({ entrypoint, bases }) => needsPython(entrypoint, bases, read))
      .map(({ entrypoint, bases }) => {
        const located = locateFlow(entrypoint, bases, read);
        return { entrypoint, base: located.kind === 'found' ? located.base : bases[0]! };
      });
    // A path is the user's, relative to where they run us; a bare name (python3) is looked up on PATH.
    const python = /[\\/]/.test(options.python) ? resolve(cwd, options.python) : options.python;
    pythonFlows = await askPythonForFlows(python, projectRoot, requests, options.pythonTimeoutMs ? { timeoutMs: options.pythonTimeoutMs } : {});
  }

  let git: GitInfo | undefined;
  let gitError: string | undefined;
  const usesGit = [...documents.map((d) => d.value), configDocument?.value].some((v) => JSON.stringify(v ?? null).includes('git.'));
  if (usesGit) {
    try {
      git = await readGitInfo(absDir, env);
    } catch (error) {
      gitError = error instanceof Error ? error.message.split('\n')[0] : String(error);
    }
  }

  const defaultWorkPool = prefectYamlFiles.length > 0 ? prefectDefaultWorkPool(env, cwd) : undefined;
  return {
    dir: absDir,
    display,
    ...(configDocument ? { configDocument } : {}),
    ...(configFile ? { configFile } : {}),
    documents,
    files: files.map(display),
    skipped,
    unread,
    pythonSources,
    ...(pythonFlows ? { pythonFlows } : {}),
    refusedSources,
    ...(git ? { git } : {}),
    ...(gitError ? { gitError } : {}),
    issues,
    projectRoot,
    ...(pythonPath.length > 0 ? { pythonPath } : {}),
    prefectYamlFiles,
    ...(defaultWorkPool ? { prefectDefaultWorkPool: defaultWorkPool } : {}),
  };
}

/** `PREFECT_DEFAULT_WORK_POOL_NAME` as Prefect resolves it; unreadable settings files count as unset (plan reports them for the API URL). */
function prefectDefaultWorkPool(env: Readonly<Record<string, string | undefined>>, cwd: string): { value: string; source: string } | undefined {
  try {
    return resolvePrefectSettings(env, cwd).PREFECT_DEFAULT_WORK_POOL_NAME;
  } catch {
    return undefined;
  }
}

/**
 * The `PYTHONPATH` folders (relative ones are relative to the working directory, as for Python)
 * that lie inside the project root, as paths relative to it. Folders elsewhere are never read.
 * Decision: a `src/` layout is not searched unless it is on PYTHONPATH: Prefect imports a module
 * entrypoint with the working directory and PYTHONPATH on sys.path, so `src/` is found only when
 * installed (site-packages, which we do not read) or listed.
 */
async function pythonPathInside(pythonPath: string | undefined, cwd: string, realRoot: string): Promise<string[]> {
  const dirs: string[] = [];
  for (const entry of (pythonPath ?? '').split(delimiter)) {
    if (entry.trim() === '') continue;
    const real = await realpath(resolve(cwd, entry)).catch(() => undefined);
    if (real === undefined || isOutside(realRoot, real)) continue;
    const rel = relative(realRoot, real).split(sep).join('/');
    if (rel !== '' && !dirs.includes(rel)) dirs.push(rel);
  }
  return dirs;
}

/** Whether `path` lies outside `root` (both absolute, real paths). */
function isOutside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

function configIgnorePatterns(config: SourceDocument | undefined): string[] {
  const value = config?.value as { ignore?: unknown } | undefined;
  return Array.isArray(value?.ignore) ? value.ignore.filter((p): p is string => typeof p === 'string') : [];
}

function resolveProjectRoot(dir: string, config: SourceDocument | undefined): string {
  const root = (config?.value as { project_root?: unknown } | undefined)?.project_root;
  return typeof root === 'string' ? resolve(dir, root) : dir;
}

/** Every string found under key `key` anywhere in the values (entrypoints may sit in overrides or defaults). */
function collectStrings(values: unknown[], extra: unknown, key: string): string[] {
  const found: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k === key && typeof child === 'string') found.push(child);
        else visit(child);
      }
    }
  };
  values.forEach(visit);
  visit(extra);
  return found;
}

async function readGitInfo(dir: string, env: Readonly<Record<string, string | undefined>>): Promise<GitInfo> {
  const sha = await currentCommit(dir, env);
  const tag = (await simpleGit({ baseDir: dir }).raw(['tag', '--points-at', 'HEAD'])).split('\n').map((t) => t.trim()).filter(Boolean)[0] ?? '';
  return { sha, short_sha: sha.slice(0, 7), branch: (await currentBranch(dir, env)) ?? '', tag };
}
