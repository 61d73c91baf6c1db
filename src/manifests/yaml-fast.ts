import { Document, isScalar, parseDocument } from 'yaml';

/**
 * A fast reader for the plain subset of YAML that manifests are almost always written in: block
 * mappings and block sequences of single-line plain or quoted scalars, single-line flow
 * collections, `|`/`>` block scalars, comments, `---` between documents. It returns the same
 * JavaScript values as the `yaml` library (plain scalars are resolved by that library's own YAML 1.2
 * core schema tags, block scalars by yaml itself) and the offsets `yaml` gives the nodes, which is
 * all a SourceDocument needs to report file:line:col.
 *
 * Anything outside that subset (multi-line plain, quoted or flow values, keep-chomped block
 * scalars, anchors, aliases, tags, merge keys, escapes, tabs, directives, duplicate or non-string
 * keys, numbers JSON cannot carry, anything `yaml` might call an error) makes it return undefined,
 * and the caller parses the text with `yaml` as before: every error message and position still
 * comes from `yaml`. It reads the subset several times faster than `yaml`'s parseAllDocuments and
 * keeps no syntax tree. test/unit/yaml-fast.test.ts checks values and positions against `yaml` on
 * every YAML fixture of the repository and on each construct at the edge of the subset.
 */

/** Offsets of one node, as `yaml` ranges start: a scalar's first character, a collection's first key or dash. */
export type FastNode = number | FastMap | FastSeq;

// Kept for every document of a project (10,000 manifests: every one), so each collection is two
// objects with arrays of exactly their length rather than growable arrays per field.
export class FastMap {
  constructor(
    readonly start: number,
    /** Three per key, in order: the key, its offset, its value's node. */
    readonly entries: readonly (string | FastNode)[],
  ) {}
}

export class FastSeq {
  constructor(
    readonly start: number,
    readonly items: readonly FastNode[],
  ) {}
}

export interface FastDocument {
  /** null for a document that holds nothing (only comments, or an empty `---`). */
  readonly value: unknown;
  /** Offsets of the value's nodes; undefined when the document holds nothing. */
  readonly node: FastNode | undefined;
}

export interface FastParse {
  readonly documents: readonly FastDocument[];
  /** Offsets at which lines start, as `yaml`'s LineCounter records them. */
  readonly lineStarts: number[];
}

/** Thrown inside the parser to give up on the fast path; never escapes parseYamlFast. */
class OutsideSubset {}
const OUTSIDE = new OutsideSubset();
const giveUp = (): never => {
  throw OUTSIDE;
};

// Characters the subset never holds: tabs, carriage returns and other C0/C1 controls, DEL, byte
// order marks and Unicode line separators (yaml's handling of each is its own business).
const UNUSUAL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;
/** A plain scalar may not start with these (YAML's indicators); `-` is checked separately. */
const INDICATOR = new Set(['?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`']);

/** The scalar tags `yaml` resolves plain scalars with, with the same options parseYamlText uses. */
const schemaDocument = new Document(null, { merge: true, uniqueKeys: true });
export const SCALAR_TAGS = schemaDocument.schema.tags.filter((tag) => tag.default === true && tag.test !== undefined && !tag.collection);
const SCALAR_OPTIONS = schemaDocument.options;

/**
 * First characters with which a plain scalar can be anything but a string under the core schema
 * (null `~`/`null`, booleans, numbers, `.inf`/`.nan`). Any other start is a string without testing
 * every tag's pattern, which most keys and values would otherwise pay (test/unit/yaml-fast.test.ts
 * checks this set against the tags of the pinned yaml).
 */
export const MAY_RESOLVE = '~nNtTfF+-.0123456789';

/** A plain scalar's value as `yaml` resolves it (first default tag whose test matches, else a string). */
export function resolvePlain(source: string): unknown {
  if (source.length > 0 && !MAY_RESOLVE.includes(source[0]!)) return source;
  for (const tag of SCALAR_TAGS) {
    if (tag.test!.test(source)) {
      let failed = false;
      const resolved = (tag.resolve as (value: string, onError: (message: string) => void, options: unknown) => unknown)(source, () => (failed = true), SCALAR_OPTIONS);
      // Some tags (null, bool) resolve to a Scalar node; toJS gives its value.
      const value = isScalar(resolved) ? resolved.value : resolved;
      if (failed || (value !== null && typeof value === 'object')) giveUp();
      // Numbers JSON cannot carry are reported by yaml-checks (through the yaml path).
      if (typeof value === 'number' && (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value)))) giveUp();
      if (typeof value === 'bigint') giveUp();
      return value;
    }
  }
  return source;
}

