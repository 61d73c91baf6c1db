import { describe, expect, it } from 'vitest';
import { parameterSchemaFromSource, type ParameterSchemaResult } from '../../src/manifests/parameter-schema.js';

/**
 * parameterSchemaFromSource against outputs of Prefect 3.8.8's own generator
 * (`parameter_schema(flow).model_dump(exclude_unset=True)`), written out as plain data. The
 * conformance test (test/integration/parameter-schema-conformance.test.ts) runs Prefect itself
 * over the corpus in test/fixtures/signatures; these cases pin the details one at a time.
 */

const HEADER = 'from prefect import flow\n\n';

function build(source: string, fn = 'f'): ParameterSchemaResult {
  const result = parameterSchemaFromSource(source, fn);
  if ('error' in result) throw new Error(result.error);
  return result;
}

/** The property schema of the one parameter of `def f(<param>)`. */
function property(param: string, preamble = ''): unknown {
  const result = build(`${HEADER}${preamble}\n@flow\ndef f(${param}):\n    pass\n`);
  return (result.schema['properties'] as Record<string, unknown>)[/^\**(\w+)/.exec(param)![1]!];
}

describe('parameterSchemaFromSource: whole schemas', () => {
  it('gives an empty object schema for a flow without parameters', () => {
    expect(build(`${HEADER}@flow\ndef f():\n    pass\n`)).toEqual({
      schema: { title: 'Parameters', type: 'object', properties: {} },
      notices: [],
    });
  });

  it('numbers positions, lists required parameters in order and keeps defaults', () => {
    const { schema } = build(`${HEADER}@flow(name="etl", retries=2)\nasync def f(source: str, limit: int = 100, dry_run: bool = True, ratio: float = 0.5):\n    pass\n`);
    expect(schema).toEqual({
      title: 'Parameters',
      type: 'object',
      properties: {
        source: { title: 'source', position: 0, type: 'string' },
        limit: { title: 'limit', position: 1, type: 'integer', default: 100 },
        dry_run: { title: 'dry_run', position: 2, type: 'boolean', default: true },
        ratio: { title: 'ratio', position: 3, type: 'number', default: 0.5 },
      },
      required: ['source'],
    });
  });

  it('keeps *args and **kwargs as required properties typed by their annotation, and skips self', () => {
    const { schema } = build(`${HEADER}@flow\ndef f(self, x: str = "x", *rest: int, flag: bool = False, **extra):\n    pass\n`);
    expect(schema).toEqual({
      title: 'Parameters',
      type: 'object',
      properties: {
        x: { title: 'x', position: 1, type: 'string', default: 'x' },
        rest: { title: 'rest', position: 2, type: 'integer' },
        flag: { title: 'flag', position: 3, type: 'boolean', default: false },
        extra: { title: 'extra', position: 4 },
      },
      required: ['rest', 'extra'],
    });
  });

  it('puts same-file enums and models in definitions', () => {
    const source = `${HEADER}from enum import Enum\nfrom typing import Optional\nfrom pydantic import BaseModel

class Color(str, Enum):
    """Colours."""
    RED = "red"
    GREEN = "green"

class Settings(BaseModel):
    name: str
    max_retries_2x: int = 0
    color: Optional[Color] = None

@flow
def f(settings: Settings, color: Color = Color.GREEN):
    pass
`;
    expect(build(source).schema).toEqual({
      title: 'Parameters',
      type: 'object',
      properties: {
        settings: { $ref: '#/definitions/Settings', title: 'settings', position: 0 },
        color: { $ref: '#/definitions/Color', title: 'color', position: 1, default: 'green' },
      },
      required: ['settings'],
      definitions: {
        Color: { title: 'Color', description: 'Colours.', enum: ['red', 'green'], type: 'string' },
        Settings: {
          title: 'Settings',
          type: 'object',
          properties: {
            name: { title: 'Name', type: 'string' },
            max_retries_2x: { title: 'Max Retries 2X', type: 'integer', default: 0 },
            color: { anyOf: [{ $ref: '#/definitions/Color' }, { type: 'null' }], default: null },
          },
          required: ['name'],
        },
      },
    });
  });

  it('takes descriptions from a Google-style docstring, and Field(description=...) first', () => {
    const source = `${HEADER}from pydantic import Field

@flow
def f(source: str, limit: int = Field(10, description="From Field"), verbose=False):
    """Copy rows.

    Args:
        source: Where to read from.
            Second line.
        limit: Loses to Field.
        verbose (bool): Print each row.
    """
`;
    expect(build(source).schema['properties']).toEqual({
      source: { title: 'source', position: 0, type: 'string', description: 'Where to read from.\nSecond line.' },
      limit: { title: 'limit', position: 1, type: 'integer', default: 10, description: 'From Field' },
      verbose: { title: 'verbose', position: 2, default: false, description: 'Print each row.' },
    });
  });
});

