import type { Json, JsonObject, LiveDeployment, LiveSchedule, ScheduleSpec } from '../prefect/types.js';
import { assignSlugs } from '../manifests/slugs.js';
import { intervalSeconds } from '../manifests/schedule.js';
import type { DesiredDeployment, ScheduleManifest } from '../manifests/types.js';
import { ownerTag, PROTECTED_TAG } from './ownership.js';
import { desiredTriggers, liveTriggers, triggerStates, type TriggerState } from './triggers.js';
import type { LiveAutomation } from '../prefect/types.js';

/**
 * One comparable form for desired and live deployments. Every server default and read-back quirk
 * is settled here, so that a deployment applied from a manifest compares equal to that manifest:
 * the whole "plan is empty after apply" property rests on this file.
 */
export interface CanonicalSchedule {
  slug: string;
  schedule: ScheduleSpec;
  active: boolean;
  max_scheduled_runs: number | null;
  parameters: JsonObject;
}

export interface CanonicalDeployment {
  description: string | null;
  version: string | null;
  entrypoint: string | null;
  path: string | null;
  tags: string[];
  parameters: JsonObject;
  enforce_parameter_schema: boolean;
  parameter_openapi_schema: JsonObject;
  work_pool_name: string | null;
  work_queue_name: string | null;
  job_variables: JsonObject;
  paused: boolean;
  concurrency_limit: number | null;
  concurrency_options: { collision_strategy: string; grace_period_seconds: number | null } | null;
  pull_steps: JsonObject[];
  /** Automations made from `triggers`, compared by name, enabled flag and spec fingerprint. */
  triggers: TriggerState[];
  schedules: CanonicalSchedule[];
}

/** Deployment fields in the order plans show them. */
export const DEPLOYMENT_FIELDS = [
  'description',
  'version',
  'entrypoint',
  'path',
  'tags',
  'parameters',
  'enforce_parameter_schema',
  'parameter_openapi_schema',
  'work_pool_name',
  'work_queue_name',
  'job_variables',
  'paused',
  'concurrency_limit',
  'concurrency_options',
  'pull_steps',
  'triggers',
] as const satisfies readonly (keyof CanonicalDeployment)[];
export type DeploymentField = (typeof DEPLOYMENT_FIELDS)[number];

const EMPTY_SCHEMA: JsonObject = {};
/** The queue a work pool gives a deployment that names none. */
export const DEFAULT_QUEUE = 'default';

/** An "empty" parameter schema in any of the forms Prefect uses: absent, {}, or an object with no properties. */
function canonicalSchema(schema: JsonObject | null | undefined): JsonObject {
  if (!schema) return EMPTY_SCHEMA;
  const keys = Object.keys(schema);
  const props = schema.properties;
  const noProps = props === undefined || (typeof props === 'object' && props !== null && Object.keys(props).length === 0);
  if (keys.every((k) => k === 'type' || k === 'properties') && noProps && (schema.type === undefined || schema.type === 'object')) return EMPTY_SCHEMA;
  return schema;
}

/** Tags as a sorted set: Prefect keeps their order, but order carries no meaning for a deployment. */
function canonicalTags(tags: readonly string[]): string[] {
  return [...new Set(tags)].sort();
}

/** A naive ISO date-time is read by Prefect as UTC; compare instants, written as UTC ISO strings. */
export function canonicalInstant(value: string): string {
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim());
  const ms = Date.parse(hasZone ? value : `${value.trim()}Z`);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}

/** The DTSTART line Prefect (3.6.26+) prepends to an rrule written without one. */
const LEADING_DTSTART = /^DTSTART(?:;[^:\n]*)?:[^\n]*\n/i;

function desiredSchedule(s: ScheduleManifest, slug: string): CanonicalSchedule {
  let schedule: ScheduleSpec;
  if (s.cron !== undefined) schedule = { cron: s.cron.trim(), timezone: s.timezone ?? null, day_or: s.day_or ?? true };
  else if (s.interval !== undefined) {
    schedule = { interval: intervalSeconds(s.interval) ?? NaN, anchor_date: s.anchor_date === undefined ? '' : canonicalInstant(s.anchor_date), timezone: s.timezone ?? 'UTC' };
  } else schedule = { rrule: (s.rrule ?? '').trim(), timezone: s.timezone ?? 'UTC' };
  return { slug, schedule, active: s.active ?? true, max_scheduled_runs: s.max_scheduled_runs ?? null, parameters: s.parameters ?? {} };
}

/**
 * The live form of a schedule, made comparable with its desired twin: an omitted anchor_date and an
 * rrule DTSTART the server added are not differences.
 */