/**
 * Parses `text` if it lies inside the subset, else returns undefined (parse it with `yaml`).
 * Never throws.
 */
export function parseYamlFast(text: string): FastParse | undefined {
  if (UNUSUAL.test(text)) return undefined;
  try {
    return new FastParser(text).parse();
  } catch (error) {
    if (error === OUTSIDE) return undefined;
    throw error;
  }
}

class FastParser {
  private readonly lineStarts: number[];
  /** Per line: its text (without the newline). */
  private readonly lines: string[];
  /** Per line: count of leading spaces, or -1 for a blank or comment-only line. */
  private readonly indents: number[];
  private line = 0;
  /** Lines of the current document end before this one. */
  private end = 0;

  constructor(private readonly text: string) {
    this.lines = text.split('\n');
    this.indents = new Array<number>(this.lines.length);
    this.lineStarts = new Array<number>(this.lines.length);
    let offset = 0;
    for (let i = 0; i < this.lines.length; i++) {
      const line = this.lines[i]!;
      this.lineStarts[i] = offset;
      offset += line.length + 1;
      let n = 0;
      while (n < line.length && line.charCodeAt(n) === 32) n++;
      this.indents[i] = n === line.length || line.charCodeAt(n) === 35 /* # */ ? -1 : n;
    }
  }

  parse(): FastParse {
    const documents: FastDocument[] = [];
    // Document boundaries: `---` lines (alone, or before a comment). `...`, directives and
    // anything written after `---` are left to yaml.
    const markers: number[] = [];
    for (let i = 0; i < this.lines.length; i++) {
      const line = this.lines[i]!;
      if (line.startsWith('---') || line.startsWith('...')) {
        const rest = line.slice(3).trimStart();
        if (line.startsWith('...') || (line.length > 3 && line[3] !== ' ') || (rest !== '' && !rest.startsWith('#'))) giveUp();
        markers.push(i);
        this.indents[i] = -2;
      } else if (line.startsWith('%')) giveUp();
    }
    const firstContent = this.nextContent(0, this.lines.length);
    // Content before the first marker is a document of its own; so is each `---`.
    const starts = [...(firstContent < (markers[0] ?? this.lines.length) ? [-1] : []), ...markers];
    starts.forEach((marker, k) => {
      this.line = marker + 1;
      this.end = starts[k + 1] ?? this.lines.length;
      const first = this.nextContent(this.line, this.end);
      if (first >= this.end) {
        documents.push({ value: null, node: undefined });
        return;
      }
      this.line = first;
      const parsed = this.block(this.indents[first]!);
      if (this.nextContent(this.line + 1, this.end) < this.end) giveUp();
      documents.push(parsed);
    });
    return { documents, lineStarts: this.lineStarts };
  }

  /** The first line at or after `from` (before `end`) that holds content. */
  private nextContent(from: number, end: number): number {
    let i = from;
    while (i < end && this.indents[i]! < 0) i++;
    return i;
  }

  private offset(line: number, column: number): number {
    return this.lineStarts[line]! + column;
  }

  /** A block collection whose first line is `this.line`, its content starting at `column`. */
  private block(column: number): { value: unknown; node: FastNode } {
    const text = this.lines[this.line]!;
    if (isDash(text, column)) return this.sequence(column);
    if (keyEnd(text, column) < 0) giveUp(); // a scalar on its own line: multi-line or a root scalar
    return this.mapping(column, column);
  }

