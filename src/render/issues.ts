import { jsonSafe } from './escape.js';
import { formatIssue, type Issue } from '../validate/issue.js';

/** Issues as text lines, followed by a one-line summary. Pure. */
/** Issues as `file:line:column: severity: message` lines, without a summary. Pure. */
export function renderIssueLines(issues: readonly Issue[]): string {
  return issues.map((i) => `${formatIssue(i)}\n`).join('');
}

export function renderIssuesText(issues: readonly Issue[], filesChecked: number, deployments: number): string {
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  const lines = issues.map(formatIssue);
  const summary =
    errors === 0
      ? `OK: ${deployments} deployment${deployments === 1 ? '' : 's'} in ${filesChecked} file${filesChecked === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}.`
      : `${errors} error${errors === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''} in ${filesChecked} file${filesChecked === 1 ? '' : 's'}; nothing was sent to Prefect.`;
  return [...lines, summary].join('\n') + '\n';
}

export function renderIssuesJson(issues: readonly Issue[]): string {
  const errors = issues.filter((i) => i.severity === 'error').length;
  return jsonSafe(JSON.stringify({ valid: errors === 0, errors, warnings: issues.length - errors, issues }, null, 2)) + '\n';
}
