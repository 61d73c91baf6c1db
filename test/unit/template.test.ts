import { describe, expect, it } from 'vitest';
import { renderTemplates } from '../../src/manifests/template.js';

describe('renderTemplates: substitutes once, from own environment keys only', () => {
  const env = { SECRET: 'hunter2-secret', INDIRECT: '{{ env.SECRET }}', DOLLAR_INDIRECT: '{{ $SECRET }}', NAME: 'etl' };

  it.each([
    ['{{ env.INDIRECT }}', '{{ env.SECRET }}'],
    ['{{ $INDIRECT }}', '{{ env.SECRET }}'],
    ['{{ env.DOLLAR_INDIRECT }}', '{{ $SECRET }}'],
    ['{{ $DOLLAR_INDIRECT }}', '{{ $SECRET }}'],
    ['a {{ $INDIRECT }} b {{ env.NAME }}', 'a {{ env.SECRET }} b etl'],
  ])('%s renders to the literal text %s (a substituted value is not templated again)', (template, expected) => {
    const { value, problems } = renderTemplates({ version: template }, { env, stepIds: ['build'], stepOutputs: { 'build.image': '{{ env.SECRET }}' } });
    expect(problems).toEqual([]);
    expect(value).toEqual({ version: expected });
    expect(JSON.stringify(value)).not.toContain('hunter2');
  });

  it('does not template a step output again either', () => {
    const { value } = renderTemplates({ image: '{{ build.image }}' }, { env, stepIds: ['build'], stepOutputs: { 'build.image': '{{ env.SECRET }}' } });
    expect(value).toEqual({ image: '{{ env.SECRET }}' });
  });

  it.each(['{{ env.constructor }}', '{{ env.__proto__ }}', '{{ env.toString }}', '{{ env.hasOwnProperty }}', '{{ $constructor }}', '{{ $__proto__ }}', '{{ build.constructor }}', '{{ build.__proto__ }}'])(
    '%s is an unset variable, never object internals',
    (template) => {
      const { value, problems } = renderTemplates({ version: template }, { env: { ...env }, stepIds: ['build'], stepOutputs: {} });
      expect(value).toEqual({ version: template });
      expect(problems).toHaveLength(1);
      expect(problems[0]!.message).toMatch(/is not set|does not run/);
    },
  );

  it('still renders what it should: own keys, defaults, step outputs', () => {
    const { value, problems } = renderTemplates(
      { a: '{{ env.NAME }}', b: "{{ env.MISSING | default('x') }}", c: '{{ $NAME }}', d: '{{ build.image }}', e: '{{ prefect.variables.v }}' },
      { env, stepIds: ['build'], stepOutputs: { 'build.image': 'acme/etl:1' } },
    );
    expect(problems).toEqual([]);
    expect(value).toEqual({ a: 'etl', b: 'x', c: 'etl', d: 'acme/etl:1', e: '{{ prefect.variables.v }}' });
  });
});
