import { jsonEqual } from '../plan/canonical.js';
import { desiredTriggers, FINGERPRINT_TAG } from '../plan/triggers.js';
import type { Json, JsonObject, LiveAutomation } from '../prefect/types.js';

/**
 * Turning automations back into `triggers:` entries. A trigger made by prefect-gitops carries a
 * fingerprint of the spec as it was written; the server returns the trigger expanded with its
 * defaults, so the written spec is recovered by searching which of those defaults were written
 * out explicitly until the fingerprint matches. Only then does the next plan compare equal.
 */

/** An automation as export reads it (`PrefectClient.listAutomations`): with its trigger and all its actions. */
export type ExportAutomation = LiveAutomation;

/** Mirrors the tag written by src/plan/triggers.ts automationBody. */

/** Server defaults of an event trigger (prefect.server.events.schemas.automations.EventTrigger). */
const EVENT_DEFAULTS: Readonly<Record<string, readonly Json[]>> = {
  match: [{}],
  match_related: [{}, []],
  after: [[]],
  expect: [[]],
  for_each: [[]],
  posture: ['Reactive'],
  threshold: [1],
  within: [0],
};
/** Set-valued fields: the server may read them back in another order than written. */
const SET_FIELDS = new Set(['after', 'expect', 'for_each']);
const MAX_PERMUTED_SET = 4;
/** Upper bound of fingerprints tried per automation: every subset of up to 4 of 25 optional keys, in well under a second. */
const MAX_CANDIDATES = 1 << 15;

const TRIGGER_KEY_ORDER = ['type', 'posture', 'match', 'match_related', 'after', 'expect', 'for_each', 'threshold', 'within', 'require', 'triggers'];
const SPEC_KEY_ORDER = ['name', 'description', 'enabled', ...TRIGGER_KEY_ORDER];
const ACTION_KEY_ORDER = ['parameters', 'job_variables', 'schedule_after'];

type Path = readonly (string | number)[];
/** A key the author may or may not have written (its value equals the server default). */
interface Optional {
  readonly path: Path;
  readonly value: Json;
}
/** A value that may have been written in one of several forms (set fields: element order). */
interface Choice {
  readonly path: Path;
  readonly alternatives: readonly Json[];
}
interface Split {
  readonly base: JsonObject;
  readonly optional: Optional[];
  readonly choices: Choice[];
}

export type TriggerMapping = { ok: true; automation: ExportAutomation } | { ok: false; automation: ExportAutomation; reason: string };

/**
 * Whether an automation has the shape of a deployment trigger of `deploymentId`: exactly one
 * run-deployment action for it, no state-change actions, and a trigger type we can write.
 */
export function mapAutomation(automation: ExportAutomation, deploymentId: string): TriggerMapping {
  const fail = (reason: string): TriggerMapping => ({ ok: false, automation, reason });
  if ((automation.actions_on_trigger ?? []).length || (automation.actions_on_resolve ?? []).length) return fail('it has actions_on_trigger/actions_on_resolve, which triggers cannot express');
  if (automation.actions.length !== 1) return fail(`it has ${automation.actions.length} actions; a trigger has exactly one (run this deployment)`);
  const action = automation.actions[0]!;
  if (action.type !== 'run-deployment' || action.deployment_id !== deploymentId || (action.source !== undefined && action.source !== 'selected')) {
    return fail('its action is not "run this deployment"');
  }
  if (!automation.trigger || typeof automation.trigger !== 'object') return fail('its trigger was not read');
  const problem = unsupportedTrigger(automation.trigger);
  return problem ? fail(problem) : { ok: true, automation };
}

function unsupportedTrigger(trigger: JsonObject): string | undefined {
  const type = trigger.type;
  if (type === 'event') return undefined;
  if (type === 'compound' || type === 'sequence') {
    if (!Array.isArray(trigger.triggers)) return `its ${type} trigger has no triggers list`;
    for (const nested of trigger.triggers) {
      if (!isObject(nested)) return `its ${type} trigger has a nested trigger that is not an object`;
      const problem = unsupportedTrigger(nested);
      if (problem) return problem;
    }
    return undefined;
  }
  return `its trigger type ${JSON.stringify(type)} is not one prefect-gitops writes`;
}

