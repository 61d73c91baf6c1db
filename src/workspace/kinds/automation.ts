/**
 * The `automation` kind: standalone automations (not a deployment's triggers, which stay with their
 * deployment). Fields as Prefect's automation schema: name, description, enabled, tags (3.4.7+),
 * trigger, actions, actions_on_trigger, actions_on_resolve. An action may name its deployment
 * (`deployment: flow/name`) or work pool (`work_pool: name`) instead of giving the id; names are
 * resolved from live state at plan time, or at apply time for a deployment or pool the same apply
 * creates first (automations come after both).
 *
 * Ownership is the marker of src/workspace/kinds/automation-spec.ts (a tag, or the description's
 * last line before Prefect 3.4.7). Updates PUT the whole automation (PATCH only toggles `enabled`),
 * which keeps its id. Prefect 2 is refused: its automations API is experimental and off by default.
 */
import { InternalError, RemoteError } from '../../errors.js';
import { mapAutomation } from '../../export/triggers.js';
import type { PrefectClient } from '../../prefect/client.js';
import type { Json, JsonObject, LiveAutomation } from '../../prefect/types.js';
import { PROTECTED_TAG } from '../../plan/ownership.js';
import { FINGERPRINT_TAG } from '../../plan/triggers.js';
import type { FieldChange } from '../../plan/types.js';
import type { Issue } from '../../validate/issue.js';
import { ObjectConflictError, type DesiredObject, type KindContext, type KindHandler, type LiveObject, type ObjectAction, type WorkspaceKind } from '../kind.js';
import { issueAt } from './positions.js';
import {
  ACTION_LISTS,
  automationBody,
  DEPLOYMENT_ACTIONS,
  deploymentRef,
  desiredFields,
  isObject,
  isStandaloneAutomation,
  minimalAction,
  minimalTrigger,
  nameReferences,
  sameActions,
  sameTrigger,
  standaloneOwnerOf,
  standaloneOwnerTag,
  unresolvedNames,
  WORK_POOL_ACTIONS,
  workPoolRef,
  type NameReference,
} from './automation-spec.js';

const KIND = 'automation' satisfies WorkspaceKind;
/** Where a live object keeps the names of the ids its actions hold (`id -> flow/name` or pool name). Not a Prefect field. */
export const NAMES_KEY = 'prefect-gitops:names';

/** A name an action gives was found nowhere when the apply needed its id. */
export class UnresolvedNameError extends ObjectConflictError {
  override readonly name = 'UnresolvedNameError';
}