describe('parameterSchemaFromSource: annotations', () => {
  it.each([
    ['x: str', { title: 'x', position: 0, type: 'string' }],
    ['x: bytes = b"abc"', { title: 'x', position: 0, type: 'string', format: 'binary', default: 'abc' }],
    ['x', { title: 'x', position: 0 }],
    ['x: Any', { title: 'x', position: 0 }],
    ['x: list[str]', { title: 'x', position: 0, type: 'array', items: { type: 'string' } }],
    ['x: List', { title: 'x', position: 0, type: 'array', items: {} }],
    ['x: Sequence[int] = ()', { title: 'x', position: 0, type: 'array', items: { type: 'integer' }, default: [] }],
    ['x: set[str]', { title: 'x', position: 0, type: 'array', uniqueItems: true, items: { type: 'string' } }],
    ['x: dict[str, int]', { title: 'x', position: 0, type: 'object', additionalProperties: { type: 'integer' } }],
    ['x: Dict', { title: 'x', position: 0, type: 'object', additionalProperties: true }],
    ['x: dict[str, Any]', { title: 'x', position: 0, type: 'object', additionalProperties: true }],
    ['x: tuple[int, str]', { title: 'x', position: 0, type: 'array', prefixItems: [{ type: 'integer' }, { type: 'string' }], minItems: 2, maxItems: 2 }],
    ['x: Tuple[int, ...]', { title: 'x', position: 0, type: 'array', items: { type: 'integer' } }],
    ['x: tuple[()]', { title: 'x', position: 0, type: 'array', minItems: 0, maxItems: 0 }],
    ['x: Optional[int] = None', { title: 'x', position: 0, anyOf: [{ type: 'integer' }, { type: 'null' }], default: null }],
    ['x: int | None = None', { title: 'x', position: 0, anyOf: [{ type: 'integer' }, { type: 'null' }], default: null }],
    ['x: Union[None, int, str]', { title: 'x', position: 0, anyOf: [{ type: 'integer' }, { type: 'string' }, { type: 'null' }] }],
    ['x: Optional[Union[int, str]]', { title: 'x', position: 0, anyOf: [{ type: 'integer' }, { type: 'string' }, { type: 'null' }] }],
    ['x: Union[int, int] = 1', { title: 'x', position: 0, type: 'integer', default: 1 }],
    ['x: Literal["a", "b"] = "a"', { title: 'x', position: 0, enum: ['a', 'b'], type: 'string', default: 'a' }],
    ['x: Literal["only"]', { title: 'x', position: 0, const: 'only', type: 'string' }],
    ['x: Literal["a", 1]', { title: 'x', position: 0, enum: ['a', 1] }],
    ['x: Literal["a", None] = None', { title: 'x', position: 0, enum: ['a', null], default: null }],
    ['x: Literal[-1, 2]', { title: 'x', position: 0, enum: [-1, 2], type: 'integer' }],
    ['x: datetime', { title: 'x', position: 0, type: 'string', format: 'date-time' }],
    ['x: date', { title: 'x', position: 0, type: 'string', format: 'date' }],
    ['x: dt.timedelta', { title: 'x', position: 0, type: 'string', format: 'duration' }],
    ['x: Path = Path("x")', { title: 'x', position: 0, type: 'string', format: 'path', default: 'x' }],
    ['x: UUID = None', { title: 'x', position: 0, type: 'string', format: 'uuid', default: null }],
    ['x: Decimal', { title: 'x', position: 0, anyOf: [{ type: 'number' }, { type: 'string' }] }],
    ['x: abc.Mapping[str, bool]', { title: 'x', position: 0, type: 'object', additionalProperties: { type: 'boolean' } }],
    ['x: Callable[[int], int] = abs', { title: 'x', position: 0 }],
    ['x: Optional[Callable] = None', { title: 'x', position: 0, default: null }],
    ['x: "Optional[int]" = None', { title: 'x', position: 0, anyOf: [{ type: 'integer' }, { type: 'null' }], default: null }],
    ['x: list["Undefined"] = []', { title: 'x', position: 0, default: [] }],
    ['x: Annotated[int, "meta"] = 1', { title: 'x', position: 0, type: 'integer', default: 1 }],
  ])('%s', (param, expected) => {
    const preamble = [
      'import datetime as dt',
      'from collections import abc',
      'from datetime import date, datetime',
      'from decimal import Decimal',
      'from pathlib import Path',
      'from typing import Annotated, Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, Union',
      'from uuid import UUID',
    ].join('\n');
    expect(property(param, preamble)).toEqual(expected);
  });

  it('gives a plain class in the same file the empty schema pydantic gives it, without a notice', () => {
    const result = build(`${HEADER}from typing import Optional\n\nclass Client:\n    pass\n\n@flow\ndef f(a: Client, b: Optional[Client] = None):\n    pass\n`);
    expect(result.schema['properties']).toEqual({
      a: { title: 'a', position: 0 },
      b: { title: 'b', position: 1, anyOf: [{}, { type: 'null' }], default: null },
    });
    expect(result.notices).toEqual([]);
  });

  it('resolves module-level aliases and string forward references in the module', () => {
    const source = `${HEADER}from typing import Dict, Literal\n\nMode = Literal["a", "b"]\nIds = list[int]\n\n@flow\ndef f(mode: Mode = "a", table: Dict[str, "Ids"] = {}, ids: "Ids" = []):\n    pass\n`;
    expect(build(source).schema['properties']).toEqual({
      mode: { title: 'mode', position: 0, enum: ['a', 'b'], type: 'string', default: 'a' },
      // A string nested inside an annotation is a forward reference pydantic resolves in Prefect's
      // own namespace, where "Ids" does not exist: Prefect gives up on the whole annotation.
      table: { title: 'table', position: 1, default: {} },
      ids: { title: 'ids', position: 2, type: 'array', items: { type: 'integer' }, default: [] },
    });
  });

  it('follows Prefect when eval_str fails on a name imported only for type checkers', () => {
    const source = `from __future__ import annotations
from typing import TYPE_CHECKING, Optional
import typing
from prefect import flow
if TYPE_CHECKING:
    from pandas import DataFrame

@flow
def f(frame: DataFrame, a: int = 1, b: Optional[int] = None, c: typing.Optional[int] = None, d: list[str] = []):
    pass
`;
    const result = build(source);
    expect(result.schema['properties']).toEqual({
      frame: { title: 'frame', position: 0 },
      a: { title: 'a', position: 1, type: 'integer', default: 1 },
      b: { title: 'b', position: 2, default: null },
      c: { title: 'c', position: 3, anyOf: [{ type: 'integer' }, { type: 'null' }], default: null },
      d: { title: 'd', position: 4, type: 'array', items: { type: 'string' }, default: [] },
    });
    expect(result.notices).toEqual([]);
  });
});

