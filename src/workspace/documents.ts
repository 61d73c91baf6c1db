/**
 * Workspace documents (issue 13): manifest documents with a top-level `kind:` other than
 * `deployment`. Pure: it works on documents already read and returns issues as data.
 *
 * A document without `kind`, or with `kind: deployment`, stays a deployment (the `kind` key is
 * dropped before the deployment rules see it). Entries of a prefect.yaml's `deployments:` are
 * always deployments.
 */
import type { DeclaredAt } from '../manifests/types.js';
import { mergeLayers } from '../manifests/merge.js';
import { formatPath, type PathSegment, type Position, type SourceDocument } from '../manifests/source.js';
import { renderTemplates } from '../manifests/template.js';
import type { GitInfo } from '../manifests/load.js';
import { NEWEST_CAPABILITIES } from '../prefect/capabilities.js';
import type { JsonObject } from '../prefect/types.js';
import { isSensitiveKey } from '../render/redact.js';
import type { Issue } from '../validate/issue.js';
import { checkSchemaFile, type SchemaProblem } from '../validate/schema.js';
import { WORKSPACE_KINDS, type DesiredObject, type KindContext, type WorkspaceKind } from './kind.js';
import { handlerFor } from './registry.js';

export interface SplitDocuments {
  /** Deployment documents (a `kind: deployment` one without its `kind` key). */
  readonly deployments: SourceDocument[];
  /** Documents of a workspace kind. */
  readonly workspace: SourceDocument[];
  readonly issues: Issue[];
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Separates workspace documents from deployments; an unknown `kind` is an error at its value. */
export function splitByKind(documents: readonly SourceDocument[]): SplitDocuments {
  const out: SplitDocuments = { deployments: [], workspace: [], issues: [] };
  for (const doc of documents) {
    if (doc.prefectYaml || !isMapping(doc.value) || !('kind' in doc.value)) {
      out.deployments.push(doc);
      continue;
    }
    const { kind, ...rest } = doc.value;
    if (kind === 'deployment') {
      out.deployments.push(doc.view([], rest, undefined));
    } else if (typeof kind === 'string' && (WORKSPACE_KINDS as readonly string[]).includes(kind)) {
      if (handlerFor(kind as WorkspaceKind)) out.workspace.push(doc);
      else out.issues.push(issueAt(doc.locate(['kind']), ['kind'], `kind "${kind}" is not supported by this version of prefect-gitops yet`));
    } else {
      const known = ['deployment', ...WORKSPACE_KINDS.filter((k) => handlerFor(k))].join(', ');
      out.issues.push(issueAt(doc.locate(['kind']), ['kind'], `unknown kind ${JSON.stringify(kind)}; known kinds: ${known}`));
    }
  }
  return out;
}

export interface WorkspaceValidateOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly git?: GitInfo;
  readonly gitError?: string;
  /** The environments the config defines. */
  readonly environments: readonly string[];
  /** The environment to resolve for (`--environment`). */
  readonly environment?: string;
  /** Also check every environment (the `validate` command). */
  readonly allEnvironments?: boolean;
  readonly owner: string;
  /** The declared deployments' keys (`flow/name`). */
  readonly deploymentKeys: readonly string[];
  /** No server will be asked (the `validate` command): KindContext.offline. */
  readonly offline?: boolean;
}

/**
 * Checks workspace documents and resolves them for the selected environment: the kind's schema,
 * `gitops:` settings, `{{ env.NAME }}` templating, duplicates per kind, and the kind's own rules.
 */
export function validateWorkspaceDocuments(docs: readonly SourceDocument[], options: WorkspaceValidateOptions): { issues: Issue[]; objects: DesiredObject[] } {
  const issues: Issue[] = [];
  const usable: SourceDocument[] = [];
  for (const doc of docs) {
    const problems = checkWorkspaceDocument(doc, options.environments);
    issues.push(...problems);
    if (!problems.some((p) => p.severity === 'error')) usable.push(doc);
  }
  const scopes = options.allEnvironments ? [undefined, ...options.environments] : [options.environment];
  let selected: DesiredObject[] = [];
  for (const environment of scopes) {
    if (environment !== undefined && !options.environments.includes(environment)) continue;
    const resolved = resolveObjects(usable, environment, options, issues);
    if (environment === options.environment) selected = resolved;
  }
  return { issues: dedupe(issues), objects: selected };
}

function checkWorkspaceDocument(doc: SourceDocument, environments: readonly string[]): Issue[] {
  const { kind, gitops, ...spec } = doc.value as Record<string, unknown>;
  const handler = handlerFor(kind as WorkspaceKind)!;
  const problems = located(doc, [], checkSchemaFile(handler.schemaFile, spec));
  if (gitops !== undefined) {
    const gitopsProblems = located(doc, ['gitops'], checkSchemaFile('workspace-gitops.schema.json', gitops));
    problems.push(...gitopsProblems);
    if (gitopsProblems.length === 0 && isMapping(gitops)) {
      const known = new Set(environments);
      const describe = environments.length ? `the config defines: ${environments.join(', ')}` : 'the config defines no environments';
      (Array.isArray(gitops.environments) ? (gitops.environments as string[]) : []).forEach((name, i) => {
        if (!known.has(name)) problems.push(issueAt(doc.locate(['gitops', 'environments', i]), ['gitops', 'environments', i], `unknown environment "${name}"; ${describe}`));
      });
      for (const [name, override] of Object.entries(isMapping(gitops.overrides) ? gitops.overrides : {})) {
        if (!known.has(name)) problems.push(issueAt(doc.locate(['gitops', 'overrides', name], { key: true }), ['gitops', 'overrides', name], `unknown environment "${name}"; ${describe}`));
        else problems.push(...located(doc, ['gitops', 'overrides', name], checkSchemaFile(handler.schemaFile, override, { partial: true })));
      }
    }
  }
  return problems;
}

