import type { DriftReport } from '../plan/drift.js';
import { forDisplay } from '../render/escape.js';
import type { Json } from '../prefect/types.js';
import { htmlCode, utf8Bytes } from '../render/shared.js';

/** The label every drift issue carries; with the per-environment marker it finds the issue again. */
export const DRIFT_LABEL = 'prefect-gitops-drift';

/** Hidden in the drift issue's body: one open issue per environment. */
export const DRIFT_MARKER = (environment?: string | null): string => `<!-- prefect-gitops-drift${environment ? `:${environment}` : ''} -->`;

export const driftIssueTitle = (environment?: string | null): string => `Prefect deployments drifted from git${environment ? ` (${environment})` : ''}`;

export interface DriftMarkdownOptions {
  readonly secrets: readonly string[];
  /**
   * The result never exceeds this many UTF-8 bytes, and so neither this many characters: one
   * budget serves an issue body (65,536 characters) and a job summary (1 MiB).
   */
  readonly maxLength?: number;
  readonly now: Date;
  /** Where the complete report is (the run's job summary), for when this one is cut short. */
  readonly runUrl?: string;
  /** Put first, hidden (the issue marker). */
  readonly marker?: string;
}

const VALUE_MAX = 120;

function value(v: Json | undefined): string {
  if (v === undefined) return '<i>absent</i>';
  const text = JSON.stringify(v);
  return htmlCode(text.length > VALUE_MAX ? `${text.slice(0, VALUE_MAX - 1)}…` : text);
}

/**
 * The drift report as GitHub markdown, for the job summary and the drift issue. Each changed
 * deployment lists every drifted field with git's value and the live one. Pure; secrets and
 * sensitive-looking values are redacted. When the report does not fit `maxLength`, whole entries
 * are left out and counted, with a pointer to the run.
 */
export function renderDriftMarkdown(input: DriftReport, options: DriftMarkdownOptions): string {
  const report = forDisplay(input, options.secrets);
  const maxLength = options.maxLength ?? 65_536;
  const counts = `${report.changed.length} changed, ${report.missing.length} missing, ${report.orphaned.length} orphaned, ${report.unmanaged.length} unmanaged`;
  const head = [
    ...(options.marker ? [options.marker] : []),
    `## Prefect drift${report.environment ? `: ${htmlCode(report.environment)}` : ''}`,
    '',
    `Owner ${htmlCode(report.owner)}${report.environment ? `, environment ${htmlCode(report.environment)}` : ''}; checked ${options.now.toISOString()}.`,
    '',
    report.hasDrift ? `**Drift: ${counts}.** The next apply puts the server back to what git declares.` : '**No drift: the server matches git.**',
  ];

  // Each block is one entry (or a section heading); blocks are added whole while they fit.
  const blocks: { text: string; entry: boolean }[] = [];
  const section = (title: string, entries: string[]): void => {
    if (entries.length === 0) return;
    blocks.push({ text: `\n### ${title} (${entries.length})`, entry: false });
    for (const e of entries) blocks.push({ text: e, entry: true });
  };
  section(
    'Changed on the server',
    report.changed.map((c) => {
      const who = c.updatedBy ? ` by ${htmlCode(c.updatedBy)}` : '';
      const rows = c.changes.map((f) => `| ${htmlCode(f.field)} | ${value(f.after)} | ${value(f.before)} |`);
      return [`\n**${htmlCode(c.key)}**, declared at ${htmlCode(`${c.declaredAt.file}:${c.declaredAt.line}`)}; last updated ${c.updated}${who}`, '', '| field | in git | live |', '|---|---|---|', ...rows].join('\n');
    }),
  );
  section('Missing from the server', report.missing.map((m) => `- ${htmlCode(m.key)}: declared at ${htmlCode(`${m.declaredAt.file}:${m.declaredAt.line}`)}, absent from the server`));
  section('Orphaned', report.orphaned.map((o) => `- ${htmlCode(o.key)}: ${o.automationOf === undefined ? `owned by ${htmlCode(report.owner)}, no longer declared` : `an automation of ${htmlCode(report.owner)} whose deployment ${htmlCode(o.automationOf)} was deleted outside prefect-gitops`}`));
  section(
    'Unmanaged',
    report.unmanaged.map((u) => `- ${htmlCode(u.key)}: ${u.owner ? `owned by ${htmlCode(u.owner)}` : 'not created by prefect-gitops'}${u.declared ? ', but declared in git (a conflict)' : ', in a declared flow'}`),
  );

  const footer = (left: number): string =>
    left > 0 ? `\n\n_…and ${left} more entr${left === 1 ? 'y' : 'ies'} not shown here${options.runUrl ? `: the [run's job summary](${options.runUrl}) lists them all` : ''}._\n` : '\n';
  const total = blocks.filter((b) => b.entry).length;
  let text = head.join('\n');
  let size = utf8Bytes(text);
  let shown = 0;
  // Room for the longest footer, so adding it can never push the text over the limit.
  const budget = maxLength - utf8Bytes(footer(total)) - 16;
  for (const block of blocks) {
    const added = utf8Bytes(block.text) + 1;
    if (size + added > budget) break;
    text += `\n${block.text}`;
    size += added;
    if (block.entry) shown++;
  }
  return text + footer(total - shown);
}

/** The comment left on the drift issue when it is closed because the drift is gone. */
export function renderDriftResolvedComment(environment: string | null, options: { now: Date; runUrl?: string }): string {
  const run = options.runUrl ? ` ([run](${options.runUrl}))` : '';
  return `No drift any more: the server matches git${environment ? ` for ${htmlCode(environment)}` : ''} as of ${options.now.toISOString()}${run}. Closing this issue; prefect-gitops opens a new one if drift comes back.`;
}
