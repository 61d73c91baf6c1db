import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import type { Issue } from '../validate/issue.js';
import { decodeUtf8, MAX_ALIAS_EXPANSION, yamlDocumentProblems } from './yaml-checks.js';
import { FastMap, FastSeq, parseYamlFast, type FastNode } from './yaml-fast.js';

export type PathSegment = string | number;

/** Where something is in a file, 1-based. */
export interface Position {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * One YAML document with the means to find any of its fields' positions. Everything downstream
 * works with plain data (`value`) and asks the document where a path lives only to report it.
 */
/** Where a deployment entry of a Prefect `prefect.yaml` came from, and what its project provides. */
export interface PrefectYamlContext {
  /** Absolute directory of the prefect.yaml (entrypoints are relative to it). */
  readonly dir: string;
  /** That directory relative to the project root, `''` for the root itself. */
  readonly relativeDir: string;
  /** The whole file, for positions of project-level keys such as `pull`. */
  readonly file: SourceDocument;
  /** Project-level `pull:` steps, if the file has them. */
  readonly pull?: unknown;
  /** Ids of the file's build and push steps, whose outputs placeholders may refer to. */
  readonly stepIds: readonly string[];
  /** Functions of the file's build and push steps (`prefect.deployments.steps.run_shell_script`, ...). */
  readonly stepFunctions?: readonly string[];
  /** The build steps `prefect deploy` runs for this entry: its own when it has any, else the file's. */
  readonly build?: unknown;
  /** Given with `--prefect-file`: `prefect deploy` runs in the project root, which its entrypoints are relative to first. */
  readonly explicit?: boolean;
}

/**
 * Where the nodes of one YAML document begin, as offsets into its text: backed by the `yaml`
 * library's Document, or by the offsets the fast reader (yaml-fast.ts) keeps instead of a tree.
 */
interface NodeOffsets {
  /** Offset of the document's content. */
  readonly contentStart: number;
  /** Offset of the value at `path` (of its key, with `key`), else of its nearest existing ancestor. */
  locate(path: readonly PathSegment[], key: boolean): number;
}

class YamlDocumentOffsets implements NodeOffsets {
  constructor(private readonly document: Document.Parsed) {}

  get contentStart(): number {
    return this.document.contents?.range?.[0] ?? 0;
  }

  locate(path: readonly PathSegment[], key: boolean): number {
    let node: unknown = this.document.contents;
    let best = this.contentStart;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) break;
        const keyNode = pair.key as Node;
        if (last && key && keyNode.range) return keyNode.range[0];
        node = pair.value;
        const range = (pair.value as Node | null)?.range ?? keyNode.range;
        if (range) best = range[0];
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment] as Node | undefined;
        if (!item) break;
        node = isPair(item) ? item.value : item;
        if (item.range) best = item.range[0];
      } else {
        break;
      }
    }
    return best;
  }
}

/** The same walk as YamlDocumentOffsets, over the fast reader's offsets (same answers: yaml-fast.test.ts). */
class FastDocumentOffsets implements NodeOffsets {
  constructor(private readonly root: FastNode) {}

  get contentStart(): number {
    return startOf(this.root);
  }

  locate(path: readonly PathSegment[], key: boolean): number {
    let node: FastNode | undefined = this.root;
    let best = startOf(this.root);
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      if (node instanceof FastMap) {
        const entries = node.entries;
        const name = String(segment);
        let at = 0;
        while (at < entries.length && entries[at] !== name) at += 3;
        if (at >= entries.length) break;
        if (i === path.length - 1 && key) return entries[at + 1] as number;
        node = entries[at + 2] as FastNode;
        best = startOf(node);
      } else if (node instanceof FastSeq && typeof segment === 'number') {
        const item: FastNode | undefined = node.items[segment];
        if (item === undefined) break;
        node = item;
        best = startOf(item);
      } else {
        break;
      }
    }
    return best;
  }
}

const startOf = (node: FastNode): number => (typeof node === 'number' ? node : node.start);

export class SourceDocument {
  constructor(
    /** The path as shown to users (relative to the working directory). */
    readonly file: string,
    /** 0-based index of the document inside its file. */
    readonly index: number,
    private readonly offsets: NodeOffsets,
    private readonly lineCounter: LineCounter,
    readonly value: unknown,
    /** Where this view's value sits inside the YAML document (a `deployments:` entry of a prefect.yaml). */
    private readonly base: readonly PathSegment[] = [],
    readonly prefectYaml?: PrefectYamlContext,
    /** Maps a path of `value` to where it is written, when `value` was reshaped (legacy `schedule`). */
    private readonly rewrite: (path: readonly PathSegment[]) => readonly PathSegment[] = (p) => p,
  ) {}

  /** A view of one part of this document, e.g. one entry of `deployments:`. */
  view(base: readonly PathSegment[], value: unknown, prefectYaml: PrefectYamlContext | undefined, rewrite?: (path: readonly PathSegment[]) => readonly PathSegment[]): SourceDocument {
    return new SourceDocument(this.file, this.index, this.offsets, this.lineCounter, value, [...this.base, ...base], prefectYaml, rewrite);
  }

  /** The start of the document's content. */
  get start(): Position {
    return this.base.length ? this.locate([]) : this.positionOfOffset(this.offsets.contentStart);
  }

