import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await main(args, { stdout: () => {}, stderr: (t) => void (stderr += t), env: { PREFECT_API_URL: 'http://127.0.0.1:9/api' }, cwd: process.cwd(), isTty: false });
  return { code, stderr };
}

describe('CLI usage errors', () => {
  it.each([
    [['plan', 'examples', '--concurrency', 'abc'], 1, 'expected a whole number of at least 1, got "abc"'],
    [['plan', 'examples', '--concurrency', '0'], 1, 'expected a whole number of at least 1, got "0"'],
    [['apply', 'examples', '--max-deletes', 'many'], 1, 'expected a whole number of at least 0, got "many"'],
    // A typo must not exit 2, which --detailed-exitcode reads as "changes present".
    [['plan', 'examples', '--detailed-exitcod'], 1, "unknown option '--detailed-exitcod'"],
    [['validate', 'examples', '--bogus'], 2, "unknown option '--bogus'"],
    [['export', '--out', '/tmp/x'], 1, 'say what to export'],
  ] as const)('%j exits %i', async (args, code, message) => {
    const run = await cli([...args]);
    expect(run.code).toBe(code);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});
