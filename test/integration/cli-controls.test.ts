// Terraform-like controls: apply asks for approval on a terminal, --target, show plan.json.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ExitCode } from '../../src/errors.js';
import { prefectApiUrl } from '../helpers/prefect.js';
import { ensurePool, makeProject, readDeployment } from '../helpers/gitops.js';

const POOL = 'gitops-it-pool';
const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'prefect-gitops.js');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: prefectApiUrl() }, cwd: process.cwd(), isTty: false });
  return { code, stdout, stderr };
}

/**
 * Runs the CLI binary on a pseudo-terminal (util-linux `script`), so stdin and stdout are TTYs, and
 * types `answer` once the approval prompt shows (or never, when none comes).
 */
function onTerminal(args: string[], answer?: string, options: { stdin?: string } = {}): Promise<{ code: number | null; output: string }> {
  const command = ['node', BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ') + (options.stdin ? ` < ${options.stdin}` : '');
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env: { ...process.env, PREFECT_API_URL: prefectApiUrl(), NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let answered = false;
  const onData = (d: Buffer): void => {
    output += d.toString('utf8');
    if (answer !== undefined && !answered && output.includes('Enter a value: ')) {
      answered = true;
      child.stdin.write(`${answer}\n`);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (code) => done({ code, output: output.replace(/\r\n/g, '\n') }));
  });
}

beforeAll(async () => {
  await ensurePool(POOL);
});

describe('apply on an interactive terminal', () => {
  it('shows the plan and asks for yes; anything else cancels; --auto-approve and non-TTY stdin do not ask', async () => {
    const project = await makeProject('approve');
    await project.write([{ name: 'asked', work_pool: { name: POOL } }]);

    const declined = await onTerminal(['apply', project.dir], 'no');
    expect(declined.output).toContain(`+ ${project.flow}/asked`);
    expect(declined.output).toContain("Do you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: no\n");
    expect(declined.output).toContain('Apply cancelled; nothing was changed.');
    expect(declined.code).toBe(1);
    expect(await readDeployment(project.flow, 'asked')).toBeUndefined();

    const accepted = await onTerminal(['apply', project.dir], 'yes');
    expect(accepted.output).toContain('Enter a value: yes\n');
    expect(accepted.output).toContain('Apply complete: 1 added, 0 changed, 0 deleted, 0 failed.');
    expect(accepted.code).toBe(0);
    expect(await readDeployment(project.flow, 'asked')).toBeDefined();

    await project.write([{ name: 'asked', work_pool: { name: POOL }, description: 'auto' }]);
    const auto = await onTerminal(['apply', project.dir, '--auto-approve']);
    expect(auto.output).not.toContain('Enter a value');
    expect(auto.output).toContain('Apply complete: 0 added, 1 changed, 0 deleted, 0 failed.');
    expect(auto.code).toBe(0);

    // stdin not a terminal (CI), stdout still one: no prompt either.
    await project.write([{ name: 'asked', work_pool: { name: POOL }, description: 'piped' }]);
    const piped = await onTerminal(['apply', project.dir], undefined, { stdin: '/dev/null' });
    expect(piped.output).not.toContain('Enter a value');
    expect(piped.output).toContain('Apply complete: 0 added, 1 changed, 0 deleted, 0 failed.');
    expect(piped.code).toBe(0);
    expect((await readDeployment(project.flow, 'asked'))!.description).toBe('piped');
  });
});

describe('--target', () => {
  it('plans, applies and reports drift for the matching deployments only, with prune off (and says so)', async () => {
    const project = await makeProject('target');
    await project.write(['a', 'b', 'c'].map((name) => ({ name, work_pool: { name: POOL } })));
    expect((await cli(['apply', project.dir])).code).toBe(0);
    // a and b change, c is no longer declared: without --target that is 2 updates and a delete.
    await project.write(['a', 'b'].map((name) => ({ name, work_pool: { name: POOL }, description: 'changed' })));
    const all = await cli(['plan', project.dir]);
    expect(all.stdout).toContain('Plan: 0 to add, 2 to change, 1 to delete, 0 unchanged.');

    const planned = await cli(['plan', project.dir, '--target', `${project.flow}/a`, '--target', 'no-such-*']);
    expect(planned.code).toBe(0);
    expect(planned.stdout).toContain(`~ ${project.flow}/a`);
    expect(planned.stdout).not.toContain(`${project.flow}/b`);
    expect(planned.stdout).not.toContain(`${project.flow}/c`);
    expect(planned.stdout).toContain(`Warning: --target ${project.flow}/a no-such-*: 1 of 2 declared deployments planned; prune is off under --target`);
    expect(planned.stdout).toContain('Plan: 0 to add, 1 to change, 0 to delete, 0 unchanged.');

    // A name without a flow matches in any flow; apply changes only it.
    const applied = await cli(['apply', project.dir, '--target', 'b']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Apply complete: 0 added, 1 changed, 0 deleted, 0 failed.');
    expect((await readDeployment(project.flow, 'b'))!.description).toBe('changed');
    expect((await readDeployment(project.flow, 'a'))!.description).toBeNull();
    expect(await readDeployment(project.flow, 'c')).toBeDefined();

    const drift = await cli(['drift', project.dir, '--target', '*/a']);
    expect(drift.code).toBe(2);
    expect(drift.stdout).toContain('Drift: 1 changed, 0 missing, 0 orphaned, 0 unmanaged.');

    const none = await cli(['plan', project.dir, '--target', 'nothing-matches']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no declared deployment matches --target nothing-matches');
  });
});

describe('show plan.json', () => {
  it('renders a saved plan as text, JSON and markdown, without a server', async () => {
    const project = await makeProject('show');
    await project.write([{ name: 'shown', work_pool: { name: POOL }, description: 'line one\nline two', schedules: [{ cron: '0 6 * * *', slug: 'morning' }] }]);
    const file = join(project.dir, 'plan.json');
    expect((await cli(['plan', project.dir, '--out', file])).code).toBe(0);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { createdAt: string; plan: unknown };

    let stdout = '';
    const show = async (...args: string[]): Promise<number> => {
      stdout = '';
      // No server: PREFECT_API_URL points nowhere.
      return main(['show', file, ...args], { stdout: (t) => void (stdout += t), stderr: () => undefined, env: { PREFECT_API_URL: 'http://127.0.0.1:9/api' }, cwd: process.cwd(), isTty: false });
    };
    expect(await show()).toBe(0);
    expect(stdout).toContain(`Saved plan ${file}, made ${saved.createdAt}`);
    expect(stdout).toContain(`+ ${project.flow}/shown`);
    expect(stdout).toContain('    + description: |-\n        line one\n        line two\n');
    expect(stdout).toContain('    schedule morning:\n      next runs after: ');
    expect(stdout).toContain('Plan: 1 to add, 0 to change, 0 to delete, 0 unchanged.');

    expect(await show('--json')).toBe(0);
    expect(JSON.parse(stdout)).toEqual(saved.plan);
    expect(await show('--format', 'json')).toBe(0);
    expect(JSON.parse(stdout)).toEqual(saved.plan);

    expect(await show('--format', 'markdown')).toBe(0);
    expect(stdout).toContain(`### prefect-gitops plan (saved ${saved.createdAt})`);
    expect(stdout).toContain(`<code>${project.flow}/shown</code>`);
    expect(stdout).toContain('Schedule `morning`:');

    expect(await show('--format', 'yaml')).toBe(ExitCode.usage);
  });
});
