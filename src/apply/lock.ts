import { createHash, randomUUID } from 'node:crypto';
import { formatDuration } from '../duration.js';
import { hostname, userInfo } from 'node:os';
import { GitopsError, InterruptedError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PrefectClient } from '../prefect/client.js';
import type { Json, JsonObject, LiveVariable } from '../prefect/types.js';

/**
 * The apply lock, held on the Prefect server itself so that it works across machines and CI
 * systems: one Prefect variable per owner, `prefect-gitops-lock-<owner>`, whose value says who
 * holds it. Taking the lock is creating that variable; the server's unique constraint on variable
 * names makes that atomic (201 = ours, 409 = someone else's). The holder renews it (a PATCH, which
 * moves the variable's server-side `updated`) every third of its TTL and deletes it when done. A
 * holder that was SIGKILLed stops renewing: once its record is older than the TTL it recorded, a
 * waiter deletes that record (by id, so never a newer one) and takes the lock.
 *
 * Why not a global concurrency limit with a lease (`/v2/concurrency_limits/increment-with-lease`,
 * Prefect >= 3.4.9)? On 3.8.8 a lease lasts at least 60 s, is only released by the server's
 * repossessor service, lives in memory by default (a server restart keeps the slot taken in the
 * database and loses the lease, so the lock would be stuck for good), and its holder can only be a
 * flow run, task run or deployment id, so the who-holds-it record needs a second object anyway.
 * A variable needs no background service, survives restarts, carries the holder atomically with
 * the lock and exists on every Prefect 3 server and on Prefect Cloud.
 *
 * The lock is per owner; deployment names are shared across owners. What keeps two owners from
 * both creating one name is the name claims of src/apply/claims.ts: before its creates, an apply
 * writes every name it will create as a few claim-set variables (tagged {@link CLAIM_TAG}, in
 * this file's holder format), reads every claim with one filtered request, yields the names a
 * claim that ranks first holds (or waits for a later-ranking run to publish its decision), reads
 * the deployments by name, creates, and deletes its sets. That costs a constant number of
 * requests per apply (about 3 writes and 2 reads per 280 names) where claiming each name on its
 * own cost 3 requests per create (create a claim variable, read the deployment, delete the claim)
 * besides the POST itself. The reasoning, why it is safe, and its one known limit (an older
 * prefect-gitops's per-name claim made after our read) are in that file's doc comment.
 */

export const LOCK_TAG = 'prefect-gitops:lock';
export const CLAIM_TAG = 'prefect-gitops:claim';
export const DEFAULT_LOCK_TTL_MS = 60_000;
export const DEFAULT_LOCK_TIMEOUT_MS = 5 * 60_000;
/** Overrides the TTL (seconds) the lock records; tests use a few seconds. */
export const LOCK_TTL_ENV = 'PREFECT_GITOPS_LOCK_TTL_SECONDS';

type Env = Readonly<Record<string, string | undefined>>;

/** What the lock record says about its holder. */
export interface LockHolder {
  readonly owner: string;
  readonly host: string;
  readonly pid: number;
  readonly user?: string;
  /** The CI job or run that holds it, when the environment tells. */
  readonly ciRunUrl?: string;
  /** When the holder took it (the holder's clock, ISO 8601). */
  readonly since: string;
  readonly ttlSeconds: number;
  /** Tells our own record from another's after an ambiguous create. */
  readonly nonce: string;
}

/** The apply stopped waiting for the lock: names the holder. Exit code 1, nothing written. */
export class LockTimeoutError extends GitopsError {
  override readonly name = 'LockTimeoutError';
  constructor(
    message: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(message);
  }
}

/** The variable that holds the lock of `owner`: lowercase letters, digits, dashes (Prefect's rule for variable names). */
export function lockName(owner: string): string {
  const slug = owner.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').slice(0, 180);
  // A hash keeps owners apart whose slugs collide ("Team.A" and "team-a").
  return slug === owner ? `prefect-gitops-lock-${slug}` : `prefect-gitops-lock-${slug}-${shortHash(owner)}`;
}

