import { basename, resolve as resolvePath } from 'node:path';
import type { JsonObject } from '../prefect/types.js';
import { effectiveOwner, toProjectConfig, type ProjectConfig } from '../manifests/config.js';
import { FORBIDDEN_NAME_CHARACTERS, lookupFlow } from '../manifests/entrypoint.js';
import { entrypointBases, locateFlow, type FlowLocation } from '../manifests/flow-source.js';
import { pythonFlowKey } from '../manifests/python-flows.js';
import { functionDocstring, parameterSchemaFromSource } from '../manifests/parameter-schema.js';
import type { LoadedProject } from '../manifests/load.js';
import { mergeLayers } from '../manifests/merge.js';
import { chooseWrittenPull, defaultPullSteps } from '../manifests/prefect-pull.js';
import { assignSlugs, scheduleKind } from '../manifests/slugs.js';
import { cronProblem, intervalSeconds, rruleProblem, timezoneProblem } from '../manifests/schedule.js';
import { formatPath, type PathSegment, type Position, type PrefectYamlContext, type SourceDocument } from '../manifests/source.js';
import { renderTemplates } from '../manifests/template.js';
import type { DeclaredAt, DeploymentManifest, DesiredDeployment, GitopsSettings, ScheduleManifest } from '../manifests/types.js';
import type { Issue } from './issue.js';
import { escapeControl, firstControlCharacter, hasControlCharacter } from '../render/escape.js';
import { redactUrlPasswords } from '../render/redact.js';
import { checkAgainst, checkSchema, type SchemaProblem } from './schema.js';
import { isPrefect2DeploymentYaml, prefect2DeploymentYamlMessage } from '../convert/recognise.js';
import type { DesiredObject } from '../workspace/kind.js';
import { splitByKind, validateWorkspaceDocuments } from '../workspace/documents.js';

export interface ValidateOptions {
  /** The environment to resolve deployments for (`--environment`). */
  readonly environment?: string;
  /** Also check every environment the config defines (the `validate` command). */
  readonly allEnvironments?: boolean;
  /** Values for `{{ env.* }}`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Owner id when there is no prefect-gitops.yaml (a bare prefect.yaml project); `--owner`. */
  readonly owner?: string;
  /** Values of prefect.yaml build/push step outputs (`--set id.key=value`), over the config's `step_outputs`. */
  readonly stepOutputs?: Readonly<Record<string, string>>;
  /** No server will be asked (the `validate` command): checks that need one say what they could not settle. */
  readonly offline?: boolean;
}

export interface ValidationResult {
  /** Every problem, sorted by file and line. Errors make the input invalid; warnings do not. */
  readonly issues: Issue[];
  readonly config?: ProjectConfig;
  /** The owner id in force for the selected environment. */
  readonly owner?: string;
  /** Deployments declared for the selected environment (complete only when there are no errors). */
  readonly deployments: DesiredDeployment[];
  /** Workspace objects (documents with `kind:`, src/workspace/) declared for the selected environment. */
  readonly workspace: DesiredObject[];
}

export const hasErrors = (issues: readonly Issue[]): boolean => issues.some((i) => i.severity === 'error');

/**
 * Checks a loaded manifest directory and resolves its deployments for one environment. Pure: it
 * reads nothing and returns every problem as data instead of throwing.
 */
export function validateProject(project: LoadedProject, options: ValidateOptions): ValidationResult {
  const issues = new IssueList();
  for (const issue of project.issues) issues.add(issue);

  const config = validateConfig(project, issues, options.owner);
  const environments = Object.keys(config?.environments ?? {});
  if (options.environment !== undefined && config && !environments.includes(options.environment)) {
    const message = `unknown environment "${options.environment}"; `;
    if (project.configDocument) issues.add(issueAt(project.configDocument.start, [], `${message}${environments.length ? `the config defines: ${environments.join(', ')}` : 'the config defines no environments'}`));
    // A bare prefect.yaml project: -e names nothing in any file, so the problem has no position.
    else issues.add(unpositioned(project.display(project.dir), `${message}no prefect-gitops.yaml defines environments; leave out -e, or add a prefect-gitops.yaml with \`environments:\``));
  }
  if (options.owner !== undefined && project.configDocument && config) {
    const at = project.configDocument.locate(['owner']);
    issues.add(issueAt(at, ['owner'], `--owner "${options.owner}" is only for a bare prefect.yaml project; here prefect-gitops.yaml sets the owner ("${config.owner}"): drop --owner, or change \`owner:\``));
  }
  // Without a prefect-gitops.yaml every manifest is still checked (with a stand-in owner), so one
  // run reports every problem; the missing config is an error and nothing is resolved for a plan.
  const checkConfig = config ?? (!project.configFile && !project.configDocument ? toProjectConfig({ owner: 'unset' }) : undefined);

  // Documents with a workspace `kind:` (variable, work-pool, ...) are checked by src/workspace/.
  const split = splitByKind(project.documents);
  split.issues.forEach((i) => issues.add(i));
  const usable: SourceDocument[] = [];
  for (const doc of split.deployments) {
    const problems = checkDocument(doc, environments, config !== undefined);
    problems.forEach((p) => issues.add(p));
    if (hasErrors(problems)) {
      // A Prefect 2 deployment.yaml gets its one message, not every rule's verdict on its keys.
      if (isPrefect2Document(doc)) continue;
      // Still report what the other rules find, so one run shows every problem.
      if (isMapping(doc.value)) checkDeployment(plainLocator(doc), doc.value as unknown as DeploymentManifest).forEach((p) => issues.add(p));
    } else usable.push(doc);
  }

  const scopes = options.allEnvironments ? [undefined, ...environments] : [options.environment];
  let selected: DesiredDeployment[] = [];
  if (checkConfig) {
    for (const environment of scopes) {
      if (environment !== undefined && !environments.includes(environment)) continue;
      const resolved = resolveEnvironment(project, checkConfig, usable, environment, options, issues);
      if (environment === options.environment) selected = resolved;
    }
  }
  let workspace: DesiredObject[] = [];
  if (checkConfig && split.workspace.length > 0) {
    const checked = validateWorkspaceDocuments(split.workspace, {
      env: options.env,
      ...(project.git ? { git: project.git } : {}),
      ...(project.gitError ? { gitError: project.gitError } : {}),
      environments,
      ...(options.environment !== undefined ? { environment: options.environment } : {}),
      ...(options.allEnvironments ? { allEnvironments: true } : {}),
      ...(options.offline ? { offline: true } : {}),
      owner: effectiveOwner(checkConfig, options.environment),
      deploymentKeys: selected.map((d) => d.key),
    });
    checked.issues.forEach((i) => issues.add(i));
    workspace = checked.objects;
  }
  return {
    issues: issues.sorted(),
    ...(config ? { config, owner: effectiveOwner(config, options.environment) } : {}),
    deployments: config ? selected : [],
    workspace: config ? workspace : [],
  };
}

