/**
 * The workspace planner: one pure function over every registered kind (desired objects, live
 * objects, the owner's inventory) -> actions, conflicts, orphans; and the merge of that into the
 * one Plan with the deployments' part, prune safeguards counted over both.
 */
import type { DeleteAction, FieldChange, Plan, PlanAction } from '../plan/types.js';
import { REDACTED } from '../render/redact.js';
import type { DeclaredPlacement, DesiredObject, InventoryEntry, KindContext, KindHandler, LiveObject, ObjectAction, WorkspaceKind } from './kind.js';
import { PROTECTED_TAG } from './ownership.js';
import { handlersInOrder } from './registry.js';
import { objectLabel, type WorkspaceConflict, type WorkspaceOrphan, type WorkspacePlan } from './types.js';

export interface WorkspaceLive {
  /** Per kind, what its handler read (`readLive`). */
  readonly objects: ReadonlyMap<WorkspaceKind, readonly LiveObject[]>;
  readonly inventory: readonly InventoryEntry[];
}

export interface WorkspacePlanOptions {
  readonly owner: string;
  readonly prune: boolean;
  /** `--adopt`: take every declared object that exists and is not ours (also from another owner). */
  readonly adoptAll: boolean;
  readonly ctx: KindContext;
  /** Handlers to plan with (default: every registered kind, in order). */
  readonly handlers?: readonly KindHandler[];
  /** Deployments this plan deletes (a pool they use may go with them: KindHandler.holdDelete). */
  readonly deletingDeploymentIds?: ReadonlySet<string>;
  /** Declared deployments' pools and queues after the apply (KindHandler.holdDelete). */
  readonly declaredPlacements?: ReadonlyMap<string, DeclaredPlacement>;
}

/** The workspace plan before the prune safeguards: `deletable` still to be judged with the deployments' deletes. */
export interface WorkspaceDraft {
  readonly writes: readonly ObjectAction[];
  readonly deletable: readonly ObjectAction[];
  readonly unchanged: readonly { readonly kind: WorkspaceKind; readonly key: string }[];
  readonly conflicts: readonly WorkspaceConflict[];
  readonly orphans: readonly WorkspaceOrphan[];
  /** Inventory entries to drop at the next write: listed but gone (and undeclared), or left to the server on prune (forgetOnPrune). */
  readonly forget: readonly { readonly kind: WorkspaceKind; readonly key: string }[];
  /** Owned objects on the server (for the delete ratio). */
  readonly owned: number;
  readonly declared: number;
}

/** Whether `owner` owns a live object: by its tags, or by being listed in the owner's inventory (same id; an intent by key). */
export function ownsObject(handler: KindHandler, live: LiveObject, owner: string, inventory: readonly InventoryEntry[]): boolean {
  if (handler.ownership === 'tags') return live.taggedOwner === owner;
  return inventory.some((e) => e.kind === live.kind && e.key === live.key && (e.id === null || e.id === live.id));
}

/** A sensitive object's values are never in a plan: every field but its name and tags is shown redacted. */
function safeChanges(object: { sensitive: boolean }, changes: readonly FieldChange[]): FieldChange[] {
  if (!object.sensitive) return [...changes];
  const hide = (v: FieldChange['before']): FieldChange['before'] => (v === undefined ? undefined : REDACTED);
  return changes.map((c) => (c.field === 'name' || c.field === 'tags' ? c : { ...c, before: hide(c.before), after: hide(c.after) }));
}

