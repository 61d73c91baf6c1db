/**
 * The parameter schema `prefect deploy` sends as a deployment's `parameter_openapi_schema`, built
 * from the entrypoint's source without running Python.
 *
 * Prefect imports the flow (so every dependency must be installed) and runs
 * `parameter_schema(flow)`: `inspect.signature(fn, eval_str=True)`, one pydantic field per
 * parameter (`title` = name, `position` = index, the default, a description from the Google-style
 * docstring parsed by griffe), and pydantic's JSON schema of a model made from those fields, with
 * `$defs` renamed to `definitions`. Annotations pydantic cannot turn into a schema become `Any`.
 *
 * This module parses the source with tree-sitter's Python grammar and reproduces that output for
 * the annotations and defaults it can resolve statically: builtins, `typing` generics, unions,
 * `Literal`, `datetime`, enums and simple pydantic models defined in the same file, literal
 * defaults, `pydantic.Field(...)` defaults and module-level constants. Whatever it cannot decide
 * (an annotation imported from another package, a default computed at import time) becomes an
 * untyped property, or a property without its default, together with a notice: the result never
 * claims more than Prefect would, and every place where it may differ from Prefect is announced.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Language, Parser } from 'web-tree-sitter';
import type { Node } from 'web-tree-sitter';
import { sourceMemo } from './source-memo.js';

export interface ParameterSchemaNotice {
  /** The parameter the notice is about. */
  readonly parameter: string;
  /** A full sentence, starting with `parameter "<name>":`. */
  readonly message: string;
  /** 1-based position of the parameter in the source. */
  readonly line: number;
  readonly column: number;
}

export interface ParameterSchemaResult {
  /**
   * Prefect's shape: `{title: 'Parameters', type: 'object', properties: {name: {title, position,
   * type?/anyOf/$ref/..., default?, description?}}, required?: [...], definitions?: {...}}`.
   */
  readonly schema: Record<string, unknown>;
  /** Where the schema may differ from Prefect's, e.g. `parameter "model": annotation "MyModel" cannot be resolved statically (...); it accepts any value`. */
  readonly notices: readonly ParameterSchemaNotice[];
}

/**
 * Builds the parameter schema of the top-level function `functionName` in the Python `source`,
 * the way `prefect deploy` builds `parameter_openapi_schema` (Prefect 3, pydantic 2).
 *
 * Returns `{error}` when the function is missing, its definition has a syntax error, or the Python
 * parser could not be loaded. Never throws for any input.
 */
export function parameterSchemaFromSource(
  source: string,
  functionName: string,
): ParameterSchemaResult | { error: string } {
  // Many deployments share a flow file: parse each (content, function) once, and hand every caller
  // the same deeply frozen result, so that no caller can change what another one gets (a write
  // throws). Sharing one object, not a copy each, is what lets the validator cache (checkAgainst,
  // by schema object) and the planner's canonical forms find it again: 10,000 deployments of one
  // flow then hold one schema, not 10,000.
  return schemaResults(source, functionName, () => schemaFromSource(source, functionName));
}

/** Results by file content and function name (see sourceMemo). */
const schemaResults = sourceMemo<ParameterSchemaResult | { error: string }>();
const docstrings = sourceMemo<string | undefined>();
/**
 * Each source read once, by content: the schema and the docstring of a flow come from one parse.
 * Only the last few modules are kept (they are large, and the results above are what is asked
 * again): a deployment asks for both right after each other.
 */
const modules = sourceMemo<ModuleInfo | { error: string }>(16);
let sourceParses = 0;

/** How many times a Python source has been parsed in this process (to show that a flow file is parsed once). */
export const pythonParseCount = (): number => sourceParses;

/** The module read from `source` (plain data: the syntax tree is deleted before it returns). */
function moduleOf(source: string): ModuleInfo | { error: string } {
  return modules(source, '', () => {
    if ('error' in python) return { error: `the Python parser could not be loaded: ${python.error}` };
    sourceParses++;
    // Python reads source files with universal newlines, so string literals never contain \r\n.
    const tree = python.parser.parse(source.replace(/\r\n?/g, '\n'));
    if (!tree) return { error: 'the Python parser returned no tree' };
    try {
      return readModule(tree.rootNode);
    } finally {
      tree.delete();
    }
  });
}

function schemaFromSource(source: string, functionName: string): ParameterSchemaResult | { error: string } {
  const module = moduleOf(source);
  if ('error' in module) return module;
  const fn = module.functions.get(functionName);
  if (!fn) return { error: `no top-level function "${functionName}"` };
  if ('error' in fn) return { error: fn.error };
  return buildSchema(fn, module);
}

/**
 * The description Prefect gives a flow by default: its docstring, cleaned like `inspect.getdoc`.
 * Undefined when the function has none or cannot be read.
 */
export function functionDocstring(source: string, functionName: string): string | undefined {
  return docstrings(source, functionName, () => docstringFromSource(source, functionName));
}

/** What the `@flow` decorator of a top-level function says, as Prefect would read it on import. */
export type FlowDecoratorLookup =
  | {
      readonly kind: 'flow';
      readonly flowName: string;
      readonly line: number;
      /** `description=` when it reads as a non-empty string (Prefect: `description or getdoc(fn)`). */
      readonly description?: string;
      /** Why `description=` cannot be read statically (then the docstring stands in, with a warning). */
      readonly descriptionProblem?: string;
    }
  | { readonly kind: 'not-a-flow'; readonly line: number }
  | { readonly kind: 'dynamic-name'; readonly line: number; readonly expression: string; readonly why?: string }
  | { readonly kind: 'no-function' };

const flowDecorators = sourceMemo<FlowDecoratorLookup | undefined>();

/**
 * The `@flow` decorator of top-level function `functionName`, read from the parsed module: `name=`
 * and `description=` are evaluated as far as they are constant (literals in parentheses or
 * concatenated, escapes, triple quotes, module-level constants, f-strings of constants), and the
 * decorator may be `flow`, `prefect.flow`, an alias (`import prefect as pf`, `from prefect import
 * flow as task_flow`). Undefined when the module or the function cannot be parsed.
 */
export function flowDecoratorFromSource(source: string, functionName: string): FlowDecoratorLookup | undefined {
  return flowDecorators(source, functionName, () => {
    const module = moduleOf(source);
    if ('error' in module) return undefined;
    const fn = module.functions.get(functionName);
    if (!fn) return module.bindings.has(functionName) ? undefined : { kind: 'no-function' };
    if ('error' in fn) return undefined;
    const decorator = fn.decorators.find((d) => isFlowDecorator(d.expr, module));
    if (!decorator) return { kind: 'not-a-flow', line: fn.line };
    const keyword = (name: string): PyExpr | undefined => (decorator.expr.kind === 'call' ? decorator.expr.keywords.find((k) => k.name === name)?.value : undefined);
    const nameExpr = keyword('name');
    let flowName = functionName.replace(/_/g, '-');
    if (nameExpr) {
      const value = evaluate(nameExpr, module);
      if (!value.ok || value.value.t !== 'str') {
        return { kind: 'dynamic-name', line: decorator.line, expression: nameExpr.text, ...(value.ok ? {} : { why: value.why }) };
      }
      flowName = value.value.v;
    }
    const descriptionExpr = keyword('description');
    if (!descriptionExpr) return { kind: 'flow', flowName, line: fn.line };
    const value = evaluate(descriptionExpr, module);
    if (!value.ok) return { kind: 'flow', flowName, line: fn.line, descriptionProblem: `description=${descriptionExpr.text}: ${value.why}` };
    if (value.value.t === 'str' && value.value.v !== '') return { kind: 'flow', flowName, line: fn.line, description: value.value.v };
    if (value.value.t === 'str' || value.value.t === 'none') return { kind: 'flow', flowName, line: fn.line };
    return { kind: 'flow', flowName, line: fn.line, descriptionProblem: `description=${descriptionExpr.text} is not a string` };
  });
}

/** `@flow`, `@flow(...)`, `@prefect.flow`, `@pf.flow(...)`, or a name imported as Prefect's `flow`. */
function isFlowDecorator(expr: PyExpr, module: ModuleInfo): boolean {
  const callee = expr.kind === 'call' ? expr.func : expr;
  if (callee.kind === 'attribute') return callee.attr === 'flow';
  if (callee.kind !== 'name') return false;
  return callee.id === 'flow' || module.flowAliases.has(callee.id);
}

function docstringFromSource(source: string, functionName: string): string | undefined {
  const module = moduleOf(source);
  if ('error' in module) return undefined;
  const fn = module.functions.get(functionName);
  if (!fn || 'error' in fn || fn.docstring === undefined) return undefined;
  return cleandoc(fn.docstring);
}

// ---------------------------------------------------------------------------------------------
// Loading the parser. web-tree-sitter initialises asynchronously, once per process; top-level
// await keeps parameterSchemaFromSource synchronous for the pure validation and planning code.
// The wasm files are looked up beside this module first (where a bundle can ship them), then in
// node_modules.

const python = await loadPythonParser();