/** An issue that has no place in a file (the file does not exist, or a flag caused it). */
function unpositioned(file: string, message: string): Issue {
  return { file, line: 0, column: 0, path: '', message, severity: 'error' };
}

class IssueList {
  private readonly byId = new Map<string, Issue>();
  add(found: Issue): void {
    // A message may quote a value (a cron, an interval, a pattern mismatch): never a URL's password.
    const issue = found.message.includes('://') ? { ...found, message: redactUrlPasswords(found.message) } : found;
    const id = `${issue.file}:${issue.line}:${issue.column}:${issue.message}`;
    if (!this.byId.has(id)) this.byId.set(id, issue);
  }
  sorted(): Issue[] {
    return [...this.byId.values()].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  }
}

/** Finds where a field was written, and says whether an environment-specific layer wrote it. */
interface Locator {
  locate(path: readonly PathSegment[], options?: { key?: boolean }): Position;
  /** `in environment "x"` when the value at `path` comes from that environment's layer, else ''. */
  scopeOf(path: readonly PathSegment[]): string;
}

const plainLocator = (doc: SourceDocument): Locator => ({ locate: (path, options) => doc.locate(path, options), scopeOf: () => '' });

interface Layer {
  readonly value: unknown;
  readonly doc: SourceDocument;
  readonly base: readonly PathSegment[];
  readonly environment?: string;
}

/** Depth of the longest prefix of `path` that exists in `value` (path.length when all of it does). */
function existingDepth(value: unknown, path: readonly PathSegment[]): number {
  let node = value;
  for (let i = 0; i < path.length; i++) {
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, path[i]!)) return i;
    node = (node as Record<string | number, unknown>)[path[i]!];
  }
  return path.length;
}

/**
 * A locator over merged layers (config defaults, environment defaults, the document, its
 * environment override): a path is reported where the layer that supplied its value wrote it.
 */
function layeredLocator(layers: readonly Layer[]): Locator {
  const origin = (path: readonly PathSegment[]): { layer: Layer; depth: number } => {
    let best: { layer: Layer; depth: number } | undefined;
    for (const layer of layers) {
      const depth = existingDepth(layer.value, path);
      // Later layers win ties: they override earlier ones.
      if (depth > 0 && (!best || depth >= best.depth)) best = { layer, depth };
    }
    return best ?? { layer: layers.find((l) => l.base.length === 0) ?? layers[0]!, depth: 0 };
  };
  return {
    locate(path, options) {
      const { layer, depth } = origin(path);
      return layer.doc.locate([...layer.base, ...path.slice(0, depth)], depth === path.length ? options : {});
    },
    scopeOf(path) {
      const env = origin(path).layer.environment;
      return env ? ` in environment "${env}"` : '';
    },
  };
}

function issueAt(position: Position, path: readonly PathSegment[], message: string, severity: Issue['severity'] = 'error'): Issue {
  return { file: position.file, line: position.line, column: position.column, path: formatPath(path), message, severity };
}

function schemaIssues(where: SourceDocument | Locator, base: readonly PathSegment[], problems: readonly SchemaProblem[]): Issue[] {
  const locator = where instanceof Object && 'scopeOf' in where ? where : plainLocator(where);
  return problems.map((p) => {
    const path = [...base, ...p.path];
    const message = p.atKey || p.path.length === 0 ? p.message : `${formatPath(path)} ${p.message}`;
    return issueAt(locator.locate(path, { key: p.atKey }), path, message + locator.scopeOf(path));
  });
}

function validateConfig(project: LoadedProject, issues: IssueList, ownerFlag: string | undefined): ProjectConfig | undefined {
  const doc = project.configDocument;
  // The owner of a bare project: the root prefect.yaml's name, else the only prefect.yaml's
  // (`prefect deploy --prefect-file flows/prefect.yaml` projects keep it in a folder).
  // Every prefect.yaml read counts, also one that declares no deployment (`deployments: []`, or
  // only the unnamed entry of `prefect init`): prefect deploy --all deploys nothing from it.
  const prefectFiles = project.prefectYamlFiles;
  const prefectYaml = prefectFiles.find((f) => f.relativeDir === '') ?? (prefectFiles.length === 1 ? prefectFiles[0] : undefined);
  if (!doc && !project.configFile && (prefectYaml || ownerFlag)) {
    // A bare prefect.yaml project: the owner comes from --owner, else from the project's `name`.
    const name = (prefectYaml?.file.value as { name?: unknown } | undefined)?.name;
    const owner = ownerFlag ?? (typeof name === 'string' ? name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63) : '');
    if (owner) return toProjectConfig({ owner });
    issues.add(issueAt(prefectYaml!.file.start, [], 'this prefect.yaml has no `name` to use as the owner id: pass --owner <id>, or add a prefect-gitops.yaml with `owner: <id>`'));
    return undefined;
  }
  if (!doc && project.configFile && !project.issues.some((i) => /prefect-gitops\.ya?ml$/.test(i.file))) {
    issues.add({ file: project.display(project.configFile), line: 1, column: 1, path: '', message: `${project.display(project.configFile)} is empty; it needs at least \`owner: <id>\` (the ownership id that scopes pruning)`, severity: 'error' });
    return undefined;
  }
  if (!doc) {
    if (!project.issues.some((i) => /prefect-gitops\.ya?ml$/.test(i.file))) {
      issues.add(unpositioned(project.display(resolvePath(project.dir, 'prefect-gitops.yaml')), 'no prefect-gitops.yaml in the manifest directory; create one with at least `owner: <id>` (the ownership id that scopes pruning)'));
    }
    return undefined;
  }
  const problems = schemaIssues(doc, [], checkSchema('config', doc.value));
  const value = doc.value as Record<string, unknown>;
  // Defaults are partial deployments: check them against the deployment schema where they are written.
  if (problems.length === 0) {
    problems.push(...schemaIssues(doc, ['defaults'], checkSchema('partialDeployment', value.defaults ?? {})));
    for (const [name, env] of Object.entries((value.environments ?? {}) as Record<string, { defaults?: unknown } | null>)) {
      problems.push(...schemaIssues(doc, ['environments', name, 'defaults'], checkSchema('partialDeployment', env?.defaults ?? {})));
    }
  }
  problems.forEach((p) => issues.add(p));
  if (problems.length > 0) return undefined;
  return toProjectConfig(value);
}

