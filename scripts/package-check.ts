// `npm run package:check` (run by .ci/run): the CLI works as users get it, with nothing from this
// checkout. Packs the npm tarball, installs it into an empty temporary folder with production
// dependencies only, and runs the installed binary: --version, --help, validate examples/ and one
// plan against a real Prefect server. Then builds the single-file CLI (npm run build:single),
// unpacks its tarball elsewhere and runs --version and validate examples/ with it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { buildSingle } from './build-single.js';
import { startPrefectServer, type PrefectServerHandle } from './prefect-server.js';
import { repoRoot } from './prefect-venv.js';

const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(file: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Result> {
  // A clean environment: no NODE_OPTIONS or npm_* from the npm script running this check.
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), NO_COLOR: '1', ...options.env };
  try {
    const { stdout, stderr } = await run(file, args, { cwd: options.cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}

function check(ok: boolean, what: string, result?: Result): void {
  if (ok) {
    process.stdout.write(`ok   ${what}\n`);
    return;
  }
  process.stdout.write(`FAIL ${what}\n`);
  if (result) process.stdout.write(`  exit ${result.code}\n  stdout: ${result.stdout.slice(0, 4000)}\n  stderr: ${result.stderr.slice(0, 4000)}\n`);
  throw new Error(`package check failed: ${what}`);
}

async function main(): Promise<void> {
  const { version } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const work = await mkdtemp(join(tmpdir(), 'prefect-gitops-package-'));
  let server: PrefectServerHandle | undefined;
  try {
    // 1. The npm package.
    const pack = await exec('npm', ['pack', '--json', '--pack-destination', work], { cwd: repoRoot, env: { npm_config_loglevel: 'error' } });
    check(pack.code === 0, 'npm pack', pack);
    const packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[])[0]!;
    const files = packed.files.map((f) => f.path);
    check(files.includes('lib/cli/main.js') && files.includes('bin/prefect-gitops.js'), 'the tarball has the compiled CLI (lib/) and bin/');
    check(['config', 'deployment', 'plan'].every((s) => files.includes(`schemas/${s}.schema.json`)), 'the tarball has schemas/');
    check(!files.some((f) => f.startsWith('src/') || f.startsWith('dist/') || f.startsWith('test/')), 'the tarball has no src/, dist/ or test/ (bin/ runs lib/)');
    check(!files.some((f) => f.startsWith('lib/action/')), 'the tarball has no GitHub Action code');

    const app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), '{ "private": true }\n');
    const install = await exec('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(work, basename(packed.filename))], { cwd: app });
    check(install.code === 0, 'npm install --omit=dev <tarball> into an empty folder', install);
    check(!existsSync(join(app, 'node_modules', 'tsx')) && !existsSync(join(app, 'node_modules', 'typescript')), 'no dev dependencies installed');

    const examples = join(work, 'examples');
    await cp(join(repoRoot, 'examples'), examples, { recursive: true });
    // The examples use {{ git.sha }}: give the copy a repository of its own.
    for (const args of [['init', '-q', '-b', 'main'], ['add', '.'], ['-c', 'user.name=check', '-c', 'user.email=check@example.invalid', 'commit', '-qm', 'examples']]) {
      const git = await exec('git', args, { cwd: examples });
      check(git.code === 0, `git ${args.at(-1)} in the copy of examples/`, git);
    }
    const npx = (args: string[], env?: Record<string, string>): Promise<Result> => exec('npx', ['--no-install', 'prefect-gitops', ...args], { cwd: app, ...(env ? { env } : {}) });

    const v = await npx(['--version']);
    check(v.code === 0 && v.stdout.trim() === version, `npx prefect-gitops --version prints ${version}`, v);
    const help = await npx(['--help']);
    check(help.code === 0 && help.stdout.includes(`Version ${version}`) && help.stdout.includes('--version'), 'npx prefect-gitops --help names the version', help);
    const validate = await npx(['validate', examples]);
    // No warning: one would say the Python parser (wasm) could not be loaded and schemas were skipped.
    check(validate.code === 0 && /OK: \d+ deployments( and \d+ workspace objects?)? in \d+ files\.\n$/.test(validate.stdout) && !validate.stdout.includes('warning'), 'npx prefect-gitops validate examples/ (flow files parsed by the wasm parser)', validate);

    // 2. The single-file build, unpacked where no node_modules can be found.
    const single = await buildSingle();
    const unpacked = join(work, 'single');
    await mkdir(unpacked);
    const untar = await exec('tar', ['-xzf', single.tarball, '-C', unpacked], { cwd: work });
    check(untar.code === 0, `unpack ${basename(single.tarball)}`, untar);
    const script = join(unpacked, basename(single.dir), 'prefect-gitops.mjs');
    const sv = await exec(process.execPath, [script, '--version'], { cwd: work });
    check(sv.code === 0 && sv.stdout.trim() === version, `node prefect-gitops.mjs --version prints ${version}`, sv);
    const sValidate = await exec(process.execPath, [script, 'validate', examples], { cwd: work });
    check(sValidate.code === 0 && /OK: \d+ deployments( and \d+ workspace objects?)? in \d+ files\.\n$/.test(sValidate.stdout) && !sValidate.stdout.includes('warning'), 'node prefect-gitops.mjs validate examples/ (wasm found beside the bundle)', sValidate);

    // 3. One plan against a real Prefect server through the installed binary.
    server = await startPrefectServer({ scheduler: false, services: false });
    await fetch(`${server.apiUrl}/work_pools/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'local-process', type: 'process' }) });
    const env = { PREFECT_API_URL: server.apiUrl, PREFECT_HOME: server.home };
    const plan = await npx(['plan', examples], env);
    check(plan.code === 0 && plan.stdout.includes(`prefect-gitops ${version}`) && /Plan: \d+ to add/.test(plan.stdout), `npx prefect-gitops plan examples/ against Prefect ${server.version}`, plan);
    const json = await npx(['plan', examples, '--json'], env);
    const parsed = json.code === 0 ? (JSON.parse(json.stdout) as { toolVersion?: string; actions?: unknown[] }) : undefined;
    check(parsed?.toolVersion === version && (parsed.actions?.length ?? 0) > 0, 'plan --json carries toolVersion', json);
    process.stdout.write(`package check passed (prefect-gitops ${version})\n`);
  } finally {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
