import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { resolvePrefectSettings } from '../../src/prefect/settings.js';

let cwd: string;
let home: string;
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'gitops-settings-cwd-'));
  home = await mkdtemp(join(tmpdir(), 'gitops-settings-home-'));
  await mkdir(join(home, '.prefect'));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

const PROFILES = `active = "cloud"

[profiles.cloud]
PREFECT_API_URL = "https://api.prefect.cloud/api/accounts/a/workspaces/w"
PREFECT_API_KEY = "pnu_from_profile"

[profiles.local]
PREFECT_API_URL = "http://127.0.0.1:4200/api"
`;

const url = (env: Record<string, string> = {}): string | undefined => resolvePrefectSettings(env, cwd, home).PREFECT_API_URL?.value;

describe('Prefect settings, resolved in Prefect\'s order', () => {
  it('the active profile of ~/.prefect/profiles.toml', async () => {
    await writeFile(join(home, '.prefect', 'profiles.toml'), PROFILES);
    const settings = resolvePrefectSettings({}, cwd, home);
    expect(settings.PREFECT_API_URL).toEqual({ value: 'https://api.prefect.cloud/api/accounts/a/workspaces/w', source: `profile "cloud" in ${join(home, '.prefect', 'profiles.toml')}` });
    expect(settings.PREFECT_API_KEY?.value).toBe('pnu_from_profile');
  });

  it('PREFECT_PROFILE picks another profile; PREFECT_HOME moves the file', async () => {
    await writeFile(join(home, '.prefect', 'profiles.toml'), PROFILES);
    expect(url({ PREFECT_PROFILE: 'local' })).toBe('http://127.0.0.1:4200/api');
    await mkdir(join(cwd, 'home'));
    await writeFile(join(cwd, 'home', 'profiles.toml'), 'active = "x"\n[profiles.x]\nPREFECT_API_URL = "http://x/api"\n');
    expect(url({ PREFECT_HOME: join(cwd, 'home') })).toBe('http://x/api');
  });

  it('an unknown PREFECT_PROFILE is an error that names the profiles', async () => {
    await writeFile(join(home, '.prefect', 'profiles.toml'), PROFILES);
    expect(() => url({ PREFECT_PROFILE: 'nope' })).toThrow(/PREFECT_PROFILE is "nope", but .* has no such profile/);
  });

  it('prefect.toml beats the profile, pyproject.toml sits between', async () => {
    await writeFile(join(home, '.prefect', 'profiles.toml'), PROFILES);
    await writeFile(join(cwd, 'pyproject.toml'), '[tool.prefect.api]\nurl = "http://pyproject/api"\n');
    expect(url()).toBe('http://pyproject/api');
    await writeFile(join(cwd, 'prefect.toml'), '[api]\nurl = "http://toml/api"\n');
    expect(url()).toBe('http://toml/api');
  });

  it('.env beats prefect.toml; the environment beats .env; empty values are unset', async () => {
    await writeFile(join(cwd, 'prefect.toml'), '[api]\nurl = "http://toml/api"\n');
    await writeFile(join(cwd, '.env'), '# local\nPREFECT_API_URL="http://dotenv/api"\n');
    expect(url()).toBe('http://dotenv/api');
    expect(url({ PREFECT_API_URL: 'http://env/api' })).toBe('http://env/api');
    expect(url({ PREFECT_API_URL: '' })).toBe('http://dotenv/api');
  });

  it('PREFECT_PROFILES_PATH (environment or prefect.toml) points at another profiles file', async () => {
    await writeFile(join(cwd, 'team.toml'), 'active = "t"\n[profiles.t]\nPREFECT_API_URL = "http://team/api"\n');
    expect(url({ PREFECT_PROFILES_PATH: join(cwd, 'team.toml') })).toBe('http://team/api');
    await writeFile(join(cwd, 'prefect.toml'), 'profiles_path = "team.toml"\n');
    expect(url()).toBe('http://team/api');
  });

  it('an invalid TOML file is a clear error', async () => {
    await writeFile(join(cwd, 'prefect.toml'), '[api\nurl = 1\n');
    expect(() => url()).toThrow(/prefect\.toml is not valid TOML/);
  });

  it('nothing anywhere: unset', () => {
    expect(resolvePrefectSettings({}, cwd, home)).toEqual({});
  });
});

