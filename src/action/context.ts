import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

/** What the Action needs to know about the workflow run, from the runner's environment and event payload. */
export interface RunContext {
  /** `GITHUB_EVENT_NAME`: pull_request, push, schedule, workflow_dispatch, ... */
  readonly eventName: string;
  /** `owner/name`. */
  readonly repository: string;
  /** The pull request number on pull_request / pull_request_target events. */
  readonly pullRequest?: number;
  readonly apiUrl: string;
  /** Link to this run's page (its job summaries), when the runner says where it is. */
  readonly runUrl?: string;
  /** The checkout; annotation paths are relative to it. */
  readonly workspace: string;
  /** Where the plan file goes (`RUNNER_TEMP`). */
  readonly tempDir: string;
}

const PULL_REQUEST_EVENTS = new Set(['pull_request', 'pull_request_target']);

export const isPullRequestEvent = (eventName: string): boolean => PULL_REQUEST_EVENTS.has(eventName);

export async function readRunContext(env: Env, cwd: string): Promise<RunContext> {
  const eventName = env.GITHUB_EVENT_NAME ?? '';
  let pullRequest: number | undefined;
  if (isPullRequestEvent(eventName) && env.GITHUB_EVENT_PATH) {
    const payload = JSON.parse(await readFile(env.GITHUB_EVENT_PATH, 'utf8')) as { number?: unknown; pull_request?: { number?: unknown } };
    const number = payload.pull_request?.number ?? payload.number;
    if (typeof number === 'number') pullRequest = number;
  }
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const runUrl =
    env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
      ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT && env.GITHUB_RUN_ATTEMPT !== '1' ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`
      : undefined;
  return {
    eventName,
    repository: env.GITHUB_REPOSITORY ?? '',
    ...(pullRequest !== undefined ? { pullRequest } : {}),
    apiUrl: env.GITHUB_API_URL ?? 'https://api.github.com',
    ...(runUrl ? { runUrl } : {}),
    workspace: env.GITHUB_WORKSPACE ?? cwd,
    tempDir: env.RUNNER_TEMP ?? tmpdir(),
  };
}

/** A path as GitHub annotations want it: relative to the checkout, with forward slashes. */
export function workspacePath(file: string, cwd: string, workspace: string): string {
  const rel = relative(workspace, resolve(cwd, file));
  if (rel.startsWith('..') || isAbsolute(rel)) return file;
  return rel.split('\\').join('/');
}