export const automationHandler: KindHandler = {
  kind: KIND,
  order: 60,
  schemaFile: 'automation.schema.json',
  ownership: 'tags',
  keyOf: (spec) => String(spec.name),

  validate(objects, ctx) {
    const declaredPools = new Set(ctx.desired.filter((o) => o.kind === 'work-pool').map((o) => o.key));
    const declaredDeployments = new Set(ctx.deploymentKeys);
    const issues: Issue[] = [];
    for (const object of objects) {
      const spec = object.spec;
      for (const list of ACTION_LISTS) {
        const actions = Array.isArray(spec[list]) ? spec[list] : [];
        actions.forEach((action, i) => {
          if (!isObject(action)) return;
          const type = String(action.type);
          const at = `${list}[${i}]`;
          if (typeof action.deployment === 'string') {
            if (!DEPLOYMENT_ACTIONS.has(type)) issues.push(issueAt(object, `${at}.deployment`, `automation "${object.key}": a ${type} action acts on no deployment; \`deployment\` belongs to run-deployment, pause-deployment and resume-deployment actions`));
            else if ('deployment_id' in action) issues.push(issueAt(object, `${at}.deployment`, `automation "${object.key}": give \`deployment\` (flow/name) or \`deployment_id\`, not both`));
            else if (action.source === 'inferred') issues.push(issueAt(object, `${at}.deployment`, `automation "${object.key}": \`source: inferred\` takes the deployment from the event; remove \`deployment\` or the source`));
          }
          if (typeof action.work_pool === 'string') {
            if (!WORK_POOL_ACTIONS.has(type)) issues.push(issueAt(object, `${at}.work_pool`, `automation "${object.key}": a ${type} action acts on no work pool; \`work_pool\` belongs to pause-work-pool and resume-work-pool actions`));
            else if ('work_pool_id' in action) issues.push(issueAt(object, `${at}.work_pool`, `automation "${object.key}": give \`work_pool\` (its name) or \`work_pool_id\`, not both`));
            else if (action.source === 'inferred') issues.push(issueAt(object, `${at}.work_pool`, `automation "${object.key}": \`source: inferred\` takes the work pool from the event; remove \`work_pool\` or the source`));
          }
        });
      }
      if (ctx.offline) {
        for (const ref of nameReferences(spec)) {
          const declared = ref.target === 'deployment' ? declaredDeployments.has(ref.name) : declaredPools.has(ref.name);
          if (!declared) issues.push(issueAt(object, ref.path, `automation "${object.key}" names ${describe(ref)}, which these manifests do not declare; validated offline, so the server was not asked whether it exists (plan checks it there)`));
        }
      }
      if (Array.isArray(spec.tags)) {
        spec.tags.forEach((tag, i) => {
          if (typeof tag === 'string' && tag.startsWith('prefect-gitops')) issues.push(issueAt(object, `tags[${i}]`, `automation "${object.key}": tags starting with "prefect-gitops" are prefect-gitops' own ownership markers`));
        });
      }
      issues.push(...triggerIssues(object, spec.trigger, 'trigger'));
    }
    return issues;
  },

  serverIssues(objects, ctx) {
    if (objects.length === 0) return [];
    if (/^2\./.test(ctx.serverVersion)) {
      return objects.map((o) =>
        issueAt(o, '', `automation "${o.key}": Prefect ${ctx.serverVersion} has no automations prefect-gitops can manage (on Prefect 2 the automations API is experimental and off unless PREFECT_EXPERIMENTAL_EVENTS is set); automations need Prefect 3`),
      );
    }
    const issues: Issue[] = [];
    for (const object of objects) {
      if (!ctx.features.automationTags && Array.isArray(object.spec.tags) && object.spec.tags.length > 0) {
        issues.push(issueAt(object, 'tags', `automation "${object.key}": automation tags need Prefect >= 3.4.7 (the server is ${ctx.serverVersion || 'older'})`));
      }
      if (!ctx.features.triggerScheduleAfter) {
        for (const list of ACTION_LISTS) {
          const actions = Array.isArray(object.spec[list]) ? object.spec[list] : [];
          actions.forEach((action, i) => {
            if (isObject(action) && action.schedule_after !== undefined) {
              issues.push(issueAt(object, `${list}[${i}].schedule_after`, `automation "${object.key}": schedule_after needs Prefect >= 3.4.15 (the server is ${ctx.serverVersion || 'older'}, which would drop it)`));
            }
          });
        }
      }
    }
    return issues;
  },

  async readLive(client, ctx) {
    const automations = oneByName((await readCandidates(client, ctx)).filter(isStandaloneCandidate), ctx.owner);
    const names = await readNames(client, automations);
    return automations.map((a): LiveObject => {
      const ids = referencedIds(a);
      const known = Object.fromEntries([...ids].flatMap((id) => (names.has(id) ? [[id, names.get(id)!]] : [])));
      return { kind: KIND, key: a.name, id: a.id, updated: a.updated ?? null, raw: { ...(a as unknown as JsonObject), [NAMES_KEY]: known }, taggedOwner: standaloneOwnerOf(a.tags) };
    });
  },

  /** The live ids of the deployments and pools the declared automations name: `ctx.reference.automation`. */
  async readReference(client, ctx) {
    const refs = new Map<string, NameReference>();
    for (const object of ctx.desired) if (object.kind === KIND) for (const ref of nameReferences(object.spec)) refs.set(ref.ref, ref);
    const out: Record<string, string | null> = {};
    await Promise.all([...refs.values()].map(async (ref) => (out[ref.ref] = await readReferenceId(client, ref))));
    return out;
  },

  planIssues(objects, _live, ctx) {
    const references = ctx.reference?.automation;
    if (!isObject(references)) return [];
    const declaredPools = new Set(ctx.desired.filter((o) => o.kind === 'work-pool').map((o) => o.key));
    const declaredDeployments = new Set(ctx.deploymentKeys);
    const issues: Issue[] = [];
    for (const object of objects) {
      for (const ref of nameReferences(object.spec)) {
        const declared = ref.target === 'deployment' ? declaredDeployments.has(ref.name) : declaredPools.has(ref.name);
        if (!declared && references[ref.ref] === null) issues.push(issueAt(object, ref.path, `automation "${object.key}" names ${describe(ref)}, which is neither declared in these manifests nor on the server`));
      }
    }
    return issues;
  },

  createBody(object, ctx) {
    return automationBody(desiredFields(object.key, object.spec, ctx.owner, referencesOf(ctx), object.protected === true), ctx.features.automationTags);
  },

  diff(object, live, ctx) {
    const raw = live.raw;
    const liveTags = (Array.isArray(raw.tags) ? raw.tags : []).filter((t): t is string => typeof t === 'string');
    const fields = desiredFields(object.key, object.spec, ctx.owner, referencesOf(ctx), object.protected === true || liveTags.includes(PROTECTED_TAG));
    const names = isObject(raw[NAMES_KEY]) ? (raw[NAMES_KEY] as Record<string, string>) : {};
    const changes: FieldChange[] = [];
    const liveDescription = typeof raw.description === 'string' ? raw.description : '';
    if (fields.description !== liveDescription) changes.push({ field: 'description', before: liveDescription, after: fields.description });
    const liveEnabled = raw.enabled !== false;
    if (fields.enabled !== liveEnabled) changes.push({ field: 'enabled', before: liveEnabled, after: fields.enabled });
    if (JSON.stringify([...new Set(liveTags)].sort()) !== JSON.stringify(fields.tags)) changes.push({ field: 'tags', before: [...new Set(liveTags)].sort(), after: [...fields.tags] });
    if (!sameTrigger(fields.trigger, raw.trigger)) changes.push({ field: 'trigger', before: isObject(raw.trigger) ? minimalTrigger(raw.trigger) : null, after: declaredValue(object.spec.trigger) });
    for (const list of ACTION_LISTS) {
      if (sameActions(fields[list], raw[list])) continue;
      const before = (Array.isArray(raw[list]) ? raw[list] : []).map((a) => (isObject(a) ? minimalAction(a, names) : a));
      changes.push({ field: list, before, after: declaredValue(object.spec[list]) ?? [] });
    }
    if (changes.length === 0) return null;
    return { body: automationBody(fields, ctx.features.automationTags), changes };
  },

  async write(client, action) {
    switch (action.action) {
      case 'create': {
        const body = await resolveAtApply(client, action);
        return { id: (await client.createAutomation(body)).id };
      }
      case 'update':
      case 'adopt': {
        // PUT replaces the whole automation and keeps its id (PATCH only sets `enabled`).
        const id = requireId(action);
        await client.request('PUT', `/automations/${encodeURIComponent(id)}`, await resolveAtApply(client, action));
        return { id };
      }
      case 'delete':
        await client.deleteAutomation(requireId(action));
        return { id: action.id };
    }
  },

  exportDocument(live) {
    const raw = live.raw;
    const names = isObject(raw[NAMES_KEY]) ? (raw[NAMES_KEY] as Record<string, string>) : {};
    const doc: { kind: WorkspaceKind } & Record<string, Json> = { kind: KIND, name: live.key };
    if (typeof raw.description === 'string' && raw.description !== '') doc.description = raw.description;
    if (raw.enabled === false) doc.enabled = false;
    const tags = (Array.isArray(raw.tags) ? raw.tags : []).filter((t): t is string => typeof t === 'string' && !t.startsWith('prefect-gitops'));
    if (tags.length) doc.tags = tags.sort();
    doc.trigger = isObject(raw.trigger) ? minimalTrigger(raw.trigger) : {};
    for (const list of ACTION_LISTS) {
      const actions = (Array.isArray(raw[list]) ? raw[list] : []).map((a) => (isObject(a) ? minimalAction(a, names) : a));
      if (list === 'actions' || actions.length) doc[list] = actions;
    }
    return doc;
  },
};

