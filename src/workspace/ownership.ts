import { ownerTag, PROTECTED_TAG } from '../plan/ownership.js';

export { ownerTag, PROTECTED_TAG };

/** Marks a workspace object whose values are redacted (a variable with `sensitive: true`), so export and drift know it too. */
export const SENSITIVE_TAG = 'prefect-gitops:sensitive';

/** prefect-gitops' own variables (the apply lock, name claims, inventories): never managed, listed or pruned as variables. */
export const RESERVED_VARIABLE_PREFIXES = ['prefect-gitops-', 'prefect_gitops_'] as const;
export const isReservedVariableName = (name: string): boolean => RESERVED_VARIABLE_PREFIXES.some((p) => name.startsWith(p));

const MARKER_PREFIX = 'prefect-gitops:';
/** Marker tags that are not owners (`prefect-gitops:lock`, ...); owner ids have no `:`. */
const NOT_OWNERS = new Set([PROTECTED_TAG, SENSITIVE_TAG, 'prefect-gitops:lock', 'prefect-gitops:claim']);

/**
 * The owner the tags of a workspace object name (`prefect-gitops:<owner>`), as for deployments on
 * servers without labels. None, or several (someone copied tags), is null: not ours.
 */
export function ownerFromTags(tags: readonly string[]): string | null {
  const owners = tags.filter((t) => t.startsWith(MARKER_PREFIX) && !NOT_OWNERS.has(t) && !t.slice(MARKER_PREFIX.length).includes(':')).map((t) => t.slice(MARKER_PREFIX.length));
  return owners.length === 1 ? owners[0]! : null;
}

/** Tags a user wrote (not our markers). */
export const userTags = (tags: readonly string[]): string[] => tags.filter((t) => !t.startsWith(MARKER_PREFIX));
