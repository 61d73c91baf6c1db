/**
 * `kind: work-pool`: name, type, description, paused, concurrency_limit, and the base job template
 * either whole (`base_job_template`) or as the defaults of the type's template variables
 * (`job_variables`). The type's default template is the server's worker metadata
 * (`GET /collections/views/aggregate-worker-metadata`: the registry, or the copy packaged with the
 * server when it has no internet), what the UI offers when it creates a pool.
 *
 * Ownership: pools have no tags or labels, so the owner's inventory on the server says which are ours.
 */
import { deleteIfPresent, readIfPresent, readPages } from './requests.js';
import { AmbiguousWriteError, RemoteError } from '../../errors.js';
import { canonicalJson } from '../../plan/canonical-json.js';
import type { FieldChange } from '../../plan/types.js';
import type { PrefectClient } from '../../prefect/client.js';
import type { Json, JsonObject } from '../../prefect/types.js';
import { checkAgainst } from '../../validate/schema.js';
import type { Issue } from '../../validate/issue.js';
import type { DeclaredPlacement, DesiredObject, HoldContext, KindContext, KindHandler, LiveObject, ObjectAction, WorkspaceKind } from '../kind.js';
import { overridesOf, placeholderNames, templateChanges, variableSchemas, withDefaults } from './job-template.js';
import { issueAt } from './positions.js';

const KIND = 'work-pool' as const satisfies WorkspaceKind;
/** How many deployment names a held-back delete lists before "and N more". */
const SHOWN_USERS = 5;

/** `ctx.reference['work-pool']`: each pool type's default base job template. */
export interface PoolTypeReference {
  readonly types: Readonly<Record<string, JsonObject>>;
  /** Why the server's worker metadata could not be read (then only whole templates can be checked). */
  readonly error?: string;
}

/** A live pool, with the deployments that use it (what the plan says, and what holds a delete back). */
export interface LivePool extends LiveObject {
  /** How many deployments on the server use the pool. */
  readonly deploymentCount: number;
  /** Those deployments (`flow/name` and id), read for pools that are not declared: the ones a prune may delete. */
  readonly deployments?: readonly { readonly id: string; readonly key: string }[];
  /** The type's default template, when the server knows the type (export says overrides of it). */
  readonly typeDefault?: JsonObject;
}

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);
const same = (a: Json | undefined, b: Json | undefined): boolean => canonicalJson(a) === canonicalJson(b);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const poolPath = (name: string): string => `/work_pools/${encodeURIComponent(name)}`;

/** The reference from a kind context, or an empty one. */
export function poolTypes(ctx: Pick<KindContext, 'reference'>): PoolTypeReference {
  const ref = ctx.reference?.[KIND];
  return isObject(ref) && isObject(ref['types']) ? (ref as unknown as PoolTypeReference) : { types: {} };
}

/**
 * The template a declaration stands for: `base_job_template` as written, or the type's default;
 * either with `job_variables` as its variables' defaults. undefined when the declaration says
 * nothing about the template and the server does not know the type (the template is not managed).
 */
export function desiredTemplate(spec: JsonObject, types: PoolTypeReference): JsonObject | undefined {
  const overrides = isObject(spec['job_variables']) ? spec['job_variables'] : {};
  if (isObject(spec['base_job_template'])) return withDefaults(spec['base_job_template'], overrides);
  const typeDefault = types.types[String(spec['type'])];
  return typeDefault ? withDefaults(typeDefault, overrides) : undefined;
}

/** The pool's fields other than the template, as the server keeps them; an omitted field is Prefect's default. */
function scalarFields(spec: JsonObject): { description: Json; is_paused: boolean; concurrency_limit: Json } {
  return { description: spec['description'] ?? null, is_paused: spec['paused'] === true, concurrency_limit: spec['concurrency_limit'] ?? null };
}

/** Manifest field names of the scalar fields (the plan speaks the manifest's language). */
const FIELD_NAMES = { description: 'description', is_paused: 'paused', concurrency_limit: 'concurrency_limit' } as const;

