import { describe, expect, it } from 'vitest';
import { functionDocstring, parameterSchemaFromSource, pythonParseCount } from '../../src/manifests/parameter-schema.js';
import { checkAgainst, userSchemaCompileCount } from '../../src/validate/schema.js';
import { cronParseCount, nextCronRuns } from '../../src/manifests/schedule.js';
import { lookupFlow } from '../../src/manifests/entrypoint.js';

// Each test uses schemas and sources of its own (a unique title / flow name), so what another test
// in this process compiled or parsed cannot satisfy it.
const schema = (title: string, type = 'integer'): Record<string, unknown> => ({
  title,
  type: 'object',
  properties: { n: { title: 'n', position: 0, type }, region: { title: 'region', position: 1, enum: ['eu', 'us'] } },
  required: ['n'],
});

describe('compiled parameter schemas', () => {
  it('compiles equal schemas in different deployments once', () => {
    const before = userSchemaCompileCount();
    const first = schema('cache-equal');
    const second = structuredClone(first);
    expect(second).not.toBe(first);
    expect(checkAgainst(first, { n: 1 }, { ignoreRequired: true })).toEqual([]);
    expect(checkAgainst(second, { n: 2, region: 'us' }, { ignoreRequired: true })).toEqual([]);
    expect(checkAgainst(structuredClone(first), { n: 3 }, { ignoreRequired: true })).toEqual([]);
    expect(userSchemaCompileCount() - before).toBe(1);
  });

  it('keeps schemas that differ apart, and reports each one\'s own errors', () => {
    const before = userSchemaCompileCount();
    const integers = schema('cache-differ');
    const strings = schema('cache-differ', 'string');
    const asInteger = checkAgainst(integers, { n: 'x' }, { ignoreRequired: true });
    const asString = checkAgainst(strings, { n: 'x' }, { ignoreRequired: true });
    expect(asString).toEqual([]);
    expect(asInteger).toHaveLength(1);
    expect(checkAgainst(structuredClone(strings), { n: 5 }, { ignoreRequired: true })).not.toEqual([]);
    expect(checkAgainst(structuredClone(integers), { n: 5 }, { ignoreRequired: true })).toEqual([]);
    expect(userSchemaCompileCount() - before).toBe(2);
  });

  it('keeps the required handling apart for the same schema', () => {
    const withRequired = schema('cache-required');
    expect(checkAgainst(withRequired, {}, { ignoreRequired: true })).toEqual([]);
    expect(checkAgainst(structuredClone(withRequired), {}, { ignoreRequired: false })).toEqual([expect.objectContaining({ message: expect.stringContaining('missing required key "n"') })]);
  });

  it('gives the same errors from a cached validator as from a fresh one', () => {
    const first = schema('cache-errors');
    const fresh = checkAgainst(first, { n: 'x', region: 'mars', extra: 1 }, { ignoreRequired: true });
    const cached = checkAgainst(structuredClone(first), { n: 'x', region: 'mars', extra: 1 }, { ignoreRequired: true });
    expect(fresh).not.toEqual([]);
    expect(cached).toEqual(fresh);
  });

  it('remembers an invalid schema as invalid for an equal copy', () => {
    const before = userSchemaCompileCount();
    const invalid = { title: 'cache-invalid', type: 'object', properties: { n: { type: 'no-such-type' } } };
    const first = checkAgainst(invalid, {}, { ignoreRequired: true });
    expect(first).toHaveProperty('invalidSchema');
    expect(checkAgainst(structuredClone(invalid), {}, { ignoreRequired: true })).toEqual(first);
    expect(userSchemaCompileCount() - before).toBe(1);
  });
});

