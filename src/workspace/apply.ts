/**
 * Applying the workspace part of a plan: each action through its kind's `write`, in the plan's
 * order, and the owner's inventory kept around them (intent before creating, drop after deleting).
 *
 * Order with the deployments (src/apply/apply.ts): workspace writes of kinds ordered before
 * deployments (pools 10, queues 20, limits and variables 30), then the deployments' writes, then
 * workspace writes of later kinds (automations 60); deletes only when all of that succeeded:
 * later kinds' deletes, the deployments' deletes, then earlier kinds' deletes (queues before pools).
 * Within one kind order, actions run concurrently; a failure stops every later step (they are
 * reported as skipped), as a failed create stops the deletes today.
 */
import type { ActionResult } from '../apply/apply.js';
import { AmbiguousWriteError, describeError, RemoteError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PrefectClient } from '../prefect/client.js';
import type { Plan } from '../plan/types.js';
import { hiddenValues, scrubSecrets } from '../render/redact.js';
import { ObjectConflictError, type InventoryEntry, type KindContext, type ObjectAction } from './kind.js';
import { updateInventory } from './inventory.js';
import { DEPLOYMENT_ORDER, handlerFor } from './registry.js';
import { objectLabel } from './types.js';

export interface WorkspaceSteps {
  /** Creates, adoptions, updates of kinds applied before deployments. */
  readonly writesBefore: readonly ObjectAction[];
  /** ... and after them (automations). */
  readonly writesAfter: readonly ObjectAction[];
  /** Deletes of kinds applied after deployments: deleted before the deployments' deletes. */
  readonly deletesFirst: readonly ObjectAction[];
  /** Deletes of kinds applied before deployments: deleted last. */
  readonly deletesLast: readonly ObjectAction[];
}

const orderOf = (a: ObjectAction): number => handlerFor(a.kind)?.order ?? DEPLOYMENT_ORDER;

/** The plan's workspace actions, split around the deployments' (order kept). */
export function workspaceSteps(plan: Plan): WorkspaceSteps {
  const all = plan.workspace?.actions ?? [];
  const writes = all.filter((a) => a.action !== 'delete');
  const deletes = all.filter((a) => a.action === 'delete');
  return {
    writesBefore: writes.filter((a) => orderOf(a) < DEPLOYMENT_ORDER),
    writesAfter: writes.filter((a) => orderOf(a) >= DEPLOYMENT_ORDER),
    deletesFirst: deletes.filter((a) => orderOf(a) >= DEPLOYMENT_ORDER),
    deletesLast: deletes.filter((a) => orderOf(a) < DEPLOYMENT_ORDER),
  };
}

/** What a result says about a workspace action. */
export const resultOf = (a: ObjectAction, status: ActionResult['status'], extra: { id?: string; message?: string } = {}): ActionResult => ({
  kind: a.action,
  key: objectLabel(a),
  status,
  objectKind: a.kind,
  ...(extra.id !== undefined ? { id: extra.id } : {}),
  ...(extra.message !== undefined ? { message: extra.message } : {}),
});

/** Values a failed write's message must not show: a sensitive object's body, and any sensitive-looking field's. */
function hiddenIn(a: ObjectAction): string[] {
  const hidden = hiddenValues(a.body ?? {});
  if (a.sensitive && a.body) {
    const value = (a.body as Record<string, unknown>).value;
    if (value !== undefined && value !== null) {
      // The value whole (as the server may quote it), and each of its strings and numbers.
      hidden.push(...[typeof value === 'string' ? value : JSON.stringify(value)].filter((s) => s.length >= 4), ...hiddenValues({ password: value }));
    }
  }
  return hidden;
}

export interface RunOptions {
  readonly logger: Logger;
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  readonly onStart?: (action: ObjectAction) => void;
  readonly onResult: (result: ActionResult) => void;
}

/**
 * Runs workspace actions group by group (one group per kind order, in the given order). Once one
 * fails, or the signal aborts, the rest are skipped. Returns one result per action.
 */