/** job_variables checked against the variable schemas of `template`: unknown names, and values of the wrong type. */
function jobVariableIssues(object: DesiredObject, template: JsonObject, against: string): Issue[] {
  const overrides = object.spec['job_variables'];
  if (!isObject(overrides)) return [];
  const schemas = variableSchemas(template);
  const known = Object.keys(schemas).sort();
  const issues: Issue[] = [];
  for (const [name, value] of Object.entries(overrides)) {
    const schema = schemas[name];
    if (!schema) {
      issues.push(issueAt(object, `job_variables.${name}`, `job variable "${name}" is not a variable of ${against}; its variables are: ${known.join(', ') || '(none)'}`));
      continue;
    }
    const problems = checkAgainst(without(schema, 'default'), value, { ignoreRequired: false });
    if ('invalidSchema' in problems) continue;
    for (const problem of problems.slice(0, 3)) {
      const path = ['job_variables', name, ...problem.path].join('.');
      issues.push(issueAt(object, path, `job variable "${name}" does not match its schema in ${against}: ${problem.message}`));
    }
  }
  return issues;
}

const without = (object: JsonObject, key: string): JsonObject => Object.fromEntries(Object.entries(object).filter(([k]) => k !== key));

/** Offline checks of one pool: the reserved name prefix, a whole template's placeholders, job_variables against a whole template. */
export function validatePool(object: DesiredObject): Issue[] {
  const issues: Issue[] = [];
  const name = String(object.spec['name'] ?? '');
  if (name.toLowerCase().startsWith('prefect')) issues.push(issueAt(object, 'name', `work pool names starting with "prefect" are reserved by Prefect (the server refuses "${name}")`));
  const template = object.spec['base_job_template'];
  if (isObject(template) && Object.keys(template).length > 0) {
    const jobConfiguration = isObject(template['job_configuration']) ? template['job_configuration'] : {};
    const declared = new Set(Object.keys(variableSchemas(template)));
    const undeclared = placeholderNames(jobConfiguration).filter((n) => !declared.has(n));
    if (undeclared.length > 0) {
      issues.push(
        issueAt(
          object,
          'base_job_template.job_configuration',
          `base_job_template.job_configuration uses ${undeclared.map((n) => `{{ ${n} }}`).join(', ')}, not declared under base_job_template.variables.properties (Prefect refuses a template whose placeholders are not variables)`,
        ),
      );
    }
    issues.push(...jobVariableIssues(object, template, 'the declared base_job_template'));
  } else if (isObject(template) && isObject(object.spec['job_variables']) && Object.keys(object.spec['job_variables']).length > 0) {
    issues.push(issueAt(object, 'job_variables', 'job_variables sets defaults of template variables, but the declared base_job_template is empty'));
  }
  return issues;
}

/** Plan-time checks: job_variables against the type's template on this server, and a type change. */
export function planPoolIssues(objects: readonly DesiredObject[], live: readonly LiveObject[], ctx: Pick<KindContext, 'reference'>): Issue[] {
  const types = poolTypes(ctx);
  const byKey = new Map(live.filter((l) => l.kind === KIND).map((l) => [l.key, l]));
  const issues: Issue[] = [];
  for (const object of objects) {
    const type = String(object.spec['type']);
    const current = byKey.get(object.key);
    if (current && current.raw['type'] !== type) {
      issues.push(
        issueAt(
          object,
          'type',
          `work pool "${object.key}" is of type "${String(current.raw['type'])}" on the server, not "${type}": Prefect cannot change a pool's type; declare a new pool under another name (and move the deployments to it), or keep type "${String(current.raw['type'])}"`,
        ),
      );
    }
    if (isObject(object.spec['base_job_template'])) continue;
    const typeDefault = types.types[type];
    const hasOverrides = isObject(object.spec['job_variables']) && Object.keys(object.spec['job_variables']).length > 0;
    if (!typeDefault) {
      const known = Object.keys(types.types).sort().join(', ');
      const why = types.error ? `the server's worker metadata could not be read (${types.error})` : `this server knows no default base job template for type "${type}" (known types: ${known || 'none'})`;
      if (hasOverrides) issues.push(issueAt(object, 'job_variables', `job_variables are defaults of the type's template, but ${why}; declare base_job_template whole`));
      else if (!current) issues.push(issueAt(object, 'type', `${why}: the pool is created with an empty base job template (a worker of the type uses its own default); declare base_job_template to manage it`, 'warning'));
      continue;
    }
    issues.push(...jobVariableIssues(object, typeDefault, `the default template of work pool type "${type}" on this server`));
  }
  return issues;
}

