import type { Json } from '../prefect/types.js';
import type { Snapshot } from './snapshot.js';

/**
 * Differences from `prefect deploy` that prefect-gitops makes on purpose (README, "Equivalence with
 * `prefect deploy`"). Each is recognised by its shape so that `compare` can mark it, and so that
 * any other difference stands out as a bug.
 */
export const DELIBERATE_DIFFERENCES = {
  version: 'prefect deploy stamps a version (an md5 of the flow file, or the git commit); without `version:` prefect-gitops leaves it null',
  'description-none': 'for a flow without a docstring, prefect deploy stores the string "None"; prefect-gitops stores null',
  'block-placeholder': 'a `{{ prefect.blocks.<type>.<name> }}` placeholder is kept as written, where prefect deploy stores the block\'s value (a secret would be readable by anyone who can read the deployment)',
  'anchor-date': 'an interval schedule without `anchor_date` is anchored at the moment it is created, by either tool (not a choice of prefect-gitops)',
} as const;

export type DeliberateDifference = keyof typeof DELIBERATE_DIFFERENCES;

/** Deliberate differences every project shows; a fixture need not list them. */
export const ALWAYS_EXPECTED: readonly DeliberateDifference[] = ['version', 'anchor-date', 'description-none'];

export interface FieldDifference {
  /** `flow/deployment`. */
  readonly deployment: string;
  /** Dotted path of the field inside the deployment (`job_variables.env.MODE`); '' for the whole deployment. */
  readonly path: string;
  /** What `prefect deploy` made; undefined when absent. */
  readonly theirs: Json | undefined;
  /** What prefect-gitops made; undefined when absent. */
  readonly ours: Json | undefined;
  readonly deliberate?: DeliberateDifference;
}

/** Both anchors are "now" at creation: they differ by how long apart the two tools ran. */
const ANCHOR_WINDOW_MS = 60 * 60_000;
const BLOCK_PLACEHOLDER = /\{\{\s*prefect\.blocks\.[\w-]+\.[\w-]+/;

function classify(path: string, theirs: Json | undefined, ours: Json | undefined): DeliberateDifference | undefined {
  if (path === 'version' && ours === null && typeof theirs === 'string') return 'version';
  if (path === 'description' && theirs === 'None' && ours === null) return 'description-none';
  if (/^schedules\[\d+\]\.schedule\.anchor_date$/.test(path) && typeof theirs === 'string' && typeof ours === 'string' && Math.abs(Date.parse(theirs) - Date.parse(ours)) < ANCHOR_WINDOW_MS) return 'anchor-date';
  if (typeof ours === 'string' && BLOCK_PLACEHOLDER.test(ours)) return 'block-placeholder';
  return undefined;
}

const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Every field that differs between what `prefect deploy` made (`theirs`) and what prefect-gitops
 * made (`ours`), at the deepest path where they part, each marked when it is a deliberate
 * difference. Pure. A deployment only one side has is one difference at path ''.
 */
export function diffSnapshots(theirs: Snapshot, ours: Snapshot): FieldDifference[] {
  const out: FieldDifference[] = [];
  const keys = [...new Set([...Object.keys(theirs), ...Object.keys(ours)])].sort();
  for (const deployment of keys) {
    const a = theirs[deployment];
    const b = ours[deployment];
    if (a === undefined || b === undefined) {
      out.push({ deployment, path: '', theirs: a === undefined ? undefined : 'present', ours: b === undefined ? undefined : 'present' });
      continue;
    }
    walk(deployment, '', a, b, out);
  }
  return out;
}

function walk(deployment: string, path: string, a: Json | undefined, b: Json | undefined, out: FieldDifference[]): void {
  if (isObject(a) && isObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      walk(deployment, path ? `${path}.${key}` : key, a[key], b[key], out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((item, i) => walk(deployment, `${path}[${i}]`, item, b[i], out));
    return;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const deliberate = classify(path, a, b);
  out.push({ deployment, path, theirs: a, ours: b, ...(deliberate ? { deliberate } : {}) });
}
