import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The single-file build (scripts/build-single.ts) defines this: it has no package.json beside it.
declare const __PREFECT_GITOPS_VERSION__: string | undefined;

/** This package's version: from package.json (src/, lib/, dist/action/) or baked in by the single-file build. */
export const VERSION: string = typeof __PREFECT_GITOPS_VERSION__ === 'string' ? __PREFECT_GITOPS_VERSION__ : readOwnVersion();

/** Walks up from this file to the package.json named prefect-gitops (works from src/, lib/ and dist/action/). */
function readOwnVersion(): string {
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 6; i += 1) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'prefect-gitops' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // no package.json here; keep walking
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  } catch {
    // import.meta.url is not a file URL (e.g. some bundlers)
  }
  return 'unknown';
}