/** The variable that claims the name of a deployment about to be created (see {@link claimDeploymentName}). */
export function claimName(flowName: string, name: string): string {
  return `prefect-gitops-claim-${claimDigest(flowName, name).slice(0, 40)}`;
}

/** The SHA-256 (hex) of a deployment's flow and name, which per-name claims and claim sets both use. */
export function claimDigest(flowName: string, name: string): string {
  return createHash('sha256').update(`${flowName}\u0000${name}`).digest('hex');
}

/** The CI run URL from the environment of common CI systems; `undefined` outside CI. */
export function ciRunUrl(env: Env): string | undefined {
  if (env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY) {
    return `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`;
  }
  if (env.CI_JOB_URL) return env.CI_JOB_URL; // GitLab
  if (env.BUILD_URL) return env.BUILD_URL; // Jenkins
  if (env.BUILDKITE_BUILD_URL) return env.BUILDKITE_BUILD_URL;
  if (env.CIRCLE_BUILD_URL) return env.CIRCLE_BUILD_URL;
  if (env.SYSTEM_COLLECTIONURI && env.SYSTEM_TEAMPROJECT && env.BUILD_BUILDID) {
    return `${env.SYSTEM_COLLECTIONURI}${encodeURIComponent(env.SYSTEM_TEAMPROJECT)}/_build/results?buildId=${env.BUILD_BUILDID}`; // Azure Pipelines
  }
  return undefined;
}

/** The TTL to record: `PREFECT_GITOPS_LOCK_TTL_SECONDS` when it is a positive number, else 60 s. */
export function lockTtlMs(env: Env): number {
  const raw = env[LOCK_TTL_ENV]?.trim();
  const seconds = raw && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
  return seconds > 0 ? Math.round(seconds * 1000) : DEFAULT_LOCK_TTL_MS;
}

/** What this process records as the holder of a lock or claim: who, where, since when, for how long. */
export function newHolder(owner: string, options: { readonly ttlMs: number; readonly env: Env; readonly holder?: Partial<LockHolder> }): LockHolder {
  return {
    owner,
    host: hostname(),
    pid: process.pid,
    ...currentUser(),
    ...optional('ciRunUrl', ciRunUrl(options.env)),
    since: new Date().toISOString(),
    ttlSeconds: options.ttlMs / 1000,
    nonce: randomUUID(),
    ...options.holder,
  };
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'an unknown holder (the lock record is not one prefect-gitops wrote)';
  const who = [`pid ${holder.pid}`, ...(holder.user ? [`user ${holder.user}`] : [])].join(', ');
  return `owner "${holder.owner}" on host ${holder.host} (${who}) since ${holder.since}${holder.ciRunUrl ? `, CI run ${holder.ciRunUrl}` : ''}`;
}

export interface AcquireLockOptions {
  /** How long to wait for a lock someone else holds; 0 = try once. */
  readonly timeoutMs: number;
  /** The TTL this run records (renewed every third of it). */
  readonly ttlMs: number;
  readonly env: Env;
  readonly logger: Logger;
  /** Stops the wait (Ctrl-C): the call then throws {@link InterruptedError}. */
  readonly signal?: AbortSignal;
  /** Called on the first wait, and whenever the holder changes, with what the record says. */
  readonly onWait?: (holder: LockHolder | undefined, lockName: string) => void;
  /** Test hook: the holder data to record (default: this process). */
  readonly holder?: Partial<LockHolder>;
}

/** A held lock. Keep it until the apply is over, then {@link release} it (also on errors and Ctrl-C). */
export interface ApplyLock {
  readonly name: string;
  readonly holder: LockHolder;
  /** Aborted when the lock is lost (the record vanished, or renewing failed for a whole TTL): stop writing. */
  readonly lost: AbortSignal;
  /** Stops renewing and deletes the record; never throws (a failure is logged; the lock then expires by itself). */
  release(): Promise<void>;
}

