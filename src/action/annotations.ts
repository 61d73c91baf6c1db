import type { DeclaredAt } from '../manifests/types.js';
import { escapeControl, forDisplay } from '../render/escape.js';
import type { Plan } from '../plan/types.js';
import { issueMessage, type Issue } from '../validate/issue.js';
import type { ActionsCore, AnnotationLocation } from './core.js';

export interface Annotation {
  readonly level: 'error' | 'warning' | 'notice';
  readonly message: string;
  readonly where?: AnnotationLocation;
}

/**
 * GitHub shows only the first few annotations of each kind per step; more only fill the log.
 * Errors are never capped (each one is something to fix); notices are.
 */
export const MAX_NOTICES = 50;

type ToPath = (file: string) => string;

/** One `::error`/`::warning` per validation issue, on the line and column it was found at. */
export function issueAnnotations(issues: readonly Issue[], toPath: ToPath): Annotation[] {
  return issues.map((issue) => ({
    level: issue.severity === 'error' ? 'error' : 'warning',
    message: escapeControl(issueMessage(issue)),
    where: { file: toPath(issue.file), line: issue.line, column: issue.column},
  }));
}

const at = (declaredAt: DeclaredAt, toPath: ToPath): AnnotationLocation => ({ file: toPath(declaredAt.file), line: declaredAt.line });

/**
 * A `::notice` on the manifest line of every planned change (capped at {@link MAX_NOTICES}), and a
 * `::warning` for each conflict and a refused prune. Field names only: values stay in the summary.
 */
export function planAnnotations(input: Plan, toPath: ToPath, options: { secrets: readonly string[] }): Annotation[] {
  const plan = forDisplay(input, options.secrets);
  const fields = (changes: readonly { field: string }[]): string => (changes.length ? `: ${changes.map((c) => c.field).join(', ')}` : '');
  const notices: Annotation[] = plan.actions.map((action) => {
    switch (action.kind) {
      case 'create':
        return { level: 'notice', message: `${action.key} will be created`, where: at(action.declaredAt, toPath) };
      case 'update':
        return { level: 'notice', message: `${action.key} will be updated in place${fields(action.changes)}`, where: at(action.declaredAt, toPath) };
      case 'adopt':
        return {
          level: 'notice',
          message: `${action.key} will be adopted (Prefect recreates its schedules and deletes its future scheduled runs)${fields(action.changes)}`,
          where: at(action.declaredAt, toPath),
        };
      case 'delete':
        return { level: 'notice', message: `${action.key} will be deleted: owned by ${plan.owner} and no longer declared` };
    }
  });
  // Workspace objects (variables, work pools, ...): one notice each, at the document that declares it.
  for (const a of plan.workspace?.actions ?? []) {
    const what = a.action === 'create' ? 'will be created' : a.action === 'update' ? `will be updated in place${fields(a.changes)}` : a.action === 'adopt' ? `will be adopted${fields(a.changes)}` : `will be deleted: owned by ${plan.owner} and no longer declared`;
    notices.push({ level: 'notice', message: `${a.kind} "${a.key}" ${what}`, ...(a.declaredAt ? { where: at(a.declaredAt, toPath) } : {}) });
  }
  const shown = notices.slice(0, MAX_NOTICES);
  if (notices.length > MAX_NOTICES) shown.push({ level: 'notice', message: `…and ${notices.length - MAX_NOTICES} more planned changes; the job summary lists them all` });
  const warnings: Annotation[] = [
    ...plan.conflicts.map((c) => ({ level: 'warning' as const, message: `${c.key}: ${c.message}`, where: at(c.declaredAt, toPath) })),
    ...(plan.workspace?.conflicts ?? []).map((c) => ({ level: 'warning' as const, message: c.message, where: at(c.declaredAt, toPath) })),
  ];
  if (plan.pruneRefused) warnings.push({ level: 'warning', message: `Apply refused: ${plan.pruneRefused}.` });
  return [...warnings, ...shown];
}

export function emitAnnotations(core: ActionsCore, annotations: readonly Annotation[]): void {
  for (const a of annotations) core[a.level](a.message, a.where);
}
