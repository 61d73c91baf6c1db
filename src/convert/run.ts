/**
 * `prefect-gitops convert`: reads Prefect 2 deployment.yaml files (files, or folders searched for
 * them), converts each document (src/convert/prefect2.ts) and lays out the manifests: one file per
 * deployment under `deployments/`, and a prefect-gitops.yaml whose `project_root` is where the
 * entrypoints' files are found. Reads the file system; writes nothing (the CLI writes the files).
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseYamlFile } from '../manifests/source.js';
import { renderDocument } from '../export/export.js';
import type { Issue } from '../validate/issue.js';
import { UserInputError } from '../errors.js';
import { convertPrefect2Deployment, type ConvertedDeployment, type ConvertOptions } from './prefect2.js';
import { isPrefect2DeploymentYaml } from './recognise.js';

export interface ConvertRunOptions extends ConvertOptions {
  /** deployment.yaml files or folders holding them, relative to `cwd`. */
  readonly inputs: readonly string[];
  readonly cwd: string;
  /** The directory the manifests are meant for (its prefect-gitops.yaml, its deployments/); relative to `cwd`. */
  readonly out?: string;
  /** Owner id for a prefect-gitops.yaml written into `out`. */
  readonly owner?: string;
}

export interface ConvertedFile {
  /** Relative to the output directory. */
  readonly path: string;
  readonly content: string;
  readonly deployments: readonly string[];
}

export interface ConvertRunResult {
  readonly files: ConvertedFile[];
  /** A prefect-gitops.yaml to write when `out` has none (needs an owner). */
  readonly config?: ConvertedFile;
  /** Whether `out` already has a prefect-gitops.yaml (kept as it is). */
  readonly hasConfig: boolean;
  /** `project_root` of the config, relative to `out`, when it is not `out` itself. */
  readonly projectRoot?: string;
  /** Work pools the manifests name, with the type a converted infrastructure block asks for. */
  readonly pools: { readonly name: string; readonly type?: string }[];
  readonly deployments: ConvertedDeployment[];
  /** Every problem and warning, by file and line. */
  readonly issues: Issue[];
  /** Input files read (display paths). */
  readonly read: string[];
}

const YAML = /\.ya?ml$/i;
const SKIPPED_DIRS = new Set(['node_modules', '__pycache__', '.git', '.venv', '.prefect-venv']);

/** Reads and converts; throws UserInputError only when an input does not exist. */
export async function convertDeploymentYamls(options: ConvertRunOptions): Promise<ConvertRunResult> {
  const display = (p: string): string => {
    const rel = relative(options.cwd, p);
    return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? p : rel;
  };
  const issues: Issue[] = [];
  const read: string[] = [];
  const deployments: { converted: ConvertedDeployment; source: string }[] = [];
  for (const input of options.inputs) {
    const abs = resolve(options.cwd, input);
    const info = await stat(abs).catch(() => undefined);
    if (!info) throw new UserInputError(`not found: ${input}`, 'pass Prefect 2 deployment.yaml files, or folders holding them');
    const explicit = info.isFile();
    const files = explicit ? [abs] : await yamlFilesBelow(abs);
    for (const file of files) {
      const parsed = await parseYamlFile(file, display(file));
      const documents = parsed.documents.filter((d) => isPrefect2DeploymentYaml(d.value));
      if (explicit && parsed.issues.length) issues.push(...parsed.issues);
      if (explicit && documents.length === 0 && parsed.issues.length === 0) {
        issues.push({ file: display(file), line: 0, column: 0, path: '', message: 'not a Prefect 2 deployment.yaml (written by `prefect deployment build`): nothing to convert', severity: 'error' });
      }
      if (documents.length === 0) continue;
      read.push(display(file));
      for (const doc of documents) deployments.push({ converted: convertPrefect2Deployment(doc, options), source: file });
    }
  }
  if (read.length === 0 && !issues.some((i) => i.severity === 'error')) {
    issues.push({ file: options.inputs.join(', '), line: 0, column: 0, path: '', message: 'no Prefect 2 deployment.yaml found (files written by `prefect deployment build`)', severity: 'error' });
  }

  const seen = new Map<string, string>();
  for (const { converted, source } of deployments) {
    const first = seen.get(converted.key);
    if (first) issues.push({ ...converted.declaredAt, path: '', message: `${converted.key} is also converted from ${first}: the manifests would declare it twice`, severity: 'error' });
    else seen.set(converted.key, display(source));
    issues.push(...converted.issues);
  }

  const outDir = resolve(options.cwd, options.out ?? '.');
  const root = await chooseProjectRoot(deployments, outDir, issues);
  const hasConfig = await stat(join(outDir, 'prefect-gitops.yaml')).then(() => true, () => stat(join(outDir, 'prefect-gitops.yml')).then(() => true, () => false));
  const projectRoot = root === outDir ? undefined : relative(outDir, root).split(sep).join('/') || '.';

  const files: ConvertedFile[] = [];
  const usedPaths = new Set<string>();
  for (const { converted, source } of deployments) {
    if (converted.issues.some((i) => i.severity === 'error')) continue;
    const stem = `${converted.manifest.flow_name}-${converted.manifest.name}`.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'deployment';
    let path = `deployments/${stem}.yaml`;
    for (let n = 2; usedPaths.has(path); n++) path = `deployments/${stem}-${n}.yaml`;
    usedPaths.add(path);
    const comments = [`Converted by prefect-gitops convert from the Prefect 2 deployment.yaml ${relative(outDir, source).split(sep).join('/')}.`];
    files.push({ path, content: renderDocument(converted.manifest, comments), deployments: [converted.key] });
  }

  const pools = new Map<string, string | undefined>();
  for (const { converted } of deployments) pools.set(converted.pool.name, converted.pool.type ?? pools.get(converted.pool.name));
  // A deployment.yaml inside the output folder would be read as a manifest (and refused): ignore it.
  const inside = deployments.map((d) => relative(outDir, d.source).split(sep).join('/')).filter((p) => !p.startsWith('..') && !isAbsolute(p));
  const config = !hasConfig && options.owner ? { path: 'prefect-gitops.yaml', content: configText(options.owner, projectRoot, [...new Set(inside)]), deployments: [] } : undefined;
  if (hasConfig && projectRoot) {
    issues.push({ file: display(join(outDir, 'prefect-gitops.yaml')), line: 0, column: 0, path: 'project_root', message: `the entrypoints are relative to ${display(root)}: prefect-gitops.yaml (kept as it is) needs \`project_root: ${projectRoot}\``, severity: 'warning' });
  }
  return {
    files,
    ...(config ? { config } : {}),
    hasConfig,
    ...(projectRoot ? { projectRoot } : {}),
    pools: [...pools].map(([name, type]) => ({ name, ...(type ? { type } : {}) })),
    deployments: deployments.map((d) => d.converted),
    issues: issues.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column),
    read,
  };
}