/**
 * What the standalone kind reads: every automation except deployment triggers. Those are ours
 * (`prefect-gitops:trigger:` fingerprint) or have a trigger's shape (one run-deployment action of a
 * selected deployment), which the deployment's export takes as its trigger; an automation marked
 * standalone is always read, whatever its shape.
 */
function isStandaloneCandidate(a: LiveAutomation): boolean {
  if (isStandaloneAutomation(a)) return true;
  if (a.tags.some((t) => t.startsWith(FINGERPRINT_TAG))) return false;
  const target = a.actions[0]?.deployment_id;
  return !(typeof target === 'string' && mapAutomation(a, target).ok);
}

/**
 * Every automation for `export --kind` (`ctx.all`); else this owner's (by its marker: a server-side
 * tags filter from 3.4.7) and those of a declared name (collisions), so a plan does not page
 * through every deployment trigger on the server.
 */
async function readCandidates(client: PrefectClient, ctx: KindContext): Promise<LiveAutomation[]> {
  if (ctx.all) return client.listAutomations();
  const declared = [...new Set(ctx.desired.filter((d) => d.kind === KIND).map((d) => d.key))];
  const [owned, named] = await Promise.all([client.listAutomations({ tagsAll: [standaloneOwnerTag(ctx.owner)] }), client.listAutomations({ names: declared })]);
  const byId = new Map<string, LiveAutomation>();
  for (const a of [...owned, ...named]) byId.set(a.id, a);
  return [...byId.values()];
}

