import { diffLines } from 'diff';
import { stringify } from 'yaml';
import type { PlanAction } from '../plan/types.js';
import type { Json } from '../prefect/types.js';


/**
 * Helpers every renderer (text, markdown, the Action's markdown) shares, so that the same thing is
 * shown the same way everywhere. Pure.
 */

/** Whether a value says nothing: absent, null, '', [] or {}. A create shows only the fields that are not. */
export function isEmpty(value: Json | undefined): boolean {
  if (value === null || value === undefined || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/** What a finished action did, as a word. */
export const PAST_TENSE = { create: 'created', update: 'updated', adopt: 'adopted', delete: 'deleted' } as const satisfies Record<PlanAction['kind'], string>;

/** One line of a line diff: `+` added, `-` removed, ` ` unchanged. */
export interface DiffRow {
  readonly sign: '+' | '-' | ' ';
  readonly text: string;
}

/** `before` and `after` (multi-line texts, e.g. YAML) compared line by line. */
export function diffRows(before: string, after: string): DiffRow[] {
  const rows: DiffRow[] = [];
  for (const part of diffLines(before, after)) {
    const sign = part.added ? '+' : part.removed ? '-' : ' ';
    for (const text of part.value.replace(/\n$/, '').split('\n')) rows.push({ sign, text });
  }
  return rows;
}

/** Length in UTF-8 bytes, as GitHub counts a job summary. */
export const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Text made inert as HTML: no tags, no entities. */
export const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A markdown code span (`` `name` ``) that survives backticks in the text. Markdown shows its
 * content as it is, so nothing inside needs escaping; in a table cell pipes still need `\|`, and
 * inside an HTML block (`<summary>`) markdown is not read at all: use {@link htmlCode} there.
 */
export function code(s: string): string {
  const flat = s.replace(/\s*\n\s*/g, ' ');
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/**
 * Inline code as HTML, `<code>…</code>`, with everything that could act escaped: HTML, table pipes,
 * backticks and @mentions. Valid inside HTML blocks and table cells alike, where {@link code} is not.
 */
export function htmlCode(s: string): string {
  const escaped = escapeHtml(s.replace(/\s*\n\s*/g, ' ')).replace(/\|/g, '&#124;').replace(/`/g, '&#96;').replace(/@/g, '&#64;');
  return `<code>${escaped}</code>`;
}

export { issueMessage } from '../validate/issue.js';

/**
 * The one value style of every renderer: YAML, as manifests are written. Multi-line strings are
 * literal blocks (real lines, no `\n` escapes); nothing is folded.
 */
export function yamlText(value: Json): string {
  // The same values recur across a plan (a field changed the same way in many deployments, the
  // same schedule): stringify each distinct one once. Bounded for long-lived processes.
  const key = JSON.stringify(value, negativeZero);
  let text = yamlTexts.get(key);
  if (text === undefined) {
    if (yamlTexts.size >= 5000) yamlTexts.clear();
    yamlTexts.set(key, (text = stringify(value, { lineWidth: 0, blockQuote: 'literal' })));
  }
  return text;
}

const yamlTexts = new Map<string, string>();
/** -0 is written `-0` in YAML and `0` in JSON: keep the two apart in the key. */
const negativeZero = (_key: string, v: unknown): unknown => (v === 0 && Object.is(v, -0) ? '\u0000-0' : v);

/**
 * A value on one line in the same style (`acme/etl:2`, `[a, b]`, `{ mem: 4Gi }`), or undefined when
 * it needs several (a multi-line string, or more than `width` characters).
 */
export function yamlInline(value: Json | undefined, width = 60): string | undefined {
  if (value === undefined) return '(none)';
  if (typeof value === 'string' && /[\r\n]/.test(value)) return undefined;
  const text = stringify(value, { lineWidth: 0, collectionStyle: 'flow', flowCollectionPadding: false, blockQuote: false }).trimEnd();
  return text.includes('\n') || (typeof value === 'object' && value !== null && text.length > width) ? undefined : text;
}