  /**
   * A block mapping of keys at `indent`; the first key starts at `firstColumn` of the current line
   * (further right than `indent` only for a mapping that starts on a sequence item's line).
   */
  private mapping(indent: number, firstColumn: number): { value: unknown; node: FastMap } {
    const value: Record<string, unknown> = {};
    const entries: (string | FastNode)[] = [];
    const start = this.offset(this.line, firstColumn);
    let column = firstColumn;
    for (;;) {
      const text = this.lines[this.line]!;
      const colon = keyEnd(text, column);
      if (colon < 0) giveUp();
      const key = this.key(text, column, colon);
      if (Object.prototype.hasOwnProperty.call(value, key)) giveUp(); // yaml reports the duplicate
      const keyStart = this.offset(this.line, column);
      const entry = this.valueAfter(text, colon + 1, indent, true);
      value[key] = entry.value;
      entries.push(key, keyStart, entry.node);
      const next = this.nextContent(this.line + 1, this.end);
      if (next >= this.end || this.indents[next]! < indent) break;
      // More indented, or a dash at the keys' indentation (a sequence written as a value was
      // taken whole above): yaml's to judge.
      if (this.indents[next]! > indent || isDash(this.lines[next]!, indent)) giveUp();
      this.line = next;
      column = indent;
    }
    return { value, node: new FastMap(start, entries.slice()) };
  }

  /** A block sequence of dashes at `indent`, starting at the current line. */
  private sequence(indent: number): { value: unknown[]; node: FastSeq } {
    const value: unknown[] = [];
    const items: FastNode[] = [];
    const start = this.offset(this.line, indent);
    for (;;) {
      const text = this.lines[this.line]!;
      if (!isDash(text, indent)) giveUp();
      const entry = this.valueAfter(text, indent + 1, indent, false);
      value.push(entry.value);
      items.push(entry.node);
      const next = this.nextContent(this.line + 1, this.end);
      if (next >= this.end || this.indents[next]! < indent) break;
      if (this.indents[next]! > indent) giveUp();
      // A key at the dash's indentation: the end of a sequence that is a mapping value written at the
      // key's indentation (`tags:` then `- a` below it); the mapping decides.
      if (!isDash(this.lines[next]!, indent)) break;
      this.line = next;
    }
    return { value, node: new FastSeq(start, items.slice()) };
  }

  /**
   * The value after a key's colon or an item's dash, at `from` of the current line: on the same line
   * (a scalar, or for a sequence item a mapping that starts there), on the lines below (more
   * indented than `indent`; a mapping value may also be a sequence at `indent` itself), or nothing.
   * Leaves `this.line` on the last line it used.
   */
  private valueAfter(text: string, from: number, indent: number, inMapping: boolean): { value: unknown; node: FastNode } {
    let at = from;
    while (at < text.length && text.charCodeAt(at) === 32) at++;
    if (at < text.length && text[at] !== '#') {
      if (at === from) giveUp(); // `key:value` is not a key; `-x` is not an item
      if (!inMapping && keyEnd(text, at) >= 0) return this.mapping(at, at);
      if (isDash(text, at)) giveUp(); // `key: - x`, `- - x`
      if (text[at] === '|' || text[at] === '>') return this.blockScalar(text, at, indent);
      const scalar = this.scalar(text, at);
      const next = this.nextContent(this.line + 1, this.end);
      // A more indented line after a scalar continues it (a multi-line scalar) or is an error.
      if (next < this.end && this.indents[next]! > indent) giveUp();
      return scalar;
    }
    // Nothing on this line: yaml places the empty value after the indicator and its spaces.
    const empty = { value: null, node: this.offset(this.line, at) };
    const next = this.nextContent(this.line + 1, this.end);
    if (next >= this.end) return empty;
    const nextIndent = this.indents[next]!;
    if (nextIndent > indent || (inMapping && nextIndent === indent && isDash(this.lines[next]!, indent))) {
      this.line = next;
      return this.block(nextIndent);
    }
    return empty;
  }

