import type { DeclaredAt } from '../../manifests/types.js';
import type { Issue } from '../../validate/issue.js';
import type { DesiredObject } from '../kind.js';

/**
 * Where a field of a declared object is written: the field itself, else the nearest enclosing field
 * that is (`job_variables.image` -> `job_variables`, `actions[0].deployment` -> `actions[0]` ->
 * `actions`), else the document. List items may be written `actions[0]` or `actions.0`.
 */
export function fieldAt(object: DesiredObject, path: string): DeclaredAt {
  for (let p = path; p !== ''; p = parentPath(p)) {
    const at = object.fieldsAt[p] ?? object.fieldsAt[p.replace(/\[(\d+)\]/g, '.$1')];
    if (at) return at;
  }
  return object.declaredAt;
}

function parentPath(path: string): string {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut > 0 ? path.slice(0, cut) : '';
}

/** An issue at a field of a declared object. */
export function issueAt(object: DesiredObject, path: string, message: string, severity: Issue['severity'] = 'error'): Issue {
  const { file, line, column } = fieldAt(object, path);
  return { file, line, column, path, message, severity };
}
