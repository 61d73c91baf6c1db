import type { Logger } from '../log.js';
import { describeError } from '../errors.js';
import { hiddenValues, scrubSecrets } from '../render/redact.js';
import type { PrefectClient } from '../prefect/client.js';
import type { LiveFlow } from '../prefect/types.js';
import { automationBody, type DesiredTrigger } from '../plan/triggers.js';
import type { Plan, PlanAction } from '../plan/types.js';

export type ActionStatus = 'ok' | 'failed' | 'skipped';

export interface ActionResult {
  readonly kind: PlanAction['kind'];
  readonly key: string;
  readonly status: ActionStatus;
  readonly id?: string;
  /** Why it failed or was skipped. */
  readonly message?: string;
}

export interface ApplyResult {
  readonly results: readonly ActionResult[];
  readonly ok: boolean;
}

export interface ApplyOptions {
  readonly concurrency?: number;
  readonly logger: Logger;
  /** Called after each action finishes (progress display). */
  readonly onProgress?: (done: number, total: number, result: ActionResult) => void;
  /** Called when an action starts. */
  readonly onStart?: (action: PlanAction) => void;
}

/**
 * Executes exactly the actions of `plan`, nothing else: it never re-plans and never reads to
 * decide. Creates, adoptions and updates run with bounded concurrency; one failure does not stop
 * the others. Deletes run last, and only when everything before them succeeded. A plan whose prune
 * was refused is not applied at all: every action is skipped and nothing is written.
 */
export async function apply(plan: Plan, client: PrefectClient, options: ApplyOptions): Promise<ApplyResult> {
  const { logger } = options;
  if (plan.pruneRefused !== null) {
    // A half-applied rename (new deployment created, old one kept) runs both schedules: refuse all.
    const message = `apply refused: ${plan.pruneRefused}`;
    logger.warn({ reason: plan.pruneRefused }, 'apply refused by a prune safeguard');
    return { results: plan.actions.map((a) => ({ kind: a.kind, key: a.key, status: 'skipped', message })), ok: false };
  }
  const total = plan.actions.length;
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

  const run = async (action: PlanAction): Promise<ActionResult> => {
    options.onStart?.(action);
    let result: ActionResult;
    try {
      const id = await execute(action, client, ensureFlow, plan.owner);
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

  const writes = plan.actions.filter((a) => a.kind !== 'delete');
  const deletes = plan.actions.filter((a) => a.kind === 'delete');
  const results = await mapBounded(writes, options.concurrency ?? 4, run);
  if (results.every((r) => r.status === 'ok')) {
    results.push(...(await mapBounded(deletes, options.concurrency ?? 4, run)));
  } else {
    for (const action of deletes) {
      const skipped: ActionResult = { kind: action.kind, key: action.key, status: 'skipped', message: 'not deleted because an earlier action failed; deletes run only after every create and update succeeded' };
      done++;
      options.onProgress?.(done, total, skipped);
      results.push(skipped);
    }
  }
  return { results, ok: results.every((r) => r.status === 'ok') && plan.pruneRefused === null };
}

/** Wipe-and-create, as `prefect deploy` does, but only when the triggers changed. */
async function replaceAutomations(client: PrefectClient, deploymentId: string, triggers: readonly DesiredTrigger[], owner: string): Promise<void> {
  await client.deleteOwnedAutomations(deploymentId);
  for (const trigger of triggers) await client.createAutomation(automationBody(trigger, deploymentId, owner));
}

async function execute(action: PlanAction, client: PrefectClient, ensureFlow: (name: string) => Promise<LiveFlow>, owner: string): Promise<string> {
  switch (action.kind) {
    case 'create':
    case 'adopt': {
      const flow = await ensureFlow(action.flowName);
      const created = await client.createDeployment({ ...action.body, name: action.name, flow_id: flow.id });
      if (action.schedules.length > 0) await client.createSchedules(created.id, [...action.schedules]);
      // An adopted deployment may own automations made by `prefect deploy`: ours replace them. A new
      // one owns none yet.
      if (action.kind === 'adopt') await replaceAutomations(client, created.id, action.triggers, owner);
      else for (const trigger of action.triggers) await client.createAutomation(automationBody(trigger, created.id, owner));
      return created.id;
    }
    case 'update': {
      if (Object.keys(action.patch).length > 0) await client.updateDeployment(action.id, action.patch);
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
