import { relative, sep } from 'node:path';
import type { Issue } from '../validate/issue.js';
import { formatPath, type PathSegment, type PrefectYamlContext, type SourceDocument } from './source.js';

/**
 * Reading Prefect's own `prefect.yaml` the way `prefect deploy` (3.8) reads it: its pydantic models
 * (`DeploymentConfig`, `WorkPoolConfig`) use `extra="ignore"`, accept `null` for every optional
 * field, and `prefect deploy --all` skips entries without a name. What Prefect ignores we ignore
 * too, with a warning saying so; our own manifest files stay strict (src/validate/).
 */

/** Fields of Prefect's `DeploymentConfig` (src/prefect/cli/deploy/_models.py). */
const PREFECT_DEPLOYMENT_KEYS = new Set([
  'name', 'version', 'version_type', 'tags', 'description', 'schedule', 'schedules', 'paused', 'concurrency_limit',
  'flow_name', 'entrypoint', 'parameters', 'enforce_parameter_schema', 'build', 'push', 'pull', 'work_pool', 'triggers', 'sla',
]);
/** Our extension block: `prefect deploy` ignores it, we read it. */
const GITOPS_KEYS = new Set(['gitops']);
const PREFECT_WORK_POOL_KEYS = new Set(['name', 'work_queue_name', 'job_variables']);
/**
 * Optional fields whose `null` means "not given" to Prefect. `flow_name` is always replaced by the
 * flow's own name (validation does that, and keeps flow_name only where the flow cannot be read);
 * `schedules: null` is no schedule. (`parameters: null` or `job_variables: null`
 * fail Prefect's model, so they stay errors here too.)
 */
const NULL_MEANS_UNSET = ['flow_name', 'tags', 'paused', 'enforce_parameter_schema', 'schedules', 'triggers', 'work_pool', 'version_type', 'sla'] as const;

/** What Prefect does with a deployment-level key its model ignores, for the common mistakes. */
const IGNORED_HINTS: Readonly<Record<string, string>> = {
  job_variables: 'job variables belong under work_pool.job_variables',
  work_queue_name: 'the work queue belongs under work_pool.work_queue_name',
  environment: 'a deployment has no `environment` field; environment variables belong under work_pool.job_variables.env',
  env: 'environment variables belong under work_pool.job_variables.env',
  parameter_openapi_schema: 'prefect deploy builds the parameter schema from the flow',
  path: 'prefect deploy sets the path from the pull steps',
  image: 'the image belongs under work_pool.job_variables.image',
};

export interface ExpandedPrefectYaml {
  readonly documents: SourceDocument[];
  /** Warnings: ignored keys and skipped unnamed entries. */
  readonly issues: Issue[];
}

/**
 * One view per named entry of a prefect.yaml's `deployments:` list. Prefect keys we do not send are
 * dropped here (build/push steps are not run; `version_type`, `sla`); the legacy single `schedule`
 * becomes `schedules` (`schedule: {}` and `schedule: null` are none), and positions still point at
 * what the user wrote.
 */