function resolveObjects(docs: readonly SourceDocument[], environment: string | undefined, options: WorkspaceValidateOptions, issues: Issue[]): DesiredObject[] {
  const objects: DesiredObject[] = [];
  const seen = new Map<string, DesiredObject>();
  const scope = environment ? ` in environment "${environment}"` : '';
  for (const doc of docs) {
    const { kind: kindValue, gitops = {}, ...written } = doc.value as Record<string, unknown> & { gitops?: WorkspaceGitops };
    const kind = kindValue as WorkspaceKind;
    if (gitops.environments && (environment === undefined || !gitops.environments.includes(environment))) continue;
    const override = environment ? gitops.overrides?.[environment] : undefined;
    const overrideBase: PathSegment[] = ['gitops', 'overrides', environment ?? ''];
    // A field an environment override writes is reported there.
    const locate = (path: readonly PathSegment[], o: { key?: boolean } = {}): Position =>
      override !== undefined && existsAt(override, path) ? doc.locate([...overrideBase, ...path], o) : doc.locate(path, o);
    const scopeOf = (path: readonly PathSegment[]): string => (override !== undefined && existsAt(override, path) ? ` in environment "${environment}"` : '');
    const merged = override ? mergeLayers([written, override]) : written;
    const rendered = renderTemplates(merged, { env: options.env, ...(options.git ? { git: options.git } : {}), ...(options.gitError ? { gitError: options.gitError } : {}) });
    const local = rendered.problems.map((p) => issueAt(locate(p.path), p.path, p.message + scopeOf(p.path), p.severity ?? 'error'));
    issues.push(...local);
    if (local.some((p) => p.severity === 'error')) continue;
    const { sensitive, ...spec } = rendered.value as JsonObject & { sensitive?: boolean };
    const handler = handlerFor(kind)!;
    const key = handler.keyOf(spec);
    const fieldsAt: Record<string, DeclaredAt> = {};
    walkLeaves(spec, [], (path) => {
      fieldsAt[path.join('.')] = at(locate(path));
    });
    const object: DesiredObject = {
      kind,
      key,
      spec,
      declaredAt: at(doc.start),
      fieldsAt,
      adopt: gitops.adopt ?? false,
      sensitive: sensitive ?? isSensitiveKey(key),
      ...(gitops.protected ? { protected: true } : {}),
    };
    const id = `${kind}\u0000${key}`;
    const earlier = seen.get(id);
    if (earlier) {
      const where = locate(['name']);
      issues.push(issueAt(where, ['name'], `duplicate ${kind} "${key}"${scope}: also declared at ${earlier.declaredAt.file}:${earlier.declaredAt.line}:${earlier.declaredAt.column}; a ${kind} is declared once`));
      continue;
    }
    seen.set(id, object);
    objects.push(object);
  }
  // The kinds' own rules, offline (no server yet: the newest API).
  const byKind = new Map<WorkspaceKind, DesiredObject[]>();
  for (const o of objects) byKind.set(o.kind, [...(byKind.get(o.kind) ?? []), o]);
  const ctx: KindContext = { owner: options.owner, features: NEWEST_CAPABILITIES, serverVersion: '', inventory: [], desired: objects, deploymentKeys: options.deploymentKeys, ...(options.offline ? { offline: true } : {}) };
  for (const [kind, list] of byKind) {
    const found = handlerFor(kind)!.validate(list, ctx).map((i) => (scope && !i.message.includes(scope) ? { ...i, message: `${i.message}${scope}` } : i));
    issues.push(...found);
  }
  return objects;
}

interface WorkspaceGitops {
  adopt?: boolean;
  protected?: boolean;
  environments?: string[];
  overrides?: Record<string, Record<string, unknown>>;
}

function existsAt(value: unknown, path: readonly PathSegment[]): boolean {
  let node = value;
  for (const segment of path) {
    if (!node || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, segment)) return false;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return path.length > 0;
}

function walkLeaves(value: unknown, path: PathSegment[], visit: (path: PathSegment[]) => void): void {
  if (path.length > 0) visit(path);
  if (isMapping(value)) for (const [k, v] of Object.entries(value)) walkLeaves(v, [...path, k], visit);
  else if (Array.isArray(value)) value.forEach((v, i) => walkLeaves(v, [...path, i], visit));
}

const at = (p: Position): DeclaredAt => ({ file: p.file, line: p.line, column: p.column });

function issueAt(position: Position, path: readonly PathSegment[], message: string, severity: Issue['severity'] = 'error'): Issue {
  return { file: position.file, line: position.line, column: position.column, path: formatPath(path), message, severity };
}

function located(doc: SourceDocument, base: readonly PathSegment[], problems: readonly SchemaProblem[]): Issue[] {
  return problems.map((p) => {
    const path = [...base, ...p.path];
    const message = p.atKey || p.path.length === 0 ? p.message : `${formatPath(path)} ${p.message}`;
    return issueAt(doc.locate(path, { key: p.atKey }), path, message);
  });
}

function dedupe(issues: readonly Issue[]): Issue[] {
  const byId = new Map<string, Issue>();
  for (const i of issues) byId.set(`${i.file}:${i.line}:${i.column}:${i.message}`, i);
  return [...byId.values()];
}
