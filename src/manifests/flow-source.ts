import { posix } from 'node:path';
import { entrypointPath, keywordArgument } from './entrypoint.js';
import { sourceMemo } from './source-memo.js';

/**
 * Where an entrypoint's flow function is written, found statically the way Python would import
 * it for `prefect deploy`: a file entrypoint (`flows/etl.py:etl`) or a module one (`pkg.flows:etl`,
 * dotted `pkg.flows.etl`); relative to the prefect.yaml's folder, else to the project root (as
 * `prefect deploy --prefect-file sub/prefect.yaml` run from the root); and through re-exports
 * (`from impl import etl`, `from .impl import etl`) and assignments (`etl = flow(load)`) inside
 * the repository. One traversal serves loading (which files to read) and validation (pure, over
 * what was read).
 */

const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const FILE_ENTRYPOINT = new RegExp(`^(?<file>[^:]+\\.py):(?<func>${IDENT})$`);
const MODULE_ENTRYPOINT = new RegExp(`^(?<module>${IDENT}(?:\\.${IDENT})*):(?<func>${IDENT})$`);
const DOTTED_ENTRYPOINT = new RegExp(`^(?<module>${IDENT}(?:\\.${IDENT})*)\\.(?<func>${IDENT})$`);
const MAX_HOPS = 6;

export interface EntrypointTarget {
  /** Files that may hold it, relative to the working directory, most likely first. */
  readonly candidates: readonly string[];
  readonly func: string;
  readonly form: 'file' | 'module';
}

const moduleFiles = (module: string): string[] => {
  const path = module.split('.').join('/');
  return [`${path}.py`, `${path}/__init__.py`];
};

/** The files an entrypoint may name, or undefined when it has none of Prefect's forms. */
export function entrypointTarget(entrypoint: string): EntrypointTarget | undefined {
  const text = entrypoint.trim();
  const file = FILE_ENTRYPOINT.exec(text)?.groups;
  if (file) return { candidates: [file.file!.replace(/\\/g, '/').replace(/^(\.\/)+/, '')], func: file.func!, form: 'file' };
  const module = (MODULE_ENTRYPOINT.exec(text) ?? DOTTED_ENTRYPOINT.exec(text))?.groups;
  if (module) return { candidates: moduleFiles(module.module!), func: module.func!, form: 'module' };
  return undefined;
}

/** A source by path relative to the project root: text, null when absent, undefined when not read (yet). */
export type SourceReader = (path: string) => string | null | undefined;

/** How the entrypoint's name reaches the function (for messages): `flows/etl.py: from impl import etl`. */
export interface FlowHop {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

export type FlowLocation =
  | {
      readonly kind: 'found';
      /** The file and top-level function that define the flow's parameters and docstring. */
      readonly file: string;
      readonly source: string;
      readonly func: string;
      /** The working directory it was found from, relative to the project root (`''` for the root). */
      readonly base: string;
      /** When the flow is made by a call (`etl = flow(load, name="x")`) rather than a decorator. */
      readonly assigned?: { readonly file: string; readonly line: number; readonly name?: { readonly literal?: string; readonly expression: string } };
      readonly hops: readonly FlowHop[];
    }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'outside'; readonly path: string }
  /** Some file was not read yet (loading asks for it and tries again). */
  | { readonly kind: 'pending' }
  | { readonly kind: 'missing'; readonly tried: readonly string[] };

/**
 * Locates the flow of `entrypoint`, trying each working directory in `bases` (paths relative to the
 * project root). Never reads: `read` answers from what loading gathered.
 */
export function locateFlow(entrypoint: string, bases: readonly string[], read: SourceReader): FlowLocation {
  const target = entrypointTarget(entrypoint);
  if (!target) return { kind: 'malformed' };
  const tried: string[] = [];
  let pending = false;
  for (const base of bases) {
    for (const candidate of target.candidates) {
      const path = entrypointPath(base, candidate);
      if (path === undefined) return { kind: 'outside', path: candidate };
      const source = read(path);
      tried.push(path);
      if (source === undefined) pending = true;
      if (typeof source !== 'string') continue;
      return follow({ file: path, source, func: target.func, base, hops: [], read });
    }
  }
  return pending ? { kind: 'pending' } : { kind: 'missing', tried };
}

interface Step {
  readonly file: string;
  readonly source: string;
  readonly func: string;
  readonly base: string;
  readonly hops: FlowHop[];
  readonly read: SourceReader;
  readonly assigned?: Extract<FlowLocation, { kind: 'found' }>['assigned'];
}

