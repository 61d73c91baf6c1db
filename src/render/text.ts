import { diffRows, PAST_TENSE, yamlInline, yamlText } from './shared.js';
import { escapeControlDeep, forDisplay, jsonSafe } from './escape.js';
import type { ApplyResult } from '../apply/apply.js';
import type { Json } from '../prefect/types.js';
import type { DriftReport } from '../plan/drift.js';
import type { FieldChange, Plan, PlanAction } from '../plan/types.js';
import { planFacts, warningText, type ActionFacts, type ShownChange } from './facts.js';
import { redact } from './redact.js';
import { objectLabel, type WorkspacePlan } from '../workspace/types.js';

export interface TextOptions {
  readonly color: boolean;
  /** Values never to show (API key, auth string). */
  readonly secrets?: readonly string[];
  /** The time the plan is shown for: schedule previews (next runs) are computed from it. Default: now. */
  readonly now?: Date;
  /** Deployment key -> its future scheduled runs on the server now (see countScheduledRuns). */
  readonly scheduledRuns?: Readonly<Record<string, number>>;
}

const factsOptions = (options: TextOptions): Parameters<typeof planFacts>[1] => ({ now: options.now ?? new Date(), ...(options.scheduledRuns ? { scheduledRuns: options.scheduledRuns } : {}) });

type Paint = (code: number, text: string) => string;
const painter = (color: boolean): Paint => (code, text) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
const GREEN = 32;
const YELLOW = 33;
const RED = 31;
const CYAN = 36;
const BOLD = 1;
const DIM = 2;

/**
 * Whether to colour output. FORCE_COLOR decides when set (https://force-color.org; `0`/`false` turn
 * colour off, as in Node and supports-color, and it wins over NO_COLOR as it does there); else
 * NO_COLOR, when not empty, turns it off (https://no-color.org); else a TTY that is not TERM=dumb.
 * Written out rather than taken from a library: chalk 6 needs Node 22, picocolors reads
 * process.env and argv itself, and Node's tty hasColors() says no without TERM.
 */
export function useColor(isTty: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.FORCE_COLOR !== undefined) return !['0', 'false'].includes(env.FORCE_COLOR.trim().toLowerCase());
  if (env.NO_COLOR) return false;
  return isTty && env.TERM !== 'dumb';
}

/** A terraform-like plan, ending in `Plan: 2 to add, 1 to change, 1 to delete, 7 unchanged.` Pure. */
export function renderPlanText(input: Plan, options: TextOptions): string {
  const plan = forDisplay(input, options.secrets);
  const facts = forDisplay(planFacts(input, factsOptions(options)), options.secrets);
  const paint = painter(options.color);
  const out: string[] = [];
  const env = plan.environment ? `, environment ${plan.environment}` : '';
  out.push(paint(DIM, `Owner ${plan.owner}${env}; Prefect server ${plan.serverVersion}${plan.toolVersion ? `; prefect-gitops ${plan.toolVersion}` : ''}.`));
  // Up front: none of the actions below will be applied.
  if (plan.pruneRefused) out.push('', paint(RED, `Apply refused: ${plan.pruneRefused}.`));
  if (planHasChanges(plan)) {
    out.push('', 'prefect-gitops will perform these actions:', `  ${paint(GREEN, '+')} create   ${paint(YELLOW, '~')} update in place   ${paint(CYAN, '>')} adopt   ${paint(RED, '-')} delete`);
  }
  plan.actions.forEach((action, i) => out.push('', ...renderAction(action, facts.actions[i]!, paint)));
  if (plan.workspace) out.push(...renderWorkspaceText(plan.workspace, paint));
  for (const conflict of plan.conflicts) {
    out.push('', `${paint(RED, '!')} ${paint(BOLD, conflict.key)} ${paint(DIM, `(${conflict.declaredAt.file}:${conflict.declaredAt.line})`)}`, `    conflict: ${conflict.message}`);
  }
  const orphanReasons: Record<string, string> = {
    'prune-disabled': 'owned but no longer declared; not deleted because prune is off (enable prune in prefect-gitops.yaml or pass --prune)',
    protected: 'owned but no longer declared; not deleted because it is protected (tag prefect-gitops:protected)',
    'prune-refused': 'owned but no longer declared; not deleted because a prune safeguard refused the apply (see below)',
  };
  for (const orphan of plan.orphans) {
    out.push('', `${paint(DIM, '?')} ${orphan.key}`, `    ${orphanReasons[orphan.reason]}`, ...(orphan.whyUndeclared ? [`    ${orphan.whyUndeclared}`] : []));
  }
  if (plan.pruneRefused) out.push('', paint(RED, `Apply refused: ${plan.pruneRefused}.`));
  for (const warning of facts.warnings) out.push('', paint(YELLOW, `Warning: ${warningText(warning, (key) => key)}`));
  out.push('', summaryLine(plan, paint));
  return out.join('\n') + '\n';
}

