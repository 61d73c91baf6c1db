// Builds the GitHub Action bundle, dist/action/index.js, from src/action/index.ts. The bundle is
// committed (the runner executes it straight from the checkout, without npm install), so the build
// must be byte-for-byte reproducible: pinned esbuild, no timestamps, no absolute paths, no
// minification (a reviewer can read the diff). `.ci/run` rebuilds and fails when it differs.
//
// ESM on purpose: src/validate/schema.ts finds schemas/*.json with
// `new URL('../../schemas/', import.meta.url)`, which from dist/action/index.js is <repo>/schemas.
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { nodeBundleOptions } from './esbuild-options.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'action');

export async function buildAction(): Promise<string[]> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    ...nodeBundleOptions,
    entryPoints: ['src/action/index.ts'],
    outfile: 'dist/action/index.js',
    treeShaking: true,
    metafile: true,
  });
  // The Python parser behind parameter schemas loads two wasm files from beside the module
  // (src/manifests/parameter-schema.ts looks there first): ship them with the bundle.
  const require = createRequire(import.meta.url);
  for (const [file, pkg] of [['web-tree-sitter.wasm', 'web-tree-sitter'], ['tree-sitter-python.wasm', 'tree-sitter-python']] as const) {
    await copyFile(require.resolve(`${pkg}/${file}`), join(outDir, file));
  }
  // A package.json next to the bundle pins its module type even if the root one changes.
  await writeFile(join(outDir, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);
  const inputs = Object.keys(result.metafile.inputs).filter((p) => p.startsWith('node_modules/')).map((p) => p.split('/').slice(0, p.split('/')[1]?.startsWith('@') ? 3 : 2).join('/'));
  return [...new Set(inputs)].sort();
}

const packages = await buildAction();
const files = await readdir(outDir);
console.log(`built ${files.map((f) => relative(root, join(outDir, f))).join(', ')} (${packages.length} bundled packages)`);
