import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ensurePrefectVenv, repoRoot } from '../../scripts/prefect-venv.js';
import { lookupFlow } from '../../src/manifests/entrypoint.js';
import { parameterSchemaFromSource, type ParameterSchemaResult } from '../../src/manifests/parameter-schema.js';

/**
 * Conformance with Prefect's own generator: for every flow in the corpus
 * (test/fixtures/signatures/*.py), scripts/prefect-schema.py loads the flow the way `prefect
 * deploy` does and prints the `parameter_openapi_schema` it would send; parameterSchemaFromSource
 * must produce exactly that for every signature in MUST_MATCH (the common annotations and
 * defaults), and for any other signature at least a valid fallback: nothing Prefect would not say,
 * and a notice for each property that differs.
 */

const CORPUS = 'test/fixtures/signatures';

/** `file:function` signatures whose schema must be identical to Prefect's. */
const MUST_MATCH: readonly string[] = [
  // str / int / float / bool, required and defaulted, untyped, async, decorator arguments
  'sig_scalars.py:no_params', 'sig_scalars.py:required_scalars', 'sig_scalars.py:scalar_defaults',
  'sig_scalars.py:mixed_required_and_defaults', 'sig_scalars.py:untyped', 'sig_scalars.py:async_with_decorator_args',
  'sig_scalars.py:decorator_multiline', 'sig_scalars.py:int_default_for_float', 'sig_scalars.py:bytes_and_any',
  // list / dict / tuple / set with and without item types
  'sig_collections.py:builtin_generics', 'sig_collections.py:typing_generics', 'sig_collections.py:bare_collections',
  'sig_collections.py:tuples', 'sig_collections.py:sets_and_sequences', 'sig_collections.py:any_values',
  'sig_collections.py:dict_int_keys',
  // Optional, X | None, Union, Literal
  'sig_unions.py:optionals', 'sig_unions.py:optional_required', 'sig_unions.py:pep604', 'sig_unions.py:unions',
  'sig_unions.py:literals', 'sig_unions.py:literal_required', 'sig_unions.py:optional_literal',
  'sig_unions.py:optional_collections',
  // datetime, date, time, timedelta, with defaults
  'sig_dates.py:dates', 'sig_dates.py:date_defaults', 'sig_dates.py:optional_dates', 'sig_dates.py:module_qualified',
  // defaults: None, containers, numbers, quoted strings, expressions, module constants and aliases
  'sig_defaults.py:none_defaults', 'sig_defaults.py:container_defaults', 'sig_defaults.py:number_defaults',
  'sig_defaults.py:string_defaults', 'sig_defaults.py:triple_quoted', 'sig_defaults.py:expression_defaults',
  'sig_defaults.py:bool_defaults', 'sig_aliases.py:aliases', 'sig_aliases.py:constants', 'sig_aliases.py:module_attributes',
  'sig_aliases.py:forward_alias_in_dict',
  // positions with *args, **kwargs, keyword-only and positional-only parameters
  'sig_variadic.py:with_args', 'sig_variadic.py:with_kwargs', 'sig_variadic.py:with_both', 'sig_variadic.py:keyword_only',
  'sig_variadic.py:positional_only', 'sig_variadic.py:everything',
  // Google-style docstring descriptions (griffe)
  'sig_docstrings.py:google_args', 'sig_docstrings.py:google_partial', 'sig_docstrings.py:google_parameters_heading',
  'sig_docstrings.py:docstring_without_args', 'sig_docstrings.py:one_line_docstring_args',
  'sig_docstrings.py:google_args_with_blank_lines', 'sig_docstrings.py:google_with_types_and_unknown',
  'sig_docstrings.py:single_quoted_docstring', 'sig_docstrings.py:raw_docstring', 'sig_docstrings.py:keyword_args_section',
  'sig_docstrings.py:two_args_sections', 'sig_docstrings.py:args_without_blank_line_above',
  'sig_docstrings.py:code_fence_and_admonition', 'sig_docstrings.py:async_documented',
  // enums and pydantic models in the same file, pydantic Field defaults
  'sig_enums_models.py:enum_params', 'sig_enums_models.py:enum_defaults', 'sig_enums_models.py:optional_enum',
  'sig_enums_models.py:model_param', 'sig_enums_models.py:nested_model', 'sig_enums_models.py:field_defaults',
  'sig_models_more.py:documented_enum', 'sig_models_more.py:inherited_model', 'sig_models_more.py:literal_of_enum_member',
  'sig_models_more.py:field_extras',
  // pydantic Field(...) inside models (description, title, alias, default_factory, constraints)
  'sig_model_fields.py:model_fields', 'sig_fallbacks.py:annotated_constraints', 'sig_model_fields.py:model_configs', 'sig_model_fields.py:model_defaults', 'sig_model_fields.py:enum_auto',
  // string annotations, `from __future__ import annotations`, names only imported for type checkers
  'sig_forward_refs.py:string_annotations', 'sig_forward_refs.py:string_annotation_of_later_class',
  'sig_forward_refs.py:unresolvable_string_annotation', 'sig_future_annotations.py:future_annotations',
  'sig_type_checking.py:type_checking_only',
  // annotations Prefect itself leaves untyped (plain classes, callables)
  'sig_prefect_any.py:plain_class', 'sig_prefect_any.py:callable_param', 'sig_prefect_any.py:optional_plain_class',
  'sig_prefect_any.py:callables_are_any', 'sig_prefect_any.py:function_defaults',
];