export function summaryLine(plan: Plan, paint: Paint = painter(false)): string {
  const s = plan.summary;
  if (!planHasChanges(plan) && s.conflicts === 0 && !plan.pruneRefused) {
    const objects = plan.workspace?.unchanged.length ?? 0;
    const deployments = s.unchanged - objects;
    const also = objects ? ` and ${objects} workspace object${objects === 1 ? '' : 's'}` : '';
    return paint(BOLD, `No changes. ${deployments} deployment${deployments === 1 ? '' : 's'}${also} up to date.`);
  }
  const adopt = s.adopt ? `, ${s.adopt} to adopt` : '';
  const conflicts = s.conflicts ? `, ${s.conflicts} conflict${s.conflicts === 1 ? '' : 's'}` : '';
  const refused = plan.pruneRefused ? ' Apply refused: nothing will be written.' : '';
  return paint(BOLD, `Plan: ${s.add} to add, ${s.change} to change, ${s.delete} to delete${adopt}, ${s.unchanged} unchanged${conflicts}.${refused}`);
}

/** One action as the plan shows it, indented: e.g. the fresh change behind a stale saved entry. Pure. */
export function renderActionText(action: PlanAction, options: TextOptions): string {
  const facts = forDisplay(planFacts({ ...EMPTY_PLAN, actions: [action] }, factsOptions(options)), options.secrets);
  return renderAction(forDisplay(action, options.secrets), facts.actions[0]!, painter(options.color)).map((l) => `  ${l}\n`).join('');
}

const EMPTY_PLAN: Plan = {
  formatVersion: 1,
  owner: '',
  environment: null,
  serverVersion: '',
  actions: [],
  unchanged: [],
  conflicts: [],
  orphans: [],
  pruneRefused: null,
  warnings: [],
  summary: { add: 0, change: 0, delete: 0, adopt: 0, unchanged: 0, conflicts: 0 },
};

function renderAction(action: PlanAction, facts: ActionFacts, paint: Paint): string[] {
  const runs = facts.scheduledRuns ? ` ${paint(YELLOW, `(${facts.scheduledRuns} scheduled run${facts.scheduledRuns === 1 ? '' : 's'} now)`)}` : '';
  const where = action.kind === 'delete' ? '' : ` ${paint(DIM, `(${action.declaredAt.file}:${action.declaredAt.line})`)}`;
  const body = (): string[] => [
    ...facts.changes.flatMap((c) => renderChange(c, paint)),
    ...facts.schedules.flatMap(({ slug, lines }) => [`    ${paint(DIM, `schedule ${slug}:`)}`, ...lines.map((l) => `      ${paint(DIM, l)}`)]),
  ];
  switch (action.kind) {
    case 'create':
      return [`${paint(GREEN, '+')} ${paint(BOLD, action.key)}${where} will be created`, ...body()];
    case 'adopt':
      return [
        `${paint(CYAN, '>')} ${paint(BOLD, action.key)}${where} will be adopted (${action.previousOwner ? `taken over from owner "${action.previousOwner}"` : 'not created by prefect-gitops'})${runs}`,
        `    ${paint(YELLOW, 'note: adoption rewrites the deployment: Prefect recreates its schedules and deletes its future scheduled runs, and the automations it owns (e.g. made by prefect deploy) are replaced by its triggers')}`,
        ...body(),
      ];
    case 'update':
      return [`${paint(YELLOW, '~')} ${paint(BOLD, action.key)}${where} will be updated in place${runs}`, ...body()];
    case 'delete':
      return [
        `${paint(RED, '-')} ${paint(BOLD, action.key)} will be deleted (${action.orphanedAutomationOf === undefined ? 'owned, no longer declared' : `ours, orphaned: its deployment ${action.orphanedAutomationOf} was deleted outside prefect-gitops`})${runs}`,
        ...(action.whyUndeclared ? [`    ${action.whyUndeclared}`] : []),
      ];
  }
}

