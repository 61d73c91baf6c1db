import { describe, expect, it } from 'vitest';
import { diffSnapshots } from '../../src/compare/diff.js';

describe('diffSnapshots', () => {
  it('finds the deepest differing path and marks deliberate differences', () => {
    const theirs = {
      'f/a': { version: 'abc', description: 'None', job_variables: { env: { A: '1', B: 's3cr3t' } }, tags: ['x'] },
      'f/gone': { name: 'gone' },
    };
    const ours = {
      'f/a': { version: null, description: null, job_variables: { env: { A: '2', B: '{{ prefect.blocks.secret.token }}' } }, tags: ['x'] },
      'f/new': { name: 'new' },
    };
    expect(diffSnapshots(theirs, ours)).toEqual([
      { deployment: 'f/a', path: 'description', theirs: 'None', ours: null, deliberate: 'description-none' },
      { deployment: 'f/a', path: 'job_variables.env.A', theirs: '1', ours: '2' },
      { deployment: 'f/a', path: 'job_variables.env.B', theirs: 's3cr3t', ours: '{{ prefect.blocks.secret.token }}', deliberate: 'block-placeholder' },
      { deployment: 'f/a', path: 'version', theirs: 'abc', ours: null, deliberate: 'version' },
      { deployment: 'f/gone', path: '', theirs: 'present', ours: undefined },
      { deployment: 'f/new', path: '', theirs: undefined, ours: 'present' },
    ]);
  });

  it('reports lists of different length whole, and equal values not at all', () => {
    expect(diffSnapshots({ d: { tags: ['a'], n: 1 } }, { d: { tags: ['a', 'b'], n: 1 } })).toEqual([{ deployment: 'd', path: 'tags', theirs: ['a'], ours: ['a', 'b'] }]);
  });

  it('treats two creation-time interval anchors as deliberate, other anchors not', () => {
    const at = (anchor: string) => ({ d: { schedules: [{ schedule: { interval: 60, anchor_date: anchor } }] } });
    expect(diffSnapshots(at('2026-01-01T10:00:00Z'), at('2026-01-01T10:00:03Z'))[0]?.deliberate).toBe('anchor-date');
    expect(diffSnapshots(at('2024-01-01T00:00:00Z'), at('2026-01-01T10:00:03Z'))[0]?.deliberate).toBeUndefined();
  });
});
