/**
 * The owner's inventory on the server: what prefect-gitops created or adopted for this owner, every
 * workspace kind, as `{kind, key, id}`. Kinds without tags or labels (work pools, queues, global
 * concurrency limits) are owned exactly when listed here (by id; an entry whose id is still null,
 * an intent, by key); for kinds with tags it tells the plan which objects to read, while the owner
 * tag decides ownership.
 *
 * It is a Prefect variable named like the apply lock, `prefect-gitops-inventory-<owner>` (with `_`
 * where the server refuses dashes: the client translates), chunked into `...-2`, `...-3` when the
 * value would pass Prefect's 5000-character limit. Chunk 1 carries the chunk count.
 *
 * Crash safety: an apply records its intent (entries with a null id) BEFORE it creates, and drops
 * entries only AFTER deleting. Whatever point an apply stops at, a re-run finds every object it
 * made listed: a listed object that exists is ours (updated or pruned as the manifests say), a
 * listed one that is missing is created again if declared, else its entry is dropped.
 */
import { createHash } from 'node:crypto';
import { UserInputError } from '../errors.js';
import type { PrefectClient } from '../prefect/client.js';
import type { Json } from '../prefect/types.js';
import { WORKSPACE_KINDS, type InventoryEntry, type WorkspaceKind } from './kind.js';

export const INVENTORY_TAG = 'prefect-gitops:inventory';
/** Room under Prefect's 5000 characters for the envelope. */
const CHUNK_LIMIT = 4500;

/** The first chunk's variable name for `owner` (lowercase letters, digits, dashes; a hash keeps owners apart whose slugs collide). */
export function inventoryName(owner: string): string {
  const slug = owner.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').slice(0, 180);
  return slug === owner ? `prefect-gitops-inventory-${slug}` : `prefect-gitops-inventory-${slug}-${createHash('sha256').update(owner).digest('hex').slice(0, 8)}`;
}

const chunkName = (owner: string, index: number): string => (index === 0 ? inventoryName(owner) : `${inventoryName(owner)}-${index + 1}`);

export interface Inventory {
  readonly entries: readonly InventoryEntry[];
  /** The variable id of each chunk as read (index = chunk number - 1). */
  readonly chunkIds: readonly string[];
}

export const EMPTY_INVENTORY: Inventory = { entries: [], chunkIds: [] };

/** Reads the owner's inventory: one request when it has one chunk (or none: a 404). */
export async function readInventory(client: PrefectClient, owner: string): Promise<Inventory> {
  const first = await client.readVariableRecord(chunkName(owner, 0));
  if (!first) return EMPTY_INVENTORY;
  const head = parseChunk(first.variable.value, chunkName(owner, 0));
  const entries = [...head.entries];
  const chunkIds = [first.variable.id];
  for (let i = 1; i < (head.chunks ?? 1); i++) {
    const next = await client.readVariableRecord(chunkName(owner, i));
    if (!next) throw new UserInputError(`the inventory of owner "${owner}" is incomplete: ${chunkName(owner, i)} is missing`, `delete the variables ${inventoryName(owner)}* to rebuild it (objects it listed are then no longer pruned until adopted again)`);
    entries.push(...parseChunk(next.variable.value, chunkName(owner, i)).entries);
    chunkIds.push(next.variable.id);
  }
  return { entries, chunkIds };
}

/**
 * Reads the inventory again, applies `change`, and writes it only when the entries changed: later
 * chunks first, then the first (which carries the count), then surplus chunks are deleted. Call
 * under the apply lock (one writer per owner).
 */
export async function updateInventory(client: PrefectClient, owner: string, change: (entries: readonly InventoryEntry[]) => InventoryEntry[]): Promise<void> {
  const current = await readInventory(client, owner);
  const next = normalise(change(current.entries));
  if (sameEntries(next, normalise([...current.entries]))) return;
  const chunks = toChunks(next);
  for (let i = chunks.length - 1; i >= 0; i--) {
    const value = (i === 0 ? { format: 1, chunks: chunks.length, entries: chunks[0]! } : { entries: chunks[i]! }) as unknown as Json;
    const id = current.chunkIds[i];
    if (id !== undefined && (await client.updateVariableValue(id, value))) continue;
    const created = await client.createVariable({ name: chunkName(owner, i), value, tags: [INVENTORY_TAG] });
    if (created) continue;
    // Made since we read it (a re-run after a lost answer): update it by name.
    const found = await client.readVariableRecord(chunkName(owner, i));
    if (!found || !(await client.updateVariableValue(found.variable.id, value))) throw new UserInputError(`cannot write the inventory variable ${chunkName(owner, i)}; apply again`);
  }
  for (let i = chunks.length; i < current.chunkIds.length; i++) await client.deleteVariableById(current.chunkIds[i]!);
}

type Row = [WorkspaceKind, string, string | null] | [WorkspaceKind, string, string | null, 1];

function parseChunk(value: Json, name: string): { chunks?: number; entries: InventoryEntry[] } {
  const bad = (why: string): never => {
    throw new UserInputError(`the inventory variable ${name} is not readable (${why})`, `restore it, or delete it to rebuild the inventory (objects it listed are then no longer pruned until adopted again)`);
  };
  if (!value || typeof value !== 'object' || Array.isArray(value)) return bad('not an object');
  const rows = (value as { entries?: unknown }).entries;
  if (!Array.isArray(rows)) return bad('no entries');
  const entries = rows.map((row): InventoryEntry => {
    // [kind, key, id], or [kind, key, id, 1] for a protected object.
    if (!Array.isArray(row) || (row.length !== 3 && !(row.length === 4 && row[3] === 1)) || !(WORKSPACE_KINDS as readonly unknown[]).includes(row[0]) || typeof row[1] !== 'string' || (row[2] !== null && typeof row[2] !== 'string')) return bad(`entry ${JSON.stringify(row)}`);
    const [kind, key, id] = row as Row;
    return { kind, key, id, ...(row.length === 4 ? { protected: true as const } : {}) };
  });
  const chunks = (value as { chunks?: unknown }).chunks;
  return { ...(typeof chunks === 'number' && chunks >= 1 ? { chunks } : {}), entries };
}

function toChunks(entries: readonly InventoryEntry[]): Row[][] {
  const chunks: Row[][] = [[]];
  let size = 0;
  for (const e of entries) {
    const row: Row = e.protected ? [e.kind, e.key, e.id, 1] : [e.kind, e.key, e.id];
    const length = JSON.stringify(row).length + 1;
    if (size + length > CHUNK_LIMIT && chunks.at(-1)!.length > 0) {
      chunks.push([]);
      size = 0;
    }
    chunks.at(-1)!.push(row);
    size += length;
  }
  return chunks;
}

/** One entry per kind and key (a later one wins), sorted. */
function normalise(entries: InventoryEntry[]): InventoryEntry[] {
  const byKey = new Map<string, InventoryEntry>();
  for (const e of entries) byKey.set(`${e.kind}\u0000${e.key}`, e);
  return [...byKey.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.key.localeCompare(b.key));
}

const sameEntries = (a: readonly InventoryEntry[], b: readonly InventoryEntry[]): boolean => JSON.stringify(a) === JSON.stringify(b);