async function loadPythonParser(): Promise<{ parser: Parser } | { error: string }> {
  try {
    const require = createRequire(import.meta.url);
    const locate = (file: string, pkg: string): string => {
      const beside = fileURLToPath(new URL(file, import.meta.url));
      return existsSync(beside) ? beside : require.resolve(`${pkg}/${file}`);
    };
    const runtime = locate('web-tree-sitter.wasm', 'web-tree-sitter');
    await Parser.init({ locateFile: () => runtime });
    const language = await Language.load(readFileSync(locate('tree-sitter-python.wasm', 'tree-sitter-python')));
    const parser = new Parser();
    parser.setLanguage(language);
    return { parser };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

function parseExpression(text: string): PyExpr | undefined {
  if ('error' in python) return undefined;
  const tree = python.parser.parse(`(${text}\n)`);
  if (!tree) return undefined;
  try {
    const statement = tree.rootNode.namedChildren.filter(notComment);
    if (tree.rootNode.hasError || statement.length !== 1 || statement[0]!.type !== 'expression_statement') return undefined;
    const expression = statement[0]!.namedChildren.filter(notComment);
    return expression.length === 1 ? toExpr(expression[0]!) : undefined;
  } finally {
    tree.delete();
  }
}

// ---------------------------------------------------------------------------------------------
// A small Python expression tree, converted from tree-sitter nodes at once so the rest of the
// module works on plain data.

type PyExpr = { readonly text: string } & (
  | { readonly kind: 'name'; readonly id: string }
  | { readonly kind: 'attribute'; readonly value: PyExpr; readonly attr: string }
  | { readonly kind: 'subscript'; readonly value: PyExpr; readonly args: readonly PyExpr[] }
  | { readonly kind: 'str'; readonly value: string; readonly fstring: boolean }
  | { readonly kind: 'bytes'; readonly value: string }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'none' }
  | { readonly kind: 'ellipsis' }
  | { readonly kind: 'list' | 'tuple' | 'set'; readonly items: readonly PyExpr[] }
  | { readonly kind: 'dict'; readonly entries: readonly (readonly [PyExpr, PyExpr])[] }
  | { readonly kind: 'unary'; readonly op: string; readonly operand: PyExpr }
  | { readonly kind: 'binary'; readonly op: string; readonly left: PyExpr; readonly right: PyExpr }
  | {
      readonly kind: 'call';
      readonly func: PyExpr;
      readonly args: readonly PyExpr[];
      readonly keywords: readonly { readonly name: string; readonly value: PyExpr }[];
    }
  | { readonly kind: 'lambda' }
  /** An f-string with replacement fields: literal text and plain fields (no conversion, no format spec). */
  | { readonly kind: 'fstring'; readonly parts: readonly (string | PyExpr)[] }
  | { readonly kind: 'other'; readonly why?: string }
);

const notComment = (node: Node): boolean => node.type !== 'comment';

function toExpr(node: Node): PyExpr {
  const text = node.text;
  const other = (why?: string): PyExpr => (why === undefined ? { kind: 'other', text } : { kind: 'other', text, why });
  const children = () => node.namedChildren.filter(notComment);
  switch (node.type) {
    case 'type':
    case 'parenthesized_expression': {
      const inner = children();
      return inner.length === 1 ? toExpr(inner[0]!) : other();
    }
    case 'identifier':
      return { kind: 'name', id: text, text };
    case 'attribute': {
      const value = node.childForFieldName('object');
      const attr = node.childForFieldName('attribute');
      return value && attr ? { kind: 'attribute', value: toExpr(value), attr: attr.text, text } : other();
    }
    case 'member_type': {
      const [value, attr] = children();
      return value && attr ? { kind: 'attribute', value: toExpr(value), attr: attr.text, text } : other();
    }
    case 'subscript': {
      const value = node.childForFieldName('value');
      return value ? { kind: 'subscript', value: toExpr(value), args: subscriptArgs(node.childrenForFieldName('subscript')), text } : other();
    }
    case 'generic_type': {
      const [name, parameters] = children();
      if (!name || parameters?.type !== 'type_parameter') return other();
      return { kind: 'subscript', value: { kind: 'name', id: name.text, text: name.text }, args: subscriptArgs(parameters.namedChildren.filter(notComment)), text };
    }
    case 'union_type': {
      const [left, right] = children();
      return left && right ? { kind: 'binary', op: '|', left: toExpr(left), right: toExpr(right), text } : other();
    }
    case 'string':
    case 'concatenated_string':
      return stringExpr(node);
    case 'integer': {
      const literal = text.replace(/_/g, '').toLowerCase();
      if (literal.endsWith('j')) return other('complex numbers have no JSON form');
      // Python rejects leading zeros in decimal literals (010), which BigInt would read as 10.
      if (/^0\d/.test(literal) && !/^0+$/.test(literal)) return other();
      try {
        return { kind: 'int', value: BigInt(literal), text };
      } catch {
        return other();
      }
    }
    case 'float': {
      const literal = text.replace(/_/g, '');
      if (/[jJ]$/.test(literal)) return other('complex numbers have no JSON form');
      const value = Number(literal);
      return Number.isFinite(value) ? { kind: 'float', value, text } : other();
    }
    case 'true':
      return { kind: 'bool', value: true, text };
    case 'false':
      return { kind: 'bool', value: false, text };
    case 'none':
      return { kind: 'none', text };
    case 'ellipsis':
      return { kind: 'ellipsis', text };
    case 'list':
    case 'tuple':
    case 'set': {
      const items = children();
      if (items.some((item) => item.type === 'list_splat' || item.type === 'parenthesized_list_splat')) return other();
      return { kind: node.type, items: items.map(toExpr), text };
    }
    case 'dictionary': {
      const entries: (readonly [PyExpr, PyExpr])[] = [];
      for (const pair of children()) {
        const key = pair.childForFieldName('key');
        const value = pair.childForFieldName('value');
        if (pair.type !== 'pair' || !key || !value) return other();
        entries.push([toExpr(key), toExpr(value)]);
      }
      return { kind: 'dict', entries, text };
    }
    case 'unary_operator': {
      const operand = node.childForFieldName('argument');
      const op = node.childForFieldName('operator')?.text ?? node.child(0)?.text;
      return operand && op ? { kind: 'unary', op, operand: toExpr(operand), text } : other();
    }
    case 'binary_operator': {
      const left = node.childForFieldName('left');
      const right = node.childForFieldName('right');
      const op = node.childForFieldName('operator')?.text;
      return left && right && op ? { kind: 'binary', op, left: toExpr(left), right: toExpr(right), text } : other();
    }
    case 'call': {
      const func = node.childForFieldName('function');
      const argumentList = node.childForFieldName('arguments');
      if (!func || argumentList?.type !== 'argument_list') return other();
      const args: PyExpr[] = [];
      const keywords: { name: string; value: PyExpr }[] = [];
      for (const argument of argumentList.namedChildren.filter(notComment)) {
        if (argument.type === 'keyword_argument') {
          const name = argument.childForFieldName('name');
          const value = argument.childForFieldName('value');
          if (!name || !value) return other();
          keywords.push({ name: name.text, value: toExpr(value) });
        } else if (argument.type === 'list_splat' || argument.type === 'dictionary_splat') {
          return other();
        } else {
          args.push(toExpr(argument));
        }
      }
      return { kind: 'call', func: toExpr(func), args, keywords, text };
    }
    case 'lambda':
      return { kind: 'lambda', text };
    default:
      return other();
  }
}

/** `X[a, b]` and `X[(a, b)]` are the same subscript in Python; `X[()]` has no arguments. */
function subscriptArgs(nodes: readonly Node[]): PyExpr[] {
  const args = nodes.filter(notComment).map(toExpr);
  if (args.length === 1 && args[0]!.kind === 'tuple') return [...args[0]!.items];
  return args;
}

function stringExpr(node: Node): PyExpr {
  const text = node.text;
  const parts = node.type === 'concatenated_string' ? node.namedChildren.filter(notComment) : [node];
  let value = '';
  let bytes: boolean | undefined;
  let fstring = false;
  // Literal text and replacement fields in order, once an f-string has fields.
  let pieces: (string | PyExpr)[] | undefined;
  const fieldsWhy = 'an f-string with replacement fields is computed at run time';
  for (const part of parts) {
    if (part.namedChildren.some((child) => child.type === 'interpolation')) {
      const start = /^([A-Za-z]*)('''|"""|'|")$/.exec(part.children.find((c) => c.type === 'string_start')?.text ?? '');
      if (!start || bytes === true) return { kind: 'other', text, why: fieldsWhy };
      pieces ??= value === '' ? [] : [value];
      for (const child of part.namedChildren) {
        if (child.type === 'string_start' || child.type === 'string_end') continue;
        if (child.type === 'string_content') {
          const decoded = decodeStringLiteral(`${start[1]}${start[2]}${child.text}${start[2]}`);
          if ('why' in decoded) return { kind: 'other', text, why: decoded.why };
          pieces.push(decoded.value);
          continue;
        }
        const inner = child.type === 'interpolation' ? child.namedChildren.filter(notComment) : [];
        // `{x!r}`, `{x:>3}`, `{x=}`: formatted by Python's rules at run time.
        if (inner.length !== 1 || child.children.some((c) => c.type === '=')) return { kind: 'other', text, why: fieldsWhy };
        pieces.push(toExpr(inner[0]!));
      }
      bytes = false;
      fstring = true;
      continue;
    }
    const decoded = decodeStringLiteral(part.text);
    if ('why' in decoded) return { kind: 'other', text, why: decoded.why };
    if (bytes !== undefined && bytes !== decoded.bytes) return { kind: 'other', text };
    bytes = decoded.bytes;
    fstring ||= decoded.fstring;
    if (pieces) pieces.push(decoded.value);
    else value += decoded.value;
  }
  if (pieces) return { kind: 'fstring', parts: pieces, text };
  return bytes ? { kind: 'bytes', value, text } : { kind: 'str', value, fstring, text };
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\n': '', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
};

/** The value of one Python string or bytes literal (bytes as one char per byte). */
function decodeStringLiteral(text: string): { value: string; bytes: boolean; fstring: boolean } | { why: string } {
  const match = /^([A-Za-z]*)('''|"""|'|")/.exec(text);
  if (!match) return { why: 'not a string literal' };
  const prefix = match[1]!.toLowerCase();
  const quote = match[2]!;
  if (/[^rbuf]/.test(prefix)) return { why: `string prefix "${match[1]}" is not supported` };
  const body = text.slice(match[0].length, text.length - quote.length);
  const bytes = prefix.includes('b');
  const fstring = prefix.includes('f');
  let value = '';
  if (prefix.includes('r')) {
    value = body;
  } else {
    for (let i = 0; i < body.length; i++) {
      const c = body[i]!;
      if (c !== '\\' || i + 1 >= body.length) {
        value += c;
        continue;
      }
      const next = body[++i]!;
      const simple = SIMPLE_ESCAPES[next];
      if (simple !== undefined) {
        value += simple;
      } else if (/[0-7]/.test(next)) {
        const digits = /^[0-7]{1,3}/.exec(body.slice(i))![0];
        value += String.fromCodePoint(parseInt(digits, 8));
        i += digits.length - 1;
      } else if (next === 'x' || (!bytes && (next === 'u' || next === 'U'))) {
        const length = next === 'x' ? 2 : next === 'u' ? 4 : 8;
        const hex = body.slice(i + 1, i + 1 + length);
        if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(hex)) return { why: 'invalid escape sequence' };
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) return { why: 'invalid escape sequence' };
        value += String.fromCodePoint(code);
        i += length;
      } else if (next === 'N' && !bytes) {
        return { why: 'a \\N{...} escape needs the Unicode name database' };
      } else {
        value += `\\${next}`;
      }
    }
  }
  if (fstring) value = value.replace(/\{\{/g, '{').replace(/\}\}/g, '}');
  if (bytes && /[^\x00-\x7f]/.test(body)) return { why: 'bytes literals allow only ASCII characters' };
  return { value, bytes, fstring };
}

// ---------------------------------------------------------------------------------------------
// The module: what each top-level name is bound to, and the top-level functions.

interface ParamInfo {
  readonly name: string;
  readonly annotation?: PyExpr;
  readonly default?: PyExpr;
  readonly line: number;
  readonly column: number;
}

interface FunctionInfo {
  readonly name: string;
  readonly params: readonly ParamInfo[];
  readonly docstring?: string;
  /** The line of `def`. */
  readonly line: number;
  /** Each decorator's expression (`flow`, `flow(name="x")`, `prefect.flow`) and line. */
  readonly decorators: readonly { readonly expr: PyExpr; readonly line: number }[];
}

type ClassStatement =
  | { readonly kind: 'assign'; readonly target: string; readonly annotation?: PyExpr; readonly value?: PyExpr }
  | { readonly kind: 'method'; readonly name: string; readonly decorators: readonly string[] }
  /** A nested `class Config:` (pydantic v1 style): its `name = value` lines. */
  | { readonly kind: 'config'; readonly entries: readonly { readonly name: string; readonly value: PyExpr }[] }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'other'; readonly text: string };

interface ClassInfo {
  readonly name: string;
  readonly bases: readonly PyExpr[];
  readonly hasKeywords: boolean;
  readonly docstring?: string;
  readonly body: readonly ClassStatement[];
  /** Decorator texts without `@` (`dataclass`, `dataclasses.dataclass(frozen=True)`). */
  readonly decorators?: readonly string[];
}

type Binding =
  | { readonly kind: 'import'; readonly module: string }
  | { readonly kind: 'from'; readonly module: string; readonly name: string }
  | { readonly kind: 'class'; readonly cls: ClassInfo }
  | { readonly kind: 'function' }
  | { readonly kind: 'assign'; readonly value: PyExpr }
  | { readonly kind: 'unknown'; readonly why: string }
  /** Bound only under `if TYPE_CHECKING:`, so a NameError at run time. */
  | { readonly kind: 'type-checking' };

interface ModuleInfo {
  /** Names Prefect's `flow` is imported as anywhere at module level, also conditionally (`try: from prefect import flow as pflow`). */
  readonly flowAliases: ReadonlySet<string>;
  readonly futureAnnotations: boolean;
  readonly starImport: boolean;
  readonly bindings: ReadonlyMap<string, Binding>;
  readonly functions: ReadonlyMap<string, FunctionInfo | { error: string }>;
}

type BindMode = 'runtime' | 'conditional' | 'type-checking';

function readModule(root: Node): ModuleInfo {
  let futureAnnotations = false;
  let starImport = false;
  const bindings = new Map<string, Binding>();
  const functions = new Map<string, FunctionInfo | { error: string }>();
  const flowAliases = new Set<string>();

  const bind = (name: string, binding: Binding, mode: BindMode): void => {
    const existing = bindings.get(name);
    if (mode === 'type-checking') {
      if (!existing) bindings.set(name, { kind: 'type-checking' });
      return;
    }
    if (mode === 'conditional') {
      bindings.set(name, { kind: 'unknown', why: `"${name}" is bound conditionally` });
    } else if (!existing || existing.kind === 'type-checking') {
      bindings.set(name, binding);
    } else if (!sameImport(existing, binding)) {
      bindings.set(name, { kind: 'unknown', why: `"${name}" is bound more than once` });
    }
  };

  const visit = (statements: readonly Node[], mode: BindMode): void => {
    for (const statement of statements) {
      switch (statement.type) {
        case 'future_import_statement':
          if (statement.namedChildren.some((name) => name.text === 'annotations')) futureAnnotations = true;
          break;
        case 'import_statement':
          for (const name of statement.childrenForFieldName('name')) {
            if (name.type === 'aliased_import') {
              const alias = name.childForFieldName('alias');
              const target = name.childForFieldName('name');
              if (alias && target) bind(alias.text, { kind: 'import', module: target.text }, mode);
            } else {
              const top = name.text.split('.')[0]!;
              bind(top, { kind: 'import', module: top }, mode);
            }
          }
          break;
        case 'import_from_statement': {
          const moduleNode = statement.childForFieldName('module_name');
          const module = moduleNode?.text ?? '';
          if (statement.namedChildren.some((child) => child.type === 'wildcard_import')) {
            if (mode !== 'type-checking') starImport = true;
            break;
          }
          for (const name of statement.childrenForFieldName('name')) {
            const target = name.type === 'aliased_import' ? name.childForFieldName('name') : name;
            const alias = name.type === 'aliased_import' ? name.childForFieldName('alias') : name;
            if (target && alias) bind(alias.text, { kind: 'from', module, name: target.text }, mode);
            if (target?.text === 'flow' && alias && /^prefect(?:\.|$)/.test(module) && mode !== 'type-checking') flowAliases.add(alias.text);
          }
          break;
        }
        case 'class_definition':
        case 'function_definition':
        case 'decorated_definition': {
          const definition = statement.type === 'decorated_definition' ? statement.childForFieldName('definition') : statement;
          const name = definition?.childForFieldName('name')?.text;
          if (!definition || !name) break;
          if (definition.type === 'class_definition') {
            const decorators = statement.type === 'decorated_definition' ? statement.namedChildren.filter((child) => child.type === 'decorator').map((d) => d.text.replace(/^@\s*/, '')) : [];
            bind(name, { kind: 'class', cls: { ...readClass(definition), decorators } }, mode);
          } else {
            bind(name, { kind: 'function' }, mode);
            if (mode === 'runtime') functions.set(name, readFunction(statement, definition));
          }
          break;
        }
        case 'expression_statement':
          for (const child of statement.namedChildren) {
            if (child.type === 'assignment') bindAssignment(child, mode);
            else if (child.type === 'augmented_assignment') bindTargets(child.childForFieldName('left'), mode);
          }
          break;
        case 'if_statement': {
          const condition = statement.childForFieldName('condition')?.text ?? '';
          const typeChecking = /^(?:[A-Za-z_][A-Za-z0-9_]*\.)?TYPE_CHECKING$/.test(condition);
          const consequence = statement.childForFieldName('consequence');
          if (consequence) visit(consequence.namedChildren, typeChecking && mode !== 'conditional' ? 'type-checking' : 'conditional');
          for (const alternative of statement.childrenForFieldName('alternative')) visitBlocks(alternative, 'conditional');
          break;
        }
        default:
          // try/with/for/while/match and anything else with blocks: what they bind is conditional.
          visitBlocks(statement, mode === 'type-checking' ? mode : 'conditional');
      }
    }
  };

  const visitBlocks = (node: Node, mode: BindMode): void => {
    for (const child of node.namedChildren) {
      if (child.type === 'block') visit(child.namedChildren, mode);
      else if (/_clause$/.test(child.type)) visitBlocks(child, mode);
    }
  };

  const bindAssignment = (assignment: Node, mode: BindMode): void => {
    const left = assignment.childForFieldName('left');
    const right = assignment.childForFieldName('right');
    if (!right) return; // `x: int` alone binds nothing at run time
    if (right.type === 'assignment') bindAssignment(right, mode); // a = b = value
    const value = right.type === 'assignment' ? chainedValue(right) : right;
    if (left?.type === 'identifier' && value) bind(left.text, { kind: 'assign', value: toExpr(value) }, mode);
    else bindTargets(left, mode);
  };

  const bindTargets = (target: Node | null, mode: BindMode): void => {
    if (!target) return;
    for (const name of target.type === 'identifier' ? [target] : target.descendantsOfType('identifier')) {
      bind(name.text, { kind: 'unknown', why: `"${name.text}" is assigned a computed value` }, mode);
    }
  };

  visit(root.namedChildren, 'runtime');
  return { flowAliases, futureAnnotations, starImport, bindings, functions };
}

function chainedValue(assignment: Node): Node | null {
  const right = assignment.childForFieldName('right');
  return right?.type === 'assignment' ? chainedValue(right) : right;
}

function sameImport(a: Binding, b: Binding): boolean {
  if (a.kind === 'import' && b.kind === 'import') return a.module === b.module;
  if (a.kind === 'from' && b.kind === 'from') return a.module === b.module && a.name === b.name;
  return false;
}

function readFunction(statement: Node, definition: Node): FunctionInfo | { error: string } {
  if (statement.hasError) {
    return { error: `syntax error in the definition of "${definition.childForFieldName('name')?.text ?? ''}" (line ${statement.startPosition.row + 1})` };
  }
  const params: ParamInfo[] = [];
  for (const node of definition.childForFieldName('parameters')?.namedChildren.filter(notComment) ?? []) {
    const at = { line: node.startPosition.row + 1, column: node.startPosition.column + 1 };
    switch (node.type) {
      case 'keyword_separator':
      case 'positional_separator':
        break;
      case 'identifier':
        params.push({ name: node.text, ...at });
        break;
      case 'list_splat_pattern':
      case 'dictionary_splat_pattern':
        params.push({ name: node.namedChildren[0]?.text ?? '', ...at });
        break;
      case 'typed_parameter': {
        const target = node.namedChildren.find((child) => child.type !== 'type' && notComment(child));
        const name = target?.type === 'identifier' ? target.text : target?.namedChildren[0]?.text;
        const type = node.childForFieldName('type');
        if (!name || !type) return { error: `unsupported parameter "${node.text}"` };
        params.push({ name, annotation: toExpr(type), ...at });
        break;
      }
      case 'default_parameter':
      case 'typed_default_parameter': {
        const name = node.childForFieldName('name');
        const type = node.childForFieldName('type');
        const value = node.childForFieldName('value');
        if (name?.type !== 'identifier' || !value) return { error: `unsupported parameter "${node.text}"` };
        params.push({ name: name.text, ...(type ? { annotation: toExpr(type) } : {}), default: toExpr(value), ...at });
        break;
      }
      default:
        return { error: `unsupported parameter "${node.text}"` };
    }
  }
  const docstring = docstringOf(definition.childForFieldName('body'));
  const decorators = statement.type === 'decorated_definition' ? statement.namedChildren.filter((child) => child.type === 'decorator').flatMap((d) => {
    const expr = d.namedChildren.filter(notComment)[0];
    return expr ? [{ expr: toExpr(expr), line: d.startPosition.row + 1 }] : [];
  }) : [];
  return { name: definition.childForFieldName('name')!.text, params, line: definition.startPosition.row + 1, decorators, ...(docstring === undefined ? {} : { docstring }) };
}

/** The `__doc__` of a def or class: its body's first statement when that is a plain string. */
function docstringOf(body: Node | null): string | undefined {
  const first = body?.namedChildren.find(notComment);
  if (first?.type !== 'expression_statement' || first.namedChildCount !== 1) return undefined;
  const expr = toExpr(first.namedChildren[0]!);
  return expr.kind === 'str' && !expr.fstring ? expr.value : undefined;
}

function readClass(definition: Node): ClassInfo {
  const bases: PyExpr[] = [];
  let hasKeywords = false;
  for (const base of definition.childForFieldName('superclasses')?.namedChildren.filter(notComment) ?? []) {
    if (base.type === 'keyword_argument' || base.type === 'dictionary_splat' || base.type === 'list_splat') hasKeywords = true;
    else bases.push(toExpr(base));
  }
  const bodyNode = definition.childForFieldName('body');
  const docstring = docstringOf(bodyNode);
  const body: ClassStatement[] = [];
  const statements = bodyNode?.namedChildren.filter(notComment) ?? [];
  statements.forEach((statement, index) => {
    if (index === 0 && docstring !== undefined) return body.push({ kind: 'ignored' });
    if (statement.type === 'pass_statement') return body.push({ kind: 'ignored' });
    // pydantic's v1-style `class Config:` inside a model: its plain assignments.
    if (statement.type === 'class_definition' && statement.childForFieldName('name')?.text === 'Config' && !statement.childForFieldName('superclasses')) {
      const entries: { name: string; value: PyExpr }[] = [];
      for (const inner of statement.childForFieldName('body')?.namedChildren.filter(notComment) ?? []) {
        const assignment = inner.type === 'expression_statement' && inner.namedChildCount === 1 ? inner.namedChildren[0]! : undefined;
        const left = assignment?.type === 'assignment' ? assignment.childForFieldName('left') : null;
        const right = assignment?.type === 'assignment' ? assignment.childForFieldName('right') : null;
        if (inner.type === 'pass_statement' || (inner.type === 'expression_statement' && inner.namedChildren[0]?.type === 'string')) continue;
        if (left?.type !== 'identifier' || !right || right.type === 'assignment') return body.push({ kind: 'other', text: statement.text });
        entries.push({ name: left.text, value: toExpr(right) });
      }
      return body.push({ kind: 'config', entries });
    }
    if (statement.type === 'function_definition' || statement.type === 'decorated_definition') {
      const decorators = statement.type === 'decorated_definition' ? statement.namedChildren.filter((child) => child.type === 'decorator').map((d) => d.text.replace(/^@\s*/, '')) : [];
      const fn = statement.type === 'decorated_definition' ? statement.childForFieldName('definition') : statement;
      if (fn?.type !== 'function_definition') return body.push({ kind: 'other', text: statement.text });
      return body.push({ kind: 'method', name: fn.childForFieldName('name')?.text ?? '', decorators });
    }
    if (statement.type === 'expression_statement' && statement.namedChildCount === 1) {
      const child = statement.namedChildren[0]!;
      const left = child.childForFieldName('left');
      const right = child.childForFieldName('right');
      const type = child.childForFieldName('type');
      if (child.type === 'assignment' && left?.type === 'identifier' && right?.type !== 'assignment') {
        return body.push({
          kind: 'assign',
          target: left.text,
          ...(type ? { annotation: toExpr(type) } : {}),
          ...(right ? { value: toExpr(right) } : {}),
        });
      }
      if (child.type === 'string' || child.type === 'concatenated_string') return body.push({ kind: 'ignored' });
    }
    return body.push({ kind: 'other', text: statement.text });
  });
  return { name: definition.childForFieldName('name')!.text, bases, hasKeywords, ...(docstring === undefined ? {} : { docstring }), body };
}

// ---------------------------------------------------------------------------------------------
// Name resolution.

/** What a name or dotted name refers to at run time. */
type Sym =
  | { readonly kind: 'member'; readonly module: string; readonly name: string }
  | { readonly kind: 'module'; readonly module: string }
  | { readonly kind: 'class'; readonly cls: ClassInfo }
  | { readonly kind: 'function' }
  | { readonly kind: 'alias'; readonly name: string; readonly value: PyExpr }
  | { readonly kind: 'unknown'; readonly why: string }
  | { readonly kind: 'undefined'; readonly name: string };

/**
 * Where names are looked up: the flow's module (what `eval_str` and pydantic models see), or the
 * namespace pydantic falls back to for a string annotation Prefect could not evaluate, which is
 * Prefect's own `prefect._internal.pydantic.v2_schema` module: builtins, `typing` and `t`.
 */
type Namespace = 'module' | 'pydantic';

const BUILTIN_NAMES = new Set(
  ('abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex ' +
    'delattr dict dir divmod enumerate eval exec filter float format frozenset getattr globals hasattr hash help ' +
    'hex id input int isinstance issubclass iter len list locals map max memoryview min next object oct open ord ' +
    'pow print property range repr reversed round set setattr slice sorted staticmethod str sum super tuple type ' +
    'vars zip __import__ __name__ __file__ __doc__ Ellipsis NotImplemented BaseException Exception ValueError ' +
    'TypeError KeyError IndexError RuntimeError').split(' '),
);

/** Names in Prefect's v2_schema module other than `typing`/`t`: resolvable there, but not modelled here. */
const PYDANTIC_NAMESPACE_OTHERS = new Set([
  'inspect', 'pydantic', 'V2BaseModel', 'ConfigDict', 'PydanticUndefinedAnnotation', 'create_model',
  'PydanticUserError', 'FieldInfo', 'TypeAdapter', 'GenerateEmptySchemaForUserClasses', 'is_v2_model',
  'is_v2_type', 'has_v2_type_as_param', 'process_v2_params', 'create_v2_schema',
]);

const KNOWN_MODULES = new Set([
  'builtins', 'typing', 'typing_extensions', 'collections', 'collections.abc', 'datetime', 'enum', 'pydantic',
  'uuid', 'pathlib', 'decimal',
]);

/** `collections.abc` names that behave like their `typing` aliases for pydantic. */
const ABC_AS_TYPING: Readonly<Record<string, string>> = {
  Sequence: 'Sequence', MutableSequence: 'MutableSequence', Mapping: 'Mapping', MutableMapping: 'MutableMapping',
  Iterable: 'Iterable', Set: 'AbstractSet', MutableSet: 'MutableSet', Callable: 'Callable',
};

function member(module: string, name: string): Sym {
  if (module === 'typing_extensions') return { kind: 'member', module: 'typing', name };
  if (module === 'collections.abc') {
    const typing = ABC_AS_TYPING[name];
    return typing ? { kind: 'member', module: 'typing', name: typing } : { kind: 'member', module, name };
  }
  return { kind: 'member', module, name };
}

function resolveName(id: string, namespace: Namespace, module: ModuleInfo): Sym {
  if (namespace === 'pydantic') {
    if (id === 'typing' || id === 't') return { kind: 'module', module: 'typing' };
    if (PYDANTIC_NAMESPACE_OTHERS.has(id)) return { kind: 'unknown', why: `"${id}" resolves inside Prefect` };
    return BUILTIN_NAMES.has(id) ? member('builtins', id) : { kind: 'undefined', name: id };
  }
  const binding = module.bindings.get(id);
  if (!binding) {
    if (BUILTIN_NAMES.has(id)) return member('builtins', id);
    return module.starImport ? { kind: 'unknown', why: `"${id}" may come from a star import` } : { kind: 'undefined', name: id };
  }
  switch (binding.kind) {
    case 'import':
      return { kind: 'module', module: binding.module };
    case 'from':
      return KNOWN_MODULES.has(`${binding.module}.${binding.name}`)
        ? { kind: 'module', module: `${binding.module}.${binding.name}` }
        : member(binding.module, binding.name);
    case 'class':
      return { kind: 'class', cls: binding.cls };
    case 'function':
      return { kind: 'function' };
    case 'assign':
      return { kind: 'alias', name: id, value: binding.value };
    case 'unknown':
      return { kind: 'unknown', why: binding.why };
    case 'type-checking':
      return { kind: 'undefined', name: id };
  }
}

function resolve(expr: PyExpr, namespace: Namespace, module: ModuleInfo): Sym {
  if (expr.kind === 'name') return resolveName(expr.id, namespace, module);
  if (expr.kind === 'none') return member('builtins', 'None');
  if (expr.kind !== 'attribute') return { kind: 'unknown', why: `"${expr.text}" is an expression` };
  const base = resolve(expr.value, namespace, module);
  if (base.kind === 'module') {
    const path = `${base.module}.${expr.attr}`;
    return KNOWN_MODULES.has(path) ? { kind: 'module', module: path } : member(base.module, expr.attr);
  }
  if (base.kind === 'unknown' || base.kind === 'undefined') return base;
  return { kind: 'unknown', why: `"${expr.text}" is an attribute of an object` };
}

function describeSym(sym: Sym, text: string): string {
  switch (sym.kind) {
    case 'member':
      return KNOWN_MODULES.has(sym.module) ? `"${text}" is not supported` : `"${text}" is imported from ${sym.module}`;
    case 'unknown':
      return sym.why;
    case 'undefined':
      return `"${sym.name}" is not defined at run time`;
    default:
      return `"${text}" is not a type`;
  }
}

/** Names an annotation evaluates (not those inside nested strings, which stay forward references). */
function hasUndefinedName(expr: PyExpr, module: ModuleInfo): boolean {
  switch (expr.kind) {
    case 'name':
      return resolveName(expr.id, 'module', module).kind === 'undefined';
    case 'attribute':
      return hasUndefinedName(expr.value, module);
    case 'subscript':
      return hasUndefinedName(expr.value, module) || expr.args.some((arg) => hasUndefinedName(arg, module));
    case 'binary':
      return hasUndefinedName(expr.left, module) || hasUndefinedName(expr.right, module);
    case 'unary':
      return hasUndefinedName(expr.operand, module);
    case 'list':
    case 'tuple':
    case 'set':
      return expr.items.some((item) => hasUndefinedName(item, module));
    case 'call':
      return hasUndefinedName(expr.func, module) || expr.args.some((arg) => hasUndefinedName(arg, module)) || expr.keywords.some((k) => hasUndefinedName(k.value, module));
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Python values (defaults, enum values, Literal arguments) and their JSON form.

type PyValue =
  | { readonly t: 'none' }
  | { readonly t: 'bool'; readonly v: boolean }
  | { readonly t: 'int'; readonly v: bigint }
  | { readonly t: 'float'; readonly v: number }
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'bytes'; readonly v: string }
  | { readonly t: 'list' | 'tuple' | 'set'; readonly items: readonly PyValue[] }
  | { readonly t: 'dict'; readonly entries: readonly (readonly [PyValue, PyValue])[] }
  | { readonly t: 'enum'; readonly value: PyValue }
  /** datetime, date, time, timedelta, Path, UUID, Decimal: pydantic writes them as strings. */
  | { readonly t: 'string-like'; readonly v: string }
  /** A function or class: pydantic cannot serialise it, so the schema has no default. */
  | { readonly t: 'opaque' };

type Evaluated = { readonly ok: true; readonly value: PyValue } | { readonly ok: false; readonly why: string };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const fail = (why: string): Evaluated => ({ ok: false, why });
const ok = (value: PyValue): Evaluated => ({ ok: true, value });

function evaluate(expr: PyExpr, module: ModuleInfo, seen: ReadonlySet<string> = new Set()): Evaluated {
  const cannot = (why?: string) => fail(why ?? `"${expr.text}" is computed at import time`);
  switch (expr.kind) {
    case 'none':
      return ok({ t: 'none' });
    case 'bool':
      return ok({ t: 'bool', v: expr.value });
    case 'int':
      return ok({ t: 'int', v: expr.value });
    case 'float':
      return ok({ t: 'float', v: expr.value });
    case 'str':
      return ok({ t: 'str', v: expr.value });
    case 'bytes':
      return ok({ t: 'bytes', v: expr.value });
    case 'list':
    case 'tuple':
    case 'set': {
      const items: PyValue[] = [];
      for (const item of expr.items) {
        const value = evaluate(item, module, seen);
        if (!value.ok) return value;
        items.push(value.value);
      }
      return ok({ t: expr.kind, items });
    }
    case 'dict': {
      const entries: [PyValue, PyValue][] = [];
      for (const [k, v] of expr.entries) {
        const key = evaluate(k, module, seen);
        if (!key.ok) return key;
        const value = evaluate(v, module, seen);
        if (!value.ok) return value;
        entries.push([key.value, value.value]);
      }
      return ok({ t: 'dict', entries });
    }
    case 'unary': {
      const operand = evaluate(expr.operand, module, seen);
      if (!operand.ok) return operand;
      const v = operand.value;
      if (expr.op === '-' && v.t === 'int') return ok({ t: 'int', v: -v.v });
      if (expr.op === '-' && v.t === 'float') return ok({ t: 'float', v: -v.v });
      if (expr.op === '+' && (v.t === 'int' || v.t === 'float')) return operand;
      return cannot();
    }
    case 'binary':
      return evaluateBinary(expr.op, evaluate(expr.left, module, seen), evaluate(expr.right, module, seen)) ?? cannot();
    case 'name':
    case 'attribute':
      return evaluateReference(expr, module, seen);
    case 'call':
      return evaluateCall(expr, module, seen);
    case 'lambda':
      return ok({ t: 'opaque' });
    case 'fstring': {
      // str() of each field, as an f-string without a format spec does (for the values str() spells alike here).
      let text = '';
      for (const part of expr.parts) {
        if (typeof part === 'string') {
          text += part;
          continue;
        }
        const value = evaluate(part, module, seen);
        if (!value.ok) return value;
        const v = value.value;
        if (v.t === 'str') text += v.v;
        else if (v.t === 'int') text += v.v.toString();
        else if (v.t === 'bool') text += v.v ? 'True' : 'False';
        else if (v.t === 'none') text += 'None';
        else return cannot(`"${part.text}" in ${expr.text} is formatted at run time`);
      }
      return ok({ t: 'str', v: text });
    }
    case 'other':
      return cannot(expr.why);
    default:
      return cannot();
  }
}

function evaluateBinary(op: string, left: Evaluated, right: Evaluated): Evaluated | undefined {
  if (!left.ok) return left;
  if (!right.ok) return right;
  const a = left.value;
  const b = right.value;
  if (a.t === 'str' && b.t === 'str' && op === '+') return ok({ t: 'str', v: a.v + b.v });
  const numeric = (v: PyValue) => v.t === 'int' || v.t === 'float';
  if (!numeric(a) || !numeric(b)) return undefined;
  if (a.t === 'int' && b.t === 'int') {
    if (op === '+') return ok({ t: 'int', v: a.v + b.v });
    if (op === '-') return ok({ t: 'int', v: a.v - b.v });
    if (op === '*') return ok({ t: 'int', v: a.v * b.v });
    if (op === '**' && b.v >= 0n && b.v < 1000n) return ok({ t: 'int', v: a.v ** b.v });
  }
  const x = Number((a as { v: number | bigint }).v);
  const y = Number((b as { v: number | bigint }).v);
  const result = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : op === '/' && y !== 0 ? x / y : undefined;
  return result === undefined || !Number.isFinite(result) ? undefined : ok({ t: 'float', v: result });
}

function evaluateReference(expr: PyExpr, module: ModuleInfo, seen: ReadonlySet<string>): Evaluated {
  // An enum member: Color.RED.
  if (expr.kind === 'attribute') {
    const owner = resolve(expr.value, 'module', module);
    if (owner.kind === 'class') {
      const enumInfo = readEnum(owner.cls, module);
      if ('why' in enumInfo) return fail(enumInfo.why);
      const found = enumInfo.members.find((m) => m.name === expr.attr);
      return found ? ok({ t: 'enum', value: found.value }) : fail(`"${expr.text}" is not a member of ${owner.cls.name}`);
    }
  }
  const sym = resolve(expr, 'module', module);
  switch (sym.kind) {
    case 'alias': {
      if (seen.has(sym.name)) return fail(`"${sym.name}" refers to itself`);
      return evaluate(sym.value, module, new Set([...seen, sym.name]));
    }
    case 'function':
    case 'class':
      return ok({ t: 'opaque' });
    case 'member':
      if (sym.module === 'builtins') {
        if (sym.name === 'None') return ok({ t: 'none' });
        // Builtin functions and types are objects pydantic cannot serialise.
        return ok({ t: 'opaque' });
      }
      return fail(describeSym(sym, expr.text));
    default:
      return fail(describeSym(sym, expr.text));
  }
}

const EMPTY_CONSTRUCTORS: Readonly<Record<string, 'list' | 'tuple' | 'set' | 'dict'>> = {
  list: 'list', tuple: 'tuple', set: 'set', frozenset: 'set', dict: 'dict',
};

function evaluateCall(expr: Extract<PyExpr, { kind: 'call' }>, module: ModuleInfo, seen: ReadonlySet<string>): Evaluated {
  const cannot = fail(`"${expr.text}" is computed at import time`);
  const callee = resolve(expr.func, 'module', module);
  if (callee.kind === 'class' && expr.args.length === 0 && classKind(callee.cls, module).kind === 'model') return modelInstance(callee.cls, expr.keywords, module, seen);
  if (callee.kind !== 'member') return cannot;
  const numbers: number[] = [];
  const keywords: Record<string, number> = {};
  const strings: string[] = [];
  for (const arg of expr.args) {
    const value = evaluate(arg, module, seen);
    if (!value.ok) return value;
    if (value.value.t === 'int' || value.value.t === 'float') numbers.push(Number(value.value.v));
    else if (value.value.t === 'str') strings.push(value.value.v);
    else return cannot;
  }
  for (const keyword of expr.keywords) {
    const value = evaluate(keyword.value, module, seen);
    if (!value.ok) return value;
    if (value.value.t !== 'int' && value.value.t !== 'float') return cannot;
    keywords[keyword.name] = Number(value.value.v);
  }
  const noArguments = expr.args.length === 0 && expr.keywords.length === 0;
  if (callee.module === 'builtins' && noArguments) {
    const kind = EMPTY_CONSTRUCTORS[callee.name];
    if (kind === 'dict') return ok({ t: 'dict', entries: [] });
    if (kind) return ok({ t: kind, items: [] });
  }
  if (callee.module === 'datetime' && strings.length === 0) {
    const text = formatTemporal(callee.name, numbers, keywords);
    if (text !== undefined) return ok({ t: 'string-like', v: text });
  }
  const single = strings.length === 1 && expr.args.length === 1 && expr.keywords.length === 0 ? strings[0] : undefined;
  if (single !== undefined && callee.module === 'pathlib' && callee.name === 'Path') {
    return ok({ t: 'string-like', v: single === '' ? '.' : single.replace(/\/+$/, '').replace(/\/{2,}/g, '/') || '/' });
  }
  return cannot;
}

/**
 * A pydantic model built with keywords only (`Settings()`, `Inner(count=2)`), as pydantic writes it
 * for a JSON schema default: its fields in order (inherited first) by field name, each the keyword
 * given or its default (`Field(default)`, or a `default_factory` that is a model or an empty
 * container). Anything else (positional arguments, aliases, a required field not given, validators
 * or settings this cannot read) is said to be computed at import time.
 */
function modelInstance(cls: ClassInfo, keywords: readonly { readonly name: string; readonly value: PyExpr }[], module: ModuleInfo, seen: ReadonlySet<string>): Evaluated {
  const cannot = (why: string): Evaluated => fail(`${cls.name}(...): ${why}`);
  if (seen.has(`model:${cls.name}`)) return cannot('the model contains itself');
  const inner = new Set([...seen, `model:${cls.name}`]);
  const chain = modelChain(cls, module);
  if ('why' in chain) return cannot(chain.why);
  const given = new Map(keywords.map((k) => [k.name, k.value]));
  const fields = new Map<string, PyValue>();
  for (const model of chain) {
    for (const statement of model.body) {
      if (statement.kind === 'ignored' || statement.kind === 'config' || (statement.kind === 'method' && statement.decorators.length === 0)) continue;
      if (statement.kind !== 'assign') return cannot(`model ${model.name} has a body this cannot read`);
      if (statement.target.startsWith('_') || statement.target === 'model_config') continue;
      if (!statement.annotation) return cannot(`${model.name}.${statement.target} has no annotation`);
      const annotation = statement.annotation.kind === 'str' ? parseExpression(statement.annotation.value) : statement.annotation;
      const classVar = annotation ? resolve(annotation.kind === 'subscript' ? annotation.value : annotation, 'module', module) : undefined;
      if (classVar?.kind === 'member' && classVar.module === 'typing' && classVar.name === 'ClassVar') continue;
      const explicit = given.get(statement.target);
      let value: Evaluated;
      if (explicit) value = evaluate(explicit, module, inner);
      else if (!statement.value) return cannot(`the required field ${statement.target} is not given`);
      else if (isFieldCall(statement.value, module)) value = fieldDefault(statement.value, statement.target, module, inner);
      else value = evaluate(statement.value, module, inner);
      if (!value.ok) return value;
      fields.set(statement.target, value.value);
    }
  }
  for (const name of given.keys()) if (!fields.has(name)) return cannot(`${name} is not a field of ${cls.name}`);
  return ok({ t: 'dict', entries: [...fields].map(([name, value]) => [{ t: 'str', v: name }, value] as const) });
}

/** The default a `Field(...)` gives a model built without that field. */
function fieldDefault(call: Extract<PyExpr, { kind: 'call' }>, name: string, module: ModuleInfo, seen: ReadonlySet<string>): Evaluated {
  if (call.keywords.some((k) => k.name === 'alias' || k.name === 'validation_alias')) return fail(`the field ${name} has an alias`);
  const explicit = call.keywords.find((k) => k.name === 'default')?.value ?? call.args[0];
  if (explicit && explicit.kind !== 'ellipsis') return evaluate(explicit, module, seen);
  const factory = call.keywords.find((k) => k.name === 'default_factory')?.value;
  if (!factory) return fail(`the required field ${name} is not given`);
  // A model class or an empty container type, called with no arguments.
  return evaluateCall({ kind: 'call', func: factory, args: [], keywords: [], text: `${factory.text}()` }, module, seen);
}

const pad = (n: number, width = 2) => String(Math.trunc(n)).padStart(width, '0');

/** pydantic's JSON form of datetime/date/time/timedelta built from plain numbers, or undefined. */
function formatTemporal(name: string, args: readonly number[], keywords: Readonly<Record<string, number>>): string | undefined {
  const integers = [...args, ...Object.values(keywords)].every(Number.isInteger);
  const pick = (names: readonly string[], defaults: readonly (number | undefined)[]): number[] | undefined => {
    if (args.length > names.length) return undefined;
    if (Object.keys(keywords).some((k) => !names.includes(k))) return undefined;
    const values = names.map((n, i) => (i < args.length ? args[i] : keywords[n] ?? defaults[i]));
    return values.every((v) => v !== undefined) ? (values as number[]) : undefined;
  };
  const fraction = (micro: number) => (micro ? `.${pad(micro, 6)}` : '');
  if (name === 'date' || name === 'datetime') {
    if (!integers) return undefined;
    const v = pick(['year', 'month', 'day', 'hour', 'minute', 'second', 'microsecond'], [undefined, undefined, undefined, 0, 0, 0, 0]);
    if (!v || (name === 'date' && (args.length > 3 || v.slice(3).some((x) => x !== 0)))) return undefined;
    const [y, mo, d, h, mi, s, us] = v as [number, number, number, number, number, number, number];
    const check = new Date(Date.UTC(2000, mo - 1, d));
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59 || us > 999999 || Math.min(h, mi, s, us) < 0) return undefined;
    if (mo === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) return undefined;
    const day = `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;
    return name === 'date' ? day : `${day}T${pad(h)}:${pad(mi)}:${pad(s)}${fraction(us)}`;
  }
  if (name === 'time') {
    if (!integers) return undefined;
    const v = pick(['hour', 'minute', 'second', 'microsecond'], [0, 0, 0, 0]);
    if (!v) return undefined;
    const [h, mi, s, us] = v as [number, number, number, number];
    if (h > 23 || mi > 59 || s > 59 || us > 999999 || Math.min(h, mi, s, us) < 0) return undefined;
    return `${pad(h)}:${pad(mi)}:${pad(s)}${fraction(us)}`;
  }
  if (name === 'timedelta') {
    const v = pick(['days', 'seconds', 'microseconds', 'milliseconds', 'minutes', 'hours', 'weeks'], [0, 0, 0, 0, 0, 0, 0]);
    if (!v) return undefined;
    const [days, seconds, micro, milli, minutes, hours, weeks] = v as [number, number, number, number, number, number, number];
    const total = Math.round(((weeks * 7 + days) * 86400 + hours * 3600 + minutes * 60 + seconds) * 1e6 + milli * 1e3 + micro);
    return Number.isSafeInteger(total) ? formatDuration(total) : undefined;
  }
  return undefined;
}

/** pydantic-core's ISO 8601 duration: years of 365 days, then days, then the time part. */
function formatDuration(totalMicroseconds: number): string {
  const sign = totalMicroseconds < 0 ? '-' : '';
  let rest = Math.abs(totalMicroseconds);
  const micro = rest % 1_000_000;
  rest = (rest - micro) / 1_000_000;
  const totalDays = Math.floor(rest / 86400);
  let seconds = rest % 86400;
  const years = Math.floor(totalDays / 365);
  const days = totalDays % 365;
  const hours = Math.floor(seconds / 3600);
  seconds %= 3600;
  const minutes = Math.floor(seconds / 60);
  seconds %= 60;
  let text = `${sign}P${years ? `${years}Y` : ''}${days ? `${days}D` : ''}`;
  if (hours || minutes || seconds || micro) {
    text += `T${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}`;
    if (seconds || micro) text += `${seconds}${micro ? `.${pad(micro, 6).replace(/0+$/, '')}` : ''}S`;
  } else if (!years && !days) {
    text += 'T0S';
  }
  return text;
}

type JsonOutcome = { readonly kind: 'json'; readonly json: Json } | { readonly kind: 'omit' } | { readonly kind: 'unknown'; readonly why: string };

/** What pydantic's `to_jsonable_python` makes of a value (an opaque object: no default at all). */
function toJson(value: PyValue): JsonOutcome {
  const json = (j: Json): JsonOutcome => ({ kind: 'json', json: j });
  switch (value.t) {
    case 'none':
      return json(null);
    case 'bool':
      return json(value.v);
    case 'int':
      return value.v >= BigInt(Number.MIN_SAFE_INTEGER) && value.v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? json(Number(value.v))
        : { kind: 'unknown', why: `${value.v} is too large for a JSON number in JavaScript` };
    case 'float':
      return json(value.v);
    case 'str':
    case 'string-like':
      return json(value.v);
    case 'bytes':
      return json(value.v); // ASCII only (checked when parsed), which pydantic writes as is
    case 'enum':
      return toJson(value.value);
    case 'opaque':
      return { kind: 'omit' };
    case 'set':
      // Python's iteration order of a non-empty set is an implementation detail.
      if (value.items.length > 0) return { kind: 'unknown', why: 'the order of a set is decided at run time' };
      return json([]);
    case 'list':
    case 'tuple': {
      const items: Json[] = [];
      for (const item of value.items) {
        const converted = toJson(item);
        if (converted.kind !== 'json') return converted.kind === 'omit' ? { kind: 'unknown', why: 'a container holds an object without a JSON form' } : converted;
        items.push(converted.json);
      }
      return json(items);
    }
    case 'dict': {
      const object: JsonObject = {};
      for (const [k, v] of value.entries) {
        const key = k.t === 'str' ? k.v : k.t === 'int' ? String(k.v) : undefined;
        if (key === undefined) return { kind: 'unknown', why: 'a dict key is neither a string nor an integer' };
        const converted = toJson(v);
        if (converted.kind !== 'json') return converted.kind === 'omit' ? { kind: 'unknown', why: 'a container holds an object without a JSON form' } : converted;
        object[key] = converted.json;
      }
      return json(object);
    }
  }
}

/** Python's `type(x)` of a value's JSON form, as pydantic's Literal and Enum schemas look at it. */
function pythonType(value: PyValue): string {
  if (value.t === 'enum') return pythonType(value.value);
  if (value.t === 'tuple') return 'list';
  if (value.t === 'string-like' || value.t === 'bytes') return 'str';
  return value.t;
}

const JSON_TYPE_OF_PYTHON: Readonly<Record<string, string>> = {
  str: 'string', int: 'integer', float: 'number', bool: 'boolean', list: 'array', none: 'null',
};

// ---------------------------------------------------------------------------------------------
// Enums and pydantic models defined in the module.

interface EnumInfo {
  readonly members: readonly { readonly name: string; readonly value: PyValue }[];
}

function readEnum(cls: ClassInfo, module: ModuleInfo): EnumInfo | { why: string } {
  const kind = classKind(cls, module);
  if (kind.kind !== 'enum') return { why: kind.kind === 'unknown' ? kind.why : `${cls.name} is not an enum` };
  const members: { name: string; value: PyValue }[] = [];
  for (const statement of cls.body) {
    if (statement.kind === 'ignored') continue;
    if (statement.kind === 'method' && statement.decorators.every((d) => ['property', 'classmethod', 'staticmethod'].includes(d))) continue;
    if (statement.kind !== 'assign' || statement.annotation || !statement.value) return { why: `enum ${cls.name} has a body this cannot read` };
    if (/^__.*__$/.test(statement.target)) continue;
    if (statement.target.startsWith('_')) return { why: `enum ${cls.name} has a body this cannot read` };
    const auto = statement.value.kind === 'call' && statement.value.args.length === 0 && statement.value.keywords.length === 0 ? resolve(statement.value.func, 'module', module) : undefined;
    if (auto?.kind === 'member' && auto.module === 'enum' && auto.name === 'auto') {
      // Python's _generate_next_value_: StrEnum the lower-cased name; Enum and IntEnum 1, then the last int + 1.
      const last = members.at(-1)?.value;
      const next: PyValue | undefined = kind.strEnum ? { t: 'str', v: statement.target.toLowerCase() } : kind.mixin === undefined || kind.mixin === 'int' ? (last === undefined ? { t: 'int', v: 1n } : last.t === 'int' ? { t: 'int', v: last.v + 1n } : undefined) : undefined;
      if (!next) return { why: `the value auto() of ${cls.name}.${statement.target} cannot be worked out statically` };
      members.push({ name: statement.target, value: next });
      continue;
    }
    const value = evaluate(statement.value, module);
    if (!value.ok) return { why: `the value of ${cls.name}.${statement.target} cannot be evaluated statically` };
    let v = value.value;
    if (kind.mixin === 'float' && v.t === 'int') v = { t: 'float', v: Number(v.v) };
    const allowed = kind.mixin ? [kind.mixin] : ['none', 'bool', 'int', 'float', 'str'];
    if (!allowed.includes(v.t)) return { why: `the value of ${cls.name}.${statement.target} is not supported` };
    members.push({ name: statement.target, value: v });
  }
  return { members };
}

type ClassKind =
  | { readonly kind: 'enum'; readonly mixin?: 'str' | 'int' | 'float'; readonly strEnum?: boolean }
  | { readonly kind: 'model'; readonly base?: ClassInfo }
  /** A class pydantic only checks with isinstance: Prefect's schema for it is `{}`. */
  | { readonly kind: 'plain' }
  | { readonly kind: 'unknown'; readonly why: string };

const SCHEMA_HOOKS = ['__get_pydantic_core_schema__', '__get_pydantic_json_schema__', '__get_validators__', '__modify_schema__'];

function classKind(cls: ClassInfo, module: ModuleInfo, seen: ReadonlySet<string> = new Set()): ClassKind {
  // A decorated class (a @dataclass above all) gets a schema of its own from pydantic (a $ref with
  // its fields), which is not read here: say so rather than store an empty schema silently.
  const decorator = cls.decorators?.[0];
  if (decorator !== undefined) {
    return { kind: 'unknown', why: /(^|\.)dataclass\b/.test(decorator) ? `${cls.name} is a @dataclass, whose schema (a $ref with its fields) prefect-gitops does not build; use a pydantic BaseModel, or give parameter_openapi_schema` : `class ${cls.name} is decorated with @${decorator}` };
  }
  if (seen.has(cls.name)) return { kind: 'unknown', why: `class ${cls.name} inherits from itself` };
  if (cls.hasKeywords) return { kind: 'unknown', why: `class ${cls.name} has class keywords` };
  const bases = cls.bases.map((base) => ({ base, sym: resolve(base, 'module', module) }));
  const enumBase = bases.find(({ sym }) => sym.kind === 'member' && sym.module === 'enum');
  if (enumBase) {
    const sym = enumBase.sym as Extract<Sym, { kind: 'member' }>;
    const mixins = bases.filter((b) => b !== enumBase).map(({ sym: s }) => (s.kind === 'member' && s.module === 'builtins' ? s.name : '?'));
    const implied = sym.name === 'IntEnum' ? 'int' : sym.name === 'StrEnum' ? 'str' : undefined;
    if (!['Enum', 'IntEnum', 'StrEnum'].includes(sym.name) || mixins.length > 1 || (implied && mixins.length > 0)) {
      return { kind: 'unknown', why: `enum ${cls.name} derives from ${cls.bases.map((b) => b.text).join(', ')}` };
    }
    const mixin = implied ?? mixins[0];
    if (mixin !== undefined && mixin !== 'str' && mixin !== 'int' && mixin !== 'float') {
      return { kind: 'unknown', why: `enum ${cls.name} derives from ${cls.bases.map((b) => b.text).join(', ')}` };
    }
    return mixin === undefined ? { kind: 'enum' } : { kind: 'enum', mixin, ...(sym.name === 'StrEnum' ? { strEnum: true } : {}) };
  }
  if (bases.length === 1) {
    const { sym } = bases[0]!;
    if (sym.kind === 'member' && sym.module === 'pydantic' && sym.name === 'BaseModel') return { kind: 'model' };
    if (sym.kind === 'class') {
      const parent = classKind(sym.cls, module, new Set([...seen, cls.name]));
      if (parent.kind === 'model') return { kind: 'model', base: sym.cls };
      if (parent.kind === 'enum') return { kind: 'unknown', why: `class ${cls.name} extends an enum` };
      if (parent.kind === 'unknown') return parent;
    }
  }
  if (cls.body.some((s) => s.kind === 'method' && SCHEMA_HOOKS.includes(s.name)) || cls.body.some((s) => s.kind === 'assign' && SCHEMA_HOOKS.includes(s.target))) {
    return { kind: 'unknown', why: `class ${cls.name} customises its pydantic schema` };
  }
  for (const { base, sym } of bases) {
    if (sym.kind === 'member' && sym.module === 'builtins' && ['object', 'str', 'int', 'float', 'bytes', 'dict', 'list', 'Exception'].includes(sym.name)) continue;
    if (sym.kind === 'class') {
      const parent = classKind(sym.cls, module, new Set([...seen, cls.name]));
      if (parent.kind === 'plain') continue;
    }
    return { kind: 'unknown', why: `class ${cls.name} derives from ${base.text}` };
  }
  return { kind: 'plain' };
}

interface TypeContext {
  readonly module: ModuleInfo;
  /** `definitions` this annotation needs, by name. */
  readonly definitions: Map<string, JsonObject>;
  /** Classes and aliases being expanded, to refuse recursion. */
  readonly expanding: ReadonlySet<string>;
  /** Inside a model's field: pydantic resolves nested string annotations in the module there. */
  readonly inModel: boolean;
}

type TypeOutcome =
  /** `ref`: the schema is a `$ref` (or an Optional of one), which pydantic gives no field title. */
  | { readonly kind: 'schema'; readonly schema: JsonObject; readonly ref?: boolean }
  /** Prefect's own generator gives up on this annotation: the parameter accepts any value. */
  | { readonly kind: 'any'; readonly why: string }
  /** Cannot be decided statically. */
  | { readonly kind: 'unknown'; readonly why: string };

const schema = (s: JsonObject, ref?: boolean): TypeOutcome => (ref ? { kind: 'schema', schema: s, ref } : { kind: 'schema', schema: s });
const unknown = (why: string): TypeOutcome => ({ kind: 'unknown', why });

function enumDefinition(cls: ClassInfo, ctx: TypeContext): TypeOutcome {
  const info = readEnum(cls, ctx.module);
  if ('why' in info) return unknown(info.why);
  const values: Json[] = [];
  for (const m of info.members) {
    const json = toJson(m.value);
    if (json.kind !== 'json') return unknown(`the value of ${cls.name}.${m.name} is not supported`);
    values.push(json.json);
  }
  const definition: JsonObject = { title: cls.name };
  const description = cls.docstring === undefined ? '' : cleandoc(cls.docstring);
  if (description && description !== 'An enumeration.') definition['description'] = description;
  definition['enum'] = values;
  const types = new Set(info.members.map((m) => pythonType(m.value)));
  const type = types.size === 1 ? JSON_TYPE_OF_PYTHON[[...types][0]!] : undefined;
  if (type && type !== 'null') definition['type'] = type;
  ctx.definitions.set(cls.name, definition);
  return schema({ $ref: `#/definitions/${cls.name}` }, true);
}

/** A model and the models it extends, the base first (the order of its fields); why not, when one is not a model. */
function modelChain(cls: ClassInfo, module: ModuleInfo): ClassInfo[] | { why: string } {
  const chain: ClassInfo[] = [];
  for (let current: ClassInfo | undefined = cls; current; ) {
    chain.unshift(current);
    const kind = classKind(current, module);
    if (kind.kind !== 'model') return { why: kind.kind === 'unknown' ? kind.why : `${current.name} is not a model` };
    current = kind.base;
  }
  return chain;
}

function modelDefinition(cls: ClassInfo, ctx: TypeContext): TypeOutcome {
  if (ctx.definitions.has(cls.name)) return schema({ $ref: `#/definitions/${cls.name}` }, true);
  if (ctx.expanding.has(cls.name)) return unknown(`model ${cls.name} refers to itself`);
  const inner: TypeContext = { ...ctx, expanding: new Set([...ctx.expanding, cls.name]), inModel: true };
  const chain = modelChain(cls, ctx.module);
  if ('why' in chain) return unknown(chain.why);
  const properties: JsonObject = {};
  const required: string[] = [];
  const config: { extra?: 'allow' | 'forbid' | 'ignore'; title?: string } = {};
  for (const model of chain) {
    for (const statement of model.body) {
      if (statement.kind === 'ignored' || (statement.kind === 'method' && statement.decorators.length === 0)) continue;
      // The model's configuration (inherited, later classes overriding): what it says about the schema.
      const entries = statement.kind === 'config' ? statement.entries : statement.kind === 'assign' && statement.target === 'model_config' && statement.value ? configEntries(statement.value, ctx.module) : undefined;
      if (entries !== undefined) {
        if ('why' in entries) return unknown(`model ${model.name}: ${entries.why}`);
        for (const { name, value } of entries) {
          const problem = readConfigEntry(name, value, config, ctx.module);
          if (problem) return unknown(`model ${model.name}: ${problem}`);
        }
        continue;
      }
      if (statement.kind !== 'assign') return unknown(`model ${model.name} has a body this cannot read (validators, config or nested classes)`);
      if (statement.target.startsWith('_')) continue; // private attributes are not fields
      if (!statement.annotation) return unknown(`model ${model.name} has a body this cannot read (${statement.target} without annotation)`);
      const annotation = statement.annotation.kind === 'str' ? parseExpression(statement.annotation.value) : statement.annotation;
      if (!annotation) return unknown(`the annotation of ${model.name}.${statement.target} cannot be parsed`);
      const classVar = resolve(annotation.kind === 'subscript' ? annotation.value : annotation, 'module', ctx.module);
      if (classVar.kind === 'member' && classVar.module === 'typing' && classVar.name === 'ClassVar') continue;
      const type = annotationSchema(annotation, 'module', inner);
      if (type.kind !== 'schema') return unknown(`field ${model.name}.${statement.target}: ${type.why}`);
      if (statement.value && isFieldCall(statement.value, ctx.module)) {
        const field = modelField(statement.value, type, ctx.module);
        if ('why' in field) return unknown(`field ${model.name}.${statement.target}: ${field.why}`);
        const key = field.alias ?? statement.target;
        const property: JsonObject = { ...field.schema };
        if (!type.ref) property['title'] = field.title ?? fieldTitle(key);
        if (field.default === 'required') {
          if (!required.includes(key)) required.push(key);
        } else if (field.default !== 'factory') property['default'] = field.default;
        properties[key] = property;
        continue;
      }
      const property: JsonObject = { ...type.schema };
      if (!type.ref) property['title'] = fieldTitle(statement.target);
      if (statement.value) {
        const value = evaluate(statement.value, ctx.module);
        if (!value.ok) return unknown(`the default of ${model.name}.${statement.target}: ${value.why}`);
        const json = toJson(value.value);
        if (json.kind === 'unknown') return unknown(`the default of ${model.name}.${statement.target}: ${json.why}`);
        if (json.kind === 'json') property['default'] = json.json;
      } else if (!required.includes(statement.target)) {
        required.push(statement.target);
      }
      properties[statement.target] = property;
    }
  }
  const definition: JsonObject = { properties };
  if (required.length > 0) definition['required'] = required;
  definition['title'] = config.title ?? cls.name;
  definition['type'] = 'object';
  if (config.extra === 'forbid') definition['additionalProperties'] = false;
  else if (config.extra === 'allow') definition['additionalProperties'] = true;
  const description = cls.docstring === undefined ? '' : cleandoc(cls.docstring);
  if (description) definition['description'] = description;
  ctx.definitions.set(cls.name, definition);
  return schema({ $ref: `#/definitions/${cls.name}` }, true);
}

/** `model_config = ConfigDict(...)` or `= {...}`: its entries, or why they cannot be read. */
function configEntries(value: PyExpr, module: ModuleInfo): { name: string; value: PyExpr }[] | { why: string } {
  if (value.kind === 'call') {
    const sym = resolve(value.func, 'module', module);
    if (sym.kind !== 'member' || sym.module !== 'pydantic' || sym.name !== 'ConfigDict' || value.args.length > 0) return { why: `model_config = ${value.text} is not read statically` };
    return value.keywords.map((k) => ({ name: k.name, value: k.value }));
  }
  if (value.kind === 'dict') {
    const out: { name: string; value: PyExpr }[] = [];
    for (const [key, entry] of value.entries) {
      if (key.kind !== 'str') return { why: `model_config = ${value.text} is not read statically` };
      out.push({ name: key.value, value: entry });
    }
    return out;
  }
  return { why: `model_config = ${value.text} is not read statically` };
}

/** Model settings that change nothing in the JSON schema pydantic writes. */
const SCHEMA_NEUTRAL_CONFIG = new Set([
  'frozen', 'validate_assignment', 'populate_by_name', 'validate_by_name', 'validate_by_alias', 'str_strip_whitespace', 'str_to_lower', 'str_to_upper',
  'arbitrary_types_allowed', 'from_attributes', 'orm_mode', 'validate_default', 'revalidate_instances', 'protected_namespaces', 'strict',
  'use_enum_values', 'allow_mutation', 'allow_population_by_field_name', 'anystr_strip_whitespace', 'copy_on_model_validation', 'underscore_attrs_are_private',
]);

/** One configuration entry into `config`; the reason when it is not one this reads. */
function readConfigEntry(name: string, value: PyExpr, config: { extra?: 'allow' | 'forbid' | 'ignore'; title?: string }, module: ModuleInfo): string | undefined {
  if (SCHEMA_NEUTRAL_CONFIG.has(name)) return undefined;
  if (name === 'extra') {
    // "forbid", or pydantic's Extra.forbid (an enum of those strings).
    const text = value.kind === 'str' ? value.value : value.kind === 'attribute' && resolve(value.value, 'module', module).kind === 'member' ? value.attr : undefined;
    if (text === 'allow' || text === 'forbid' || text === 'ignore') {
      config.extra = text;
      return undefined;
    }
    return `extra=${value.text} is not read statically`;
  }
  if (name === 'title') {
    const evaluated = evaluate(value, module);
    if (evaluated.ok && evaluated.value.t === 'str') {
      config.title = evaluated.value.v;
      return undefined;
    }
  }
  return `the setting ${name}=${value.text} is not read statically`;
}

/** The keywords of `Field(...)` inside a model that map onto JSON schema as pydantic maps them. */
const FIELD_NUMBER_CONSTRAINTS: Readonly<Record<string, string>> = { gt: 'exclusiveMinimum', ge: 'minimum', lt: 'exclusiveMaximum', le: 'maximum', multiple_of: 'multipleOf' };

/**
 * A model field written `name: T = Field(...)`, as pydantic's JSON schema shows it: the default
 * (or required, or none for a `default_factory`), `title`, `description`, `alias` (the property's
 * name), `examples`, and the constraints `gt ge lt le multiple_of` (numbers), `min_length
 * max_length` (strings: minLength/maxLength, lists: minItems/maxItems) and `pattern`, placed on the
 * type (inside an Optional, on its non-null branch). Any other keyword is not read: the caller then
 * says the type cannot be resolved.
 */
function modelField(
  call: Extract<PyExpr, { kind: 'call' }>,
  type: Extract<TypeOutcome, { kind: 'schema' }>,
  module: ModuleInfo,
): { schema: JsonObject; default: Json | 'required' | 'factory'; title?: string; alias?: string } | { why: string } {
  if (call.args.length > 1) return { why: `Field(${call.args.map((a) => a.text).join(', ')}) has more than one positional argument` };
  const constant = (value: PyExpr, name: string): Json | { why: string } => {
    const evaluated = evaluate(value, module);
    if (!evaluated.ok) return { why: `Field(${name}=...): ${evaluated.why}` };
    const json = toJson(evaluated.value);
    return json.kind === 'json' ? json.json : { why: `Field(${name}=${value.text}) is not a JSON value` };
  };
  let defaultValue: Json | 'required' | 'factory' = 'required';
  const setDefault = (value: PyExpr): { why: string } | undefined => {
    if (value.kind === 'ellipsis') return undefined;
    const json = constant(value, 'default');
    if (json !== null && typeof json === 'object' && 'why' in json && !Array.isArray(json)) return json as { why: string };
    defaultValue = json;
    return undefined;
  };
  if (call.args[0]) {
    const problem = setDefault(call.args[0]);
    if (problem) return problem;
  }
  const out: JsonObject = {};
  const constraints: JsonObject = {};
  let title: string | undefined;
  let alias: string | undefined;
  for (const { name, value } of call.keywords) {
    if (name === 'default') {
      const problem = setDefault(value);
      if (problem) return problem;
      continue;
    }
    if (name === 'default_factory') {
      defaultValue = 'factory';
      continue;
    }
    const json = constant(value, name);
    if (json !== null && typeof json === 'object' && !Array.isArray(json) && 'why' in json) return json as { why: string };
    if ((name === 'title' || name === 'description' || name === 'alias' || name === 'pattern') && typeof json !== 'string') return { why: `Field(${name}=${value.text}) is not a string` };
    if (name === 'title') title = json as string;
    else if (name === 'alias') alias = json as string;
    else if (name === 'description') out['description'] = json;
    else if (name === 'examples' && Array.isArray(json)) out['examples'] = json;
    else if ((name in FIELD_NUMBER_CONSTRAINTS || name === 'min_length' || name === 'max_length') && typeof json === 'number') constraints[name] = json;
    else if (name === 'pattern') constraints[name] = json;
    else return { why: `Field(${name}=...) is not read statically` };
  }
  const constrained = Object.keys(constraints).length === 0 ? type.schema : constrain(type.schema, constraints);
  if (!constrained) return { why: `the constraints of Field(...) do not apply to "${JSON.stringify(type.schema)}" statically` };
  if (type.ref && (title !== undefined || constrained !== type.schema)) return { why: 'Field(title=...) or constraints on a model type are not read statically' };
  return { schema: { ...constrained, ...out }, default: defaultValue, ...(title !== undefined ? { title } : {}), ...(alias !== undefined ? { alias } : {}) };
}

/** Constraints on a type schema (on the non-null branch of an Optional), or undefined when they do not fit it. */
function constrain(schema: JsonObject, constraints: JsonObject): JsonObject | undefined {
  const anyOf = schema['anyOf'];
  if (Array.isArray(anyOf)) {
    const branches = anyOf.filter((b) => !(b !== null && typeof b === 'object' && !Array.isArray(b) && (b as JsonObject)['type'] === 'null'));
    if (branches.length !== 1) return undefined;
    const inner = constrain(branches[0] as JsonObject, constraints);
    return inner ? { ...schema, anyOf: anyOf.map((b) => (b === branches[0] ? inner : b)) } : undefined;
  }
  const type = schema['type'];
  const out: JsonObject = { ...schema };
  for (const [name, value] of Object.entries(constraints)) {
    if (name in FIELD_NUMBER_CONSTRAINTS && (type === 'integer' || type === 'number')) out[FIELD_NUMBER_CONSTRAINTS[name]!] = value;
    else if ((name === 'min_length' || name === 'max_length') && type === 'string') out[name === 'min_length' ? 'minLength' : 'maxLength'] = value;
    else if ((name === 'min_length' || name === 'max_length') && type === 'array') out[name === 'min_length' ? 'minItems' : 'maxItems'] = value;
    else if (name === 'pattern' && type === 'string') out['pattern'] = value;
    else return undefined;
  }
  return out;
}

/** pydantic's default field title: `str.title()` with underscores as spaces. */
function fieldTitle(name: string): string {
  let title = '';
  let previousCased = false;
  for (const c of name) {
    const cased = c.toLowerCase() !== c.toUpperCase();
    title += cased ? (previousCased ? c.toLowerCase() : c.toUpperCase()) : c;
    previousCased = cased;
  }
  return title.replace(/_/g, ' ');
}

// ---------------------------------------------------------------------------------------------
// Annotations to JSON schema, following pydantic's GenerateJsonSchema.

function annotationSchema(expr: PyExpr, namespace: Namespace, ctx: TypeContext): TypeOutcome {
  switch (expr.kind) {
    case 'none':
      return schema({ type: 'null' });
    case 'str': {
      // A string inside an annotation stays a forward reference that pydantic resolves itself.
      const parsed = parseExpression(expr.value);
      if (!parsed) return unknown(`"${expr.value}" is not a Python expression`);
      return annotationSchema(parsed, ctx.inModel ? 'module' : 'pydantic', ctx);
    }
    case 'name':
    case 'attribute':
      return symbolSchema(resolve(expr, namespace, ctx.module), expr, namespace, ctx);
    case 'subscript':
      return genericSchema(expr, namespace, ctx);
    case 'binary':
      if (expr.op !== '|') return unknown(`"${expr.text}" is not a type`);
      return unionSchema([expr.left, expr.right], namespace, ctx);
    default:
      return unknown(`"${expr.text}" is not a type`);
  }
}

const SCALARS: Readonly<Record<string, JsonObject>> = {
  'builtins.str': { type: 'string' },
  'builtins.int': { type: 'integer' },
  'builtins.float': { type: 'number' },
  'builtins.bool': { type: 'boolean' },
  'builtins.bytes': { type: 'string', format: 'binary' },
  'builtins.None': { type: 'null' },
  'builtins.object': {},
  'typing.Any': {},
  'datetime.datetime': { type: 'string', format: 'date-time' },
  'datetime.date': { type: 'string', format: 'date' },
  'datetime.time': { type: 'string', format: 'time' },
  'datetime.timedelta': { type: 'string', format: 'duration' },
  'uuid.UUID': { type: 'string', format: 'uuid' },
  'pathlib.Path': { type: 'string', format: 'path' },
  'decimal.Decimal': { anyOf: [{ type: 'number' }, { type: 'string' }] },
};

type Container = 'list' | 'set' | 'dict' | 'tuple';

const CONTAINERS: Readonly<Record<string, Container>> = {
  'builtins.list': 'list', 'typing.List': 'list', 'typing.Sequence': 'list', 'typing.MutableSequence': 'list', 'typing.Iterable': 'list',
  'builtins.set': 'set', 'builtins.frozenset': 'set', 'typing.Set': 'set', 'typing.FrozenSet': 'set', 'typing.AbstractSet': 'set', 'typing.MutableSet': 'set',
  'builtins.dict': 'dict', 'typing.Dict': 'dict', 'typing.Mapping': 'dict', 'typing.MutableMapping': 'dict',
  'builtins.tuple': 'tuple', 'typing.Tuple': 'tuple',
};

function symbolSchema(sym: Sym, expr: PyExpr, namespace: Namespace, ctx: TypeContext): TypeOutcome {
  switch (sym.kind) {
    case 'member': {
      const key = `${sym.module}.${sym.name}`;
      const scalar = SCALARS[key];
      if (scalar) return schema(structuredClone(scalar));
      const container = CONTAINERS[key];
      if (container) return containerSchema(container, [], expr, namespace, ctx);
      if (key === 'typing.Callable') return { kind: 'any', why: 'Prefect has no schema for callables' };
      return unknown(describeSym(sym, expr.text));
    }
    case 'class': {
      const kind = classKind(sym.cls, ctx.module);
      if (kind.kind === 'enum') return enumDefinition(sym.cls, ctx);
      if (kind.kind === 'model') return modelDefinition(sym.cls, ctx);
      // pydantic accepts any instance of a plain class: Prefect's schema for it is empty.
      if (kind.kind === 'plain') return ctx.inModel ? unknown(`pydantic models cannot hold ${sym.cls.name}`) : schema({});
      return unknown(kind.why);
    }
    case 'alias': {
      if (ctx.expanding.has(sym.name)) return unknown(`"${sym.name}" refers to itself`);
      return annotationSchema(sym.value, namespace, { ...ctx, expanding: new Set([...ctx.expanding, sym.name]) });
    }
    case 'undefined':
      // Only reached where pydantic resolves a forward reference: it fails, and Prefect uses Any.
      return namespace === 'pydantic' && !ctx.inModel
        ? { kind: 'any', why: `Prefect cannot resolve "${sym.name}"` }
        : unknown(describeSym(sym, expr.text));
    default:
      return unknown(describeSym(sym, expr.text));
  }
}

function genericSchema(expr: Extract<PyExpr, { kind: 'subscript' }>, namespace: Namespace, ctx: TypeContext): TypeOutcome {
  const sym = resolve(expr.value, namespace, ctx.module);
  if (sym.kind !== 'member') {
    if (sym.kind === 'undefined' && namespace === 'pydantic' && !ctx.inModel) return { kind: 'any', why: `Prefect cannot resolve "${sym.name}"` };
    return unknown(describeSym(sym, expr.value.text));
  }
  const key = `${sym.module}.${sym.name}`;
  const container = CONTAINERS[key];
  if (container) return containerSchema(container, expr.args, expr, namespace, ctx);
  switch (key) {
    case 'typing.Optional':
      return expr.args.length === 1 ? unionSchema([expr.args[0]!, { kind: 'none', text: 'None' }], namespace, ctx) : unknown(`"${expr.text}" is not a type`);
    case 'typing.Union':
      return unionSchema(expr.args, namespace, ctx);
    case 'typing.Literal':
      return literalSchema(expr, namespace, ctx);
    case 'typing.Annotated':
      return annotatedSchema(expr, namespace, ctx);
    case 'typing.Callable':
      return { kind: 'any', why: 'Prefect has no schema for callables' };
    default:
      return unknown(describeSym(sym, expr.value.text));
  }
}

/** Combines the outcomes of parts: one failure in pydantic fails the whole annotation. */
function firstProblem(outcomes: readonly TypeOutcome[]): TypeOutcome | undefined {
  return outcomes.find((o) => o.kind === 'any') ?? outcomes.find((o) => o.kind === 'unknown');
}

function containerSchema(container: Container, args: readonly PyExpr[], expr: PyExpr, namespace: Namespace, ctx: TypeContext): TypeOutcome {
  const items = args.map((arg) => (arg.kind === 'ellipsis' ? schema({}) : annotationSchema(arg, namespace, ctx)));
  const problem = firstProblem(items);
  if (problem) return problem;
  const schemas = items.map((item) => (item as Extract<TypeOutcome, { kind: 'schema' }>).schema);
  const bare = args.length === 0 && expr.kind !== 'subscript';
  switch (container) {
    case 'list':
      if (!bare && schemas.length !== 1) return unknown(`"${expr.text}" is not a type`);
      return schema({ type: 'array', items: schemas[0] ?? {} });
    case 'set':
      if (!bare && schemas.length !== 1) return unknown(`"${expr.text}" is not a type`);
      return schema({ type: 'array', uniqueItems: true, items: schemas[0] ?? {} });
    case 'dict': {
      if (bare) return schema({ type: 'object', additionalProperties: true });
      if (schemas.length !== 2) return unknown(`"${expr.text}" is not a type`);
      const [keys, values] = schemas as [JsonObject, JsonObject];
      const result: JsonObject = { type: 'object' };
      const valueSchema = { ...values };
      delete valueSchema['title'];
      result['additionalProperties'] = Object.keys(valueSchema).length > 0 ? valueSchema : true;
      const keySchema = { ...keys };
      if ('pattern' in keySchema) return unknown(`"${expr.text}" has constrained keys`);
      delete keySchema['title'];
      if ('$ref' in keySchema || (keySchema['type'] === 'string' && Object.keys(keySchema).length > 1)) {
        delete keySchema['type'];
        result['propertyNames'] = keySchema;
      }
      return schema(result);
    }
    case 'tuple': {
      if (bare) return schema({ type: 'array', items: {} });
      if (args.length === 2 && args[1]!.kind === 'ellipsis') return schema({ type: 'array', items: schemas[0]! });
      if (args.some((arg) => arg.kind === 'ellipsis')) return unknown(`"${expr.text}" is not a type`);
      const result: JsonObject = { type: 'array' };
      if (schemas.length > 0) result['prefixItems'] = schemas;
      result['minItems'] = schemas.length;
      result['maxItems'] = schemas.length;
      return schema(result);
    }
  }
}

function unionSchema(args: readonly PyExpr[], namespace: Namespace, ctx: TypeContext): TypeOutcome {
  // typing flattens nested unions and Optional; pydantic then moves None out into a nullable.
  const flat: PyExpr[] = [];
  const flatten = (arg: PyExpr): boolean => {
    if (arg.kind === 'binary' && arg.op === '|') return flatten(arg.left) && flatten(arg.right);
    if (arg.kind === 'subscript') {
      const sym = resolve(arg.value, namespace, ctx.module);
      if (sym.kind === 'member' && sym.module === 'typing' && sym.name === 'Union') return arg.args.every(flatten);
      if (sym.kind === 'member' && sym.module === 'typing' && sym.name === 'Optional' && arg.args.length === 1) {
        return flatten(arg.args[0]!) && flatten({ kind: 'none', text: 'None' });
      }
    }
    flat.push(arg);
    return true;
  };
  args.forEach(flatten);
  const isNone = (arg: PyExpr) => {
    if (arg.kind === 'none') return true;
    const sym = arg.kind === 'name' || arg.kind === 'attribute' ? resolve(arg, namespace, ctx.module) : undefined;
    return sym?.kind === 'member' && sym.module === 'builtins' && sym.name === 'None';
  };
  const nullable = flat.some(isNone);
  const choices = flat.filter((arg) => !isNone(arg));
  const outcomes = choices.map((choice) => annotationSchema(choice, namespace, ctx));
  const problem = firstProblem(outcomes);
  if (problem) return problem;
  const schemas = outcomes.map((o) => o as Extract<TypeOutcome, { kind: 'schema' }>);
  let inner: TypeOutcome | undefined;
  if (schemas.length === 1) inner = schemas[0]!;
  else if (schemas.length > 1) inner = schema(flattenAnyOf(schemas.map((s) => s.schema)));
  if (!nullable) return inner ?? unknown('an empty union');
  if (!inner) return schema({ type: 'null' });
  const innerSchema = (inner as Extract<TypeOutcome, { kind: 'schema' }>).schema;
  if (isDeepEqual(innerSchema, { type: 'null' })) return schema({ type: 'null' });
  return schema(flattenAnyOf([innerSchema, { type: 'null' }]), schemas.length === 1 && schemas[0]!.ref === true);
}

/** pydantic's get_flattened_anyof: nested bare anyOfs are merged, duplicates dropped. */
function flattenAnyOf(schemas: readonly JsonObject[]): JsonObject {
  const members: JsonObject[] = [];
  for (const s of schemas) {
    const nested = Object.keys(s).length === 1 && Array.isArray(s['anyOf']) ? (s['anyOf'] as JsonObject[]) : [s];
    for (const m of nested) if (!members.some((existing) => isDeepEqual(existing, m))) members.push(m);
  }
  return members.length === 1 ? members[0]! : { anyOf: members };
}

function literalSchema(expr: Extract<PyExpr, { kind: 'subscript' }>, namespace: Namespace, ctx: TypeContext): TypeOutcome {
  const values: PyValue[] = [];
  const collect = (arg: PyExpr): string | undefined => {
    if (arg.kind === 'subscript') {
      const sym = resolve(arg.value, namespace, ctx.module);
      if (sym.kind === 'member' && sym.module === 'typing' && sym.name === 'Literal') {
        for (const inner of arg.args) {
          const problem = collect(inner);
          if (problem) return problem;
        }
        return undefined;
      }
    }
    if (namespace === 'pydantic' && (arg.kind === 'name' || arg.kind === 'attribute')) return `"${arg.text}" is not resolvable by Prefect`;
    const value = evaluate(arg, ctx.module);
    if (!value.ok) return value.why;
    if (!['none', 'bool', 'int', 'float', 'str', 'enum'].includes(value.value.t)) return `Literal[${arg.text}] is not supported`;
    // typing de-duplicates Literal arguments by value and type.
    const key = JSON.stringify([pythonType(value.value), toJson(value.value)]);
    if (!values.some((v) => JSON.stringify([pythonType(v), toJson(v)]) === key)) values.push(value.value);
    return undefined;
  };
  for (const arg of expr.args) {
    const problem = collect(arg);
    if (problem) return unknown(problem);
  }
  const expected: Json[] = [];
  for (const value of values) {
    const json = toJson(value);
    if (json.kind !== 'json') return unknown(`Literal value in "${expr.text}" is not supported`);
    expected.push(json.json);
  }
  const result: JsonObject = expected.length === 1 ? { const: expected[0]! } : { enum: expected };
  const types = new Set(values.map(pythonType));
  const type = types.size === 1 ? JSON_TYPE_OF_PYTHON[[...types][0]!] : undefined;
  if (type) result['type'] = type;
  return schema(result);
}

function annotatedSchema(expr: Extract<PyExpr, { kind: 'subscript' }>, namespace: Namespace, ctx: TypeContext): TypeOutcome {
  const [type, ...metadata] = expr.args;
  if (!type || metadata.length === 0) return unknown(`"${expr.text}" is not a type`);
  const constraints: JsonObject = {};
  for (const meta of metadata) {
    if (['str', 'int', 'float', 'bool', 'none'].includes(meta.kind)) continue;
    // Prefect's own Field(title=..., description=...) replaces these two; anything else constrains the type.
    if (meta.kind === 'call' && isFieldCall(meta, ctx.module) && meta.args.length === 0 && meta.keywords.every((k) => k.name === 'description' || k.name === 'title')) continue;
    // Field(ge=1, le=14) alone: constraints on the type, placed as pydantic places them.
    if (meta.kind === 'call' && isFieldCall(meta, ctx.module) && meta.args.length === 0 && meta.keywords.length > 0 && meta.keywords.every((k) => k.name in FIELD_NUMBER_CONSTRAINTS || k.name === 'min_length' || k.name === 'max_length' || k.name === 'pattern')) {
      for (const { name, value } of meta.keywords) {
        const evaluated = evaluate(value, ctx.module);
        const json = evaluated.ok ? toJson(evaluated.value) : undefined;
        if (json?.kind !== 'json' || (name === 'pattern' ? typeof json.json !== 'string' : typeof json.json !== 'number')) return unknown(`the metadata "${meta.text}" of Annotated is not supported`);
        constraints[name] = json.json;
      }
      continue;
    }
    return unknown(`the metadata "${meta.text}" of Annotated is not supported`);
  }
  const base = annotationSchema(type, namespace, ctx);
  if (base.kind !== 'schema' || Object.keys(constraints).length === 0) return base;
  const constrained = base.ref ? undefined : constrain(base.schema, constraints);
  return constrained ? { ...base, schema: constrained } : unknown(`the constraints of "${expr.text}" do not apply to its type statically`);
}

function isFieldCall(expr: PyExpr, module: ModuleInfo): expr is Extract<PyExpr, { kind: 'call' }> {
  if (expr.kind !== 'call') return false;
  const sym = resolve(expr.func, 'module', module);
  return sym.kind === 'member' && sym.module === 'pydantic' && sym.name === 'Field';
}

function isDeepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => isDeepEqual(x, b[i]!));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const ob = b as JsonObject;
  return ka.length === kb.length && ka.every((k) => k in ob && isDeepEqual((a as JsonObject)[k]!, ob[k]!));
}

// ---------------------------------------------------------------------------------------------
// Docstrings: inspect.cleandoc, then griffe's Google-style parser (only what feeds descriptions).

/** Python's `inspect.cleandoc` (3.11). */
function cleandoc(doc: string): string {
  const lines = expandTabs(doc).split('\n');
  let margin = Infinity;
  for (const line of lines.slice(1)) {
    const content = line.replace(/^\s+/, '').length;
    if (content > 0) margin = Math.min(margin, line.length - content);
  }
  if (lines.length > 0) lines[0] = lines[0]!.replace(/^\s+/, '');
  if (margin < Infinity) for (let i = 1; i < lines.length; i++) lines[i] = lines[i]!.slice(margin);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  while (lines.length > 0 && lines[0] === '') lines.shift();
  return lines.join('\n');
}

function expandTabs(text: string, size = 8): string {
  let out = '';
  let column = 0;
  for (const c of text) {
    if (c === '\t') {
      const spaces = size - (column % size);
      out += ' '.repeat(spaces);
      column += spaces;
    } else {
      out += c;
      column = c === '\n' || c === '\r' ? 0 : column + 1;
    }
  }
  return out;
}

const SECTION_TITLES: Readonly<Record<string, 'parameters' | 'other'>> = Object.fromEntries([
  ...['args', 'arguments', 'params', 'parameters'].map((t) => [t, 'parameters'] as const),
  ...['keyword args', 'keyword arguments', 'other args', 'other arguments', 'other params', 'other parameters',
    'type args', 'type arguments', 'type params', 'type parameters', 'raises', 'exceptions', 'returns', 'yields',
    'receives', 'examples', 'attributes', 'functions', 'methods', 'classes', 'type aliases', 'modules', 'warns',
    'warnings'].map((t) => [t, 'other'] as const),
]);

const SECTION_LINE = /^(?<type>[\p{L}\p{N}_][\s\p{L}\p{N}_-]*):(?:\s+[^\s].*)?\s*$/iu;

const isEmptyLine = (line: string | undefined) => line === undefined || line.trim() === '';

/**
 * The parameter descriptions Prefect takes from a docstring: `inspect.getdoc` (cleandoc), then
 * griffe's Google parser; the last Args/Parameters section wins, as in Prefect's loop.
 */
function parameterDescriptions(docstring: string | undefined): Map<string, string> {
  let descriptions = new Map<string, string>();
  if (docstring === undefined) return descriptions;
  const cleaned = cleandoc(docstring);
  if (!cleaned) return descriptions;
  const lines = cleandoc(cleaned.trimEnd()).split('\n');
  let inCodeBlock = false;
  for (let offset = 0; offset < lines.length; offset++) {
    const line = lines[offset]!;
    const fence = line.replace(/^ +/, '').startsWith('```');
    if (inCodeBlock) {
      if (fence) inCodeBlock = false;
      continue;
    }
    if (fence) {
      inCodeBlock = true;
      continue;
    }
    const match = line.includes(':') ? SECTION_LINE.exec(line) : null;
    if (!match) continue;
    const hasNext = offset < lines.length - 1;
    const hasNextTwo = offset < lines.length - 2;
    const blankAbove = offset === 0 || isEmptyLine(lines[offset - 1]);
    const blankBelow = hasNext && isEmptyLine(lines[offset + 1]);
    const blankTwoBelow = hasNextTwo && isEmptyLine(lines[offset + 2]);
    const indentedBelow = hasNext && !blankBelow && lines[offset + 1]!.startsWith(' ');
    const indentedTwoBelow = hasNextTwo && !blankTwoBelow && lines[offset + 2]!.startsWith(' ');
    if (!(indentedBelow || indentedTwoBelow)) continue;
    if (!blankAbove || (indentedTwoBelow && blankBelow)) continue; // griffe skips these as "possible sections"
    const section = SECTION_TITLES[match.groups!['type']!.toLowerCase()];
    if (section === undefined) {
      offset = readBlockEnd(lines, offset + 1, 'block');
      continue;
    }
    const { items, end } = readBlockItems(lines, offset + 1);
    offset = end;
    if (section === 'parameters') descriptions = parseParameterItems(items);
  }
  return descriptions;
}

function indentOf(line: string): number {
  return line.length - line.replace(/^\s+/, '').length;
}

/** Where griffe's block readers stop: the index of the last line they consume. */
function readBlockEnd(lines: readonly string[], start: number, kind: 'block' | 'items'): number {
  let offset = start;
  if (offset >= lines.length) return kind === 'block' ? offset - 1 : offset;
  while (offset < lines.length && isEmptyLine(lines[offset])) offset++;
  if (offset >= lines.length) return offset - 1;
  const indent = indentOf(lines[offset]!);
  if (indent === 0) return kind === 'block' ? start - 1 : offset - 1;
  offset++;
  while (offset < lines.length && (isEmptyLine(lines[offset]) || lines[offset]!.startsWith(' '.repeat(indent)))) offset++;
  return offset - 1;
}

function readBlockItems(lines: readonly string[], start: number): { items: string[][]; end: number } {
  let offset = start;
  if (offset >= lines.length) return { items: [], end: offset };
  while (offset < lines.length && isEmptyLine(lines[offset])) offset++;
  if (offset >= lines.length) return { items: [], end: offset - 1 };
  const indent = indentOf(lines[offset]!);
  if (indent === 0) return { items: [], end: offset - 1 };
  const items: string[][] = [];
  let current = [lines[offset]!.slice(indent)];
  offset++;
  for (; offset < lines.length; offset++) {
    const line = lines[offset]!;
    if (isEmptyLine(line)) current.push('');
    else if (line.startsWith(' '.repeat(indent * 2))) current.push(line.slice(indent * 2));
    else if (line.startsWith(' '.repeat(indent + 1))) current.push(line.slice(indentOf(line)));
    else if (line.startsWith(' '.repeat(indent))) {
      items.push(current);
      current = [line.slice(indent)];
    } else break;
  }
  items.push(current);
  return { items, end: offset - 1 };
}

function parseParameterItems(items: readonly string[][]): Map<string, string> {
  const descriptions = new Map<string, string>();
  for (const [first, ...rest] of items) {
    const colon = first!.indexOf(':');
    if (colon < 0) continue;
    const nameWithType = first!.slice(0, colon);
    const description = [first!.slice(colon + 1).replace(/^\s+/, ''), ...rest].join('\n').replace(/\n+$/, '');
    const name = nameWithType.includes('(') && nameWithType.endsWith(')') ? nameWithType.split('(')[0]!.trim() : nameWithType;
    descriptions.set(name, description);
  }
  return descriptions;
}

// ---------------------------------------------------------------------------------------------
// Putting a parameter together, as Prefect's process_v2_params and pydantic do.

type DefaultOutcome =
  | { readonly kind: 'required' }
  | { readonly kind: 'value'; readonly json: Json }
  /** A default pydantic cannot serialise: the property has no default and is not required. */
  | { readonly kind: 'omitted' }
  | { readonly kind: 'unknown'; readonly why: string };

interface FieldSettings {
  readonly default: DefaultOutcome;
  readonly description?: string;
  readonly extra?: JsonObject;
  readonly problem?: string;
}

function fieldSettings(expr: PyExpr | undefined, module: ModuleInfo): FieldSettings {
  if (!expr || expr.kind === 'ellipsis') return { default: { kind: 'required' } };
  if (!isFieldCall(expr, module)) return { default: defaultOutcome(expr, module) };
  let defaultExpr: PyExpr | undefined = expr.args[0];
  let description: string | undefined;
  let extra: JsonObject | undefined;
  let factory = false;
  let problem: string | undefined;
  for (const { name, value } of expr.keywords) {
    if (name === 'default') defaultExpr = value;
    else if (name === 'default_factory') factory = true;
    else if (name === 'description') {
      if (value.kind === 'str') description = value.value;
      else problem = `the description "${value.text}" is not a string literal`;
    } else if (name === 'json_schema_extra') {
      const evaluated = evaluate(value, module);
      const json = evaluated.ok && evaluated.value.t === 'dict' ? toJson(evaluated.value) : undefined;
      if (json?.kind === 'json' && json.json !== null && typeof json.json === 'object' && !Array.isArray(json.json)) extra = json.json;
      else problem = `json_schema_extra "${value.text}" is not a literal dict`;
    }
  }
  // Prefect re-creates the field from `FieldInfo.default`: a default_factory is lost, so the
  // parameter becomes required; constraints such as ge/le are dropped too.
  const outcome: DefaultOutcome =
    factory || !defaultExpr || defaultExpr.kind === 'ellipsis' ? { kind: 'required' } : defaultOutcome(defaultExpr, module);
  return {
    default: outcome,
    ...(description === undefined ? {} : { description }),
    ...(extra === undefined ? {} : { extra }),
    ...(problem === undefined ? {} : { problem }),
  };
}

function defaultOutcome(expr: PyExpr, module: ModuleInfo): DefaultOutcome {
  const value = evaluate(expr, module);
  if (!value.ok) return { kind: 'unknown', why: value.why };
  const json = toJson(value.value);
  if (json.kind === 'omit') return { kind: 'omitted' };
  if (json.kind === 'unknown') return json;
  return { kind: 'value', json: json.json };
}

function buildSchema(fn: FunctionInfo, module: ModuleInfo): ParameterSchemaResult {
  const notices: ParameterSchemaNotice[] = [];
  const properties: JsonObject = {};
  const required: string[] = [];
  const definitions = new Map<string, JsonObject>();
  const docstrings = parameterDescriptions(fn.docstring);

  // inspect.signature(eval_str=True) evaluates string annotations (all of them under
  // `from __future__ import annotations`) in the module; one NameError and Prefect falls back
  // to the unevaluated signature, leaving each string for pydantic to resolve on its own.
  const evaluatedByEvalStr = (param: ParamInfo): PyExpr | undefined => {
    const annotation = param.annotation;
    if (!annotation) return undefined;
    if (module.futureAnnotations) return annotation;
    return annotation.kind === 'str' ? parseExpression(annotation.value) : undefined;
  };
  const evalStrFails = fn.params.some((param) => {
    const evaluated = evaluatedByEvalStr(param);
    return evaluated !== undefined && hasUndefinedName(evaluated, module);
  });

  fn.params.forEach((param, position) => {
    if (param.name === 'self' || param.name === 'cls') return;
    const notice = (message: string) => notices.push({ parameter: param.name, message: `parameter "${param.name}": ${message}`, line: param.line, column: param.column });
    const ctx: TypeContext = { module, definitions: new Map(), expanding: new Set(), inModel: false };

    let type: TypeOutcome = schema({});
    if (param.annotation) {
      const annotation = param.annotation;
      let target: PyExpr | undefined = annotation;
      let namespace: Namespace = 'module';
      if (module.futureAnnotations) {
        if (evalStrFails) namespace = 'pydantic';
      } else if (annotation.kind === 'str') {
        target = parseExpression(annotation.value);
        if (evalStrFails) namespace = 'pydantic';
      }
      type = target ? annotationSchema(target, namespace, ctx) : unknown(`"${annotation.text}" is not a Python expression`);
      if (type.kind === 'unknown') {
        const shown = annotation.kind === 'str' ? annotation.value : annotation.text;
        notice(`annotation "${shown}" cannot be resolved statically (${type.why}); it accepts any value`);
      }
    }

    const field = fieldSettings(param.default, module);
    const property: JsonObject = type.kind === 'schema' ? { ...type.schema } : {};
    property['title'] = param.name;
    const description = field.description ? field.description : docstrings.get(param.name);
    if (description !== undefined) property['description'] = description;
    switch (field.default.kind) {
      case 'value':
        property['default'] = field.default.json;
        break;
      case 'required':
        required.push(param.name);
        break;
      case 'unknown':
        notice(`default ${param.default?.text ?? ''} cannot be evaluated statically (${field.default.why}); the schema has no default for it`);
        break;
      case 'omitted':
        break;
    }
    if (field.problem) notice(`${field.problem}; it is left out of the schema`);
    // Prefect merges a Field's json_schema_extra under its own `position` (theirs wins), and
    // pydantic lays the extras over everything else.
    Object.assign(property, { position }, field.extra ?? {});
    properties[param.name] = property;
    if (type.kind === 'schema') for (const [name, definition] of ctx.definitions) definitions.set(name, definition);
  });

  const result: JsonObject = { title: 'Parameters', type: 'object', properties };
  if (required.length > 0) result['required'] = required;
  if (definitions.size > 0) result['definitions'] = Object.fromEntries(definitions);
  return { schema: result, notices };
}
