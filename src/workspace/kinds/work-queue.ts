/**
 * `kind: work-queue`: name, pool, priority, concurrency_limit, paused, description. Key `POOL/QUEUE`.
 *
 * Priorities: when one queue's priority is set, the server renumbers the pool's other queues so that
 * priorities stay unique (server/models/workers.py `bulk_update_work_queue_priorities`). The plan
 * simulates that renumbering, sends a declared priority again where another change would move it,
 * and {@link orderQueueActions} sends them in ascending priority, so one apply converges.
 *
 * A pool's `default` queue exists as long as its pool: declaring it updates it (on a pool created in
 * the same apply, too), and a prune never deletes it (Prefect refuses, and deletes it with the pool).
 */
import { deleteIfPresent, readIfPresent, readPages } from './requests.js';
import { AmbiguousWriteError } from '../../errors.js';
import { canonicalJson } from '../../plan/canonical-json.js';
import type { FieldChange } from '../../plan/types.js';
import type { PrefectClient } from '../../prefect/client.js';
import type { Json, JsonObject } from '../../prefect/types.js';
import type { Issue } from '../../validate/issue.js';
import type { DesiredObject, KindContext, KindHandler, LiveObject, ObjectAction, WorkspaceKind } from '../kind.js';
import { issueAt } from './positions.js';
import { readDeploymentUsers, usersHold } from './work-pool.js';

const KIND = 'work-queue' as const satisfies WorkspaceKind;
export const DEFAULT_QUEUE = 'default';
/** The description Prefect gives a pool's default queue. */
export const DEFAULT_QUEUE_DESCRIPTION = "The work pool's default queue.";

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);
const same = (a: Json | undefined, b: Json | undefined): boolean => canonicalJson(a) === canonicalJson(b);

export const queueKey = (pool: string, queue: string): string => `${pool}/${queue}`;
const poolOf = (object: DesiredObject): string => String(object.spec['pool']);
const nameOf = (object: DesiredObject): string => String(object.spec['name']);
const livePool = (live: LiveObject): string => String(live.raw['work_pool_name']);
const queuePath = (pool: string, queue: string): string => `/work_pools/${encodeURIComponent(pool)}/queues/${encodeURIComponent(queue)}`;

/** The queue's fields as the server keeps them; an omitted field is what Prefect gives a new queue. Priority only when declared. */
function fields(spec: JsonObject): { description: Json; is_paused: boolean; concurrency_limit: Json; priority?: number } {
  const description = spec['description'] ?? (spec['name'] === DEFAULT_QUEUE ? DEFAULT_QUEUE_DESCRIPTION : '');
  return {
    description,
    is_paused: spec['paused'] === true,
    concurrency_limit: spec['concurrency_limit'] ?? null,
    ...(typeof spec['priority'] === 'number' ? { priority: spec['priority'] } : {}),
  };
}

const FIELD_NAMES = { description: 'description', is_paused: 'paused', concurrency_limit: 'concurrency_limit', priority: 'priority' } as const;

/** Offline: two declared queues of one pool with the same priority (the server keeps priorities unique). */
export function validateQueues(objects: readonly DesiredObject[]): Issue[] {
  const issues: Issue[] = [];
  const seen = new Map<string, string>();
  for (const object of objects) {
    const priority = object.spec['priority'];
    if (typeof priority !== 'number') continue;
    const slot = `${poolOf(object)}\u0000${priority}`;
    const other = seen.get(slot);
    if (other !== undefined) {
      issues.push(issueAt(object, 'priority', `work queues "${other}" and "${nameOf(object)}" of pool "${poolOf(object)}" both have priority ${priority}; Prefect keeps a pool's priorities unique, so one of them would move`));
    } else seen.set(slot, nameOf(object));
  }
  return issues;
}

/**
 * Plan time: a queue whose pool is neither declared nor on the server. Every pool has a queue
 * (its default), so the live queues name every live pool.
 */
