import { jsonSafe } from './escape.js';
import { formatIssue, type Issue } from '../validate/issue.js';
import type { SkipReason, SkippedPath } from '../manifests/discover.js';

/** What the loader read and skipped, for `validate`. */
export interface FilesReport {
  readonly read: readonly string[];
  readonly skipped: readonly SkippedPath[];
  /** List every skipped path rather than a count per reason. */
  readonly verbose: boolean;
}

const SKIP_LABEL: Record<SkipReason, string> = {
  hidden: 'hidden',
  ignored: 'ignored',
  'not-manifest': 'not .yaml/.yml',
  empty: 'empty',
  'tool-folder': 'tool folder',
  duplicate: 'duplicate link',
  'symlink-cycle': 'symlink cycle',
};

/**
 * `read 7 files; skipped 3: 1 hidden, 2 ignored (use --verbose to list)`, or with `verbose` that
 * line followed by one line per skipped path. Empty when nothing was skipped and not verbose. Pure.
 */
export function renderFilesText(report: FilesReport): string {
  const n = report.skipped.length;
  if (n === 0 && !report.verbose) return '';
  const counts = new Map<SkipReason, number>();
  for (const s of report.skipped) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1);
  const read = `read ${report.read.length} file${report.read.length === 1 ? '' : 's'}`;
  const byReason = [...counts].map(([reason, count]) => `${count} ${SKIP_LABEL[reason]}`).join(', ');
  const head = n === 0 ? `${read}; skipped none` : `${read}; skipped ${n}: ${byReason}${report.verbose ? '' : ' (use --verbose to list)'}`;
  const lines = report.verbose ? report.skipped.map((s) => `  skipped ${s.path} (${s.detail})`) : [];
  return [head, ...lines].join('\n') + '\n';
}

/** Issues as text lines, followed by a one-line summary. Pure. */
/** Issues as `file:line:column: severity: message` lines, without a summary. Pure. */
export function renderIssueLines(issues: readonly Issue[]): string {
  return issues.map((i) => `${formatIssue(i)}\n`).join('');
}

export function renderIssuesText(issues: readonly Issue[], filesChecked: number, deployments: number, objects = 0): string {
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  const lines = issues.map(formatIssue);
  const summary =
    errors === 0
      ? `OK: ${deployments} deployment${deployments === 1 ? '' : 's'}${objects ? ` and ${objects} workspace object${objects === 1 ? '' : 's'}` : ''} in ${filesChecked} file${filesChecked === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}.`
      : `${errors} error${errors === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''} in ${filesChecked} file${filesChecked === 1 ? '' : 's'}; nothing was sent to Prefect.`;
  return [...lines, summary].join('\n') + '\n';
}

export function renderIssuesJson(issues: readonly Issue[], files?: Omit<FilesReport, 'verbose'>): string {
  const errors = issues.filter((i) => i.severity === 'error').length;
  const listed = files ? { files: files.read, skipped: files.skipped } : {};
  return jsonSafe(JSON.stringify({ valid: errors === 0, errors, warnings: issues.length - errors, issues, ...listed }, null, 2)) + '\n';
}