/** Every YAML file under a directory with a prefect-gitops.yaml is read as a manifest, unless ignored. */
const NOT_A_MANIFEST_HINT = '; if this file is not a manifest, list it under `ignore:` in prefect-gitops.yaml (or in .gitopsignore)';

/** Schema and environment-name checks of one document as written. */
const isPrefect2Document = (doc: SourceDocument): boolean => !doc.prefectYaml && isPrefect2DeploymentYaml(doc.value);

function checkDocument(doc: SourceDocument, environments: readonly string[], haveConfig: boolean): Issue[] {
  if (!doc.value || typeof doc.value !== 'object' || Array.isArray(doc.value)) {
    return [issueAt(doc.start, [], `a manifest document must be a mapping describing one deployment (name, entrypoint, ...)${NOT_A_MANIFEST_HINT}`)];
  }
  const value = doc.value as Record<string, unknown>;
  if (isPrefect2Document(doc)) return [issueAt(doc.start, [], prefect2DeploymentYamlMessage(doc.file))];
  if (!doc.prefectYaml && !('name' in value) && !('entrypoint' in value) && !('deployments' in value)) {
    const keys = Object.keys(value).slice(0, 3).join(', ');
    return [issueAt(doc.start, [], `this document is not a deployment manifest (no name or entrypoint; it has ${keys || 'no keys'})${NOT_A_MANIFEST_HINT}`)];
  }
  if ('deployments' in value && !('name' in value)) {
    return [issueAt(doc.locate(['deployments'], { key: true }), ['deployments'], 'a manifest document describes one deployment; move each entry of `deployments:` into its own document (separate them with `---`)')];
  }
  // A prefect.yaml schedule's `active` and `day_or` may be strings (templates): they are checked
  // once rendered and read as Prefect reads them (readSchedulesAsPrefect).
  const stringAllowed = (i: Issue): boolean => doc.prefectYaml !== undefined && /^schedules\[\d+\]\.(active|day_or)$/.test(i.path) && typeof getAt(value, i.path) === 'string';
  const problems = schemaIssues(doc, [], checkSchema('partialDeployment', value)).filter((i) => !stringAllowed(i));
  if (!('name' in value)) problems.push(issueAt(doc.start, [], 'missing required key "name"'));
  const gitops = value.gitops as GitopsSettings | undefined;
  if (gitops && typeof gitops === 'object' && haveConfig) {
    const known = new Set(environments);
    const describe = environments.length ? `the config defines: ${environments.join(', ')}` : 'the config defines no environments';
    (Array.isArray(gitops.environments) ? gitops.environments : []).forEach((name, i) => {
      if (!known.has(name)) problems.push(issueAt(doc.locate(['gitops', 'environments', i]), ['gitops', 'environments', i], `unknown environment "${name}"; ${describe}`));
    });
    for (const [name, override] of Object.entries(gitops.overrides && typeof gitops.overrides === 'object' ? gitops.overrides : {})) {
      if (!known.has(name)) {
        problems.push(issueAt(doc.locate(['gitops', 'overrides', name], { key: true }), ['gitops', 'overrides', name], `unknown environment "${name}"; ${describe}`));
      } else {
        problems.push(...schemaIssues(doc, ['gitops', 'overrides', name], checkSchema('partialDeployment', override)));
        if (override && typeof override === 'object' && 'gitops' in override) {
          problems.push(issueAt(doc.locate(['gitops', 'overrides', name, 'gitops'], { key: true }), ['gitops', 'overrides', name, 'gitops'], 'an override cannot contain `gitops`'));
        }
      }
    }
  }
  return problems;
}

