/**
 * The pure half of the `automation` kind: markers, name references, request bodies, and the
 * comparison of a declared automation with the server's copy (which comes back with every default
 * filled in, a fresh id on each trigger, and durations as floats).
 *
 * A standalone automation is told apart from a deployment's trigger automations by its marker:
 * `prefect-gitops:automation:<owner>` (a tag from Prefect 3.4.7; before that, as for triggers, on the
 * last line of the description, `prefect-gitops-tags: [...]`). Trigger automations carry
 * `prefect-gitops:<owner>` and `prefect-gitops:trigger:<fingerprint>` instead; an owner id cannot
 * contain `:`, so neither marker can be read as the other.
 */
import { jsonEqual } from '../../plan/canonical.js';
import { PROTECTED_TAG } from '../../plan/ownership.js';
import { withTriggerDefaults } from '../../plan/triggers.js';
import type { Json, JsonObject } from '../../prefect/types.js';

export const STANDALONE_MARKER = 'prefect-gitops:automation:';
export const standaloneOwnerTag = (owner: string): string => `${STANDALONE_MARKER}${owner}`;

/** The owner a standalone automation's marker names; null without one (or with several: then it is nobody's). */
export function standaloneOwnerOf(tags: readonly string[]): string | null {
  const owners = tags.filter((t) => t.startsWith(STANDALONE_MARKER)).map((t) => t.slice(STANDALONE_MARKER.length));
  return owners.length === 1 ? owners[0]! : null;
}

/** Whether an automation was made by prefect-gitops as a standalone automation (of any owner). */
export const isStandaloneAutomation = (a: { readonly tags: readonly string[] }): boolean => a.tags.some((t) => t.startsWith(STANDALONE_MARKER));

/** The lists of actions an automation has, in Prefect's names. */
export const ACTION_LISTS = ['actions', 'actions_on_trigger', 'actions_on_resolve'] as const;
export type ActionList = (typeof ACTION_LISTS)[number];

/** Action types that act on one deployment (`deployment_id`) or one work pool (`work_pool_id`). */
export const DEPLOYMENT_ACTIONS = new Set(['run-deployment', 'pause-deployment', 'resume-deployment']);
export const WORK_POOL_ACTIONS = new Set(['pause-work-pool', 'resume-work-pool']);

/** A name written instead of an id: `deployment: flow/name` or `work_pool: name` in one action. */
export interface NameReference {
  /** `deployment:flow/name` or `work-pool:name`: the key of `KindContext.references`. */
  readonly ref: string;
  readonly target: 'deployment' | 'work-pool';
  /** `flow/name` or the pool's name. */
  readonly name: string;
  /** Where it is written, e.g. `actions[0].deployment`. */
  readonly path: string;
}

export const deploymentRef = (key: string): string => `deployment:${key}`;
export const workPoolRef = (name: string): string => `work-pool:${name}`;

/** Every name reference in a declared automation's actions. */
export function nameReferences(spec: JsonObject): NameReference[] {
  const out: NameReference[] = [];
  for (const list of ACTION_LISTS) {
    const actions = spec[list];
    if (!Array.isArray(actions)) continue;
    actions.forEach((action, i) => {
      if (!isObject(action)) return;
      if (typeof action.deployment === 'string') out.push({ ref: deploymentRef(action.deployment), target: 'deployment', name: action.deployment, path: `${list}[${i}].deployment` });
      if (typeof action.work_pool === 'string') out.push({ ref: workPoolRef(action.work_pool), target: 'work-pool', name: action.work_pool, path: `${list}[${i}].work_pool` });
    });
  }
  return out;
}

/**
 * An action as sent: `deployment`/`work_pool` become `source: selected` and the id when `references`
 * knows it; otherwise the name stays in the action, and the apply resolves it right before sending
 * (a deployment or pool created earlier in the same apply).
 */
export function resolveAction(action: JsonObject, references: Readonly<Record<string, string | null>>): JsonObject {
  const { deployment, work_pool, ...rest } = action;
  if (typeof deployment === 'string') {
    const id = references[deploymentRef(deployment)];
    return id ? { ...rest, source: 'selected', deployment_id: id } : { ...rest, source: 'selected', deployment };
  }
  if (typeof work_pool === 'string') {
    const id = references[workPoolRef(work_pool)];
    return id ? { ...rest, source: 'selected', work_pool_id: id } : { ...rest, source: 'selected', work_pool };
  }
  return action;
}

/** The names still unresolved in a body (left for the apply). */
export function unresolvedNames(body: JsonObject): NameReference[] {
  return nameReferences(body);
}

