import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await main(args, { stdout: () => {}, stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: 'http://127.0.0.1:9/api' }, cwd: process.cwd(), isTty: false });
  return { code, stderr };
}

describe('CLI usage errors', () => {
  it.each([
    // 64 (EX_USAGE): distinct from 1 (error) and 2 (invalid manifests / changes present / drift).
    [['plan', 'examples', '--concurrency', 'abc'], 64, 'expected a whole number of at least 1, got "abc"'],
    [['plan', 'examples', '--concurrency', '0'], 64, 'expected a whole number of at least 1, got "0"'],
    [['apply', 'examples', '--max-deletes', 'many'], 64, 'expected a whole number of at least 0, got "many"'],
    [['plan', 'examples', '--detailed-exitcod'], 64, "unknown option '--detailed-exitcod'"],
    [['validate', 'examples', '--bogus'], 64, "unknown option '--bogus'"],
    [['validate', 'examples', '--format', 'yaml'], 64, "Allowed choices are text, json"],
    [['plan', 'examples', '--set', 'novalue'], 64, '--set expects <step-id>.<key>=<value>, got "novalue"'],
    [['bogus'], 64, "unknown command 'bogus'"],
    [['export', '--out', '/tmp/x'], 64, 'say what to export'],
  ] as const)('%j exits %i', async (args, code, message) => {
    const run = await cli([...args]);
    expect(run.code).toBe(code);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('--json and --format json', () => {
  async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: 'http://127.0.0.1:9/api' }, cwd: process.cwd(), isTty: false });
    return { code, stdout, stderr };
  }
  const invalid = 'test/fixtures/invalid/22-cron-minute-61';

  it.each([['--json'], ['--format', 'json']])('validate %s prints the report as JSON', async (...flag) => {
    const { code, stdout } = await run(['validate', invalid, ...flag]);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({ valid: false, errors: 1, issues: [{ line: expect.any(Number), severity: 'error' }] });
  });

  it.each([['plan'], ['apply'], ['drift']])('%s --json / --format json on invalid manifests prints the problems as JSON on stdout, exit 1', async (command) => {
    for (const flag of [['--json'], ['--format', 'json']]) {
      const { code, stdout, stderr } = await run([command, invalid, ...flag]);
      expect(code).toBe(1);
      expect(JSON.parse(stdout)).toMatchObject({ valid: false, errors: 1 });
      expect(stderr).toContain('nothing was sent to Prefect');
    }
  });

  it('plan without --json keeps stdout empty on invalid manifests', async () => {
    const { code, stdout } = await run(['plan', invalid]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
  });
});