function resolveEnvironment(
  project: LoadedProject,
  config: ProjectConfig,
  docs: readonly SourceDocument[],
  environment: string | undefined,
  options: ValidateOptions,
  issues: IssueList,
): DesiredDeployment[] {
  const env = options.env;
  const deployments: DesiredDeployment[] = [];
  const seen = new Map<string, DesiredDeployment>();
  const scope = environment ? ` in environment "${environment}"` : '';
  // How many deployments each prefect.yaml declares: `prefect deploy` fills in its default work
  // pool differently for one and for several.
  const entriesOf = new Map<SourceDocument, number>();
  for (const d of docs) if (d.prefectYaml) entriesOf.set(d.prefectYaml.file, (entriesOf.get(d.prefectYaml.file) ?? 0) + 1);
  for (const doc of docs) {
    const { gitops, ...written } = doc.value as Record<string, unknown> & { gitops?: GitopsSettings };
    // A prefect.yaml entry's `pull` is decided with the file's (prefectYamlProjectLayer), as Prefect does.
    const own = doc.prefectYaml ? Object.fromEntries(Object.entries(written).filter(([key]) => key !== 'pull')) : written;
    if (gitops?.environments && (environment === undefined || !gitops.environments.includes(environment))) continue;
    const configDoc = project.configDocument;
    const layers: Layer[] = [
      ...(configDoc ? [{ value: config.defaults, doc: configDoc, base: ['defaults'] }] : []),
      ...(configDoc && environment ? [{ value: config.environments[environment]?.defaults, doc: configDoc, base: ['environments', environment, 'defaults'], environment }] : []),
      ...(doc.prefectYaml ? [prefectYamlProjectLayer(doc, doc.prefectYaml)] : []),
      { value: own, doc, base: [] },
      ...(environment ? [{ value: gitops?.overrides?.[environment], doc, base: ['gitops', 'overrides', environment], environment }] : []),
    ];
    const locator = layeredLocator(layers);
    const merged = mergeLayers(layers.map((l) => l.value));
    const rendered = renderTemplates(merged, {
      env,
      ...(project.git ? { git: project.git } : {}),
      ...(project.gitError ? { gitError: project.gitError } : {}),
      stepIds: doc.prefectYaml?.stepIds ?? [],
      ...(doc.prefectYaml ? { stepFunctions: doc.prefectYaml.stepFunctions ?? [] } : {}),
      stepOutputs: { ...config.stepOutputs, ...options.stepOutputs },
    });
    const local: Issue[] = rendered.problems.map((p) => issueAt(locator.locate(p.path), p.path, p.message + locator.scopeOf(p.path), p.severity ?? 'error'));
    const manifest = rendered.value as DeploymentManifest;
    if (doc.prefectYaml && project.prefectDefaultWorkPool) defaultWorkPool(manifest, project.prefectDefaultWorkPool, entriesOf.get(doc.prefectYaml.file) ?? 0, locator, local);
    if (doc.prefectYaml) readSchedulesAsPrefect(manifest);
    const relativeDir = doc.prefectYaml?.relativeDir ?? '';
    const flow = typeof manifest.entrypoint === 'string' ? locateFlow(manifest.entrypoint, entrypointBases(manifest.entrypoint, relativeDir, doc.prefectYaml?.explicit, project.pythonPath), (path) => project.pythonSources.get(path) ?? null) : undefined;
    // Entrypoints relative to the project root, not to the prefect.yaml's folder: `prefect deploy
    // --prefect-file <dir>/prefect.yaml` run from the root, which is then the working directory.
    // With --prefect-file the root is the working directory by declaration: nothing to warn about.
    const explicit = doc.prefectYaml?.explicit === true;
    // Found from the root working directory, not the prefect.yaml's own (an import root such as
    // PYTHONPATH or src/ says nothing about where prefect deploy runs).
    const fromRoot = explicit || (flow?.kind === 'found' && flow.base === '' && relativeDir !== '');
    if (fromRoot && !explicit) {
      local.push(issueAt(locator.locate(['entrypoint']), ['entrypoint'], `entrypoint "${manifest.entrypoint}" is relative to the project root, not to ${relativeDir}/ where this prefect.yaml is: read as \`prefect deploy --prefect-file ${relativeDir}/${basename(doc.file)}\` run from the root reads it (working directory: the root)`, 'warning'));
    }
    if (doc.prefectYaml && manifest.pull === undefined) {
      // Prefect looks at the image before it fills in step outputs: a placeholder counts as an image.
      const image = ((merged as unknown as DeploymentManifest).work_pool?.job_variables as { image?: unknown } | undefined)?.image;
      manifest.pull = defaultPullSteps(fromRoot ? project.projectRoot : doc.prefectYaml.dir, doc.prefectYaml.build, image) as DeploymentManifest['pull'];
    }
    local.push(...schemaIssues(locator, [], checkSchema('deployment', manifest)));
    if (hasErrors(local)) {
      local.forEach((i) => issues.add(i));
      continue;
    }
    const asked = typeof manifest.entrypoint === 'string' ? project.pythonFlows?.get(pythonFlowKey(flow?.kind === 'found' ? flow.base : relativeDir, manifest.entrypoint)) : undefined;
    let flowName: string | undefined;
    if (asked === undefined) {
      flowName = resolveFlowName(project, locator, manifest, local, flow, doc.prefectYaml !== undefined);
      Object.assign(manifest, flowDefaults(project, locator, manifest, local, flow, doc.prefectYaml !== undefined));
    } else if ('error' in asked) {
      local.push(issueAt(locator.locate(['entrypoint']), ['entrypoint'], `--python could not load the flow of entrypoint "${manifest.entrypoint}": ${asked.error}` + locator.scopeOf(['entrypoint'])));
    } else {
      flowName = doc.prefectYaml ? flowNameAsPrefectDeploys(locator, manifest, asked.name, `the flow --python loaded`, local) : (manifest.flow_name ?? asked.name);
      if (manifest.parameter_openapi_schema === undefined) manifest.parameter_openapi_schema = asked.parameterSchema as DeploymentManifest['parameter_openapi_schema'];
      if (doc.prefectYaml ? !manifest.description : manifest.description === undefined) manifest.description = asked.description;
    }
    local.push(...checkDeployment(locator, manifest, doc.prefectYaml !== undefined));
    local.forEach((i) => issues.add(i));
    if (hasErrors(local) || flowName === undefined) continue;
    const start = doc.start;
    const desired: DesiredDeployment = {
      key: `${flowName}/${manifest.name}`,
      flowName,
      name: manifest.name,
      manifest: { ...manifest, flow_name: flowName },
      adopt: gitops?.adopt ?? false,
      protected: gitops?.protected ?? false,
      ignoreDifferences: [...config.ignoreDifferences, ...(environment ? (config.environments[environment]?.ignoreDifferences ?? []) : []), ...(gitops?.ignore_differences ?? [])],
      declaredAt: { file: start.file, line: start.line, column: start.column },
      fieldsAt: fieldPositions(locator, manifest),
    };
    const earlier = seen.get(desired.key);
    if (earlier) {
      issues.add(issueAt(locator.locate(['name']), ['name'], `duplicate deployment "${desired.key}"${scope}: also declared at ${earlier.declaredAt.file}:${earlier.declaredAt.line}; names must be unique per flow`));
      continue;
    }
    seen.set(desired.key, desired);
    deployments.push(desired);
  }
  return deployments;
}

/** Where the fields checked against the server (work pool, queue) were written. */
function fieldPositions(locator: Locator, manifest: DeploymentManifest): Record<string, DeclaredAt> {
  const out: Record<string, DeclaredAt> = {};
  const add = (path: readonly PathSegment[]): void => {
    const p = locator.locate(path);
    out[path.join('.')] = { file: p.file, line: p.line, column: p.column };
  };
  for (const path of [['work_pool', 'name'], ['work_pool', 'work_queue_name']] as const) {
    if (manifest.work_pool?.[path[1]]) add(path);
  }
  // Fields some Prefect servers cannot hold (src/plan/server-support.ts), for errors found once the server is known.
  (manifest.schedules ?? []).forEach((s, i) => {
    if (s.slug !== undefined) add(['schedules', i, 'slug']);
    if (s.parameters !== undefined) add(['schedules', i, 'parameters']);
  });
  if (manifest.concurrency_limit !== undefined) add(['concurrency_limit']);
  (manifest.triggers ?? []).forEach((_t, i) => add(['triggers', i]));
  return out;
}

