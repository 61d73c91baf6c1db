import type { ActionResult, ApplyResult } from '../apply/apply.js';
import { forDisplay } from './escape.js';
import type { Json } from '../prefect/types.js';
import type { Plan, PlanAction } from '../plan/types.js';
import { isSensitiveKey, redact } from './redact.js';
import { planFacts, shownChanges, warningText, type PlanFacts, type ShownChange } from './facts.js';
import { formatRun } from './schedule-meaning.js';
import { code, diffRows, escapeHtml, htmlCode, PAST_TENSE, utf8Bytes, yamlText } from './shared.js';
import { summaryLine } from './text.js';

/** GitHub rejects an issue or pull request comment longer than this many characters. */
export const COMMENT_MAX_LENGTH = 65_536;
/** GitHub's limit for one step's job summary is 1 MiB (bytes); this leaves room for what else the step writes. */
export const SUMMARY_MAX_LENGTH = 1_000_000;

/** How a limit is counted: a comment in characters (UTF-16 code units), a job summary in UTF-8 bytes. */
type Measure = (text: string) => number;
const characters: Measure = (text) => text.length;

/**
 * The hidden first line of the sticky plan comment, one per pull request and environment: the
 * Action finds its comment by it and updates it in place.
 */
export const COMMENT_MARKER = (environment?: string | null): string =>
  `<!-- prefect-gitops:plan${environment ? ` env=${environment.replace(/[^\w.:/@+-]/g, '_').replace(/-{2,}/g, (dashes) => '_'.repeat(dashes.length))}` : ''} -->`;

export interface PlanMarkdownOptions {
  /** The time the plan is shown for: next run times are computed from it. */
  readonly now: Date;
  /** Values never to show (API key, auth string); sensitive-looking keys are always hidden. */
  readonly secrets?: readonly string[];
  /** The result is never longer: characters for a comment, UTF-8 bytes for a job summary. */
  readonly maxLength?: number;
  /** Deployment key -> number of its future scheduled runs on the server now. */
  readonly scheduledRuns?: Readonly<Record<string, number>>;
  /** Heading; default `prefect-gitops plan` (+ ` for <environment>`). */
  readonly title?: string;
}

export interface PlanCommentOptions extends PlanMarkdownOptions {
  /** Link to the job summary, which holds the full plan when the comment has to leave diffs out. */
  readonly summaryUrl?: string;
}

export interface ApplySummaryOptions {
  readonly secrets?: readonly string[];
  /** In UTF-8 bytes; default 1,000,000. */
  readonly maxLength?: number;
  readonly title?: string;
}

/**
 * The plan as a pull request comment: the marker first, a summary table, callouts for deletes,
 * adoptions, conflicts and refused prunes, warnings, then one collapsible diff per deployment.
 * When that is longer than `maxLength` (default 65,536), diffs are left out but every deployment is
 * still named with its changed fields, and the comment points to the job summary; when even that
 * does not fit, it lists as many deployments as fit and says how many more there are. The result is
 * never longer than `maxLength`. Pure; everything shown is redacted.
 */
export function renderPlanComment(plan: Plan, options: PlanCommentOptions): string {
  return renderPlanMarkdown(plan, 'comment', options.maxLength ?? COMMENT_MAX_LENGTH, characters, options);
}

/**
 * The plan for the job summary: the same content as the comment, without the marker, with every
 * diff; the same fallbacks apply at `maxLength` UTF-8 bytes (default 1,000,000; GitHub allows 1 MiB).
 */
export function renderPlanSummary(plan: Plan, options: PlanMarkdownOptions): string {
  return renderPlanMarkdown(plan, 'summary', options.maxLength ?? SUMMARY_MAX_LENGTH, utf8Bytes, options);
}

// ---------------------------------------------------------------------------------------------
// Markdown building blocks.

/**
 * Free text from the planner, made inert: no HTML tags or entities, except inside the `code spans`
 * messages use for names and commands (where markdown shows text as it is).
 */