/**
 * One automation per name (the kinds' key): Prefect does not keep automation names unique, so an
 * automation of this owner wins over namesakes (made by hand, or another owner's), else the one
 * with the smallest id (any fixed choice: it is a conflict either way).
 */
function oneByName(automations: readonly LiveAutomation[], owner: string): LiveAutomation[] {
  const out = new Map<string, LiveAutomation>();
  for (const a of [...automations].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))) {
    const kept = out.get(a.name);
    if (!kept || (standaloneOwnerOf(kept.tags) !== owner && standaloneOwnerOf(a.tags) === owner)) out.set(a.name, a);
  }
  return [...out.values()];
}

function referencedIds(a: LiveAutomation): Set<string> {
  const ids = new Set<string>();
  for (const list of [a.actions, a.actions_on_trigger ?? [], a.actions_on_resolve ?? []]) {
    for (const action of list) {
      if (typeof action.deployment_id === 'string') ids.add(action.deployment_id);
      if (typeof action.work_pool_id === 'string') ids.add(action.work_pool_id);
    }
  }
  return ids;
}

/** `id -> flow/name` for the deployments and `id -> name` for the work pools the actions name: three reads at most. */
async function readNames(client: PrefectClient, automations: readonly LiveAutomation[]): Promise<Map<string, string>> {
  const deploymentIds = new Set<string>();
  const poolIds = new Set<string>();
  for (const a of automations) {
    for (const list of [a.actions, a.actions_on_trigger ?? [], a.actions_on_resolve ?? []]) {
      for (const action of list) {
        if (typeof action.deployment_id === 'string') deploymentIds.add(action.deployment_id);
        if (typeof action.work_pool_id === 'string') poolIds.add(action.work_pool_id);
      }
    }
  }
  const names = new Map<string, string>();
  if (deploymentIds.size) {
    const deployments = await client.listDeployments({ ids: [...deploymentIds] });
    const flows = await client.listFlows({ ids: [...new Set(deployments.map((d) => d.flow_id))] });
    const flowName = new Map(flows.map((f) => [f.id, f.name]));
    for (const d of deployments) {
      const flow = flowName.get(d.flow_id);
      if (flow !== undefined) names.set(d.id, `${flow}/${d.name}`);
    }
  }
  if (poolIds.size) {
    const path = '/work_pools/filter';
    const pools = await client.request<unknown>('POST', path, { work_pools: { id: { any_: [...poolIds] } }, limit: 200 });
    if (!Array.isArray(pools)) throw new RemoteError('unexpected response from the Prefect API: expected an array of work pools', 'POST', path);
    for (const pool of pools) if (isObject(pool) && typeof pool.id === 'string' && typeof pool.name === 'string') names.set(pool.id, pool.name);
  }
  return names;
}