/**
 * What `prefect deploy` takes from the flow's source when a manifest leaves it out, read without
 * running Python: `parameter_openapi_schema` from the signature, and `description` from a literal
 * `@flow(description=...)` or the docstring (for a prefect.yaml entry also when its description is
 * null or empty, as Prefect does). Only when the entrypoint's file is in the repository.
 */
function flowDefaults(project: LoadedProject, locator: Locator, manifest: DeploymentManifest, issues: Issue[], flow: FlowLocation | undefined, prefectYaml: boolean): Partial<DeploymentManifest> {
  if (!flow || flow.kind === 'malformed' || flow.kind === 'outside') return {};
  if (flow.kind !== 'found') {
    // Only reachable with flow_name given (resolveFlowName stops otherwise): never let the schema and description go missing silently.
    const missing = [manifest.parameter_openapi_schema === undefined ? 'parameter schema' : '', manifest.description === undefined ? 'description' : ''].filter(Boolean);
    if (missing.length > 0) {
      const tried = flow.kind === 'missing' ? flow.tried.join(', ') : manifest.entrypoint;
      issues.push(issueAt(locator.locate(['entrypoint']), ['entrypoint'], `the flow of entrypoint "${manifest.entrypoint}" is not in the repository (looked for ${tried} under ${project.display(project.projectRoot)}), so the deployment gets no ${missing.join(' and no ')} from the flow${prefectYaml ? ' (prefect deploy would fail to load the flow)' : ''}; fix the entrypoint, or give ${missing.map((m) => (m === 'description' ? 'description' : 'parameter_openapi_schema')).join(' and ')}`, 'warning'));
    }
    return {};
  }
  const entry = { file: flow.file, func: flow.func };
  const source = flow.source;
  const out: Partial<DeploymentManifest> = {};
  if (manifest.parameter_openapi_schema === undefined) {
    const result = parameterSchemaFromSource(source, entry.func);
    if ('error' in result) {
      issues.push(issueAt(locator.locate(['entrypoint']), ['entrypoint'], `cannot build the parameter schema from ${entry.file}: ${result.error}; parameters are not checked (give parameter_openapi_schema to check them)`, 'warning'));
    } else {
      out.parameter_openapi_schema = result.schema as DeploymentManifest['parameter_openapi_schema'];
      for (const notice of result.notices) {
        issues.push(issueAt(locator.locate(['entrypoint']), ['entrypoint'], `${entry.file}:${notice.line}:${notice.column}: ${notice.message}`, 'warning'));
      }
    }
  }
  // prefect deploy takes the flow's description whenever the file's is falsy (null, ""), not only when absent.
  if (prefectYaml ? !manifest.description : manifest.description === undefined) {
    const decorated = flow.assigned ? undefined : lookupFlow(source, entry.func);
    if (decorated?.kind === 'flow' && decorated.descriptionProblem) {
      issues.push(issueAt(locator.locate(['entrypoint']), ['entrypoint'], `${entry.file}:${decorated.line}: the flow's ${decorated.descriptionProblem}, so the deployment gets the docstring as its description instead; give description here, or pass --python to ask your Prefect installation`, 'warning'));
    }
    const description = (decorated?.kind === 'flow' ? decorated.description : undefined) ?? functionDocstring(source, entry.func);
    if (description !== undefined) out.description = description;
    else if (prefectYaml && manifest.description !== undefined) out.description = null;
  }
  return out;
}

/**
 * The pull steps a prefect.yaml entry has written for it (its own, else the file's, as
 * `prefect deploy` chooses them: see chooseWrittenPull). When nothing usable is written, the layer
 * is empty: the prefect-gitops config's default pull steps apply, else Prefect's generated default
 * (set after templating, since it depends on `job_variables.image`).
 */
function prefectYamlProjectLayer(doc: SourceDocument, context: PrefectYamlContext): Layer {
  const choice = chooseWrittenPull(doc.value as Record<string, unknown>, { has: 'pull' in context, value: context.pull });
  if (choice.kind === 'default') return { value: {}, doc: context.file, base: [] };
  return { value: { pull: choice.steps }, doc: choice.at === 'entry' ? doc : context.file, base: [] };
}

/** The value at a formatted path such as `schedules[0].active`. */
function getAt(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split(/\.|\[|\]/).filter(Boolean)) current = isMapping(current) ? current[part] : Array.isArray(current) ? current[Number(part)] : undefined;
  return current;
}

/** The strings pydantic (lax mode) reads as booleans. */
const PYDANTIC_BOOLEANS: Readonly<Record<string, boolean>> = { true: true, t: true, yes: true, y: true, on: true, '1': true, false: false, f: false, no: false, n: false, off: false, '0': false };

/**
 * A prefect.yaml schedule's values as `prefect deploy` reads them (deploy/_schedules.py): `active`
 * and `day_or` may be strings (for templates such as `"{{ $SCHEDULES_ON }}"`), which Prefect's
 * models read as booleans once rendered; an `rrule` may be the JSON of an RRuleSchedule
 * (`{"rrule": "...", "timezone": "..."}`), whose time zone a `timezone` beside it overrides.
 */
function readSchedulesAsPrefect(manifest: DeploymentManifest): void {
  for (const schedule of Array.isArray(manifest.schedules) ? manifest.schedules : []) {
    if (!isMapping(schedule)) continue;
    const s = schedule as Record<string, unknown>;
    for (const key of ['active', 'day_or']) {
      const value = s[key];
      if (typeof value === 'string' && value.trim().toLowerCase() in PYDANTIC_BOOLEANS) s[key] = PYDANTIC_BOOLEANS[value.trim().toLowerCase()];
    }
    if (typeof s.rrule === 'string' && s.rrule.trim().startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(s.rrule);
      } catch {
        continue; // Prefect then reads it as an rrule string, and so does validation (an error).
      }
      if (isMapping(parsed) && typeof parsed.rrule === 'string') {
        s.rrule = parsed.rrule;
        if (!s.timezone && typeof parsed.timezone === 'string') s.timezone = parsed.timezone;
      }
    }
  }
}