function follow(step: Step): FlowLocation {
  const found = (): FlowLocation => ({ kind: 'found', file: step.file, source: step.source, func: step.func, base: step.base, hops: step.hops, ...(step.assigned ? { assigned: step.assigned } : {}) });
  if (hasTopLevelDef(step.source, step.func) || step.hops.length >= MAX_HOPS) return found();
  const assignment = flowAssignment(step.source, step.func);
  if (assignment && !step.assigned) {
    const hop = { file: step.file, line: assignment.line, text: assignment.text };
    const assigned = { file: step.file, line: assignment.line, ...(assignment.name ? { name: assignment.name } : {}) };
    return follow({ ...step, func: assignment.fn, hops: [...step.hops, hop], assigned });
  }
  const imported = importOf(step.source, step.func);
  if (!imported) return found();
  const dir = posix.dirname(step.file);
  const packages = imported.dots > 0 ? [posix.join(dir, ...Array<string>(imported.dots - 1).fill('..'))] : [dir, step.base, ''];
  const hop = { file: step.file, line: imported.line, text: imported.text };
  let pending = false;
  for (const root of [...new Set(packages)]) {
    for (const candidate of imported.module ? moduleFiles(imported.module) : []) {
      const path = entrypointPath(root === '.' ? '' : root, candidate);
      if (path === undefined) continue;
      const source = step.read(path);
      if (source === undefined) pending = true;
      if (typeof source !== 'string') continue;
      return follow({ ...step, file: path, source, func: imported.original, hops: [...step.hops, hop] });
    }
  }
  return pending ? { kind: 'pending' } : found();
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Each deployment of a shared flow file asks the same questions of it: answer each once per content.
const topLevelDefs = sourceMemo<boolean>();
const assignments = sourceMemo<ReturnType<typeof scanForAssignment>>();
const imports = sourceMemo<ReturnType<typeof scanForImport>>();

function hasTopLevelDef(source: string, func: string): boolean {
  return topLevelDefs(source, func, () => scanForDef(source, func));
}

function flowAssignment(source: string, name: string): ReturnType<typeof scanForAssignment> {
  return assignments(source, name, () => scanForAssignment(source, name));
}

function importOf(source: string, name: string): ReturnType<typeof scanForImport> {
  return imports(source, name, () => scanForImport(source, name));
}

function scanForDef(source: string, func: string): boolean {
  return new RegExp(`^(?:async\\s+)?def\\s+${escape(func)}\\s*\\(`, 'm').test(source);
}

/** `name = flow(fn, ...)`, `name = flow(...)(fn)`, `name = prefect.flow(fn)` at the top level. */
function scanForAssignment(source: string, name: string): { fn: string; line: number; text: string; name?: { literal?: string; expression: string } } | undefined {
  const lines = source.split(/\r?\n/);
  const call = new RegExp(`^${escape(name)}\\s*(?::[^=]+)?=\\s*(?:${IDENT}\\.)*flow\\s*\\((.*)\\)\\s*(?:#.*)?$`);
  for (let i = 0; i < lines.length; i++) {
    const match = call.exec(lines[i]!);
    if (!match) continue;
    const inner = match[1]!;
    // `flow(name="x")(fn)`: the decorator form applied by hand.
    const curried = new RegExp(`^(.*)\\)\\s*\\(\\s*(${IDENT})\\s*$`).exec(inner);
    const args = curried ? curried[1]! : inner;
    const fn = curried ? curried[2]! : /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,|$)/.exec(inner)?.[1];
    if (!fn) continue;
    const nameArg = keywordArgument(`flow(${args})`, 'name');
    return { fn, line: i + 1, text: lines[i]!.trim(), ...(nameArg ? { name: nameArg } : {}) };
  }
  return undefined;
}

/** `from .impl import etl`, `from pkg.impl import load as etl`, also inside parentheses over several lines. */
function scanForImport(source: string, name: string): { module: string; dots: number; original: string; line: number; text: string } | undefined {
  const statement = /^from\s+(\.*)([\w.]*)\s+import\s+(\([^)]*\)|[^\n#]*)/gm;
  for (const match of source.matchAll(statement)) {
    const names = match[3]!.replace(/[()\\]/g, ' ').split(',').map((n) => n.trim().split(/\s+as\s+/));
    const hit = names.find((parts) => (parts[1] ?? parts[0]) === name);
    if (!hit) continue;
    const line = source.slice(0, match.index).split('\n').length;
    return { module: match[2]!, dots: match[1]!.length, original: hit[0]!.trim(), line, text: match[0].split('\n')[0]!.trim() };
  }
  return undefined;
}

/**
 * Where `prefect deploy` may have been run for a prefect.yaml in `relativeDir`: its own folder, or
 * the project root (`prefect deploy --prefect-file relativeDir/prefect.yaml` from the root). With
 * `explicit` (our `--prefect-file`), the root is known to be the working directory: tried first.
 */
export function workingDirectories(relativeDir: string, explicit = false): string[] {
  if (!relativeDir) return [''];
  return explicit ? ['', relativeDir] : [relativeDir, ''];
}

/**
 * Where Python may import an entrypoint's flow from: the working directories (workingDirectories),
 * and for a module entrypoint (`pkg.flows:etl`) also the `PYTHONPATH` folders in `pythonPath`
 * (relative to the project root), which Prefect's import (sys.path: the working directory, then
 * PYTHONPATH) searches too. A file entrypoint is a path: PYTHONPATH plays no part.
 */
export function entrypointBases(entrypoint: string, relativeDir: string, explicit = false, pythonPath: readonly string[] = []): string[] {
  const bases = workingDirectories(relativeDir, explicit);
  if (entrypointTarget(entrypoint)?.form !== 'module') return bases;
  // A module is imported through sys.path: the working directory, PYTHONPATH, and the installed
  // packages, which for a project in the src layout (pip install -e .) are its src/ folder.
  const srcLayout = bases.map((b) => (b === '' ? 'src' : `${b}/src`));
  return [...new Set([...bases, ...pythonPath, ...srcLayout])];
}
