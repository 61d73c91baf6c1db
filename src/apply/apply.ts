import type { Logger } from '../log.js';
import { describeError, GitopsError, GuardRefusedError, InternalError } from '../errors.js';
import { hiddenValues, scrubSecrets } from '../render/redact.js';
import type { PrefectClient } from '../prefect/client.js';
import type { JsonObject, LiveAutomation, LiveDeployment, LiveFlow, ScheduleCreateBody } from '../prefect/types.js';
import { ownerOf, ownershipMarker, ownerTag } from '../plan/ownership.js';
import { automationBody, FINGERPRINT_TAG, type DesiredTrigger } from '../plan/triggers.js';
import { DEFAULT_LOCK_TTL_MS } from './lock.js';
import { claimNames, findExistingDeployments, type NameClaims } from './claims.js';
import type { Plan, PlanAction } from '../plan/types.js';
import type { WorkspaceKind } from '../workspace/kind.js';
import { applyContext, recordIntents, recordOutcome, resultOf, runWorkspaceActions, workspaceSteps } from '../workspace/apply.js';

export type ActionStatus = 'ok' | 'failed' | 'skipped';

export interface ActionResult {
  readonly kind: PlanAction['kind'];
  readonly key: string;
  readonly status: ActionStatus;
  readonly id?: string;
  /** Why it failed or was skipped. */
  readonly message?: string;
  /** Set for a workspace object (then `key` reads `variable "name"`). */
  readonly objectKind?: WorkspaceKind;
  /** A workspace create that failed without creating anything (its inventory intent is dropped). */
  readonly notCreated?: true;
}

export interface ApplyResult {
  readonly results: readonly ActionResult[];
  readonly ok: boolean;
  /** Set when `signal` stopped the run: the actions not started are `skipped`. */
  readonly interrupted?: true;
}

export interface ApplyOptions {
  /** Actions in flight; default the client's cap (its in-flight bound, which may adapt, does the limiting). */
  readonly concurrency?: number;
  readonly logger: Logger;
  /** Called after each action finishes (progress display). */
  readonly onProgress?: (done: number, total: number, result: ActionResult) => void;
  /** Called when an action starts. */
  readonly onStart?: (action: PlanAction) => void;
  /**
   * Once aborted (Ctrl-C, a lost apply lock), no new action starts; actions in flight finish. The
   * abort reason's message says why in the skipped results.
   */
  readonly signal?: AbortSignal;
  /**
   * Whether this run holds the owner's apply lock (src/apply/lock.ts), and the TTL and environment
   * recorded in the claims on the names of the deployments it creates (src/apply/claims.ts).
   */
  readonly lock?: { readonly held: boolean; readonly ttlMs?: number; readonly env?: Readonly<Record<string, string | undefined>> };
}

/** A create that would take over a deployment it does not own: reported as a failed action. */
class CreateConflictError extends GitopsError {
  override readonly name = 'CreateConflictError';
}

/**
 * Executes exactly the actions of `plan`, nothing else: it never re-plans. Creates, adoptions and
 * updates run with bounded concurrency; one failure does not stop the others. Deletes run last,
 * and only when everything before them succeeded (and the run was not interrupted).
 *
 * Its only reads are guards that can refuse an action, never change it: before any create, the
 * names of all deployments to create are claimed at once (src/apply/claims.ts) and read back by
 * name, so that no create takes over a deployment that another owner is creating or that has
 * appeared since the plan (the server's POST is an upsert and would silently take it over); each
 * create then checks that what it created carries our owner label; otherwise that action fails
 * as a conflict. Automations are looked up
 * by name and fingerprint before they are created, so no interleaving or retry leaves two.
 */
