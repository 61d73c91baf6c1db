import { assignSlugs } from '../manifests/slugs.js';
import type { ScheduleManifest } from '../manifests/types.js';
import { canonicalLive, DEFAULT_QUEUE } from '../plan/canonical.js';
import { isMarkerTag, ownerOf, ownerTag, PROTECTED_TAG, type OwnershipMarker } from '../plan/ownership.js';
import type { Json, JsonObject, LiveDeployment, LiveSchedule } from '../prefect/types.js';
import { isSensitiveKey } from '../render/redact.js';
import { mapAutomation, recoverTriggers, type ExportAutomation } from './triggers.js';

/**
 * One live deployment as a manifest document: our keys in our order, and only what differs from
 * what an omitted key means (README "What an omitted key means"), so the file reads like one a
 * person wrote and plans to no change against the deployment it came from.
 */
export interface ManifestFromLive {
  readonly manifest: JsonObject;
  /** The prefect-gitops owner of the live deployment (its ownership label), if any. */
  readonly owner: string | undefined;
  /** The live deployment with the slug each slugless schedule was given in the manifest. */
  readonly liveWithSlugs: LiveDeployment;
  /** Automations that back the manifest's triggers, when the planner compares them (owned deployments). */
  readonly comparedAutomations: readonly ExportAutomation[] | undefined;
  /** Triggers whose spec does not reproduce their automation's fingerprint (each has a notice). */
  readonly inexactTriggers: number;
  /** Lines for a YAML comment above the document (what could not be written). */
  readonly comments: string[];
  readonly notices: string[];
}