/** The POST /work_pools/ body. */
export function poolCreateBody(object: DesiredObject, ctx: Pick<KindContext, 'reference'>): JsonObject {
  const fields = scalarFields(object.spec);
  const template = desiredTemplate(object.spec, poolTypes(ctx));
  return {
    name: object.key,
    type: String(object.spec['type']),
    ...(fields.description !== null ? { description: fields.description } : {}),
    is_paused: fields.is_paused,
    ...(fields.concurrency_limit !== null ? { concurrency_limit: fields.concurrency_limit } : {}),
    ...(template ? { base_job_template: template } : {}),
  };
}

/**
 * How a create reads in the plan: the declared fields, and the template as the defaults of its
 * variables over the type's default (the whole template only when it is declared whole).
 */
export function poolCreateChanges(object: DesiredObject, body: JsonObject): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === 'base_job_template') continue;
    changes.push({ field: key === 'is_paused' ? 'paused' : key, before: undefined, after: value });
  }
  const template = body['base_job_template'];
  if (!isObject(template)) return changes;
  if (isObject(object.spec['base_job_template'])) return [...changes, { field: 'base_job_template', before: undefined, after: template }];
  const variables = variableSchemas(template);
  changes.push({ field: 'base_job_template', before: undefined, after: `the default template of type "${String(body['type'])}" on this server (variables: ${Object.keys(variables).join(', ')})` });
  for (const [name, schema] of Object.entries(variables)) {
    if ('default' in schema) changes.push({ field: `job_variables.${name}`, before: undefined, after: schema['default'] });
  }
  return changes;
}

/** What differs from the live pool: changed fields and the PATCH body; null when nothing does. Fields not declared are Prefect's defaults. */
export function diffPool(object: DesiredObject, live: LiveObject, ctx: Pick<KindContext, 'reference'>): { body: JsonObject; changes: FieldChange[] } | null {
  const fields = scalarFields(object.spec);
  const body: JsonObject = {};
  const changes: FieldChange[] = [];
  for (const key of ['description', 'is_paused', 'concurrency_limit'] as const) {
    const current = key === 'is_paused' ? live.raw[key] === true : (live.raw[key] ?? null);
    if (!same(current, fields[key])) {
      body[key] = fields[key];
      changes.push({ field: FIELD_NAMES[key], before: current, after: fields[key] });
    }
  }
  const template = desiredTemplate(object.spec, poolTypes(ctx));
  if (template) {
    const current = isObject(live.raw['base_job_template']) ? live.raw['base_job_template'] : {};
    const templateDiff = templateChanges(current, template);
    if (templateDiff.length > 0) {
      body['base_job_template'] = template;
      changes.push(...templateDiff);
    }
  }
  return changes.length > 0 ? { body, changes } : null;
}

/** "used by N deployments" for a pool that exists. */
export function poolNotes(live: LiveObject | undefined): string[] {
  return live && 'deploymentCount' in live ? [`used by ${plural((live as LivePool).deploymentCount, 'deployment')}`] : [];
}

/** Why an owned pool must not be deleted now: deployments that use it and that this plan does not delete. */
export function poolDeleteHold(live: LiveObject, ctx: Pick<HoldContext, 'deletingDeploymentIds' | 'declaredPlacements'>): string[] {
  const pool = live as LivePool;
  const users = pool.deployments;
  if (!users) return pool.deploymentCount > 0 ? [`not deleted: still used by ${plural(pool.deploymentCount, 'deployment')}`] : [];
  return usersHold(users, ctx, (placed) => placed.pool === live.key);
}

/** The document `export --kind work-pool` writes: overrides of the type's template when that says it all, else the template whole. */
export function exportPool(live: LiveObject): { kind: WorkspaceKind } & Record<string, Json> {
  const raw = live.raw;
  const template = isObject(raw['base_job_template']) ? raw['base_job_template'] : {};
  const typeDefault = (live as LivePool).typeDefault;
  const overrides = typeDefault && Object.keys(template).length > 0 ? overridesOf(template, typeDefault) : undefined;
  return {
    kind: KIND,
    name: live.key,
    type: String(raw['type']),
    ...(raw['description'] !== null && raw['description'] !== undefined ? { description: raw['description'] } : {}),
    ...(raw['is_paused'] === true ? { paused: true } : {}),
    ...(raw['concurrency_limit'] !== null && raw['concurrency_limit'] !== undefined ? { concurrency_limit: raw['concurrency_limit'] } : {}),
    ...(overrides ? (Object.keys(overrides).length > 0 ? { job_variables: overrides } : {}) : { base_job_template: template }),
  };
}