export async function apply(plan: Plan, client: PrefectClient, options: ApplyOptions): Promise<ApplyResult> {
  const { logger } = options;
  if (plan.pruneRefused !== null) {
    // A half-applied rename (new deployment created, old one kept) runs both schedules: refuse all.
    const message = `apply refused: ${plan.pruneRefused}`;
    logger.warn({ reason: plan.pruneRefused }, 'apply refused by a prune safeguard');
    return { results: [...plan.actions.map((a) => ({ kind: a.kind, key: a.key, status: 'skipped' as const, message })), ...(plan.workspace?.actions ?? []).map((a) => resultOf(a, 'skipped', { message }))], ok: false };
  }
  const ws = workspaceSteps(plan);
  const wsActions = plan.workspace?.actions ?? [];
  const total = plan.actions.length + wsActions.length;
  let done = 0;
  const flows = new Map<string, Promise<LiveFlow>>();
  const ensureFlow = (name: string): Promise<LiveFlow> => {
    let flow = flows.get(name);
    if (!flow) {
      flow = client.ensureFlow(name);
      flows.set(name, flow);
      // A failed flow lookup must not poison later attempts within this run.
      flow.catch(() => flows.delete(name));
    }
    return flow;
  };

  const run = async (action: PlanAction, guard: CreateGuard): Promise<ActionResult> => {
    options.onStart?.(action);
    let result: ActionResult;
    try {
      const id = await execute(action, client, ensureFlow, plan.owner, guard);
      result = { kind: action.kind, key: action.key, status: 'ok', id };
      logger.info({ action: action.kind, deployment: action.key, id }, 'action applied');
    } catch (error) {
      // A server may echo a value the plan hides (a 422 quoting a job variable): scrub what this action sends.
      const message = scrubSecrets(describeError(error), hiddenValues(action));
      result = { kind: action.kind, key: action.key, status: 'failed', message };
      logger.error({ action: action.kind, deployment: action.key, error: message }, 'action failed');
    }
    done++;
    options.onProgress?.(done, total, result);
    return result;
  };

  const { signal } = options;
  const skip = (action: PlanAction, message: string): ActionResult => {
    const skipped: ActionResult = { kind: action.kind, key: action.key, status: 'skipped', message };
    done++;
    options.onProgress?.(done, total, skipped);
    return skipped;
  };
  const stopped = (): string => `not started: ${signal?.reason instanceof Error ? signal.reason.message : 'interrupted'}`;
  const runUnlessStopped = (action: PlanAction): Promise<ActionResult> => (signal?.aborted ? Promise.resolve(skip(action, stopped())) : run(action, NO_GUARD));

  const workers = options.concurrency ?? client.concurrency.max;
  const writes = plan.actions.filter((a) => a.kind !== 'delete');
  const deletes = plan.actions.filter((a) => a.kind === 'delete');
  // Workspace objects (src/workspace/apply.ts): kinds before deployments, then deployments, then later kinds.
  const wsCtx = applyContext(client, plan.owner);
  const wsRun = (actions: Parameters<typeof runWorkspaceActions>[0]): Promise<ActionResult[]> =>
    runWorkspaceActions(actions, client, wsCtx, {
      logger,
      concurrency: workers,
      ...(signal ? { signal } : {}),
      onResult: (r) => options.onProgress?.(++done, total, r),
    });
  const wsSkip = (actions: Parameters<typeof runWorkspaceActions>[0], message: string): ActionResult[] =>
    actions.map((a) => {
      const r = resultOf(a, 'skipped', { message });
      options.onProgress?.(++done, total, r);
      return r;
    });
  // Deployment creates are guarded by name claims (src/apply/claims.ts), held until they are done.
  const runDeploymentWrites = async (): Promise<ActionResult[]> => {
    const guard = await guardCreates(plan, client, options);
    try {
      return await mapBounded(writes, workers, (action) => (signal?.aborted ? Promise.resolve(skip(action, stopped())) : run(action, guard)));
    } finally {
      await guard.claims?.release();
    }
  };
  const results: ActionResult[] = [];
  if (wsActions.length > 0) {
    try {
      await recordIntents(client, plan.owner, wsActions);
    } catch (error) {
      // Nothing is created that the inventory would not list: stop before any write.
      const message = `not started: the owner's inventory could not be written: ${describeError(error)}`;
      logger.error({ error: describeError(error) }, 'inventory write failed');
      return { results: [...plan.actions.map((a) => skip(a, message)), ...wsSkip(wsActions, message)], ok: false };
    }
  }
  results.push(...(await wsRun(ws.writesBefore)));
  const blockedBy = (): string | undefined => results.find((r) => r.status !== 'ok')?.key;
  if (blockedBy() === undefined) results.push(...(await runDeploymentWrites()));
  else for (const action of writes) results.push(skip(action, `not started because ${blockedBy()} failed; it comes first in the plan's order`));
  if (blockedBy() === undefined && !signal?.aborted) results.push(...(await wsRun(ws.writesAfter)));
  else results.push(...wsSkip(ws.writesAfter, signal?.aborted ? stopped() : `not started because ${blockedBy()} failed; it comes first in the plan's order`));
  const allDeletes = ws.deletesFirst.length + deletes.length + ws.deletesLast.length;
  if (signal?.aborted) {
    results.push(...wsSkip(ws.deletesFirst, stopped()));
    for (const action of deletes) results.push(skip(action, stopped()));
    results.push(...wsSkip(ws.deletesLast, stopped()));
  } else if (results.every((r) => r.status === 'ok')) {
    if (allDeletes > 0) {
      const first = await wsRun(ws.deletesFirst);
      results.push(...first);
      const mid = first.every((r) => r.status === 'ok') ? await mapBounded(deletes, workers, runUnlessStopped) : deletes.map((a) => skip(a, 'not deleted because an earlier delete failed'));
      results.push(...mid);
      if (mid.every((r) => r.status === 'ok') && first.every((r) => r.status === 'ok')) results.push(...(await wsRun(ws.deletesLast)));
      else results.push(...wsSkip(ws.deletesLast, 'not deleted because an earlier delete failed'));
    }
  } else {
    const message = 'not deleted because an earlier action failed; deletes run only after every create and update succeeded';
    results.push(...wsSkip(ws.deletesFirst, message));
    for (const action of deletes) results.push(skip(action, message));
    results.push(...wsSkip(ws.deletesLast, message));
  }
  if (wsActions.length > 0) {
    try {
      await recordOutcome(client, plan.owner, wsActions, results, plan.workspace?.forget ?? []);
    } catch (error) {
      // What was written is listed as an intent already: the next apply finds it and completes the record.
      logger.warn({ error: describeError(error) }, 'inventory not updated after the apply; the next apply completes it');
    }
  }
  const ok = results.every((r) => r.status === 'ok') && plan.pruneRefused === null;
  return { results, ok, ...(signal?.aborted ? { interrupted: true as const } : {}) };
}