function configText(owner: string, projectRoot: string | undefined, ignore: readonly string[]): string {
  const lines = ['# Written by prefect-gitops convert (from Prefect 2 deployment.yaml files).', `owner: ${JSON.stringify(owner)}`];
  if (projectRoot) lines.push('# Entrypoints are relative to the folder the flows were built from.', `project_root: ${JSON.stringify(projectRoot)}`);
  if (ignore.length) lines.push('# The Prefect 2 files themselves are not manifests.', 'ignore:', ...ignore.map((p) => `  - ${JSON.stringify(p)}`));
  return lines.join('\n') + '\n';
}

/**
 * Where the entrypoints' files are on this machine: the run's directory when it exists here (a
 * local build), else the folder of the deployment.yaml (built from where it was written). The
 * folder holding the most entrypoints wins; a deployment whose file is elsewhere is a warning.
 */
async function chooseProjectRoot(deployments: readonly { converted: ConvertedDeployment; source: string }[], outDir: string, issues: Issue[]): Promise<string> {
  const votes = new Map<string, number>();
  const found = new Map<ConvertedDeployment, string[]>();
  for (const { converted, source } of deployments) {
    if (!converted.entrypointFile) continue;
    const candidates = [converted.codeDirectory, dirname(source)].filter((d): d is string => typeof d === 'string' && isAbsolute(d));
    const hits: string[] = [];
    for (const dir of new Set(candidates)) {
      if (await stat(join(dir, converted.entrypointFile)).then((s) => s.isFile(), () => false)) hits.push(dir);
    }
    found.set(converted, hits);
    for (const dir of hits) votes.set(dir, (votes.get(dir) ?? 0) + 1);
  }
  const best = [...votes].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? (deployments[0] ? dirname(deployments[0].source) : outDir);
  for (const { converted } of deployments) {
    if (!converted.entrypointFile || found.get(converted)?.includes(best)) continue;
    issues.push({
      ...converted.declaredAt,
      path: 'entrypoint',
      message: `${converted.key}: its flow file ${converted.entrypointFile} is not under ${best}${converted.codeDirectory ? ` (nor under ${converted.codeDirectory})` : ''}: validate will report the entrypoint until the file is there`,
      severity: 'warning',
    });
  }
  return best;
}

async function yamlFilesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFilesBelow(path)));
    else if (entry.isFile() && YAML.test(entry.name) && basename(path) !== 'prefect-gitops.yaml') out.push(path);
  }
  return out;
}
