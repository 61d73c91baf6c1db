import { GitopsError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PrefectClient } from '../prefect/client.js';
import type { Json, JsonObject, LiveDeployment, LiveVariable } from '../prefect/types.js';
import { formatDuration } from '../duration.js';
import { CLAIM_TAG, claimDigest, claimName, describeHolder, newHolder, Observations, parseHolder, sleep, type LockHolder } from './lock.js';

/**
 * Batched deployment name claims: what keeps two owners (or an owner and a concurrent run) from
 * both seeing a name free and both POSTing it. `POST /deployments/` is an upsert, so the second
 * would silently overwrite the first. The apply lock does not help there: it is per owner, and
 * the names are shared across owners.
 *
 * The protocol (see src/apply/lock.ts for the lock, whose record format a claim set reuses):
 *
 * 1. **Write** the names this apply will create as claim sets: variables
 *    `prefect-gitops-claims-<run>-<part>` tagged {@link CLAIM_TAG}, whose value is the holder
 *    (owner, host, pid, since, TTL, run nonce) and the first 16 hex digits of
 *    `sha256(flow NUL name)` of each name (the digest {@link claimName} uses), concatenated, as
 *    many as fit under Prefect's limit on a variable's value (its JSON at most 5,000 bytes:
 *    `MAX_VARIABLE_VALUE_LENGTH`, the same on 2.19, 2.20 and 3.0 to 3.8; 2.x counts characters of
 *    the string value, never more than the bytes). About 280 names per set.
 * 2. **Read** every claim: one `POST /variables/filter` of the variables tagged so, or named as
 *    older prefect-gitops versions named a per-name claim on one of our names
 *    (`prefect-gitops-claim-<digest>`; 500 names per request). One request is one snapshot; a
 *    full page is narrowed by name (never paged by offset: a record deleted between two pages
 *    shifts the next page and hides a live claim).
 * 3. **Decide** each name, against every other fresh claim covering it:
 *    - a per-name claim (older version), or a set whose holder has decided to create the name, or
 *      an undecided set whose holder ranks before us, wins: we report a conflict naming it and do
 *      not create that name;
 *    - an undecided set that ranks after us: we wait (re-reading) until it has decided, vanished
 *      or expired, and then apply the rules again;
 *    - rank is the holder's `since`, then its run nonce: any total order that every reader
 *      computes alike from the record itself would do (the server's `created` is not one: a
 *      run's sets differ in it).
 *    Then **publish** the decision: each of our sets is rewritten with only the names we create
 *    and `decided: true`.
 * 4. Read the deployments by name (guarding against a create by anyone since the plan), create,
 *    and **delete** the sets (also on errors and Ctrl-C, best effort).
 *
 * Why this is safe. Each run writes before it reads, so of two runs A and B claiming a name, at
 * least one reads the other's set (if A's read missed B's set, A's read came before B's write,
 * hence A's write came before B's read). Say A ranks before B. If B saw A, B yields. If B did
 * not, A saw B and waits for B's decision; B created the name only if it decided to and
 * published that first, which A then sees and yields to; or B's sets vanished, which B does only
 * after its creates, so A's deployments read that follows finds them. A yielding side never
 * creates. Waits go only from a run to runs that rank after it, so they cannot form a cycle.
 * The naive rule "the earlier wins" is not safe on its own: the earlier of the two may be the one
 * that did not see the other, and both would create.
 *
 * A set is renewed (PATCH, moving its server-side `updated`) every third of its TTL; another run
 * breaks a set not renewed for longer than its TTL (by the server's clock, or as watched by us)
 * and deletes it by id. So a run stops creating when its sets could have expired: when renewing
 * failed for two thirds of the TTL or a set was removed ({@link NameClaims.guard}, asked by the client right before each create is sent). Sets of our own
 * owner are ignored while we hold its apply lock: they can only be left by a killed run of ours,
 * as per-name claims were.
 *
 * Known limit: an older prefect-gitops (per-name claims) that claims a name after our read does
 * not know claim sets and may create it as well; a run of this version honours the older
 * version's claims it sees. Upgrade every owner sharing names at once.
 */
