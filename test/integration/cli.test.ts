import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { prefectApiUrl } from '../helpers/prefect.js';
import { ensurePool, makeProject, type Project } from '../helpers/gitops.js';

const POOL = 'gitops-it-pool';
const SECRET_KEY = 'pnu_supersecretkey1234567890';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}, isTty = false): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { PREFECT_API_URL: prefectApiUrl(), PREFECT_API_KEY: SECRET_KEY, ...env },
    cwd: process.cwd(),
    isTty,
  });
  return { code, stdout, stderr };
}

describe('the CLI against a real server', () => {
  let project: Project;
  beforeAll(async () => {
    await ensurePool(POOL);
    project = await makeProject('cli');
    await project.write([
      { name: 'one', work_pool: { name: POOL }, schedules: [{ cron: '0 9 * * *', timezone: 'Europe/Berlin' }] },
      { name: 'two', work_pool: { name: POOL, job_variables: { env: { API_TOKEN: 'tok-should-not-print' } } } },
    ]);
  });

  it('plans, applies and converges with the documented exit codes', async () => {
    const first = await cli(['plan', project.dir, '--detailed-exitcode']);
    expect(first.code).toBe(2);
    expect(first.stdout.trim().split('\n').at(-1)).toBe('Plan: 2 to add, 0 to change, 0 to delete, 0 unchanged.');
    expect(first.stdout).toContain(`+ ${project.flow}/one`);

    const applied = await cli(['apply', project.dir]);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Apply complete: 2 added, 0 changed, 0 deleted, 0 failed.');
    // Non-TTY: one line per action as it finishes.
    expect(applied.stdout).toMatch(/^\[1\/2\] create .*: ok$/m);

    const second = await cli(['plan', project.dir, '--detailed-exitcode']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('No changes. 2 deployments up to date.');

    const noop = await cli(['apply', project.dir]);
    expect(noop.code).toBe(0);
    expect(noop.stdout).not.toContain('Apply complete');
  });

  it('prints JSON for machines, with sensitive values redacted', async () => {
    await project.write([{ name: 'one', work_pool: { name: POOL }, paused: true }, { name: 'two', work_pool: { name: POOL, job_variables: { env: { API_TOKEN: 'tok-changed-secret' } } } }]);
    const run = await cli(['plan', project.dir, '--json']);
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as { summary: { change: number }; actions: { kind: string; key: string; changes: { field: string }[] }[] };
    expect(plan.summary.change).toBe(2);
    expect(plan.actions.map((a) => a.changes.map((c) => c.field))).toEqual([['paused', 'schedules[cron-1]'], ['job_variables']]);
    expect(run.stdout).not.toContain('tok-changed-secret');
    expect(run.stdout).not.toContain('tok-should-not-print');
    expect(run.stdout).toContain('(sensitive)');
  });

  it('colours only on a terminal, and never with NO_COLOR', async () => {
    const tty = await cli(['plan', project.dir], {}, true);
    expect(tty.stdout).toContain('\u001b[');
    const noColor = await cli(['plan', project.dir], { NO_COLOR: '1' }, true);
    expect(noColor.stdout).not.toContain('\u001b[');
    const pipe = await cli(['plan', project.dir]);
    expect(pipe.stdout).not.toContain('\u001b[');
  });

  it('never prints the API key, also in debug JSON logs and errors', async () => {
    const debug = await cli(['plan', project.dir, '--log-level', 'debug', '--log-format', 'json']);
    expect(debug.code).toBe(0);
    expect(debug.stderr).toContain('"msg"');
    const unreachable = await cli(['plan', project.dir, '--log-level', 'debug'], { PREFECT_API_URL: 'http://127.0.0.1:9/api' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('could not reach the Prefect API');
    for (const run of [debug, unreachable]) {
      expect(run.stdout + run.stderr).not.toContain(SECRET_KEY);
      expect(run.stdout + run.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('refuses invalid manifests before contacting the server, exit 1 for plan', async () => {
    const bad = await makeProject('cli-bad');
    await bad.write([{ name: 'x', work_pool: { name: POOL }, schedules: [{ cron: 'not a cron' }] }]);
    const run = await cli(['plan', bad.dir], { PREFECT_API_URL: 'http://127.0.0.1:9/api' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/deployments\/x\.yaml:\d+:\d+: error: cron expression "not a cron" has 3 fields/);
    expect(run.stderr).toContain('nothing was sent to Prefect');
  });
});