const prose = (s: string): string =>
  s
    .split(/(`[^`\n]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/&(?=#?\w+;)/g, '&amp;').replace(/</g, '&lt;')))
    .join('');

/** A GFM table cell: pipes split cells even inside code spans, and a newline would end the row. */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');

/** A code block whose fence is longer than any backtick run inside it. */
function codeBlock(language: string, lines: readonly string[]): string {
  const longest = Math.max(2, ...lines.flatMap((l) => l.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return [`${fence}${language}`, ...lines, fence].join('\n');
}

const quote = (lines: readonly string[]): string => lines.map((l) => (l === '' ? '>' : `> ${l}`)).join('\n');
const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;

// ---------------------------------------------------------------------------------------------
// The plan.

type Mode = 'comment' | 'summary';
/** How much detail fits: everything; no diffs; as many names as fit. */
type Level = 'full' | 'compact' | 'names';

interface Context {
  /** Redacted. */
  readonly plan: Plan;
  /** Not redacted: only to tell which sensitive values changed, never shown. */
  readonly original: Plan;
  readonly mode: Mode;
  readonly now: Date;
  /** Redacted; by index into plan.actions. */
  readonly facts: PlanFacts;
  readonly title: string;
  readonly summaryUrl: string | undefined;
}

const SIGN = { create: '+', update: '~', adopt: '>', delete: '-' } as const;

function renderPlanMarkdown(input: Plan, mode: Mode, maxLength: number, measure: Measure, options: PlanCommentOptions): string {
  const secrets = options.secrets ?? [];
  const plan = forDisplay(input, secrets);
  const environment = plan.environment;
  const ctx: Context = {
    plan,
    original: input,
    mode,
    now: options.now,
    facts: forDisplay(planFacts(input, { now: options.now, ...(options.scheduledRuns ? { scheduledRuns: options.scheduledRuns } : {}) }), secrets),
    title: forDisplay(options.title ?? `prefect-gitops plan${environment ? ` for ${environment}` : ''}`, secrets),
    summaryUrl: mode === 'comment' && options.summaryUrl ? redact(options.summaryUrl, secrets) : undefined,
  };
  const limit = Math.max(0, Math.floor(maxLength));
  // Redact the finished text too: a secret could only reappear by being put together from parts,
  // and redaction can lengthen the text, so the length check comes after it.
  for (const level of ['full', 'compact'] as const) {
    const rendered = renderLevel(ctx, level, { limit, measure });
    if (rendered === undefined) continue;
    const text = redact(rendered, secrets);
    if (measure(text) <= limit) return text;
  }
  return cut(redact(renderNames(ctx, limit, measure), secrets), limit, measure);
}

/** Hard cut, for a limit too small for even the summary; never splits a surrogate pair. */
function cut(text: string, limit: number, measure: Measure): string {
  if (measure(text) <= limit) return text;
  // The longest prefix that fits (bytes grow with characters, so bisect).
  let lo = 0;
  let hi = Math.min(text.length, limit);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(text.slice(0, mid)) <= limit) lo = mid;
    else hi = mid - 1;
  }
  const end = lo > 0 && /[\uD800-\uDBFF]/.test(text.charAt(lo - 1)) ? lo - 1 : lo;
  return text.slice(0, end);
}

const hasNothingToDo = (plan: Plan): boolean =>
  plan.actions.length === 0 && plan.conflicts.length === 0 && plan.pruneRefused === null && (plan.workspace?.actions.length ?? 0) === 0 && (plan.workspace?.conflicts.length ?? 0) === 0;

/**
 * One level of detail; undefined when the full level's diffs alone already overflow `budget.limit`
 * (rendering the rest of ten thousand diffs only to throw them away is most of the cost).
 */
function renderLevel(ctx: Context, level: 'full' | 'compact', budget?: { limit: number; measure: Measure }): string | undefined {
  const blocks = [...head(ctx), ...callouts(ctx, level), ...warnings(ctx, level)];
  if (ctx.plan.actions.length > 0) {
    if (level === 'full') {
      blocks.push('#### Changes');
      let size = 0;
      for (const [i, a] of ctx.plan.actions.entries()) {
        if (a.kind === 'delete') continue;
        const block = details(ctx, a, i);
        size += budget ? budget.measure(block) : 0;
        if (budget && size > budget.limit) return undefined;
        blocks.push(block);
      }
    } else {
      blocks.push(pointer(ctx), '#### Changes', ctx.plan.actions.map((a, i) => listItem(ctx, a, i)).join('\n'));
    }
  }
  if (level === 'full' && ctx.summaryUrl && !hasNothingToDo(ctx.plan)) blocks.push(`The full plan is also in the [job summary](${ctx.summaryUrl}).`);
  return blocks.join('\n\n') + '\n';
}

/** Heading, summary table, callouts as counts, then as many deployments as fit in `limit`. */
function renderNames(ctx: Context, limit: number, measure: Measure): string {
  const fixed = [...head(ctx), ...callouts(ctx, 'names'), ...warnings(ctx, 'names')];
  const items = ctx.plan.actions.map((a, i) => ({ a, i })).sort((x, y) => PRIORITY[x.a.kind] - PRIORITY[y.a.kind] || x.i - y.i);
  if (items.length === 0) return fixed.join('\n\n') + '\n';
  fixed.push(pointer(ctx), '#### Changes');
  const prefix = fixed.join('\n\n') + '\n\n';
  const total = items.length;
  const more = (n: number): string => `\n\n… and ${n} more deployment${n === 1 ? '' : 's'}, listed in ${ctx.mode === 'comment' ? 'the job summary' : 'the plan output of the job log'}.\n`;
  const lines: string[] = [];
  let size = measure(prefix);
  for (const { a, i } of items) {
    const line = listItem(ctx, a, i);
    const remaining = total - lines.length - 1;
    const reserve = remaining > 0 ? measure(more(remaining)) : 1;
    const added = (lines.length > 0 ? 1 : 0) + measure(line);
    if (size + added + reserve > limit) break;
    size += added;
    lines.push(line);
  }
  const left = total - lines.length;
  return prefix + lines.join('\n') + (left > 0 ? more(left) : '\n');
}

const PRIORITY = { delete: 0, adopt: 1, create: 2, update: 3 } as const;

function head(ctx: Context): string[] {
  const { plan } = ctx;
  const out: string[] = [];
  if (ctx.mode === 'comment') out.push(COMMENT_MARKER(plan.environment));
  out.push(`### ${prose(ctx.title)}`);
  const when = formatRun(ctx.now, 'UTC').replace(/^\w+ /, '');
  const meta = `Owner ${code(plan.owner)}${plan.environment ? ` · environment ${code(plan.environment)}` : ''} · Prefect ${prose(plan.serverVersion)}${plan.toolVersion ? ` · prefect-gitops ${prose(plan.toolVersion)}` : ''} · planned ${when}`;
  if (hasNothingToDo(plan)) {
    const s = plan.summary;
    const objects = plan.workspace?.unchanged.length ?? 0;
    out.push(`✅ **No changes.** ${plural(s.unchanged - objects, 'deployment')}${objects ? ` and ${plural(objects, 'workspace object')}` : ''} up to date.`, `<sub>${meta}</sub>`);
    return out;
  }
  const s = plan.summary;
  out.push(
    [
      '| to add | to change | to delete | to adopt | unchanged | conflicts |',
      '|---:|---:|---:|---:|---:|---:|',
      `| ${s.add} | ${s.change} | ${s.delete} | ${s.adopt} | ${s.unchanged} | ${s.conflicts} |`,
    ].join('\n'),
    `**${prose(summaryLine(plan))}**`,
    `<sub>${meta}</sub>`,
  );
  return out;
}

const ORPHAN_REASON = {
  'prune-disabled': 'prune is off',
  protected: 'protected',
  'prune-refused': 'held back by a prune safeguard',
} as const;

function callouts(ctx: Context, level: Level): string[] {
  const { plan } = ctx;
  const out: string[] = [];
  const names = level !== 'names';
  // Up front: a refused prune means none of the changes below will be applied.
  if (plan.pruneRefused) out.push(quote(['[!CAUTION]', `**Apply refused**: ${prose(plan.pruneRefused)}. Apply exits with an error.`]));
  const deletes = plan.actions.flatMap((a, i) => (a.kind === 'delete' ? [{ a, i }] : []));
  if (deletes.length > 0) {
    out.push(
      quote([
        '[!CAUTION]',
        `**${plural(deletes.length, 'deployment')} will be deleted** (owned by ${code(plan.owner)}, no longer declared in the manifests), with ${deletes.length === 1 ? 'its' : 'their'} schedules and owned automations${names ? ':' : '; they are listed below.'}`,
        ...(names ? deletes.map(({ a, i }) => `- ${code(a.key)}${scheduledNote(ctx, i)}${a.kind === 'delete' && a.whyUndeclared ? `: ${prose(a.whyUndeclared)}` : ''}`) : []),
      ]),
    );
  }
  const adopts = plan.actions.filter((a) => a.kind === 'adopt');
  if (adopts.length > 0) {
    out.push(
      quote([
        '[!CAUTION]',
        `**${plural(adopts.length, 'deployment')} will be adopted**: ${adopts.length === 1 ? 'it is' : 'they are'} rewritten from the manifests, and Prefect recreates ${adopts.length === 1 ? 'its' : 'their'} schedules and deletes ${adopts.length === 1 ? 'its' : 'their'} future scheduled runs${names ? ':' : '; they are listed below.'}`,
        ...(names ? adopts.map((a) => `- ${code(a.key)} (${a.previousOwner ? `taken over from owner ${code(a.previousOwner)}` : 'not created by prefect-gitops'})`) : []),
      ]),
    );
  }
  if (plan.conflicts.length > 0) {
    out.push(
      quote([
        '[!WARNING]',
        `**${plural(plan.conflicts.length, 'conflict')}**: ${plan.conflicts.length === 1 ? 'this deployment exists' : 'these deployments exist'} on the server but ${plan.conflicts.length === 1 ? 'is' : 'are'} not owned by ${code(plan.owner)}; nothing is done to ${plan.conflicts.length === 1 ? 'it' : 'them'}.`,
        ...(names ? plan.conflicts.map((c) => `- ${code(c.key)} (${prose(c.declaredAt.file)}:${c.declaredAt.line}): ${prose(c.message)}`) : []),
      ]),
    );
  }
  out.push(...workspaceBlocks(plan, names));
  if (plan.orphans.length > 0) {
    out.push(
      quote([
        '[!NOTE]',
        `**${plural(plan.orphans.length, 'owned deployment')} no longer declared ${plan.orphans.length === 1 ? 'is' : 'are'} not deleted**${names ? ':' : '.'}`,
        ...(names ? plan.orphans.map((o) => `- ${code(o.key)}: ${ORPHAN_REASON[o.reason]}${o.whyUndeclared ? `; ${prose(o.whyUndeclared)}` : ''}`) : []),
      ]),
    );
  }
  return out;
}

const WS_ORPHAN_REASON = { ...ORPHAN_REASON, held: 'held back' } as const;

/** A workspace change on one line: `value: "eu" → "us"`. */
const shortChange = (c: { field: string; before?: Json | undefined; after?: Json | undefined }): string => {
  const show = (v: Json | undefined): string => (v === undefined ? '∅' : code(truncate(JSON.stringify(v), 80)));
  return c.before === undefined ? `${prose(c.field)}: ${show(c.after)}` : `${prose(c.field)}: ${show(c.before)} → ${show(c.after)}`;
};
const truncate = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Workspace objects (variables, work pools, ...): deletes and adoptions as cautions, the rest as one list; counts only at the `names` level. */
function workspaceBlocks(plan: Plan, names: boolean): string[] {
  const ws = plan.workspace;
  if (!ws || ws.actions.length + ws.conflicts.length + ws.orphans.length === 0) return [];
  const out: string[] = [];
  const label = (o: { kind: string; key: string }): string => `${prose(o.kind)} ${code(o.key)}`;
  const deletes = ws.actions.filter((a) => a.action === 'delete');
  if (deletes.length > 0) {
    out.push(quote(['[!CAUTION]', `**${plural(deletes.length, 'workspace object')} will be deleted** (owned by ${code(plan.owner)}, no longer declared)${names ? ':' : '.'}`, ...(names ? deletes.map((a) => `- ${label(a)}`) : [])]));
  }
  const writes = ws.actions.filter((a) => a.action !== 'delete');
  if (writes.length > 0) {
    const lines = writes.map((a) => {
      const where = a.declaredAt ? ` (${prose(a.declaredAt.file)}:${a.declaredAt.line})` : '';
      const notes = a.notes.length ? `; ${a.notes.map(prose).join('; ')}` : '';
      const changes = a.action === 'create' ? '' : a.changes.length ? `: ${a.changes.map(shortChange).join(', ')}` : '';
      return `- \`${SIGN[a.action]}\` ${label(a)} will be ${a.action === 'create' ? 'created' : a.action === 'update' ? 'updated in place' : 'adopted'}${where}${changes}${notes}`;
    });
    out.push([`**Workspace objects**: ${plural(writes.length, 'change')}`, ...(names ? lines : [])].join('\n'));
  }
  if (ws.conflicts.length > 0) {
    out.push(quote(['[!WARNING]', `**${plural(ws.conflicts.length, 'workspace conflict')}**: not owned by ${code(plan.owner)}; nothing is done to ${ws.conflicts.length === 1 ? 'it' : 'them'}.`, ...(names ? ws.conflicts.map((c) => `- ${label(c)} (${prose(c.declaredAt.file)}:${c.declaredAt.line}): ${prose(c.message)}`) : [])]));
  }
  if (ws.orphans.length > 0) {
    out.push(quote(['[!NOTE]', `**${plural(ws.orphans.length, 'owned workspace object')} no longer declared ${ws.orphans.length === 1 ? 'is' : 'are'} not deleted**${names ? ':' : '.'}`, ...(names ? ws.orphans.map((o) => `- ${label(o)}: ${WS_ORPHAN_REASON[o.reason]}${o.notes?.length ? `; ${o.notes.map(prose).join('; ')}` : ''}`) : [])]));
  }
  return out;
}

/** The warnings of the plan (src/render/facts.ts), repeated ones grouped; only a count when even names do not fit. */
function warnings(ctx: Context, level: Level): string[] {
  const all = ctx.facts.warnings;
  const lines: string[] = [];
  if (level === 'names') {
    if (all.length > 0) lines.push(`${plural(all.length, 'warning')}; see the ${ctx.mode === 'comment' ? 'job summary' : 'job log'}.`);
  } else lines.push(...all.map((w) => warningText({ ...w, one: prose(w.one), many: prose(w.many) }, code)));
  if (lines.length === 0) return [];
  return [quote(['[!WARNING]', lines.length === 1 ? `**Warning**: ${lines[0]}` : '**Warnings**', ...(lines.length === 1 ? [] : lines.map((l) => `- ${l}`))])];
}

/** Where to find what this text leaves out. */
function pointer(ctx: Context): string {
  if (ctx.mode === 'summary') {
    return '_This plan is too large for a job summary, so the diffs are left out. `prefect-gitops plan` (or `--json`) shows every change._';
  }
  const where = ctx.summaryUrl ? `the [job summary](${ctx.summaryUrl})` : "this workflow run's job summary";
  return `_This plan is too large for a comment, so the diffs are left out. The full plan, with every diff, is in ${where}._`;
}

function scheduledNote(ctx: Context, i: number): string {
  const n = ctx.facts.actions[i]?.scheduledRuns;
  return n !== undefined && n > 0 ? ` (${plural(n, 'scheduled run')} now)` : '';
}

function listItem(ctx: Context, a: PlanAction, i: number): string {
  if (a.kind === 'delete') return `- delete ${code(a.key)}${scheduledNote(ctx, i)}${a.whyUndeclared ? `: ${prose(a.whyUndeclared)}` : ''}`;
  const fields = (ctx.facts.actions[i]?.changes ?? []).map((c) => c.field);
  return `- ${a.kind} ${code(a.key)} (${prose(a.declaredAt.file)}:${a.declaredAt.line})${fields.length ? `: ${fields.map(prose).join(', ')}` : ''}${scheduledNote(ctx, i)}`;
}

function details(ctx: Context, a: Exclude<PlanAction, { kind: 'delete' }>, i: number): string {
  const facts = ctx.facts.actions[i];
  const changes = facts?.changes ?? [];
  const original = ctx.original.actions[i];
  const originalChanges = original && original.kind !== 'delete' ? shownChanges(original) : [];
  const summary = detailsSummary(ctx, a, i);
  const body: string[] = [];
  const diff = changes.flatMap(diffChange);
  if (diff.length > 0) body.push(codeBlock('diff', diff));
  // Redaction shows both sides of a secret as "(sensitive)"; say that it changed all the same.
  const hidden = originalChanges.flatMap((c) => changedSecrets(c.before, c.after, c.field));
  if (hidden.length > 0) body.push(`Sensitive ${hidden.length === 1 ? 'value' : 'values'} changed (not shown): ${hidden.map(code).join(', ')}`);
  for (const { slug, lines } of facts?.schedules ?? []) body.push(`Schedule ${code(slug)}:\n${lines.map((l) => `- ${prose(l)}`).join('\n')}`);
  return [`<details><summary>${summary}</summary>`, ...body, '</details>'].join('\n\n');
}

function detailsSummary(ctx: Context, a: Exclude<PlanAction, { kind: 'delete' }>, i: number): string {
  const fields = (ctx.facts.actions[i]?.changes ?? []).map((c) => c.field).join(', ');
  return `${escapeHtml(SIGN[a.kind])} ${htmlCode(a.key)} (${escapeHtml(a.declaredAt.file)}:${a.declaredAt.line}) — ${a.kind === 'create' ? 'new' : a.kind === 'adopt' ? 'adopt' : 'update'}${fields ? `: ${escapeHtml(fields)}` : ''}${escapeHtml(scheduledNote(ctx, i))}`;
}

/** Paths of values under sensitive keys that differ between `before` and `after`. */
function changedSecrets(before: Json | undefined, after: Json | undefined, path: string): string[] {
  const isRecord = (v: Json | undefined): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isRecord(before) || isRecord(after)) {
    const b = isRecord(before) ? before : {};
    const a = isRecord(after) ? after : {};
    return [...new Set([...Object.keys(b), ...Object.keys(a)])].flatMap((key) => {
      const child = `${path}.${key}`;
      if (isSensitiveKey(key) && !isRecord(b[key]) && !isRecord(a[key]) && !Array.isArray(b[key]) && !Array.isArray(a[key])) {
        return b[key] !== a[key] && b[key] !== undefined && a[key] !== undefined ? [child] : [];
      }
      return changedSecrets(b[key], a[key], child);
    });
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, index) => changedSecrets(item, after[index], `${path}[${index}]`));
  }
  return [];
}