  /**
   * Position of the value at `path`; with `key: true`, of the key that holds it (for "unknown key"
   * messages). Falls back to the nearest existing ancestor so a report always has a line.
   */
  locate(relativePath: readonly PathSegment[], options: { key?: boolean } = {}): Position {
    return this.positionOfOffset(this.offsets.locate([...this.base, ...this.rewrite(relativePath)], options.key === true));
  }

  private positionOfOffset(offset: number): Position {
    const { line, col } = this.lineCounter.linePos(offset);
    return { file: this.file, line, column: col };
  }
}

export interface ParsedFile {
  readonly documents: SourceDocument[];
  readonly issues: Issue[];
}

/**
 * Parses a YAML file into documents. Syntax errors, a file that cannot be read and a file that is
 * not UTF-8 become issues, never exceptions.
 */
export async function parseYamlFile(absolutePath: string, displayPath: string): Promise<ParsedFile> {
  const text = await readTextFile(absolutePath, displayPath);
  if ('issue' in text) return { documents: [], issues: [text.issue] };
  return parseYamlText(text.text, displayPath);
}

/** A UTF-8 text file's content, or the issue that says why it cannot be used (unreadable, not UTF-8). */
export async function readTextFile(absolutePath: string, displayPath: string): Promise<{ text: string } | { issue: Issue }> {
  let bytes: Buffer;
  try {
    // Synchronous on purpose: for the many small files of a manifest tree, fs/promises' readFile
    // (open, fstat, read, close, each a round trip through the thread pool) costs ten times the
    // CPU of a plain read (10,000 manifests: 1.0 s against 0.1 s), and nothing else waits on it.
    bytes = readFileSync(absolutePath);
  } catch (error) {
    return { issue: { file: displayPath, line: 0, column: 0, path: '', message: `cannot read the file: ${describeFsError(error)}`, severity: 'error' } };
  }
  const decoded = decodeUtf8(bytes);
  if ('problem' in decoded) return { issue: { file: displayPath, line: decoded.problem.line, column: decoded.problem.column, path: '', message: decoded.problem.message, severity: 'error' } };
  return decoded;
}

/** `permission denied (EACCES)`: what a file-system error means, without a stack or a path repeated. */
export function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const meaning: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOENT: 'it does not exist',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of its path is not a directory',
    ELOOP: 'too many symbolic links',
    EIO: 'input/output error',
  };
  if (typeof code === 'string') return `${meaning[code] ?? 'error'} (${code})`;
  return error instanceof Error ? error.message : String(error);
}

export function parseYamlText(text: string, displayPath: string): ParsedFile {
  // Most manifests are plain block YAML, which the fast reader takes at a tenth of yaml's cost;
  // anything else (and every error) is yaml's, as before.
  const fast = parseYamlFast(text);
  if (fast) {
    const lineCounter = new LineCounter();
    lineCounter.lineStarts = fast.lineStarts;
    const documents: SourceDocument[] = [];
    fast.documents.forEach((doc, index) => {
      if (doc.node !== undefined && doc.value !== null) documents.push(new SourceDocument(displayPath, index, new FastDocumentOffsets(doc.node), lineCounter, doc.value));
    });
    return { documents, issues: [] };
  }
  return parseYamlTextWithYaml(text, displayPath);
}

/** parseYamlText through the `yaml` library alone: the reference the fast reader is tested against. */
export function parseYamlTextWithYaml(text: string, displayPath: string): ParsedFile {
  const lineCounter = new LineCounter();
  // `merge` resolves YAML 1.1 `<<:` merge keys, as Prefect's prefect.yaml `definitions:` convention uses them.
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  const issues: Issue[] = [];
  const documents: SourceDocument[] = [];
  if (!Array.isArray(parsed)) {
    // An empty stream comes back as an EmptyStream object: no documents, nothing to report.
    return { documents, issues };
  }
  docs.forEach((doc, index) => {
    const problems = doc.errors;
    for (const error of problems) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      issues.push({
        file: displayPath,
        line,
        column: col,
        path: '',
        message: `YAML syntax error: ${firstLine(error.message)}`,
        severity: 'error',
      });
    }
    if (problems.length > 0) return;
    const hostile = yamlDocumentProblems(doc);
    for (const problem of hostile) {
      const { line, col } = lineCounter.linePos(problem.offset);
      issues.push({ file: displayPath, line, column: col, path: '', message: problem.message, severity: 'error' });
    }
    if (hostile.length > 0) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
    } catch (error) {
      // The checks above are meant to catch everything toJS rejects; should one slip through, it is
      // still a problem of this document, not a crash.
      const { line, col } = lineCounter.linePos(doc.contents?.range?.[0] ?? 0);
      issues.push({ file: displayPath, line, column: col, path: '', message: `YAML error: ${firstLine(error instanceof Error ? error.message : String(error))}`, severity: 'error' });
      return;
    }
    // A document that is only comments or `---` separators carries nothing.
    if (value === null || value === undefined) return;
    documents.push(new SourceDocument(displayPath, index, new YamlDocumentOffsets(doc), lineCounter, value));
  });
  return { documents, issues };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** `schedules[0].cron` style rendering of a path, for messages. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}
