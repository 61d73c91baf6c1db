import { describe, expect, it } from 'vitest';
import {
  boundsFor,
  DEFAULT_CONCURRENCY_BOUNDS,
  initialConcurrency,
  nextConcurrency,
  PROBE_ROUNDS_INITIAL,
  PROBE_ROUNDS_MAX,
  type ConcurrencySample,
  type ConcurrencyState,
} from '../../src/prefect/adaptive-concurrency.js';

const ok = (ms: number): ConcurrencySample => ({ kind: 'ok', ms });
const overload: ConcurrencySample = { kind: 'overload' };
const untimed: ConcurrencySample = { kind: 'untimed' };

/** Feeds samples in order; returns every limit seen after each one. */
function run(state: ConcurrencyState, samples: readonly ConcurrencySample[]): { state: ConcurrencyState; limits: number[] } {
  const limits: number[] = [];
  for (const sample of samples) {
    state = nextConcurrency(state, sample);
    limits.push(state.limit);
  }
  return { state, limits };
}

/** One full round of timed samples at the state's current limit. */
function round(state: ConcurrencyState, ms: number): ConcurrencyState {
  return run(state, Array.from({ length: state.limit }, () => ok(ms))).state;
}

describe('adaptive request concurrency (AIMD)', () => {
  it('starts moderate: 4 of at most 16 by default; an explicit --concurrency caps it and the start', () => {
    expect(initialConcurrency(DEFAULT_CONCURRENCY_BOUNDS).limit).toBe(4);
    expect(boundsFor(undefined)).toEqual({ initial: 4, min: 1, max: 16 });
    expect(boundsFor(32)).toEqual({ initial: 4, min: 1, max: 32 });
    expect(boundsFor(2)).toEqual({ initial: 2, min: 1, max: 2 });
    expect(initialConcurrency({ initial: 9, min: 1, max: 3 }).limit).toBe(3);
  });

  it('rises by one per round while the round median holds near the best seen', () => {
    let state = initialConcurrency(DEFAULT_CONCURRENCY_BOUNDS);
    const limits: number[] = [];
    for (let i = 0; i < 5; i++) {
      state = round(state, 50);
      limits.push(state.limit);
    }
    expect(limits).toEqual([5, 6, 7, 8, 9]);
    expect(state.increases).toBe(5);
    expect(state.bestMs).toBe(50);
  });

  it('does not rise within a round: the limit changes only when a round of `limit` timed samples is complete', () => {
    const state = initialConcurrency(DEFAULT_CONCURRENCY_BOUNDS);
    expect(run(state, [ok(50), ok(50), ok(50)]).limits).toEqual([4, 4, 4]);
    expect(run(state, [ok(50), ok(50), ok(50), ok(50)]).limits).toEqual([4, 4, 4, 5]);
  });

  it('holds when latency rises moderately and falls by one when it more than doubles', () => {
    let state = round(initialConcurrency(DEFAULT_CONCURRENCY_BOUNDS), 100); // best 100, limit 5
    expect(state.limit).toBe(5);
    state = round(state, 170); // 1.7x: hold
    expect(state.limit).toBe(5);
    state = round(state, 250); // 2.5x: -1
    expect(state.limit).toBe(4);
    expect(state.decreases).toBe(1);
    state = round(state, 110); // back near the best: rise again
    expect(state.limit).toBe(5);
  });

  it('halves on overload (429/503/reset), once per round: a burst of 503s is one signal', () => {
    let state = initialConcurrency({ initial: 12, min: 1, max: 16 });
    const burst = run(state, [overload, overload, overload, overload]);
    expect(burst.limits).toEqual([6, 6, 6, 6]);
    state = burst.state;
    expect(state.decreases).toBe(1);
    // The 12 requests in flight at the cut drain (holdoff), then a new overload halves again.
    state = run(state, Array.from({ length: 12 }, () => untimed)).state;
    expect(nextConcurrency(state, overload).limit).toBe(3);
  });

  it('stays within its bounds: never below min on repeated overload, never above max', () => {
    let state = initialConcurrency({ initial: 2, min: 1, max: 3 });
    for (let i = 0; i < 10; i++) state = round(state, 10);
    expect(state.limit).toBe(3);
    expect(state.peak).toBe(3);
    for (let i = 0; i < 10; i++) state = run(nextConcurrency(state, overload), Array.from({ length: 4 }, () => untimed)).state;
    expect(state.limit).toBe(1);
  });

  it('lets the baseline drift up under sustained slower rounds, so one quiet round does not walk the limit down to 1', () => {
    let state = round(initialConcurrency({ initial: 4, min: 1, max: 16 }), 20); // a lucky quiet round: best 20
    const limits: number[] = [];
    for (let i = 0; i < 30; i++) {
      state = round(state, 60); // the machine got busier, for good
      limits.push(state.limit);
    }
    expect(Math.min(...limits)).toBeGreaterThan(1);
    expect(state.limit).toBeGreaterThanOrEqual(4);
    expect(state.bestMs).toBeGreaterThan(50);
  });

  it('ignores untimed samples (paged reads) for latency', () => {
    const state = initialConcurrency(DEFAULT_CONCURRENCY_BOUNDS);
    const after = run(state, Array.from({ length: 20 }, () => untimed)).state;
    expect(after.limit).toBe(4);
    expect(after.round).toEqual([]);
    expect(after.bestMs).toBeUndefined();
  });

  it('remembers where the server was overloaded: holds below it and probes again after rounds that double per failed probe', () => {
    let state = initialConcurrency({ initial: 8, min: 1, max: 16 });
    state = run(nextConcurrency(state, overload), Array.from({ length: 8 }, () => untimed)).state; // overload at 8
    expect(state.limit).toBe(4);
    expect(state.ceiling).toBe(7);
    const limits: number[] = [];
    for (let i = 0; i < 3 + PROBE_ROUNDS_INITIAL; i++) {
      state = round(state, 50);
      limits.push(state.limit);
    }
    // Up to the ceiling, held there for PROBE_ROUNDS_INITIAL rounds, then one probe above it.
    expect(limits).toEqual([5, 6, 7, ...Array.from({ length: PROBE_ROUNDS_INITIAL - 1 }, () => 7), 8]);
    // The probe is answered by another overload: the next one waits twice as long.
    state = run(nextConcurrency(state, overload), Array.from({ length: 8 }, () => untimed)).state;
    expect(state.ceiling).toBe(7);
    expect(state.probeRounds).toBe(2 * PROBE_ROUNDS_INITIAL);
    let rounds = 0;
    while (state.limit <= 7) {
      state = round(state, 50);
      rounds++;
    }
    expect(rounds).toBe(3 + 2 * PROBE_ROUNDS_INITIAL);
  });

  it('against a server that cannot take two writes at once (Prefect on SQLite) cuts a handful of times, not once per round', () => {
    // Every request sent while 2 or more are allowed comes back 503; one at a time all succeed.
    let state = initialConcurrency(DEFAULT_CONCURRENCY_BOUNDS);
    let overloads = 0;
    for (let i = 0; i < 1150; i++) {
      const sample = state.limit >= 2 ? overload : ok(80);
      if (sample.kind === 'overload') overloads++;
      state = nextConcurrency(state, sample);
    }
    // Without the ceiling: hundreds (a rise and a cut every few requests); with it, the first cut (its round counted in full) and one per probe.
    expect(overloads).toBeLessThanOrEqual(16);
    expect(state.limit).toBe(1);
    expect(state.probeRounds).toBeLessThanOrEqual(PROBE_ROUNDS_MAX);
  });

  it('is a pure function: the input state is not changed', () => {
    const state = initialConcurrency(DEFAULT_CONCURRENCY_BOUNDS);
    const copy = structuredClone(state);
    nextConcurrency(state, ok(1));
    nextConcurrency(state, overload);
    expect(state).toEqual(copy);
  });
});
