import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prefectCli, startPrefectServer, type PrefectServerHandle } from '../../scripts/prefect-server.js';
import { apply } from '../../src/apply/apply.js';
import { compareDeployments } from '../../src/compare/compare.js';
import { ALWAYS_EXPECTED, DELIBERATE_DIFFERENCES, type DeliberateDifference } from '../../src/compare/diff.js';
import { silentLogger } from '../../src/log.js';
import { reconcile } from '../../src/reconcile.js';
import { fetchRetrying, postJson, prefectApiUrl } from '../helpers/prefect.js';

/**
 * Every directory of test/fixtures/equivalence is a prefect.yaml project. Each is deployed with the
 * real `prefect deploy --all` (the test venv's Prefect) to a second server and with prefect-gitops
 * to the test server; then every field of every deployment (and its automations, and the flow
 * names) is compared. The only differences allowed are the README's deliberate ones that the
 * fixture's `equivalence.json` lists (see test/fixtures/equivalence/README.md for its keys), plus
 * those every project shows (`version`). Finally prefect-gitops adopts what `prefect deploy` made
 * (ownership changes only) and converges.
 */
const ROOT = resolve('test/fixtures/equivalence');
const FIXTURES = readdirSync(ROOT).filter((name) => statSync(join(ROOT, name)).isDirectory()).sort();

interface FixtureConfig {
  /** Issue items the fixture reproduces, e.g. ["B1"] (documentation only). */
  covers?: string[];
  /** Environment for both tools (`{{ $VAR }}`, `{{ env.VAR }}`). */
  env?: Record<string, string>;
  /** Step outputs for prefect-gitops (`--set`), which does not run build steps. */
  set?: Record<string, string>;
  /** Deliberate differences (keys of DELIBERATE_DIFFERENCES) this fixture shows. */
  deliberate?: DeliberateDifference[];
  /** Work pools to create first; default: every pool the deployments name, as process pools. */
  workPools?: { name: string; type: string }[];
  /** Prefect variables to create on both servers. */
  variables?: Record<string, unknown>;
  /** Secret blocks (name -> value) to create on both servers first. */
  secrets?: Record<string, string>;
  /** Extra arguments for `prefect deploy --all`. */
  deployArgs?: string[];
  /** Where `prefect deploy` runs, relative to the fixture (default: the fixture itself). */
  deployCwd?: string;
  /** The directory prefect-gitops reads, relative to the fixture (default: the fixture itself). */
  manifests?: string;
  /** `--owner` for prefect-gitops. */
  owner?: string;
  /** prefect-gitops gets `--python` with the test venv's Python (issue 9 A12). */
  python?: boolean;
}