export function planQueueIssues(objects: readonly DesiredObject[], live: readonly LiveObject[], ctx: Pick<KindContext, 'desired' | 'live'>): Issue[] {
  const pools = new Set([
    ...live.filter((l) => l.kind === KIND).map(livePool),
    ...(ctx.live ?? []).filter((l) => l.kind === 'work-pool').map((l) => l.key),
    ...ctx.desired.filter((d) => d.kind === 'work-pool').map((d) => d.key),
  ]);
  const known = [...pools].sort();
  return objects
    .filter((object) => !pools.has(poolOf(object)))
    .map((object) =>
      issueAt(object, 'pool', `work pool "${poolOf(object)}" of work queue "${nameOf(object)}" is neither declared (kind: work-pool) nor on the server; pools: ${known.join(', ') || '(none)'}`),
    );
}

interface Slot {
  readonly key: string;
  priority: number;
}

/** The server's renumbering after one queue's priority is set (bulk_update_work_queue_priorities, with its quirks). */
export function setPriority(queues: readonly Slot[], key: string, priority: number): Slot[] {
  const others = queues
    .filter((q) => q.key !== key)
    .map((q) => ({ ...q }))
    .sort((a, b) => a.priority - b.priority);
  const moved = { key, priority };
  const at = others.findIndex((q) => q.priority >= priority);
  // A priority beyond every other queue's is not inserted into the walk: it keeps its value.
  if (at >= 0) others.splice(at, 0, moved);
  let last = 0;
  for (const q of others) {
    if (q.priority <= last) q.priority = ++last;
    else last = q.priority;
  }
  return at >= 0 ? others : [...others, moved];
}

/** A queue created without a priority takes the first free one (the first gap, else max + 1) and moves nobody. */
function addWithoutPriority(queues: readonly Slot[], key: string): Slot[] {
  const taken = queues.map((q) => q.priority).sort((a, b) => a - b);
  let priority = taken.findIndex((p, i) => p !== i + 1) + 1;
  if (priority === 0) priority = (taken.at(-1) ?? 0) + 1;
  return [...queues.map((q) => ({ ...q })), { key, priority }];
}

/**
 * The declared queues of `pool` whose priority must be sent: those that differ from the live value
 * (or are created), and those another queue's move would shift. Simulates the apply in the order
 * {@link orderQueueActions} sends it. Pure.
 */
export function prioritiesToSend(pool: string, desired: readonly DesiredObject[], live: readonly LiveObject[]): Set<string> {
  const declared = desired.filter((d) => d.kind === KIND && poolOf(d) === pool);
  const liveQueues = live.filter((l) => l.kind === KIND && livePool(l) === pool);
  const start: Slot[] = liveQueues.length > 0 ? liveQueues.map((l) => ({ key: l.key, priority: Number(l.raw['priority']) })) : [{ key: queueKey(pool, DEFAULT_QUEUE), priority: 1 }];
  const current = new Map(start.map((s) => [s.key, s.priority]));
  const wanted = new Map(declared.filter((d) => typeof d.spec['priority'] === 'number').map((d) => [d.key, d.spec['priority'] as number]));
  const send = new Set([...wanted].filter(([key, p]) => current.get(key) !== p).map(([key]) => key));
  const created = declared.filter((d) => !current.has(d.key) && !wanted.has(d.key)).map((d) => d.key);
  for (;;) {
    let state = start;
    for (const key of [...send].sort((a, b) => wanted.get(a)! - wanted.get(b)! || a.localeCompare(b))) state = setPriority(state, key, wanted.get(key)!);
    for (const key of created.sort()) state = addWithoutPriority(state, key);
    const final = new Map(state.map((s) => [s.key, s.priority]));
    const moved = [...wanted].filter(([key, p]) => !send.has(key) && final.get(key) !== p).map(([key]) => key);
    if (moved.length === 0) return send;
    for (const key of moved) send.add(key);
  }
}

/** The POST /work_pools/{pool}/queues body. */
export function queueCreateBody(object: DesiredObject): JsonObject {
  const f = fields(object.spec);
  return {
    name: nameOf(object),
    description: f.description,
    is_paused: f.is_paused,
    ...(f.concurrency_limit !== null ? { concurrency_limit: f.concurrency_limit } : {}),
    ...(f.priority !== undefined ? { priority: f.priority } : {}),
  };
}

