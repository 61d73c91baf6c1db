import { isAlias, isMap, isPair, isScalar, isSeq, type Alias, type Document, type Node, type Pair, type Scalar } from 'yaml';

/**
 * Checks of hostile or lossy YAML that the yaml library either throws on while converting to
 * JavaScript (no position, so it used to surface as an internal error) or lets through silently.
 * Each problem carries the offset of the node at fault, so it can be reported as file:line:col.
 */
export interface YamlProblem {
  readonly offset: number;
  readonly message: string;
}

/**
 * How many values aliases may add to a document. Real manifests reuse a few anchors (prefect.yaml's
 * `definitions:`) and stay far below this; an alias bomb (billion laughs) goes far above.
 */
export const MAX_ALIAS_EXPANSION = 100_000;

/** The largest integer a JSON number carries exactly (2^53 - 1). */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Problems that make `doc.toJS()` throw or change values: aliases without an anchor before them,
 * `<<` merge keys whose value is not a mapping (or a list of them), aliases that expand to more than
 * {@link MAX_ALIAS_EXPANSION} values, and numbers JSON cannot carry (.inf, .nan, integers beyond
 * 2^53). Pure; never throws.
 */
export function yamlDocumentProblems(doc: Document.Parsed): YamlProblem[] {
  const problems: YamlProblem[] = [];
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  let expansion = 0;
  let bombReported = false;

  // Values a node stands for once aliases are expanded; an alias counts what its anchor holds.
  const sizeOf = (node: unknown): number => {
    if (!node || typeof node !== 'object') return 1;
    const known = sizes.get(node as Node);
    if (known !== undefined) return known;
    // A recursive anchor (`&a [*a]`) counts once rather than looping.
    sizes.set(node as Node, 1);
    let size = 1;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      size = target ? sizeOf(target) : 1;
    } else if (isMap(node) || isSeq(node)) {
      for (const item of node.items as unknown[]) {
        size += isPair(item) ? sizeOf(item.key) + sizeOf(item.value) : sizeOf(item);
        if (size > MAX_ALIAS_EXPANSION * 10) break;
      }
    }
    sizes.set(node as Node, size);
    return size;
  };

  const onAlias = (node: Alias): void => {
    const offset = node.range?.[0] ?? 0;
    const target = anchors.get(node.source);
    if (!target) {
      problems.push({ offset, message: `alias *${node.source} refers to no anchor: define &${node.source} before it, in the same document` });
      return;
    }
    if (bombReported) return;
    expansion += sizeOf(target);
    if (expansion > MAX_ALIAS_EXPANSION) {
      bombReported = true;
      problems.push({ offset, message: `aliases expand to more than ${MAX_ALIAS_EXPANSION} values (an alias bomb?); reuse fewer or smaller anchors` });
    }
  };
  const onPair = (pair: Pair): void => {
    if (!isScalar(pair.key) || !isMergeKey(pair.key)) return;
    const value = pair.value as Node | null;
    const ok = (item: unknown): boolean => isMap(item) || (isAlias(item) && isMap(anchors.get(item.source)));
    // An alias without an anchor is reported on its own.
    const valid = isSeq(value) ? value.items.every(ok) : ok(value) || (isAlias(value) && !anchors.has(value.source));
    if (!valid) {
      problems.push({
        offset: value?.range?.[0] ?? (pair.key as Node).range?.[0] ?? 0,
        message: `the merge key << needs a mapping, an alias of one (<<: *defaults) or a list of them, got ${describeNode(value, anchors)}`,
      });
    }
  };
  const onScalar = (node: Scalar): void => {
    if (typeof node.value !== 'number') return;
    const source = node.source ?? String(node.value);
    const offset = node.range?.[0] ?? 0;
    if (!Number.isFinite(node.value)) {
      problems.push({ offset, message: `${source} is not a finite number: JSON has no infinity or NaN (Prefect would store null); use a finite number, or quote it ("${source}") if it is text` });
    } else if (Number.isInteger(node.value) && !Number.isSafeInteger(node.value)) {
      problems.push({ offset, message: `${source} is out of range: numbers must lie between -${MAX_SAFE} and ${MAX_SAFE} (2^53 - 1) to be sent exactly; quote it ("${source}") if it is text` });
    }
  };

  // Pre-order, in document order, as yaml's `visit` walks (a node, then a pair's key and value, then
  // a collection's items), without the frozen ancestor path `visit` builds for every node: on many
  // small manifests that path was most of this check's cost.
  const walk = (node: unknown): void => {
    if (isAlias(node)) return onAlias(node);
    // An anchor is usable from the next node on (and inside itself, for recursive structures).
    if ((isScalar(node) || isMap(node) || isSeq(node)) && node.anchor) anchors.set(node.anchor, node);
    if (isPair(node)) {
      onPair(node);
      walk(node.key);
      walk(node.value);
    } else if (isScalar(node)) onScalar(node);
    else if (isMap(node) || isSeq(node)) for (const item of node.items as unknown[]) walk(item);
  };
  walk(doc.contents);
  return problems;
}

/** A YAML 1.1 merge key: a plain `<<`. The yaml library resolves it to a symbol. */
function isMergeKey(key: { value: unknown; source?: string }): boolean {
  const value = key.value;
  return value === '<<' || (typeof value === 'symbol' && value.description === '<<');
}

function describeNode(node: unknown, anchors: ReadonlyMap<string, Node>): string {
  if (node === null || node === undefined) return 'nothing';
  if (isAlias(node)) return `an alias of ${describeNode(anchors.get(node.source), anchors)}`;
  if (isSeq(node)) return 'a list that holds something other than mappings';
  if (isScalar(node)) return node.value === null ? 'null' : typeof node.value === 'string' ? `string ${JSON.stringify(node.value)}` : `${typeof node.value} ${node.source ?? String(node.value)}`;
  return 'something else';
}

export type DecodedText = { readonly text: string } | { readonly problem: { readonly line: number; readonly column: number; readonly message: string } };

/**
 * The text of a file that must be UTF-8. A UTF-8 byte order mark is accepted and dropped; UTF-16
 * (with or without its mark) and invalid UTF-8 bytes are problems located at the first bad byte,
 * never silently replaced.
 */
export function decodeUtf8(bytes: Uint8Array): DecodedText {
  const utf16 = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  const nul = bytes.indexOf(0);
  if (utf16 || nul >= 0) {
    const at = utf16 ? 0 : nul;
    return {
      problem: {
        ...positionOfByte(bytes, at),
        message: utf16 ? 'the file is not UTF-8: it is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8' : 'the file is not UTF-8 text: it holds a NUL byte (is it UTF-16?); save it as UTF-8',
      },
    };
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    const bad = firstInvalidUtf8Byte(bytes);
    return { problem: { ...positionOfByte(bytes, bad), message: `the file is not UTF-8: byte 0x${(bytes[bad] ?? 0).toString(16).padStart(2, '0')} is not valid UTF-8; save it as UTF-8` } };
  }
}

/** Line and column (1-based, in characters) of byte `index`, counting what precedes it as UTF-8. */
function positionOfByte(bytes: Uint8Array, index: number): { line: number; column: number } {
  const before = new TextDecoder('utf-8').decode(bytes.subarray(0, index));
  const lines = before.split('\n');
  return { line: lines.length, column: [...lines.at(-1)!].length + 1 };
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  // Decode growing prefixes from the last known-good boundary: the first prefix that fails at a
  // complete sequence marks the bad byte.
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const length = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return Math.max(0, bytes.length - 1);
}
