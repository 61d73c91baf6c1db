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
  /** Values for step outputs (`--set build-image.image=...`, config `step_outputs`), by `<id>.<key>` or flat `<key>`. */
  readonly stepOutputs?: Readonly<Record<string, string>>;
  /**
   * For a prefect.yaml entry: the functions of the file's build and push steps. Their presence turns
   * on `prefect deploy`'s step-output templating (see {@link renderPrefectForm}).
   */
  readonly stepFunctions?: readonly string[];
}

/** prefect.yaml's own forms: `{{ $ENV_VAR }}` and `{{ <step-id>.<key> }}` (Prefect's placeholder grammar). */
const PREFECT_PLACEHOLDER = /\{\{\s*([\w.\-\[\]$]+)\s*\}\}/g;

export interface TemplateProblem {
  readonly path: PathSegment[];
  readonly message: string;
  /** Default: an error. */
  readonly severity?: 'warning';
}

/**
 * What Prefect's own steps return (`prefect/deployments/steps/`, prefect-docker). `prefect deploy`
 * merges every step's result flat into the templating context (`run_steps`: the result under the
 * step's id, and each key on its own, later steps winning), so `{{ stdout }}` is the last shell
 * step's output. A step not listed here may return anything.
 */
const STEP_OUTPUT_KEYS: Readonly<Record<string, readonly string[]>> = {
  'prefect.deployments.steps.run_shell_script': ['stdout', 'stderr'],
  'prefect.deployments.steps.utility.run_shell_script': ['stdout', 'stderr'],
  'prefect.deployments.steps.pip_install_requirements': ['stdout', 'stderr'],
  'prefect.deployments.steps.utility.pip_install_requirements': ['stdout', 'stderr'],
  'prefect.deployments.steps.set_working_directory': ['directory'],
  'prefect.deployments.steps.git_clone': ['directory'],
  'prefect.deployments.steps.pull_from_remote_storage': ['directory'],
  'prefect.deployments.steps.pull_with_block': ['directory'],
  'prefect_docker.deployments.steps.build_docker_image': ['image_name', 'tag', 'image', 'image_id', 'additional_tags'],
  'prefect_docker.deployments.steps.push_docker_image': ['image_name', 'tag', 'image', 'additional_tags'],
};

/** Marks a placeholder that resolves to nothing; Prefect then drops a whole-string value and empties an embedded one. */
const NOTHING = '\u0000nothing\u0000';
const DROP: unique symbol = Symbol('drop');

/**
 * Where `prefect deploy` does not template step outputs at deploy time: pull steps keep a
 * placeholder it cannot fill (`remove_notset=False`; the worker runs them), and a trigger's
 * `parameters` are kept as written (event templates).
 */
const keepsUnresolved = (path: readonly PathSegment[]): boolean => path[0] === 'pull' || (path[0] === 'triggers' && path[2] === 'parameters');

const GIT_KEYS = new Set(['sha', 'short_sha', 'branch', 'tag']);