/** Flattens the worker metadata (`{collection: {worker: {type, default_base_job_configuration}}}`) by type. */
export function typesFromWorkerMetadata(metadata: unknown): Record<string, JsonObject> {
  const types: Record<string, JsonObject> = {};
  if (!isObject(metadata)) return types;
  for (const collection of Object.values(metadata)) {
    if (!isObject(collection)) continue;
    for (const worker of Object.values(collection)) {
      if (!isObject(worker) || typeof worker['type'] !== 'string') continue;
      const template = worker['default_base_job_configuration'];
      if (isObject(template) && !(worker['type'] in types)) types[worker['type']] = template;
    }
  }
  return types;
}

/** Reads each pool type's default base job template from the server's worker metadata. */
export async function readPoolTypes(client: Pick<PrefectClient, 'request'>): Promise<PoolTypeReference> {
  try {
    return { types: typesFromWorkerMetadata(await client.request<unknown>('GET', '/collections/views/aggregate-worker-metadata')) };
  } catch (error) {
    if (error instanceof RemoteError && !(error instanceof AmbiguousWriteError) && error.status !== undefined) return { types: {}, error: error.message };
    throw error;
  }
}

/** Pages a filter endpoint: its items that are objects. */
const pages = async (client: Pick<PrefectClient, 'request'>, path: string, body: JsonObject): Promise<JsonObject[]> => (await readPages(client, path, body)).filter(isObject);

/**
 * Every work pool on the server, each with how many deployments use it; for pools that are not
 * declared (the ones a prune could delete) also which deployments, by `flow/name`.
 */
/** The deployments a filter selects, with their `flow/name`, pool and queue (two paged reads). */
export async function readDeploymentUsers(client: Pick<PrefectClient, 'request'>, filter: JsonObject): Promise<{ id: string; key: string; pool: string; queue: string }[]> {
  const deployments = await pages(client, '/deployments/filter', filter);
  const flowIds = [...new Set(deployments.map((d) => String(d['flow_id'])))];
  const flows = flowIds.length > 0 ? await pages(client, '/flows/filter', { flows: { id: { any_: flowIds } } }) : [];
  const flowName = new Map(flows.map((f) => [String(f['id']), String(f['name'])]));
  return deployments.map((d) => ({
    id: String(d['id']),
    key: `${flowName.get(String(d['flow_id'])) ?? String(d['flow_id'])}/${String(d['name'])}`,
    pool: String(d['work_pool_name']),
    queue: String(d['work_queue_name']),
  }));
}

/** Why an object must not be deleted: the deployments using it that this plan does not delete. */
/**
 * Why a pool or queue must stay: the deployments that use it after this plan is applied. Those are
 * the live users this plan neither deletes nor moves elsewhere (a declared deployment runs where it
 * is declared), plus every declared deployment placed on it (created or moved onto it by this plan).
 */
export function usersHold(
  users: readonly { readonly id: string; readonly key: string }[],
  ctx: Pick<HoldContext, 'deletingDeploymentIds' | 'declaredPlacements'>,
  placedHere: (placement: DeclaredPlacement) => boolean,
): string[] {
  const staying = new Set(users.filter((d) => !ctx.deletingDeploymentIds.has(d.id) && (!ctx.declaredPlacements.has(d.key) || placedHere(ctx.declaredPlacements.get(d.key)!))).map((d) => d.key));
  for (const [key, placement] of ctx.declaredPlacements) if (placedHere(placement)) staying.add(key);
  if (staying.size === 0) return [];
  const keys = [...staying].sort();
  const shown = keys.slice(0, SHOWN_USERS).join(', ') + (keys.length > SHOWN_USERS ? ` and ${keys.length - SHOWN_USERS} more` : '');
  return [`not deleted: still used by ${plural(staying.size, 'deployment')} after this plan (${shown}); move or delete them first`];
}