export interface RecoveredTrigger {
  readonly spec: JsonObject;
  /**
   * true: the spec reproduces the automation's fingerprint, so the next plan leaves it alone;
   * false: it does not, so the next apply replaces the automation; null: nothing to match
   * (the automation was not made by prefect-gitops).
   */
  readonly exact: boolean | null;
  readonly automation: ExportAutomation;
}

/**
 * The `triggers:` list of a deployment from its (mappable) automations. Positions matter only for
 * unnamed triggers, whose automation is named `<deployment>__automation_<position>`: those go back
 * to that position, the explicitly named ones fill the other places in name order.
 */
export function recoverTriggers(deploymentName: string, automations: readonly ExportAutomation[]): RecoveredTrigger[] {
  const defaultName = new RegExp(`^${escapeRegExp(deploymentName)}__automation_(\\d+)$`);
  const total = automations.length;
  const slots: (ExportAutomation | undefined)[] = new Array<ExportAutomation | undefined>(total).fill(undefined);
  const rest: ExportAutomation[] = [];
  for (const a of [...automations].sort(byNameThenId)) {
    const n = Number(defaultName.exec(a.name)?.[1] ?? NaN);
    if (Number.isInteger(n) && n >= 1 && n <= total && slots[n - 1] === undefined) slots[n - 1] = a;
    else rest.push(a);
  }
  for (let i = 0; i < total; i++) if (slots[i] === undefined) slots[i] = rest.shift();
  return slots.map((a, i) => recoverTrigger(a!, a!.name === `${deploymentName}__automation_${i + 1}`));
}

function recoverTrigger(automation: ExportAutomation, nameIsDefault: boolean): RecoveredTrigger {
  const trigger = splitTrigger(automation.trigger ?? {}, []);
  const action = automation.actions[0] ?? {};
  const base: JsonObject = { ...trigger.base };
  const optional: Optional[] = [...trigger.optional];
  const put = (key: string, value: Json, isDefault: boolean): void => {
    if (isDefault) optional.push({ path: [key], value });
    else base[key] = value;
  };
  put('name', automation.name, nameIsDefault);
  put('description', automation.description ?? '', (automation.description ?? '') === '');
  put('enabled', automation.enabled, automation.enabled);
  if (action.parameters !== null && action.parameters !== undefined) base.parameters = action.parameters;
  if (action.job_variables !== null && action.job_variables !== undefined) base.job_variables = action.job_variables;
  if (typeof action.schedule_after === 'number') put('schedule_after', action.schedule_after, action.schedule_after === 0);

  const minimal = buildCandidate(base, [], trigger.choices.map((c) => ({ path: c.path, value: c.alternatives[0]! })));
  const fingerprint = automation.tags.find((t) => t.startsWith(FINGERPRINT_TAG))?.slice(FINGERPRINT_TAG.length);
  if (fingerprint === undefined) return { spec: ordered(minimal), exact: null, automation };
  const found = searchFingerprint(base, optional, trigger.choices, fingerprint);
  return { spec: ordered(found ?? minimal), exact: found !== undefined, automation };
}

/** Splits a server trigger into what must have been written and what may have been (defaults). */
function splitTrigger(trigger: JsonObject, at: Path): Split {
  const base: JsonObject = {};
  const optional: Optional[] = [];
  const choices: Choice[] = [];
  for (const [key, value] of Object.entries(trigger)) {
    if (key === 'id') continue; // generated by the server
    if (key === 'type') {
      // Left out, the type is inferred from the other keys when the trigger is sent.
      optional.push({ path: [...at, key], value });
      continue;
    }
    if (key === 'triggers' && Array.isArray(value)) {
      const nested = value.map((t, i) => splitTrigger(isObject(t) ? t : {}, [...at, key, i]));
      base[key] = nested.map((n) => n.base);
      for (const n of nested) {
        optional.push(...n.optional);
        choices.push(...n.choices);
      }
      continue;
    }
    if (trigger.type === 'event' && (EVENT_DEFAULTS[key] ?? []).some((d) => jsonEqual(d, value))) {
      optional.push({ path: [...at, key], value });
      continue;
    }
    base[key] = value;
    if (SET_FIELDS.has(key) && Array.isArray(value) && value.length > 1 && value.length <= MAX_PERMUTED_SET) {
      choices.push({ path: [...at, key], alternatives: permutations(value) });
    }
  }
  return { base, optional, choices };
}

