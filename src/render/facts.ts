import type { FieldChange, Plan, PlanAction } from '../plan/types.js';
import type { Json, JsonObject } from '../prefect/types.js';
import { asScheduleView, describeScheduleChange, dropsScheduledRuns } from './schedule-meaning.js';
import { isEmpty } from './shared.js';

/**
 * What a plan says beyond its actions, computed once for every renderer (text, markdown), so the
 * terminal and the pull request comment state the same facts: the changes as shown, what each
 * schedule change means in run times, how many scheduled runs an action deletes, and the
 * warnings, repeated ones grouped. Pure: `now` and the run counts are arguments.
 */

/** A field change as shown: `summary` (when set) stands for the values, e.g. a collapsed schema. */
export interface ShownChange extends FieldChange {
  readonly summary?: string;
}

export interface ActionFacts {
  readonly changes: readonly ShownChange[];
  /** Per changed schedule: the next runs before/after and the runs in the next 7 days. */
  readonly schedules: readonly { readonly slug: string; readonly lines: readonly string[] }[];
  /** Future scheduled runs on the server that applying this action deletes (when counted and > 0). */
  readonly scheduledRuns?: number;
}

/** A warning about one deployment or, grouped, about several with the same message. */
export interface PlanWarning {
  /** Deployment keys the warning is about; empty for a plan-wide warning. */
  readonly keys: readonly string[];
  /** For one deployment (`keys[0]` where `{}` is) and for several, without the names. */
  readonly one: string;
  readonly many: string;
}

export interface PlanFacts {
  /** By index into `plan.actions`. */
  readonly actions: readonly ActionFacts[];
  readonly warnings: readonly PlanWarning[];
}

export interface FactsOptions {
  /** Run times are computed from this time. */
  readonly now: Date;
  /** Deployment key -> its future scheduled runs on the server now. */
  readonly scheduledRuns?: Readonly<Record<string, number>>;
}

/** Names listed in a grouped warning before "and N more". */
const GROUP_NAMES = 10;

export function planFacts(plan: Plan, options: FactsOptions): PlanFacts {
  const actions = plan.actions.map((a) => actionFacts(a, options));
  return { actions, warnings: groupWarnings([...keyedWarnings(plan), ...runWarnings(plan, actions)]) };
}

function actionFacts(action: PlanAction, options: FactsOptions): ActionFacts {
  const runs = dropsScheduledRuns(action) ? options.scheduledRuns?.[action.key] : undefined;
  const counted = runs !== undefined && runs > 0 ? { scheduledRuns: runs } : {};
  if (action.kind === 'delete') return { changes: [], schedules: [], ...counted };
  const changes = shownChanges(action);
  const schedules = changes.flatMap((c) => {
    const slug = /^schedules\[(.*)\]$/.exec(c.field)?.[1];
    if (slug === undefined) return [];
    const lines = describeScheduleChange(asScheduleView(c.before), asScheduleView(c.after), options.now);
    return lines.length ? [{ slug, lines }] : [];
  });
  return { changes, schedules, ...counted };
}

/**
 * The changes of an action as shown: a create shows only what it sets, with its parameter schema
 * collapsed to the parameter names; an update or adoption shows a changed schema per parameter.
 */
export function shownChanges(action: Exclude<PlanAction, { kind: 'delete' }>): ShownChange[] {
  if (action.kind === 'create') {
    return action.changes.filter((c) => !isEmpty(c.after)).map((c) => (c.field === 'parameter_openapi_schema' ? { ...c, summary: schemaSummary(c.after) } : c));
  }
  return action.changes.flatMap((c) => (c.field === 'parameter_openapi_schema' ? schemaChanges(c) : [c]));
}

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function schemaSummary(schema: Json | undefined): string {
  const names = isObject(schema) && isObject(schema.properties) ? Object.keys(schema.properties) : [];
  const listed = names.length > GROUP_NAMES ? [...names.slice(0, GROUP_NAMES), '…'] : names;
  return `${plural(names.length, 'parameter')}${names.length ? ` (${listed.join(', ')})` : ''}`;
}