/** A declared trigger as the server will hold it: the type inferred as Prefect's CLI does, `posture` and a Proactive trigger's minimum `within` filled. */
export function normaliseTrigger(trigger: JsonObject): JsonObject {
  const out = withTriggerDefaults(trigger);
  const fill = (t: JsonObject): JsonObject => {
    const copy: JsonObject = { ...t };
    // The server raises a Proactive trigger's missing or zero `within` to 10 seconds.
    if (copy.type === 'event' && copy.posture === 'Proactive' && (copy.within === undefined || copy.within === 0)) copy.within = 10;
    if (Array.isArray(copy.triggers)) copy.triggers = copy.triggers.map((n) => (isObject(n) ? fill(n) : n));
    return copy;
  };
  return fill(out);
}

/** The desired automation in Prefect's names, before the ownership marker is placed (tags or description). */
export interface AutomationFields {
  readonly name: string;
  readonly description: string;
  readonly enabled: boolean;
  /** The declared tags plus the owner marker, sorted. */
  readonly tags: readonly string[];
  readonly trigger: JsonObject;
  readonly actions: readonly JsonObject[];
  readonly actions_on_trigger: readonly JsonObject[];
  readonly actions_on_resolve: readonly JsonObject[];
}

/**
 * @param protect `gitops.protected`, or the protected tag already on the live automation (added in
 * the UI): never taken away by an apply.
 */
export function desiredFields(name: string, spec: JsonObject, owner: string, references: Readonly<Record<string, string | null>>, protect = false): AutomationFields {
  const list = (key: ActionList): JsonObject[] => (Array.isArray(spec[key]) ? (spec[key] as Json[]).filter(isObject).map((a) => resolveAction(a, references)) : []);
  const tags = Array.isArray(spec.tags) ? spec.tags.filter((t): t is string => typeof t === 'string') : [];
  return {
    name,
    description: typeof spec.description === 'string' ? spec.description : '',
    enabled: spec.enabled !== false,
    tags: [...new Set([...tags, standaloneOwnerTag(owner), ...(protect ? [PROTECTED_TAG] : [])])].sort(),
    trigger: normaliseTrigger(isObject(spec.trigger) ? spec.trigger : {}),
    actions: list('actions'),
    actions_on_trigger: list('actions_on_trigger'),
    actions_on_resolve: list('actions_on_resolve'),
  };
}

/** Mirrors the client's line for servers without automation tags (src/prefect/client.ts tagsIntoDescription). */
export const TAGS_LINE = 'prefect-gitops-tags: ';

/**
 * The POST /automations/ (and PUT /automations/{id}) body. Without automation tags on the server
 * (before 3.4.7) the marker goes on the description's last line, as for trigger automations.
 */
export function automationBody(fields: AutomationFields, automationTags: boolean): JsonObject {
  const common: JsonObject = {
    name: fields.name,
    enabled: fields.enabled,
    trigger: fields.trigger,
    actions: [...fields.actions],
    actions_on_trigger: [...fields.actions_on_trigger],
    actions_on_resolve: [...fields.actions_on_resolve],
  };
  if (automationTags) return { ...common, description: fields.description, tags: [...fields.tags] };
  const line = `${TAGS_LINE}${JSON.stringify(fields.tags)}`;
  return { ...common, description: fields.description === '' ? line : `${fields.description}\n${line}` };
}

// ---------------------------------------------------------------------------------------------
// Comparison with what the server holds.

/** Server defaults of an event trigger (prefect.server.events.schemas.automations.EventTrigger). */
const EVENT_DEFAULTS: Readonly<Record<string, Json>> = {
  match: {},
  match_related: {},
  after: [],
  expect: [],
  for_each: [],
  posture: 'Reactive',
  threshold: 1,
  within: 0,
};
/** Sets on the server: read back in any order. */
const SET_FIELDS = new Set(['after', 'expect', 'for_each']);

/**
 * Server defaults of action fields (prefect.server.events.actions), by field name: a field means
 * the same on every action type that has it.
 */
const ACTION_DEFAULTS: Readonly<Record<string, Json>> = {
  source: 'selected',
  deployment_id: null,
  work_pool_id: null,
  work_queue_id: null,
  automation_id: null,
  parameters: null,
  job_variables: null,
  schedule_after: 0,
  name: null,
  message: null,
  force: false,
  subject: 'Prefect automated notification',
  payload: '',
};

/** Fields the server generates: never compared. */
const GENERATED = new Set(['id']);

