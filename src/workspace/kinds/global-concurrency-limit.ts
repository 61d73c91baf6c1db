/**
 * The `global-concurrency-limit` kind: Prefect's v2 concurrency limits (`/v2/concurrency_limits/`),
 * name, limit, slot_decay_per_second, active. They have neither tags nor labels, so ownership is the
 * owner's inventory on the server (src/workspace, `ownership: 'inventory'`).
 *
 * Prefect makes a limit of its own for every deployment with a concurrency limit, named
 * `deployment:<deployment id>` (server/models/deployments.py, 3.0 onwards): those belong to their
 * deployment (its `concurrency_limit`), so they are left out of reads (and so of export and prune),
 * and a declared name of that shape is a validation error.
 *
 * Updates PATCH only the changed fields: the server writes exactly the fields sent
 * (`exclude_unset`, on every version from 2.19), so a new `limit` keeps the slots in use.
 */
import { deleteIfPresent, readIfPresent, readPages } from './requests.js';
import { AmbiguousWriteError, InternalError, RemoteError } from '../../errors.js';
import type { PrefectClient } from '../../prefect/client.js';
import type { Json, JsonObject } from '../../prefect/types.js';
import type { FieldChange } from '../../plan/types.js';
import { issueAt } from './positions.js';
import { ObjectConflictError, type KindHandler, type LiveObject, type ObjectAction, type WorkspaceKind } from '../kind.js';

const KIND = 'global-concurrency-limit' satisfies WorkspaceKind;
const BASE = '/v2/concurrency_limits';
/** The filter endpoint's largest page (Prefect's default `limit` bound). */

/** Names Prefect gives the limits it makes for deployments' `concurrency_limit`. */
export const DEPLOYMENT_LIMIT_PREFIX = 'deployment:';
export const isDeploymentLimitName = (name: string): boolean => name.startsWith(DEPLOYMENT_LIMIT_PREFIX);

/** The managed fields with the value an undeclared one has (Prefect's defaults): leaving a field out means this. */
const DEFAULTS = { active: true, slot_decay_per_second: 0 } as const;
const FIELDS = ['limit', 'active', 'slot_decay_per_second'] as const;
type Field = (typeof FIELDS)[number];

/** The declared value of every managed field, defaults filled in. */
function declared(spec: JsonObject): Record<Field, Json> {
  return {
    limit: spec.limit ?? null,
    active: spec.active ?? DEFAULTS.active,
    slot_decay_per_second: spec.slot_decay_per_second ?? DEFAULTS.slot_decay_per_second,
  };
}

