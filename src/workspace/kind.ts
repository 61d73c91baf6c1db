/**
 * Workspace kinds (issue 13): objects a deployment depends on, declared beside deployments.
 *
 * A manifest document with a top-level `kind:` other than `deployment` is a workspace object; a
 * document without `kind` stays a deployment, so existing manifests and prefect.yaml files are
 * unchanged. Each kind is one {@link KindHandler}: offline validation, a live read, a pure diff,
 * and the writes. The framework (src/workspace/plan.ts, apply.ts, inventory.ts) orders kinds by
 * {@link KindHandler.order}, keeps ownership, and puts every kind into the one plan.
 *
 * Types only: the contract between the framework and the kinds.
 */
import type { DeclaredAt } from '../manifests/types.js';
import type { FieldChange } from '../plan/types.js';
import type { ServerCapabilities } from '../prefect/capabilities.js';
import type { PrefectClient } from '../prefect/client.js';
import type { Json, JsonObject } from '../prefect/types.js';
import type { Issue } from '../validate/issue.js';

import { GitopsError } from '../errors.js';

/**
 * Thrown by a kind's `write` when a create finds its name taken by an object that is not the one
 * it made (a 409 read back as someone else's): the object is not ours, so the framework drops the
 * create's intent from the inventory (a create refused with a 4xx is treated the same).
 */
export class ObjectConflictError extends GitopsError {
  override readonly name: string = 'ObjectConflictError';
}

/** The `kind:` values. `deployment` (or no `kind`) is a deployment, handled by the existing code. */
export const WORKSPACE_KINDS = ['work-pool', 'work-queue', 'global-concurrency-limit', 'variable', 'automation'] as const;
export type WorkspaceKind = (typeof WORKSPACE_KINDS)[number];

/** One declared workspace object, after templating (`{{ env.NAME }}`) for the selected environment. */
export interface DesiredObject {
  readonly kind: WorkspaceKind;
  /** Unique within its kind on a server: the name; for a work queue `POOL/QUEUE`. */
  readonly key: string;
  /** The document's fields in Prefect's own names, without `kind` and without `gitops`. */
  readonly spec: JsonObject;
  readonly declaredAt: DeclaredAt;
  /** Where each field (`base_job_template.variables.properties.image.default`, `limit`) is written. */
  readonly fieldsAt: Readonly<Record<string, DeclaredAt>>;
  /** `gitops.adopt: true`: take an existing unowned object of this name. */
  readonly adopt: boolean;
  /** Values redacted everywhere (a variable marked `sensitive: true`). */
  readonly sensitive: boolean;
  /** `gitops.protected: true`: never pruned (kinds with tags also carry the tag prefect-gitops:protected). */
  readonly protected?: boolean;
}

/** One object on the server, as a kind reads it. */
export interface LiveObject {
  readonly kind: WorkspaceKind;
  readonly key: string;
  readonly id: string;
  /** The server's `updated`, where the kind has one. */
  readonly updated: string | null;
  /** The server's record, as read (a kind's diff compares against this). */
  readonly raw: JsonObject;
  /** For kinds with tags (variables; automations on >= 3.4.7): the owner the tags name; else null. */
  readonly taggedOwner: string | null;
}

/** What a kind's handlers may use. */
export interface KindContext {
  readonly owner: string;
  readonly features: ServerCapabilities;
  readonly serverVersion: string;
  /**
   * This owner's inventory on the server (src/workspace/inventory.ts): what earlier applies
   * created or adopted, every kind. `readLive` reads at least the declared keys and these.
   */
  readonly inventory: readonly InventoryEntry[];
  /** The other declared objects (a queue checks its pool; an automation resolves names). */
  readonly desired: readonly DesiredObject[];
  /** The declared deployments' keys (`flow/name`), for automations that name deployments. */
  readonly deploymentKeys: readonly string[];
  /**
   * Every live object read in this run, all kinds (a queue's diff needs its siblings: the server
   * renumbers the other queues of a pool when one queue's priority changes). Optional: set by the
   * framework once it has read live state (`planIssues`, `createBody`, `diff`, `holdDelete`).
   */
  readonly live?: readonly LiveObject[];
  /** `export --kind`: `readLive` reads every object of the kind on the server, not only declared and inventoried ones. */
  readonly all?: boolean;
  /** What each kind's {@link KindHandler.readReference} returned in this run (a pool type's default base job template). */
  readonly reference?: Readonly<Partial<Record<WorkspaceKind, Json>>>;
  /**
   * True when there is no server to ask (`validate`): `validate` then reports what only the server
   * could settle (an automation naming a deployment these manifests do not declare) and says so.
   */
  readonly offline?: boolean;
}

/** One object this owner created or adopted, as its inventory lists it. `id` is null between the intent and the create. */
export interface InventoryEntry {
  readonly kind: WorkspaceKind;
  readonly key: string;
  readonly id: string | null;
  /**
   * `gitops.protected` of a kind without tags, remembered: never pruned, also once its document is
   * gone (kinds with tags carry the tag prefect-gitops:protected instead).
   */
  readonly protected?: true;
}