const planHasChanges = (p: Plan): boolean => p.actions.length > 0 || (p.workspace?.actions.length ?? 0) > 0;

/** The workspace objects' actions, conflicts and orphans (every kind but deployments). */
function renderWorkspaceText(ws: WorkspacePlan, paint: Paint): string[] {
  const out: string[] = [];
  for (const a of ws.actions) {
    const label = paint(BOLD, objectLabel(a));
    const where = a.declaredAt ? ` ${paint(DIM, `(${a.declaredAt.file}:${a.declaredAt.line})`)}` : '';
    const notes = a.notes.map((n) => `    ${paint(DIM, n)}`);
    const changes = a.changes.flatMap((c) => renderChange(c as ShownChange, paint));
    if (a.action === 'create') out.push('', `${paint(GREEN, '+')} ${label}${where} will be created`, ...changes, ...notes);
    else if (a.action === 'update') out.push('', `${paint(YELLOW, '~')} ${label}${where} will be updated in place`, ...changes, ...notes);
    else if (a.action === 'adopt') out.push('', `${paint(CYAN, '>')} ${label}${where} will be adopted (${a.notes[0] ?? 'not created by prefect-gitops'})`, ...changes, ...notes.slice(1));
    else out.push('', `${paint(RED, '-')} ${label} will be deleted (owned, no longer declared)`, ...notes);
  }
  for (const c of ws.conflicts) out.push('', `${paint(RED, '!')} ${paint(BOLD, objectLabel(c))} ${paint(DIM, `(${c.declaredAt.file}:${c.declaredAt.line})`)}`, `    conflict: ${c.message}`);
  const why: Record<string, string> = {
    'prune-disabled': 'owned but no longer declared; not deleted because prune is off (enable prune in prefect-gitops.yaml or pass --prune)',
    protected: 'owned but no longer declared; not deleted because it is protected (tag prefect-gitops:protected)',
    'prune-refused': 'owned but no longer declared; not deleted because a prune safeguard refused the apply',
    held: 'owned but no longer declared; not deleted now:',
  };
  for (const o of ws.orphans) out.push('', `${paint(DIM, '?')} ${objectLabel(o)}`, `    ${why[o.reason]}`, ...(o.notes ?? []).map((n) => `      ${n}`));
  return out;
}

/** One value, YAML style: on the field's line when it fits, else as an indented block. */
function renderValue(sign: string, field: string, value: Json | undefined, color: number, paint: Paint): string[] {
  const inline = yamlInline(value);
  if (inline !== undefined) return [`    ${paint(color, sign)} ${field}: ${inline}`];
  const [first = '', ...rest] = yamlText(value as Json).trimEnd().split('\n');
  // A multi-line string's block header (`|`, `|-`) goes on the field's line, as in a manifest.
  if (/^[|>][-+]?\d*$/.test(first)) return [`    ${paint(color, sign)} ${field}: ${first}`, ...rest.map((l) => `        ${l}`)];
  return [`    ${paint(color, sign)} ${field}:`, ...[first, ...rest].map((l) => `        ${l}`)];
}

/** A change: `before -> after` on one line when both fit, else a line diff of the YAML. */
function renderChange(change: ShownChange, paint: Paint): string[] {
  if (change.summary !== undefined) return [`    ${paint(GREEN, '+')} ${change.field}: ${change.summary}`];
  if (change.before === undefined) return renderValue('+', change.field, change.after, GREEN, paint);
  if (change.after === undefined) return renderValue('-', change.field, change.before, RED, paint);
  const before = yamlInline(change.before);
  const after = yamlInline(change.after);
  const scalar = (v: Json): boolean => v === null || typeof v !== 'object';
  if (before !== undefined && after !== undefined && scalar(change.before) && scalar(change.after)) {
    return [`    ${paint(YELLOW, '~')} ${change.field}: ${before} -> ${after}`];
  }
  const rows = diffRows(yamlText(change.before), yamlText(change.after));
  // Two multi-line strings in the same block style: the header (`|`) goes on the field's line.
  const header = rows[0]?.sign === ' ' && /^[|>][-+]?\d*$/.test(rows[0].text) ? rows.shift()!.text : undefined;
  const lines = [`    ${paint(YELLOW, '~')} ${change.field}:${header ? ` ${header}` : ''}`];
  for (const { sign, text } of rows) lines.push(`        ${paint(sign === '+' ? GREEN : sign === '-' ? RED : DIM, `${sign} ${text}`)}`);
  return lines;
}

