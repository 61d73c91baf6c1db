import type { LiveDeployment } from '../prefect/types.js';

/**
 * Ownership marker. The label is authoritative: labels can only be written by POST (create or
 * upsert), never by PATCH, so our PATCH-only updates cannot lose it and a UI edit of tags cannot
 * forge or remove it. The tag mirrors it because Prefect filters deployments by tag server-side
 * but not by label: it narrows what we list, while the label decides what we may delete.
 */
export const OWNER_LABEL = 'prefect-gitops.owner';
export const ownerTag = (owner: string): string => `prefect-gitops:${owner}`;
/** A deployment carrying this tag is never pruned (set by `gitops.protected`, or by hand in the UI). */
export const PROTECTED_TAG = 'prefect-gitops:protected';

export function ownerOf(live: LiveDeployment): string | undefined {
  return live.labels?.[OWNER_LABEL];
}

/** Tags we manage ourselves and therefore keep out of "user tags". */
export function isMarkerTag(tag: string): boolean {
  return tag.startsWith('prefect-gitops:');
}
