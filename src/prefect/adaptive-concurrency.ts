// How many requests the client keeps in flight: an AIMD controller (additive increase,
// multiplicative decrease), as TCP and Netflix's concurrency-limits do it. Pure: the client feeds
// it one sample per finished request and reads back the limit.
//
// - Overload (429, 503, a refused or reset connection): the limit halves, at most once per
//   "round" (until the requests that were in flight at the cut have finished), so one burst of
//   503s counts as one signal.
// - Latency: writes are timed (reads differ too much in size: a page of 200 deployments takes
//   seconds, a single GET milliseconds). After every `limit` timed samples (one round) the round's
//   median is compared with the baseline (the best round median, drifting slowly towards slower
//   rounds): within LATENCY_TOLERANCE the limit rises by one; above LATENCY_BACKOFF_RATIO times
//   the baseline it falls by one; in between it holds.
// - A ceiling remembers where the server said it was overloaded: after an overload at limit L the
//   limit stays at most L - 1 and probes L again only after PROBE_ROUNDS_INITIAL rounds there,
//   doubling that wait each time the probe is answered by another overload (up to
//   PROBE_ROUNDS_MAX). Without it, a server that cannot take two writes at once (Prefect on SQLite,
//   whose writers lock the database and answer 503) saw a rise and a cut per round: 70 retries
//   of about 2 s each in a first apply of 100 deployments.
// - Bounded by [min, max]; `max` is the explicit --concurrency when given.

export interface ConcurrencyBounds {
  /** The limit the controller starts at; clamped into [min, max]. */
  readonly initial: number;
  readonly min: number;
  readonly max: number;
}

export interface ConcurrencyState {
  readonly bounds: ConcurrencyBounds;
  readonly limit: number;
  /** Latency samples of the current round (ms). */
  readonly round: readonly number[];
  /** The lowest round median seen (ms); undefined before the first round ends. */
  readonly bestMs: number | undefined;
  /** Overload signals are ignored until this many more samples have arrived (the cut's round). */
  readonly holdoff: number;
  /** The highest limit since the last overload (L - 1 after an overload at L); `undefined` before any. */
  readonly ceiling: number | undefined;
  /** Rounds completed at the ceiling since it was set or last probed. */
  readonly ceilingRounds: number;
  /** Rounds at the ceiling before probing one above it. */
  readonly probeRounds: number;
  /** Counters, for the benchmark and debug logs. */
  readonly increases: number;
  readonly decreases: number;
  readonly peak: number;
}

export type ConcurrencySample =
  /** A timed request that the server answered normally. */
  | { readonly kind: 'ok'; readonly ms: number }
  /** A request whose latency says little (a paged read): counts for holdoff only. */
  | { readonly kind: 'untimed' }
  /** The server said it is overloaded (429, 503) or dropped the connection. */
  | { readonly kind: 'overload' };

/** Above the best round median by at most this factor: latency holds, the limit may rise. */
export const LATENCY_TOLERANCE = 1.3;
/** Above the best round median by more than this factor: the server is queueing, the limit falls by one. */
export const LATENCY_BACKOFF_RATIO = 2;
/** How far the baseline moves towards a slower round's median (0 = the best ever seen, forever). */
export const BASELINE_DRIFT = 0.1;
/** Multiplicative decrease on overload. */
export const OVERLOAD_FACTOR = 0.5;

/** Rounds at the ceiling before the first probe above it, and the most it doubles to. */
export const PROBE_ROUNDS_INITIAL = 8;
export const PROBE_ROUNDS_MAX = 256;

/** Defaults when --concurrency is not given: start moderate, never above 16. */
export const DEFAULT_CONCURRENCY_BOUNDS: ConcurrencyBounds = { initial: 4, min: 1, max: 16 };

/** Bounds for an explicit cap (--concurrency N): adapt within [1, N], starting at min(N, 4). */
export function boundsFor(cap: number | undefined): ConcurrencyBounds {
  if (cap === undefined) return DEFAULT_CONCURRENCY_BOUNDS;
  const max = Math.max(1, Math.floor(cap));
  return { initial: Math.min(max, DEFAULT_CONCURRENCY_BOUNDS.initial), min: 1, max };
}

export function initialConcurrency(bounds: ConcurrencyBounds): ConcurrencyState {
  const min = Math.max(1, Math.floor(bounds.min));
  const max = Math.max(min, Math.floor(bounds.max));
  const limit = clamp(Math.floor(bounds.initial), min, max);
  return { bounds: { initial: limit, min, max }, limit, round: [], bestMs: undefined, holdoff: 0, ceiling: undefined, ceilingRounds: 0, probeRounds: PROBE_ROUNDS_INITIAL, increases: 0, decreases: 0, peak: limit };
}

/** The next state after one finished request. */
export function nextConcurrency(state: ConcurrencyState, sample: ConcurrencySample): ConcurrencyState {
  const { min, max } = state.bounds;
  const holdoff = Math.max(0, state.holdoff - 1);
  if (sample.kind === 'overload') {
    if (state.holdoff > 0) return { ...state, holdoff };
    const limit = clamp(Math.floor(state.limit * OVERLOAD_FACTOR), min, max);
    const ceiling = Math.max(min, state.limit - 1);
    // Overloaded again while probing just above the last ceiling: wait twice as long before the next probe.
    const probing = state.ceiling !== undefined && state.limit <= state.ceiling + 1;
    const probeRounds = probing ? Math.min(PROBE_ROUNDS_MAX, state.probeRounds * 2) : PROBE_ROUNDS_INITIAL;
    // Ignore the other requests of this round: they were sent at the old limit.
    return { ...state, limit, round: [], holdoff: state.limit, ceiling, ceilingRounds: 0, probeRounds, decreases: state.decreases + (limit < state.limit ? 1 : 0) };
  }
  if (sample.kind === 'untimed') return { ...state, holdoff };
  const round = [...state.round, sample.ms];
  if (round.length < state.limit) return { ...state, round, holdoff };
  const median = medianOf(round);
  // The baseline is the best round median, drifting up towards slower rounds by BASELINE_DRIFT:
  // on a shared machine one lucky quiet round would otherwise make every later round look
  // overloaded and walk the limit down to 1 (seen in the PostgreSQL sweep).
  const bestMs = state.bestMs === undefined ? median : median < state.bestMs ? median : state.bestMs + (median - state.bestMs) * BASELINE_DRIFT;
  let limit = state.limit;
  let { ceiling, ceilingRounds } = state;
  if (median <= bestMs * LATENCY_TOLERANCE) {
    if (ceiling === undefined || limit < ceiling) limit = clamp(limit + 1, min, max);
    else if (++ceilingRounds >= state.probeRounds) {
      // Held at the ceiling long enough: probe one above it.
      ceiling += 1;
      ceilingRounds = 0;
      limit = clamp(limit + 1, min, max);
    }
  } else if (median > bestMs * LATENCY_BACKOFF_RATIO) limit = clamp(limit - 1, min, max);
  return {
    ...state,
    limit,
    ceiling,
    ceilingRounds,
    round: [],
    bestMs,
    holdoff,
    increases: state.increases + (limit > state.limit ? 1 : 0),
    decreases: state.decreases + (limit < state.limit ? 1 : 0),
    peak: Math.max(state.peak, limit),
  };
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

function medianOf(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