describe('parsed flow files', () => {
  const source = (flow: string): string => `from prefect import flow\n\n\n@flow(name="${flow}")\ndef job(n: int = 1, label: str = "x") -> int:\n    """Does the job."""\n    return n\n`;

  it('parses a flow file shared by many deployments once, and gives every caller the same frozen result', () => {
    const text = source('cache-shared');
    const before = pythonParseCount();
    const first = parameterSchemaFromSource(text, 'job');
    const expected = structuredClone(first);
    const second = parameterSchemaFromSource(text, 'job');
    expect(pythonParseCount() - before).toBe(1);
    if ('error' in first || 'error' in second) throw new Error('no schema');
    // One object for all: the validator cache finds it by identity, and no copy per deployment.
    expect(second.schema).toBe(first.schema);
    expect(() => {
      (first.schema as { properties: Record<string, unknown> }).properties.mutated = {};
    }).toThrow(TypeError);
    expect(() => {
      ((first.schema as { properties: Record<string, Record<string, unknown>> }).properties.n!).type = 'string';
    }).toThrow(TypeError);
    expect(parameterSchemaFromSource(text, 'job')).toEqual(expected);
    expect(functionDocstring(text, 'job')).toBe('Does the job.');
    expect(functionDocstring(text, 'job')).toBe('Does the job.');
    // The docstring comes from the same parse as the schema.
    expect(pythonParseCount() - before).toBe(1);
  });

  it('reads every function of a file from one parse', () => {
    const text = `${source('cache-two')}

@flow
def other(day: str) -> None:
    """The other one."""
`;
    const before = pythonParseCount();
    expect(functionDocstring(text, 'other')).toBe('The other one.');
    const other = parameterSchemaFromSource(text, 'other');
    const job = parameterSchemaFromSource(text, 'job');
    expect(pythonParseCount() - before).toBe(1);
    if ('error' in other || 'error' in job) throw new Error('no schema');
    expect(Object.keys((other.schema as { properties: object }).properties)).toEqual(['day']);
    expect(Object.keys((job.schema as { properties: object }).properties)).toEqual(['n', 'label']);
    expect(parameterSchemaFromSource(text, 'missing')).toEqual({ error: 'no top-level function "missing"' });
    expect(pythonParseCount() - before).toBe(1);
  });

  it('parses an edited file again', () => {
    const before = pythonParseCount();
    const original = parameterSchemaFromSource(source('cache-edited'), 'job');
    const edited = parameterSchemaFromSource(source('cache-edited').replace('n: int = 1', 'n: str = "1"'), 'job');
    expect(pythonParseCount() - before).toBe(2);
    if ('error' in original || 'error' in edited) throw new Error('no schema');
    expect((original.schema as { properties: { n: { type: string } } }).properties.n.type).toBe('integer');
    expect((edited.schema as { properties: { n: { type: string } } }).properties.n.type).toBe('string');
  });
});

describe('flow files read once per content, not once per deployment', () => {
  const source = (flow: string): string => `from prefect import flow\n\n\n@flow(name="${flow}")\ndef job(n: int = 1) -> int:\n    return n\n`;

  it('looks a flow up in a file once for all the deployments that name it, and freezes the answer', () => {
    const text = source('memo-lookup');
    const first = lookupFlow(text, 'job');
    expect(first).toEqual({ kind: 'flow', flowName: 'memo-lookup', line: 5 });
    for (let i = 0; i < 100; i++) expect(lookupFlow(text, 'job')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // An edited file is read again.
    expect(lookupFlow(text.replace('memo-lookup', 'memo-edited'), 'job')).toEqual({ kind: 'flow', flowName: 'memo-edited', line: 5 });
  });
});

describe('schedule previews', () => {
  it('parses a cron expression once for every schedule that uses it, with the same runs as a fresh parse', () => {
    const from = new Date('2026-10-23T12:00:00Z');
    const before = cronParseCount();
    const first = nextCronRuns('7 6 * * 1-5', 'Europe/Berlin', true, from, 5);
    for (let i = 0; i < 100; i++) expect(nextCronRuns('7 6 * * 1-5', 'Europe/Berlin', true, from, 5)).toEqual(first);
    // A later start and another count from the same parsed expression.
    expect(nextCronRuns('7 6 * * 1-5', 'Europe/Berlin', true, first[2]!, 2)).toEqual(first.slice(3, 5));
    expect(cronParseCount() - before).toBe(1);
    // Timezone and day_or are part of what is parsed.
    nextCronRuns('7 6 * * 1-5', 'UTC', true, from, 1);
    nextCronRuns('7 6 * * 1-5', 'Europe/Berlin', false, from, 1);
    expect(cronParseCount() - before).toBe(3);
  });
});

describe('the meta-schema check of a user schema (done by prefect-gitops, precompiled in lib/)', () => {
  // Each says exactly what ajv's own compile says with validateSchema on (the check before this one).
  it.each([
    ['a bad type', { type: 'object', properties: { x: { type: 'nope' } } }],
    ['a non-list required', { type: 'object', required: 'x' }],
    ['a negative minLength', { type: 'string', minLength: -1 }],
    ['properties not an object', { type: 'object', properties: [1] }],
    ['several problems', { type: 'object', properties: { a: { type: 5 }, b: { enum: 'x' } }, additionalProperties: 3 }],
  ])('%s: the message of ajv with validateSchema', async (_label, bad) => {
    const { Ajv } = await import('ajv');
    const { USER_SCHEMA_OPTIONS } = await import('../../src/validate/schema.js');
    let expected = '';
    try {
      new Ajv({ ...USER_SCHEMA_OPTIONS, validateSchema: true }).compile(bad);
    } catch (error) {
      expected = (error as Error).message;
    }
    expect(expected).toMatch(/^schema is invalid: /);
    expect(checkAgainst(bad, {}, { ignoreRequired: false })).toEqual({ invalidSchema: expected });
  });
});
