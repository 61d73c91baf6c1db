import { escapeControl } from '../render/escape.js';

/** One validation problem, located in a file. Validation returns these; it never throws for bad input. */
export interface Issue {
  /** Path relative to the manifest directory's parent as given by the user (what they would click on). */
  readonly file: string;
  /** 1-based; 0 (with column 0) when the problem has no position, e.g. a file that does not exist. */
  readonly line: number;
  readonly column: number;
  /** JSON pointer-ish path of the offending field inside the document, e.g. `schedules[0].cron`. */
  readonly path: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

/** The message with its field; messages usually name the field already, so only when they do not. */
export function issueMessage(issue: Issue): string {
  return issue.path && !issue.message.includes(issue.path) ? `${issue.message} (${issue.path})` : issue.message;
}

/** One line; control characters in the file name or message (a quoted value) are shown escaped. */
export function formatIssue(issue: Issue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return escapeControl(`${where}: ${issue.severity}: ${issueMessage(issue)}`);
}
