import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { currentBranch, currentCommit } from '../../src/manifests/git-context.js';

let repo: string;
const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { cwd: repo, encoding: 'utf8' }).trim();
let mainSha: string;
let featureSha: string;

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), 'gitops-git-'));
  git('init', '-q', '-b', 'main');
  await mkdir(join(repo, 'flows'));
  await writeFile(join(repo, 'flows', 'etl.py'), 'from prefect import flow\n\n@flow\ndef etl():\n    pass\n');
  await writeFile(join(repo, 'prefect-gitops.yaml'), 'owner: git-context\n');
  await writeFile(join(repo, 'deploy.yaml'), 'name: "{{ git.branch }}"\nentrypoint: flows/etl.py:etl\nversion: "{{ git.short_sha }}"\n');
  git('add', '.');
  git('commit', '-qm', 'one');
  mainSha = git('rev-parse', 'HEAD');
  git('checkout', '-qb', 'feature/x');
  git('commit', '-q', '--allow-empty', '-m', 'two');
  featureSha = git('rev-parse', 'HEAD');
});
afterAll(() => rm(repo, { recursive: true, force: true }));

describe('the branch', () => {
  it.each([
    ['GitHub push', { GITHUB_ACTIONS: 'true', GITHUB_REF_NAME: 'main', GITHUB_REF_TYPE: 'branch' }, 'main'],
    ['GitHub pull request', { GITHUB_ACTIONS: 'true', GITHUB_HEAD_REF: 'feature/a', GITHUB_REF_NAME: '12/merge' }, 'feature/a'],
    ['GitLab push', { GITLAB_CI: 'true', CI_COMMIT_REF_NAME: 'release/2', CI_COMMIT_SHA: 'x' }, 'release/2'],
    ['GitLab merge request', { GITLAB_CI: 'true', CI_MERGE_REQUEST_ID: '7', CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature/b', CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main' }, 'feature/b'],
    ['Jenkins (remote-tracking name)', { JENKINS_URL: 'http://j', GIT_BRANCH: 'origin/main', GIT_COMMIT: 'x' }, 'main'],
    ['Jenkins multibranch pull request', { JENKINS_URL: 'http://j', BRANCH_NAME: 'PR-12', CHANGE_ID: '12', CHANGE_BRANCH: 'feature/c', GIT_COMMIT: 'x' }, 'feature/c'],
    ['CircleCI', { CIRCLECI: 'true', CIRCLE_BRANCH: 'develop', CIRCLE_SHA1: 'x' }, 'develop'],
    ['Azure Pipelines', { BUILD_BUILDURI: 'vstfs://x', BUILD_SOURCEBRANCH: 'refs/heads/main', BUILD_SOURCEVERSION: 'x' }, 'main'],
    ['Azure Pipelines pull request', { BUILD_BUILDURI: 'vstfs://x', SYSTEM_PULLREQUEST_PULLREQUESTID: '3', SYSTEM_PULLREQUEST_SOURCEBRANCH: 'refs/heads/feature/d', SYSTEM_PULLREQUEST_TARGETBRANCH: 'refs/heads/main' }, 'feature/d'],
    ['Bitbucket Pipelines', { BITBUCKET_BUILD_NUMBER: '1', BITBUCKET_BRANCH: 'main', BITBUCKET_COMMIT: 'x' }, 'main'],
    ['Buildkite', { BUILDKITE: 'true', BUILDKITE_BRANCH: 'main', BUILDKITE_COMMIT: 'x' }, 'main'],
    ['--branch wins over CI', { GITLAB_CI: 'true', CI_COMMIT_REF_NAME: 'main', PREFECT_GITOPS_BRANCH: 'hotfix' }, 'hotfix'],
  ])('%s', async (_name, env, branch) => {
    git('checkout', '-q', '--detach', mainSha);
    expect(await currentBranch(repo, env)).toBe(branch);
  });

  it('outside CI: the checked-out branch', async () => {
    git('checkout', '-q', 'feature/x');
    expect(await currentBranch(repo, {})).toBe('feature/x');
  });

  it('outside CI on a detached HEAD: the one branch whose tip it is', async () => {
    git('checkout', '-q', '--detach', featureSha);
    expect(await currentBranch(repo, {})).toBe('feature/x');
  });

  it('a detached HEAD that is no branch tip (or several) is unknown; --branch names it', async () => {
    git('checkout', '-q', '--detach', `${featureSha}~1`);
    git('branch', '-f', 'other', mainSha);
    expect(await currentBranch(repo, {})).toBeUndefined();
    let stdout = '';
    const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stdout += t), env: {}, cwd: repo, isTty: false };
    expect(await main(['validate', '.'], io)).toBe(2);
    expect(stdout).toContain('{{ git.branch }} has no value');
    stdout = '';
    expect(await main(['validate', '.', '--branch', 'release-1'], io)).toBe(0);
  });
});

describe('the commit', () => {
  it('on a GitHub pull_request event is the pull request head, not the merge commit', async () => {
    git('checkout', '-q', '--detach', mainSha);
    const event = join(repo, '..', `event-${Date.now()}.json`);
    await writeFile(event, JSON.stringify({ pull_request: { number: 1, head: { sha: featureSha }, base: { sha: mainSha } } }));
    const env = { GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_SHA: mainSha };
    expect(await currentCommit(repo, env)).toBe(featureSha);
    expect(await currentCommit(repo, { ...env, GITHUB_EVENT_NAME: 'push' })).toBe(mainSha);
    await rm(event);
  });

  it('elsewhere is HEAD', async () => {
    git('checkout', '-q', '--detach', mainSha);
    expect(await currentCommit(repo, {})).toBe(mainSha);
  });
});