/**
 * Whether the server's trigger is the declared one: every field equal, a field left out equal to
 * its server default, sets in any order. Fields the server has and no table knows (a newer
 * version's additions) are not differences.
 */
export function sameTrigger(declared: JsonObject, live: Json | undefined): boolean {
  if (!isObject(live)) return false;
  if (declared.type !== live.type) return false;
  const defaults = declared.type === 'event' ? EVENT_DEFAULTS : {};
  for (const key of new Set([...Object.keys(declared), ...Object.keys(live)])) {
    if (GENERATED.has(key)) continue;
    const want = key in declared ? declared[key] : defaults[key];
    const have = key in live ? live[key] : defaults[key];
    if (want === undefined && !(key in declared)) continue;
    if (key === 'triggers') {
      if (!Array.isArray(want) || !Array.isArray(have) || want.length !== have.length) return false;
      if (!want.every((t, i) => isObject(t) && sameTrigger(t, have[i]))) return false;
      continue;
    }
    if (!sameValue(key, want, have)) return false;
  }
  return true;
}

/** Whether the server's action is the declared (resolved) one, by the same rules as {@link sameTrigger}. */
export function sameAction(declared: JsonObject, live: Json | undefined): boolean {
  if (!isObject(live)) return false;
  if (declared.type !== live.type) return false;
  for (const key of new Set([...Object.keys(declared), ...Object.keys(live)])) {
    const want = key in declared ? declared[key] : ACTION_DEFAULTS[key];
    const have = key in live ? live[key] : ACTION_DEFAULTS[key];
    if (want === undefined && !(key in declared)) continue;
    if (!sameValue(key, want, have)) return false;
  }
  return true;
}

export function sameActions(declared: readonly JsonObject[], live: Json | undefined): boolean {
  const have = Array.isArray(live) ? live : [];
  return declared.length === have.length && declared.every((a, i) => sameAction(a, have[i]));
}

function sameValue(key: string, want: Json | undefined, have: Json | undefined): boolean {
  if (SET_FIELDS.has(key) && Array.isArray(want) && Array.isArray(have)) return jsonEqual([...want].map(String).sort(), [...have].map(String).sort());
  // One related-resource spec or a list of them: an empty one is no restriction either way.
  if (key === 'match_related' && isEmpty(want) && isEmpty(have)) return true;
  return jsonEqual(want ?? null, have ?? null);
}

const isEmpty = (value: Json | undefined): boolean => value === undefined || value === null || (Array.isArray(value) ? value.length === 0 : isObject(value) && Object.keys(value).length === 0);

// ---------------------------------------------------------------------------------------------
// The server's copy written back as a manifest would declare it (plan "before" values, export).

/** A live trigger without generated ids and fields at their default; `type` and `posture` stay. */
export function minimalTrigger(live: JsonObject): JsonObject {
  const out: JsonObject = {};
  const defaults = live.type === 'event' ? EVENT_DEFAULTS : {};
  for (const [key, value] of Object.entries(live)) {
    if (GENERATED.has(key)) continue;
    if (key === 'triggers' && Array.isArray(value)) {
      out.triggers = value.map((t) => (isObject(t) ? minimalTrigger(t) : t));
      continue;
    }
    if (key !== 'type' && key !== 'posture' && key in defaults && sameValue(key, defaults[key], value)) continue;
    if (live.posture === 'Proactive' && key === 'within' && value === 10) continue;
    out[key] = value;
  }
  return out;
}

/**
 * A live action without fields at their default, a selected deployment or pool written by name
 * where `names` knows the id (`id -> flow/name` or pool name), as a manifest would declare it.
 */
export function minimalAction(live: JsonObject, names: Readonly<Record<string, string>>): JsonObject {
  const out: JsonObject = { type: live.type ?? null };
  const nameOf = (idKey: string): string | undefined => {
    const id = live[idKey];
    return live.source !== 'inferred' && typeof id === 'string' ? names[id] : undefined;
  };
  const deployment = nameOf('deployment_id');
  const pool = nameOf('work_pool_id');
  if (deployment !== undefined) out.deployment = deployment;
  else if (pool !== undefined) out.work_pool = pool;
  const named = deployment !== undefined || pool !== undefined;
  for (const [key, value] of Object.entries(live)) {
    if (key === 'type' || (named && (key === 'source' || key === 'deployment_id' || key === 'work_pool_id'))) continue;
    if (key in ACTION_DEFAULTS && sameValue(key, ACTION_DEFAULTS[key], value)) continue;
    out[key] = value;
  }
  return out;
}

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
