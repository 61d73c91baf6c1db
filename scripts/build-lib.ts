// Builds lib/, the CLI that npm users run (`npm run build`, the `prepare` script of npm pack/publish
// and git installs): src/cli/main.ts and everything it imports, dependencies included, bundled by
// esbuild into lib/cli/main.js. bin/prefect-gitops.js imports lib/cli/main.js and calls main().
//
// Why one bundle rather than tsc's file per module: starting the CLI was dominated by loading
// modules (some 400 files of ours and of undici, ajv, yaml, pino, commander, ...: resolving,
// reading and compiling each), about 0.45 s of CPU before any work; one file starts in about half
// that. `npx tsx scripts/bench-cpu.ts compare` measures it.
//
// lib/cli/main.js sits at the depth of src/cli/main.ts, so `new URL('../../schemas/', import.meta.url)`
// (src/validate/schema.ts) and the walk up to package.json (src/version.ts) find the package's own
// files; the Python parser's wasm files are resolved from node_modules (web-tree-sitter and
// tree-sitter-python stay dependencies for that). The GitHub Action (src/action) is not part of it.
import { rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The esbuild options shared by lib/ and the single-file build (scripts/build-single.ts). */
export const cliBundleOptions = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The oldest Node the package supports (package.json engines).
  target: 'node20',
  // CommonJS dependencies (pino, ...) call require() for Node built-ins, which an ES module lacks.
  banner: { js: "import { createRequire as __gitopsCreateRequire } from 'node:module';\nconst require = __gitopsCreateRequire(import.meta.url);" },
  legalComments: 'eof',
  charset: 'utf8',
  sourcemap: false,
  minify: false,
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** Builds into `outDir` (default: the package's lib/), which it empties first; returns the bundle's path. */
export async function buildLib(outDir = join(root, 'lib')): Promise<string> {
  await rm(outDir, { recursive: true, force: true });
  const outfile = join(outDir, 'cli', 'main.js');
  await build({ ...cliBundleOptions, entryPoints: ['src/cli/main.ts'], outfile });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outfile = await buildLib();
  console.log(`built ${relative(root, outfile)}`);
}
