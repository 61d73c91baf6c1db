import { basename } from 'node:path';

/**
 * How `prefect deploy` chooses a deployment's pull steps from a prefect.yaml (Prefect 3,
 * `cli/deploy/_core.py` `_run_single_deploy` and `_actions.py` `_generate_default_pull_action`),
 * as pure functions over what the file says.
 */

const SET_WORKING_DIRECTORY = 'prefect.deployments.steps.set_working_directory';
const BUILD_DOCKER_IMAGE = 'prefect_docker.deployments.steps.build_docker_image';

/** Prefect's truthiness of a YAML value: null, '', 0, false, [] and {} are falsy. */
function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

/** A single step mapping counts as a one-step list (`_wrap_single_action_mappings`). */
function asSteps(value: unknown): unknown {
  return value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0 ? [value] : value;
}

export type PullChoice =
  /** Steps written in the file (possibly `[]`: no pull steps at all), and where. */
  | { readonly kind: 'written'; readonly steps: unknown; readonly at: 'entry' | 'project' }
  /** Nothing usable is written: Prefect generates its default (see {@link defaultPullSteps}). */
  | { readonly kind: 'default' };

/**
 * The pull steps a prefect.yaml entry gets from what is written. An entry's `pull: []` (or, when
 * the entry has no `pull` key, the project's `pull: []`) means none; a non-empty entry `pull` wins,
 * then a non-empty project `pull`. Anything else (absent, `null`, an empty `pull:`, `{}`; an
 * entry's `pull: null` does not hide the project's steps) leads to Prefect's default.
 */
export function chooseWrittenPull(entry: Readonly<Record<string, unknown>>, project: { readonly has: boolean; readonly value: unknown }): PullChoice {
  const entryHas = Object.prototype.hasOwnProperty.call(entry, 'pull');
  const entryPull = asSteps(entry.pull);
  const projectPull = asSteps(project.value);
  const isEmptyList = (v: unknown): boolean => Array.isArray(v) && v.length === 0;
  if (entryHas ? isEmptyList(entryPull) : project.has && isEmptyList(projectPull)) return { kind: 'written', steps: [], at: entryHas ? 'entry' : 'project' };
  if (entryHas && truthy(entryPull)) return { kind: 'written', steps: entryPull, at: 'entry' };
  if (project.has && truthy(projectPull)) return { kind: 'written', steps: projectPull, at: 'project' };
  return { kind: 'default' };
}

/**
 * Prefect's generated pull steps, run non-interactively from `dir`:
 * - a `build_docker_image` build step with `dockerfile: auto`: work in `/opt/prefect/<dir name>`
 *   (the generated Dockerfile copies the project there); with another dockerfile: none (`[]`),
 *   since Prefect would have to ask where the code lives;
 * - else `work_pool.job_variables.image` set: work in `/opt/prefect` (the local folder does not
 *   exist inside the image);
 * - else work in `dir`.
 * `build` is the entry's build steps when it has any, else the project's.
 */
export function defaultPullSteps(dir: string, build: unknown, image: unknown): Record<string, unknown>[] {
  const steps = asSteps(build);
  const docker = Array.isArray(steps)
    ? steps.map((s) => (s && typeof s === 'object' ? (s as Record<string, unknown>)[BUILD_DOCKER_IMAGE] : undefined)).find(truthy)
    : undefined;
  const setDirectory = (directory: string) => [{ [SET_WORKING_DIRECTORY]: { directory } }];
  if (docker !== undefined) return (docker as Record<string, unknown>).dockerfile === 'auto' ? setDirectory(`/opt/prefect/${basename(dir)}`) : [];
  if (truthy(image)) return setDirectory('/opt/prefect');
  return setDirectory(dir);
}