/** Plans every kind. Pure and synchronous. */
export function planWorkspace(desired: readonly DesiredObject[], live: WorkspaceLive, options: WorkspacePlanOptions): WorkspaceDraft {
  const handlers = options.handlers ?? handlersInOrder();
  const writes: ObjectAction[] = [];
  const deletable: ObjectAction[] = [];
  const unchanged: { kind: WorkspaceKind; key: string }[] = [];
  const conflicts: WorkspaceConflict[] = [];
  const orphans: WorkspaceOrphan[] = [];
  const forget: { kind: WorkspaceKind; key: string }[] = [];
  let owned = 0;
  for (const handler of handlers) {
    const kindWrites: ObjectAction[] = [];
    const mine = desired.filter((d) => d.kind === handler.kind).sort((a, b) => a.key.localeCompare(b.key));
    const lives = live.objects.get(handler.kind) ?? [];
    const byKey = new Map(lives.map((l) => [l.key, l]));
    const declared = new Set(mine.map((d) => d.key));
    // Kinds without tags keep `gitops.protected` in the inventory entry (see InventoryEntry.protected).
    const remembered = (key: string): boolean => handler.ownership === 'inventory' && live.inventory.some((e) => e.kind === handler.kind && e.key === key && e.protected === true);
    for (const d of mine) {
      const existing = byKey.get(d.key);
      const base = { kind: d.kind, key: d.key, declaredAt: d.declaredAt, sensitive: d.sensitive };
      const wantProtected = handler.ownership === 'inventory' && d.protected === true;
      const protect = handler.ownership === 'inventory' && wantProtected !== remembered(d.key) ? { protect: wantProtected } : {};
      if (!existing) {
        const body = handler.createBody(d, options.ctx);
        kindWrites.push({ ...base, action: 'create', body, changes: safeChanges(d, handler.createChanges?.(d, body, options.ctx) ?? Object.entries(body).map(([field, after]) => ({ field, before: undefined, after }))), notes: handler.notes?.(d, undefined, options.ctx) ?? [], ...protect });
        continue;
      }
      if (ownsObject(handler, existing, options.owner, live.inventory)) {
        const diff = handler.diff(d, existing, options.ctx);
        if (diff) kindWrites.push({ ...base, action: 'update', id: existing.id, liveUpdated: existing.updated, body: diff.body, changes: safeChanges(d, diff.changes), notes: handler.notes?.(d, existing, options.ctx) ?? [], ...protect });
        else if ('protect' in protect) {
          kindWrites.push({
            ...base,
            action: 'update',
            id: existing.id,
            liveUpdated: existing.updated,
            body: {},
            changes: [{ field: 'gitops.protected', before: !wantProtected, after: wantProtected }],
            notes: [`only the owner's inventory is written (${wantProtected ? 'never pruned from now on, also once its document is removed' : 'pruned again once no longer declared'}); the ${d.kind} itself is not`],
            ...protect,
            inventoryOnly: true,
          });
        } else unchanged.push({ kind: d.kind, key: d.key });
        continue;
      }
      const owner = existing.taggedOwner;
      if ((d.adopt && owner === null) || options.adoptAll) {
        const diff = handler.diff(d, existing, options.ctx);
        const from = owner === null ? 'not created by prefect-gitops' : `taken over from owner "${owner}"`;
        kindWrites.push({ ...base, action: 'adopt', id: existing.id, liveUpdated: existing.updated, body: diff?.body ?? {}, changes: safeChanges(d, diff?.changes ?? []), notes: [from, ...(handler.notes?.(d, existing, options.ctx) ?? [])], ...protect });
        continue;
      }
      const whose = owner === null ? 'was not created by prefect-gitops' : `is owned by another prefect-gitops owner ("${owner}")`;
      conflicts.push({
        kind: d.kind,
        key: d.key,
        id: existing.id,
        declaredAt: d.declaredAt,
        owner,
        message: `${objectLabel(d)} already exists on the server and ${whose}; nothing will be changed. To manage it from git, adopt it: add \`gitops: {adopt: true}\` to its document or run with --adopt`,
      });
    }
    for (const l of [...lives].sort((a, b) => a.key.localeCompare(b.key))) {
      if (!ownsObject(handler, l, options.owner, live.inventory)) continue;
      owned++;
      if (declared.has(l.key)) continue;
      const tags = Array.isArray(l.raw.tags) ? l.raw.tags : [];
      const held = options.prune ? (handler.holdDelete?.(l, { ...options.ctx, deletingDeploymentIds: options.deletingDeploymentIds ?? new Set(), declaredPlacements: options.declaredPlacements ?? new Map() }) ?? []) : [];
      if (!options.prune) orphans.push({ kind: l.kind, key: l.key, id: l.id, reason: 'prune-disabled' });
      else if (tags.includes(PROTECTED_TAG) || remembered(l.key)) orphans.push({ kind: l.kind, key: l.key, id: l.id, reason: 'protected' });
      else if (handler.forgetOnPrune?.(l)) forget.push({ kind: l.kind, key: l.key });
      else if (held.length > 0) orphans.push({ kind: l.kind, key: l.key, id: l.id, reason: 'held', notes: held });
      else deletable.push({ action: 'delete', kind: l.kind, key: l.key, id: l.id, liveUpdated: l.updated, changes: [], notes: [], sensitive: false });
    }
    writes.push(...(handler.orderActions ? handler.orderActions(kindWrites) : kindWrites));
    // Listed in the inventory but gone from the server, and not declared: nothing to do but forget it.
    const liveKeys = new Set(lives.map((l) => l.key));
    for (const e of live.inventory) if (e.kind === handler.kind && !liveKeys.has(e.key) && !declared.has(e.key)) forget.push({ kind: e.kind, key: e.key });
  }
  // Deletes run in reverse kind order: automations before deployments before queues before pools.
  const rank = new Map(handlers.map((h, i) => [h.kind, i]));
  deletable.sort((a, b) => rank.get(b.kind)! - rank.get(a.kind)! || a.key.localeCompare(b.key));
  return { writes, deletable, unchanged, conflicts, orphans, forget, owned, declared: desired.length };
}

