import { DRIFT_LABEL, DRIFT_MARKER, driftIssueTitle } from './drift-markdown.js';
import type { GitHubClient } from './github.js';

export interface DriftIssueOutcome {
  readonly action: 'opened' | 'updated' | 'closed' | 'none';
  readonly number?: number;
  readonly url?: string;
}

/**
 * One open issue per environment tells whether the server has drifted from git. Found by the
 * {@link DRIFT_LABEL} label and the environment's hidden marker in its body: opened when drift
 * appears, its body replaced by the latest report while drift lasts, and closed with a comment
 * once it is gone. Nothing is sent when there is no drift and no open issue.
 *
 * @param body the report, starting with {@link DRIFT_MARKER}(environment).
 * @throws GitHubApiError when GitHub refuses (e.g. the job lacks `issues: write`).
 */
export async function syncDriftIssue(
  github: GitHubClient,
  drift: { environment: string | null; hasDrift: boolean; body: string; resolvedComment: string },
): Promise<DriftIssueOutcome> {
  const marker = DRIFT_MARKER(drift.environment);
  const open = (await github.listIssues({ labels: [DRIFT_LABEL], state: 'open' })).find((i) => i.body.includes(marker));
  if (drift.hasDrift) {
    if (open) {
      const updated = await github.updateIssue(open.number, { title: driftIssueTitle(drift.environment), body: drift.body });
      return { action: 'updated', number: updated.number, url: updated.html_url };
    }
    const created = await github.createIssue({ title: driftIssueTitle(drift.environment), body: drift.body, labels: [DRIFT_LABEL] });
    return { action: 'opened', number: created.number, url: created.html_url };
  }
  if (!open) return { action: 'none' };
  await github.createIssueComment(open.number, drift.resolvedComment);
  const closed = await github.updateIssue(open.number, { state: 'closed', state_reason: 'completed' });
  return { action: 'closed', number: closed.number, url: closed.html_url };
}