export interface NameClaims {
  /** Creates this run must not make: `key` -> why (a conflict naming the holder). */
  readonly conflicts: ReadonlyMap<string, string>;
  /**
   * For the client to ask right before a create is sent ({@link SendOptions}): refused once the
   * claims could have expired, else how long the request may take while they surely hold.
   */
  guard(): { readonly refused: string } | { readonly withinMs: number };
  /** Stops renewing and deletes the claim sets; never throws. */
  release(): Promise<void>;
}

export interface WantedName {
  readonly key: string;
  readonly flowName: string;
  readonly name: string;
}

export interface ClaimNamesOptions {
  readonly ttlMs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** Whether this run holds the owner's apply lock: then our owner's claims are a killed run's. */
  readonly lockHeld: boolean;
  /** Stops waiting for another run's decision; the names still undecided then count as conflicts. */
  readonly signal?: AbortSignal;
  /** How long to wait for other runs to decide before giving those names up; default three TTLs. */
  readonly maxWaitMs?: number;
  /** Test hook: the holder data to record (default: this process). */
  readonly holder?: Partial<LockHolder>;
}

export const CLAIM_SET_PREFIX = 'prefect-gitops-claims-';
/** Hex digits of the digest per claimed name: 64 bits; two names sharing them only make a false conflict. */
const HASH_LENGTH = 16;
/** Under Prefect's 5,000, with room for a long CI URL or host name in the holder. */
const VALUE_BUDGET_BYTES = 4800;
const PER_NAME_CLAIM = /^prefect[-_]gitops[-_]claim[-_]([0-9a-f]{40})$/;
const CLAIM_SET = /^prefect[-_]gitops[-_]claims[-_]/;
/** A variable-name fragment for `like_` that matches both dashes and the underscores of 2.x names. */
const CLAIM_SET_LIKE = 'prefect_gitops_claims_';
const KEY_ALPHABET = '0123456789abcdef-';

interface ClaimSetValue extends LockHolder {
  readonly part: number;
  readonly parts: number;
  readonly decided: boolean;
  /** Concatenated {@link HASH_LENGTH}-digit digests. */
  readonly names: string;
}

/** A claim read from the server: a set of another run, or an older version's per-name claim. */
interface SeenClaim {
  readonly variable: LiveVariable;
  readonly holder: LockHolder | undefined;
  readonly kind: 'set' | 'name';
  readonly decided: boolean;
  readonly hashes: ReadonlySet<string>;
  readonly ttlMs: number;
}

/**
 * Claims the names of the deployments this apply is about to create (see the protocol above):
 * returns which creates must not happen (conflicts) and the held claims, to release once the
 * creates are done. Nothing is claimed (no request) when `wanted` is empty.
 *
 * @throws RemoteError when the server cannot be used; the sets written so far are removed first.
 */
export async function claimNames(client: PrefectClient, owner: string, wanted: readonly WantedName[], options: ClaimNamesOptions): Promise<NameClaims> {
  if (wanted.length === 0) return { conflicts: new Map(), guard: () => ({ refused: 'no name was claimed' }), release: async () => {} };
  const holder = newHolder(owner, options);
  const byHash = new Map<string, WantedName[]>();
  const perNameClaims = new Set<string>();
  for (const w of wanted) {
    const digest = claimDigest(w.flowName, w.name);
    const hash = digest.slice(0, HASH_LENGTH);
    byHash.set(hash, [...(byHash.get(hash) ?? []), w]);
    perNameClaims.add(claimName(w.flowName, w.name));
  }
  const held = new HeldClaims(client, holder, options.ttlMs, options.logger);
  try {
    await held.write(chunkHashes([...byHash.keys()], holder));
    const { conflicts: byName, proceed } = await decide(client, held, holder, new Set(byHash.keys()), [...perNameClaims], options);
    const conflicts = new Map<string, string>();
    for (const [hash, why] of byName) for (const w of byHash.get(hash) ?? []) conflicts.set(w.key, why(w));
    if (proceed.size === 0) {
      await held.release();
      return { conflicts, guard: () => ({ refused: 'no name was claimed' }), release: async () => {} };
    }
    await held.publish(proceed);
    return { conflicts, guard: () => held.guard(), release: () => held.release() };
  } catch (error) {
    await held.release();
    throw error;
  }
}

