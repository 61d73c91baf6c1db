import type { DeclaredAt } from '../manifests/types.js';
import type { ObjectAction, WorkspaceKind } from './kind.js';

/** A declared workspace object that exists on the server and is not ours: nothing is done to it. */
export interface WorkspaceConflict {
  readonly kind: WorkspaceKind;
  readonly key: string;
  readonly id: string;
  readonly declaredAt: DeclaredAt;
  /** The prefect-gitops owner its tags name; null when none does (made by hand, or an inventory kind). */
  readonly owner: string | null;
  readonly message: string;
}

/** An owned workspace object no longer declared that this plan does not delete, and why. */
export interface WorkspaceOrphan {
  readonly kind: WorkspaceKind;
  readonly key: string;
  readonly id: string;
  /** `held`: its kind holds the delete back (a pool still used by a live deployment), `notes` say why. */
  readonly reason: 'prune-disabled' | 'protected' | 'prune-refused' | 'held';
  readonly notes?: readonly string[];
}

/**
 * The workspace part of a plan (issue 13): every kind but deployments. `actions` are in the order
 * the apply runs them: creates, adoptions and updates by kind order ascending, then deletes by kind
 * order descending (see src/workspace/apply.ts for how they interleave with the deployments').
 */
export interface WorkspacePlan {
  readonly actions: readonly ObjectAction[];
  readonly unchanged: readonly { readonly kind: WorkspaceKind; readonly key: string }[];
  readonly conflicts: readonly WorkspaceConflict[];
  readonly orphans: readonly WorkspaceOrphan[];
  /**
   * Inventory entries the next inventory write drops, with no write of their own: objects listed but
   * gone from the server (and not declared), and objects a prune leaves to the server (a pool's
   * default queue, deleted with its pool).
   */
  readonly forget?: readonly { readonly kind: WorkspaceKind; readonly key: string }[];
}

/** How a workspace object is named in plans, logs and results: `variable "db_host"`. */
export const objectLabel = (o: { readonly kind: WorkspaceKind; readonly key: string }): string => `${o.kind} "${o.key}"`;