/**
 * Tries subsets of the optional keys, fewest first (authors write few defaults out), in every
 * element order of set fields, up to MAX_CANDIDATES fingerprints; then all of them at once.
 */
function searchFingerprint(base: JsonObject, optional: readonly Optional[], choices: readonly Choice[], fingerprint: string): JsonObject | undefined {
  const orderings = choices.reduce((n, c) => n * c.alternatives.length, 1);
  const combos = orderings <= MAX_CANDIDATES ? choiceCombinations(choices) : [choices.map((c) => ({ path: c.path, value: c.alternatives[0]! }))];
  const attempt = (picked: readonly Optional[]): JsonObject | undefined => {
    for (const combo of combos) {
      const candidate = buildCandidate(base, picked, combo);
      if (fingerprintOf(candidate) === fingerprint) return candidate;
    }
    return undefined;
  };
  let tried = 0;
  for (const picked of subsetsBySize(optional)) {
    const found = attempt(picked);
    if (found) return found;
    tried += combos.length;
    if (tried >= MAX_CANDIDATES) return attempt(optional);
  }
  return undefined;
}

const fingerprintOf = (spec: JsonObject): string => desiredTriggers('', [spec])[0]!.fingerprint;

function buildCandidate(base: JsonObject, picked: readonly Optional[], choices: readonly { path: Path; value: Json }[]): JsonObject {
  const out = structuredClone(base);
  for (const c of choices) setAt(out, c.path, c.value);
  for (const o of picked) setAt(out, o.path, o.value);
  return out;
}

function setAt(root: JsonObject, path: Path, value: Json): void {
  let node: Json = root;
  for (const segment of path.slice(0, -1)) node = (node as Record<string | number, Json>)[segment]!;
  (node as Record<string | number, Json>)[path.at(-1)!] = value;
}

/** Every subset of `items`, smallest first: the author most likely wrote fewest defaults. */
function* subsetsBySize<T>(items: readonly T[]): Generator<T[]> {
  for (let size = 0; size <= items.length; size++) yield* combinations(items, size, 0);
}

function* combinations<T>(items: readonly T[], size: number, from: number): Generator<T[]> {
  if (size === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= items.length - size; i++) {
    for (const rest of combinations(items, size - 1, i + 1)) yield [items[i]!, ...rest];
  }
}

function choiceCombinations(choices: readonly Choice[]): { path: Path; value: Json }[][] {
  return choices.reduce<{ path: Path; value: Json }[][]>((combos, c) => combos.flatMap((combo) => c.alternatives.map((value) => [...combo, { path: c.path, value }])), [[]]);
}

function permutations(items: readonly Json[]): Json[] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => (permutations([...items.slice(0, i), ...items.slice(i + 1)]) as Json[][]).map((rest) => [item, ...rest]));
}

/** A readable key order: identity, trigger, then what the run gets. */
function ordered(spec: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of SPEC_KEY_ORDER) if (key in spec) out[key] = orderNested(key, spec[key]!);
  for (const [key, value] of Object.entries(spec)) if (!(key in out) && !ACTION_KEY_ORDER.includes(key)) out[key] = value;
  for (const key of ACTION_KEY_ORDER) if (key in spec) out[key] = spec[key]!;
  return out;
}

function orderNested(key: string, value: Json): Json {
  if (key !== 'triggers' || !Array.isArray(value)) return value;
  return value.map((t) => {
    if (!isObject(t)) return t;
    const out: JsonObject = {};
    for (const k of TRIGGER_KEY_ORDER) if (k in t) out[k] = orderNested(k, t[k]!);
    for (const [k, v] of Object.entries(t)) if (!(k in out)) out[k] = v;
    return out;
  });
}

function byNameThenId(a: LiveAutomation, b: LiveAutomation): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