export async function runWorkspaceActions(actions: readonly ObjectAction[], client: PrefectClient, ctx: KindContext, options: RunOptions): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  let failed: string | undefined;
  const groups: ObjectAction[][] = [];
  for (const a of actions) {
    const last = groups.at(-1);
    if (last && orderOf(last[0]!) === orderOf(a) && (last[0]!.action === 'delete') === (a.action === 'delete')) last.push(a);
    else groups.push([a]);
  }
  for (const group of groups) {
    if (failed !== undefined || options.signal?.aborted) {
      const why = options.signal?.aborted ? `not started: ${options.signal.reason instanceof Error ? options.signal.reason.message : 'interrupted'}` : `not started because ${failed} failed`;
      for (const a of group) {
        const r = resultOf(a, 'skipped', { message: why });
        results.push(r);
        options.onResult(r);
      }
      continue;
    }
    const run = async (a: ObjectAction): Promise<ActionResult> => {
      options.onStart?.(a);
      let r: ActionResult;
      try {
        // Only the inventory changes (recorded before any write, by recordIntents).
        const { id } = a.inventoryOnly ? { id: a.id } : await handlerFor(a.kind)!.write(client, a, ctx);
        r = resultOf(a, 'ok', id !== undefined ? { id } : {});
        options.logger.info({ action: a.action, object: objectLabel(a), id }, 'action applied');
      } catch (error) {
        const message = scrubSecrets(describeError(error), hiddenIn(a));
        // Known not to have created anything: a name taken by someone else's object, or a create the server refused outright.
        const notCreated = a.action === 'create' && (error instanceof ObjectConflictError || (error instanceof RemoteError && !(error instanceof AmbiguousWriteError) && error.status !== undefined && error.status >= 400 && error.status < 500));
        r = { ...resultOf(a, 'failed', { message }), ...(notCreated ? { notCreated: true as const } : {}) };
        options.logger.error({ action: a.action, object: objectLabel(a), error: message }, 'action failed');
      }
      options.onResult(r);
      return r;
    };
    const out: ActionResult[] = new Array<ActionResult>(group.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < group.length) {
        const i = next++;
        out[i] = await run(group[i]!);
      }
    };
    // A kind that orders its writes (work queues: the server renumbers priorities) gets them one at a time.
    const concurrency = handlerFor(group[0]!.kind)?.orderActions && group[0]!.action !== 'delete' ? 1 : options.concurrency;
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, group.length)) }, worker));
    results.push(...out);
    const bad = out.find((r) => r.status !== 'ok');
    if (bad) failed = bad.key;
  }
  return results;
}

/**
 * Before any workspace write: records the intent to own what this apply creates or adopts (null
 * ids for creates), and the protection (`gitops.protected`) of inventory kinds where it changes.
 * Nothing is written when the plan creates, adopts and protects nothing.
 */
export async function recordIntents(client: PrefectClient, owner: string, actions: readonly ObjectAction[]): Promise<void> {
  const taking = actions.filter((a) => a.action === 'create' || a.action === 'adopt');
  const protecting = new Map(actions.filter((a) => a.protect !== undefined).map((a) => [`${a.kind}\u0000${a.key}`, a.protect!]));
  if (taking.length === 0 && protecting.size === 0) return;
  await updateInventory(client, owner, (entries) => {
    const known = new Set(entries.map((e) => `${e.kind}\u0000${e.key}`));
    const added: InventoryEntry[] = taking
      // An entry already there (an earlier interrupted apply) keeps its id until the create returns one.
      .filter((a) => a.action === 'adopt' || !known.has(`${a.kind}\u0000${a.key}`))
      .map((a) => ({ kind: a.kind, key: a.key, id: a.action === 'adopt' ? a.id! : null }));
    return [...entries, ...added].map((e) => {
      const want = protecting.get(`${e.kind}\u0000${e.key}`);
      if (want === undefined) return e;
      const { protected: _was, ...rest } = e;
      return want ? { ...rest, protected: true as const } : rest;
    });
  });
}

/**
 * After the writes: the ids of what was created, and the entries of what was deleted dropped
 * (deletes only after they succeeded). Nothing is written when nothing changed.
 */
export async function recordOutcome(client: PrefectClient, owner: string, actions: readonly ObjectAction[], results: readonly ActionResult[], forget: readonly { kind: string; key: string }[] = []): Promise<void> {
  const byLabel = new Map(results.filter((r) => r.objectKind !== undefined && r.status === 'ok').map((r) => [`${r.kind}:${r.key}`, r]));
  const refused = new Set(results.filter((r) => r.notCreated).map((r) => r.key));
  const done = (a: ObjectAction): ActionResult | undefined => byLabel.get(`${a.action}:${objectLabel(a)}`);
  const created = actions.filter((a) => a.action === 'create' && done(a)?.id !== undefined);
  const deleted = actions.filter((a) => a.action === 'delete' && done(a) !== undefined);
  // Intents of creates that made nothing: the name is someone else's (an inventory kind would otherwise count it as ours).
  const notCreated = actions.filter((a) => a.action === 'create' && refused.has(objectLabel(a)));
  if (created.length === 0 && deleted.length === 0 && forget.length === 0 && notCreated.length === 0) return;
  await updateInventory(client, owner, (entries) => {
    const ids = new Map(created.map((a) => [`${a.kind}\u0000${a.key}`, done(a)!.id!]));
    const gone = new Set([...deleted, ...forget].map((a) => `${a.kind}\u0000${a.key}`));
    const intents = new Set(notCreated.map((a) => `${a.kind}\u0000${a.key}`));
    return entries
      .filter((e) => !gone.has(`${e.kind}\u0000${e.key}`) && !(e.id === null && intents.has(`${e.kind}\u0000${e.key}`)))
      .map((e) => (ids.has(`${e.kind}\u0000${e.key}`) ? { ...e, id: ids.get(`${e.kind}\u0000${e.key}`)! } : e));
  });
}

/** The context a kind's `write` gets at apply time (the plan carries everything else). */
export function applyContext(client: PrefectClient, owner: string): KindContext {
  return { owner, features: client.capabilities, serverVersion: client.serverVersion, inventory: [], desired: [], deploymentKeys: [] };
}
