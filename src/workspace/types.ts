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
  readonly reason: 'prune-disabled' | 'protected' | 'prune-refused';
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
}

/** How a workspace object is named in plans, logs and results: `variable "db_host"`. */
export const objectLabel = (o: { readonly kind: WorkspaceKind; readonly key: string }): string => `${o.kind} "${o.key}"`;