/**
 * Takes the apply lock of `owner`, waiting up to `timeoutMs` with backoff while someone else holds
 * it, and breaking a record whose holder stopped renewing it for longer than its TTL.
 *
 * @throws LockTimeoutError naming the holder when the wait is over.
 * @throws InterruptedError when `signal` aborts the wait.
 * @throws RemoteError when the server cannot be used.
 */
export async function acquireApplyLock(client: PrefectClient, owner: string, options: AcquireLockOptions): Promise<ApplyLock> {
  const name = lockName(owner);
  const holder = newHolder(owner, options);
  const started = performance.now();
  const observed = new Observations();
  let delayMs = 250;
  let lastSeen: string | undefined;
  for (;;) {
    if (options.signal?.aborted) throw new InterruptedError('interrupted while waiting for the apply lock; nothing was written');
    const taken = await takeRecord(client, name, holder, LOCK_TAG, observed, options.logger);
    if ('acquired' in taken) {
      options.logger.debug({ lock: name }, 'apply lock taken');
      return new HeldLock(client, name, holder, taken.acquired, options.ttlMs, options.logger);
    }
    const other = taken.holder;
    const elapsed = performance.now() - started;
    if (elapsed >= options.timeoutMs) {
      const waited = options.timeoutMs > 0 ? ` after waiting ${formatDuration(elapsed)}` : '';
      throw new LockTimeoutError(
        `the apply lock for owner "${owner}" is held by ${describeHolder(other)}${waited}; nothing was written. ` +
          `Wait for that apply to finish or raise --lock-timeout. If that run is gone, the lock expires by itself ${formatDuration((other?.ttlSeconds ?? DEFAULT_LOCK_TTL_MS / 1000) * 1000)} after its last renewal; ` +
          `to remove it now: prefect variable unset ${name}`,
        other,
      );
    }
    const seen = other?.nonce ?? taken.recordId;
    if (seen !== lastSeen) {
      lastSeen = seen;
      options.onWait?.(other, name);
    }
    // Poll at least a few times per TTL of the holder, so an expired holder is noticed soon.
    const ttlCap = Math.max(200, ((other?.ttlSeconds ?? 60) * 1000) / 3);
    const wait = Math.min(delayMs * (0.8 + Math.random() * 0.4), ttlCap, 10_000, options.timeoutMs - elapsed);
    await sleep(Math.max(0, wait), options.signal);
    delayMs = Math.min(delayMs * 1.5, 10_000);
  }
}

// ---------------------------------------------------------------------------------------------

type Taken = { readonly acquired: LiveVariable } | { readonly holder: LockHolder | undefined; readonly recordId: string };

/**
 * One attempt: create the record; when it exists, break it if its holder's TTL has passed (or
 * `takeOver` says so) and try again at once; otherwise report who holds it.
 */
async function takeRecord(
  client: PrefectClient,
  name: string,
  holder: LockHolder,
  tag: string,
  observed: Observations,
  logger: Logger,
  takeOver: (other: LockHolder | undefined) => boolean = () => false,
): Promise<Taken> {
  for (;;) {
    const created = await createRecord(client, name, holder, tag);
    if (created) return { acquired: created };
    const read = await client.readVariableRecord(name);
    // Released between our create and our read: try again.
    if (!read) continue;
    const other = parseHolder(read.variable.value);
    if (other?.nonce === holder.nonce) return { acquired: read.variable };
    const ttlMs = (other?.ttlSeconds ?? DEFAULT_LOCK_TTL_MS / 1000) * 1000;
    const expired = observed.expired(read.variable, read.serverTime, ttlMs);
    if (!expired && !takeOver(other)) return { holder: other, recordId: read.variable.id };
    logger.warn({ record: name, holder: other ? describeHolder(other) : undefined, expired }, expired ? 'breaking an expired lock record: its holder stopped renewing it' : 'taking over a record left by a killed run of this owner');
    // By id: if someone else broke it and took a new one meanwhile, this deletes nothing.
    await client.deleteVariableById(read.variable.id);
  }
}