/** A schema change, one entry per parameter (`properties`) and per other top-level key that differs. */
function schemaChanges(change: FieldChange): ShownChange[] {
  const before = isObject(change.before) ? change.before : {};
  const after = isObject(change.after) ? change.after : {};
  const out: ShownChange[] = [];
  const differs = (a: Json | undefined, b: Json | undefined): boolean => JSON.stringify(a) !== JSON.stringify(b);
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    if (key === 'properties' && (isObject(before[key]) || isObject(after[key]))) {
      const b = isObject(before.properties) ? before.properties : {};
      const a = isObject(after.properties) ? after.properties : {};
      for (const name of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
        if (differs(b[name], a[name])) out.push({ field: `parameter_openapi_schema.properties.${name}`, before: b[name], after: a[name] });
      }
    } else if (differs(before[key], after[key])) {
      out.push({ field: `parameter_openapi_schema.${key}`, before: before[key], after: after[key] });
    }
  }
  return out.length ? out : [change];
}

// ---------------------------------------------------------------------------------------------
// Warnings.

/** The planner's warnings; one that starts with a deployment key (`flow/name: ...`) is about it. */
function keyedWarnings(plan: Plan): PlanWarning[] {
  const keys = [...new Set([...plan.actions.map((a) => a.key), ...plan.unchanged, ...plan.conflicts.map((c) => c.key)])].sort((a, b) => b.length - a.length);
  return plan.warnings.map((w) => {
    const key = keys.find((k) => w.startsWith(`${k}: `));
    if (key === undefined) return { keys: [], one: w, many: w };
    const rest = w.slice(key.length + 2);
    return { keys: [key], one: `{}: ${rest}`, many: rest };
  });
}

function runWarnings(plan: Plan, facts: readonly ActionFacts[]): PlanWarning[] {
  return plan.actions.flatMap((a, i) => {
    const n = facts[i]?.scheduledRuns;
    if (n === undefined || (a.kind !== 'update' && a.kind !== 'adopt')) return [];
    const verb = a.kind === 'update' ? 'updating' : 'adopting';
    return [{ keys: [a.key], one: `${verb} {} deletes its ${plural(n, 'future scheduled run')}; Prefect's scheduler recreates them`, many: `${verb} deletes their future scheduled runs; Prefect's scheduler recreates them`, runs: n }];
  });
}

/** Warnings with the same message about several deployments become one. */
function groupWarnings(warnings: readonly (PlanWarning & { runs?: number })[]): PlanWarning[] {
  const groups = new Map<string, { keys: string[]; one: string; many: string; runs: number }>();
  const out: { keys: string[]; one: string; many: string; runs: number }[] = [];
  for (const w of warnings) {
    const id = w.keys.length ? `keyed:${w.many}` : `plain:${w.one}`;
    const group = groups.get(id);
    if (group && w.keys.length) {
      group.keys.push(...w.keys);
      group.runs += w.runs ?? 0;
    } else if (!group) {
      const fresh = { keys: [...w.keys], one: w.one, many: w.many, runs: w.runs ?? 0 };
      groups.set(id, fresh);
      out.push(fresh);
    }
  }
  return out.map(({ runs, ...w }) => (runs > 0 && w.keys.length > 1 ? { ...w, many: `${w.many} (${plural(runs, 'scheduled run')} now)` } : w));
}

/**
 * A warning as a sentence; `name` formats a deployment key (a code span in markdown). Several
 * deployments: `150 deployments: updating deletes their future scheduled runs ...: a, b, … and 140 more`.
 */
export function warningText(w: PlanWarning, name: (key: string) => string): string {
  if (w.keys.length === 0) return w.one;
  if (w.keys.length === 1) return w.one.replace('{}', () => name(w.keys[0]!));
  const listed = w.keys.slice(0, GROUP_NAMES).map(name).join(', ');
  const more = w.keys.length > GROUP_NAMES ? ` and ${w.keys.length - GROUP_NAMES} more` : '';
  return `${w.keys.length} deployments: ${w.many}: ${listed}${more}`;
}