/** A write to one object. `body` is exactly what the apply sends (the plan tells the truth). */
export interface ObjectAction {
  readonly action: 'create' | 'update' | 'delete' | 'adopt';
  readonly kind: WorkspaceKind;
  readonly key: string;
  /** The live id (update, delete, adopt). */
  readonly id?: string;
  /** The live object's `updated` when planned (update, delete, adopt): a saved plan refuses to apply if it moved. */
  readonly liveUpdated?: string | null;
  readonly declaredAt?: DeclaredAt;
  /**
   * The request body: the POST body for create; the PATCH body (changed fields only, from
   * {@link KindHandler.diff}) for update and adopt (an adopt of an inventory kind may have none:
   * adopting it is recording it in the owner's inventory).
   */
  readonly body?: JsonObject;
  readonly changes: readonly FieldChange[];
  /** Extra lines for the plan, e.g. "used by 3 deployments" or why a delete is held back. */
  readonly notes: readonly string[];
  readonly sensitive: boolean;
  /**
   * Inventory kinds: the protection (`gitops.protected`) to record in the owner's inventory, before
   * any write, when it differs from what the inventory says (or on create and adopt).
   */
  readonly protect?: boolean;
  /** Only the inventory is written (an unchanged object whose protection changed): no request for the object itself. */
  readonly inventoryOnly?: true;
}

/**
 * One kind. `validate` and `diff` are pure; `readLive` reads; `write` is the only thing that writes.
 * Server calls go through `client.request(method, path, body)` in the kind's own module (e.g.
 * src/workspace/kinds/work-pool.ts), so client.ts stays the one HTTP port without growing per kind.
 */
export interface KindHandler {
  readonly kind: WorkspaceKind;
  /** Applied in ascending order, deleted in descending: pools 10, queues 20, limits and variables 30, deployments 50, automations 60. */
  readonly order: number;
  /** The JSON Schema file in schemas/ for a document of this kind (e.g. `variable.schema.json`). */
  readonly schemaFile: string;
  /** The object's key from its (schema-valid, templated) spec: the name; for a work queue `POOL/QUEUE`. */
  keyOf(spec: JsonObject): string;
  /** How ownership is kept: tags on the object (variables), or the owner's inventory on the server. */
  readonly ownership: 'tags' | 'inventory';
  /** Offline checks beyond the schema (a queue naming an undeclared pool is only known with live state: see `planIssues`). */
  validate(objects: readonly DesiredObject[], ctx: KindContext): Issue[];
  /** Why this server cannot hold the kind (or a field of it), as issues at file:line; [] when it can. */
  serverIssues(objects: readonly DesiredObject[], ctx: KindContext): Issue[];
  /** Every object of this kind the server has that could be ours or collide with ours. */
  readLive(client: PrefectClient, ctx: KindContext): Promise<LiveObject[]>;
  /** Issues that need live state (a queue's pool neither declared nor on the server). */
  planIssues(objects: readonly DesiredObject[], live: readonly LiveObject[], ctx: KindContext): Issue[];
  /** The create body for a declared object. */
  createBody(object: DesiredObject, ctx: KindContext): JsonObject;
  /**
   * Optional: how a create is shown, when the body's fields are not the best reading (a work pool's
   * base job template as the defaults of its variables, not the whole template). Default: the body's fields.
   */
  createChanges?(object: DesiredObject, body: JsonObject, ctx: KindContext): readonly FieldChange[];
  /** The changed fields and the PATCH body; null when nothing differs (no write). Server defaults are not differences. */
  diff(object: DesiredObject, live: LiveObject, ctx: KindContext): { readonly body: JsonObject; readonly changes: readonly FieldChange[] } | null;
  /**
   * Optional: read-only server data the kind's pure functions need besides its objects (work pools:
   * the default base job template of each declared type). The framework calls it once per run
   * before `readLive`, and passes the result as `ctx.reference[kind]`.
   */
  readReference?(client: PrefectClient, ctx: KindContext): Promise<Json>;
  /** Optional: plan notes for an object (create or update), e.g. "used by 3 deployments". */
  notes?(object: DesiredObject, live: LiveObject | undefined, ctx: KindContext): readonly string[];
  /**
   * Optional: why an owned object must not be deleted now (a pool still used by a live deployment
   * that this plan does not delete), as plan notes; [] when it may be deleted. A held-back delete
   * is not in the plan's actions; the plan says why.
   */
  holdDelete?(live: LiveObject, ctx: HoldContext): readonly string[];
  /**
   * Optional: objects a prune leaves on the server and drops from the inventory, with no write (a
   * pool's `default` queue: Prefect keeps it as long as the pool, and deletes it with the pool).
   */
  forgetOnPrune?(live: LiveObject): boolean;
  /**
   * Optional: the order this kind's creates and updates are sent in, one at a time (otherwise the
   * framework sends them concurrently). Work queues: ascending priority, so the server's renumbering of a pool's
   * queues converges in one apply.
   */
  orderActions?(actions: readonly ObjectAction[]): readonly ObjectAction[];
  /**
   * Performs one action; returns the object's id (create/adopt) for the inventory. A create whose
   * name is taken (409) must not take the object over: unless it is provably the one this create
   * made (its answer was lost), it throws.
   */
  write(client: PrefectClient, action: ObjectAction, ctx: KindContext): Promise<{ readonly id: string | undefined }>;
  /** The manifest document `export --kind` writes for a live object; export-then-plan is empty. */
  exportDocument(live: LiveObject): { readonly kind: WorkspaceKind } & Record<string, Json>;
}

/** Where a declared deployment runs once this plan is applied: its work pool and queue as declared. */
export interface DeclaredPlacement {
  readonly pool: string | null;
  readonly queue: string | null;
}

/** What {@link KindHandler.holdDelete} knows about the deployments after this plan. */
export interface HoldContext extends KindContext {
  /** Live deployments this plan deletes. */
  readonly deletingDeploymentIds: ReadonlySet<string>;
  /** Declared deployment key (`flow/name`) -> where it runs after the apply (it may move off, or onto, a pool or queue). */
  readonly declaredPlacements: ReadonlyMap<string, DeclaredPlacement>;
}