describe('parameterSchemaFromSource: defaults', () => {
  it.each([
    ['x: str = \'it\\\'s\'', "it's"],
    ['x: str = "say \\"hi\\""', 'say "hi"'],
    ['x: str = "tab\\there\\x41\\101\\u00e9"', 'tab\thereAAé'],
    ['x: str = r"C:\\path"', 'C:\\path'],
    ['x: str = "abc" "def"', 'abcdef'],
    ['x: str = f"no fields"', 'no fields'],
    ['x: int = -5', -5],
    ['x: int = 0x1F', 31],
    ['x: int = 10_000', 10000],
    ['x: float = 1.5e-3', 0.0015],
    ['x: int = 2 * 3', 6],
    ['x: list = [1, 2.5, None, True]', [1, 2.5, null, true]],
    ['x: tuple = (1, ("a",))', [1, ['a']]],
    ['x: dict = {"k": {"n": -1}, 2: "two"}', { k: { n: -1 }, '2': 'two' }],
    ['x: set = set()', []],
    ['x: datetime = datetime(2024, 1, 1, 6, 30)', '2024-01-01T06:30:00'],
    ['x: datetime = datetime(2024, 1, 1, microsecond=120000)', '2024-01-01T00:00:00.120000'],
    ['x: date = date(2024, 2, 29)', '2024-02-29'],
    ['x: time = time(1, 2, 3, 4)', '01:02:03.000004'],
    ['x: timedelta = timedelta(hours=1)', 'PT1H'],
    ['x: timedelta = timedelta(days=7)', 'P7D'],
    ['x: timedelta = timedelta(seconds=90)', 'PT1M30S'],
    ['x: timedelta = timedelta(days=1, hours=2)', 'P1DT2H'],
    ['x: timedelta = timedelta(milliseconds=1500)', 'PT1.5S'],
    ['x: timedelta = timedelta(0)', 'PT0S'],
    ['x: timedelta = timedelta(days=400)', 'P1Y35D'],
    ['x: timedelta = timedelta(seconds=-5)', '-PT5S'],
    ['x: timedelta = timedelta(hours=1, microseconds=10)', 'PT1H0.00001S'],
    ['x = LIMIT', 50],
  ])('%s', (param, expected) => {
    const preamble = 'from datetime import date, datetime, time, timedelta\nLIMIT = 50';
    expect((property(param, preamble) as { default: unknown }).default).toEqual(expected);
  });

  it('treats `...`, Field(...) and Field(default_factory=...) as required, and drops unserialisable defaults', () => {
    const source = `${HEADER}from pydantic import Field

def helper():
    pass

@flow
def f(a: int = ..., b: int = Field(...), c: list = Field(default_factory=list), d=helper, e: int = Field(1, ge=0, json_schema_extra={"position": 9})):
    pass
`;
    const { schema } = build(source);
    expect(schema['properties']).toEqual({
      a: { title: 'a', position: 0, type: 'integer' },
      b: { title: 'b', position: 1, type: 'integer' },
      c: { title: 'c', position: 2, type: 'array', items: {} },
      d: { title: 'd', position: 3 },
      e: { title: 'e', position: 9, type: 'integer', default: 1 },
    });
    expect(schema['required']).toEqual(['a', 'b', 'c']);
  });
});