/** Server default of the queue of a deployment in a pool; the planner fills it for an omitted work_queue_name. */
/** The DTSTART Prefect prepends to an rrule written without one (the planner ignores it). */
const PREPENDED_DTSTART = /^DTSTART:20200101T000000\r?\n/;
/** A slug the manifest schema accepts. */
const SLUG = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Placeholders prefect-gitops resolves while loading manifests (src/manifests/template.ts). */
const RESOLVED_PLACEHOLDER = /\{\{\s*(?:(?:git|env)\.[A-Za-z_]|\$[A-Za-z_])/;

/**
 * The manifest of one live deployment (pure). Automations are those whose actions run it; which of
 * them become `triggers` follows the planner: for an owned deployment, only its owner's.
 */
export function manifestFromLive(flowName: string, live: LiveDeployment, unsorted: readonly ExportAutomation[], options: { adopt: boolean; ownership?: OwnershipMarker; scheduleSlugs?: boolean }): ManifestFromLive {
  const automations = [...unsorted].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const key = `${flowName}/${live.name}`;
  const notices: string[] = [];
  const comments: string[] = [];
  const canonical = canonicalLive(live, undefined);
  const m: JsonObject = { name: live.name, flow_name: flowName, entrypoint: live.entrypoint ?? '' };
  // canonical: prefect deploy's "None" (a flow without a docstring) is no description; writing the
  // string back would make every plan update it.
  if (canonical.description !== null) m.description = canonical.description;
  if (live.version !== null && live.version !== undefined) m.version = live.version;
  const tags = [...new Set((live.tags ?? []).filter((t) => !isMarkerTag(t)))];
  if (tags.length) m.tags = tags;
  if (Object.keys(canonical.parameters).length) m.parameters = canonical.parameters;
  if (!canonical.enforce_parameter_schema) m.enforce_parameter_schema = false;
  if (Object.keys(canonical.parameter_openapi_schema).length) m.parameter_openapi_schema = canonical.parameter_openapi_schema;

  const pool: JsonObject = {};
  if (canonical.work_pool_name !== null) pool.name = canonical.work_pool_name;
  const impliedQueue = canonical.work_pool_name !== null ? DEFAULT_QUEUE : null;
  if (canonical.work_queue_name !== impliedQueue && canonical.work_queue_name !== null) pool.work_queue_name = canonical.work_queue_name;
  if (Object.keys(canonical.job_variables).length) pool.job_variables = canonical.job_variables;
  if (Object.keys(pool).length) m.work_pool = pool;
  if (canonical.work_pool_name === null && canonical.work_queue_name === DEFAULT_QUEUE) {
    // Unreachable through the API today (a queue needs a pool), but the manifest could not say it.
    notices.push(`${key}: work queue "default" without a work pool cannot be written; the next plan will clear it`);
  }

  const { schedules, liveWithSlugs } = exportSchedules(key, live, notices, options.scheduleSlugs ?? true);
  if (schedules.length) m.schedules = schedules;
  if (canonical.paused) m.paused = true;

  const limit = canonical.concurrency_limit;
  const concurrency = canonical.concurrency_options;
  if (limit !== null && concurrency) {
    m.concurrency_limit = { limit, collision_strategy: concurrency.collision_strategy, ...(concurrency.grace_period_seconds !== null ? { grace_period_seconds: concurrency.grace_period_seconds } : {}) };
  } else if (limit !== null) m.concurrency_limit = limit;
  else if (concurrency) notices.push(`${key}: concurrency options without a concurrency limit cannot be written; the next apply will clear them`);

  if (canonical.pull_steps.length) m.pull = canonical.pull_steps;

  const owner = ownerOf(live, options.ownership ?? 'label');
  // The planner compares only automations tagged with the owner's tag; others are not its triggers.
  const candidates = owner === undefined ? automations : automations.filter((a) => a.tags.includes(ownerTag(owner)));
  const mapped = candidates.map((a) => mapAutomation(a, live.id));
  for (const a of automations.filter((x) => !candidates.includes(x))) {
    comments.push(`not exported: automation "${a.name}" runs this deployment but was not made by prefect-gitops for owner "${owner}"`);
  }
  for (const r of mapped) if (!r.ok) comments.push(`not exported: automation "${r.automation.name}" (${r.reason})`);
  const triggers = recoverTriggers(live.name, mapped.flatMap((r) => (r.ok ? [r.automation] : [])));
  if (triggers.length) m.triggers = triggers.map((t) => t.spec);
  for (const t of triggers) {
    if (t.exact === false) notices.push(`${key}: trigger "${t.automation.name}" could not be written exactly as it was declared; the next apply replaces its automation (the deployment itself is not written)`);
  }
  if (owner === undefined && triggers.length) {
    notices.push(
      `${key}: triggers were read from automations that run this deployment; adopting it replaces the automations the deployment owns, but one made separately (e.g. in the UI) stays as well: delete it by hand or remove its trigger`,
    );
  }

  if (live.path !== null && live.path !== undefined) m.path = live.path;

  const gitops: JsonObject = {};
  if (options.adopt) gitops.adopt = true;
  if ((live.tags ?? []).includes(PROTECTED_TAG)) gitops.protected = true;
  if (Object.keys(gitops).length) m.gitops = gitops;

  for (const c of comments) notices.push(`${key}: ${c}`);
  notices.push(...sensitiveNotices(key, m), ...placeholderNotices(key, m));
  return { manifest: m, owner, liveWithSlugs, comparedAutomations: owner === undefined ? undefined : candidates, inexactTriggers: triggers.filter((t) => t.exact === false).length, comments, notices };
}

/**
 * Schedules in creation order (the order they were declared in), each with a slug: the live one,
 * or for a slugless schedule the default the planner would give it, made unique. A server that
 * cannot store slugs (Prefect 2, 3.0/3.1) gets none written: there schedules are matched by
 * content, and a slug in the manifest would only be a warning in every plan.
 */
function exportSchedules(key: string, live: LiveDeployment, notices: string[], storesSlugs: boolean): { schedules: JsonObject[]; liveWithSlugs: LiveDeployment } {
  const ordered = [...(live.schedules ?? [])].sort(byCreation);
  const specs = ordered.map((s) => scheduleManifest(s));
  const taken = new Set(ordered.flatMap((s) => (s.slug ? [s.slug] : [])));
  const defaults = assignSlugs(specs.map((s, i) => ({ ...s.spec, ...(ordered[i]!.slug ? { slug: ordered[i]!.slug! } : {}) })));
  const slugs = ordered.map((s, i) => {
    if (s.slug) return s.slug;
    let slug = defaults[i]!;
    for (let n = 2; taken.has(slug); n++) slug = `${defaults[i]!}-${n}`;
    taken.add(slug);
    return slug;
  });
  if (storesSlugs && ordered.some((s) => !s.slug)) {
    notices.push(`${key}: schedules without a slug were given one (${ordered.flatMap((s, i) => (s.slug ? [] : [slugs[i]!])).join(', ')}); the next apply replaces them with schedules carrying these slugs`);
  }
  for (const slug of slugs) if (!SLUG.test(slug)) notices.push(`${key}: schedule slug "${slug}" is not one a manifest accepts (${SLUG.source}); rename it in the file (its schedule is then replaced)`);
  const schedules = specs.map(({ spec }, i) => orderedSchedule(storesSlugs ? { ...spec, slug: slugs[i]! } : spec));
  const liveWithSlugs = { ...live, schedules: ordered.map((s, i) => ({ ...s, slug: slugs[i]! })) };
  return { schedules, liveWithSlugs };
}

function scheduleManifest(s: LiveSchedule): { spec: ScheduleManifest } {
  const raw = s.schedule as Record<string, unknown>;
  const spec: ScheduleManifest = {};
  if (typeof raw.cron === 'string') {
    spec.cron = raw.cron;
    if (typeof raw.timezone === 'string') spec.timezone = raw.timezone;
    if (raw.day_or === false) spec.day_or = false;
  } else if (typeof raw.interval === 'number') {
    spec.interval = raw.interval;
    if (typeof raw.anchor_date === 'string') spec.anchor_date = raw.anchor_date;
    if (typeof raw.timezone === 'string' && raw.timezone !== 'UTC') spec.timezone = raw.timezone;
  } else {
    spec.rrule = String(raw.rrule ?? '').replace(PREPENDED_DTSTART, '');
    if (typeof raw.timezone === 'string' && raw.timezone !== 'UTC') spec.timezone = raw.timezone;
  }
  if (s.active === false) spec.active = false;
  if (s.parameters && Object.keys(s.parameters).length) spec.parameters = s.parameters;
  if (s.max_scheduled_runs !== null && s.max_scheduled_runs !== undefined) spec.max_scheduled_runs = s.max_scheduled_runs;
  return { spec };
}

const SCHEDULE_KEYS = ['slug', 'cron', 'interval', 'rrule', 'timezone', 'day_or', 'anchor_date', 'active', 'parameters', 'max_scheduled_runs'] as const;

function orderedSchedule(s: ScheduleManifest): JsonObject {
  const out: JsonObject = {};
  for (const k of SCHEDULE_KEYS) if (s[k] !== undefined) out[k] = s[k] as Json;
  return out;
}

function byCreation(a: LiveSchedule, b: LiveSchedule): number {
  const ca = a.created ?? '';
  const cb = b.created ?? '';
  if (ca !== cb) return ca < cb ? -1 : 1;
  const sa = a.slug ?? '';
  const sb = b.slug ?? '';
  if (sa !== sb) return sa < sb ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Values under sensitive-looking keys are written as they are: point at them. */
function sensitiveNotices(key: string, m: JsonObject): string[] {
  const out: string[] = [];
  walk(m, [], (path, value) => {
    const last = path.at(-1);
    if (typeof last !== 'string' || !isSensitiveKey(last) || path[0] === 'parameter_openapi_schema') return;
    if (value === null || typeof value === 'object' || typeof value === 'boolean' || (typeof value === 'string' && (value === '' || value.includes('{{')))) return;
    const name = last.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    out.push(`${key}: ${path.join('.')} looks sensitive and was written as it is; consider "{{ env.${name} }}" and setting ${name} where you plan and apply`);
  });
  return out;
}

/** Literal text prefect-gitops would treat as its own placeholder when loading the file. */
function placeholderNotices(key: string, m: JsonObject): string[] {
  const out: string[] = [];
  walk(m, [], (path, value) => {
    if (typeof value === 'string' && RESOLVED_PLACEHOLDER.test(value)) {
      out.push(`${key}: ${path.join('.')} contains "${value}", which prefect-gitops resolves when it loads the file (env/git placeholder); the next plan writes the resolved value`);
    }
  });
  return out;
}

function walk(value: Json, path: (string | number)[], visit: (path: (string | number)[], value: Json) => void): void {
  visit(path, value);
  if (Array.isArray(value)) value.forEach((item, i) => walk(item, [...path, i], visit));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, k], visit);
}
