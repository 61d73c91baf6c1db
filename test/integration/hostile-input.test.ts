import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { PrefectProxy } from '../action/run-action.js';
import { prefectApiUrl } from '../helpers/prefect.js';
import { ensurePool, makeProject, readDeployment } from '../helpers/gitops.js';

/**
 * Issue 8, section 4, end to end: each hostile input is a located error (file:line:col), never an
 * internal error; `validate` exits 2, `apply` exits 1 (its 2 is reserved, see the README's exit
 * codes) and sends nothing at all to the server: every run goes through a recording proxy in front
 * of the real server.
 */

const POOL = 'gitops-it-pool';
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], apiUrl: string, env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: apiUrl, ...env }, cwd: process.cwd(), isTty: false });
  return { code, stdout, stderr };
}

const billionLaughs = (): string => {
  const lines = ['  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    lines.push(`  ${cur}: &${cur} [${Array.from({ length: 9 }, () => `*${prev}`).join(',')}]`);
  }
  return `parameters:\n${lines.join('\n')}\n`;
};

/** Each case: the manifest body after name/entrypoint/work_pool (or raw bytes), and the error expected at line:col. */
const CASES: { name: string; body: string | Buffer; at: string; message: RegExp; env?: Record<string, string> }[] = [
  { name: 'alias-bomb', body: billionLaughs(), at: '10:10', message: /aliases expand to more than 100000 values/ },
  { name: 'undefined-alias', body: 'tags: *nothere\n', at: '4:7', message: /alias \*nothere refers to no anchor/ },
  { name: 'merge-key-scalar', body: '<<: 5\n', at: '4:5', message: /the merge key << needs a mapping/ },
  { name: 'concurrency-inf', body: 'concurrency_limit: .inf\n', at: '4:20', message: /\.inf is not a finite number/ },
  { name: 'parameter-nan', body: 'parameters: {n: .nan}\n', at: '4:17', message: /\.nan is not a finite number/ },
  // Job variables sit under work_pool: see writeCase.
  { name: 'job-variable-inf', body: '', at: '6:13', message: /-\.inf is not a finite number/ },
  { name: 'interval-inf', body: 'schedules: [{interval: .inf}]\n', at: '4:24', message: /\.inf is not a finite number/ },
  { name: 'interval-1e30', body: 'schedules: [{interval: 1e30}]\n', at: '4:24', message: /1e30 is out of range/ },
  { name: 'integer-beyond-2-53', body: 'parameters: {n: 9007199254740993}\n', at: '4:17', message: /9007199254740993 is out of range/ },
  { name: 'utf16', body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name: x\n', 'utf16le')]), at: '1:1', message: /not UTF-8: it is UTF-16/ },
  { name: 'invalid-utf8', body: Buffer.from('description: caf\xe9\n', 'latin1'), at: '4:17', message: /not UTF-8: byte 0xe9/ },
  { name: 'control-character-name', body: 'tags: ["a\\e[2J"]\n', at: '4:8', message: /tag "a<U\+001B>\[2J" contains a control character/ },
  { name: 'env-constructor', body: 'version: "{{ env.constructor }}"\n', at: '4:10', message: /environment variable constructor is not set/ },
  { name: 'entrypoint-outside', body: '', at: '2:13', message: /entrypoint "\.\.\/outside\.py:job" points outside the project/ },
];

async function writeCase(dir: string, c: (typeof CASES)[number]): Promise<void> {
  const head =
    c.name === 'entrypoint-outside'
      ? `name: x\nentrypoint: ../outside.py:job\nwork_pool: {name: ${POOL}}\n`
      : c.name === 'job-variable-inf'
        ? `name: x\nentrypoint: flows/job.py:job\nwork_pool:\n  name: ${POOL}\n  job_variables:\n    memory: -.inf\n`
        : `name: x\nentrypoint: flows/job.py:job\nwork_pool: {name: ${POOL}}\n`;
  const body = typeof c.body === 'string' ? Buffer.from(head + c.body) : c.name === 'utf16' ? c.body : Buffer.concat([Buffer.from(head), c.body]);
  await writeFile(join(dir, 'deployments', 'x.yaml'), body);
}

describe('hostile input: a located error, exit 2 from validate, and nothing sent by apply', () => {
  let proxy: PrefectProxy;
  beforeAll(async () => {
    await ensurePool(POOL);
    proxy = await new PrefectProxy(prefectApiUrl()).start();
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it.each(CASES)('$name', async (c) => {
    const project = await makeProject(`hostile-${c.name}`);
    await project.write([]);
    await mkdir(join(project.dir, 'deployments'), { recursive: true });
    await writeCase(project.dir, c);
    // A file outside the project that would be read (and be a valid flow) if the entrypoint were followed.
    await writeFile(join(project.dir, '..', 'outside.py'), 'from prefect import flow\n\n@flow\ndef job():\n    pass\n').catch(() => undefined);
    const where = new RegExp(`deployments/x\\.yaml:${c.at}: error: `);

    const validate = await cli(['validate', project.dir], proxy.apiUrl, c.env);
    expect(validate.code, validate.stdout + validate.stderr).toBe(2);
    expect(validate.stdout).toMatch(where);
    expect(validate.stdout).toMatch(c.message);

    proxy.requests.length = 0;
    const applied = await cli(['apply', project.dir, '--prune'], proxy.apiUrl, c.env);
    expect(applied.code).toBe(1);
    expect(applied.stderr).toMatch(where);
    expect(applied.stderr).toContain('nothing was sent to Prefect');
    expect(proxy.requests).toEqual([]);
    for (const run of [validate, applied]) {
      expect(run.stdout + run.stderr).not.toMatch(/internal error|this is a bug|^\s+at /m);
      expect(run.stdout + run.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    }
    expect(await readDeployment(project.flow, 'x')).toBeUndefined();
  });

  it('substitutes once: a variable holding a placeholder is deployed as that literal text, never expanded', async () => {
    const project = await makeProject('hostile-indirect');
    await project.write([{ name: 'x', work_pool: { name: POOL }, version: '{{ env.INDIRECT }}', description: '{{ $INDIRECT }}' }]);
    const env = { INDIRECT: '{{ env.SECRET_VALUE }}', SECRET_VALUE: 'expanded-secret-9d8c' };
    const applied = await cli(['apply', project.dir], prefectApiUrl(), env);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).not.toContain('expanded-secret-9d8c');
    const live = await readDeployment(project.flow, 'x');
    expect(live?.version).toBe('{{ env.SECRET_VALUE }}');
    expect(live?.description).toBe('{{ env.SECRET_VALUE }}');
  });
});

/**
 * Unreadable files and folders. Tests run as root, which reads a chmod 000 file anyway: the CLI is
 * then run as the unprivileged user `nobody` (uid 65534) in a child process, so permission denied
 * really happens. As a normal user it runs as that user.
 */
describe('unreadable manifests', () => {
  const asUnprivileged = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

  function runCli(args: string[], apiUrl: string): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(repoRoot, 'bin', 'prefect-gitops.js'), ...args], {
        ...asUnprivileged,
        cwd: tmpdir(),
        env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), PREFECT_API_URL: apiUrl, NO_COLOR: '1' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  it('a file and a folder that cannot be read are errors naming them: exit 2, nothing sent', async () => {
    const proxy = await new PrefectProxy(prefectApiUrl()).start();
    try {
      const root = await mkdtemp(join(tmpdir(), 'gitops-unreadable-'));
      await chmod(root, 0o755);
      const project = await makeProject('unreadable');
      await project.write([{ name: 'readable', work_pool: { name: POOL } }]);
      const dir = join(root, 'p');
      await mkdir(dir);
      // Copy the project into a place the unprivileged user can reach.
      await cp(project.dir, dir, { recursive: true });
      await writeFile(join(dir, 'deployments', 'secret.yaml'), `name: hidden\nentrypoint: flows/job.py:job\nwork_pool: {name: ${POOL}}\n`);
      await mkdir(join(dir, 'deployments', 'locked'));
      await writeFile(join(dir, 'deployments', 'locked', 'more.yaml'), `name: more\nentrypoint: flows/job.py:job\nwork_pool: {name: ${POOL}}\n`);
      await chmod(join(dir, 'deployments', 'secret.yaml'), 0o000);
      await chmod(join(dir, 'deployments', 'locked'), 0o000);
      for (const p of [dir, join(dir, 'deployments'), join(dir, 'flows')]) await chmod(p, 0o755);

      const validate = await runCli(['validate', dir], proxy.apiUrl);
      expect(validate.code, validate.stdout + validate.stderr).toBe(2);
      // Paths are shown relative to the working directory, with no line or column (there is none).
      expect(validate.stdout).toContain(`${relative(tmpdir(), join(dir, 'deployments', 'secret.yaml'))}: error: cannot read the file: permission denied (EACCES)`);
      expect(validate.stdout).toContain(`${relative(tmpdir(), join(dir, 'deployments', 'locked'))}: error: cannot read the folder: permission denied (EACCES)`);

      const applied = await runCli(['apply', dir, '--prune'], proxy.apiUrl);
      expect(applied.code).toBe(1);
      expect(applied.stderr).toContain('cannot read the file: permission denied (EACCES)');
      expect(proxy.requests).toEqual([]);
      for (const run of [validate, applied]) expect(run.stdout + run.stderr).not.toMatch(/internal error|this is a bug/);
    } finally {
      await proxy.stop();
    }
  }, 60_000);
});
