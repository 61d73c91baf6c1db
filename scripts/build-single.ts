// Builds the CLI as one file for CI systems without npm: dist/single/prefect-gitops-<version>/
// holds prefect-gitops.mjs (every dependency bundled, runs on Node 20.19+), the JSON schemas and the
// two wasm files of the Python parser, which the bundle finds beside itself; plus a .tar.gz of that
// folder to attach to a release. Run it with `node prefect-gitops.mjs --help`.
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, cp, mkdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { cliBundleOptions } from './build-lib.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface SingleBuild {
  /** The folder with prefect-gitops.mjs, schemas/ and the wasm files. */
  readonly dir: string;
  readonly script: string;
  readonly tarball: string;
  readonly version: string;
}

export async function buildSingle(): Promise<SingleBuild> {
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  const name = `prefect-gitops-${version}`;
  const outRoot = join(root, 'dist', 'single');
  const dir = join(outRoot, name);
  await rm(outRoot, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const script = join(dir, 'prefect-gitops.mjs');
  await build({
    ...cliBundleOptions,
    entryPoints: ['src/cli/run.ts'],
    outfile: script,
    // Without a package.json beside it the bundle cannot read its version: bake it in.
    define: { __PREFECT_GITOPS_VERSION__: JSON.stringify(version) },
    banner: { js: `#!/usr/bin/env node\n${cliBundleOptions.banner.js}` },
  });
  // The bundle looks for both beside itself (src/validate/schema.ts, src/manifests/parameter-schema.ts).
  await cp(join(root, 'schemas'), join(dir, 'schemas'), { recursive: true });
  const require = createRequire(import.meta.url);
  for (const [file, pkg] of [['web-tree-sitter.wasm', 'web-tree-sitter'], ['tree-sitter-python.wasm', 'tree-sitter-python']] as const) {
    await copyFile(require.resolve(`${pkg}/${file}`), join(dir, file));
  }
  await chmod(script, 0o755);
  const tarball = join(outRoot, `${name}.tar.gz`);
  execFileSync('tar', ['-czf', tarball, '-C', outRoot, name]);
  return { dir, script, tarball, version };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const built = await buildSingle();
  console.log(`built ${relative(root, built.script)} and ${relative(root, built.tarball)} (version ${built.version})`);
}