/**
 * Prefect's default work pool (`PREFECT_DEFAULT_WORK_POOL_NAME`) for a prefect.yaml entry, as
 * `prefect deploy` applies it (deploy/_commands.py): an entry without `work_pool.name` gets it.
 * With one deployment in the file Prefect goes further and puts it in the default pool even when
 * the file names another; that overrides what the file says, so we keep the file's pool and warn.
 */
function defaultWorkPool(manifest: DeploymentManifest, pool: { value: string; source: string }, entries: number, locator: Locator, issues: Issue[]): void {
  const current = isMapping(manifest.work_pool) ? manifest.work_pool : undefined;
  if (!current?.name) {
    manifest.work_pool = { ...(current ?? {}), name: pool.value } as DeploymentManifest['work_pool'];
  } else if (entries === 1 && current.name !== pool.value) {
    issues.push(issueAt(locator.locate(['work_pool', 'name']), ['work_pool', 'name'], `PREFECT_DEFAULT_WORK_POOL_NAME is "${pool.value}" (${pool.source}): prefect deploy, deploying the one deployment of this file, would put it in that pool instead of "${current.name}"; prefect-gitops keeps "${current.name}" as the file says`, 'warning'));
  }
}

/**
 * `prefect deploy` names a deployment's flow by the flow it loads and ignores `flow_name`
 * (deploy/_core.py: `deploy_config["flow_name"] = flow.name`), so a prefect.yaml's flow_name that
 * differs is a warning and the flow's own name wins.
 */
function flowNameAsPrefectDeploys(locator: Locator, manifest: DeploymentManifest, actual: string, where: string, issues: Issue[]): string {
  if (manifest.flow_name !== undefined && manifest.flow_name !== actual) {
    issues.push(issueAt(locator.locate(['flow_name']), ['flow_name'], `flow_name "${manifest.flow_name}" is ignored, as prefect deploy ignores it: the deployment belongs to the flow's own name "${actual}" (${where}); remove flow_name or make it "${actual}"`, 'warning'));
  }
  return actual;
}

function resolveFlowName(project: LoadedProject, locator: Locator, manifest: DeploymentManifest, issues: Issue[], flow: FlowLocation | undefined, prefectYaml: boolean): string | undefined {
  const at = locator.locate(['entrypoint']);
  const scope = locator.scopeOf(['entrypoint']);
  if (!flow || flow.kind === 'malformed') {
    issues.push(issueAt(at, ['entrypoint'], `entrypoint "${manifest.entrypoint}" must have the form path/to/file.py:function_name (or a module path: package.module:function_name)` + scope));
    return manifest.flow_name;
  }
  const refusedTarget = flow.kind === 'missing' ? flow.tried.map((file) => project.refusedSources.get(file)).find((t) => t !== undefined) : undefined;
  if (flow.kind === 'outside' || refusedTarget !== undefined) {
    // Never read, never deployed: a flow file must be part of what the repository reviews.
    const why = flow.kind === 'outside' ? 'points outside the project' : `is a symbolic link to ${refusedTarget}, outside the project`;
    issues.push(issueAt(at, ['entrypoint'], `entrypoint "${manifest.entrypoint}" ${why} (${project.display(project.projectRoot) || '.'}); use a path inside it` + scope));
    return undefined;
  }
  if (flow.kind !== 'found') {
    if (manifest.flow_name) return manifest.flow_name;
    const tried = flow.kind === 'missing' ? flow.tried.map((t) => project.display(resolvePath(project.projectRoot, t))).join(', ') : manifest.entrypoint;
    issues.push(issueAt(at, ['entrypoint'], `cannot resolve the flow name: no file for entrypoint "${manifest.entrypoint}" in the repository (tried ${tried}); fix the entrypoint, or add flow_name` + scope));
    return undefined;
  }
  const entry = { file: flow.file, func: flow.func };
  const source = flow.source;
  const via = flow.hops.length ? ` (via ${flow.hops.map((h) => `${h.file}:${h.line}: ${h.text}`).join('; ')})` : '';
  if (flow.assigned) {
    // `etl = flow(load, name=...)`: Flow(fn, name) is named by `name`, else fn.__name__ with `_` -> `-`.
    const name = flow.assigned.name;
    const assignedAt = `${flow.assigned.file}:${flow.assigned.line}`;
    if (name === undefined) return prefectYaml ? flowNameAsPrefectDeploys(locator, manifest, entry.func.replace(/_/g, '-'), assignedAt, issues) : (manifest.flow_name ?? entry.func.replace(/_/g, '-'));
    if (name.literal !== undefined) return prefectYaml ? flowNameAsPrefectDeploys(locator, manifest, name.literal, assignedAt, issues) : (manifest.flow_name ?? name.literal);
    if (manifest.flow_name) return manifest.flow_name;
    issues.push(issueAt(at, ['entrypoint'], `cannot resolve the flow name statically: ${flow.assigned.file}:${flow.assigned.line} names the flow with ${name.expression}; add flow_name, or pass --python to ask your Prefect installation` + scope));
    return undefined;
  }
  const found = lookupFlow(source, entry.func);
  switch (found.kind) {
    case 'no-function':
      issues.push(issueAt(at, ['entrypoint'], `${entry.file} has no top-level function "${entry.func}"${via}, and no import or assignment of it that can be followed statically; define it there, or pass --python to ask your Prefect installation` + scope));
      return undefined;
    case 'not-a-flow':
      issues.push(issueAt(at, ['entrypoint'], `${entry.file}:${found.line}: function "${entry.func}" is not decorated with @flow`, 'warning'));
      return manifest.flow_name ?? entry.func.replace(/_/g, '-');
    case 'dynamic-name':
      if (manifest.flow_name) return manifest.flow_name;
      issues.push(issueAt(at, ['entrypoint'], `cannot resolve the flow name statically: ${entry.file}:${found.line} sets @flow(name=${found.expression})${found.why ? `: ${found.why}` : ''}; add flow_name, or pass --python to ask your Prefect installation` + scope));
      return undefined;
    case 'flow':
      if (prefectYaml) return flowNameAsPrefectDeploys(locator, manifest, found.flowName, `${entry.file}:${found.line}`, issues);
      if (manifest.flow_name && manifest.flow_name !== found.flowName) {
        issues.push(issueAt(locator.locate(['flow_name']), ['flow_name'], `flow_name "${manifest.flow_name}" differs from the flow's name "${found.flowName}" in ${entry.file}:${found.line}; runs would report a different flow`, 'warning'));
        return manifest.flow_name;
      }
      return found.flowName;
  }
}

