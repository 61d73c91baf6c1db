import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrefectServer, type PrefectServerHandle } from '../../scripts/prefect-server.js';
import { main } from '../../src/cli/main.js';

/**
 * Issue 9 part A: every prefect.yaml that `prefect deploy --all` deploys is accepted. For each
 * acceptance fixture (test/fixtures/equivalence/acc-*, one pattern of real projects each):
 * `validate` exits 0 (warnings allowed), `apply` succeeds, and the next `plan` has no changes.
 * The fixtures' field-by-field equality with `prefect deploy --all` is the equivalence test's job;
 * this file runs against its own throwaway server so that both can share fixture names.
 */
const FIXTURES = resolve('test/fixtures/equivalence');
const ACCEPTANCE = readdirSync(FIXTURES).filter((d) => d.startsWith('acc-')).sort();

/** Options a fixture needs, as a team would pass them. */
const EXTRA_ARGS: Readonly<Record<string, readonly string[]>> = {};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('prefect.yaml files that prefect deploy accepts', () => {
  let server: PrefectServerHandle;
  const cli = async (args: string[]): Promise<Run> => {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: server.apiUrl }, cwd: process.cwd(), isTty: false });
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    server = await startPrefectServer({ scheduler: false });
    const response = await fetch(`${server.apiUrl}/work_pools/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'eq-pool', type: 'process' }) });
    expect([201, 409]).toContain(response.status);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('has a fixture per accepted pattern', () => {
    expect(ACCEPTANCE.length).toBeGreaterThanOrEqual(3);
  });

  it.each(ACCEPTANCE)('%s: validate exits 0, apply succeeds, the next plan is empty', async (name) => {
    const dir = `test/fixtures/equivalence/${name}`;
    const extra = [...(EXTRA_ARGS[name] ?? [])];
    const validated = await cli(['validate', dir, ...extra]);
    expect(validated.code, validated.stdout + validated.stderr).toBe(0);
    const applied = await cli(['apply', dir, ...extra]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/created|create/i);
    const planned = await cli(['plan', dir, '--detailed-exitcode', ...extra]);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
  });
});