export function liveSchedule(s: LiveSchedule, desired: CanonicalSchedule | undefined): CanonicalSchedule {
  const spec = s.schedule as Partial<Record<'cron' | 'interval' | 'rrule' | 'anchor_date' | 'timezone', unknown>> & { day_or?: boolean };
  let schedule: ScheduleSpec;
  if (typeof spec.cron === 'string') schedule = { cron: spec.cron.trim(), timezone: (spec.timezone as string | null) ?? null, day_or: spec.day_or ?? true };
  else if (typeof spec.interval === 'number') {
    const wantsAnchor = desired && 'interval' in desired.schedule && desired.schedule.anchor_date !== '';
    schedule = { interval: spec.interval, anchor_date: wantsAnchor ? canonicalInstant(String(spec.anchor_date)) : '', timezone: (spec.timezone as string | null) ?? 'UTC' };
  } else {
    let rule = String(spec.rrule ?? '').trim();
    const desiredRule = desired && 'rrule' in desired.schedule ? desired.schedule.rrule : undefined;
    if (desiredRule !== undefined && !LEADING_DTSTART.test(`${desiredRule}\n`)) rule = rule.replace(LEADING_DTSTART, '');
    schedule = { rrule: rule, timezone: (spec.timezone as string | null) ?? 'UTC' };
  }
  return { slug: s.slug ?? `(no slug: ${s.id})`, schedule, active: s.active, max_scheduled_runs: s.max_scheduled_runs ?? null, parameters: s.parameters ?? {} };
}

export function desiredTags(d: DesiredDeployment, owner: string): string[] {
  const tags = [...(d.manifest.tags ?? []), ownerTag(owner)];
  if (d.protected) tags.push(PROTECTED_TAG);
  return [...new Set(tags)];
}

export function canonicalDesired(d: DesiredDeployment, owner: string): CanonicalDeployment {
  const m = d.manifest;
  const concurrency = m.concurrency_limit;
  const limit = concurrency === undefined || concurrency === null ? null : typeof concurrency === 'number' ? concurrency : concurrency.limit;
  const options =
    concurrency !== null && typeof concurrency === 'object' && (concurrency.collision_strategy !== undefined || concurrency.grace_period_seconds !== undefined)
      ? { collision_strategy: concurrency.collision_strategy ?? 'ENQUEUE', grace_period_seconds: concurrency.grace_period_seconds ?? null }
      : null;
  const pool = m.work_pool?.name ?? null;
  const schedules = m.schedules ?? [];
  const slugs = assignSlugs(schedules);
  return {
    description: m.description ?? null,
    version: m.version ?? null,
    entrypoint: m.entrypoint,
    path: m.path ?? null,
    tags: canonicalTags(desiredTags(d, owner)),
    parameters: m.parameters ?? {},
    enforce_parameter_schema: m.enforce_parameter_schema ?? true,
    parameter_openapi_schema: canonicalSchema(m.parameter_openapi_schema),
    work_pool_name: pool,
    work_queue_name: m.work_pool?.work_queue_name ?? (pool ? DEFAULT_QUEUE : null),
    job_variables: m.work_pool?.job_variables ?? {},
    paused: m.paused ?? false,
    concurrency_limit: limit,
    concurrency_options: options,
    pull_steps: m.pull ?? [],
    triggers: triggerStates(desiredTriggers(d.name, m.triggers)),
    schedules: schedules.map((s, i) => desiredSchedule(s, slugs[i]!)).sort(bySlug),
  };
}

/**
 * @param automations the deployment's automations made by us; undefined when the server cannot
 *   tell (no automation tags before Prefect 3.4.7), in which case triggers compare as desired.
 */
export function canonicalLive(live: LiveDeployment, desired: CanonicalDeployment | undefined, automations?: readonly LiveAutomation[]): CanonicalDeployment {
  const desiredBySlug = new Map((desired?.schedules ?? []).map((s) => [s.slug, s]));
  const options = live.concurrency_options;
  return {
    // prefect deploy stores the string "None" when a flow has no docstring (str(None)).
    description: live.description === 'None' ? null : (live.description ?? null),
    version: live.version ?? null,
    entrypoint: live.entrypoint ?? null,
    path: live.path ?? null,
    tags: canonicalTags(live.tags ?? []),
    parameters: live.parameters ?? {},
    enforce_parameter_schema: live.enforce_parameter_schema ?? true,
    parameter_openapi_schema: canonicalSchema(live.parameter_openapi_schema),
    work_pool_name: live.work_pool_name ?? null,
    work_queue_name: live.work_queue_name ?? null,
    job_variables: live.job_variables ?? {},
    paused: live.paused ?? false,
    concurrency_limit: live.global_concurrency_limit?.limit ?? null,
    concurrency_options: options ? { collision_strategy: options.collision_strategy, grace_period_seconds: options.grace_period_seconds ?? null } : null,
    pull_steps: live.pull_steps ?? [],
    triggers: automations ? liveTriggers(automations) : (desired?.triggers ?? []),
    schedules: (live.schedules ?? []).map((s) => liveSchedule(s, s.slug ? desiredBySlug.get(s.slug) : undefined)).sort(bySlug),
  };
}

export function bySlug(a: { slug: string }, b: { slug: string }): number {
  return a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0;
}

/** Structural equality of JSON values, ignoring object key order. */
export function jsonEqual(a: Json | unknown, b: Json | unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  // Plain loops: this runs over every field of every deployment (parameter schemas are large).
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(rb, k) || !jsonEqual(ra[k], rb[k])) return false;
  return true;
}
