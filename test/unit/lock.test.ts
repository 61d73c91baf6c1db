import { describe, expect, it } from 'vitest';
import { ciRunUrl, claimName, describeHolder, lockName, lockTtlMs } from '../../src/apply/lock.js';
import { formatDuration, parseDuration } from '../../src/duration.js';

describe('the apply lock helpers', () => {
  it.each([
    ['0', 0],
    ['90', 90_000],
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    [' 2m ', 120_000],
    ['0.5', 500],
    ['1.5s', 1500],
    ['1h2m3s', 3_723_000],
  ])('parses the duration %j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'soon', '5 m', '-1s', '5mm', '1d', 's'])('refuses the duration %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([
    [800, '800ms'],
    [1000, '1s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [300_000, '5m'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('names the lock variable after the owner, within Prefect’s variable name rules', () => {
    expect(lockName('data-platform')).toBe('prefect-gitops-lock-data-platform');
    const odd = lockName('Team.A/etl');
    expect(odd).toMatch(/^prefect-gitops-lock-team-a-etl-[0-9a-f]{8}$/);
    // Owners whose slugs collide get different locks.
    expect(lockName('team-a-etl')).not.toBe(odd);
    expect(claimName('flow', 'a')).toMatch(/^prefect-gitops-claim-[0-9a-f]{40}$/);
    expect(claimName('flow', 'a')).not.toBe(claimName('flo', 'wa'));
  });

  it.each([
    [{ GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/etl', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2' }, 'https://github.com/acme/etl/actions/runs/42/attempts/2'],
    [{ GITHUB_REPOSITORY: 'acme/etl', GITHUB_RUN_ID: '42' }, 'https://github.com/acme/etl/actions/runs/42'],
    [{ CI_JOB_URL: 'https://gitlab.example/acme/etl/-/jobs/7' }, 'https://gitlab.example/acme/etl/-/jobs/7'],
    [{ BUILD_URL: 'https://jenkins.example/job/etl/12/' }, 'https://jenkins.example/job/etl/12/'],
    [{ SYSTEM_COLLECTIONURI: 'https://dev.azure.com/acme/', SYSTEM_TEAMPROJECT: 'Data Eng', BUILD_BUILDID: '99' }, 'https://dev.azure.com/acme/Data%20Eng/_build/results?buildId=99'],
    [{}, undefined],
  ])('finds the CI run URL in %j', (env, url) => {
    expect(ciRunUrl(env)).toBe(url);
  });

  it('takes the TTL from PREFECT_GITOPS_LOCK_TTL_SECONDS when it is a positive number', () => {
    expect(lockTtlMs({})).toBe(60_000);
    expect(lockTtlMs({ PREFECT_GITOPS_LOCK_TTL_SECONDS: '5' })).toBe(5000);
    expect(lockTtlMs({ PREFECT_GITOPS_LOCK_TTL_SECONDS: '0' })).toBe(60_000);
    expect(lockTtlMs({ PREFECT_GITOPS_LOCK_TTL_SECONDS: 'abc' })).toBe(60_000);
  });

  it('describes a holder with everything a waiting apply needs to find it', () => {
    expect(describeHolder({ owner: 'etl', host: 'ci-7', pid: 12, user: 'runner', ciRunUrl: 'https://x/runs/1', since: '2026-01-01T00:00:00.000Z', ttlSeconds: 60, nonce: 'n' })).toBe(
      'owner "etl" on host ci-7 (pid 12, user runner) since 2026-01-01T00:00:00.000Z, CI run https://x/runs/1',
    );
    expect(describeHolder(undefined)).toMatch(/unknown holder/);
  });
});
