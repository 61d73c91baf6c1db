import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { renderPlanText } from '../../src/render/text.js';
import { renderPlanSummary } from '../../src/render/markdown.js';
import type { Plan } from '../../src/plan/types.js';
import { VERSION } from '../../src/version.js';
import { buildLib } from '../../scripts/build-lib.js';
import { precompiledUserMeta, precompiledValidators } from '../../src/validate/precompiled-schemas.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: () => {}, env: {}, cwd: repo, isTty: false });
  return { code, stdout };
}

describe('version', () => {
  it('is package.json version', async () => {
    const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });

  it.each([['--version'], ['-V']])('%s prints it and exits 0', async (flag) => {
    expect(await cli([flag])).toEqual({ code: 0, stdout: `${VERSION}\n` });
  });

  it('--help names it', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Version ${VERSION}`);
    expect(stdout).toContain('-V, --version');
  });

  it('the text and markdown plans name the version that made them', () => {
    const plan: Plan = {
      formatVersion: 1, owner: 'o', environment: null, serverVersion: '3.8.8', toolVersion: '9.9.9', actions: [], unchanged: [], conflicts: [], orphans: [], pruneRefused: null, warnings: [],
      summary: { add: 0, change: 0, adopt: 0, delete: 0, unchanged: 0, conflicts: 0 },
    };
    expect(renderPlanText(plan, { color: false, secrets: [] })).toContain('Prefect server 3.8.8; prefect-gitops 9.9.9.');
    expect(renderPlanSummary(plan, { now: new Date('2026-01-01T00:00:00Z') })).toContain('prefect-gitops 9.9.9');
  });
});

describe('bin/prefect-gitops.js', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gitops-bin-'));
    await mkdir(join(dir, 'bin'));
    await copyFile(join(repo, 'bin', 'prefect-gitops.js'), join(dir, 'bin', 'prefect-gitops.js'));
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    await mkdir(join(dir, 'lib', 'cli'), { recursive: true });
    await writeFile(join(dir, 'lib', 'cli', 'main.js'), "export async function main() { process.stdout.write('compiled'); return 0; }\n");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('in a checkout runs the source, never a compiled lib/ that may be stale', async () => {
    await mkdir(join(dir, 'src', 'cli'), { recursive: true });
    await writeFile(join(dir, 'src', 'cli', 'main.ts'), "export async function main(argv: string[]): Promise<number> { process.stdout.write(`source ${argv.join(' ')}`); return 0; }\n");
    await symlink(join(repo, 'node_modules'), join(dir, 'node_modules'));
    const { stdout } = await run(process.execPath, [join(dir, 'bin', 'prefect-gitops.js'), 'a', 'b']);
    expect(stdout).toBe('source a b');
    await rm(join(dir, 'node_modules'));
  });

  it('in a checkout without tsx says to run npm ci', async () => {
    const failed = await run(process.execPath, [join(dir, 'bin', 'prefect-gitops.js')]).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringContaining('run `npm ci`') });
  });

  it('in a package (no src/) runs lib/', async () => {
    await rm(join(dir, 'src'), { recursive: true });
    const { stdout } = await run(process.execPath, [join(dir, 'bin', 'prefect-gitops.js')]);
    expect(stdout).toBe('compiled');
  });
});

describe('npm run build (lib/)', () => {
  let dir: string;
  beforeAll(async () => {
    // The package as npm users get it: bin/, lib/, schemas/, package.json, dependencies; no src/.
    dir = await mkdtemp(join(tmpdir(), 'gitops-lib-'));
    await mkdir(join(dir, 'bin'));
    await copyFile(join(repo, 'bin', 'prefect-gitops.js'), join(dir, 'bin', 'prefect-gitops.js'));
    await copyFile(join(repo, 'package.json'), join(dir, 'package.json'));
    await cp(join(repo, 'schemas'), join(dir, 'schemas'), { recursive: true });
    await symlink(join(repo, 'node_modules'), join(dir, 'node_modules'));
    await buildLib(join(dir, 'lib'));
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is one bundled file that imports only Node built-ins (startup loads no module files)', async () => {
    expect(await readdir(join(dir, 'lib'), { recursive: true })).toEqual(['cli', join('cli', 'main.js')]);
    const bundle = await readFile(join(dir, 'lib', 'cli', 'main.js'), 'utf8');
    const imported = [...bundle.matchAll(/^import\b[^;]*?\bfrom\s*["']([^"']+)["']/gm)].map((m) => m[1]!);
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((s) => !isBuiltin(s))).toEqual([]);
  });

  it('holds the undici request API but not the rest of undici (fetch, WebSocket, mocks: loading them cost every start ~60 ms)', async () => {
    const bundle = await readFile(join(dir, 'lib', 'cli', 'main.js'), 'utf8');
    expect(bundle).toContain('undici/lib/api/api-request.js');
    for (const unused of ['undici/lib/web/fetch/index.js', 'undici/lib/web/websocket/websocket.js', 'undici/lib/mock/mock-agent.js']) expect(bundle).not.toContain(unused);
  });

  it('holds the shipped schemas precompiled (ajv standalone), and src/ has none', async () => {
    const bundle = await readFile(join(dir, 'lib', 'cli', 'main.js'), 'utf8');
    expect(bundle).toContain('// precompiled-schemas:src/validate/precompiled-schemas.generated.js');
    expect(bundle).toContain('precompiledValidators = { deployment, partialDeployment, config, savedPlan };');
    expect(precompiledValidators).toEqual({});
    // And the meta-schema that user schemas (parameter_openapi_schema) are checked against.
    expect(bundle).toContain('// precompiled-schemas:src/validate/precompiled-user-meta.generated.js');
    expect(precompiledUserMeta).toBeUndefined();
  });

  // The precompiled validators must answer exactly as the ones src/ compiles at run time.
  it.each([
    '03-unknown-key-schedule', '05-work-pool-unknown-key', '07-paused-string', '08-tags-not-list', '09-missing-name', '35-collision-strategy-invalid',
    '41-config-unknown-key', '42-config-defaults-wrong-type', '51-schedule-slug-pattern', '54-override-wrong-type', '60-config-owner-pattern', '62-prune-ratio-above-one',
    '71-parameter-schema-invalid',
  ])('validate test/fixtures/invalid/%s says the same from lib/ as from src/', async (fixture) => {
    const fixtureDir = join(repo, 'test', 'fixtures', 'invalid', fixture);
    let expected = '';
    const code = await main(['validate', fixtureDir], { stdout: (t) => void (expected += t), stderr: (t) => void (expected += t), env: {}, cwd: repo, isTty: false });
    const fromLib = await run(process.execPath, [join(dir, 'bin', 'prefect-gitops.js'), 'validate', fixtureDir], { cwd: repo, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1' } }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    expect(code).not.toBe(0);
    expect(fromLib).toEqual({ code, out: expected });
  }, 30_000);

  it('runs from the package: version, schemas and the Python parser found', async () => {
    const version = await run(process.execPath, [join(dir, 'bin', 'prefect-gitops.js'), '--version'], { cwd: dir });
    expect(version.stdout).toBe(`${VERSION}\n`);
    const validate = await run(process.execPath, [join(dir, 'bin', 'prefect-gitops.js'), 'validate', join(repo, 'examples')], { cwd: dir, env: { ...process.env, NO_COLOR: '1' } });
    expect(validate.stdout).toMatch(/OK: \d+ deployments?( and \d+ workspace objects?)? in \d+ files?\./);
    // A warning would say the Python parser (wasm) could not be loaded and parameter schemas were skipped.
    expect(validate.stdout).not.toContain('warning');
  }, 60_000);
});