describe('parameterSchemaFromSource: fallbacks', () => {
  it('makes an annotation from another package an untyped property, with a notice at the parameter', () => {
    const source = `${HEADER}from mypkg.models import MyModel\n\n@flow\ndef f(\n    model: MyModel,\n    n: int = 1,\n):\n    pass\n`;
    expect(build(source)).toEqual({
      schema: {
        title: 'Parameters',
        type: 'object',
        properties: { model: { title: 'model', position: 0 }, n: { title: 'n', position: 1, type: 'integer', default: 1 } },
        required: ['model'],
      },
      notices: [
        {
          parameter: 'model',
          message: 'parameter "model": annotation "MyModel" cannot be resolved statically ("MyModel" is imported from mypkg.models); it accepts any value',
          line: 7,
          column: 5,
        },
      ],
    });
  });

  it('leaves out a default computed at import time, with a notice, and keeps the type', () => {
    const source = `${HEADER}import os\n\n@flow\ndef f(path: str = os.environ["HOME"], tags: set[str] = {"a", "b"}):\n    pass\n`;
    const result = build(source);
    expect(result.schema['properties']).toEqual({
      path: { title: 'path', position: 0, type: 'string' },
      tags: { title: 'tags', position: 1, type: 'array', uniqueItems: true, items: { type: 'string' } },
    });
    expect(result.schema['required']).toBeUndefined();
    expect(result.notices.map((n) => n.message)).toEqual([
      'parameter "path": default os.environ["HOME"] cannot be evaluated statically ("os.environ["HOME"]" is computed at import time); the schema has no default for it',
      'parameter "tags": default {"a", "b"} cannot be evaluated statically (the order of a set is decided at run time); the schema has no default for it',
    ]);
  });

  it.each([
    ['a str-mixin enum with auto()', 'from enum import Enum, auto\nclass E(str, Enum):\n    A = auto()', 'x: E'],
    ['a model whose Field(...) has a keyword not read statically', 'from pydantic import BaseModel, Field\nclass M(BaseModel):\n    a: int = Field(1, frozen=True)', 'x: M'],
    ['a model with a validator', 'from pydantic import BaseModel, field_validator\nclass M(BaseModel):\n    a: int\n    @field_validator("a")\n    def check(cls, v):\n        return v', 'x: M'],
    ['Annotated constraints that do not fit the type', 'from typing import Annotated\nfrom pydantic import Field', 'x: Annotated[bool, Field(ge=1)]'],
    ['a name from a star import', 'from mypkg import *', 'x: Thing'],
    ['a conditionally imported name', 'try:\n    from fast import Thing\nexcept ImportError:\n    Thing = dict', 'x: Thing'],
  ])('falls back for %s', (_, preamble, param) => {
    const result = build(`${HEADER}${preamble}\n\n@flow\ndef f(${param}):\n    pass\n`);
    expect(result.schema['properties']).toEqual({ x: { title: 'x', position: 0 } });
    expect(result.schema['definitions']).toBeUndefined();
    expect(result.notices).toHaveLength(1);
    expect(result.notices[0]!.message).toMatch(/^parameter "x": annotation ".*" cannot be resolved statically \(.+\); it accepts any value$/);
  });
});