/** The fields shown as names in plans, logs and the Prefect UI, which must hold no control characters. */
function printableFields(m: DeploymentManifest): { path: PathSegment[]; what: string; value: string }[] {
  const out: { path: PathSegment[]; what: string; value: string }[] = [];
  const add = (path: PathSegment[], what: string, value: unknown): void => {
    if (isString(value)) out.push({ path, what, value });
  };
  add(['name'], 'deployment name', m.name);
  add(['flow_name'], 'flow name', m.flow_name);
  add(['version'], 'version', m.version);
  add(['description'], 'description', m.description);
  (Array.isArray(m.tags) ? m.tags : []).forEach((tag, i) => add(['tags', i], 'tag', tag));
  if (isMapping(m.work_pool)) {
    add(['work_pool', 'name'], 'work pool name', m.work_pool.name);
    add(['work_pool', 'work_queue_name'], 'work queue name', m.work_pool.work_queue_name);
  }
  (Array.isArray(m.schedules) ? m.schedules : []).forEach((s, i) => {
    if (isMapping(s)) add(['schedules', i, 'slug'], 'schedule slug', s.slug);
  });
  return out;
}

/** Python's `timedelta.max` in whole seconds: Prefect cannot store a longer interval. */
const MAX_INTERVAL_SECONDS = 999_999_999 * 86_400;

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';


/**
 * Rules JSON Schema cannot express, on a merged and templated deployment. Defensive about types:
 * it also runs on documents that failed the schema, to report every problem in one pass.
 */
function checkDeployment(locator: Locator, m: DeploymentManifest, fromPrefectYaml = false): Issue[] {
  const out: Issue[] = [];
  const at = (path: PathSegment[], message: string, severity: Issue['severity'] = 'error', key = false): void => {
    out.push(issueAt(locator.locate(path, { key }), path, message + locator.scopeOf(path), severity));
  };
  if (isString(m.name) && FORBIDDEN_NAME_CHARACTERS.test(m.name)) at(['name'], `deployment name "${m.name}" must not contain / % & < >`);
  for (const { path, what, value } of printableFields(m)) {
    const allowed = path[0] === 'description' ? value.replace(/[\t\n\r]/g, '') : value;
    if (hasControlCharacter(allowed)) {
      at(path, `${what} "${escapeControl(value)}" contains a control character (${firstControlCharacter(allowed)}); ${path[0] === 'description' ? 'a description may hold line breaks and tabs, no other control characters' : 'names, tags, slugs, versions and work pool/queue names must be printable'}`);
    }
  }
  if (isString(m.flow_name) && FORBIDDEN_NAME_CHARACTERS.test(m.flow_name)) at(['flow_name'], `flow name "${m.flow_name}" must not contain / % & < >`);
  if (isString(m.name) && !(isMapping(m.work_pool) && m.work_pool.name)) at(['name'], `deployment "${m.name}" has no work pool: no worker will run it; set work_pool.name (here or in the config defaults)`, 'warning');
  // Early Prefect 2 project steps, since renamed prefect.deployments.steps (no alias left in 2.19 or 3.x).
  (Array.isArray(m.pull) ? m.pull : []).forEach((step, i) => {
    for (const name of isMapping(step) ? Object.keys(step) : []) {
      if (name.startsWith('prefect.projects.steps.')) {
        at(['pull', i, name], `pull step ${name} no longer exists (Prefect 2.19 and 3.x have no module prefect.projects): a worker fails on it before the flow runs; use ${name.replace('prefect.projects.steps.', 'prefect.deployments.steps.')}`, 'warning', true);
      }
    }
  });

  const schedules = (Array.isArray(m.schedules) ? m.schedules : []).filter(isMapping) as ScheduleManifest[];
  const slugs = assignSlugs(schedules);
  const slugSeen = new Map<string, number>();
  schedules.forEach((s, i) => {
    const base: PathSegment[] = ['schedules', i];
    const kinds = (['cron', 'interval', 'rrule'] as const).filter((k) => s[k] !== undefined);
    if (kinds.length !== 1) {
      at(base, kinds.length === 0 ? 'a schedule needs exactly one of cron, interval or rrule' : `a schedule needs exactly one of cron, interval or rrule, found ${kinds.join(' and ')}`);
      return;
    }
    const kind = scheduleKind(s)!;
    if (kind === 'cron') {
      if (!isString(s.cron)) return;
      const problem = cronProblem(s.cron);
      if (problem) at([...base, 'cron'], problem);
    } else if (kind === 'rrule') {
      if (!isString(s.rrule)) return;
      const problem = rruleProblem(s.rrule);
      if (problem) at([...base, 'rrule'], problem);
    } else {
      if (typeof s.interval !== 'number' && !isString(s.interval)) return;
      const seconds = intervalSeconds(s.interval);
      if (typeof s.interval === 'number' && s.interval <= 0) return; // the schema reports it
      if (seconds === undefined && typeof s.interval === 'string' && /^P(?:\d+Y)?(?:\d+M)?/.test(s.interval) && /^P[^T]*[YM]/.test(s.interval)) {
        at([...base, 'interval'], `interval "${s.interval}" uses years or months, which have no fixed length; use days (P30D), hours (PT12H) or seconds, or a cron or rrule schedule for calendar dates`);
      } else if (seconds === undefined) at([...base, 'interval'], `interval "${String(s.interval)}" is not a number of seconds, an ISO-8601 duration (PT10M) or HH:MM:SS`);
      else if (seconds <= 0) at([...base, 'interval'], `interval must be greater than 0 seconds, got ${seconds}`);
      else if (seconds > MAX_INTERVAL_SECONDS) at([...base, 'interval'], `interval must be at most 999999999 days (${MAX_INTERVAL_SECONDS} seconds, the longest duration Prefect stores), got ${String(s.interval)}`);
    }
    if (isString(s.timezone) && s.timezone) {
      const problem = timezoneProblem(s.timezone);
      if (problem) at([...base, 'timezone'], problem);
    }
    if (s.anchor_date !== undefined) {
      if (kind !== 'interval') at([...base, 'anchor_date'], 'anchor_date applies only to interval schedules', 'error', true);
      else if (isString(s.anchor_date) && Number.isNaN(Date.parse(s.anchor_date))) at([...base, 'anchor_date'], `anchor_date "${s.anchor_date}" is not an ISO-8601 date-time such as 2024-01-01T00:00:00Z`);
    }
    if (s.day_or !== undefined && kind !== 'cron') at([...base, 'day_or'], 'day_or applies only to cron schedules', 'error', true);
    const slug = slugs[i]!;
    const first = slugSeen.get(slug);
    if (first !== undefined) {
      at(s.slug ? [...base, 'slug'] : base, `schedule slug "${slug}" is used twice in this deployment (schedules ${first} and ${i})${s.slug ? '' : `; schedule ${i} has no slug and gets "${slug}" by default: give it an explicit slug`}`);
    } else slugSeen.set(slug, i);
  });
  // `replaces`: the slug a schedule is renamed from. It must be another slug, named by one schedule
  // only, and no longer declared (else both would be the same live schedule).
  const replacedBy = new Map<string, number>();
  schedules.forEach((s, i) => {
    if (!isString(s.replaces)) return;
    const path: PathSegment[] = ['schedules', i, 'replaces'];
    if (s.replaces === slugs[i]) at(path, `schedule ${i} replaces its own slug "${s.replaces}"; replaces names the slug it had before, e.g. replaces: ${s.replaces} with slug: ${s.replaces}-new`);
    else if (slugs.includes(s.replaces)) at(path, `schedule ${i} replaces "${s.replaces}", which schedule ${slugs.indexOf(s.replaces)} still has; rename that one, or remove replaces`);
    else if (replacedBy.has(s.replaces)) at(path, `schedules ${replacedBy.get(s.replaces)} and ${i} both replace "${s.replaces}"; one schedule can be renamed into one other`);
    else replacedBy.set(s.replaces, i);
  });

  out.push(...parameterIssues(locator, m, { fromPrefectYaml, deferServerVariables: true }));
  return out;
}

