import type { Operation } from 'fast-json-patch';
import type { DeclaredAt, UnreadSource } from '../manifests/types.js';
import type { DesiredTrigger } from './triggers.js';
import type { DeploymentUpdateBody, Json, JsonObject, ScheduleCreateBody, ScheduleUpdateBody } from '../prefect/types.js';
import type { ServerCapabilities } from '../prefect/capabilities.js';
import type { WorkspacePlan } from '../workspace/types.js';

/** One field that differs, with the live value and the value the apply will write. */
export interface FieldChange {
  /** Field name (`paused`) or `schedules[slug]`. */
  readonly field: string;
  readonly before: Json | undefined;
  readonly after: Json | undefined;
}

export interface ScheduleOps {
  readonly create: readonly ScheduleCreateBody[];
  readonly update: readonly { readonly id: string; readonly slug: string; readonly body: ScheduleUpdateBody }[];
  readonly delete: readonly { readonly id: string; readonly slug: string | null }[];
}

interface Target {
  readonly key: string;
  readonly flowName: string;
  readonly name: string;
}

/** What a create and an adoption both write: the full deployment, its schedules, its triggers. */
interface DeploymentWrite extends Target {
  readonly declaredAt: DeclaredAt;
  /** POST /deployments/ body without `flow_id` (resolved at apply time) and without schedules. */
  readonly body: JsonObject;
  readonly schedules: readonly ScheduleCreateBody[];
  /** Automations to create once the deployment id is known. */
  readonly triggers: readonly DesiredTrigger[];
  readonly changes: readonly FieldChange[];
}

/** Create a deployment: ensure its flow, POST it, then POST its schedules (which keeps max_scheduled_runs). */
export interface CreateAction extends DeploymentWrite {
  readonly kind: 'create';
}

/** Update in place: one PATCH of the changed fields (if any), then per-schedule operations. */
export interface UpdateAction extends Target {
  readonly kind: 'update';
  readonly id: string;
  readonly declaredAt: DeclaredAt;
  /** The live deployment's `updated` when planned: a saved plan refuses to apply if it moved. */
  readonly liveUpdated: string;
  /** Who last changed the live deployment, where Prefect records it (`updated_by`). */
  readonly lastUpdatedBy: string | null;
  readonly patch: DeploymentUpdateBody;
  /**
   * Set instead of a PATCH where the server cannot PATCH a changed field (pull_steps or
   * parameter_openapi_schema before Prefect 3.2): the whole deployment, written by a POST upsert
   * (without `flow_id`), which drops its schedules; `scheduleOps` then creates all of them.
   */
  readonly upsert?: JsonObject;
  readonly scheduleOps: ScheduleOps;
  /** Present when the triggers changed: the deployment's automations are replaced by these. */
  readonly replaceTriggers: readonly DesiredTrigger[] | null;
  readonly changes: readonly FieldChange[];
  readonly jsonPatch: readonly Operation[];
}

/**
 * Take ownership of an existing deployment we do not own: a POST upsert with the full desired state
 * and our ownership label (labels can only be written by POST). Prefect deletes and recreates its
 * schedules and its future scheduled runs.
 */
export interface AdoptAction extends DeploymentWrite {
  readonly kind: 'adopt';
  readonly id: string;
  readonly liveUpdated: string;
  readonly previousOwner: string | null;
}

/**
 * Prune: delete the deployment's owned automations, then the deployment. Runs after everything else.
 * With `orphanedAutomationOf` set it deletes one of our automations instead (`id` is the
 * automation's, `key` is `automation "NAME"`): its deployment, that id, was deleted outside
 * prefect-gitops. That happens with prune, and also without it when this plan re-creates a
 * deployment with a trigger of the same name (else the old automation would sit next to the new one).
 */
export interface DeleteAction extends Target {
  readonly kind: 'delete';
  readonly id: string;
  readonly liveUpdated: string;
  readonly lastUpdatedBy: string | null;
  readonly orphanedAutomationOf?: string;
  /** Why it is no longer declared, when a file that was not read names it (see UnreadSource). */
  readonly whyUndeclared?: string;
}

export type PlanAction = CreateAction | UpdateAction | AdoptAction | DeleteAction;

/** A declared deployment that exists on the server but is not ours: nothing is done to it. */
export interface Conflict extends Target {
  readonly id: string;
  readonly declaredAt: DeclaredAt;
  readonly owner: string | null;
  readonly message: string;
}

/** An owned deployment no longer declared that this plan does not delete, and why. */
export interface Orphan extends Target {
  readonly id: string;
  readonly reason: 'prune-disabled' | 'protected' | 'prune-refused';
  readonly whyUndeclared?: string;
}

export interface PlanSummary {
  readonly add: number;
  readonly change: number;
  readonly delete: number;
  readonly adopt: number;
  readonly unchanged: number;
  readonly conflicts: number;
}

/** The plan: a serialisable value. `apply` executes exactly `actions`, in order, and nothing else. */
export interface Plan {
  readonly formatVersion: 1;
  readonly owner: string;
  readonly environment: string | null;
  readonly serverVersion: string;
  /** The prefect-gitops version that made the plan. */
  readonly toolVersion?: string;
  readonly actions: readonly PlanAction[];
  readonly unchanged: readonly string[];
  readonly conflicts: readonly Conflict[];
  readonly orphans: readonly Orphan[];
  /**
   * Set when a prune safeguard held deletes back: then the whole apply is refused (nothing is
   * written, exit 1), and this says why and how to proceed.
   */
  readonly pruneRefused: string | null;
  readonly warnings: readonly string[];
  /** Summary over every kind (deployments and workspace objects). */
  readonly summary: PlanSummary;
  /** Workspace objects (variables, work pools, ...: src/workspace/); absent in plans without any. */
  readonly workspace?: WorkspacePlan;
}

export interface PlanOptions {
  readonly owner: string;
  readonly environment?: string;
  readonly serverVersion: string;
  readonly toolVersion?: string;
  readonly prune: boolean;
  readonly maxDeletes: number;
  readonly maxDeleteRatio: number;
  readonly allowMassDelete: boolean;
  /** Adopt every declared deployment that exists unowned (`--adopt`), not only those with `gitops.adopt`. */
  readonly adoptAll: boolean;
  /** What the server accepts (`client.capabilities`): request bodies reject unknown fields. */
  readonly features: ServerCapabilities;
  /** Files the loader skipped and the names they declare, to say why a deployment is gone. */
  readonly unread?: readonly UnreadSource[];
}
