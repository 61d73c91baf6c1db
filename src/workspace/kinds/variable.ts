/**
 * The `variable` kind: a Prefect variable (name, value, tags). Ownership: the owner tag
 * `prefect-gitops:<owner>` on the variable (as deployments on servers without labels). A variable
 * marked `sensitive` (or whose name looks like a secret) also carries `prefect-gitops:sensitive`,
 * and its value is never shown: plans show "(sensitive)", export writes an `{{ env.X }}` placeholder.
 */
import { deleteIfPresent, readPages } from './requests.js';
import { RemoteError } from '../../errors.js';
import type { PrefectClient } from '../../prefect/client.js';
import type { Json, JsonObject } from '../../prefect/types.js';
import type { FieldChange } from '../../plan/types.js';
import { REDACTED } from '../../render/redact.js';
import type { Issue } from '../../validate/issue.js';
import { ObjectConflictError, type DesiredObject, type KindContext, type KindHandler, type LiveObject, type ObjectAction } from '../kind.js';
import { isReservedVariableName, ownerFromTags, ownerTag, PROTECTED_TAG, SENSITIVE_TAG, userTags } from '../ownership.js';

/** Prefect's limit on a variable's value, as JSON text (MAX_VARIABLE_VALUE_LENGTH). */
export const MAX_VALUE_LENGTH = 5000;
const PAGE = 200;

/** A create that would take over a variable someone else made: reported as a failed action. */
export class VariableConflictError extends ObjectConflictError {
  override readonly name = 'VariableConflictError';
}

/** The environment variable export names in a sensitive variable's placeholder: `db_password` -> `PREFECT_VARIABLE_DB_PASSWORD`. */
export const sensitivePlaceholderEnv = (name: string): string => `PREFECT_VARIABLE_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;

const sortedUnique = (tags: readonly string[]): string[] => [...new Set(tags)].sort();

/** The tags a declared variable has on the server: the user's, the owner tag and the markers. */
function desiredTags(object: DesiredObject, owner: string, live?: LiveObject): string[] {
  const tags = [...((object.spec.tags as string[] | undefined) ?? []), ownerTag(owner)];
  if (object.sensitive) tags.push(SENSITIVE_TAG);
  // `gitops.protected`, or a protection added in the UI: never taken away by an apply.
  if (object.protected || liveTags(live).includes(PROTECTED_TAG)) tags.push(PROTECTED_TAG);
  return sortedUnique(tags);
}

const liveTags = (live: LiveObject | undefined): string[] => (Array.isArray(live?.raw.tags) ? (live.raw.tags as unknown[]).filter((t): t is string => typeof t === 'string') : []);

const jsonEqual = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

const shown = (object: { sensitive: boolean }, value: Json | undefined): Json | undefined => (object.sensitive && value !== undefined ? REDACTED : value);

export const variableKind: KindHandler = {
  kind: 'variable',
  order: 30,
  schemaFile: 'variable.schema.json',
  ownership: 'tags',

  keyOf: (spec) => String(spec.name),

  validate(objects) {
    const out: Issue[] = [];
    for (const o of objects) {
      const at = (field: string): { file: string; line: number; column: number } => o.fieldsAt[field] ?? o.declaredAt;
      if (isReservedVariableName(o.key)) {
        out.push({ ...at('name'), path: 'name', severity: 'error', message: `variable name "${o.key}" is reserved: names starting with prefect-gitops- or prefect_gitops_ are prefect-gitops' own (apply lock, name claims, inventory); choose another name` });
      }
      const text = JSON.stringify(o.spec.value ?? null);
      if (o.spec.value !== null && text.length > MAX_VALUE_LENGTH) {
        out.push({ ...at('value'), path: 'value', severity: 'error', message: `variable "${o.key}": the value is ${text.length} characters as JSON; Prefect stores at most ${MAX_VALUE_LENGTH}` });
      }
    }
    return out;
  },

  serverIssues(objects, ctx) {
    const out: Issue[] = [];
    const v2 = ctx.serverVersion.startsWith('2.');
    for (const o of objects) {
      const at = (field: string): { file: string; line: number; column: number } => o.fieldsAt[field] ?? o.declaredAt;
      if (!ctx.features.variableNameDashes && o.key.includes('-')) {
        out.push({ ...at('name'), path: 'name', severity: 'error', message: `variable name "${o.key}" has a dash, which this Prefect server (${ctx.serverVersion}) does not accept in variable names (needs Prefect >= 3.4.1); use underscores` });
      }
      if (v2 && typeof o.spec.value !== 'string') {
        out.push({ ...at('value'), path: 'value', severity: 'error', message: `variable "${o.key}": Prefect ${ctx.serverVersion} stores only strings as variable values (JSON values need Prefect 3); quote the value` });
      }
    }
    return out;
  },

  async readLive(client, ctx) {
    if (ctx.all) return (await listVariables(client, {})).filter((l) => !isReservedVariableName(l.key));
    const names = sortedUnique([...ctx.desired.filter((d) => d.kind === 'variable').map((d) => d.key), ...ctx.inventory.filter((e) => e.kind === 'variable').map((e) => e.key)]).filter((n) => !isReservedVariableName(n));
    const out: LiveObject[] = [];
    for (let i = 0; i < names.length; i += PAGE) out.push(...(await listVariables(client, { variables: { name: { any_: names.slice(i, i + PAGE) } } })));
    return out;
  },

  planIssues: () => [],

  createBody(object, ctx) {
    return { name: object.key, value: (object.spec.value ?? null) as Json, tags: desiredTags(object, ctx.owner) };
  },

  diff(object, live, ctx) {
    const body: JsonObject = {};
    const changes: FieldChange[] = [];
    const want = (object.spec.value ?? null) as Json;
    const have = (live.raw.value ?? null) as Json;
    if (!jsonEqual(want, have)) {
      body.value = want;
      changes.push({ field: 'value', before: shown(object, have), after: shown(object, want) });
    }
    const wantTags = desiredTags(object, ctx.owner, live);
    const haveTags = sortedUnique(liveTags(live));
    if (!jsonEqual(wantTags, haveTags)) {
      body.tags = wantTags;
      changes.push({ field: 'tags', before: haveTags, after: wantTags });
    }
    return changes.length ? { body, changes } : null;
  },

  async write(client, action, ctx) {
    switch (action.action) {
      case 'create':
        return { id: await createVariable(client, action, ctx) };
      case 'update':
      case 'adopt': {
        if (action.body && Object.keys(action.body).length > 0) {
          try {
            await client.request('PATCH', `/variables/${encodeURIComponent(action.id!)}`, action.body);
          } catch (error) {
            if (error instanceof RemoteError && error.status === 404) throw new VariableConflictError(`variable "${action.key}" was deleted since the plan; plan again`);
            throw error;
          }
        }
        return { id: action.id };
      }
      case 'delete':
        await deleteIfPresent(client, `/variables/${encodeURIComponent(action.id!)}`);
        return { id: action.id };
    }
  },

  exportDocument(live) {
    const tags = liveTags(live);
    const sensitive = tags.includes(SENSITIVE_TAG);
    const own = userTags(tags).sort();
    return {
      kind: 'variable',
      name: live.key,
      value: sensitive ? `{{ env.${sensitivePlaceholderEnv(live.key)} }}` : ((live.raw.value ?? null) as Json),
      ...(own.length ? { tags: own } : {}),
      ...(sensitive ? { sensitive: true } : {}),
    };
  },
};

