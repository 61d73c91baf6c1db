import type { DeclaredAt } from '../../manifests/types.js';
import type { Issue } from '../../validate/issue.js';
import type { DesiredObject } from '../kind.js';

/**
 * Where a field of a declared object is written: the field itself, else the nearest enclosing field
 * that is (`job_variables.image` -> `job_variables`), else the document.
 */
export function fieldAt(object: DesiredObject, path: string): DeclaredAt {
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const at = object.fieldsAt[p];
    if (at) return at;
  }
  return object.declaredAt;
}

/** An issue at a field of a declared object. */
export function issueAt(object: DesiredObject, path: string, message: string, severity: Issue['severity'] = 'error'): Issue {
  const { file, line, column } = fieldAt(object, path);
  return { file, line, column, path, message, severity };
}