  /**
   * A literal or folded block scalar (`description: >-` and the lines below it) whose header is
   * `|`, `|-`, `>` or `>-` alone. Folding and chomping are yaml's: the scalar's own lines, unchanged,
   * are read by yaml as the value of a one-key document, which gives the same text as long as the
   * lines below the header are what yaml would take as the scalar (checked here: every non-blank
   * line more indented than the parent and at least as indented as the first one, no leading blank
   * line more indented than it). Keep chomping (`|+`), indentation indicators and comments after
   * the header go to yaml with the whole file.
   */
  private blockScalar(text: string, at: number, indent: number): { value: unknown; node: FastNode } {
    const header = text.slice(at).trimEnd();
    if (header !== '|' && header !== '|-' && header !== '>' && header !== '>-') giveUp();
    let content = -1;
    let last = -1;
    let leadingBlank = 0;
    for (let j = this.line + 1; j < this.end; j++) {
      const line = this.lines[j]!;
      let spaces = 0;
      while (spaces < line.length && line.charCodeAt(spaces) === 32) spaces++;
      if (spaces === line.length) {
        if (content < 0) leadingBlank = Math.max(leadingBlank, spaces);
        continue;
      }
      if (spaces <= indent) break;
      if (content < 0) content = spaces;
      else if (spaces < content) giveUp();
      last = j;
    }
    if (content < 0 || leadingBlank > content) giveUp();
    const lines = this.lines.slice(this.line + 1, last + 1).join('\n');
    // As in the file: a line break after the last line only when the file has one there.
    const single = parseDocument(`x: ${header}\n${lines}${last < this.lines.length - 1 ? '\n' : ''}`, { uniqueKeys: true, merge: true });
    const value = single.errors.length === 0 && single.warnings.length === 0 ? (single.toJS() as { x?: unknown } | null)?.x : undefined;
    if (typeof value !== 'string') giveUp();
    const node = this.offset(this.line, at);
    this.line = last;
    return { value, node };
  }

  /** The key written from `column` to the colon at `colon`: a string, as yaml reads it. */
  private key(text: string, column: number, colon: number): string {
    const first = text[column]!;
    let key: unknown;
    if (first === '"' || first === "'") {
      const quoted = readQuoted(text, column);
      if (!quoted || quoted.end !== colon) giveUp();
      key = quoted!.value;
    } else {
      const source = text.slice(column, colon);
      // `a : 1`, merge keys and a key that would set the object's prototype go to yaml.
      // Implicit keys longer than 1024 characters are an error for yaml.
      if (source !== source.trimEnd() || source === '<<' || source === '__proto__' || source.length > 1000) giveUp();
      key = resolvePlain(source);
    }
    if (typeof key !== 'string' || key === '__proto__') giveUp();
    return key as string;
  }

  /** A single-line scalar starting at `at`, ending the line (before an optional comment). */
  private scalar(text: string, at: number): { value: unknown; node: FastNode } {
    const first = text[at]!;
    const node = this.offset(this.line, at);
    if (first === '[' || first === '{') {
      const flow = this.flow(text, at);
      if (!isLineEnd(text, flow.end)) giveUp();
      return flow;
    }
    if (first === '"' || first === "'") {
      const quoted = readQuoted(text, at);
      if (!quoted) giveUp();
      if (!isLineEnd(text, quoted!.end)) giveUp();
      return { value: quoted!.value, node };
    }
    if (INDICATOR.has(first) || first === '-') {
      // `-1`, `-x` are plain scalars; `- x` was taken as an item before.
      if (first !== '-' || text.length === at + 1 || text[at + 1] === ' ') giveUp();
    }
    const comment = text.indexOf(' #', at);
    const source = (comment < 0 ? text.slice(at) : text.slice(at, comment)).trimEnd();
    // `a: b: c` is an error for yaml; a trailing colon is a key.
    if (source.includes(': ') || source.endsWith(':') || source === '<<') giveUp();
    return { value: resolvePlain(source), node };
  }

  /**
   * A flow collection (`[a, "b"]`, `{name: p}`, nested) that closes on its own line, of plain and
   * quoted scalars; `end` is the index just past its closing bracket. Empty entries, trailing
   * commas, `key: value` pairs inside `[...]` and plain scalars with flow indicators go to yaml.
   */
  private flow(text: string, at: number): { value: unknown; node: FastNode; end: number } {
    const isMap = text[at] === '{';
    const close = isMap ? '}' : ']';
    const start = this.offset(this.line, at);
    const value: unknown[] | Record<string, unknown> = isMap ? {} : [];
    const nodes: (string | FastNode)[] = [];
    const done = (end: number) => ({ value, node: isMap ? new FastMap(start, nodes.slice()) : new FastSeq(start, nodes.slice() as FastNode[]), end });
    let i = skipSpaces(text, at + 1);
    if (text[i] === close) return done(i + 1);
    for (;;) {
      if (isMap) {
        const keyAt = i;
        const key = this.flowItem(text, i, true);
        if (text[key.end] !== ':' || text[key.end + 1] !== ' ' || typeof key.value !== 'string' || key.value === '__proto__' || key.value === '<<') giveUp();
        if (Object.prototype.hasOwnProperty.call(value, key.value as string)) giveUp();
        i = skipSpaces(text, key.end + 1);
        const item = this.flowItem(text, i, false);
        (value as Record<string, unknown>)[key.value as string] = item.value;
        nodes.push(key.value as string, this.offset(this.line, keyAt), item.node);
        i = skipSpaces(text, item.end);
      } else {
        const item = this.flowItem(text, i, false);
        (value as unknown[]).push(item.value);
        nodes.push(item.node);
        i = skipSpaces(text, item.end);
      }
      if (text[i] === close) return done(i + 1);
      if (text[i] !== ',') giveUp();
      i = skipSpaces(text, i + 1);
      if (text[i] === close || text[i] === ',') giveUp(); // a trailing or empty entry
    }
  }