/** Changed fields and the PATCH body; null when nothing differs. A priority another queue's move would shift is sent again. */
export function diffQueue(object: DesiredObject, live: LiveObject, ctx: Pick<KindContext, 'desired' | 'live'>): { body: JsonObject; changes: FieldChange[] } | null {
  const f = fields(object.spec);
  const body: JsonObject = {};
  const changes: FieldChange[] = [];
  for (const key of ['description', 'is_paused', 'concurrency_limit', 'priority'] as const) {
    if (key === 'priority' && f.priority === undefined) continue;
    const current = key === 'is_paused' ? live.raw[key] === true : (live.raw[key] ?? null);
    const wanted = f[key] as Json;
    const resend = key === 'priority' && ctx.live !== undefined && prioritiesToSend(poolOf(object), ctx.desired, ctx.live).has(object.key);
    if (!same(current, wanted) || resend) {
      body[key] = wanted;
      changes.push({ field: FIELD_NAMES[key], before: current, after: wanted });
    }
  }
  return changes.length > 0 ? { body, changes } : null;
}

/** Plan notes: a priority sent again only because another queue moves. */
export function queueNotes(object: DesiredObject, live: LiveObject | undefined, ctx: Pick<KindContext, 'desired' | 'live'>): string[] {
  const notes: string[] = [];
  const resent = live && ctx.live !== undefined && live.raw['priority'] === object.spec['priority'] && prioritiesToSend(poolOf(object), ctx.desired, ctx.live).has(object.key);
  if (resent) {
    notes.push(`priority ${object.spec['priority']} is sent again: the server renumbers the pool's queues when another one's priority is set`);
  }
  if (!live && nameOf(object) === DEFAULT_QUEUE) notes.push('the pool\'s default queue: Prefect creates it with the pool; the apply sets its fields');
  return notes;
}

/** Creates and updates in ascending declared priority per pool (queues without one last), so the server's renumbering converges. */
export function orderQueueActions(actions: readonly ObjectAction[]): ObjectAction[] {
  const priority = (a: ObjectAction): number => (typeof a.body?.['priority'] === 'number' ? a.body['priority'] : Number.MAX_SAFE_INTEGER);
  const pool = (a: ObjectAction): string => a.key.slice(0, a.key.lastIndexOf('/'));
  return [...actions].sort((a, b) => pool(a).localeCompare(pool(b)) || priority(a) - priority(b) || a.key.localeCompare(b.key));
}

/** The document `export --kind work-queue` writes: only what differs from what Prefect gives a new queue. */
export function exportQueue(live: LiveObject): { kind: WorkspaceKind } & Record<string, Json> {
  const raw = live.raw;
  const name = String(raw['name']);
  const defaultDescription = name === DEFAULT_QUEUE ? DEFAULT_QUEUE_DESCRIPTION : '';
  return {
    kind: KIND,
    name,
    pool: livePool(live),
    ...(raw['description'] !== defaultDescription && raw['description'] !== undefined ? { description: raw['description'] } : {}),
    ...(typeof raw['priority'] === 'number' ? { priority: raw['priority'] } : {}),
    ...(raw['concurrency_limit'] !== null && raw['concurrency_limit'] !== undefined ? { concurrency_limit: raw['concurrency_limit'] } : {}),
    ...(raw['is_paused'] === true ? { paused: true } : {}),
  };
}

/** A live queue, with the deployments that use it when a prune could delete it (ours, no longer declared). */
export interface LiveQueue extends LiveObject {
  readonly deployments?: readonly { readonly id: string; readonly key: string }[];
}

/**
 * Every work queue of every pool on the server (legacy queues without a pool are not ours to
 * manage); for the owned ones no longer declared, the deployments that use them.
 */
export async function readLiveQueues(client: Pick<PrefectClient, 'request'>, ctx?: Pick<KindContext, 'desired' | 'inventory'>): Promise<LiveQueue[]> {
  const queues = await readQueues(client);
  const declared = new Set((ctx?.desired ?? []).filter((d) => d.kind === KIND).map((d) => d.key));
  const owned = new Set((ctx?.inventory ?? []).filter((e) => e.kind === KIND).map((e) => e.key));
  const candidates = queues.filter((q) => owned.has(q.key) && !declared.has(q.key) && q.raw['name'] !== DEFAULT_QUEUE);
  if (candidates.length === 0) return queues;
  const users = await readDeploymentUsers(client, {
    work_pools: { name: { any_: [...new Set(candidates.map(livePool))] } },
    deployments: { work_queue_name: { any_: [...new Set(candidates.map((q) => String(q.raw['name'])))] } },
  });
  const byQueue = new Map<string, { id: string; key: string }[]>();
  for (const u of users) byQueue.set(queueKey(u.pool, u.queue), [...(byQueue.get(queueKey(u.pool, u.queue)) ?? []), { id: u.id, key: u.key }]);
  const wanted = new Set(candidates.map((q) => q.key));
  return queues.map((q) => (wanted.has(q.key) ? { ...q, deployments: byQueue.get(q.key) ?? [] } : q));
}

