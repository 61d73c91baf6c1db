// The @flow decorator read as Prefect reads it on import (from a survey of public flow files):
// names and descriptions that are constant expressions, aliases of Prefect's `flow`, and what
// cannot be read statically said so rather than replaced silently.
import { describe, expect, it } from 'vitest';
import { lookupFlow } from '../../src/manifests/entrypoint.js';

const flowOf = (source: string, func = 'etl') => lookupFlow(source, func);

describe('@flow name= and description=, as constant expressions', () => {
  it.each([
    ['a module constant', 'FLOW_NAME = "nightly-load"\n\n@flow(name=FLOW_NAME)\ndef etl():\n    pass\n', 'nightly-load'],
    ['an f-string of constants', 'TEAM = "ops"\nN = 2\n\n@flow(name=f"{TEAM}-load-{N}")\ndef etl():\n    pass\n', 'ops-load-2'],
    ['implicit concatenation in parentheses', '@flow(\n    name=(\n        "very-long-"\n        "name"\n    ),\n)\ndef etl():\n    pass\n', 'very-long-name'],
    ['constants joined with +', 'BASE = "etl"\n\n@flow(name=BASE + "-daily")\ndef etl():\n    pass\n', 'etl-daily'],
  ])('name from %s', (_label, source, name) => {
    expect(flowOf(`from prefect import flow\n\n${source}`)).toMatchObject({ kind: 'flow', flowName: name });
  });

  it('a description in triple quotes, with escapes, or from a constant; an empty one falls back to the docstring', () => {
    expect(flowOf('from prefect import flow\n\n@flow(\n    description="""Loads\n    the day."""\n)\ndef etl():\n    """Doc."""\n')).toMatchObject({ description: 'Loads\n    the day.' });
    expect(flowOf('from prefect import flow\n\n@flow(description="one\\ttwo \\u2013 three\\n")\ndef etl():\n    pass\n')).toMatchObject({ description: 'one\ttwo \u2013 three\n' });
    expect(flowOf('from prefect import flow\nDESC = "Loads the daily snapshot."\n\n@flow(description=DESC)\ndef etl():\n    """Doc."""\n')).toMatchObject({ description: 'Loads the daily snapshot.' });
    const empty = flowOf('from prefect import flow\n\n@flow(description="")\ndef etl():\n    """Doc."""\n');
    expect(empty).toMatchObject({ kind: 'flow', flowName: 'etl' });
    expect(empty).not.toHaveProperty('description');
  });

  it('what is computed at import time is said, not replaced: a dynamic name, a description problem', () => {
    expect(flowOf('import os\nfrom prefect import flow\n\n@flow(name=os.environ["N"])\ndef etl():\n    pass\n')).toMatchObject({ kind: 'dynamic-name', line: 4, expression: 'os.environ["N"]' });
    const described = flowOf('import os\nfrom prefect import flow\n\n@flow(description=os.getenv("D", "x"))\ndef etl():\n    """Doc."""\n');
    expect(described).toMatchObject({ kind: 'flow', flowName: 'etl', descriptionProblem: expect.stringMatching(/^description=os\.getenv\("D", "x"\): .*computed at import time/) });
    expect(flowOf('from prefect import flow\nX = 1.5\n\n@flow(name=f"v{X}")\ndef etl():\n    pass\n')).toMatchObject({ kind: 'dynamic-name' });
  });
});

describe('which decorators are Prefect\'s flow', () => {
  it.each([
    ['from prefect import flow as task_flow', '@task_flow(name="aliased")'],
    ['import prefect as pf', '@pf.flow(name="aliased")'],
    ['from prefect.flows import flow', '@flow(name="aliased")'],
    ['try:\n    from prefect import flow as _pflow\nexcept ImportError:\n    def _pflow(**kw):\n        return lambda fn: fn', '@_pflow(name="aliased")'],
  ])('%s', (imports, decorator) => {
    expect(flowOf(`${imports}\n\n\n${decorator}\nasync def etl(n: int = 1):\n    pass\n`)).toMatchObject({ kind: 'flow', flowName: 'aliased' });
  });

  it('another decorator is not a flow; a function that is not there is no function', () => {
    expect(flowOf('from functools import cache\n\n@cache\ndef etl():\n    pass\n')).toEqual({ kind: 'not-a-flow', line: 4 });
    expect(flowOf('from prefect import flow\n\n@flow\ndef other():\n    pass\n')).toEqual({ kind: 'no-function' });
  });
});