/** Keywords that give a property a type; a fallback property has none of them. */
const TYPE_KEYWORDS = ['type', 'anyOf', 'allOf', 'oneOf', '$ref', 'enum', 'const', 'items', 'prefixItems', 'additionalProperties', 'format'];

type Json = Record<string, unknown>;

interface Signature {
  /** `file:function`, the file relative to the corpus. */
  readonly id: string;
  readonly file: string;
  readonly func: string;
}

function corpus(): Signature[] {
  const signatures: Signature[] = [];
  for (const name of readdirSync(join(repoRoot, CORPUS)).filter((f) => f.endsWith('.py')).sort()) {
    const source = readFileSync(join(repoRoot, CORPUS, name), 'utf8');
    for (const match of source.matchAll(/^(?:async\s+)?def\s+([A-Za-z_]\w*)/gm)) {
      if (lookupFlow(source, match[1]!).kind === 'flow') signatures.push({ id: `${name}:${match[1]}`, file: `${CORPUS}/${name}`, func: match[1]! });
    }
  }
  return signatures;
}

/** What makes `ts` an invalid fallback for Prefect's `py` (empty when it is a valid one). */
function fallbackProblems(ts: ParameterSchemaResult, py: Json): string[] {
  const problems: string[] = [];
  const tsProps = ts.schema['properties'] as Record<string, Json>;
  const pyProps = py['properties'] as Record<string, Json>;
  expectSameKeys(Object.keys(tsProps), Object.keys(pyProps), 'properties', problems);
  for (const [name, pyProp] of Object.entries(pyProps)) {
    const tsProp = tsProps[name];
    if (!tsProp || isEqual(tsProp, pyProp)) continue;
    for (const [key, value] of Object.entries(tsProp)) {
      if (!isEqual(value, pyProp[key])) problems.push(`${name}.${key} is ${JSON.stringify(value)}, Prefect says ${JSON.stringify(pyProp[key])}`);
    }
    const untyped = TYPE_KEYWORDS.every((k) => !(k in tsProp));
    const onlyDefaultMissing = isEqual({ ...tsProp, default: pyProp['default'] }, pyProp);
    if (!untyped && !onlyDefaultMissing) problems.push(`${name} differs from Prefect but is neither untyped nor only missing its default`);
    if (!ts.notices.some((n) => n.parameter === name)) problems.push(`${name} differs from Prefect without a notice`);
  }
  if (!isEqual(ts.schema['required'], py['required'])) problems.push(`required is ${JSON.stringify(ts.schema['required'])}, Prefect says ${JSON.stringify(py['required'])}`);
  const tsDefinitions = (ts.schema['definitions'] ?? {}) as Json;
  const pyDefinitions = (py['definitions'] ?? {}) as Json;
  for (const [name, definition] of Object.entries(tsDefinitions)) {
    if (!isEqual(definition, pyDefinitions[name])) problems.push(`definition ${name} is not Prefect's`);
  }
  return problems;
}

function expectSameKeys(a: string[], b: string[], what: string, problems: string[]): void {
  if (!isEqual(a, b)) problems.push(`${what} are ${a.join(', ')}, Prefect has ${b.join(', ')}`);
}

function isEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

describe('parameter schema conformance with Prefect', () => {
  const signatures = corpus();
  let prefect: Record<string, Json>;

  beforeAll(async () => {
    const { python } = await ensurePrefectVenv({ log: () => {} });
    const { stdout } = await promisify(execFile)(
      python,
      ['scripts/prefect-schema.py', ...signatures.map((s) => `${s.file}:${s.func}`)],
      { cwd: repoRoot, env: { ...process.env, ...inject('prefectEnv') }, maxBuffer: 64 * 1024 * 1024 },
    );
    prefect = JSON.parse(stdout) as Record<string, Json>;
  });

  it('has a corpus of at least 40 signatures, and MUST_MATCH names only signatures in it', () => {
    expect(signatures.length).toBeGreaterThanOrEqual(40);
    expect(MUST_MATCH.filter((id) => !signatures.some((s) => s.id === id))).toEqual([]);
  });

  it('matches Prefect exactly for the common annotations and defaults, and falls back validly elsewhere', () => {
    const differing: string[] = [];
    for (const signature of signatures) {
      const py = prefect[`${signature.file}:${signature.func}`]!;
      expect(py, signature.id).toBeDefined();
      expect(py['error'], `Prefect could not load ${signature.id}`).toBeUndefined();
      const ts = parameterSchemaFromSource(readFileSync(join(repoRoot, signature.file), 'utf8'), signature.func);
      if ('error' in ts) throw new Error(`${signature.id}: ${ts.error}`);
      if (isEqual(ts.schema, py)) continue;
      differing.push(signature.id);
      if (MUST_MATCH.includes(signature.id)) {
        expect(ts.schema, `${signature.id} must be identical to Prefect's schema`).toEqual(py);
      }
      expect(fallbackProblems(ts, py), `${signature.id} is not a valid fallback`).toEqual([]);
    }
    const identical = signatures.length - differing.length;
    console.log(`parameter schema conformance: ${identical}/${signatures.length} signatures identical`);
    if (differing.length > 0) console.log(`differing (valid fallbacks, each with a notice): ${differing.join(', ')}`);
  });
});
