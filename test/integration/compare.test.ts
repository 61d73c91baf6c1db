import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prefectVenvPaths } from '../../scripts/prefect-venv.js';
import { main, type Io } from '../../src/cli/main.js';

/** `prefect-gitops compare` end to end: it starts its own two servers with the given Prefect CLI. */
async function compare(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { PATH: process.env.PATH }, cwd: process.cwd(), isTty: false };
  const code = await main(['compare', ...args, '--prefect', prefectVenvPaths().prefect], io);
  return { code, stdout, stderr };
}

describe('prefect-gitops compare', () => {
  it('reports a project both tools deploy alike as equal, with the deliberate differences marked', async () => {
    const result = await compare([resolve('test/fixtures/equivalence/b1-description-falsy')]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('= eq-b1-report/null-description');
    expect(result.stdout).toContain('version: prefect deploy');
    expect(result.stdout).toContain('[deliberate: version]');
    expect(result.stdout).toMatch(/3 of 3 deployments field-by-field equal/);
  }, 600_000);

  it('reports a field that differs, and exits 2', async () => {
    // The build step prints "beta"; telling prefect-gitops otherwise makes the job variables differ.
    const result = await compare([resolve('test/fixtures/equivalence/b4-flat-step-outputs'), '--set', 'get-release.stdout=2024.11.3', '--set', 'stdout=gamma']);
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stdout).toContain('~ eq-b4-publish/release');
    expect(result.stdout).toContain('job_variables.env.CHANNEL: prefect deploy "beta", prefect-gitops "gamma"');
    expect(result.stdout).toMatch(/0 of 1 deployment field-by-field equal/);
  }, 600_000);

  it('--prefect-file deploys only that prefect.yaml, run from the project directory, for both tools', async () => {
    // The prefect.yaml sits in flows/ with entrypoints relative to the project root, as
    // `prefect deploy --prefect-file flows/prefect.yaml` run from the root reads it.
    const result = await compare([resolve('test/fixtures/equivalence/acc-prefect-file'), '--prefect-file', 'flows/prefect.yaml', '--owner', 'cmp-pf']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('= acc-nightly/nightly');
    expect(result.stdout).toMatch(/1 of 1 deployment field-by-field equal/);
  }, 600_000);
});
