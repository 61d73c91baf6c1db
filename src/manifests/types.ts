import type { JsonObject } from '../prefect/types.js';

/** A schedule as written in a manifest (prefect.yaml keys). */
export interface ScheduleManifest {
  cron?: string;
  interval?: number | string;
  rrule?: string;
  timezone?: string | null;
  anchor_date?: string;
  day_or?: boolean;
  active?: boolean;
  parameters?: JsonObject;
  slug?: string;
  /** The slug this schedule had before: renamed in place (keeps its id), as prefect deploy's `replaces`. */
  replaces?: string;
  max_scheduled_runs?: number;
}

export type ConcurrencyManifest = number | { limit: number; collision_strategy?: 'ENQUEUE' | 'CANCEL_NEW'; grace_period_seconds?: number } | null;

/** A deployment as written in a manifest, after defaults, environment overrides and templating. */
export interface DeploymentManifest {
  name: string;
  flow_name?: string;
  entrypoint: string;
  path?: string | null;
  description?: string | null;
  version?: string | null;
  tags?: string[];
  parameters?: JsonObject;
  enforce_parameter_schema?: boolean;
  parameter_openapi_schema?: JsonObject;
  work_pool?: { name?: string | null; work_queue_name?: string | null; job_variables?: JsonObject };
  schedules?: ScheduleManifest[];
  paused?: boolean;
  concurrency_limit?: ConcurrencyManifest;
  pull?: JsonObject[] | null;
  triggers?: JsonObject[];
}

export interface GitopsSettings {
  ignore_differences?: string[];
  environments?: string[];
  overrides?: Record<string, JsonObject>;
  adopt?: boolean;
  protected?: boolean;
}

/** Where a deployment is declared. Plain data, so it can travel inside a saved plan. */
export interface DeclaredAt {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One deployment the manifests declare for the selected environment, ready for planning. */
export interface DesiredDeployment {
  /** `flow_name/name`: unique key of a deployment on a Prefect server. */
  readonly key: string;
  readonly flowName: string;
  readonly name: string;
  readonly manifest: DeploymentManifest;
  readonly adopt: boolean;
  readonly protected: boolean;
  /** JSON pointers (config, environment and deployment) whose live value is kept. */
  readonly ignoreDifferences: readonly string[];
  readonly declaredAt: DeclaredAt;
  /** Where some fields were written, by dotted path (`work_pool.name`), for errors found against the server. */
  readonly fieldsAt?: Readonly<Record<string, DeclaredAt>>;
}

/**
 * A file the loader did not read (hidden, ignored, parked, empty) and the deployment names it
 * declares (or declared, for a file emptied since git last had content in it). Plain data: the
 * planner uses it to say why an owned deployment is no longer declared.
 */
export interface UnreadSource {
  readonly file: string;
  /** Completes "<file>, which declared it, ...": `is in a hidden folder (deploy/.old/) and is not read`. */
  readonly why: string;
  readonly names: readonly string[];
  /** True for a file that is empty now (its names come from git or its file name). */
  readonly emptied?: boolean;
  /** True when the names are only guessed from the file name (no git history to read). */
  readonly guessed?: boolean;
}
