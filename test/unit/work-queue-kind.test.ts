import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/prefect/types.js';
import type { DesiredObject, LiveObject, ObjectAction } from '../../src/workspace/kind.js';
import {
  diffQueue,
  exportQueue,
  orderQueueActions,
  planQueueIssues,
  prioritiesToSend,
  queueCreateBody,
  queueNotes,
  setPriority,
  validateQueues,
} from '../../src/workspace/kinds/work-queue.js';

function queue(spec: JsonObject, line = 1): DesiredObject {
  const at = { file: 'm/queues.yaml', line, column: 3 };
  return { kind: 'work-queue', key: `${String(spec['pool'])}/${String(spec['name'])}`, spec, declaredAt: at, fieldsAt: { pool: { ...at, line: line + 1 }, priority: { ...at, line: line + 2 } }, adopt: false, sensitive: false };
}

function liveQueue(pool: string, name: string, priority: number, fields: JsonObject = {}): LiveObject {
  const raw = { id: `id-${name}`, name, work_pool_name: pool, priority, description: name === 'default' ? "The work pool's default queue." : '', is_paused: false, concurrency_limit: null, status: 'NOT_READY', last_polled: null, filter: null, ...fields };
  return { kind: 'work-queue', key: `${pool}/${name}`, id: `id-${name}`, updated: null, raw, taggedOwner: null };
}

/** What the server ends with after the plan's writes, sent in the order the kind asks for. */
function applyPriorities(live: readonly LiveObject[], desired: readonly DesiredObject[]): Map<string, number> {
  const ctx = { desired, live };
  const actions: ObjectAction[] = [];
  for (const d of desired) {
    const l = live.find((x) => x.key === d.key);
    if (!l) actions.push({ action: 'create', kind: 'work-queue', key: d.key, body: queueCreateBody(d), changes: [], notes: [], sensitive: false });
    else {
      const diff = diffQueue(d, l, ctx);
      if (diff) actions.push({ action: 'update', kind: 'work-queue', key: d.key, body: diff.body, changes: diff.changes, notes: [], sensitive: false });
    }
  }
  let state = live.map((l) => ({ key: l.key, priority: Number(l.raw['priority']) }));
  for (const a of orderQueueActions(actions)) {
    const p = a.body?.['priority'];
    if (typeof p === 'number') state = setPriority(state, a.key, p);
    else if (a.action === 'create') {
      const taken = state.map((s) => s.priority).sort((x, y) => x - y);
      let free = taken.findIndex((t, i) => t !== i + 1) + 1;
      if (free === 0) free = (taken.at(-1) ?? 0) + 1;
      state = [...state, { key: a.key, priority: free }];
    }
  }
  return new Map(state.map((s) => [s.key, s.priority]));
}

describe('work queue priorities', () => {
  it('mirrors the server: setting a taken priority shifts the later queues up, no further than needed', () => {
    const start = [
      { key: 'a', priority: 1 },
      { key: 'b', priority: 2 },
      { key: 'c', priority: 3 },
    ];
    expect(setPriority(start, 'c', 1)).toEqual([
      { key: 'c', priority: 1 },
      { key: 'a', priority: 2 },
      { key: 'b', priority: 3 },
    ]);
    // Beyond every other queue: kept as it is.
    expect(setPriority(start, 'a', 9).find((q) => q.key === 'a')).toEqual({ key: 'a', priority: 9 });
  });

  it('a queue whose priority is unchanged but would be shifted by another\'s move is sent again', () => {
    const live = [liveQueue('p', 'a', 1), liveQueue('p', 'b', 2), liveQueue('p', 'c', 3)];
    const desired = [queue({ name: 'a', pool: 'p', priority: 2 }), queue({ name: 'c', pool: 'p', priority: 3 })];
    expect([...prioritiesToSend('p', desired, live)].sort()).toEqual(['p/a', 'p/c']);
    const diff = diffQueue(desired[1]!, live[2]!, { desired, live })!;
    expect(diff.body).toEqual({ priority: 3 });
    expect(queueNotes(desired[1]!, live[2], { desired, live })).toEqual(['priority 3 is sent again: the server renumbers the pool\'s queues when another one\'s priority is set']);
  });

  // Every assignment of distinct priorities 1..4 to three declared queues, from several live orders:
  // one apply leaves every declared queue at its declared priority.
  const perms = (xs: number[]): number[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest])));
  const cases = perms([1, 2, 3, 4]).flatMap((live) => perms([1, 2, 3, 4]).filter((_, i) => i % 5 === 0).map((want) => [live, want] as const));
  it.each(cases)('converges in one apply: live %j, declared %j', (livePriorities, wanted) => {
    const names = ['default', 'a', 'b', 'c'];
    const live = names.map((n, i) => liveQueue('p', n, livePriorities[i]!));
    // `b` declares no priority: it is not managed, and may move.
    const desired = names.filter((n) => n !== 'b').map((n) => queue({ name: n, pool: 'p', priority: wanted[names.indexOf(n)]! }));
    const final = applyPriorities(live, desired);
    for (const d of desired) expect(final.get(d.key), d.key).toBe(d.spec['priority']);
    // And the next plan is empty.
    const after = live.map((l) => liveQueue('p', String(l.raw['name']), final.get(l.key)!));
    for (const d of desired) expect(diffQueue(d, after.find((l) => l.key === d.key)!, { desired, live: after }), d.key).toBeNull();
  });

  it('converges with creates in a new pool (only its default queue at 1)', () => {
    const live = [liveQueue('p', 'default', 1)];
    const desired = [queue({ name: 'high', pool: 'p', priority: 1 }), queue({ name: 'low', pool: 'p', priority: 3 }), queue({ name: 'default', pool: 'p', priority: 2 })];
    const final = applyPriorities(live, desired);
    expect(Object.fromEntries(final)).toEqual({ 'p/high': 1, 'p/default': 2, 'p/low': 3 });
  });
});

