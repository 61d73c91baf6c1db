import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { api, prefectApiUrl, uniqueName } from '../helpers/prefect.js';
import { ensurePool, makeProject, planProject, readDeployment, type Project } from '../helpers/gitops.js';
import { renderPlanComment, renderPlanSummary } from '../../src/render/markdown.js';

/**
 * Issue 8, section 5: a URL password, a list or mapping under a sensitive key, and a value a server
 * error echoes back never reach any output channel: plan text, --json, plan --out, apply output,
 * drift, logs (both formats) and the error printed for a real 422 from the server.
 */

const POOL = 'gitops-it-pool';
const URL_PASSWORD = 'pw-in-url-7f3a9c';
const LIST_SECRET = 'tok-in-list-4b2e8d';
const MAP_SECRET = 'map-secret-1c9d5e';
const LIVE_PASSWORD = 'pw-live-drift-2e7b';
const ECHOED_SECRET = 'tok-echoed-by-422-5d1f';
const ALL = [URL_PASSWORD, LIST_SECRET, MAP_SECRET, LIVE_PASSWORD, ECHOED_SECRET];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { PREFECT_API_URL: prefectApiUrl(), ...env },
    cwd: process.cwd(),
    isTty: false,
  });
  return { code, stdout, stderr };
}

const expectNoSecret = (text: string, where: string): void => {
  for (const secret of ALL) expect(text, `${where} shows ${secret}`).not.toContain(secret);
};

describe('secrets never reach an output channel', () => {
  let project: Project;
  beforeAll(async () => {
    await ensurePool(POOL);
    project = await makeProject('secrets');
    await project.write([
      {
        name: 'db',
        work_pool: {
          name: POOL,
          job_variables: {
            env: { DATABASE_URL: `postgresql://app:${URL_PASSWORD}@db.internal:5432/prefect` },
            secrets: [LIST_SECRET, 'second-list-item'],
            credentials: { user: 'app', password: MAP_SECRET },
          },
        },
        parameters: { label: `redis://:${URL_PASSWORD}@cache:6379/0` },
      },
    ]);
  });

  it('plan text, --json and the saved plan', async () => {
    const text = await cli(['plan', project.dir, '--log-level', 'debug']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`postgresql://app:***@db.internal:5432/prefect`);
    expect(text.stdout).toContain('redis://:***@cache:6379/0');
    expectNoSecret(text.stdout + text.stderr, 'plan text');

    const json = await cli(['plan', project.dir, '--json', '--log-level', 'debug', '--log-format', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ summary: { add: 1 } });
    expect(json.stdout).toContain('(sensitive)');
    expectNoSecret(json.stdout + json.stderr, 'plan --json');

    // The Action's markdown (PR comment, job summary) from the same real plan.
    const { plan } = await planProject(project.dir);
    for (const markdown of [renderPlanComment(plan, { now: new Date() }), renderPlanSummary(plan, { now: new Date() })]) {
      expect(markdown).toContain('postgresql://app:***@db.internal:5432/prefect');
      expectNoSecret(markdown, 'markdown');
    }

    const out = join(project.dir, 'saved-plan.json');
    const saved = await cli(['plan', project.dir, '--out', out]);
    expect(saved.code).toBe(0);
    expectNoSecret(await readFile(out, 'utf8'), 'plan --out');
  });

  it('apply output and logs, then drift (text and --json) after the server changed', async () => {
    const applied = await cli(['apply', project.dir, '--log-level', 'debug']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Apply complete: 1 added');
    expectNoSecret(applied.stdout + applied.stderr, 'apply');
    // What was written is the real value: redaction is for display only.
    const live = await readDeployment(project.flow, 'db');
    expect(JSON.stringify(live?.job_variables)).toContain(URL_PASSWORD);

    await api('PATCH', `/deployments/${live!.id}`, {
      job_variables: { env: { DATABASE_URL: `postgresql://app:${LIVE_PASSWORD}@db.internal:5432/prefect` }, secrets: [LIVE_PASSWORD], credentials: { user: 'app', password: LIVE_PASSWORD } },
    });
    for (const args of [[], ['--json'], ['--log-level', 'debug', '--log-format', 'json']]) {
      const drift = await cli(['drift', project.dir, ...args]);
      expect(drift.code).toBe(2);
      expect(drift.stdout).toContain('job_variables');
      expectNoSecret(drift.stdout + drift.stderr, `drift ${args.join(' ')}`);
    }
  });

  it('a real 422 that echoes job variables prints them scrubbed, in the result, the summary and the log', async () => {
    // A pool whose job template types its variables: Prefect checks a deployment's job variables
    // against it and answers 422 "Failure reason: '<value>' is not of type 'integer'".
    const pool = uniqueName('secrets-pool');
    await api('POST', '/work_pools/', {
      name: pool,
      type: 'process',
      base_job_template: {
        job_configuration: { command: '{{ command }}', api_token: '{{ api_token }}', dsn_port: '{{ dsn_port }}' },
        variables: { type: 'object', properties: { command: { type: 'string' }, api_token: { type: 'integer' }, dsn_port: { type: 'integer' } } },
      },
    });
    const bad = await makeProject('secrets-422');
    await bad.write([{ name: 'rejected', work_pool: { name: pool, job_variables: { api_token: ECHOED_SECRET } } }]);
    const urlBad = await makeProject('secrets-422-url');
    await urlBad.write([{ name: 'rejected', work_pool: { name: pool, job_variables: { dsn_port: `postgresql://app:${URL_PASSWORD}@db/x` } } }]);
    for (const [dir, echoed] of [[bad.dir, 'api_token'], [urlBad.dir, 'dsn_port']] as const) {
      for (const args of [['--log-format', 'text'], ['--log-format', 'json'], ['--json']]) {
        const run = await cli(['apply', dir, '--log-level', 'debug', ...args]);
        expect(run.code).toBe(1);
        // The server did reject it, naming the field; only the value is hidden.
        expect(run.stdout + run.stderr).toContain(`Validation failed for field '${echoed}'`);
        expect(run.stdout + run.stderr).toMatch(/\[REDACTED\]|\*\*\*/);
        expectNoSecret(run.stdout + run.stderr, `422 ${echoed} (${args.join(' ')})`);
      }
    }
  });
});