/** `POST /variables/filter`, paged until a short page. */
async function listVariables(client: PrefectClient, filter: JsonObject): Promise<LiveObject[]> {
  const out = new Map<string, LiveObject>();
  for (const raw of (await readPages(client, '/variables/filter', { ...filter, sort: 'NAME_ASC' })) as JsonObject[]) {
    if (typeof raw.id !== 'string' || typeof raw.name !== 'string') throw new RemoteError('POST /variables/filter: a variable without a string id and name', 'POST', '/variables/filter');
    const tags = Array.isArray(raw.tags) ? raw.tags.filter((t): t is string => typeof t === 'string') : [];
    out.set(raw.name, { kind: 'variable', key: raw.name, id: raw.id, updated: typeof raw.updated === 'string' ? raw.updated : null, raw, taggedOwner: ownerFromTags(tags) });
  }
  return [...out.values()];
}

/**
 * POST /variables/ (201). A 409 is a variable of that name made since the plan, or ours whose
 * answer was lost (the client retried): only a variable with exactly our value and our owner tag is
 * taken as ours; anything else is a conflict, never overwritten.
 */
async function createVariable(client: PrefectClient, action: ObjectAction, ctx: KindContext): Promise<string> {
  const body = action.body!;
  try {
    const created = await client.request<JsonObject>('POST', '/variables/', body);
    if (typeof created?.id !== 'string') throw new RemoteError('POST /variables/: the variable has no string id', 'POST', '/variables/');
    return created.id;
  } catch (error) {
    if (!(error instanceof RemoteError && error.status === 409)) throw error;
    const found = await client.request<JsonObject>('GET', `/variables/name/${encodeURIComponent(action.key)}`).catch(() => undefined);
    const tags = Array.isArray(found?.tags) ? (found.tags as string[]) : [];
    if (found && typeof found.id === 'string' && jsonEqual(found.value ?? null, body.value ?? null) && ownerFromTags(tags) === ctx.owner) return found.id;
    throw new VariableConflictError(`conflict: variable "${action.key}" was created by ${ownerFromTags(tags) ? `owner "${ownerFromTags(tags)}"` : 'someone else'} after the plan; not overwritten, plan again`);
  }
}