async function readReferenceId(client: PrefectClient, ref: NameReference): Promise<string | null> {
  if (ref.target === 'work-pool') return (await client.readWorkPool(ref.name))?.id ?? null;
  const slash = ref.name.indexOf('/');
  if (slash <= 0) return null;
  return (await client.readDeploymentByName(ref.name.slice(0, slash), ref.name.slice(slash + 1)))?.id ?? null;
}

/**
 * The body with the names the plan could not resolve (a deployment or pool created earlier in this
 * apply) replaced by their ids, read now.
 */
async function resolveAtApply(client: PrefectClient, action: ObjectAction): Promise<JsonObject> {
  const body = action.body;
  if (!body) throw new InternalError(`a ${action.action} of automation "${action.key}" without a body: this is a bug`);
  const pending = unresolvedNames(body);
  if (pending.length === 0) return body;
  const ids: Record<string, string | null> = {};
  for (const ref of pending) {
    const id = (ids[ref.ref] ??= await readReferenceId(client, ref));
    if (!id) throw new UnresolvedNameError(`automation "${action.key}" names ${describe(ref)}, which is not on the server (it was to be created earlier in this apply); not written, plan again`);
  }
  const resolved: JsonObject = { ...body };
  for (const list of ACTION_LISTS) {
    if (!Array.isArray(body[list])) continue;
    resolved[list] = body[list].map((a) => {
      if (!isObject(a)) return a;
      const { deployment, work_pool, ...rest } = a;
      if (typeof deployment === 'string') return { ...rest, deployment_id: ids[deploymentRef(deployment)]! };
      if (typeof work_pool === 'string') return { ...rest, work_pool_id: ids[workPoolRef(work_pool)]! };
      return a;
    });
  }
  return resolved;
}

/** Checks Prefect would refuse: a Proactive event trigger's `within` between 0 and 10 seconds. */
function triggerIssues(object: DesiredObject, trigger: Json | undefined, path: string): Issue[] {
  if (!isObject(trigger)) return [];
  const issues: Issue[] = [];
  if (trigger.posture === 'Proactive' && typeof trigger.within === 'number' && trigger.within > 0 && trigger.within < 10) {
    issues.push(issueAt(object, `${path}.within`, `automation "${object.key}": a Proactive trigger's within must be at least 10 seconds (or 0, which Prefect raises to 10)`));
  }
  if (Array.isArray(trigger.triggers)) trigger.triggers.forEach((t, i) => issues.push(...triggerIssues(object, t, `${path}.triggers[${i}]`)));
  return issues;
}

/** `deployment:flow/name` / `work-pool:name` -> live id or null, as {@link automationHandler.readReference} read them. */
function referencesOf(ctx: KindContext): Readonly<Record<string, string | null>> {
  const refs = ctx.reference?.automation;
  return isObject(refs) ? (refs as Record<string, string | null>) : {};
}

const describe = (ref: NameReference): string => (ref.target === 'deployment' ? `deployment "${ref.name}"` : `work pool "${ref.name}"`);

/** The value as the manifest declares it (names, not ids), for the plan's "after". */
const declaredValue = (value: Json | undefined): Json => (value === undefined ? null : value);

function requireId(action: ObjectAction): string {
  if (!action.id) throw new InternalError(`a ${action.action} of automation "${action.key}" without the live id: this is a bug`);
  return action.id;
}
