import { InterruptedError } from '../errors.js';
import type { Logger } from '../log.js';
import { planHasChanges } from '../plan/plan.js';
import type { Reconciliation } from '../reconcile.js';
import { acquireApplyLock, type ApplyLock, type LockHolder } from './lock.js';

export interface PlanUnderLockOptions {
  /** false = `--no-lock`: plan once and take no lock. */
  readonly lock: boolean;
  readonly timeoutMs: number;
  readonly ttlMs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** Ctrl-C: stops the wait, or drops the lock after planning, with {@link InterruptedError}. */
  readonly signal?: AbortSignal;
  readonly onWait?: (holder: LockHolder | undefined, lockName: string) => void;
}

export interface PlannedUnderLock<R extends Reconciliation> {
  readonly reconciliation: R;
  /** Held when the plan has changes (and locking is on): release it once the apply is over. */
  readonly lock?: ApplyLock;
}

/**
 * Plans for an apply. A plan without changes takes no lock (a no-op apply sends no writes at
 * all). Otherwise it takes the owner's apply lock, waiting for another apply to finish, and then
 * plans again against the live state as it is now, under the lock: the plan returned is the one
 * to apply, so the second of two concurrent applies waits and then plans what is left (often
 * nothing). The lock is released here when planning under it fails.
 *
 * @throws LockTimeoutError / InterruptedError (nothing was written) and whatever `makePlan` throws.
 */
export async function planUnderLock<R extends Reconciliation>(makePlan: () => Promise<R>, options: PlanUnderLockOptions): Promise<PlannedUnderLock<R>> {
  const first = await makePlan();
  // A refused prune refuses the whole apply: nothing will be written, so no lock either.
  if (!options.lock || !planHasChanges(first.plan) || first.plan.pruneRefused) return { reconciliation: first };
  const lock = await acquireApplyLock(first.client, first.plan.owner, {
    timeoutMs: options.timeoutMs,
    ttlMs: options.ttlMs,
    env: options.env,
    logger: options.logger,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onWait ? { onWait: options.onWait } : {}),
  });
  try {
    const fresh = await makePlan();
    if (options.signal?.aborted) throw new InterruptedError('interrupted before applying; nothing was written');
    return { reconciliation: fresh, lock };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
