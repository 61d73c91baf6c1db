import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/prefect/client.js';

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the client\'s in-flight bound', () => {
  it('serves waiters in order; a priority request goes ahead of every waiter, within the bound', async () => {
    const s = new Semaphore(1);
    const order: string[] = [];
    const first = await s.acquire();
    const queued = ['a', 'b'].map((name) => s.acquire().then((release) => (order.push(name), release)));
    const urgent = s.acquire(true).then((release) => (order.push('priority'), release));
    await tick();
    expect(order).toEqual([]); // nothing beside the bound
    first();
    (await urgent)();
    (await queued[0]!)();
    (await queued[1]!)();
    expect(order).toEqual(['priority', 'a', 'b']);
  });

  it('a priority request that finds no free slot within its wait goes without one, and takes none from the others', async () => {
    const s = new Semaphore(1);
    const held = await s.acquire();
    const started = performance.now();
    const release = await s.acquire(true, 50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    release(); // a no-op: the slot is still held
    let next = false;
    const waiting = s.acquire().then((r) => ((next = true), r));
    await tick(10);
    expect(next).toBe(false);
    held();
    (await waiting)();
    expect(next).toBe(true);
  });

  it('a priority request admitted just before its wait ends holds the slot it got', async () => {
    const s = new Semaphore(1);
    const held = await s.acquire();
    const pending = s.acquire(true, 30);
    await tick(5);
    held();
    const release = await pending;
    let other = false;
    const waiting = s.acquire().then((r) => ((other = true), r));
    await tick(60);
    expect(other).toBe(false); // the priority request holds the only slot
    release();
    (await waiting)();
    expect(other).toBe(true);
  });
});