type Why = (w: WantedName) => string;

/** Steps 2 and 3: read every claim and decide each of our names, waiting for runs that rank after us. */
async function decide(
  client: PrefectClient,
  held: HeldClaims,
  holder: LockHolder,
  ours: ReadonlySet<string>,
  perNameClaims: readonly string[],
  options: ClaimNamesOptions,
): Promise<{ conflicts: Map<string, Why>; proceed: Set<string> }> {
  const conflicts = new Map<string, Why>();
  const pending = new Set(ours);
  const observed = new Observations();
  const started = performance.now();
  // The runs waited for rank after us and never wait for us, so they decide; a busy server only
  // makes that slow. Giving up early would make both sides yield the same name.
  const maxWaitMs = options.maxWaitMs ?? 3 * options.ttlMs;
  let delayMs = 100;
  for (;;) {
    const { claims, serverTime } = await readClaims(client, perNameClaims);
    const waitingFor = new Map<string, SeenClaim>();
    for (const claim of claims) {
      if (claim.kind === 'set' && claim.holder?.nonce === holder.nonce) continue;
      const overlap = [...claim.hashes].filter((h) => pending.has(h));
      if (overlap.length === 0) continue;
      // Our owner's claims, while we hold its lock, can only be a killed run's: as per-name claims were.
      if (options.lockHeld && claim.holder?.owner === holder.owner) continue;
      if (observed.expired(claim.variable, serverTime, claim.ttlMs)) {
        options.logger.warn({ claim: claim.variable.name, holder: claim.holder ? describeHolder(claim.holder) : undefined }, 'breaking an expired deployment name claim: its holder stopped renewing it');
        // By id: a newer record of that name is never removed. Cleanup only: expired is expired.
        await client.deleteVariableById(claim.variable.id).catch((error: unknown) => options.logger.warn({ claim: claim.variable.name, error: String(error) }, 'could not remove an expired deployment name claim'));
        continue;
      }
      // A per-name claim (an older version) never waits for us; a decided set creates what it still names.
      const wins = claim.kind === 'name' || claim.decided || claim.holder === undefined || ranksBefore(claim.holder, holder);
      for (const h of overlap) {
        if (wins) {
          pending.delete(h);
          waitingFor.delete(h);
          conflicts.set(h, (w) => `another apply is creating ${w.flowName}/${w.name} right now: ${describeHolder(claim.holder)}`);
        } else {
          waitingFor.set(h, claim);
        }
      }
    }
    if (waitingFor.size === 0) return { conflicts, proceed: pending };
    const elapsed = performance.now() - started;
    const lost = held.lostReason();
    if (lost || options.signal?.aborted || elapsed >= maxWaitMs) {
      for (const [h, claim] of waitingFor) {
        pending.delete(h);
        conflicts.set(h, (w) =>
          lost
            ? `not created: ${lost}`
            : `another apply claimed ${w.flowName}/${w.name} at the same time and had not decided ${options.signal?.aborted ? 'when this run was interrupted' : `within ${formatDuration(elapsed)}`}: ${describeHolder(claim.holder)}`,
        );
      }
      return { conflicts, proceed: pending };
    }
    options.logger.debug({ names: waitingFor.size, waitMs: Math.round(delayMs) }, 'waiting for another apply to decide on names both claimed');
    await sleep(delayMs, options.signal);
    delayMs = Math.min(delayMs * 1.5, 2000);
  }
}

