import { readFileSync } from 'node:fs';
import envCi from 'env-ci';
import { simpleGit } from 'simple-git';

type Env = Readonly<Record<string, string | undefined>>;

/** Set by `--branch` (or by hand in CI): the branch, whatever the CI system or git says. */
export const BRANCH_OVERRIDE_VARIABLE = 'PREFECT_GITOPS_BRANCH';

/**
 * The branch being applied from, for `environments.<name>.branches` and `{{ git.branch }}`:
 * `--branch` (PREFECT_GITOPS_BRANCH); else the CI system's variables, because CI checkouts are
 * often a detached HEAD (GitHub Actions here; GitLab CI, Jenkins, CircleCI, Azure Pipelines,
 * Bitbucket, Buildkite and others through env-ci); on a pull/merge request, its source branch; else
 * git: the checked-out branch, or on a detached HEAD the one branch (local, else remote) whose tip
 * it is. Undefined when none of them knows, or a detached HEAD is the tip of several branches.
 */
export async function currentBranch(dir: string, env: Env): Promise<string | undefined> {
  if (env[BRANCH_OVERRIDE_VARIABLE]) return env[BRANCH_OVERRIDE_VARIABLE];
  return ciBranch(dir, env) ?? (await gitBranch(dir));
}

/**
 * The commit for `{{ git.sha }}`: on a GitHub pull request event the pull request's head commit
 * (the checkout is GitHub's temporary merge commit, which never exists after the merge), else HEAD.
 */
export async function currentCommit(dir: string, env: Env): Promise<string> {
  return pullRequestHeadSha(env) ?? (await simpleGit({ baseDir: dir }).revparse(['HEAD'])).trim();
}

/** The branch from the CI system's variables; undefined outside CI or when it does not say. */
export function ciBranch(dir: string, env: Env): string | undefined {
  if (env.GITHUB_ACTIONS || env.GITHUB_REF_NAME || env.GITHUB_HEAD_REF) {
    // A pull request's head branch, else the pushed branch; a tag is not a branch.
    return env.GITHUB_HEAD_REF || (env.GITHUB_REF_TYPE !== 'tag' ? env.GITHUB_REF_NAME : undefined) || undefined;
  }
  const ci = envCi({ env: { ...env } as Record<string, string>, cwd: dir });
  // Outside a CI system env-ci asks git, which gitBranch does better (detached HEADs).
  if (!ci.isCi || ci.service === 'git' || ci.service === undefined) return undefined;
  // A Jenkins multibranch pull request names its source branch CHANGE_BRANCH (BRANCH_NAME is PR-<n>).
  const branch = ci.service === 'jenkins' && env.CHANGE_BRANCH ? env.CHANGE_BRANCH : ci.isPr ? ci.prBranch : ci.branch;
  // Jenkins' GIT_BRANCH is often the remote-tracking name (origin/main).
  return branch ? branch.replace(/^refs\/heads\//, '').replace(/^origin\//, '') : undefined;
}

function pullRequestHeadSha(env: Env): string | undefined {
  if (!/^pull_request/.test(env.GITHUB_EVENT_NAME ?? '') || !env.GITHUB_EVENT_PATH) return undefined;
  try {
    const event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as { pull_request?: { head?: { sha?: unknown } } };
    const sha = event.pull_request?.head?.sha;
    return typeof sha === 'string' && /^[0-9a-f]{40,64}$/.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

async function gitBranch(dir: string): Promise<string | undefined> {
  try {
    const git = simpleGit({ baseDir: dir });
    const branch = (await git.revparse(['--abbrev-ref', 'HEAD'])).trim();
    if (branch && branch !== 'HEAD') return branch;
    // Detached HEAD: the branch whose tip it is, if exactly one (local first, then remote).
    const names = async (args: string[]): Promise<string[]> =>
      [...new Set((await git.raw(['branch', ...args, '--points-at', 'HEAD', '--format=%(refname:lstrip=2)'])).split('\n').map((b) => b.trim()).filter((b) => b && !b.startsWith('(') && !b.endsWith('/HEAD')))];
    const local = await names([]);
    if (local.length > 0) return local.length === 1 ? local[0] : undefined;
    // Remote-tracking names are <remote>/<branch>; lstrip=3 drops refs/remotes/<remote>.
    const remote = [...new Set((await git.raw(['branch', '-r', '--points-at', 'HEAD', '--format=%(refname:lstrip=3)'])).split('\n').map((b) => b.trim()).filter((b) => b && b !== 'HEAD'))];
    return remote.length === 1 ? remote[0] : undefined;
  } catch {
    return undefined;
  }
}