  /** One entry of a flow collection at `at`: a nested collection, a quoted or a plain scalar. */
  private flowItem(text: string, at: number, isKey: boolean): { value: unknown; node: FastNode; end: number } {
    const first = text[at];
    if (first === undefined) giveUp();
    if (first === '[' || first === '{') {
      if (isKey) giveUp();
      return this.flow(text, at);
    }
    const node = this.offset(this.line, at);
    if (first === '"' || first === "'") {
      const quoted = readQuoted(text, at);
      if (!quoted) giveUp();
      return { value: quoted!.value, node, end: quoted!.end };
    }
    if (INDICATOR.has(first!) || (first === '-' && (text[at + 1] === ' ' || text[at + 1] === undefined))) giveUp();
    let i = at;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (c === ',' || c === ']' || c === '}' || c === '[' || c === '{') break;
      if (c === ':' && (i + 1 === text.length || ' ,[]{}'.includes(text[i + 1]!))) break;
      if (c === '#' && text[i - 1] === ' ') giveUp();
    }
    const source = text.slice(at, i).trimEnd();
    if (text[i] === '[' || text[i] === '{' || source === '<<') giveUp();
    return { value: resolvePlain(source), node, end: at + source.length };
  }
}

/** Whether only spaces, and perhaps a comment after them, follow index `at`. */
function isLineEnd(text: string, at: number): boolean {
  const rest = text.slice(at);
  return rest.trim() === '' || /^ +#/.test(rest);
}

function skipSpaces(text: string, at: number): number {
  let i = at;
  while (text.charCodeAt(i) === 32) i++;
  return i;
}

/** Whether the line has a sequence dash at `column` (followed by a space or the end of the line). */
function isDash(text: string, column: number): boolean {
  return text.charCodeAt(column) === 45 /* - */ && (column + 1 === text.length || text.charCodeAt(column + 1) === 32);
}

/**
 * The index of the colon that ends an implicit key written from `column` (a colon followed by a
 * space or the end of the line, before any comment), or -1 when the text there is not a key.
 */
function keyEnd(text: string, column: number): number {
  const first = text[column];
  if (first === undefined) return -1;
  if (first === '"' || first === "'") {
    const quoted = readQuoted(text, column);
    if (!quoted || text[quoted.end] !== ':' || !(quoted.end + 1 === text.length || text[quoted.end + 1] === ' ')) return -1;
    return quoted.end;
  }
  if (INDICATOR.has(first) || first === '-') return -1;
  for (let i = column + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 58 /* : */ && (i + 1 === text.length || text.charCodeAt(i + 1) === 32)) return i;
    if (c === 35 /* # */ && text.charCodeAt(i - 1) === 32) return -1;
  }
  return -1;
}

/**
 * A quoted scalar that closes on its own line: its value and the index just past the closing quote;
 * undefined when it does not close there or holds an escape (yaml reads those).
 */
function readQuoted(text: string, at: number): { value: string; end: number } | undefined {
  const quote = text[at];
  if (quote === '"') {
    const close = text.indexOf('"', at + 1);
    if (close < 0) return undefined;
    const value = text.slice(at + 1, close);
    if (value.includes('\\')) return undefined;
    return { value, end: close + 1 };
  }
  let value = '';
  let i = at + 1;
  for (;;) {
    const close = text.indexOf("'", i);
    if (close < 0) return undefined;
    value += text.slice(i, close);
    if (text[close + 1] === "'") {
      value += "'";
      i = close + 2;
    } else return { value, end: close + 1 };
  }
}
