/**
 * Shapes of what the Prefect 3.x REST API returns and accepts, as far as prefect-gitops uses them.
 * Read models are validated loosely where they arrive (src/prefect/client.ts); request bodies are
 * built by the planner and sent as they are.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type CronSchedule = { cron: string; timezone: string | null; day_or: boolean };
export type IntervalSchedule = { interval: number; anchor_date: string; timezone: string | null };
export type RRuleSchedule = { rrule: string; timezone: string | null };
export type ScheduleSpec = CronSchedule | IntervalSchedule | RRuleSchedule;

export interface LiveSchedule {
  id: string;
  created?: string;
  updated?: string;
  schedule: ScheduleSpec;
  active: boolean;
  max_scheduled_runs: number | null;
  parameters: JsonObject;
  slug: string | null;
}

export interface LiveDeployment {
  id: string;
  created: string;
  updated: string;
  name: string;
  flow_id: string;
  version: string | null;
  description: string | null;
  paused: boolean;
  schedules: LiveSchedule[];
  global_concurrency_limit: { limit: number } | null;
  concurrency_options: { collision_strategy: string; grace_period_seconds: number | null } | null;
  job_variables: JsonObject | null;
  parameters: JsonObject | null;
  tags: string[];
  labels: Record<string, string> | null;
  work_queue_name: string | null;
  work_pool_name: string | null;
  parameter_openapi_schema: JsonObject | null;
  path: string | null;
  pull_steps: JsonObject[] | null;
  entrypoint: string | null;
  enforce_parameter_schema: boolean;
  created_by?: { id?: string | null; type?: string | null; display_value?: string | null } | null;
  updated_by?: { id?: string | null; type?: string | null; display_value?: string | null } | null;
}

export interface LiveFlow {
  id: string;
  name: string;
}

export interface LiveWorkPool {
  id: string;
  name: string;
  type: string;
}

/** Body of POST /deployments/ (DeploymentCreate). Only keys the server version knows may be sent. */
export type DeploymentCreateBody = { name: string; flow_id: string } & { [key: string]: Json };
/** Body of PATCH /deployments/{id} (DeploymentUpdate). */
export type DeploymentUpdateBody = { [key: string]: Json };

export interface ScheduleCreateBody {
  schedule: ScheduleSpec;
  active: boolean;
  max_scheduled_runs?: number | null;
  /** Only from Prefect 3.2 (with `slug`). */
  parameters?: JsonObject;
  /** Only from Prefect 3.2; before, schedules are matched by content. */
  slug?: string;
}
export type ScheduleUpdateBody = Partial<ScheduleCreateBody>;

/** The subset of DeploymentFilter we use in POST /deployments/filter. */
export interface DeploymentListFilter {
  flowNames?: string[];
  /** Deployments whose tags include all of these. */
  tagsAll?: string[];
  /** Deployments carrying any of these tags; an empty list matches nothing. */
  tagsAny?: string[];
  /** Deployments in any of these work pools (by name); an empty list matches nothing. */
  workPools?: string[];
  ids?: string[];
  /** Leave these out (already fetched by another scan). */
  excludeIds?: string[];
}

/** Counters of requests the client sent; used by tests and the benchmark ("a no-op apply sends 0 writes"). */
export interface RequestStats {
  reads: number;
  writes: number;
  retries: number;
}

/** An automation as read back: what the planner compares, plus what export writes back as a trigger. */
export interface LiveAutomation {
  id: string;
  name: string;
  enabled: boolean;
  tags: string[];
  actions: JsonObject[];
  description?: string;
  trigger?: JsonObject;
  actions_on_trigger?: JsonObject[];
  actions_on_resolve?: JsonObject[];
  /** The server's time of the last write (a saved plan is stale once it moved). */
  updated?: string;
}

/** The subset of AutomationFilter we use in POST /automations/filter; an omitted field does not restrict. */
export interface AutomationListFilter {
  /** Automations whose tags include all of these. */
  tagsAll?: string[];
  /** Automations with any of these names; an empty list matches nothing. */
  names?: string[];
}

/** A Prefect variable as the server stores it; `updated` is the server's time of the last write. */
export interface LiveVariable {
  id: string;
  name: string;
  value: Json;
  updated: string;
}