/** Wipe-and-create, as `prefect deploy` does, but only when the triggers changed. */
async function replaceAutomations(client: PrefectClient, deploymentId: string, triggers: readonly DesiredTrigger[], owner: string): Promise<void> {
  await client.deleteOwnedAutomations(deploymentId);
  await ensureAutomations(client, deploymentId, triggers, owner);
}

/** Creates the automation of each trigger unless the deployment already has it (same name, owner and fingerprint). */
async function ensureAutomations(client: PrefectClient, deploymentId: string, triggers: readonly DesiredTrigger[], owner: string): Promise<void> {
  if (triggers.length === 0) return;
  const existing = await client.listAutomationsOfDeployment(deploymentId);
  for (const trigger of triggers) {
    if (existing.some((a) => isAutomationOf(a, trigger, deploymentId, owner))) continue;
    await client.createAutomation(automationBody(trigger, deploymentId, owner));
  }
}

function isAutomationOf(a: LiveAutomation, trigger: DesiredTrigger, deploymentId: string, owner: string): boolean {
  return (
    a.name === trigger.name &&
    a.tags.includes(ownerTag(owner)) &&
    a.tags.includes(`${FINGERPRINT_TAG}${trigger.fingerprint}`) &&
    a.actions.some((x) => x.type === 'run-deployment' && x.deployment_id === deploymentId)
  );
}

/** What the creates of one apply were cleared for: their claims, and why some must not happen. */
interface CreateGuard {
  readonly claims: NameClaims | undefined;
  /** Create key -> why it must not happen (a conflict, or the guard itself failed). */
  readonly refused: ReadonlyMap<string, string>;
}

const NO_GUARD: CreateGuard = { claims: undefined, refused: new Map() };

/**
 * Before any create: claims every name to create at once (src/apply/claims.ts), then reads which
 * of them exist by now. A failure here fails every create (and nothing else); an interrupt while
 * waiting leaves the creates to be skipped.
 */
