import { Document, parse, Scalar, visit } from 'yaml';
import { FORBIDDEN_NAME_CHARACTERS, parseEntrypoint } from '../manifests/entrypoint.js';
import type { DeploymentManifest, DesiredDeployment } from '../manifests/types.js';
import { canonicalDesired, canonicalLive } from '../plan/canonical.js';
import { diffFields } from '../plan/plan.js';
import { isMarkerTag, ownerTag, PROTECTED_TAG, type OwnershipMarker } from '../plan/ownership.js';
import type { JsonObject, LiveDeployment } from '../prefect/types.js';
import { manifestFromLive, type ManifestFromLive } from './manifest.js';
import type { ExportAutomation } from './triggers.js';

export { fetchForExport } from './fetch.js';
export type { ExportAutomation } from './triggers.js';

/**
 * Which deployments to export. Kinds combine with AND, values of one kind with OR (a deployment
 * of any of `flowNames`, carrying any of `tags`, in any of `workPools`); an omitted or empty kind
 * does not restrict, so an empty selection is every deployment on the server.
 */
export interface ExportSelection {
  flowNames?: string[];
  tags?: string[];
  workPools?: string[];
}

export interface ExportedFile {
  /** Relative to the manifest directory, `/`-separated: `deployments/<flow>/<name>.yaml` or `deployments/<flow>.yaml`. */
  path: string;
  content: string;
  /** `flow_name/name` of each document, in file order. */
  deployments: string[];
}

export type ExportLayout = 'per-deployment' | 'per-flow';

export interface ExportOptions {
  layout: ExportLayout;
  /** Adds `gitops: {adopt: true}` to every document, so deployments made outside prefect-gitops can be taken over. */
  adopt: boolean;
}

export interface ExportDeployment {
  flowName: string;
  live: LiveDeployment;
  /** Automations whose actions run this deployment (fetchForExport reads them with their triggers). */
  automations: ExportAutomation[];
}

export interface ExportInput {
  deployments: ExportDeployment[];
  /** How the server marks ownership; default `label` (a server without labels: `tag`). */
  ownership?: OwnershipMarker;
  /** Whether the server stores schedule slugs (Prefect 3.2+); default true. Without, none are written. */
  scheduleSlugs?: boolean;
}

/** Characters a manifest's name or flow_name may not contain (the validator rejects them). */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)$/i;

/**
 * Writes manifests for live deployments, in the manifest format, such that planning them against
 * the same server shows no change (for deployments prefect-gitops owns, when planned with their
 * owner; others plan as an adoption first). Pure: everything comes from `input`.
 *
 * Keys appear in one fixed order and only where they differ from what an omitted key means;
 * server-only fields (ids, timestamps, labels, status, our marker tags) are never written. Every
 * document is checked by planning it against the deployment it came from: a field that would
 * still change is named in a notice. Notices also cover what could not be exported (automations
 * that are not deployment triggers, deployments without a usable entrypoint) and values under
 * sensitive-looking keys, which are written as they are.
 */
export function exportManifests(input: ExportInput, options: ExportOptions): { files: ExportedFile[]; notices: string[] } {
  const notices: string[] = [];
  const seen = new Set<string>();
  const owners = new Map<string, string[]>();
  const unowned: string[] = [];
  const documents: { flowName: string; key: string; text: string }[] = [];
  for (const d of [...input.deployments].sort((a, b) => compare(a.flowName, b.flowName) || compare(a.live.name, b.live.name) || compare(a.live.id, b.live.id))) {
    if (seen.has(d.live.id)) continue;
    seen.add(d.live.id);
    const key = `${d.flowName}/${d.live.name}`;
    const skip = skipReason(d);
    if (skip) {
      notices.push(`${key}: not exported: ${skip}`);
      continue;
    }
    const made = manifestFromLive(d.flowName, d.live, d.automations, { adopt: options.adopt, ...(input.ownership ? { ownership: input.ownership } : {}), ...(input.scheduleSlugs === false ? { scheduleSlugs: false } : {}) });
    const text = renderDocument(made.manifest, made.comments);
    notices.push(...made.notices, ...roundTripNotices(key, d.flowName, made, text));
    if (made.owner === undefined) unowned.push(key);
    else owners.set(made.owner, [...(owners.get(made.owner) ?? []), key]);
    documents.push({ flowName: d.flowName, key, text });
  }
  for (const [owner, keys] of [...owners].sort(([a], [b]) => compare(a, b))) {
    notices.push(`${keys.length} deployment${keys.length === 1 ? ' is' : 's are'} managed by prefect-gitops owner "${owner}" (${keys.join(', ')}): plan ${keys.length === 1 ? 'it' : 'them'} with owner "${owner}" in prefect-gitops.yaml; under another owner ${keys.length === 1 ? 'it is a conflict' : 'they are conflicts'} until adopted with --adopt`);
  }
  if (unowned.length && !options.adopt) {
    notices.push(`${unowned.length} deployment${unowned.length === 1 ? ' was' : 's were'} not made by prefect-gitops (${unowned.join(', ')}): a plan reports ${unowned.length === 1 ? 'it as a conflict' : 'them as conflicts'} until adopted (export with adopt, or add gitops: {adopt: true})`);
  }
  return { files: layoutFiles(documents, options.layout), notices };
}

