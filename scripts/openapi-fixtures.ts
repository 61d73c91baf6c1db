// Writes test/fixtures/openapi/<version>.json: what a real Prefect server of that version says it
// accepts, trimmed to what the capability gates read (src/prefect/capabilities.ts): the property
// names of a few request schemas and the list of paths. test/unit/capabilities.test.ts checks
// the client's gates against every fixture, so the gates are not guesses.
//
//   npx tsx scripts/openapi-fixtures.ts                     every matrix version and the pinned one
//   npx tsx scripts/openapi-fixtures.ts --version 3.1.15    one version (installs its venv if needed)
//   npx tsx scripts/openapi-fixtures.ts --from /tmp/pv/3.9.1.openapi.json   trim a saved document
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trimOpenApi, type OpenApiDocument, type OpenApiFixture } from '../src/prefect/capabilities.js';
import { startLocalPrefectServer } from '../src/prefect/local-server.js';
import { ensurePrefectVenv, readMatrixVersions, repoRoot } from './prefect-venv.js';

const FIXTURE_DIR = join(repoRoot, 'test', 'fixtures', 'openapi');

async function save(fixture: OpenApiFixture): Promise<void> {
  await mkdir(FIXTURE_DIR, { recursive: true });
  const file = join(FIXTURE_DIR, `${fixture.version}.json`);
  await writeFile(file, `${JSON.stringify(fixture, null, 1)}\n`);
  process.stderr.write(`wrote ${file} (${fixture.paths.length} paths, ${Object.keys(fixture.schemas).length} schemas)\n`);
}

async function fromServer(version: string): Promise<OpenApiFixture> {
  const venv = await ensurePrefectVenv({ version });
  const server = await startLocalPrefectServer(venv.prefect);
  try {
    const reported = JSON.parse(await (await fetch(`${server.apiUrl}/admin/version`)).text()) as string;
    if (reported !== version) throw new Error(`asked for Prefect ${version}, the server reports ${reported}`);
    const doc = (await (await fetch(`${server.apiUrl}/openapi.json`)).json()) as OpenApiDocument;
    return trimOpenApi(doc, reported);
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { version: { type: 'string', multiple: true }, from: { type: 'string', multiple: true } } });
  for (const file of values.from ?? []) {
    const version = /(\d+\.\d+\.\d+[^/]*?)\.openapi\.json$/.exec(file)?.[1];
    if (!version) throw new Error(`cannot tell the version from the file name ${file} (want <version>.openapi.json)`);
    await save(trimOpenApi(JSON.parse(await readFile(file, 'utf8')) as OpenApiDocument, version));
  }
  if (values.from?.length && !values.version?.length) return;
  // In sequence: each server takes a core while it starts.
  for (const version of values.version ?? (await readMatrixVersions())) await save(await fromServer(version));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
