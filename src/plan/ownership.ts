import type { LiveDeployment } from '../prefect/types.js';

/**
 * Ownership marker. Where the server has deployment labels (Prefect 3.1.5+) the label is
 * authoritative: labels can only be written by POST (create or upsert), never by PATCH, so our
 * PATCH-only updates cannot lose it and a UI edit of tags cannot forge or remove it. The tag
 * mirrors it because Prefect filters deployments by tag server-side but not by label: it narrows
 * what we list, while the label decides what we may delete.
 *
 * Servers without labels (Prefect 3.0.x, 3.1.0-3.1.4, 2.x) have only the owner tag, so there the
 * tag is the marker. It is weaker: anyone who edits the deployment's tags in the UI can remove it
 * (the deployment is then no longer ours: plan and drift report it as not made by prefect-gitops,
 * and prune leaves it alone) or add it (prune would then delete it).
 */
export const OWNER_LABEL = 'prefect-gitops.owner';
const MARKER_PREFIX = 'prefect-gitops:';
export const ownerTag = (owner: string): string => `${MARKER_PREFIX}${owner}`;
/** A deployment carrying this tag is never pruned (set by `gitops.protected`, or by hand in the UI). */
export const PROTECTED_TAG = 'prefect-gitops:protected';

/** Which marker says who owns a deployment on a server: `label` where deployments have labels, else `tag`. */
export type OwnershipMarker = 'label' | 'tag';

/** The marker a server with these capabilities uses (`client.capabilities`). */
export const ownershipMarker = (capabilities: { readonly labels: boolean }): OwnershipMarker => (capabilities.labels ? 'label' : 'tag');

/**
 * Who owns a live deployment: the owner label, or on a server without labels the owner tag
 * (`prefect-gitops:<owner>`; the protected and trigger tags are not owners). Several owner tags
 * (someone copied tags between deployments) make the owner unknown: `undefined`, i.e. not ours.
 */
export function ownerOf(live: LiveDeployment, marker: OwnershipMarker): string | undefined {
  if (marker === 'label') return live.labels?.[OWNER_LABEL];
  const owners = (live.tags ?? []).filter(isOwnerTag).map((t) => t.slice(MARKER_PREFIX.length));
  return owners.length === 1 ? owners[0] : undefined;
}

function isOwnerTag(tag: string): boolean {
  return tag.startsWith(MARKER_PREFIX) && tag !== PROTECTED_TAG && !tag.startsWith(`${MARKER_PREFIX}trigger:`);
}

/** Tags we manage ourselves and therefore keep out of "user tags". */
export function isMarkerTag(tag: string): boolean {
  return tag.startsWith(MARKER_PREFIX);
}