export const globalConcurrencyLimitHandler: KindHandler = {
  kind: KIND,
  order: 30,
  schemaFile: 'global-concurrency-limit.schema.json',
  ownership: 'inventory',
  keyOf: (spec) => String(spec.name),

  validate(objects) {
    return objects
      .filter((o) => isDeploymentLimitName(o.key))
      .map((o) =>
        issueAt(o, 'name', `global concurrency limit "${o.key}": names starting with "${DEPLOYMENT_LIMIT_PREFIX}" are the limits Prefect makes for a deployment's concurrency_limit; set concurrency_limit on the deployment instead, or choose another name`),
      );
  },

  serverIssues() {
    // /v2/concurrency_limits/ exists on every version the matrix supports (2.19 onwards).
    return [];
  },

  async readLive(client) {
    const out: LiveObject[] = [];
    // Sorted by name on the server.
    for (const item of await readPages(client, `${BASE}/filter`)) {
      const limit = checkLimit(item, 'POST', `${BASE}/filter`);
      if (isDeploymentLimitName(limit.name)) continue;
      out.push({ kind: KIND, key: limit.name, id: limit.id, updated: typeof limit.updated === 'string' ? limit.updated : null, raw: limit, taggedOwner: null });
    }
    return out;
  },

  planIssues() {
    return [];
  },

  createBody(object) {
    return { name: object.key, ...declared(object.spec) };
  },

  diff(object, live) {
    const want = declared(object.spec);
    const body: JsonObject = {};
    const changes: FieldChange[] = [];
    for (const field of FIELDS) {
      const before = live.raw[field] ?? null;
      // Numbers compare by value: the server answers 0.0 for a declared 0.
      if (before === want[field]) continue;
      body[field] = want[field];
      changes.push({ field, before, after: want[field] });
    }
    return changes.length ? { body, changes } : null;
  },

  async write(client, action) {
    switch (action.action) {
      case 'create':
        return { id: await createLimit(client, action.body ?? {}) };
      case 'update':
      case 'adopt': {
        const id = requireId(action);
        // An adoption sends the full declared state (minus the name it already has); an update the changed fields.
        const { name: _name, ...body } = action.body ?? {};
        if (Object.keys(body).length) await client.request('PATCH', `${BASE}/${encodeURIComponent(id)}`, body);
        return { id };
      }
      case 'delete': {
        await deleteIfPresent(client, `${BASE}/${encodeURIComponent(requireId(action))}`);
        return { id: action.id };
      }
    }
  },

  exportDocument(live) {
    const raw = live.raw;
    const doc: { kind: WorkspaceKind } & Record<string, Json> = { kind: KIND, name: live.key, limit: raw.limit ?? 0 };
    if (raw.slot_decay_per_second !== undefined && raw.slot_decay_per_second !== DEFAULTS.slot_decay_per_second) doc.slot_decay_per_second = raw.slot_decay_per_second;
    if (raw.active === false) doc.active = false;
    return doc;
  },
};

/**
 * POST the limit. A create whose answer was lost (the server may have made it) is read back by
 * name before anything else: names are unique, so a limit of that name with the declared limit is ours.
 */
async function createLimit(client: PrefectClient, body: JsonObject): Promise<string> {
  try {
    const created = await client.request<unknown>('POST', `${BASE}/`, body);
    return checkLimit(created, 'POST', `${BASE}/`).id;
  } catch (error) {
    // 409: the name was taken since the plan. Never taken over.
    if (error instanceof RemoteError && !(error instanceof AmbiguousWriteError) && error.status === 409) {
      throw new LimitConflictError(`conflict: global concurrency limit "${String(body.name)}" was created by someone else after the plan; not overwritten, plan again`);
    }
    if (!(error instanceof AmbiguousWriteError) || typeof body.name !== 'string') throw error;
    const existing = await readLimit(client, body.name);
    if (existing && existing.limit === body.limit && existing.active === body.active && existing.slot_decay_per_second === body.slot_decay_per_second) return existing.id;
    throw error;
  }
}

/** A create found the name taken: reported as a failed action. */
export class LimitConflictError extends ObjectConflictError {
  override readonly name = 'LimitConflictError';
}

async function readLimit(client: PrefectClient, name: string): Promise<(JsonObject & { id: string; name: string }) | undefined> {
  const path = `${BASE}/${encodeURIComponent(name)}`;
  const found = await readIfPresent<unknown>(client, path);
  return found === undefined ? undefined : checkLimit(found, 'GET', path);
}

function requireId(action: ObjectAction): string {
  if (!action.id) throw new InternalError(`a ${action.action} of ${action.kind} "${action.key}" without the live id: this is a bug`);
  return action.id;
}

function checkLimit(value: unknown, method: string, path: string): JsonObject & { id: string; name: string } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw unexpected(method, path, 'a concurrency limit is not an object');
  const record = value as JsonObject;
  if (typeof record.id !== 'string' || typeof record.name !== 'string') throw unexpected(method, path, 'a concurrency limit has no string id or name');
  if (typeof record.limit !== 'number') throw unexpected(method, path, 'a concurrency limit has no numeric limit');
  return record as JsonObject & { id: string; name: string };
}

const unexpected = (method: string, path: string, what: string): RemoteError => new RemoteError(`unexpected response from the Prefect API: ${what}`, method, path);
