import { InternalError } from '../errors.js';
import type { Json, JsonObject } from './types.js';

/**
 * Prefect 2.19 and 2.20 servers: the same deployment model as 3.x with an older dialect. This
 * module is the whole translation, pure and in one place; the client applies it where bodies
 * leave and responses arrive (src/prefect/client.ts), so everything above the HTTP port sees the
 * 3.x shapes. What 2.x cannot do at all (concurrency limits, schedule parameters, triggers) is
 * refused at plan time (src/validate/server-support.ts), never found out here half-way through
 * an apply; a body that still carries such a field is a bug and throws.
 *
 * The differences, as the real 2.20.27 server answers (and its source at the 2.20 tags says):
 * - request models forbid unknown fields: no deployment `labels`, `concurrency_limit`,
 *   `concurrency_options`, `global_concurrency_limit_id`; no schedule `slug` or `parameters`;
 *   PATCH has no `pull_steps` or `parameter_openapi_schema` (only a POST upsert writes them);
 * - responses carry `infra_overrides`, never `job_variables`, and 2.x-only fields (`schedule`,
 *   `is_schedule_active`, `manifest_path`, block document ids);
 * - the deployment filter has no `tags.any_` and no `id.not_any_`;
 * - variable values are strings (3.x: any JSON) and names have no dashes;
 * - automations exist only with PREFECT_EXPERIMENTAL_EVENTS and never carry tags (404 otherwise).
 */

/** The oldest Prefect 2 release prefect-gitops supports; older 2.x servers are refused at connect. */
export const OLDEST_PREFECT_2 = '2.19.0';

/** Deployment body fields 2.x does not know; sending them gives 422 (extra fields not permitted). */
const NO_SUCH_DEPLOYMENT_FIELD = ['concurrency_limit', 'concurrency_options', 'global_concurrency_limit_id', 'version_info'] as const;
/** Only a POST upsert writes these on 2.x (and before 3.2); the planner turns such an update into one. */
const NOT_PATCHABLE = ['pull_steps', 'parameter_openapi_schema'] as const;
/** 2.x-only response fields with no meaning above the HTTP port. */
const V2_ONLY_RESPONSE_FIELDS = ['infra_overrides', 'schedule', 'is_schedule_active'] as const;

/** A `POST /deployments/` body for 2.x: the ownership label goes (the owner tag carries ownership there). */
export function deploymentCreateForV2<T extends JsonObject>(body: T): T {
  const { labels: _labels, ...rest } = body;
  return withoutUnknown(rest, NO_SUCH_DEPLOYMENT_FIELD, 'POST /deployments/') as T;
}

/** A `PATCH /deployments/{id}` body for 2.x. */
export function deploymentUpdateForV2(body: JsonObject): JsonObject {
  return withoutUnknown(body, [...NO_SUCH_DEPLOYMENT_FIELD, ...NOT_PATCHABLE, 'labels'], 'PATCH /deployments/{id}');
}

/** A schedule create/update body for 2.x: no `slug`, no `parameters` (a schedule with parameters is refused at plan time). */
export function scheduleForV2<T extends { slug?: unknown; parameters?: unknown }>(body: T): Omit<T, 'slug' | 'parameters'> {
  const { slug: _slug, parameters, ...rest } = body;
  if (parameters !== undefined && parameters !== null && !(typeof parameters === 'object' && Object.keys(parameters).length === 0)) {
    throw new InternalError('a schedule with parameters reached a Prefect 2.x server; the plan should have refused it');
  }
  return rest;
}

/**
 * A deployment as 2.x returns it, in the 3.x shape: `job_variables` from `infra_overrides`,
 * schedules without slug and parameters, no labels and no concurrency.
 */
export function deploymentFromV2(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const key of V2_ONLY_RESPONSE_FIELDS) delete out[key];
  out.job_variables = raw.job_variables ?? raw.infra_overrides ?? {};
  out.labels = null;
  out.global_concurrency_limit = null;
  out.concurrency_options = null;
  if (Array.isArray(raw.schedules)) {
    out.schedules = raw.schedules.map((s: unknown) => (isRecord(s) ? { ...s, slug: null, parameters: {} } : s));
  }
  return out;
}

/** A schedule as 2.x returns it (from `POST /deployments/{id}/schedules`), in the 3.x shape. */
export function scheduleFromV2(raw: unknown): unknown {
  return isRecord(raw) ? { ...raw, slug: null, parameters: {} } : raw;
}

/**
 * A variable name for 2.x (and 3.x before 3.4.1: the client applies it wherever the
 * `variableNameDashes` capability is off), which allows only lowercase letters, digits and
 * underscores: prefect-gitops's own variables (the apply lock, name claims) use dashes, written as
 * underscores there. Two owners whose lock names then coincide only share a lock (they wait for
 * each other); nothing is lost.
 */
export function variableNameForV2(name: string): string {
  return name.replace(/-/g, '_');
}

/** A variable value for 2.x, where values are strings: anything else travels as its JSON text. */
export function variableValueForV2(value: Json): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * A variable value read from 2.x as the JSON it was written as: JSON text of an object or array
 * is that object or array (what {@link variableValueForV2} made of one); anything else is the string.
 */
export function variableValueFromV2(value: unknown): unknown {
  if (typeof value !== 'string' || !/^\s*[[{]/.test(value)) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** The body without `fields` when they are absent or null (nothing lost); a value there is a bug upstream. */
function withoutUnknown(body: JsonObject, fields: readonly string[], where: string): JsonObject {
  const present = fields.filter((f) => body[f] !== undefined && body[f] !== null);
  if (present.length > 0) {
    throw new InternalError(`${where} for a Prefect 2.x server carries ${present.join(', ')}, which 2.x does not accept; the plan should have refused or rewritten it`);
  }
  return Object.fromEntries(Object.entries(body).filter(([k]) => !fields.includes(k)));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