/** Renders every string in `value`; returns the new value and every problem (unset variables...). */
export function renderTemplates(value: unknown, context: TemplateContext): { value: unknown; problems: TemplateProblem[] } {
  const problems: TemplateProblem[] = [];
  // One path, pushed and popped as the walk goes; copied only for a string that has a placeholder
  // (the only place a path is kept): most values have none, and a copy per value made this walk a
  // large share of validating many deployments.
  const path: PathSegment[] = [];
  const visit = (v: unknown): unknown => {
    if (typeof v === 'string') {
      // Both placeholder grammars (and a dropped list item) need `{{`; NOTHING is stripped from any string.
      if (!v.includes('{{') && !v.includes(NOTHING)) return v;
      const rendered = renderString(v, [...path], context, problems);
      // Prefect's apply_values: a value that is one placeholder resolving to nothing is removed.
      if (rendered === NOTHING && PREFECT_WHOLE.test(v)) return DROP;
      return rendered.split(NOTHING).join('');
    }
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        path.push(i);
        const child = typeof item === 'string' && item.includes('{{') && droppedFromList(item, [...path], context, problems) ? DROP : visit(item);
        path.pop();
        if (child !== DROP) out.push(child);
      }
      return out;
    }
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        path.push(key);
        const child = visit((v as Record<string, unknown>)[key]);
        path.pop();
        if (child === DROP) continue;
        // A key `__proto__` is data (as Object.fromEntries made it), never the prototype.
        if (key === '__proto__') Object.defineProperty(out, key, { value: child, enumerable: true, writable: true, configurable: true });
        else out[key] = child;
      }
      return out;
    }
    return v;
  };
  const out = visit(value);
  return { value: out === DROP ? undefined : out, problems };
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
    // In a prefect.yaml (stepFunctions given), do what prefect deploy 3.8 does: its deploy-time
    // apply_values (remove_notset) replaces an unset `{{ $VAR }}` by the empty string, with a
    // logged warning; pull steps and trigger parameters keep the text (remove_notset=False / not
    // templated). Our own manifests keep the error.
    if (context.stepFunctions !== undefined) {
      if (keepsUnresolved(path)) return whole;
      problems.push({ path, message: `environment variable ${name.slice(1)} is not set (used as {{ ${name} }}): prefect deploy replaces it with an empty string, and so does prefect-gitops; set it if that is not what you mean`, severity: 'warning' });
      return '';
    }
    problems.push({ path, message: `environment variable ${name.slice(1)} is not set (used as {{ ${name} }}); set it before planning` });
    return whole;
  }
  const dot = name.indexOf('.');
  const step = dot > 0 ? name.slice(0, dot) : '';
  const functions = context.stepFunctions;
  if (!context.stepIds?.includes(step)) {
    // Outside a prefect.yaml, and for what Prefect resolves elsewhere (ctx.* at run time, prefect.* from the server), keep it.
    if (functions === undefined || name.startsWith('ctx.') || name.startsWith('prefect.')) return whole;
    const found = own(context.stepOutputs, name);
    if (found !== undefined) return found;
    if (keepsUnresolved(path)) return whole;
    const head = name.split(/[.[]/)[0]!;
    const producers = functions.filter((fn) => STEP_OUTPUT_KEYS[fn]?.includes(head) ?? true);
    if (producers.length > 0) {
      problems.push({
        path,
        message: `{{ ${name} }} is an output of a build/push step (${[...new Set(producers)].join(', ')}), which prefect-gitops does not run; give it a value with --set ${name}=VALUE or under step_outputs in prefect-gitops.yaml`,
      });
      return whole;
    }
    problems.push({
      path,
      severity: 'warning',
      message: `{{ ${name} }} resolves to nothing: ${functions.length ? 'no build or push step of this file produces it' : 'this file has no build or push steps'}; prefect deploy leaves it out (the whole value when the placeholder is all of it), and so does prefect-gitops`,
    });
    return NOTHING;
  }
  const found = own(context.stepOutputs, name);
  if (found !== undefined) return found;
  problems.push({
    path,
    message: `{{ ${name} }} is an output of the build/push step "${step}", which prefect-gitops does not run; give it a value with --set ${name}=VALUE or under step_outputs in prefect-gitops.yaml`,
  });
  return whole;
}

/**
 * `prefect deploy` first fills placeholders from the environment (`apply_values(config, os.environ,
 * remove_notset=False)`), which keeps an unknown placeholder in a mapping but drops a list item that
 * is only a placeholder: `tags: ["{{ build.stdout }}"]` loses the tag before step outputs are
 * applied. Pull steps are read before that pass and keep theirs. Same here, with a warning.
 */
function droppedFromList(item: unknown, path: PathSegment[], context: TemplateContext, problems: TemplateProblem[]): boolean {
  if (context.stepFunctions === undefined || path[0] === 'pull' || typeof item !== 'string' || !PREFECT_WHOLE.test(item)) return false;
  const name = item.replace(/^\{\{\s*|\s*\}\}$/g, '');
  if (name.startsWith('$') || name.startsWith('prefect.') || Object.hasOwn(context.env, name)) return false;
  problems.push({
    path,
    severity: 'warning',
    message: `the list item ${item} is dropped: prefect deploy removes a list item that is only a placeholder before it fills in step outputs, and so does prefect-gitops; write it inside a longer string (e.g. "v${item}") to keep it`,
  });
  return true;
}

/** One Prefect placeholder and nothing else (Prefect's `full_match == template`). */
const PREFECT_WHOLE = /^\{\{\s*[\w.\-\[\]$]+\s*\}\}$/;

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