export async function readLivePools(client: Pick<PrefectClient, 'request'>, ctx: Pick<KindContext, 'desired' | 'reference'> & { readonly inventory?: KindContext['inventory'] }): Promise<LivePool[]> {
  const types = ctx.reference?.[KIND] !== undefined ? poolTypes(ctx) : await readPoolTypes(client);
  const declared = new Set(ctx.desired.filter((d) => d.kind === KIND).map((d) => d.key));
  const pools = await pages(client, '/work_pools/filter', {});
  // Only pools a prune could delete (ours, no longer declared) need their deployments listed.
  const owned = ctx.inventory ? new Set(ctx.inventory.filter((e) => e.kind === KIND).map((e) => e.key)) : undefined;
  const undeclared = pools.map((p) => String(p['name'])).filter((name) => !declared.has(name) && (!owned || owned.has(name)));
  const users = new Map<string, { id: string; key: string }[]>();
  if (undeclared.length > 0) {
    for (const d of await readDeploymentUsers(client, { work_pools: { name: { any_: undeclared } } })) {
      const list = users.get(d.pool) ?? [];
      list.push({ id: d.id, key: d.key });
      users.set(d.pool, list);
    }
  }
  return Promise.all(
    pools.map(async (raw): Promise<LivePool> => {
      const name = String(raw['name']);
      const typeDefault = types.types[String(raw['type'])];
      const base = { kind: KIND, key: name, id: String(raw['id']), updated: typeof raw['updated'] === 'string' ? raw['updated'] : null, raw, taggedOwner: null, ...(typeDefault ? { typeDefault } : {}) };
      if (!declared.has(name)) {
        const list = users.get(name) ?? [];
        return { ...base, deploymentCount: list.length, deployments: list };
      }
      const count = await client.request<unknown>('POST', '/deployments/count', { work_pools: { name: { any_: [name] } } });
      return { ...base, deploymentCount: typeof count === 'number' ? count : 0 };
    }),
  );
}

/** Sends one action. A create whose answer was lost is read back before anything is sent again. */
export async function writePool(client: Pick<PrefectClient, 'request'>, action: ObjectAction): Promise<{ id: string | undefined }> {
  const path = poolPath(action.key);
  switch (action.action) {
    case 'create': {
      try {
        const created = await client.request<JsonObject>('POST', '/work_pools/', action.body);
        return { id: String(created['id']) };
      } catch (error) {
        if (!(error instanceof AmbiguousWriteError)) throw error;
        // Only a pool that is what this create sent is taken as its own (another may have made one meanwhile).
        const found = await readPool(client, action.key);
        if (!found || found['type'] !== action.body?.['type'] || !same(found['base_job_template'] ?? {}, action.body?.['base_job_template'] ?? {})) throw error;
        // It was created; make it what was planned (a PATCH is safe to repeat).
        const { name: _name, type: _type, ...fields } = action.body ?? {};
        await client.request('PATCH', path, fields);
        return { id: String(found['id']) };
      }
    }
    case 'adopt':
    case 'update': {
      // An adoption sends the whole declaration, but a pool's name and type are not patchable.
      const { name: _name, type: _type, ...fields } = action.body ?? {};
      if (Object.keys(fields).length > 0) await client.request('PATCH', path, fields);
      return { id: action.id };
    }
    case 'delete':
      await deleteIfPresent(client, path);
      return { id: action.id };
  }
}

async function readPool(client: Pick<PrefectClient, 'request'>, name: string): Promise<JsonObject | undefined> {
  return readIfPresent<JsonObject>(client, poolPath(name));
}

/** `keyOf` is the framework's (ws-core) addition to the contract; declared here until it lands. */
export const workPoolKind: KindHandler & { keyOf(spec: JsonObject): string } = {
  kind: KIND,
  keyOf: (spec) => String(spec['name']),
  order: 10,
  schemaFile: 'work-pool.schema.json',
  ownership: 'inventory',
  validate: (objects) => objects.flatMap(validatePool),
  serverIssues: () => [],
  readReference: async (client) => (await readPoolTypes(client)) as unknown as Json,
  readLive: (client, ctx) => readLivePools(client, ctx),
  planIssues: (objects, live, ctx) => planPoolIssues(objects, live, ctx),
  createBody: (object, ctx) => poolCreateBody(object, ctx),
  createChanges: (object, body) => poolCreateChanges(object, body),
  diff: (object, live, ctx) => diffPool(object, live, ctx),
  notes: (_object, live) => poolNotes(live),
  holdDelete: (live, ctx) => poolDeleteHold(live, ctx),
  write: (client, action) => writePool(client, action),
  exportDocument: (live) => exportPool(live),
};
