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
import { _, Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { build, type Plugin } from 'esbuild';
import { addFormats, SHIPPED_SCHEMA_OPTIONS, shippedSchemas, USER_META_SCHEMA_ID, USER_SCHEMA_OPTIONS } from '../src/validate/schema.js';
import { nodeBundleOptions } from './esbuild-options.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The esbuild options of lib/, shared with the single-file build (scripts/build-single.ts). */
export const cliBundleOptions = nodeBundleOptions;

/** Builds into `outDir` (default: the package's lib/), which it empties first; returns the bundle's path. */
/**
 * src/validate/precompiled-schemas.ts is empty (src/ compiles the shipped schemas on first use);
 * in lib/ it is ajv standalone code of each shipped schema, made here with the options and format
 * checks src/validate/schema.ts uses at run time, so both validate alike.
 */
export function precompiledSchemasModule(): string {
  const ajv = addFormats(new Ajv({ ...SHIPPED_SCHEMA_OPTIONS, code: { source: true, esm: true, formats: _`require("ajv-formats/dist/formats").fullFormats` } }));
  const refs: Record<string, string> = {};
  for (const [name, source] of Object.entries(shippedSchemas)) {
    const schema = source();
    ajv.compile(schema);
    refs[name] = String(schema.$id);
  }
  const names = Object.keys(refs);
  // The meta-schema of user schemas in a module of its own (standalone code of two ajv instances
  // would declare the same names), re-exported from here.
  return `${standaloneCode(ajv, refs)}\nexport const precompiledValidators = { ${names.join(', ')} };\nexport { precompiledUserMeta } from './precompiled-user-meta.generated.js';\n`;
}

/** ajv standalone code of draft-07 as src/validate/schema.ts checks user schemas against it (its USER_SCHEMA_OPTIONS). */
export function precompiledUserMetaModule(): string {
  const ajv = new Ajv({ ...USER_SCHEMA_OPTIONS, code: { source: true, esm: true } });
  if (!ajv.getSchema(USER_META_SCHEMA_ID)) throw new Error(`ajv has no ${USER_META_SCHEMA_ID}`);
  return standaloneCode(ajv, { precompiledUserMeta: USER_META_SCHEMA_ID });
}

// CommonJS with __esModule: under Node's ESM interop the function is the module's `default`.
const standaloneCode = (standalone as unknown as { default: (ajv: Ajv, refs: Record<string, string>) => string }).default;

const precompiledSchemas: Plugin = {
  name: 'precompiled-schemas',
  setup(b) {
    b.onResolve({ filter: /\/precompiled-schemas\.js$/ }, () => ({ path: 'src/validate/precompiled-schemas.generated.js', namespace: 'precompiled-schemas' }));
    b.onResolve({ filter: /\/precompiled-user-meta\.generated\.js$/ }, () => ({ path: 'src/validate/precompiled-user-meta.generated.js', namespace: 'precompiled-schemas' }));
    b.onLoad({ filter: /.*/, namespace: 'precompiled-schemas' }, (args) => ({
      contents: args.path.endsWith('precompiled-user-meta.generated.js') ? precompiledUserMetaModule() : precompiledSchemasModule(),
      loader: 'js',
      resolveDir: join(root, 'src', 'validate'),
    }));
  },
};

export async function buildLib(outDir = join(root, 'lib')): Promise<string> {
  await rm(outDir, { recursive: true, force: true });
  const outfile = join(outDir, 'cli', 'main.js');
  await build({ ...cliBundleOptions, entryPoints: ['src/cli/main.ts'], outfile, plugins: [precompiledSchemas] });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outfile = await buildLib();
  console.log(`built ${relative(root, outfile)}`);
}