describe('work queue plan', () => {
  it('what the server fills in is no difference; the default queue\'s description is Prefect\'s', () => {
    const live = [liveQueue('p', 'default', 1), liveQueue('p', 'q', 2)];
    const ctx = { desired: [], live };
    expect(diffQueue(queue({ name: 'default', pool: 'p' }), live[0]!, ctx)).toBeNull();
    expect(diffQueue(queue({ name: 'q', pool: 'p' }), live[1]!, ctx)).toBeNull();
    expect(diffQueue(queue({ name: 'q', pool: 'p', paused: true, concurrency_limit: 2 }), live[1]!, ctx)).toEqual({
      body: { is_paused: true, concurrency_limit: 2 },
      changes: [
        { field: 'paused', before: false, after: true },
        { field: 'concurrency_limit', before: null, after: 2 },
      ],
    });
  });

  it('create body: Prefect\'s names, only what is declared', () => {
    expect(queueCreateBody(queue({ name: 'q', pool: 'p', priority: 2, paused: true }))).toEqual({ name: 'q', description: '', is_paused: true, priority: 2 });
  });

  it('a queue whose pool is neither declared nor on the server is an error at `pool`', () => {
    const issues = planQueueIssues([queue({ name: 'q', pool: 'nope' }, 4), queue({ name: 'q', pool: 'declared' }), queue({ name: 'q', pool: 'p' })], [liveQueue('p', 'default', 1)], {
      desired: [{ ...queue({ name: 'x', pool: 'x' }), kind: 'work-pool', key: 'declared' }],
    });
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '5 pool: work pool "nope" of work queue "q" is neither declared (kind: work-pool) nor on the server; pools: declared, p',
    ]);
  });

  it('two declared queues of a pool with one priority: an error at the second', () => {
    const issues = validateQueues([queue({ name: 'a', pool: 'p', priority: 1 }), queue({ name: 'b', pool: 'p', priority: 1 }, 10), queue({ name: 'c', pool: 'o', priority: 1 })]);
    expect(issues.map((i) => `${i.line} ${i.message}`)).toEqual([
      '12 work queues "a" and "b" of pool "p" both have priority 1; Prefect keeps a pool\'s priorities unique, so one of them would move',
    ]);
  });

  it('export writes what differs from a new queue; it plans empty', () => {
    const l = liveQueue('p', 'q', 3, { concurrency_limit: 1, description: 'night jobs' });
    const doc = exportQueue(l);
    expect(doc).toEqual({ kind: 'work-queue', name: 'q', pool: 'p', description: 'night jobs', priority: 3, concurrency_limit: 1 });
    const { kind: _k, ...spec } = doc;
    expect(diffQueue(queue(spec), l, { desired: [queue(spec)], live: [l] })).toBeNull();
  });
});