/** One line per action result, then a summary. Pure. */
export function renderApplyText(input: ApplyResult, inputPlan: Plan, options: TextOptions): string {
  const result = escapeControlDeep(input);
  const plan = escapeControlDeep(inputPlan);
  const paint = painter(options.color);
  const lines = result.results.map((r) => {
    if (r.status === 'ok') return `${paint(GREEN, 'ok')}      ${PAST_TENSE[r.kind]} ${r.key}`;
    if (r.status === 'skipped') return `${paint(YELLOW, 'skipped')} ${r.key}: ${r.message}`;
    return `${paint(RED, 'failed')}  ${r.kind} ${r.key}: ${r.message}`;
  });
  const count = (kind: string): number => result.results.filter((r) => r.kind === kind && r.status === 'ok').length;
  // A delete skipped because something else failed is not a failure of its own: count it apart.
  const failed = result.results.filter((r) => r.status === 'failed').length;
  const skipped = result.results.filter((r) => r.status === 'skipped').length;
  lines.push('');
  if (plan.pruneRefused) lines.push(paint(RED, `Apply refused: ${plan.pruneRefused}.`));
  const adopted = count('adopt') ? `, ${count('adopt')} adopted` : '';
  const bad = failed + skipped > 0;
  const summary = `Apply ${bad ? 'finished with errors' : 'complete'}: ${count('create')} added, ${count('update')} changed, ${count('delete')} deleted${adopted}, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}.`;
  lines.push(paint(BOLD, bad ? paint(RED, summary) : summary));
  return redact(lines.join('\n'), options.secrets) + '\n';
}

/** The plan as JSON for machines, with secrets redacted. */
export function renderPlanJson(plan: Plan, secrets: readonly string[] = []): string {
  return jsonSafe(JSON.stringify(redact(plan, secrets), null, 2)) + '\n';
}

const orphanWhy = (o: DriftReport['orphaned'][number], owner: string): string =>
  o.automationOf === undefined ? `owned by ${owner}, no longer declared` : `an automation of ${owner} whose deployment ${o.automationOf} was deleted outside prefect-gitops`;

/** The drift report as text. Pure. */
export function renderDriftText(input: DriftReport, options: TextOptions): string {
  const report = forDisplay(input, options.secrets);
  const paint = painter(options.color);
  const out: string[] = [paint(DIM, `Owner ${report.owner}${report.environment ? `, environment ${report.environment}` : ''}.`)];
  for (const c of report.changed) {
    const who = c.updatedBy ? ` by ${c.updatedBy}` : '';
    out.push('', `${paint(YELLOW, '~')} ${paint(BOLD, c.key)} changed on the server (last updated ${c.updated}${who}); git declares it at ${c.declaredAt.file}:${c.declaredAt.line}`);
    // Drift reads the other way round from a plan: from what git declares to what is live.
    out.push(`    ${paint(DIM, 'git -> live:')}`);
    for (const change of c.changes) out.push(...renderChange({ field: change.field, before: change.after, after: change.before } as FieldChange, paint));
  }
  for (const m of report.missing) out.push('', `${paint(GREEN, '+')} ${paint(BOLD, m.key)} is missing: declared at ${m.declaredAt.file}:${m.declaredAt.line}, absent from the server`);
  for (const o of report.orphaned) out.push('', `${paint(RED, '-')} ${paint(BOLD, o.key)} is orphaned: ${orphanWhy(o, report.owner)}`);
  for (const u of report.unmanaged) {
    const whose = u.owner ? `owned by "${u.owner}"` : 'not created by prefect-gitops';
    out.push('', `${paint(DIM, '?')} ${paint(BOLD, u.key)} is unmanaged: ${whose}${u.declared ? ', but declared in git (a conflict)' : ', in a declared flow'}`);
  }
  const counts = `${report.changed.length} changed, ${report.missing.length} missing, ${report.orphaned.length} orphaned, ${report.unmanaged.length} unmanaged`;
  out.push('', paint(BOLD, report.hasDrift ? `Drift: ${counts}.` : 'No drift: the server matches git.'));
  return out.join('\n') + '\n';
}
