/**
 * One Prefect 2 `deployment.yaml` document (the output of `prefect deployment build`, read as
 * `prefect deployment apply` read it: Prefect 2.20 `Deployment.load_from_yaml` and `apply`) as a
 * prefect-gitops manifest. Pure: what cannot be carried over faithfully is a warning on the line
 * that holds it, never dropped silently, and secrets are never written.
 */
import type { Json, JsonObject } from '../prefect/types.js';
import type { PathSegment, Position, SourceDocument } from '../manifests/source.js';
import { formatPath } from '../manifests/source.js';
import type { Issue } from '../validate/issue.js';
import { blockType, convertInfrastructure, convertStorage, expandOverrides, withoutSecrets, type BlockNote } from './blocks.js';

export interface ConvertOptions {
  /**
   * The work pool of deployments that name none (Prefect 2 agents polled a work queue): by pool
   * type (`process`, `docker`, ...), or `*` for every type. Default: `<type>-pool`.
   */
  readonly workPools?: Readonly<Record<string, string>>;
}

export interface ConvertedDeployment {
  /** `flow/name`. */
  readonly key: string;
  /** Where the document starts. */
  readonly declaredAt: Position;
  readonly manifest: JsonObject;
  /** The work pool the manifest names and, when the infrastructure decided it, its type. */
  readonly pool: { readonly name: string; readonly type?: string; readonly fromInfrastructure: boolean };
  /** The directory the run starts in (set_working_directory), when the code is local to the worker. */
  readonly codeDirectory?: string;
  /** The entrypoint's file, relative to the code's root (for finding it locally). */
  readonly entrypointFile?: string;
  readonly issues: Issue[];
}

/** Keys read below; any other key of the document is reported. */
const HANDLED = new Set([
  'name', 'description', 'version', 'work_queue_name', 'work_pool_name', 'tags', 'parameters', 'schedule', 'schedules', 'is_schedule_active',
  'infra_overrides', 'job_variables', 'infrastructure', 'flow_name', 'manifest_path', 'storage', 'path', 'entrypoint', 'parameter_openapi_schema',
  'timestamp', 'triggers', 'enforce_parameter_schema',
]);

/** What Prefect 2 put in `version` when none was given: `flow.version`, the md5 of the flow's file. */
const AUTOMATIC_VERSION = /^[0-9a-f]{32}$/;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The pool a deployment without `work_pool_name` goes to. */
export function defaultPoolName(poolType: string, workPools: Readonly<Record<string, string>> = {}): string {
  return workPools[poolType] ?? workPools['*'] ?? `${poolType}-pool`;
}

/**
 * Converts one deployment.yaml document. Errors (no name, no flow_name, no entrypoint) make the
 * document unconvertible; warnings name what was left out or needs a hand.
 */