const CONTEXT_LINES = 3;

/** A unified-style diff of one field as YAML, with long unchanged stretches folded. */
function diffChange(change: ShownChange): string[] {
  if (change.summary !== undefined) return [`+${change.field}: ${change.summary}`];
  const yaml = (value: Json | undefined): string => (value === undefined ? '' : yamlText({ [change.field]: value }));
  const rows = diffRows(yaml(change.before), yaml(change.after));
  const near = rows.map(() => false);
  rows.forEach((r, i) => {
    if (r.sign === ' ') return;
    for (let j = Math.max(0, i - CONTEXT_LINES); j <= Math.min(rows.length - 1, i + CONTEXT_LINES); j++) near[j] = true;
  });
  const out: string[] = [];
  for (let i = 0; i < rows.length; ) {
    if (near[i] || i === 0) {
      out.push(`${rows[i]!.sign}${rows[i]!.text}`);
      i++;
      continue;
    }
    let j = i;
    while (j < rows.length && !near[j]) j++;
    out.push(`@@ ${plural(j - i, 'unchanged line')} @@`);
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Apply results.

const OUTCOME = { ok: '✅', failed: '❌', skipped: '⏭️' } as const;

/**
 * The apply for the job summary: a table of every action with its outcome (✅ done, ❌ failed with
 * the error, ⏭️ skipped with the reason), then totals. Beyond `maxLength` UTF-8 bytes (default
 * 1,000,000) it keeps every failed and skipped action and as many successful ones as fit. Pure;
 * everything shown is redacted.
 */
export function renderApplySummary(input: ApplyResult, inputPlan: Plan, options: ApplySummaryOptions = {}): string {
  const secrets = options.secrets ?? [];
  const result = forDisplay(input, secrets);
  const plan = forDisplay(inputPlan, secrets);
  const limit = Math.max(0, Math.floor(options.maxLength ?? SUMMARY_MAX_LENGTH));
  const title = forDisplay(options.title ?? `prefect-gitops apply${plan.environment ? ` for ${plan.environment}` : ''}`, secrets);
  const blocks = [`### ${prose(title)}`];
  if (plan.pruneRefused) blocks.push(quote(['[!CAUTION]', `**Apply refused**: ${prose(plan.pruneRefused)}. Nothing was written.`]));
  if (plan.conflicts.length > 0) {
    blocks.push(quote(['[!WARNING]', `**${plural(plan.conflicts.length, 'conflict')} left unresolved**: ${plan.conflicts.map((c) => code(c.key)).join(', ')}. Nothing was done to ${plan.conflicts.length === 1 ? 'it' : 'them'}.`]));
  }
  const rows = result.results;
  const count = (status: ActionResult['status']): number => rows.filter((r) => r.status === status).length;
  const done = (kind: PlanAction['kind']): number => rows.filter((r) => r.kind === kind && r.status === 'ok').length;
  const failed = count('failed');
  const skipped = count('skipped');
  let totals: string;
  if (rows.length === 0) {
    totals = `✅ **No changes to apply.** ${plural(plan.summary.unchanged, 'deployment')} up to date.`;
  } else {
    const adopted = done('adopt') ? `, ${done('adopt')} adopted` : '';
    const verdict = failed || skipped ? 'Apply finished with errors' : 'Apply complete';
    totals = [
      '| ✅ done | ❌ failed | ⏭️ skipped |',
      '|---:|---:|---:|',
      `| ${count('ok')} | ${failed} | ${skipped} |`,
      '',
      `**${verdict}: ${done('create')} added, ${done('update')} changed, ${done('delete')} deleted${adopted}, ${failed} failed, ${skipped} skipped.**`,
    ].join('\n');
  }
  const tableHead = '| | action | deployment | result |\n|:-:|---|---|---|';
  const row = (r: ActionResult): string => {
    const outcome = r.status === 'ok' ? PAST_TENSE[r.kind] : `${r.status}${r.message ? `: ${prose(r.message)}` : ''}`;
    return `| ${OUTCOME[r.status]} | ${r.kind} | ${cell(code(r.key))} | ${cell(outcome)} |`;
  };
  const assemble = (shown: readonly ActionResult[]): string => {
    const parts = [...blocks];
    if (rows.length > 0) {
      const hidden = rows.length - shown.length;
      parts.push([tableHead, ...shown.map(row)].join('\n') + (hidden > 0 ? `\n\n… and ${plural(hidden, 'more successful action')}, not listed to fit the job summary.` : ''));
    }
    parts.push(totals);
    return redact(parts.join('\n\n') + '\n', secrets);
  };
  const full = assemble(rows);
  if (utf8Bytes(full) <= limit) return full;
  // Keep every failure and skip; drop successes from the end until it fits.
  const problems = rows.filter((r) => r.status !== 'ok');
  const successes = rows.filter((r) => r.status === 'ok');
  let lo = 0;
  let hi = successes.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (utf8Bytes(assemble(keepOrder(rows, problems, successes.slice(0, mid)))) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return cut(assemble(keepOrder(rows, problems, successes.slice(0, lo))), limit, utf8Bytes);
}

function keepOrder(all: readonly ActionResult[], a: readonly ActionResult[], b: readonly ActionResult[]): ActionResult[] {
  const keep = new Set([...a, ...b]);
  return all.filter((r) => keep.has(r));
}
