import type { LiveDeployment } from '../prefect/types.js';
import type { DeclaredAt } from '../manifests/types.js';
import { ownerOf } from './ownership.js';
import type { LiveState } from './plan.js';
import type { FieldChange, Plan } from './types.js';

/** Live state compared with git, classified. Derived from a plan, so it agrees with it exactly. */
export interface DriftReport {
  readonly owner: string;
  readonly environment: string | null;
  /** Owned and declared, but a live field differs. */
  readonly changed: readonly { key: string; id: string; declaredAt: DeclaredAt; changes: readonly FieldChange[]; updated: string; updatedBy: string | null }[];
  /** Declared, absent from the server. */
  readonly missing: readonly { key: string; declaredAt: DeclaredAt }[];
  /** Owned, no longer declared; or (`automationOf` set) our automation whose deployment, that id, was deleted outside prefect-gitops. */
  readonly orphaned: readonly { key: string; id: string; automationOf?: string }[];
  /** Not owned by us, in a declared flow (declared under that name, or not declared at all). */
  readonly unmanaged: readonly { key: string; id: string; owner: string | null; declared: boolean }[];
  readonly hasDrift: boolean;
}

/** Classifies what a plan would do as drift. Pure. */
export function driftReport(plan: Plan, live: LiveState, declaredFlows: ReadonlySet<string>): DriftReport {
  const marker = live.ownership ?? 'label';
  const changed: DriftReport['changed'][number][] = plan.actions.flatMap((a) =>
    a.kind === 'update' ? [{ key: a.key, id: a.id, declaredAt: a.declaredAt, changes: a.changes, updated: a.liveUpdated, updatedBy: a.lastUpdatedBy }] : [],
  );
  const missing: DriftReport['missing'][number][] = plan.actions.flatMap((a) => (a.kind === 'create' ? [{ key: a.key, declaredAt: a.declaredAt }] : []));
  const orphaned: DriftReport['orphaned'][number][] = [
    ...plan.actions.flatMap((a) => (a.kind === 'delete' ? [{ key: a.key, id: a.id, ...(a.orphanedAutomationOf !== undefined ? { automationOf: a.orphanedAutomationOf } : {}) }] : [])),
    ...plan.orphans.map((o) => ({ key: o.key, id: o.id })),
  ].sort((a, b) => a.key.localeCompare(b.key));
  const declared = new Set([...plan.unchanged, ...plan.actions.map((a) => a.key), ...plan.conflicts.map((c) => c.key)]);
  const unmanaged: DriftReport['unmanaged'][number][] = [
    ...plan.conflicts.map((c) => ({ key: c.key, id: c.id, owner: c.owner, declared: true })),
    ...plan.actions.flatMap((a) => (a.kind === 'adopt' ? [{ key: a.key, id: a.id, owner: a.previousOwner, declared: true }] : [])),
    ...[...live.deployments.entries()]
      .filter(([key, d]) => !declared.has(key) && ownerOf(d, marker) !== plan.owner && declaredFlows.has(key.slice(0, key.indexOf('/'))))
      .map(([key, d]: [string, LiveDeployment]) => ({ key, id: d.id, owner: ownerOf(d, marker) ?? null, declared: false })),
  ].sort((a, b) => a.key.localeCompare(b.key));
  // Workspace objects (src/workspace/), named `variable "x"`: the same four classes.
  const ws = plan.workspace;
  if (ws) {
    const label = (o: { kind: string; key: string }): string => `${o.kind} "${o.key}"`;
    for (const a of ws.actions) {
      if (a.action === 'update') changed.push({ key: label(a), id: a.id!, declaredAt: a.declaredAt!, changes: a.changes, updated: a.liveUpdated ?? '', updatedBy: null });
      else if (a.action === 'create') missing.push({ key: label(a), declaredAt: a.declaredAt! });
      else if (a.action === 'delete') orphaned.push({ key: label(a), id: a.id! });
      else unmanaged.push({ key: label(a), id: a.id!, owner: null, declared: true });
    }
    orphaned.push(...ws.orphans.map((o) => ({ key: label(o), id: o.id })));
    unmanaged.push(...ws.conflicts.map((c) => ({ key: label(c), id: c.id, owner: c.owner, declared: true })));
  }
  return {
    owner: plan.owner,
    environment: plan.environment,
    changed,
    missing,
    orphaned,
    unmanaged,
    hasDrift: changed.length + missing.length + orphaned.length + unmanaged.length > 0,
  };
}
