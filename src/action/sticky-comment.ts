import type { GitHubClient } from './github.js';

export interface StickyCommentResult {
  readonly id: number;
  readonly url: string;
  readonly action: 'created' | 'updated';
}

/**
 * Keeps one comment per pull request and marker (one per environment): the first comment whose
 * body carries the hidden `marker` is edited in place on every run, "no changes" included, so
 * the thread holds the latest plan and no history of stale ones. A comment is created only when
 * none carries the marker.
 */
export async function upsertStickyComment(github: GitHubClient, pullRequest: number, marker: string, body: string): Promise<StickyCommentResult> {
  const text = body.includes(marker) ? body : `${marker}\n${body}`;
  const existing = (await github.listIssueComments(pullRequest)).find((c) => c.body.includes(marker));
  if (existing) {
    const updated = await github.updateIssueComment(existing.id, text);
    return { id: updated.id, url: updated.html_url, action: 'updated' };
  }
  const created = await github.createIssueComment(pullRequest, text);
  return { id: created.id, url: created.html_url, action: 'created' };
}
