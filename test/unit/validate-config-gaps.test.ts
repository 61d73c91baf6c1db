import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gitops-gaps-'));
  await mkdir(join(dir, 'flows'));
  await writeFile(join(dir, 'flows', 'etl.py'), 'from prefect import flow\n\n@flow\ndef etl():\n    pass\n');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: 'http://127.0.0.1:9/api' }, cwd: dir, isTty: false });
  return { code, stdout, stderr };
}

const PREFECT_YAML = 'name: etl-project\ndeployments:\n  - name: daily\n    entrypoint: flows/etl.py:etl\n    work_pool: {name: p}\n';

describe('a bare prefect.yaml project', () => {
  it.each([['validate'], ['plan']])('%s -e prod: unknown environment, no internal error', async (command) => {
    await writeFile(join(dir, 'prefect.yaml'), PREFECT_YAML);
    const run = await cli([command, '.', '-e', 'prod', '--json']);
    expect(run.code).toBe(command === 'validate' ? 2 : 1);
    const report = JSON.parse(run.stdout) as { issues: { file: string; line: number; message: string }[] };
    expect(report.issues).toEqual([expect.objectContaining({ file: '.', line: 0, column: 0, message: expect.stringContaining('unknown environment "prod"; no prefect-gitops.yaml defines environments') })]);
    expect(run.stdout + run.stderr).not.toContain('internal error');
  });

  it('validate -e prod in text names the problem without a position', async () => {
    await writeFile(join(dir, 'prefect.yaml'), PREFECT_YAML);
    const run = await cli(['validate', '.', '-e', 'prod']);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('.: error: unknown environment "prod"; no prefect-gitops.yaml defines environments');
  });
});

describe('a missing prefect-gitops.yaml', () => {
  it('is reported without a position, and every manifest is still validated', async () => {
    await writeFile(join(dir, 'deployments.yaml'), 'name: a\nentrypoint: flows/etl.py:etl\nschedules:\n  - cron: "61 * * * *"\n---\nname: b\nentrypoint: flows/etl.py:missing_function\n');
    const run = await cli(['validate', '.']);
    expect(run.code).toBe(2);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toContain('prefect-gitops.yaml: error: no prefect-gitops.yaml in the manifest directory; create one with at least `owner: <id>` (the ownership id that scopes pruning)');
    expect(run.stdout).toMatch(/^deployments\.yaml:4:\d+: error: .*cron/m);
    expect(run.stdout).toMatch(/^deployments\.yaml:7:\d+: error: .*missing_function/m);
    expect(run.stdout).not.toContain('prefect-gitops.yaml:1:1');
  });
});

describe('--owner with a prefect-gitops.yaml', () => {
  it('is an error at the config\'s owner, not silently ignored', async () => {
    await writeFile(join(dir, 'prefect-gitops.yaml'), '# config\nowner: team-a\n');
    await writeFile(join(dir, 'deployments.yaml'), 'name: a\nentrypoint: flows/etl.py:etl\n');
    const run = await cli(['validate', '.', '--owner', 'team-b']);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('prefect-gitops.yaml:2:8: error: --owner "team-b" is only for a bare prefect.yaml project; here prefect-gitops.yaml sets the owner ("team-a")');
    expect((await cli(['validate', '.'])).code).toBe(0);
  });
});
