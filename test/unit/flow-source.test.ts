import { describe, expect, it } from 'vitest';
import { entrypointTarget, locateFlow } from '../../src/manifests/flow-source.js';

/** Issue 9 A5-A7: finding the flow function statically, as Python would import it. */
const files = (map: Record<string, string>) => (path: string) => map[path] ?? null;
const FLOW = 'from prefect import flow\n\n@flow\ndef etl(n: int = 1):\n    pass\n';

describe('entrypoint forms', () => {
  it.each([
    ['flows/etl.py:etl', { candidates: ['flows/etl.py'], func: 'etl', form: 'file' }],
    ['./flows/etl.py:etl', { candidates: ['flows/etl.py'], func: 'etl', form: 'file' }],
    ['pkg.flows:etl', { candidates: ['pkg/flows.py', 'pkg/flows/__init__.py'], func: 'etl', form: 'module' }],
    ['pkg.flows.etl', { candidates: ['pkg/flows.py', 'pkg/flows/__init__.py'], func: 'etl', form: 'module' }],
  ])('%s', (entrypoint, expected) => expect(entrypointTarget(entrypoint)).toEqual(expected));

  it('refuses what has none of the forms', () => {
    expect(entrypointTarget('flows/etl.py')).toBeUndefined();
    expect(locateFlow('flows/etl.py', [''], files({}))).toEqual({ kind: 'malformed' });
  });
});

describe('locating the flow', () => {
  it('a module entrypoint resolves to a module or a package', () => {
    expect(locateFlow('pkg.flows:etl', [''], files({ 'pkg/flows/__init__.py': FLOW }))).toMatchObject({ kind: 'found', file: 'pkg/flows/__init__.py', func: 'etl' });
  });

  it("relative to the prefect.yaml's folder first, then to the project root; names every path tried", () => {
    expect(locateFlow('flows/etl.py:etl', ['sub', ''], files({ 'flows/etl.py': FLOW }))).toMatchObject({ kind: 'found', file: 'flows/etl.py', base: '' });
    expect(locateFlow('flows/etl.py:etl', ['sub', ''], files({}))).toEqual({ kind: 'missing', tried: ['sub/flows/etl.py', 'flows/etl.py'] });
  });

  it('follows absolute and relative re-exports, also with `as` and parentheses', () => {
    const read = files({
      'flows/main.py': 'from impl import etl\nfrom .jobs import (\n    load,\n    clean as tidy,\n)\n',
      'flows/impl.py': FLOW,
      'flows/jobs.py': 'from prefect import flow\n\n@flow\ndef clean():\n    pass\n',
    });
    expect(locateFlow('flows/main.py:etl', [''], read)).toMatchObject({ kind: 'found', file: 'flows/impl.py', func: 'etl', hops: [{ file: 'flows/main.py', line: 1, text: 'from impl import etl' }] });
    expect(locateFlow('flows/main.py:tidy', [''], read)).toMatchObject({ kind: 'found', file: 'flows/jobs.py', func: 'clean' });
  });

  it('follows `name = flow(fn)` and `name = flow(name=...)(fn)`, also into an imported function', () => {
    const read = files({
      'a.py': 'from prefect import flow\nfrom lib import load\n\nplain = flow(load)\nnamed = flow(name="the-name", retries=2)(load)\n',
      'lib.py': 'def load(n: int = 1):\n    """Load."""\n',
    });
    expect(locateFlow('a.py:plain', [''], read)).toMatchObject({ kind: 'found', file: 'lib.py', func: 'load', assigned: { line: 4 } });
    expect(locateFlow('a.py:named', [''], read)).toMatchObject({ kind: 'found', file: 'lib.py', func: 'load', assigned: { line: 5, name: { literal: 'the-name' } } });
  });

  it('asks for files not read yet, and never leaves the project', () => {
    expect(locateFlow('flows/main.py:etl', [''], (p) => (p === 'flows/main.py' ? 'from impl import etl\n' : undefined))).toEqual({ kind: 'pending' });
    expect(locateFlow('../x.py:etl', [''], files({}))).toEqual({ kind: 'outside', path: '../x.py' });
  });
});
