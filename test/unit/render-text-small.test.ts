import { describe, expect, it } from 'vitest';
import type { ApplyResult } from '../../src/apply/apply.js';
import type { Plan } from '../../src/plan/types.js';
import { renderApplyText, useColor } from '../../src/render/text.js';

describe('colour', () => {
  it.each([
    [true, {}, true],
    [false, {}, false],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: '' }, true],
    [true, { TERM: 'dumb' }, false],
    [false, { FORCE_COLOR: '1' }, true],
    [false, { FORCE_COLOR: '' }, true],
    [false, { FORCE_COLOR: '3' }, true],
    [true, { FORCE_COLOR: '0' }, false],
    [true, { FORCE_COLOR: 'false' }, false],
    [false, { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
    [false, { FORCE_COLOR: '1', TERM: 'dumb' }, true],
  ])('tty %s, %j -> %s', (tty, env, expected) => {
    expect(useColor(tty, env)).toBe(expected);
  });
});

describe('the apply summary', () => {
  const plan = { pruneRefused: null } as unknown as Plan;
  it('counts a delete skipped because of an earlier failure as skipped, not failed', () => {
    const result: ApplyResult = {
      ok: false,
      results: [
        { kind: 'update', key: 'f/a', status: 'failed', message: 'boom' },
        { kind: 'create', key: 'f/b', status: 'ok', id: '1' },
        { kind: 'delete', key: 'f/c', status: 'skipped', message: 'not deleted because an earlier action failed' },
        { kind: 'delete', key: 'f/d', status: 'skipped', message: 'not deleted because an earlier action failed' },
      ],
    } as ApplyResult;
    const text = renderApplyText(result, plan, { color: false, secrets: [] });
    expect(text.trim().split('\n').at(-1)).toBe('Apply finished with errors: 1 added, 0 changed, 0 deleted, 1 failed, 2 skipped.');
  });

  it('says nothing about skipped when none was', () => {
    const result = { ok: true, results: [{ kind: 'create', key: 'f/b', status: 'ok', id: '1' }] } as ApplyResult;
    expect(renderApplyText(result, plan, { color: false, secrets: [] }).trim()).toMatch(/Apply complete: 1 added, 0 changed, 0 deleted, 0 failed\.$/);
  });
});
