import { describe, expect, it } from 'vitest';
import { parameterSchemaFromSource } from '../../src/manifests/parameter-schema.js';

describe('a @dataclass parameter (issue 9 B6)', () => {
  it('is never an empty schema silently: the result says why it is not read', () => {
    const source = ['from dataclasses import dataclass', 'from prefect import flow', '', '@dataclass', 'class Window:', '    start: str', '    days: int = 1', '', '@flow', 'def f(window: Window, n: int = 1):', '    pass', ''].join('\n');
    const result = parameterSchemaFromSource(source, 'f');
    const text = JSON.stringify(result);
    expect(text).toContain('Window is a @dataclass');
  });
});