/** Whether `a` ranks before `b`: the earlier `since` (as the holders' clocks wrote it), then the smaller nonce. */
function ranksBefore(a: LockHolder, b: LockHolder): boolean {
  const ta = Date.parse(a.since);
  const tb = Date.parse(b.since);
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta < tb;
  return a.nonce < b.nonce;
}

/**
 * Every claim record on the server that can matter, each request a snapshot. A full page is
 * narrowed rather than paged: older versions' per-name claims by the names we claim (the only ones
 * that can overlap), claim sets by the next character of their names.
 */
async function readClaims(client: PrefectClient, perNameClaims: readonly string[]): Promise<{ claims: SeenClaim[]; serverTime: number | undefined }> {
  const byId = new Map<string, LiveVariable>();
  let serverTime: number | undefined;
  const add = (read: { variables: LiveVariable[]; serverTime: number | undefined }): void => {
    for (const v of read.variables) byId.set(v.id, v);
    serverTime = read.serverTime ?? serverTime;
  };
  // Per-name claims by name too: what made one a claim was its name (its create got the 409), not its tag.
  const [first = [], ...rest] = chunk(perNameClaims, 500);
  const all = await client.filterVariablesOnce({ tagsAll: [CLAIM_TAG], nameAny: first, anyCriterion: true });
  add(all);
  if (!all.complete) {
    await readPerName(client, first, add);
    await narrowSets(client, '', add);
  }
  for (const names of rest) await readPerName(client, names, add);
  const claims: SeenClaim[] = [];
  for (const variable of byId.values()) {
    const seen = parseClaim(variable);
    if (seen) claims.push(seen);
  }
  return { claims, serverTime };
}

/** Per-name claims of these names, halving the list until each read is below a page. */
async function readPerName(client: PrefectClient, names: readonly string[], add: (read: { variables: LiveVariable[]; serverTime: number | undefined }) => void): Promise<void> {
  if (names.length === 0) return;
  const read = await client.filterVariablesOnce({ nameAny: [...names] });
  if (read.complete || names.length === 1) return add(read);
  const half = Math.ceil(names.length / 2);
  await readPerName(client, names.slice(0, half), add);
  await readPerName(client, names.slice(half), add);
}

/** Reads the claim sets whose names continue with `key`, adding a character until each read is below a page. */
async function narrowSets(client: PrefectClient, key: string, add: (read: { variables: LiveVariable[]; serverTime: number | undefined }) => void): Promise<void> {
  const read = await client.filterVariablesOnce({ tagsAll: [CLAIM_TAG], nameLike: `${CLAIM_SET_LIKE}${key.replace(/-/g, '_')}` });
  add(read);
  if (read.complete) return;
  if (key.length > 40) throw new Error(`bug: cannot narrow the claim sets under ${CLAIM_SET_PREFIX}${key}`);
  for (const c of KEY_ALPHABET) await narrowSets(client, `${key}${c}`, add);
}