function skipReason(d: ExportDeployment): string | undefined {
  if (!d.live.entrypoint) return 'it has no entrypoint, which a manifest requires';
  if (!parseEntrypoint(d.live.entrypoint)) return `its entrypoint "${d.live.entrypoint}" is not of the form path/to/file.py:function, which a manifest requires`;
  if (FORBIDDEN_NAME_CHARACTERS.test(d.live.name)) return 'its name contains one of / % & < >, which a manifest does not accept';
  if (FORBIDDEN_NAME_CHARACTERS.test(d.flowName)) return 'its flow name contains one of / % & < >, which a manifest does not accept';
  return undefined;
}

/**
 * One YAML document. Strings that a YAML 1.1 reader (PyYAML, as `prefect deploy` uses) would read
 * as something else (`on`, `2024-01-01`, `1:30`) are quoted, so the files also work as prefect.yaml entries.
 */
export function renderDocument(manifest: JsonObject, comments: readonly string[]): string {
  const doc = new Document(manifest, { aliasDuplicateObjects: false });
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && !node.value.includes('\n') && !readsAsString(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  if (comments.length) doc.commentBefore = comments.map((c) => ` ${c}`).join('\n');
  return doc.toString({ lineWidth: 0, minContentWidth: 0 });
}

function readsAsString(text: string): boolean {
  try {
    // logLevel error: a value such as `{{ prefect.variables.x }}` reads as a mapping with a mapping
    // key, about which yaml would otherwise warn on stderr (it is only quoted here).
    return parse(text, { version: '1.1', logLevel: 'error' }) === text && parse(text, { logLevel: 'error' }) === text;
  } catch {
    return false;
  }
}

/**
 * Plans the rendered document against the deployment it came from, with the same canonical forms
 * the planner uses, and names every field that would still change.
 */
function roundTripNotices(key: string, flowName: string, made: ManifestFromLive, text: string): string[] {
  const parsed = parse(text) as JsonObject & { gitops?: { adopt?: boolean; protected?: boolean } };
  const { gitops, ...manifest } = parsed;
  const owner = made.owner ?? '(export check)';
  const desired: DesiredDeployment = {
    key,
    flowName,
    name: String(manifest.name),
    manifest: manifest as unknown as DeploymentManifest,
    adopt: gitops?.adopt === true,
    protected: gitops?.protected === true,
    ignoreDifferences: [],
    declaredAt: { file: '(export)', line: 1, column: 1 },
  };
  const want = canonicalDesired(desired, owner);
  const live = made.liveWithSlugs;
  // A deployment nobody owns gets the owner tag when adopted; only its other tags are compared.
  const tags = made.owner !== undefined ? live.tags : [...(live.tags ?? []).filter((t) => !isMarkerTag(t) || t === PROTECTED_TAG), ownerTag(owner)];
  const have = canonicalLive({ ...live, tags }, want, made.comparedAutomations);
  const fields = diffFields(have, want).map((c) => c.field).filter((f) => !(f === 'triggers' && made.inexactTriggers > 0));
  if (!fields.length) return [];
  return [`${key}: the exported manifest does not reproduce ${fields.join(', ')}; the next plan shows ${fields.length === 1 ? 'it' : 'them'} as a change`];
}


function layoutFiles(documents: readonly { flowName: string; key: string; text: string }[], layout: ExportLayout): ExportedFile[] {
  const flowDirs = uniqueNames([...new Set(documents.map((d) => d.flowName))]);
  if (layout === 'per-flow') {
    const byFlow = new Map<string, { key: string; text: string }[]>();
    for (const d of documents) byFlow.set(d.flowName, [...(byFlow.get(d.flowName) ?? []), d]);
    return [...byFlow]
      .map(([flowName, docs]) => ({ path: `deployments/${flowDirs.get(flowName)!}.yaml`, content: docs.map((d) => d.text).join('---\n'), deployments: docs.map((d) => d.key) }))
      .sort((a, b) => compare(a.path, b.path));
  }
  const files: ExportedFile[] = [];
  for (const [flowName, dir] of flowDirs) {
    const docs = documents.filter((d) => d.flowName === flowName);
    const names = uniqueNames(docs.map((d) => d.key.slice(flowName.length + 1)));
    for (const d of docs) files.push({ path: `deployments/${dir}/${names.get(d.key.slice(flowName.length + 1))!}.yaml`, content: d.text, deployments: [d.key] });
  }
  return files.sort((a, b) => compare(a.path, b.path));
}

/** A file-system-safe name for each of `names`, unique even on case-insensitive file systems. */
function uniqueNames(names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<string>();
  for (const name of names) {
    const base = sanitizeFileName(name);
    let candidate = base;
    for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${base}-${n}`;
    taken.add(candidate.toLowerCase());
    out.set(name, candidate);
  }
  return out;
}

function sanitizeFileName(name: string): string {
  const safe = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '')
    .slice(0, 100);
  if (!safe) return 'unnamed';
  return WINDOWS_RESERVED.test(safe) ? `${safe}-` : safe;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