export function convertPrefect2Deployment(doc: SourceDocument, options: ConvertOptions = {}): ConvertedDeployment {
  const v = doc.value as Record<string, unknown>;
  const issues: Issue[] = [];
  const at = (path: readonly PathSegment[], message: string, severity: Issue['severity'] = 'warning'): void => {
    const where = doc.locate(path, { key: path.length > 0 });
    issues.push({ file: where.file, line: where.line, column: where.column, path: formatPath(path), message, severity });
  };
  const notesAt = (base: readonly PathSegment[], notes: readonly BlockNote[]): void => notes.forEach((n) => at([...base, ...n.path], n.message));

  const name = typeof v.name === 'string' ? v.name : '';
  const flowName = typeof v.flow_name === 'string' ? v.flow_name : '';
  if (!name) at([], 'the deployment has no name', 'error');
  if (!flowName) at([], 'the deployment has no flow_name (below "DO NOT EDIT BELOW THIS LINE")', 'error');
  for (const key of Object.keys(v)) if (!HANDLED.has(key)) at([key], `${key} is not a field of a Prefect 2.20 deployment.yaml; not converted`);

  const m: JsonObject = { name, flow_name: flowName };

  // Code location: storage and path as pull steps; the entrypoint relative to where the run starts.
  const storage = isObject(v.storage) ? v.storage : undefined;
  const path = typeof v.path === 'string' ? v.path : undefined;
  const code = convertStorage(storage, path);
  notesAt(['storage'], code.notes);
  // `prefect deployment apply` loaded a saved (named) block from the server: the file holds its fields as they were at build time.
  for (const key of ['infrastructure', 'storage'] as const) {
    const block = v[key];
    if (isObject(block) && typeof block._block_document_name === 'string' && block._is_anonymous === false && Object.keys(block).some((k) => !k.startsWith('_') && k !== 'block_type_slug')) {
      at([key], `${key} is the saved block ${blockType(block) ?? 'block'}/${block._block_document_name}, which Prefect 2 read from the server when applying: converted from its fields as written at build time; check them against the block today`);
    }
  }
  const rawEntrypoint = typeof v.entrypoint === 'string' ? v.entrypoint : '';
  if (!rawEntrypoint) at(['entrypoint'], 'the deployment has no entrypoint (Prefect 2 runs it from manifest_path, which Prefect 3 does not read): write `entrypoint: path/to/file.py:function`', 'error');
  // Remote storage is fetched whole (git clone, bucket folder): the entrypoint is under `path` in it.
  const entrypoint = code.entrypointUnderPath && path ? `${path.replace(/^\/+|\/+$/g, '')}/${rawEntrypoint}`.replace(/^\//, '') : rawEntrypoint;
  m.entrypoint = entrypoint;
  if (v.manifest_path) at(['manifest_path'], 'manifest_path (a Prefect 2.0 flow manifest) is not read by Prefect 3: the entrypoint alone locates the flow');

  if (typeof v.description === 'string' && v.description !== '') m.description = v.description;
  if (typeof v.version === 'string' && AUTOMATIC_VERSION.test(v.version)) {
    at(['version'], `version ${v.version} looks like the md5 of the flow file that prefect deployment build stamps when no --version is given: not written (it would stay this value while the flow changes); stamp each apply with version: "{{ git.short_sha }}" if you want one`);
  } else if (typeof v.version === 'string' && v.version !== '') m.version = v.version;
  if (Array.isArray(v.tags) && v.tags.length) m.tags = [...new Set(v.tags.filter((t): t is string => typeof t === 'string'))];
  if (isObject(v.parameters) && Object.keys(v.parameters).length) {
    const notes: BlockNote[] = [];
    const kept = withoutSecrets(v.parameters as Json, [], notes);
    notesAt(['parameters'], notes.map((n) => ({ ...n, message: `parameter ${n.message}` })));
    if (isObject(kept) && Object.keys(kept).length) m.parameters = kept;
  }
  // Prefect 2's server did not enforce parameter schemas unless asked (default false); Prefect 3 does (default true).
  if (v.enforce_parameter_schema !== true) m.enforce_parameter_schema = false;

  // Work pool: the deployment's own, else one of the infrastructure block's type.
  const infrastructure = isObject(v.infrastructure) ? v.infrastructure : { type: 'process' };
  const infra = convertInfrastructure(infrastructure);
  const overrides = isObject(v.infra_overrides) ? v.infra_overrides : isObject(v.job_variables) ? v.job_variables : {};
  const overridesKey = isObject(v.infra_overrides) ? 'infra_overrides' : 'job_variables';
  const givenPool = typeof v.work_pool_name === 'string' && v.work_pool_name !== '' ? v.work_pool_name : undefined;
  let jobVariables: JsonObject;
  if (givenPool) {
    // A work pool deployment: Prefect 2 workers ignored the infrastructure block too.
    if (Object.keys(infra.jobVariables).length || infra.notes.length) {
      at(['infrastructure'], `the infrastructure block is not converted: this deployment runs in work pool "${givenPool}", whose workers never used it (Prefect 2 did not either)`);
    }
    jobVariables = expandOverrides({}, overrides, undefined);
  } else {
    notesAt(['infrastructure'], infra.notes);
    jobVariables = expandOverrides(infra.jobVariables, overrides, blockType(infrastructure));
  }
  const overrideNotes: BlockNote[] = [];
  jobVariables = (withoutSecrets(jobVariables, [], overrideNotes) as JsonObject | undefined) ?? {};
  notesAt([overridesKey], overrideNotes.map((n) => ({ path: [n.path.join('.')], message: n.message })));
  const poolName = givenPool ?? defaultPoolName(infra.poolType, options.workPools);
  const pool: JsonObject = { name: poolName };
  const queue = typeof v.work_queue_name === 'string' ? v.work_queue_name : null;
  // "default" is every pool's default queue, which an omitted work_queue_name means.
  if (queue && queue !== 'default') pool.work_queue_name = queue;
  if (Object.keys(jobVariables).length) pool.job_variables = jobVariables;
  m.work_pool = pool;

  const schedules = convertSchedules(v, at);
  if (schedules.length) m.schedules = schedules;
  if (v.is_schedule_active === false) m.paused = true;

  if (code.pull.length) m.pull = code.pull;
  if (Array.isArray(v.triggers) && v.triggers.length) {
    m.triggers = v.triggers as Json[] as JsonObject[];
    at(['triggers'], 'triggers are copied as Prefect 2 wrote them: check them against Prefect 3 deployment triggers (prefect.yaml `triggers:`)');
  }

  const setDirectory = code.pull.find((s) => 'prefect.deployments.steps.set_working_directory' in s)?.['prefect.deployments.steps.set_working_directory'] as { directory?: string } | undefined;
  const entrypointFile = entrypoint.includes(':') ? entrypoint.slice(0, entrypoint.lastIndexOf(':')) : undefined;
  return {
    key: `${flowName}/${name}`,
    declaredAt: doc.start,
    manifest: m,
    pool: { name: poolName, ...(givenPool ? {} : { type: infra.poolType }), fromInfrastructure: !givenPool },
    ...(setDirectory?.directory ? { codeDirectory: setDirectory.directory } : {}),
    ...(entrypointFile ? { entrypointFile } : {}),
    issues: issues.sort((a, b) => a.line - b.line || a.column - b.column),
  };
}

type At = (path: readonly PathSegment[], message: string, severity?: Issue['severity']) => void;

/**
 * The single `schedule` when set, else `schedules` (2.16+: `[{schedule, active, max_active_runs,
 * catchup}]`), as Prefect 2.20's `Deployment.apply` chose between them.
 */
function convertSchedules(v: Record<string, unknown>, at: At): JsonObject[] {
  if (isObject(v.schedule)) {
    const one = convertSchedule(v.schedule, ['schedule'], at);
    return one ? [one] : [];
  }
  const list = Array.isArray(v.schedules) ? v.schedules : [];
  return list.flatMap((entry, i) => {
    if (!isObject(entry) || !isObject(entry.schedule)) {
      at(['schedules', i], 'a schedule entry without `schedule:` is not converted');
      return [];
    }
    for (const key of ['max_active_runs', 'catchup'] as const) {
      if (entry[key] !== null && entry[key] !== undefined && entry[key] !== false) at(['schedules', i, key], `${key} is a Prefect 2 schedule option Prefect 3 does not have; not converted`);
    }
    const one = convertSchedule(entry.schedule, ['schedules', i, 'schedule'], at);
    if (one && entry.active === false) one.active = false;
    return one ? [one] : [];
  });
}

function convertSchedule(s: Record<string, unknown>, path: readonly PathSegment[], at: At): JsonObject | undefined {
  const out: JsonObject = {};
  if (typeof s.cron === 'string') {
    out.cron = s.cron;
    if (s.day_or === false) out.day_or = false;
  } else if (typeof s.interval === 'number' || typeof s.interval === 'string') {
    out.interval = typeof s.interval === 'string' && /^\d+(\.\d+)?$/.test(s.interval) ? Number(s.interval) : s.interval;
    if (typeof s.anchor_date === 'string') out.anchor_date = s.anchor_date;
  } else if (typeof s.rrule === 'string') {
    out.rrule = s.rrule;
  } else {
    at(path, 'a schedule that is neither cron, interval nor rrule is not converted');
    return undefined;
  }
  if (typeof s.timezone === 'string' && s.timezone) out.timezone = s.timezone;
  return out;
}