describe('parameterSchemaFromSource: errors', () => {
  it.each([
    ['a missing function', `${HEADER}@flow\ndef g():\n    pass\n`, 'no top-level function "f"'],
    ['a function only nested in a class', `${HEADER}class A:\n    @flow\n    def f(self):\n        pass\n`, 'no top-level function "f"'],
    ['a syntax error in the definition', `${HEADER}@flow\ndef f(a: int = ):\n    pass\n`, 'syntax error in the definition of "f" (line 3)'],
  ])('reports %s', (_, source, error) => {
    expect(parameterSchemaFromSource(source, 'f')).toEqual({ error });
  });

  it('uses the last top-level definition of the name, as the module attribute does', () => {
    const { schema } = build(`${HEADER}@flow\ndef f(a: int):\n    pass\n\n@flow\ndef f(b: str = "b"):\n    pass\n`);
    expect(Object.keys(schema['properties'] as object)).toEqual(['b']);
  });
});

describe('parameterSchemaFromSource: a model instance as the default', () => {
  it('is the model built as pydantic dumps it; one that cannot be built here is a notice, and no default', () => {
    const source = `${HEADER}from pydantic import BaseModel, Field\n\nclass Inner(BaseModel):\n    count: int = 0\n\nclass Outer(BaseModel):\n    name: str\n    inner: Inner = Field(default_factory=Inner)\n    tags: list[str] = Field(default_factory=list)\n\n@flow\ndef f(a: Outer = Outer(name="x"), b: Outer = Outer(), c: Inner = Inner(count=3)):\n    pass\n`;
    const result = build(source);
    const properties = result.schema['properties'] as Record<string, { default?: unknown }>;
    expect(properties['a']!.default).toEqual({ name: 'x', inner: { count: 0 }, tags: [] });
    expect(properties['b']).not.toHaveProperty('default');
    expect(properties['c']!.default).toEqual({ count: 3 });
    expect(result.notices.map((n) => n.message)).toEqual([expect.stringMatching(/^parameter "b": default Outer\(\) cannot be evaluated statically \(Outer\(\.\.\.\): the required field name is not given\)/)]);
  });
});