describe('the CLI reads them', () => {
  async function plan(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
    let stderr = '';
    const code = await main(['plan', 'examples'], { stdout: () => {}, stderr: (t) => void (stderr += t), env: { HOME: home, ...env }, cwd: process.cwd(), isTty: false });
    return { code, stderr };
  }

  it('an unset PREFECT_API_URL says "not set"', async () => {
    const run = await plan({ PREFECT_HOME: join(home, '.prefect'), EXAMPLES_DIR: '/x' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error: PREFECT_API_URL is not set');
    expect(run.stderr).not.toContain('not a valid URL');
  });

  it('takes the API URL from the active profile (PREFECT_HOME)', async () => {
    await writeFile(join(home, '.prefect', 'profiles.toml'), 'active = "p"\n[profiles.p]\nPREFECT_API_URL = "http://127.0.0.1:9/from-profile/api"\nPREFECT_API_KEY = "pnu_profile_secret_123456"\n');
    const run = await plan({ PREFECT_HOME: join(home, '.prefect'), EXAMPLES_DIR: '/x' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('127.0.0.1:9');
    expect(run.stderr).not.toContain('pnu_profile_secret_123456');
  });
});

describe('the default work pool prefect deploy gives prefect.yaml entries without one', () => {
  it('PREFECT_DEFAULT_WORK_POOL_NAME: the environment, then prefect.toml [deployments], pyproject.toml, the profile', async () => {
    await writeFile(join(home, '.prefect', 'profiles.toml'), PROFILES.replace('[profiles.local]', 'PREFECT_DEFAULT_WORK_POOL_NAME = "from-profile"\n\n[profiles.local]'));
    const pool = (env: Record<string, string> = {}) => resolvePrefectSettings(env, cwd, home).PREFECT_DEFAULT_WORK_POOL_NAME;
    expect(pool()?.value).toBe('from-profile');
    await writeFile(join(cwd, 'pyproject.toml'), '[tool.prefect.deployments]\ndefault_work_pool_name = "from-pyproject"\n');
    expect(pool()?.value).toBe('from-pyproject');
    await writeFile(join(cwd, 'prefect.toml'), '[deployments]\ndefault_work_pool_name = "from-prefect-toml"\n');
    expect(pool()).toEqual({ value: 'from-prefect-toml', source: 'prefect.toml' });
    expect(pool({ PREFECT_DEFAULT_WORK_POOL_NAME: 'from-env' })).toEqual({ value: 'from-env', source: 'the environment' });
  });

  it('fills in a prefect.yaml entry without work_pool.name; with one deployment in the file, a named pool is kept with a warning', async () => {
    await writeFile(join(cwd, 'flows.py'), 'from prefect import flow\n\n@flow\ndef etl():\n    pass\n');
    const out = async (yaml: string, env: Record<string, string>) => {
      await writeFile(join(cwd, 'prefect.yaml'), yaml);
      let stdout = '';
      const code = await main(['validate', '.', '--json'], { stdout: (t) => void (stdout += t), stderr: () => {}, env: { HOME: home, ...env }, cwd, isTty: false });
      return { code, result: JSON.parse(stdout) as { issues: { message: string; severity: string }[]; deployments?: unknown } };
    };
    const two = 'name: p\ndeployments:\n  - name: a\n    entrypoint: flows.py:etl\n  - name: b\n    entrypoint: flows.py:etl\n    work_pool: {work_queue_name: low}\n';
    const without = await out(two, {});
    expect(without.result.issues.map((i) => i.message)).toEqual([expect.stringContaining('deployment "a" has no work pool'), expect.stringContaining('deployment "b" has no work pool')]);
    const filled = await out(two, { PREFECT_DEFAULT_WORK_POOL_NAME: 'shared' });
    expect(filled.result.issues).toEqual([]);
    const one = await out('name: p\ndeployments:\n  - name: a\n    entrypoint: flows.py:etl\n    work_pool: {name: mine}\n', { PREFECT_DEFAULT_WORK_POOL_NAME: 'shared' });
    expect(one.result.issues.map((i) => `${i.severity}: ${i.message}`)).toEqual([
      'warning: PREFECT_DEFAULT_WORK_POOL_NAME is "shared" (the environment): prefect deploy, deploying the one deployment of this file, would put it in that pool instead of "mine"; prefect-gitops keeps "mine" as the file says',
    ]);
  });
});
