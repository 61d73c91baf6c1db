import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { Plan, PlanAction } from './types.js';
import type { ObjectAction } from '../workspace/kind.js';

/**
 * A plan saved for a later apply (`plan --out`). It holds the redacted plan to show and one
 * fingerprint per action: a hash of the complete action, including the live `updated` time it was
 * planned against and every value it would write. Secrets are never stored; `apply plan.json`
 * plans again from the same manifests and applies only actions whose fingerprint is unchanged, so
 * what runs is exactly what was reviewed.
 */
export interface SavedPlan {
  readonly kind: 'prefect-gitops-plan';
  readonly formatVersion: 1;
  readonly createdAt: string;
  readonly manifests: string;
  readonly environment: string | null;
  /** The options the plan was made with; apply reuses them so the same plan comes out. */
  readonly options: SavedPlanOptions;
  readonly plan: Plan;
  readonly fingerprints: Readonly<Record<string, string>>;
}

export interface SavedPlanOptions {
  readonly prune: boolean | null;
  readonly maxDeletes: number | null;
  readonly allowMassDelete: boolean;
  readonly adoptAll: boolean;
  /** `--owner` of a bare prefect.yaml project. */
  readonly owner: string | null;
  /** `--set` values of prefect.yaml step outputs. */
  readonly stepOutputs: Readonly<Record<string, string>>;
  /** `--target` globs; absent when the plan covered every declared deployment. */
  readonly targets?: readonly string[];
}

export const actionId = (a: PlanAction): string => `${a.kind}:${a.key}`;

/**
 * sha256 over what applying the action would send and the live state it was planned against (ids,
 * `liveUpdated`): not where the manifest declares it or how the change is displayed, so moving a
 * manifest or adding a comment line does not make a reviewed plan stale.
 */
export function fingerprint(action: PlanAction): string {
  const { declaredAt: _at, changes: _changes, jsonPatch: _patch, whyUndeclared: _why, ...sent } = action as PlanAction & { declaredAt?: unknown; changes?: unknown; jsonPatch?: unknown; whyUndeclared?: unknown };
  return createHash('sha256').update(canonicalJson(sent)).digest('hex');
}

/** A workspace object's action in `fingerprints`: `workspace:update:variable:db_host`. */
export const objectActionId = (a: ObjectAction): string => `workspace:${a.action}:${a.kind}:${a.key}`;

/** {@link fingerprint} of a workspace action: what it sends and the live object it was planned against. */
export function objectFingerprint(action: ObjectAction): string {
  const { declaredAt: _at, changes: _changes, notes: _notes, ...sent } = action;
  return createHash('sha256').update(canonicalJson(sent)).digest('hex');
}

/**
 * The saved workspace actions that are exactly today's (by fingerprint); the others are stale, and
 * today's actions the saved plan did not have are left out.
 */
export function matchSavedWorkspace(saved: SavedPlan, fresh: Plan): { apply: ObjectAction[]; stale: StaleEntry[]; unplanned: ObjectAction[] } {
  const today = fresh.workspace?.actions ?? [];
  const freshById = new Map(today.map((a) => [objectActionId(a), a]));
  const apply: ObjectAction[] = [];
  const stale: StaleEntry[] = [];
  for (const [id, expected] of Object.entries(saved.fingerprints)) {
    if (!id.startsWith('workspace:')) continue;
    const now = freshById.get(id);
    const key = id.split(':').slice(2).join(' ');
    if (!now) stale.push({ id, key, reason: `${key} no longer needs this change (it was applied or changed since the plan)` });
    else if (objectFingerprint(now) === expected) apply.push(now);
    else stale.push({ id, key, reason: `${key} changed since the plan (on the server or in the manifests)` });
  }
  const order = new Map(today.map((a, i) => [objectActionId(a), i]));
  apply.sort((a, b) => order.get(objectActionId(a))! - order.get(objectActionId(b))!);
  return { apply, stale, unplanned: today.filter((a) => !(objectActionId(a) in saved.fingerprints)) };
}

export function toSavedPlan(plan: Plan, redacted: Plan, meta: { manifests: string; now: Date; options: SavedPlan['options'] }): SavedPlan {
  return {
    kind: 'prefect-gitops-plan',
    formatVersion: 1,
    createdAt: meta.now.toISOString(),
    manifests: meta.manifests,
    environment: plan.environment,
    options: meta.options,
    plan: redacted,
    fingerprints: Object.fromEntries([...plan.actions.map((a) => [actionId(a), fingerprint(a)]), ...(plan.workspace?.actions ?? []).map((a) => [objectActionId(a), objectFingerprint(a)])]),
  };
}

export interface StaleEntry {
  readonly id: string;
  readonly key: string;
  readonly reason: string;
  /** What a plan made now would do instead, if anything. */
  readonly fresh?: PlanAction;
}

/**
 * Which of today's actions are exactly the saved ones. Saved actions that no longer match are
 * stale; today's actions the saved plan did not contain are left out (plan again to see them).
 */
export function matchSavedPlan(saved: SavedPlan, fresh: Plan): { apply: PlanAction[]; stale: StaleEntry[]; unplanned: PlanAction[] } {
  const freshById = new Map(fresh.actions.map((a) => [actionId(a), a]));
  const savedById = new Map(saved.plan.actions.map((a) => [actionId(a), a]));
  const apply: PlanAction[] = [];
  const stale: StaleEntry[] = [];
  for (const [id, expected] of Object.entries(saved.fingerprints)) {
    if (id.startsWith('workspace:')) continue;
    const before = savedById.get(id);
    const now = freshById.get(id);
    const key = before?.key ?? id.slice(id.indexOf(':') + 1);
    if (!now) {
      const other = fresh.actions.find((a) => a.key === key);
      stale.push({ id, key, reason: other ? `the plan for ${key} is now "${other.kind}" instead of "${before?.kind}"` : `${key} no longer needs this change (it was applied or changed since the plan)`, ...(other ? { fresh: other } : {}) });
    } else if (fingerprint(now) === expected) {
      apply.push(now);
    } else {
      const liveMoved = before && 'liveUpdated' in before && 'liveUpdated' in now && before.liveUpdated !== now.liveUpdated;
      stale.push({
        id,
        key,
        reason: liveMoved
          ? `${key} changed on the server since the plan (updated ${(before as { liveUpdated: string }).liveUpdated}, now ${(now as { liveUpdated: string }).liveUpdated})`
          : `the manifests for ${key} changed since the plan`,
        fresh: now,
      });
    }
  }
  const unplanned = fresh.actions.filter((a) => !(actionId(a) in saved.fingerprints));
  // Keep the plan's order: creates, adoptions, updates, then deletes.
  const order = new Map(fresh.actions.map((a, i) => [actionId(a), i]));
  apply.sort((a, b) => order.get(actionId(a))! - order.get(actionId(b))!);
  return { apply, stale, unplanned };
}
