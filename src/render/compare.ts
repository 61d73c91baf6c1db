import type { ComparisonResult } from '../compare/compare.js';
import { DELIBERATE_DIFFERENCES } from '../compare/diff.js';
import type { Json } from '../prefect/types.js';

const show = (value: Json | undefined): string => (value === undefined ? '(absent)' : JSON.stringify(value));

/** `prefect-gitops compare` as text: every differing field, the deliberate ones marked, and a summary (pure). */
export function renderComparisonText(result: ComparisonResult): string {
  if (result.deploy.code !== 0) {
    const tail = (result.deploy.stdout + result.deploy.stderr).trimEnd().split('\n').slice(-30).join('\n');
    return `prefect deploy --all failed (exit ${result.deploy.code}); nothing was compared. Its output:\n${tail}\n`;
  }
  const lines: string[] = [];
  const keys = [...new Set([...Object.keys(result.theirs), ...Object.keys(result.ours)])].sort();
  const deliberate = new Set<string>();
  for (const key of keys) {
    const differences = result.differences.filter((d) => d.deployment === key);
    const real = differences.filter((d) => !d.deliberate);
    lines.push(`${real.length === 0 ? '=' : '~'} ${key}${real.length === 0 ? (differences.length ? ' (equal except deliberate differences)' : ' (equal)') : ''}`);
    for (const d of differences) {
      if (d.path === '') {
        lines.push(`    only made by ${d.theirs === undefined ? 'prefect-gitops' : 'prefect deploy'}`);
        continue;
      }
      if (d.deliberate) deliberate.add(d.deliberate);
      lines.push(`    ${d.path}: prefect deploy ${show(d.theirs)}, prefect-gitops ${show(d.ours)}${d.deliberate ? `  [deliberate: ${d.deliberate}]` : ''}`);
    }
  }
  const equal = keys.filter((k) => result.differences.every((d) => d.deployment !== k || d.deliberate)).length;
  lines.push('');
  for (const id of [...deliberate].sort()) lines.push(`[deliberate: ${id}] ${DELIBERATE_DIFFERENCES[id as keyof typeof DELIBERATE_DIFFERENCES]}`);
  if (deliberate.size) lines.push('');
  lines.push(`${equal} of ${keys.length} deployment${keys.length === 1 ? '' : 's'} field-by-field equal${deliberate.size ? ' (except the deliberate differences marked)' : ''}.`);
  return `${lines.join('\n')}\n`;
}

/** Whether the two tools made the same deployments, deliberate differences aside. */
export const comparisonIsEqual = (result: ComparisonResult): boolean => result.deploy.code === 0 && result.differences.every((d) => d.deliberate);