const SERVER_VARIABLE = /^\{\{\s*prefect\.variables\.[\w-]+\s*\}\}$/;

/**
 * Parameters (and each schedule's, merged over them) against the flow's parameter schema.
 * `deferServerVariables`: a value that is a whole `{{ prefect.variables.x }}` is resolved from the
 * server at plan time and checked then (checkResolvedParameters), not as the placeholder string.
 * A parameter the flow does not declare: Prefect's server stores it and `prefect deploy` accepts it
 * (a run then fails with "Function expects parameters ..."), so for prefect.yaml input it is a
 * warning; our own manifests keep it an error.
 */
function parameterIssues(locator: Locator, m: DeploymentManifest, options: { fromPrefectYaml: boolean; deferServerVariables: boolean }): Issue[] {
  const out: Issue[] = [];
  const at = (path: PathSegment[], message: string, severity: Issue['severity'] = 'error', key = false): void => {
    out.push(issueAt(locator.locate(path, { key }), path, message + locator.scopeOf(path), severity));
  };
  const schedules = (Array.isArray(m.schedules) ? m.schedules : []).filter(isMapping) as ScheduleManifest[];
  const deferred = (value: JsonObject): JsonObject =>
    options.deferServerVariables ? Object.fromEntries(Object.entries(value).filter(([, v]) => !(typeof v === 'string' && SERVER_VARIABLE.test(v)))) : value;
  const schema = m.parameter_openapi_schema;
  if (isMapping(schema) && Object.keys(schema).length > 0 && (m.parameters === undefined || isMapping(m.parameters))) {
    const checks: { path: PathSegment[]; value: JsonObject }[] = [{ path: ['parameters'], value: deferred(m.parameters ?? {}) }];
    schedules.forEach((s, i) => {
      if (isMapping(s.parameters)) checks.push({ path: ['schedules', i, 'parameters'], value: deferred({ ...(m.parameters ?? {}), ...s.parameters }) });
    });
    for (const check of checks) {
      const result = checkAgainst(schema, check.value, { ignoreRequired: true });
      if ('invalidSchema' in result) {
        at(['parameter_openapi_schema'], `parameter_openapi_schema is not a valid JSON Schema: ${result.invalidSchema}`);
        break;
      }
      for (const p of result) {
        const path = [...check.path, ...p.path];
        if (p.atKey) at(path, p.message.replace(/^unknown key/, 'unknown parameter'), 'error', true);
        else at(path, `parameter ${formatPath(p.path) || '(all)'} ${p.message}`);
      }
      const properties = schema.properties as JsonObject | undefined;
      if (properties && schema.additionalProperties === undefined) {
        for (const name of Object.keys(check.value)) {
          if (name in properties) continue;
          const known = `known: ${Object.keys(properties).join(', ') || 'none'}`;
          if (options.fromPrefectYaml) at([...check.path, name], `parameter "${name}" is not a parameter of the flow (${known}); Prefect stores it, but runs fail with "Function expects parameters ..." until the flow takes it or the parameter is removed`, 'warning', true);
          else at([...check.path, name], `parameter "${name}" is not in parameter_openapi_schema (${known}); the flow would reject it`, 'error', true);
        }
      }
    }
  }
  return out;
}

/**
 * The parameter check once `{{ prefect.variables.* }}` are resolved from the server (a variable
 * holding 3 for an int parameter is fine; one holding "x" is not), reported where the deployment
 * is declared.
 */
export function checkResolvedParameters(desired: DesiredDeployment, fromPrefectYaml: boolean): Issue[] {
  const { file, line, column } = desired.declaredAt;
  const locator: Locator = { locate: () => ({ file, line, column }), scopeOf: () => '' };
  return parameterIssues(locator, desired.manifest, { fromPrefectYaml, deferServerVariables: false }).map((i) => ({
    ...i,
    message: `${desired.key}: ${i.message} (after resolving Prefect variables)`,
  }));
}
