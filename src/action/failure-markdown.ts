import { escapeHtml, htmlCode, issueMessage, utf8Bytes } from '../render/shared.js';
import { escapeControl, escapeControlDeep } from '../render/escape.js';
import type { Issue } from '../validate/issue.js';

export interface FailureMarkdownOptions {
  /** Put first (the sticky comment's marker). */
  readonly marker?: string;
  readonly environment?: string;
  /** Maps an issue's file to the path shown (relative to the checkout). */
  readonly toPath: (file: string) => string;
  /** In UTF-8 bytes (so also in characters); default 65,536. */
  readonly maxLength?: number;
  readonly runUrl?: string;
}

/**
 * Says that the manifests are invalid and lists every problem at its `file:line:column`. Rows that
 * do not fit `maxLength` are counted instead (the annotations and the log have them all). Pure.
 */
export function renderValidationFailedMarkdown(input: readonly Issue[], options: FailureMarkdownOptions): string {
  const issues = escapeControlDeep(input);
  const maxLength = options.maxLength ?? 65_536;
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  const head = [
    ...(options.marker ? [options.marker] : []),
    `## prefect-gitops: validation failed${options.environment ? ` for ${htmlCode(options.environment)}` : ''}`,
    '',
    `**${errors} error${errors === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''} in the manifests; nothing was sent to Prefect.** Fix them and push again.`,
    '',
    '| | where | problem |',
    '|---|---|---|',
  ].join('\n');
  const rows = issues.map((i) => {
    const where = `${options.toPath(i.file)}:${i.line}:${i.column}`;
    return `| ${i.severity === 'error' ? 'error' : 'warning'} | ${htmlCode(where)} | ${escapeCell(issueMessage(i))} |`;
  });
  const footer = (left: number): string => (left > 0 ? `\n\n_…and ${left} more; the step's annotations and log list them all${options.runUrl ? ` ([run](${options.runUrl}))` : ''}._\n` : '\n');
  let text = head;
  let size = utf8Bytes(head);
  let shown = 0;
  const budget = maxLength - utf8Bytes(footer(rows.length)) - 16;
  for (const row of rows) {
    if (size + utf8Bytes(row) + 1 > budget) break;
    text += `\n${row}`;
    size += utf8Bytes(row) + 1;
    shown++;
  }
  return text + footer(rows.length - shown);
}

/** Says that a command failed before it could show a plan (server unreachable, refused branch, ...). Pure. */
export function renderFailureMarkdown(command: string, message: string, options: { marker?: string; environment?: string }): string {
  return [
    ...(options.marker ? [options.marker] : []),
    `## prefect-gitops ${command} failed${options.environment ? ` for ${htmlCode(options.environment)}` : ''}`,
    '',
    '~~~text',
    escapeControl(message.length > 2000 ? `${message.slice(0, 1999)}…` : message, { keepLayout: true }).replace(/~~~/g, '~ ~ ~'),
    '~~~',
    '',
  ].join('\n');
}

/** Free text in a table cell: inert HTML, no cell-splitting pipes or @mentions, one line. Backticks stay: messages mark names as code. */
function escapeCell(text: string): string {
  return escapeHtml(text).replace(/\|/g, '&#124;').replace(/@/g, '&#64;').replace(/\r?\n/g, ' ');
}