export function expandPrefectYaml(doc: SourceDocument, dir: string, projectRoot: string, options: { explicit?: boolean } = {}): ExpandedPrefectYaml {
  const value = doc.value as Record<string, unknown>;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { documents: [doc], issues: [] };
  const stepIds = collectStepIds([value.build, value.push, ...(Array.isArray(value.deployments) ? value.deployments.flatMap((d) => [d?.build, d?.push]) : [])]);
  const context: PrefectYamlContext = {
    dir,
    relativeDir: relative(projectRoot, dir).split(sep).join('/'),
    file: doc,
    ...('pull' in value ? { pull: value.pull } : {}),
    stepIds,
    stepFunctions: collectStepFunctions([value.build, value.push, ...(Array.isArray(value.deployments) ? value.deployments.flatMap((d) => [d?.build, d?.push]) : [])]),
    ...(options.explicit ? { explicit: true } : {}),
  };
  const issues: Issue[] = [];
  const warn = (path: readonly PathSegment[], message: string, key = true): void => {
    const at = doc.locate(path, { key });
    issues.push({ file: at.file, line: at.line, column: at.column, path: formatPath(path), message, severity: 'warning' });
  };
  const fail = (path: readonly PathSegment[], message: string, key = true): void => {
    const at = doc.locate(path, { key });
    issues.push({ file: at.file, line: at.line, column: at.column, path: formatPath(path), message, severity: 'error' });
  };
  if (value.deployments !== undefined && value.deployments !== null && !Array.isArray(value.deployments)) {
    fail(['deployments'], `deployments must be a list, one \`- name: ...\` entry per deployment, got ${typeof value.deployments === 'object' ? 'a mapping' : typeof value.deployments}; prefect deploy skips this whole file ("Skipping deployment configuration due to validation errors")`, false);
  }
  const entries = Array.isArray(value.deployments) ? value.deployments : [];
  const documents: SourceDocument[] = [];
  entries.forEach((entry: unknown, i: number) => {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      documents.push(doc.view(['deployments', i], entry, context));
      return;
    }
    const raw = entry as Record<string, unknown>;
    if (raw.name === undefined || raw.name === null) {
      warn(['deployments', i], 'unnamed deployment: prefect deploy --all skips it ("Discovered unnamed deployment. Skipping..."), and so does prefect-gitops; give it a name to deploy it', false);
      return;
    }
    checkPrefectOnly(raw, ['deployments', i], warn, fail);
    const kept: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(raw)) {
      if (!PREFECT_DEPLOYMENT_KEYS.has(key) && !GITOPS_KEYS.has(key)) {
        const hint = IGNORED_HINTS[key] ?? `it is not a deployment field (${[...PREFECT_DEPLOYMENT_KEYS].sort().join(', ')})`;
        warn(['deployments', i, key], `"${key}" is ignored by Prefect: ${hint}; prefect-gitops ignores it too`);
        continue;
      }
      if (child === null && (NULL_MEANS_UNSET as readonly string[]).includes(key)) continue;
      // Prefect replaces flow_name with the flow's own name: an empty one is no more than absent.
      if (key === 'flow_name' && child === '') continue;
      kept[key] = child;
    }
    if (kept.work_pool && typeof kept.work_pool === 'object' && !Array.isArray(kept.work_pool)) {
      const pool: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(kept.work_pool)) {
        if (PREFECT_WORK_POOL_KEYS.has(key)) pool[key] = child;
        else warn(['deployments', i, 'work_pool', key], `"work_pool.${key}" is ignored by Prefect: work_pool takes name, work_queue_name and job_variables${key === 'flow_variables' || key === 'variables' ? ' (job variables belong under work_pool.job_variables)' : ''}; prefect-gitops ignores it too`);
      }
      kept.work_pool = pool;
    }
    const { build, push: _push, version_type: _versionType, sla: _sla, schedule, ...rest } = kept;
    // `prefect deploy` runs the entry's build steps when it has any, else the file's.
    const entryBuild = Array.isArray(build) ? build.length > 0 : build && typeof build === 'object' ? Object.keys(build).length > 0 : Boolean(build);
    // Prefect: a falsy legacy `schedule` (null, {}) is no schedule; a mapping becomes the only one.
    const legacy = schedule !== undefined && rest.schedules === undefined;
    const reshaped = legacy ? { ...rest, ...(isNoSchedule(schedule) ? {} : { schedules: [schedule] }) } : rest;
    const rewrite = (path: readonly PathSegment[]): readonly PathSegment[] =>
      legacy && path[0] === 'schedules' && path[1] === 0 ? ['schedule', ...path.slice(2)] : path;
    documents.push(doc.view(['deployments', i], reshaped, { ...context, build: entryBuild ? build : value.build }, rewrite));
  });
  return { documents, issues };
}

/** Python's truthiness, which `prefect deploy` applies to a legacy `schedule`. */
const truthy = (v: unknown): boolean =>
  v !== null && v !== undefined && v !== false && v !== 0 && v !== '' && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);