function readConfig(dir: string): FixtureConfig {
  const file = join(dir, 'equivalence.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as FixtureConfig) : {};
}

async function createVariables(apiUrl: string, variables: Record<string, unknown>): Promise<void> {
  for (const [name, value] of Object.entries(variables)) {
    const response = await postJson(`${apiUrl}/variables/`, { name, value });
    if (!response.ok && response.status !== 409) throw new Error(`variable ${name}: ${response.status} ${await response.text()}`);
  }
}

async function createSecrets(apiUrl: string, secrets: Record<string, string>): Promise<void> {
  const post = async <T>(path: string, body: unknown): Promise<T> => {
    const response = await postJson(`${apiUrl}${path}`, body);
    if (!response.ok && response.status !== 409) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const type = (await (await fetchRetrying(`${apiUrl}/block_types/slug/secret`)).json()) as { id: string };
  const [schema] = await post<{ id: string }[]>('/block_schemas/filter', { block_schemas: { block_type_id: { any_: [type.id] } }, limit: 1 });
  for (const [name, value] of Object.entries(secrets)) {
    await post('/block_documents/', { name, data: { value }, block_schema_id: schema!.id, block_type_id: type.id });
  }
}

describe('equivalence with prefect deploy --all', () => {
  let other: PrefectServerHandle;
  /** Which fixture first declared each flow: fixtures share servers, so flow names must differ. */
  const flowOwners = new Map<string, string>();
  const tally = { fixtures: 0, deployments: 0, equal: 0 };
  beforeAll(async () => {
    other = await startPrefectServer({ scheduler: false });
  });
  afterAll(async () => {
    await other?.stop();
    console.log(`equivalence: ${tally.fixtures} fixtures, ${tally.equal}/${tally.deployments} deployments equal except deliberate differences`);
  });

  it('has fixtures', () => {
    expect(FIXTURES.length).toBeGreaterThan(0);
  });

  it.each(FIXTURES)('%s: every field of every deployment is the same', async (name) => {
    const fixture = join(ROOT, name);
    const config = readConfig(fixture);
    const env = config.env ?? {};
    const unknown = (config.deliberate ?? []).filter((d) => !(d in DELIBERATE_DIFFERENCES));
    expect(unknown, 'equivalence.json lists unknown deliberate differences').toEqual([]);
    if (config.variables) for (const url of [other.apiUrl, prefectApiUrl()]) await createVariables(url, config.variables);
    if (config.secrets) for (const url of [other.apiUrl, prefectApiUrl()]) await createSecrets(url, config.secrets);
    const manifests = join(fixture, config.manifests ?? '.');
    const common = { cwd: process.cwd(), env, ...(config.set ? { stepOutputs: config.set } : {}), ...(config.owner ? { owner: config.owner } : {}), ...(config.python ? { python: resolve('.prefect-venv/bin/python') } : {}) };

    const result = await compareDeployments({
      dir: manifests,
      ...common,
      theirs: {
        client: { apiUrl: other.apiUrl },
        deploy: () => prefectCli(other, ['--no-prompt', 'deploy', '--all', ...(config.deployArgs ?? [])], { cwd: join(fixture, config.deployCwd ?? '.'), env, timeoutMs: 180_000 }),
      },
      ours: { apiUrl: prefectApiUrl() },
      ...(config.workPools ? { workPools: config.workPools } : {}),
      logger: silentLogger(),
    });
    expect(result.deploy.code, result.deploy.stdout + result.deploy.stderr).toBe(0);
    expect(result.applied?.ok, JSON.stringify(result.applied?.results)).toBe(true);
    const keys = Object.keys(result.theirs);
    expect(keys.length, `prefect deploy made no deployment:\n${result.deploy.stdout}`).toBeGreaterThan(0);

    for (const key of keys) {
      const flow = key.split('/')[0]!;
      const first = flowOwners.get(flow);
      expect(first === undefined || first === name, `flow "${flow}" is also declared by fixture ${first}; give every fixture its own flow names`).toBe(true);
      flowOwners.set(flow, name);
    }

    const unexpected = result.differences.filter((d) => !d.deliberate);
    expect(unexpected, `differences from prefect deploy (theirs -> ours):\n${unexpected.map((d) => `${d.deployment} ${d.path}: ${JSON.stringify(d.theirs)} -> ${JSON.stringify(d.ours)}`).join('\n')}`).toEqual([]);
    const seen = [...new Set(result.differences.flatMap((d) => (d.deliberate && !ALWAYS_EXPECTED.includes(d.deliberate) ? [d.deliberate] : [])))].sort();
    expect(seen, 'deliberate differences observed vs. listed in equivalence.json').toEqual((config.deliberate ?? []).filter((d) => !ALWAYS_EXPECTED.includes(d)).sort());
    tally.fixtures++;
    tally.deployments += keys.length;
    tally.equal += keys.filter((k) => result.differences.every((d) => d.deployment !== k || d.deliberate)).length;

    // Converged: the next plan is empty.
    const again = await reconcile({ manifests, ...common, client: { apiUrl: prefectApiUrl() }, allowMassDelete: false, adoptAll: false, logger: silentLogger() });
    expect(again.plan.actions.map((a) => `${a.kind} ${a.key}`)).toEqual([]);

    // Adopting what prefect deploy made: the plan shows ownership changes only (our owner tag and,
    // where the deployment has triggers, its automations recreated as ours), then converges.
    const adoption = await reconcile({ manifests, ...common, client: { apiUrl: other.apiUrl }, allowMassDelete: false, adoptAll: true, logger: silentLogger() });
    expect(adoption.plan.actions.map((a) => a.kind)).toEqual(Array(keys.length).fill('adopt'));
    // A deliberate difference shows up as a change of its field when adopting.
    const ownershipOnly = new Set(['tags', 'triggers', ...result.differences.flatMap((d) => (d.deliberate ? [d.path.split(/[.[]/)[0]!] : []))]);
    for (const action of adoption.plan.actions) {
      if (action.kind !== 'adopt') continue;
      expect(action.changes.map((c) => c.field).filter((f) => !ownershipOnly.has(f)), action.key).toEqual([]);
    }
    const adopted = await apply(adoption.plan, adoption.client, { logger: silentLogger() });
    expect(adopted.ok, JSON.stringify(adopted.results)).toBe(true);
    const after = await reconcile({ manifests, ...common, client: { apiUrl: other.apiUrl }, allowMassDelete: false, adoptAll: false, logger: silentLogger() });
    expect(after.plan.actions).toEqual([]);
    expect(after.plan.conflicts).toEqual([]);
  });
});