async function readQueues(client: Pick<PrefectClient, 'request'>): Promise<LiveObject[]> {
  const out: LiveObject[] = [];
  for (const raw of (await readPages(client, '/work_queues/filter')).filter(isObject)) {
    if (typeof raw['work_pool_name'] !== 'string') continue;
    out.push({ kind: KIND, key: queueKey(raw['work_pool_name'], String(raw['name'])), id: String(raw['id']), updated: typeof raw['updated'] === 'string' ? raw['updated'] : null, raw, taggedOwner: null });
  }
  return out;
}

const splitKey = (key: string): [string, string] => [key.slice(0, key.lastIndexOf('/')), key.slice(key.lastIndexOf('/') + 1)];

/**
 * Sends one action. A create of a pool's default queue is an update (the pool made it). A create
 * whose answer was lost is read back before anything is sent again.
 */
export async function writeQueue(client: Pick<PrefectClient, 'request'>, action: ObjectAction): Promise<{ id: string | undefined }> {
  const [pool, queue] = splitKey(action.key);
  const path = queuePath(pool, queue);
  const { name: _name, ...patch } = action.body ?? {};
  switch (action.action) {
    case 'create': {
      if (queue === DEFAULT_QUEUE) {
        await client.request('PATCH', path, patch);
        return { id: String((await client.request<JsonObject>('GET', path))['id']) };
      }
      try {
        const created = await client.request<JsonObject>('POST', `/work_pools/${encodeURIComponent(pool)}/queues`, action.body);
        return { id: String(created['id']) };
      } catch (error) {
        if (!(error instanceof AmbiguousWriteError)) throw error;
        // Only a queue that is what this create sent is taken as its own (another may have made one meanwhile).
        const found = await readQueue(client, path);
        if (!found || (found['description'] ?? '') !== (action.body?.['description'] ?? '')) throw error;
        await client.request('PATCH', path, patch);
        return { id: String(found['id']) };
      }
    }
    case 'adopt':
    case 'update':
      if (Object.keys(patch).length > 0) await client.request('PATCH', path, patch);
      return { id: action.id };
    case 'delete':
      await deleteIfPresent(client, path);
      return { id: action.id };
  }
}

async function readQueue(client: Pick<PrefectClient, 'request'>, path: string): Promise<JsonObject | undefined> {
  return readIfPresent<JsonObject>(client, path);
}

export const workQueueKind: KindHandler & { keyOf(spec: JsonObject): string } = {
  kind: KIND,
  keyOf: (spec) => queueKey(String(spec['pool']), String(spec['name'])),
  order: 20,
  schemaFile: 'work-queue.schema.json',
  ownership: 'inventory',
  validate: (objects) => validateQueues(objects),
  serverIssues: () => [],
  readLive: (client, ctx) => readLiveQueues(client, ctx),
  planIssues: (objects, live, ctx) => planQueueIssues(objects, live, ctx),
  createBody: (object) => queueCreateBody(object),
  diff: (object, live, ctx) => diffQueue(object, live, ctx),
  notes: (object, live, ctx) => queueNotes(object, live, ctx),
  holdDelete: (live, ctx) => usersHold((live as LiveQueue).deployments ?? [], ctx, (placed) => `${placed.pool}/${placed.queue ?? DEFAULT_QUEUE}` === live.key),
  forgetOnPrune: (live) => String(live.raw['name']) === DEFAULT_QUEUE,
  orderActions: (actions) => orderQueueActions(actions),
  write: (client, action) => writeQueue(client, action),
  exportDocument: (live) => exportQueue(live),
};
