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
  /** Ids of prefect.yaml build/push steps: `{{ <id>.<key> }}` refers to their output. */
  readonly stepIds?: readonly string[];
  /** Values for step outputs (`--set build-image.image=...`, config `step_outputs`), by `<id>.<key>`. */
  readonly stepOutputs?: Readonly<Record<string, string>>;
}

/** prefect.yaml's own forms: `{{ $ENV_VAR }}` and `{{ <step-id>.<key> }}` (Prefect's placeholder grammar). */
const PREFECT_PLACEHOLDER = /\{\{\s*([\w.\-\[\]$]+)\s*\}\}/g;

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

/**
 * Both placeholder grammars in one pattern, so a string is substituted in a single pass: a value
 * that came from a variable is never read for placeholders again (`INDIRECT='{{ env.SECRET }}'`
 * stays that literal text). Ours come first: `{{ env.X | default('y') }}` is not a Prefect form.
 */
const ANY_PLACEHOLDER = new RegExp(`${PLACEHOLDER.source}|${PREFECT_PLACEHOLDER.source}`, 'g');

/** A value of a lookup table only when it is the table's own: `constructor` and `__proto__` are not variables. */
const own = <T>(table: Readonly<Record<string, T>> | undefined, key: string): T | undefined => (table && Object.hasOwn(table, key) ? table[key] : undefined);

function renderString(text: string, path: PathSegment[], context: TemplateContext, problems: TemplateProblem[]): string {
  // A placeholder that is the whole string keeps its value's type in Prefect; ours are strings anyway.
  return text.replace(ANY_PLACEHOLDER, (whole, namespace?: string, key?: string, single?: string, double?: string, name?: string) => {
    if (namespace !== undefined && key !== undefined) return renderOurs(whole, namespace, key, single ?? double, path, context, problems);
    return renderPrefectForm(whole, name ?? '', path, context, problems);
  });
}

/** prefect.yaml's `{{ $ENV_VAR }}` and `{{ <step-id>.<key> }}`; anything else is left for Prefect or the worker. */
function renderPrefectForm(whole: string, name: string, path: PathSegment[], context: TemplateContext, problems: TemplateProblem[]): string {
  if (name.startsWith('$')) {
    const found = own(context.env, name.slice(1));
    if (found !== undefined) return found;
    problems.push({ path, message: `environment variable ${name.slice(1)} is not set (used as {{ ${name} }}); set it before planning` });
    return whole;
  }
  const dot = name.indexOf('.');
  const step = dot > 0 ? name.slice(0, dot) : '';
  if (!context.stepIds?.includes(step)) return whole;
  const found = own(context.stepOutputs, name);
  if (found !== undefined) return found;
  problems.push({
    path,
    message: `{{ ${name} }} is an output of the build/push step "${step}", which prefect-gitops does not run; give it a value with --set ${name}=VALUE or under step_outputs in prefect-gitops.yaml`,
  });
  return whole;
}

/** `{{ env.X }}` and `{{ git.x }}`, each optionally `| default('...')`. */
function renderOurs(whole: string, namespace: string, key: string, fallback: string | undefined, path: PathSegment[], context: TemplateContext, problems: TemplateProblem[]): string {
  if (namespace === 'env') {
    const found = own(context.env, key);
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
}
