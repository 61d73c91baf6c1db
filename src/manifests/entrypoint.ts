import { posix, win32 } from 'node:path';
import { sourceMemo } from './source-memo.js';
import { flowDecoratorFromSource, type FlowDecoratorLookup } from './parameter-schema.js';
/**
 * Entrypoints and flow names, resolved without running Python, the way Prefect's own
 * `load_flow_arguments_from_entrypoint` does: a literal `@flow(name=...)` wins, otherwise the
 * function name with `_` turned into `-`.
 */

/** Characters Prefect does not accept in deployment and flow names. */
export const FORBIDDEN_NAME_CHARACTERS = /[/%&<>]/;

const ENTRYPOINT = /^(?<file>[^:]+\.py):(?<func>[A-Za-z_][A-Za-z0-9_]*)$/;

export interface ParsedEntrypoint {
  readonly file: string;
  readonly func: string;
}

export function parseEntrypoint(entrypoint: string): ParsedEntrypoint | undefined {
  const match = ENTRYPOINT.exec(entrypoint.trim());
  if (!match?.groups) return undefined;
  return { file: normaliseRelative(match.groups.file!), func: match.groups.func! };
}

/** The file part of an entrypoint, normalised (`./a/b.py` -> `a/b.py`), or undefined if malformed. */
export function entrypointFile(entrypoint: string): string | undefined {
  return parseEntrypoint(entrypoint)?.file;
}

/**
 * Where an entrypoint's file lies relative to the project root (`relativeDir` is a prefect.yaml's
 * folder, entrypoints there are relative to it), normalised; `undefined` when the path leaves the
 * project (`../x.py`, an absolute path): such a file is never read.
 */
export function entrypointPath(relativeDir: string, file: string): string | undefined {
  if (posix.isAbsolute(file) || win32.isAbsolute(file)) return undefined;
  const joined = posix.normalize(posix.join(relativeDir || '.', file));
  return joined === '..' || joined.startsWith('../') ? undefined : joined;
}

function normaliseRelative(path: string): string {
  return path.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
}

export type FlowLookup = FlowDecoratorLookup;

const lookups = sourceMemo<FlowLookup>();

/**
 * Finds a top-level `def`/`async def` named `func` and reads its `@flow` decorator (once per file
 * content and function): from the parsed module (flowDecoratorFromSource), else, when the file
 * does not parse, line by line.
 */
export function lookupFlow(source: string, func: string): FlowLookup {
  return lookups(source, func, () => flowDecoratorFromSource(source, func) ?? scanForFlow(source, func));
}

function scanForFlow(source: string, func: string): FlowLookup {
  const lines = source.split(/\r?\n/);
  const defPattern = new RegExp(`^(?:async\\s+)?def\\s+${func}\\s*\\(`);
  for (let i = 0; i < lines.length; i++) {
    if (!defPattern.test(lines[i]!)) continue;
    const decorators = decoratorsAbove(lines, i);
    const flowDecorator = decorators.find((d) => /^@\s*(?:[A-Za-z_][A-Za-z0-9_]*\.)*flow\b/.test(d.text));
    if (flowDecorator === undefined) return { kind: 'not-a-flow', line: i + 1 };
    const name = keywordArgument(flowDecorator.text, 'name');
    const description = keywordArgument(flowDecorator.text, 'description')?.literal;
    const extra = description === undefined ? {} : { description };
    if (name === undefined) return { kind: 'flow', flowName: func.replace(/_/g, '-'), line: i + 1, ...extra };
    if (name.literal !== undefined) return { kind: 'flow', flowName: name.literal, line: i + 1, ...extra };
    return { kind: 'dynamic-name', line: flowDecorator.line, expression: name.expression };
  }
  return { kind: 'no-function' };
}

/**
 * The decorator texts (each joined onto one line) directly above line `defIndex`. Walking up, a
 * decorator is its `@` line plus any indented or closing-bracket continuation lines below it.
 */
function decoratorsAbove(lines: string[], defIndex: number): { text: string; line: number }[] {
  const decorators: { text: string; line: number }[] = [];
  let pending: string[] = [];
  for (let i = defIndex - 1; i >= 0; i--) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (trimmed.startsWith('@')) {
      decorators.push({ text: [trimmed, ...pending].join(' '), line: i + 1 });
      pending = [];
    } else if (/^\s/.test(line) || /^[)\]}]/.test(line)) {
      pending.unshift(trimmed);
    } else {
      break;
    }
  }
  return decorators;
}

/** A keyword argument (`name=`, `description=`) of a decorator call, split at top-level commas. */
export function keywordArgument(decorator: string, keyword: string): { literal?: string; expression: string } | undefined {
  const open = decorator.indexOf('(');
  if (open < 0) return undefined;
  const args = splitTopLevel(decorator.slice(open + 1, decorator.lastIndexOf(')')));
  for (const arg of args) {
    const match = new RegExp(`^\\s*${keyword}\\s*=\\s*([\\s\\S]+?)\\s*$`).exec(arg);
    if (!match) continue;
    const expression = match[1]!;
    const literal = /^([rRuUfF]|[rR][fF]|[fF][rR])?(['"])((?:\\.|(?!\2).)*)\2$/.exec(expression);
    if (!literal) return { expression };
    const text = literal[3]!.replace(/\\(['"\\])/g, '$1');
    if (!/[fF]/.test(literal[1] ?? '')) return { literal: text, expression };
    // An f-string without placeholders (`f"stats_flow"`) is a literal; `{{`/`}}` are escaped braces.
    const unescaped = text.replace(/\{\{|\}\}/g, '');
    return /[{}]/.test(unescaped) ? { expression } : { literal: text.replace(/\{\{/g, '{').replace(/\}\}/g, '}'), expression };
  }
  return undefined;
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
