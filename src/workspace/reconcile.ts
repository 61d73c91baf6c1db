/**
 * The workspace part of reconcile(): reads the owner's inventory and the live objects of every kind
 * that is declared or inventoried, refuses what the server cannot hold (located errors, nothing
 * written), and plans.
 */
import { ValidationFailedError } from '../errors.js';
import type { PrefectClient } from '../prefect/client.js';
import type { Plan } from '../plan/types.js';
import type { Json } from '../prefect/types.js';
import type { Issue } from '../validate/issue.js';
import type { DeclaredPlacement, DesiredObject, KindContext, LiveObject, WorkspaceKind } from './kind.js';
import { readInventory } from './inventory.js';
import { planWorkspace, withWorkspace, type GuardOptions, type WorkspaceLive } from './plan.js';
import { handlersInOrder } from './registry.js';

export interface WorkspaceState {
  readonly desired: readonly DesiredObject[];
  readonly live: WorkspaceLive;
  readonly ctx: KindContext;
}

/**
 * Reads what the workspace plan needs: the inventory (one request; a 404 when the owner has none)
 * and, per kind that is declared or listed in it, the kind's live objects.
 *
 * @throws ValidationFailedError when this server cannot hold a declared object (its kind, a field
 * or a value): located at the document, before anything is written.
 */
export async function fetchWorkspaceState(client: PrefectClient, desired: readonly DesiredObject[], owner: string, deploymentKeys: readonly string[]): Promise<WorkspaceState> {
  const base = { owner, features: client.capabilities, serverVersion: client.serverVersion, desired, deploymentKeys };
  const handlers = handlersInOrder();
  const offline: KindContext = { ...base, inventory: [] };
  const problems: Issue[] = [];
  for (const h of handlers) {
    const mine = desired.filter((d) => d.kind === h.kind);
    if (mine.length > 0) problems.push(...h.serverIssues(mine, offline));
  }
  throwIfErrors(problems, client.serverVersion);
  const inventory = await readInventory(client, owner);
  const wanted = (kind: WorkspaceKind): boolean => desired.some((d) => d.kind === kind) || inventory.entries.some((e) => e.kind === kind);
  const reference: Partial<Record<WorkspaceKind, Json>> = {};
  for (const h of handlers) if (h.readReference && wanted(h.kind)) reference[h.kind] = await h.readReference(client, { ...base, inventory: inventory.entries });
  const reading: KindContext = { ...base, inventory: inventory.entries, reference };
  const objects = new Map<WorkspaceKind, readonly LiveObject[]>();
  for (const h of handlers) objects.set(h.kind, wanted(h.kind) ? await h.readLive(client, reading) : []);
  // Every live object read, all kinds: a kind's pure functions may need its siblings (queues of a pool).
  const ctx: KindContext = { ...reading, live: [...objects.values()].flat() };
  for (const h of handlers) {
    const mine = desired.filter((d) => d.kind === h.kind);
    if (mine.length > 0) problems.push(...h.planIssues(mine, objects.get(h.kind) ?? [], ctx));
  }
  throwIfErrors(problems, client.serverVersion);
  return { desired, live: { objects, inventory: inventory.entries }, ctx };
}

function throwIfErrors(problems: readonly Issue[], serverVersion: string): void {
  const errors = problems.filter((i) => i.severity === 'error');
  if (errors.length === 0) return;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  throw new ValidationFailedError([...problems], `this Prefect server (${serverVersion}) cannot hold what the manifests declare: ${errors[0]!.message}${more}; nothing was written`);
}

/** Adds the workspace part to a deployments' plan (see withWorkspace). */
export function planWithWorkspace(
  plan: Plan,
  state: WorkspaceState,
  options: Omit<GuardOptions, 'ownedDeployments'> & { readonly prune: boolean; readonly adoptAll: boolean; readonly ownedDeployments: number; readonly declaredPlacements?: ReadonlyMap<string, DeclaredPlacement> },
): Plan {
  const deletingDeploymentIds = new Set(plan.actions.flatMap((a) => (a.kind === 'delete' && a.orphanedAutomationOf === undefined ? [a.id] : [])));
  const draft = planWorkspace(state.desired, state.live, { owner: plan.owner, prune: options.prune, adoptAll: options.adoptAll, ctx: state.ctx, deletingDeploymentIds, ...(options.declaredPlacements ? { declaredPlacements: options.declaredPlacements } : {}) });
  return withWorkspace(plan, draft, options);
}