/**
 * What `prefect deploy` refuses or does not carry over in one entry, which our own manifest format
 * would take: said at its line, so the file means the same to both tools.
 */
function checkPrefectOnly(
  raw: Record<string, unknown>,
  base: readonly PathSegment[],
  warn: (path: readonly PathSegment[], message: string, key?: boolean) => void,
  fail: (path: readonly PathSegment[], message: string, key?: boolean) => void,
): void {
  // deploy/_config.py `_handle_deprecated_schedule_fields`: a legacy schedule beside `schedules`
  // (even `schedules: []` or null) fails that deployment.
  if (truthy(raw.schedule) && 'schedules' in raw) {
    fail([...base, 'schedule'], 'both `schedule` and `schedules` are given: prefect deploy refuses this deployment ("Both \'schedule\' and \'schedules\' keys are present"); move the schedule into `schedules:` and remove `schedule`');
  }
  // Its schedule model (RawScheduleConfig) forbids keys it does not know and skips the whole file.
  const schedules: [readonly PathSegment[], unknown][] = [
    ...(Array.isArray(raw.schedules) ? raw.schedules.map((s, j) => [[...base, 'schedules', j], s] as [readonly PathSegment[], unknown]) : []),
    ...(raw.schedule && typeof raw.schedule === 'object' ? [[[...base, 'schedule'], raw.schedule] as [readonly PathSegment[], unknown]] : []),
  ];
  for (const [path, schedule] of schedules) {
    if (schedule && typeof schedule === 'object' && 'max_scheduled_runs' in schedule) {
      fail([...path, 'max_scheduled_runs'], 'max_scheduled_runs is not a prefect.yaml schedule field: prefect deploy skips this whole file over it ("Skipping deployment configuration due to validation errors"); remove it, or declare the deployment in a prefect-gitops manifest, where it is a field');
    }
  }
  // Carried by prefect deploy, not by us: say so rather than drop them silently.
  if (Array.isArray(raw.sla) ? raw.sla.length > 0 : raw.sla !== undefined && raw.sla !== null) {
    warn([...base, 'sla'], 'sla is not applied by prefect-gitops: prefect deploy creates these SLAs (Prefect Cloud); manage them in the Prefect UI');
  }
  if (raw.version_type !== undefined && raw.version_type !== null) {
    warn([...base, 'version_type'], 'version_type is not applied by prefect-gitops: the deployment gets `version` as written, without version info from your VCS');
  }
  // ConcurrencyOptions requires a collision strategy once concurrency_limit is a mapping.
  const concurrency = raw.concurrency_limit;
  if (concurrency && typeof concurrency === 'object' && !Array.isArray(concurrency) && (concurrency as Record<string, unknown>).collision_strategy == null) {
    warn([...base, 'concurrency_limit'], 'concurrency_limit as a mapping without collision_strategy: prefect deploy fails on it (its concurrency options need a collision strategy); prefect-gitops sets only the limit; add `collision_strategy: ENQUEUE` (or CANCEL_NEW) so both tools agree');
  }
}

const isNoSchedule = (v: unknown): boolean => v === null || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);

function collectStepIds(sections: unknown[]): string[] {
  const ids: string[] = [];
  for (const section of sections) {
    for (const step of Array.isArray(section) ? section : section ? [section] : []) {
      if (!step || typeof step !== 'object') continue;
      for (const args of Object.values(step as Record<string, unknown>)) {
        const id = (args as { id?: unknown } | null)?.id;
        if (typeof id === 'string') ids.push(id);
      }
    }
  }
  return [...new Set(ids)];
}

function collectStepFunctions(sections: unknown[]): string[] {
  const functions: string[] = [];
  for (const section of sections) {
    for (const step of Array.isArray(section) ? section : section && typeof section === 'object' ? [section] : []) {
      if (step && typeof step === 'object') functions.push(...Object.keys(step as Record<string, unknown>));
    }
  }
  return [...new Set(functions)];
}
