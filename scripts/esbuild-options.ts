// The esbuild options every Node bundle of ours shares: lib/ (scripts/build-lib.ts), the single-file
// build (scripts/build-single.ts) and the GitHub Action (scripts/build-action.ts). Reproducible on
// purpose: pinned esbuild, no timestamps, no absolute paths, no minification (readable diffs and
// stack traces).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export const nodeBundleOptions = {
  absWorkingDir: repoRoot,
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The oldest Node the package supports (package.json engines); the Actions runner runs node24.
  target: 'node20',
  // CommonJS dependencies (pino, @actions/core, ...) call require() for Node built-ins, which an
  // ES module does not have: give them one.
  banner: { js: "import { createRequire as __gitopsCreateRequire } from 'node:module';\nconst require = __gitopsCreateRequire(import.meta.url);" },
  legalComments: 'eof',
  charset: 'utf8',
  sourcemap: false,
  minify: false,
  logLevel: 'warning',
} as const satisfies BuildOptions;