/** Creates the record: `undefined` when another holder's record exists (the client reads back after an ambiguous failure). */
function createRecord(client: PrefectClient, name: string, holder: LockHolder, tag: string): Promise<LiveVariable | undefined> {
  return client.createVariable({ name, value: holder as unknown as JsonObject, tags: [tag] });
}

/**
 * Whether a record's holder stopped renewing it for longer than its TTL: by the server's clock
 * (its `Date` header against the record's `updated`), or, when that is missing or skewed, by how
 * long we have watched the very same version of the record ourselves.
 */
export class Observations {
  private readonly firstSeen = new Map<string, number>();

  expired(record: LiveVariable, serverTime: number | undefined, ttlMs: number): boolean {
    const updated = Date.parse(record.updated);
    if (serverTime !== undefined && !Number.isNaN(updated) && serverTime - updated > ttlMs) return true;
    const key = `${record.id}@${record.updated}`;
    const now = performance.now();
    const first = this.firstSeen.get(key) ?? now;
    this.firstSeen.set(key, first);
    return now - first > ttlMs;
  }
}

class HeldLock implements ApplyLock {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> = Promise.resolve();
  private lastRenewed = performance.now();
  private released = false;

  constructor(
    private readonly client: PrefectClient,
    readonly name: string,
    readonly holder: LockHolder,
    private readonly record: LiveVariable,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => {
      this.renewing = this.renewing.then(() => this.renew());
    }, Math.max(100, ttlMs / 3));
    // The lock must never keep the process alive on its own.
    this.timer.unref();
  }

  get lost(): AbortSignal {
    return this.controller.signal;
  }

  private async renew(): Promise<void> {
    if (this.released || this.lost.aborted) return;
    try {
      // Ahead of the apply's own requests waiting for a slot: a lock lost to queueing stops the apply.
      const renewed = await this.client.updateVariableValue(this.record.id, this.holder as unknown as Json, { priority: true });
      if (renewed) {
        this.lastRenewed = performance.now();
        return;
      }
      this.lose('its record was removed (it expired, or someone deleted it)');
    } catch (error) {
      if (performance.now() - this.lastRenewed > this.ttlMs) this.lose(`renewing it failed for longer than its TTL: ${String(error)}`);
      else this.logger.warn({ lock: this.name, error: String(error) }, 'could not renew the apply lock; retrying');
    }
  }

  private lose(why: string): void {
    if (this.released) return;
    clearInterval(this.timer);
    this.logger.error({ lock: this.name, why }, 'lost the apply lock');
    this.controller.abort(new LockLostError(`lost the apply lock ${this.name}: ${why}`));
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.renewing;
    if (this.lost.aborted) return;
    try {
      await this.client.deleteVariableById(this.record.id, { cleanup: true });
      this.logger.debug({ lock: this.name }, 'apply lock released');
    } catch (error) {
      this.logger.warn({ lock: this.name, error: String(error) }, `could not release the apply lock; it expires by itself within ${formatDuration(this.ttlMs)}`);
    }
  }
}

/** Why an apply stopped taking new actions when its lock was lost. */
export class LockLostError extends GitopsError {
  override readonly name = 'LockLostError';
}

export function parseHolder(value: Json): LockHolder | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, Json>;
  if (typeof v.owner !== 'string' || typeof v.host !== 'string' || typeof v.pid !== 'number' || typeof v.since !== 'string' || typeof v.nonce !== 'string') return undefined;
  const ttl = typeof v.ttlSeconds === 'number' && v.ttlSeconds > 0 ? v.ttlSeconds : DEFAULT_LOCK_TTL_MS / 1000;
  return {
    owner: v.owner,
    host: v.host,
    pid: v.pid,
    ...(typeof v.user === 'string' ? { user: v.user } : {}),
    ...(typeof v.ciRunUrl === 'string' ? { ciRunUrl: v.ciRunUrl } : {}),
    since: v.since,
    ttlSeconds: ttl,
    nonce: v.nonce,
  };
}

function currentUser(): { user?: string } {
  try {
    return { user: userInfo().username };
  } catch {
    return {};
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
