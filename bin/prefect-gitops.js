#!/usr/bin/env node
// In a source checkout (src/ is present) this always runs the TypeScript source through tsx, so a
// compiled lib/ left over from an earlier `npm run build` or `npm pack` can never run stale.
// The published package ships lib/ (compiled on `npm pack`) and no src/, and runs lib/.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
let entry = join(root, 'lib', 'cli', 'main.js');
if (existsSync(source)) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('prefect-gitops: this is a source checkout and its dev dependencies are missing (tsx): run `npm ci`.\n');
    process.exit(1);
  }
  register();
  entry = source;
} else {
  // Node 22.1+ keeps V8's compiled code of lib/ between runs (in the OS temp dir; NODE_DISABLE_COMPILE_CACHE=1
  // turns it off), so a second run skips most of the startup compile. Node 20 has no such cache: a no-op there.
  module.enableCompileCache?.();
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
