import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cron } from 'croner';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensurePrefectVenv, repoRoot } from '../../scripts/prefect-venv.js';
import { normalisedCronPattern } from '../../src/manifests/cron.js';
import { cronProblem } from '../../src/manifests/schedule.js';

/**
 * Our cron check against Prefect's own: every expression of the corpus goes through
 * `prefect.client.schemas.schedules.CronSchedule(cron=...)` in the test virtualenv and through
 * `cronProblem`; both must accept, or both refuse. The corpus mixes what teams write (steps from a
 * start value, names, `?`, `L`, `#`, wrapping ranges, aliases, 6 and 7 fields) with near misses.
 */
const CORPUS = [
  // accepted by croniter, several of them refused by strict parsers
  '0/15 * * * *', '5/10 * * * *', '*/5 * * * *', '0 0/2 * * *', '0 9-17/2 * * 1-5', '0 0 1/3 * *', '0 0 * 1/2 *',
  '0 8 * * mon-fri', '0 8 * * MON-FRI', '0 0 1 jan *', '0 0 1 JAN,jul *', '0 12 ? * mon', '0 12 1 * ?', '0 0 L * *', '0 0 15-L * *',
  '0 10 * * 2#3', '0 10 * * fri#1', '0 10 * * L5', '0 10 * * 5#5', '0 0 * * 7', '0 0 * * 0-7', '0 0 * * 5-1', '0 0 * nov-feb *',
  '0 0 * * sun-sun', '30 2 * * *', '0 0 1,15 * *', '0 0,12 * * *', '59 23 31 12 *', '0 0 * * * 30', '0 0 * * * */10',
  '0 0 1 1 * 0 2030', '0 0 1 1 * 0 2025-2030', '@hourly', '@daily', '@midnight', '@weekly', '@monthly', '@yearly', '@annually', '@HOURLY',
  '0 0 * * * 0', '*/7 */5 * * *', '0 4 8-14 * *', '00 05 * * *', '0 0 0 * * 0', '1-1 * * * *', '5-3 * * * *', 'r(0-5) * * * *',
  // refused by croniter or by Prefect
  '0/0 * * * *', '*/0 * * * *', '61 * * * *', '0 24 * * *', '0 0 32 * *', '0 0 0 * *', '0 0 * 0 *', '0 0 * 13 *', '0 0 * * 8',
  '0 0 * * * 7', '0 0 * * * 60', '0 0 * * * 0 1969', '0 0 * * * 0 2100', '0 0 ? ? ?', '? * * * *', '0 0 *? * *', '0 0 * * 1#6',
  '0 0 * * 1#0', '0 0 * * 1,2#3', '0 0 * * mon#2,tue', '0 0 * foo *', '0 0 * * monday', '-5 * * * *', '0 0 l-5 * *', 'R 6 * * *',
  'H * * * *', 'h(0-5) * * * *', '0 0 * *', '0 0 * * * * * *', '@reboot', '@every 5m', '1/2/3 * * * *', '0 0 * * L', '0 0 W * *',
  '0 0 15W * *', 'a * * * *', '0-60 * * * *', '*/5,61 * * * *', '0 0 1-32/2 * *',
];

describe('cron expressions: the same verdict as Prefect', () => {
  let prefect: Record<string, string | null>;

  beforeAll(async () => {
    const { python } = await ensurePrefectVenv({ log: () => {} });
    const script = [
      'import json, sys',
      'from prefect.client.schemas.schedules import CronSchedule',
      'out = {}',
      'for expr in json.loads(sys.argv[1]):',
      '    try:',
      '        CronSchedule(cron=expr)',
      '        out[expr] = None',
      '    except Exception as exc:',
      '        out[expr] = str(exc).splitlines()[0]',
      'print(json.dumps(out))',
    ].join('\n');
    const { stdout } = await promisify(execFile)(python, ['-c', script, JSON.stringify(CORPUS)], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
    prefect = JSON.parse(stdout) as Record<string, string | null>;
  });

  it('has a corpus with both verdicts', () => {
    const accepted = CORPUS.filter((c) => prefect[c] === null).length;
    expect(accepted).toBeGreaterThanOrEqual(40);
    expect(CORPUS.length - accepted).toBeGreaterThanOrEqual(30);
  });

  it.each(CORPUS)('%s', (expression) => {
    const ours = cronProblem(expression);
    expect(ours === undefined, `Prefect: ${prefect[expression] ?? 'accepted'}; prefect-gitops: ${ours ?? 'accepted'}`).toBe(prefect[expression] === null);
  });

  it('every expression Prefect accepts has a plain pattern a strict library runs', () => {
    for (const expression of CORPUS.filter((c) => prefect[c] === null && !c.startsWith('@') && c.split(/\s+/).length < 7)) {
      const pattern = normalisedCronPattern(expression);
      expect(pattern, expression).toBeDefined();
      expect(() => new Cron(pattern!, { paused: true }).nextRun(), `${expression} -> ${pattern}`).not.toThrow();
    }
  });
});