export interface GuardOptions {
  readonly maxDeletes: number;
  readonly maxDeleteRatio: number;
  readonly allowMassDelete: boolean;
  /** Deployments declared (the empty-directory guard counts every kind). */
  readonly declaredDeployments: number;
  /** Owned deployments on the server. */
  readonly ownedDeployments: number;
}

/**
 * The one Plan: the deployments' plan with the workspace part added, and the prune safeguards
 * (max deletes, ratio, nothing declared) judged over deletes of every kind. A refusal holds every
 * delete back (deployments' and workspace objects') and refuses the whole apply, as before.
 */
export function withWorkspace(plan: Plan, draft: WorkspaceDraft, options: GuardOptions): Plan {
  const deploymentDeletes = plan.actions.filter((a): a is DeleteAction => a.kind === 'delete' && a.orphanedAutomationOf === undefined);
  let pruneRefused = plan.pruneRefused;
  let actions: readonly PlanAction[] = plan.actions;
  let orphans = plan.orphans;
  const n = draft.deletable.length;
  if (pruneRefused === null && n > 0 && !options.allowMassDelete) {
    const total = n + deploymentDeletes.length;
    const owned = draft.owned + options.ownedDeployments;
    const nothing = 'nothing will be written';
    const lift = 'review the deletes, then use --allow-mass-delete';
    if (draft.declared + options.declaredDeployments === 0) pruneRefused = `the manifests declare nothing, so prune would delete all ${total} owned object${total === 1 ? '' : 's'} (is the manifest directory or environment right?); ${nothing}; ${lift}`;
    else if (total > options.maxDeletes) pruneRefused = `prune would delete ${total} objects (${deploymentDeletes.length} deployments, ${n} workspace objects) > max_deletes ${options.maxDeletes}; ${nothing}; ${lift} or raise max_deletes`;
    else if (total > 1 && total / owned > options.maxDeleteRatio) {
      pruneRefused = `prune would delete ${total} of ${owned} owned objects (${Math.round((total / owned) * 100)}%) > max_delete_ratio ${Math.round(options.maxDeleteRatio * 100)}%; ${nothing}; ${lift} or raise max_delete_ratio`;
    }
    if (pruneRefused !== null) {
      // Held back like the planner holds back deployment deletes.
      actions = plan.actions.filter((a) => !(deploymentDeletes as readonly PlanAction[]).includes(a));
      orphans = [...plan.orphans, ...deploymentDeletes.map((d) => ({ key: d.key, flowName: d.flowName, name: d.name, id: d.id, reason: 'prune-refused' as const, ...(d.whyUndeclared ? { whyUndeclared: d.whyUndeclared } : {}) }))];
    }
  }
  const deletes = pruneRefused === null ? draft.deletable : [];
  const wsOrphans = pruneRefused === null ? draft.orphans : [...draft.orphans, ...draft.deletable.map((d) => ({ kind: d.kind, key: d.key, id: d.id!, reason: 'prune-refused' as const }))];
  const workspace: WorkspacePlan = { actions: [...draft.writes, ...deletes], unchanged: draft.unchanged, conflicts: draft.conflicts, orphans: wsOrphans, ...(draft.forget.length ? { forget: draft.forget } : {}) };
  const removedDeletes = plan.actions.length - actions.length;
  const count = (a: ObjectAction['action']): number => workspace.actions.filter((x) => x.action === a).length;
  const s = plan.summary;
  const empty = workspace.actions.length + workspace.unchanged.length + workspace.conflicts.length + workspace.orphans.length + (workspace.forget?.length ?? 0) === 0;
  return {
    ...plan,
    actions,
    orphans,
    pruneRefused,
    // Absent when the manifests declare no workspace object and the owner has none: plans of deployments only keep their shape.
    ...(empty ? {} : { workspace }),
    summary: {
      add: s.add + count('create'),
      change: s.change + count('update'),
      delete: s.delete - removedDeletes + count('delete'),
      adopt: s.adopt + count('adopt'),
      unchanged: s.unchanged + draft.unchanged.length,
      conflicts: s.conflicts + draft.conflicts.length,
    },
  };
}

/** Whether a plan writes anything (deployments or workspace objects). */
export const workspaceHasChanges = (plan: Plan): boolean => (plan.workspace?.actions.length ?? 0) > 0;