function parseClaim(variable: LiveVariable): SeenClaim | undefined {
  const holder = parseHolder(variable.value);
  const ttlMs = (holder?.ttlSeconds ?? 60) * 1000;
  const perName = PER_NAME_CLAIM.exec(variable.name);
  if (perName) return { variable, holder, kind: 'name', decided: true, hashes: new Set([perName[1]!.slice(0, HASH_LENGTH)]), ttlMs };
  if (!CLAIM_SET.test(variable.name)) return undefined;
  const v = variable.value;
  if (!holder || !v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const names = (v as Record<string, Json>).names;
  if (typeof names !== 'string' || names.length % HASH_LENGTH !== 0) return undefined;
  const hashes = new Set<string>();
  for (let i = 0; i < names.length; i += HASH_LENGTH) hashes.add(names.slice(i, i + HASH_LENGTH));
  return { variable, holder, kind: 'set', decided: (v as Record<string, Json>).decided === true, hashes, ttlMs };
}

/** The digests in parts that each fit one variable's value. */
function chunkHashes(hashes: readonly string[], holder: LockHolder): string[][] {
  const empty: ClaimSetValue = { ...holder, part: 99_999, parts: 99_999, decided: false, names: '' };
  const room = VALUE_BUDGET_BYTES - Buffer.byteLength(JSON.stringify(empty));
  const perPart = Math.max(1, Math.floor(room / HASH_LENGTH));
  return chunk(hashes, perPart);
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

interface HeldSet {
  readonly name: string;
  id: string;
  value: ClaimSetValue;
  /** When the last successful write of this record was sent (performance.now()). */
  confirmedAt: number;
}

/** Our claim sets while the apply runs: written, renewed every third of the TTL, rewritten with the decision, deleted. */
class HeldClaims {
  private readonly sets: HeldSet[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private lost: string | undefined;
  private released = false;
  private readonly run: string;

  constructor(
    private readonly client: PrefectClient,
    private readonly holder: LockHolder,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {
    this.run = holder.nonce.replace(/[^0-9a-f]/gi, '').toLowerCase().slice(0, 32);
  }

  async write(parts: readonly string[][]): Promise<void> {
    // Settled, not all: a set still being written when another failed must be known to release().
    const written = await Promise.allSettled(
      parts.map(async (hashes, part) => {
        const name = `${CLAIM_SET_PREFIX}${this.run}-${String(part).padStart(4, '0')}`;
        const value: ClaimSetValue = { ...this.holder, part, parts: parts.length, decided: false, names: hashes.join('') };
        const sent = performance.now();
        const created = await this.client.createVariable({ name, value: value as unknown as JsonObject, tags: [CLAIM_TAG] });
        if (!created) throw new Error(`bug: the claim set ${name} already exists`);
        this.sets.push({ name, id: created.id, value, confirmedAt: sent });
      }),
    );
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) throw failed.reason;
    this.timer = setInterval(() => {
      this.chain = this.chain.then(() => this.renew());
    }, Math.max(100, this.ttlMs / 3));
    // The claims must never keep the process alive on their own.
    this.timer.unref();
  }

  /** Rewrites each set with only the names this run creates, marked decided. */
  async publish(proceed: ReadonlySet<string>): Promise<void> {
    for (const set of this.sets) {
      let names = '';
      for (let i = 0; i < set.value.names.length; i += HASH_LENGTH) {
        const h = set.value.names.slice(i, i + HASH_LENGTH);
        if (proceed.has(h)) names += h;
      }
      set.value = { ...set.value, decided: true, names };
    }
    const done = this.chain.then(() => this.writeAll());
    this.chain = done.catch(() => {});
    await done;
    if (this.lost) throw new ClaimsLostError(this.lost);
  }

  private async renew(): Promise<void> {
    if (this.released || this.lost) return;
    try {
      await this.writeAll();
    } catch (error) {
      const stale = this.sets.some((s) => performance.now() - s.confirmedAt > (this.ttlMs * 2) / 3);
      if (stale) this.lose(`renewing them failed for two thirds of their TTL: ${String(error)}`);
      else this.logger.warn({ error: String(error) }, 'could not renew the deployment name claims; retrying');
    }
  }

  private async writeAll(): Promise<void> {
    await Promise.all(
      this.sets.map(async (set) => {
        const sent = performance.now();
        // Ahead of the creates waiting for a slot: they wait on the very claims this keeps alive.
        const kept = await this.client.updateVariableValue(set.id, set.value as unknown as Json, { priority: true });
        if (kept) set.confirmedAt = sent;
        else this.lose(`the claim ${set.name} was removed (it expired, or someone deleted it)`);
      }),
    );
  }

  private lose(why: string): void {
    if (this.lost || this.released) return;
    this.lost = `lost the deployment name claims: ${why}`;
    this.logger.error({ why }, 'lost the deployment name claims');
  }

  /** Why creating is no longer safe: a set is gone, or could have expired (not renewed for two thirds of the TTL). */
  lostReason(): string | undefined {
    if (this.lost) return this.lost;
    const oldest = Math.min(...this.sets.map((s) => s.confirmedAt));
    if (this.sets.length > 0 && performance.now() - oldest > (this.ttlMs * 2) / 3) {
      return `lost the deployment name claims: not renewed for ${formatDuration(performance.now() - oldest)} (TTL ${formatDuration(this.ttlMs)})`;
    }
    return undefined;
  }

  /**
   * Whether a create may be sent now, and for how long it may take: another run breaks a set not
   * renewed for its TTL, counted (conservatively) from when our last renewal of it was sent. A
   * create goes out only while every set was renewed within two thirds of the TTL, and must be
   * answered before five sixths of it; a slower answer counts as a timeout (and the retry asks
   * again). Renewals take the client's next free request slot, ahead of the creates queued there.
   */
  guard(): { readonly refused: string } | { readonly withinMs: number } {
    const lost = this.lostReason();
    if (lost !== undefined) return { refused: `not sent: ${lost}` };
    if (this.released) return { refused: 'not sent: the name claims were released' };
    const oldest = Math.min(...this.sets.map((s) => s.confirmedAt));
    return { withinMs: Math.max(0, oldest + (this.ttlMs * 5) / 6 - performance.now()) };
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    await this.chain.catch(() => {});
    await Promise.all(
      this.sets.map(async (set) => {
        try {
          await this.client.deleteVariableById(set.id, { cleanup: true });
        } catch (error) {
          this.logger.warn({ claim: set.name, error: String(error) }, 'could not remove a deployment name claim; it expires by itself');
        }
      }),
    );
  }
}

class ClaimsLostError extends GitopsError {
  override readonly name = 'ClaimsLostError';
}

/**
 * The deployments that exist now under the (flow, name) of `wanted`, keyed by `key`: the guard
 * against a create by anyone (the UI, `prefect deploy`) since the plan. Each read is one snapshot
 * (no offset paging); a full page is split in two and read again. A first apply finds nothing and
 * sends one read per 150 names.
 */
export async function findExistingDeployments(client: PrefectClient, wanted: readonly WantedName[]): Promise<Map<string, LiveDeployment>> {
  const matched = new Map<string, LiveDeployment>();
  const readGroup = async (group: readonly WantedName[]): Promise<void> => {
    const read = await client.filterDeploymentsByNameOnce([...new Set(group.map((w) => w.flowName))], [...new Set(group.map((w) => w.name))]);
    if (!read.complete && group.length > 1) {
      const half = Math.ceil(group.length / 2);
      await readGroup(group.slice(0, half));
      await readGroup(group.slice(half));
      return;
    }
    if (!read.complete) throw new Error(`bug: more than a page of deployments named ${group[0]!.flowName}/${group[0]!.name}`);
    for (const d of read.deployments) matched.set(d.id, d);
  };
  // Sorted by flow, so that each group's flows x names stays close to the pairs wanted.
  const sorted = [...wanted].sort((a, b) => (a.flowName < b.flowName ? -1 : a.flowName > b.flowName ? 1 : 0));
  for (const group of chunk(sorted, 150)) await readGroup(group);
  const found = new Map<string, LiveDeployment>();
  if (matched.size === 0) return found;
  // The filter matches flow names and deployment names independently: pair them by the flow's id.
  const flows = await client.listFlows({ ids: [...new Set([...matched.values()].map((d) => d.flow_id))] });
  const flowName = new Map(flows.map((f) => [f.id, f.name]));
  const byPair = new Map(wanted.map((w) => [`${w.flowName}\u0000${w.name}`, w.key]));
  for (const d of matched.values()) {
    const key = byPair.get(`${flowName.get(d.flow_id)}\u0000${d.name}`);
    if (key !== undefined) found.set(key, d);
  }
  return found;
}
