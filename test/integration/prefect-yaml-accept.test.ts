import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrefectServer, type PrefectServerHandle } from '../../scripts/prefect-server.js';
import { main } from '../../src/cli/main.js';
import { fetchRetrying, postJson } from '../helpers/prefect.js';

/**
 * Issue 9 part A: every prefect.yaml that `prefect deploy --all` deploys is accepted. For each
 * acceptance fixture (test/fixtures/equivalence/acc-*, one pattern of real projects each):
 * `validate` exits 0 (warnings allowed), `apply` succeeds, and the next `plan` has no changes.
 * The fixtures' field-by-field equality with `prefect deploy --all` is the equivalence test's job;
 * this file runs against its own throwaway server so that both can share fixture names.
 */
const FIXTURES = resolve('test/fixtures/equivalence');
const ACCEPTANCE = readdirSync(FIXTURES).filter((d) => d.startsWith('acc-')).sort();

/** The fixture's equivalence.json (test/fixtures/equivalence/README.md), the keys this test uses. */
interface FixtureConfig {
  env?: Record<string, string>;
  set?: Record<string, string>;
  variables?: Record<string, unknown>;
  manifests?: string;
  owner?: string;
  /** prefect-gitops gets `--python` with the test venv's Python (the team's own Prefect). */
  python?: boolean;
}

function fixtureConfig(name: string): FixtureConfig {
  const file = join(FIXTURES, name, 'equivalence.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as FixtureConfig) : {};
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('prefect.yaml files that prefect deploy accepts', () => {
  let server: PrefectServerHandle;
  const cli = async (args: string[], env: Record<string, string> = {}, cwd = process.cwd()): Promise<Run> => {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: server.apiUrl, ...env }, cwd, isTty: false });
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    server = await startPrefectServer({ scheduler: false });
    const response = await postJson(`${server.apiUrl}/work_pools/`, { name: 'eq-pool', type: 'process' });
    expect([201, 409]).toContain(response.status);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('has a fixture per accepted pattern', () => {
    expect(ACCEPTANCE.length).toBeGreaterThanOrEqual(3);
  });

  it.each(ACCEPTANCE)('%s: validate exits 0, apply succeeds, the next plan is empty', async (name) => {
    const config = fixtureConfig(name);
    const dir = join('test/fixtures/equivalence', name, config.manifests ?? '.');
    for (const [variable, value] of Object.entries(config.variables ?? {})) {
      const response = await postJson(`${server.apiUrl}/variables/`, { name: variable, value });
      expect([201, 409]).toContain(response.status);
    }
    const extra = [
      ...(config.owner ? ['--owner', config.owner] : []),
      ...Object.entries(config.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
      ...(config.python ? ['--python', resolve('.prefect-venv/bin/python')] : []),
    ];
    const env = config.env ?? {};
    const validated = await cli(['validate', dir, ...extra], env);
    expect(validated.code, validated.stdout + validated.stderr).toBe(0);
    const applied = await cli(['apply', dir, ...extra], env);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/created|create/i);
    const planned = await cli(['plan', dir, '--detailed-exitcode', ...extra], env);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
  });

  it('a Prefect variable whose value does not fit the parameter is an error once resolved, before any write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acc-variable-'));
    cpSync(join(FIXTURES, 'acc-variable-parameter'), dir, { recursive: true });
    const yaml = readFileSync(join(dir, 'prefect.yaml'), 'utf8');
    writeFileSync(join(dir, 'prefect.yaml'), yaml.replaceAll('acc_n_value', 'acc_n_text').replace('name: acc-variable-parameter', 'name: acc-variable-text'));
    const flowFile = join(dir, 'flows', 'sample.py');
    writeFileSync(flowFile, readFileSync(flowFile, 'utf8').replace('def acc_sample(', 'def acc_sample_text('));
    writeFileSync(join(dir, 'prefect.yaml'), readFileSync(join(dir, 'prefect.yaml'), 'utf8').replace(':acc_sample', ':acc_sample_text'));
    const response = await postJson(`${server.apiUrl}/variables/`, { name: 'acc_n_text', value: 'three' });
    expect(response.status).toBe(201);
    expect((await cli(['validate', dir])).code).toBe(0);
    const applied = await cli(['apply', dir]);
    expect(applied.code, applied.stderr + applied.stdout).toBe(1);
    expect(applied.stderr + applied.stdout).toContain('acc-sample-text/sample: parameter n must be integer, got string "three" (after resolving Prefect variables)');
    const created = await fetchRetrying(`${server.apiUrl}/deployments/name/acc-sample-text/sample`);
    expect(created.status).toBe(404);
  });

  it('--prefect-file reads only that prefect.yaml, from the working directory, as prefect deploy --prefect-file does (A6)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'acc-prefect-file-'));
    cpSync(join(FIXTURES, 'acc-prefect-file'), root, { recursive: true });
    const flowFile = join(root, 'flows', 'nightly.py');
    writeFileSync(flowFile, readFileSync(flowFile, 'utf8').replace('def acc_nightly(', 'def acc_nightly_pf('));
    const yamlFile = join(root, 'flows', 'prefect.yaml');
    writeFileSync(yamlFile, readFileSync(yamlFile, 'utf8').replace(':acc_nightly', ':acc_nightly_pf'));
    // Another yaml the option must not read (it would be an error if read).
    writeFileSync(join(root, 'other.yaml'), 'deployments: [{name: 1}]\n');
    const args = ['--prefect-file', 'flows/prefect.yaml'];
    const validated = await cli(['validate', ...args], {}, root);
    expect(validated.code, validated.stdout + validated.stderr).toBe(0);
    expect(validated.stdout + validated.stderr).not.toMatch(/relative to the project root|auto-detected/);
    const applied = await cli(['apply', ...args], {}, root);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect((await fetchRetrying(`${server.apiUrl}/deployments/name/acc-nightly-pf/nightly`)).status).toBe(200);
    const planned = await cli(['plan', ...args, '--detailed-exitcode'], {}, root);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    const missing = await cli(['validate', '--prefect-file', 'nope/prefect.yaml'], {}, root);
    expect(missing.code).toBe(2);
    expect(missing.stderr + missing.stdout).toContain('--prefect-file not found: nope/prefect.yaml');
  });
});
