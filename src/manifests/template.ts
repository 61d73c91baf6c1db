import type { PathSegment } from './source.js';
import type { GitInfo } from './load.js';

/**
 * `{{ git.sha }}`, `{{ git.short_sha }}`, `{{ git.branch }}`, `{{ git.tag }}`, `{{ env.NAME }}`,
 * each optionally `| default('value')`. Placeholders of other namespaces (`{{ prefect.variables.x }}`,
 * `{{ ctx.flow_run.id }}`, step outputs) are left as they are: Prefect or the worker resolves them.
 */
const PLACEHOLDER = /\{\{\s*(git|env)\.([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*default\(\s*(?:'([^']*)'|"([^"]*)")\s*\)\s*)?\}\}/g;

export interface TemplateContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly git?: GitInfo;
  readonly gitError?: string;
}

export interface TemplateProblem {
  readonly path: PathSegment[];
  readonly message: string;
}

const GIT_KEYS = new Set(['sha', 'short_sha', 'branch', 'tag']);

/** Renders every string in `value`; returns the new value and every problem (unset variables...). */
export function renderTemplates(value: unknown, context: TemplateContext): { value: unknown; problems: TemplateProblem[] } {
  const problems: TemplateProblem[] = [];
  const visit = (v: unknown, path: PathSegment[]): unknown => {
    if (typeof v === 'string') return renderString(v, path, context, problems);
    if (Array.isArray(v)) return v.map((item, i) => visit(item, [...path, i]));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, child]) => [k, visit(child, [...path, k])]));
    }
    return v;
  };
  return { value: visit(value, []), problems };
}

function renderString(text: string, path: PathSegment[], context: TemplateContext, problems: TemplateProblem[]): string {
  return text.replace(PLACEHOLDER, (whole, namespace: string, key: string, single?: string, double?: string) => {
    const fallback = single ?? double;
    if (namespace === 'env') {
      const found = context.env[key];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push({ path, message: `environment variable ${key} is not set (used as {{ env.${key} }}); set it, or give a default: {{ env.${key} | default('...') }}` });
      return whole;
    }
    if (!GIT_KEYS.has(key)) {
      problems.push({ path, message: `unknown git value {{ git.${key} }}; use one of git.sha, git.short_sha, git.branch, git.tag` });
      return whole;
    }
    const found = context.git?.[key as keyof GitInfo];
    if (found) return found;
    if (fallback !== undefined) return fallback;
    const why = context.git ? `the repository has no ${key === 'tag' ? 'tag on HEAD' : key}` : `no git repository (${context.gitError ?? 'not found'})`;
    problems.push({ path, message: `{{ git.${key} }} has no value: ${why}; give a default: {{ git.${key} | default('...') }}` });
    return whole;
  });
}