async function guardCreates(plan: Plan, client: PrefectClient, options: ApplyOptions): Promise<CreateGuard> {
  const creates = plan.actions.filter((a): a is Extract<PlanAction, { kind: 'create' }> => a.kind === 'create');
  if (creates.length === 0 || options.signal?.aborted) return NO_GUARD;
  const wanted = creates.map((a) => ({ key: a.key, flowName: a.flowName, name: a.name }));
  let claims: NameClaims | undefined;
  try {
    claims = await claimNames(client, plan.owner, wanted, {
      ttlMs: options.lock?.ttlMs ?? DEFAULT_LOCK_TTL_MS,
      env: options.lock?.env ?? {},
      logger: options.logger,
      lockHeld: options.lock?.held ?? false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const refused = new Map<string, string>();
    for (const [key, why] of claims.conflicts) refused.set(key, `conflict: ${why}; not created, plan again`);
    const existing = await findExistingDeployments(client, wanted.filter((w) => !refused.has(w.key)));
    const marker = ownershipMarker(client.capabilities);
    for (const [key, deployment] of existing) {
      const by = ownerOf(deployment, marker);
      refused.set(key, `conflict: ${key} was created by ${by ? `owner "${by}"` : 'someone else'} after the plan; not overwritten, plan again`);
    }
    return { claims, refused };
  } catch (error) {
    await claims?.release();
    const why = `not created: claiming the deployment names failed: ${describeError(error)}`;
    options.logger.error({ error: describeError(error) }, 'claiming the deployment names failed');
    return { claims: undefined, refused: new Map(creates.map((a) => [a.key, why])) };
  }
}

/**
 * Creates a deployment that the plan found absent, without ever taking over one that appeared
 * since: the guard (claims and a read by name) cleared its name; then check the result is ours.
 */
async function createNew(client: PrefectClient, action: Extract<PlanAction, { kind: 'create' }>, body: JsonObject, flow: () => Promise<LiveFlow>, owner: string, guard: CreateGuard): Promise<string> {
  const refused = guard.refused.get(action.key);
  if (refused !== undefined) throw new CreateConflictError(refused);
  if (!guard.claims) throw new InternalError(`a create of ${action.key} without name claims`);
  const claims = guard.claims;
  const flowId = (await flow()).id;
  // Claims that could have expired no longer keep another owner from creating this name: the
  // client asks right before sending (after any wait for an in-flight slot), and on each retry.
  let created: LiveDeployment;
  try {
    created = await client.createDeployment({ ...body, name: action.name, flow_id: flowId }, { guard: () => claims.guard() });
  } catch (error) {
    if (error instanceof GuardRefusedError) throw new CreateConflictError(`${error.message}; plan again`);
    throw error;
  }
  const marker = ownershipMarker(client.capabilities);
  const by = ownerOf(created, marker);
  if (by !== owner) throw new CreateConflictError(`conflict: ${action.key} was created but carries owner ${marker} ${by === undefined ? '(none)' : `"${by}"`}, not "${owner}"`);
  return created.id;
}

async function execute(action: PlanAction, client: PrefectClient, ensureFlow: (name: string) => Promise<LiveFlow>, owner: string, guard: CreateGuard): Promise<string> {
  switch (action.kind) {
    case 'create':
    case 'adopt': {
      const inline = schedulesInCreateBody(client, action.schedules);
      const body: JsonObject = inline && action.schedules.length > 0 ? { ...action.body, schedules: action.schedules.map(inlineSchedule) } : action.body;
      const id =
        action.kind === 'create'
          ? await createNew(client, action, body, () => ensureFlow(action.flowName), owner, guard)
          : (await client.createDeployment({ ...body, name: action.name, flow_id: (await ensureFlow(action.flowName)).id })).id;
      if (!inline && action.schedules.length > 0) await client.createSchedules(id, [...action.schedules]);
      // An adopted deployment may own automations made by `prefect deploy`: ours replace them. A new
      // one owns none yet.
      if (action.kind === 'adopt') await replaceAutomations(client, id, action.triggers, owner);
      else await ensureAutomations(client, id, action.triggers, owner);
      return id;
    }
    case 'update': {
      if (action.upsert) await client.createDeployment({ ...action.upsert, name: action.name, flow_id: (await ensureFlow(action.flowName)).id }, { overwrite: true });
      else if (Object.keys(action.patch).length > 0) await client.updateDeployment(action.id, action.patch);
      const ops = action.scheduleOps;
      for (const s of ops.delete) await client.deleteSchedule(action.id, s.id);
      for (const s of ops.update) await client.updateSchedule(action.id, s.id, s.body);
      if (ops.create.length > 0) await client.createSchedules(action.id, [...ops.create]);
      if (action.replaceTriggers) await replaceAutomations(client, action.id, action.replaceTriggers, owner);
      return action.id;
    }
    case 'delete': {
      if (action.orphanedAutomationOf !== undefined) {
        await client.deleteAutomation(action.id);
        return action.id;
      }
      await client.deleteOwnedAutomations(action.id);
      await client.deleteDeployment(action.id);
      return action.id;
    }
  }
}

/**
 * Whether a create can carry its schedules in the one `POST /deployments/` (one write instead of
 * two). The server keeps each schedule's slug there from 3.2.0, the release that gave schedules
 * slugs (`models.deployments.create_deployment` at the tags: 3.1.15 drops it, 3.2.0 passes it);
 * no version keeps `max_scheduled_runs` on that path, so a schedule with one still goes to
 * `POST .../schedules`.
 */
function schedulesInCreateBody(client: PrefectClient, schedules: readonly ScheduleCreateBody[]): boolean {
  return client.capabilities.scheduleSlugs && schedules.every((s) => s.max_scheduled_runs === undefined || s.max_scheduled_runs === null);
}

function inlineSchedule(s: ScheduleCreateBody): JsonObject {
  const { max_scheduled_runs: _dropped, ...rest } = s;
  return rest as unknown as JsonObject;
}

/** Maps with at most `limit` promises in flight, keeping input order in the output. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  // At least one worker: a limit of 0 must not silently skip every item.
  const workers = Math.max(1, limit);
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, items.length) }, worker));
  return out;
}
