import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lookupFlow } from '../../src/manifests/entrypoint.js';
import { loadManifests } from '../../src/manifests/load.js';
import { validateProject } from '../../src/validate/validate.js';

/** Issue 9 A: what prefect deploy accepts, read without running it. */
async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pyaccept-'));
  await mkdir(join(dir, 'flows'));
  await writeFile(join(dir, 'flows', 'etl.py'), 'from prefect import flow\n\n@flow\ndef etl(n: int = 1):\n    """Load."""\n    return n\n');
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

async function check(dir: string, options: { owner?: string } = {}) {
  const result = validateProject(await loadManifests(dir, { cwd: dir }), { env: {}, ...options });
  return { ...result, lines: result.issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.severity}: ${i.message}`) };
}

const entry = (extra: string): string => `name: p\ndeployments:\n  - name: a\n    entrypoint: flows/etl.py:etl\n    work_pool: {name: x}\n${extra}`;

describe('A1, A2: the prefect init template and its nulls', () => {
  it.each([
    ['schedule: {}', '    schedule: {}\n'],
    ['schedule: null', '    schedule: null\n'],
    ['schedules: null', '    schedules: null\n'],
    ['flow_name: null and version: null', '    flow_name: null\n    version: null\n    tags: null\n    paused: null\n'],
  ])('%s means "not given"', async (_label, extra) => {
    const result = await check(await project({ 'prefect.yaml': entry(extra) }));
    expect(result.lines).toEqual([]);
    expect(result.deployments).toHaveLength(1);
    expect(result.deployments[0]!.flowName).toBe('etl');
    expect(result.deployments[0]!.manifest.schedules ?? []).toEqual([]);
  });

  it('skips an unnamed entry with a warning, as prefect deploy --all does', async () => {
    const result = await check(await project({ 'prefect.yaml': `${entry('')}  - name:\n    entrypoint: null\n    schedule: {}\n  - entrypoint: flows/etl.py:etl\n` }));
    expect(result.lines).toEqual([
      'prefect.yaml:6:5: warning: unnamed deployment: prefect deploy --all skips it ("Discovered unnamed deployment. Skipping..."), and so does prefect-gitops; give it a name to deploy it',
      'prefect.yaml:9:5: warning: unnamed deployment: prefect deploy --all skips it ("Discovered unnamed deployment. Skipping..."), and so does prefect-gitops; give it a name to deploy it',
    ]);
    expect(result.deployments.map((d) => d.name)).toEqual(['a']);
  });

  it('a legacy schedule that is a mapping still becomes the only schedule', async () => {
    const result = await check(await project({ 'prefect.yaml': entry('    schedule: {cron: "0 1 * * *"}\n') }));
    expect(result.deployments[0]!.manifest.schedules).toMatchObject([{ cron: '0 1 * * *' }]);
  });
});

describe('A3: keys Prefect ignores are warnings for prefect.yaml input', () => {
  it('says what Prefect does with each, and drops it', async () => {
    const dir = await project({
      'prefect.yaml': entry('    job_variables: {image: x}\n    environment: prod\n    work_queue_name: q\n    colour: blue\n').replace('work_pool: {name: x}', 'work_pool: {name: x, flow_variables: {a: 1}}'),
    });
    const result = await check(dir);
    expect(result.lines).toEqual([
      'prefect.yaml:5:26: warning: "work_pool.flow_variables" is ignored by Prefect: work_pool takes name, work_queue_name and job_variables (job variables belong under work_pool.job_variables); prefect-gitops ignores it too',
      'prefect.yaml:6:5: warning: "job_variables" is ignored by Prefect: job variables belong under work_pool.job_variables; prefect-gitops ignores it too',
      'prefect.yaml:7:5: warning: "environment" is ignored by Prefect: a deployment has no `environment` field; environment variables belong under work_pool.job_variables.env; prefect-gitops ignores it too',
      'prefect.yaml:8:5: warning: "work_queue_name" is ignored by Prefect: the work queue belongs under work_pool.work_queue_name; prefect-gitops ignores it too',
      expect.stringMatching(/^prefect\.yaml:9:5: warning: "colour" is ignored by Prefect: it is not a deployment field \(build, concurrency_limit, /),
    ]);
    expect(result.deployments[0]!.manifest.work_pool).toEqual({ name: 'x' });
  });

  it('our own manifest files stay strict', async () => {
    const dir = await project({ 'prefect-gitops.yaml': 'owner: o\n', 'deployments/a.yaml': 'name: a\nentrypoint: flows/etl.py:etl\njob_variables: {image: x}\n' });
    expect((await check(dir)).issues.filter((i) => i.severity === 'error').map((i) => i.message)).toEqual([expect.stringContaining('job_variables')]);
  });
});

describe('A11: which YAML files are manifests', () => {
  const others = { 'compose.yaml': 'services:\n  db: {image: postgres}\n', '.pre-commit-config.yaml': 'repos: []\n', 'dbt/dbt_project.yml': 'name: analytics\nversion: "1"\n' };

  it('without a prefect-gitops.yaml only prefect.yaml files are read', async () => {
    const dir = await project({ 'prefect.yaml': entry(''), ...others });
    const loaded = await loadManifests(dir, { cwd: dir });
    expect(loaded.files).toEqual(['prefect.yaml']);
    expect((await check(dir)).lines).toEqual([]);
  });

  it('with one, a YAML file that is not a manifest is an error that points at `ignore:`; hidden files are never read', async () => {
    const dir = await project({ 'prefect-gitops.yaml': 'owner: o\n', 'prefect.yaml': entry(''), ...others });
    expect((await check(dir)).lines).toEqual([
      'compose.yaml:1:1: error: this document is not a deployment manifest (no name or entrypoint; it has services); if this file is not a manifest, list it under `ignore:` in prefect-gitops.yaml (or in .gitopsignore)',
      expect.stringMatching(/^dbt\/dbt_project\.yml:1:1: error: /),
    ]);
    const ignored = await project({ 'prefect-gitops.yaml': 'owner: o\nignore: [compose.yaml, dbt/]\n', 'prefect.yaml': entry(''), ...others });
    expect((await check(ignored)).lines).toEqual([]);
  });
});

describe('A8: f-strings without placeholders are literals', () => {
  it.each([
    ['f"stats_flow"', { kind: 'flow', flowName: 'stats_flow' }],
    ["F'stats'", { kind: 'flow', flowName: 'stats' }],
    ['rf"a{{b}}"', { kind: 'flow', flowName: 'a{b}' }],
    ['f"stats_{region}"', { kind: 'dynamic-name', expression: 'f"stats_{region}"' }],
  ])('@flow(name=%s)', (name, expected) => {
    expect(lookupFlow(`from prefect import flow\n\n@flow(name=${name})\ndef etl():\n    pass\n`, 'etl')).toMatchObject(expected);
  });
});

describe('A5: module entrypoints are imported from the working directory and PYTHONPATH', () => {
  const moduleEntry = 'name: p\ndeployments:\n  - name: a\n    entrypoint: pkg.flows:etl\n    work_pool: {name: x}\n';
  const files = {
    'prefect.yaml': moduleEntry,
    'lib/pkg/__init__.py': '',
    'lib/pkg/flows.py': 'from prefect import flow\n\n@flow(name="lib-etl")\ndef etl():\n    pass\n',
  };

  it('finds the module under a PYTHONPATH folder inside the project, relative ones from the working directory', async () => {
    const dir = await project(files);
    for (const pythonPath of ['lib', join(dir, 'lib'), `/nonexistent:lib`]) {
      const result = validateProject(await loadManifests(dir, { cwd: dir, env: { PYTHONPATH: pythonPath } }), { env: {} });
      expect(result.issues.filter((i) => i.severity === 'error')).toEqual([]);
      expect(result.deployments[0]!.flowName).toBe('lib-etl');
    }
  });

  it('without PYTHONPATH the module is not found (Prefect would not import it either)', async () => {
    const result = validateProject(await loadManifests(await project(files), { env: {} }), { env: {} });
    expect(result.issues.some((i) => i.severity === 'error' && i.path === 'entrypoint')).toBe(true);
  });

  it('never reads a PYTHONPATH folder outside the project', async () => {
    const outside = await project({ 'pkg/__init__.py': '', 'pkg/flows.py': 'from prefect import flow\n\n@flow\ndef etl():\n    pass\n' });
    const dir = await project({ 'prefect.yaml': moduleEntry });
    const loaded = await loadManifests(dir, { cwd: dir, env: { PYTHONPATH: outside } });
    expect(loaded.pythonPath).toBeUndefined();
    expect([...loaded.pythonSources.keys()].every((k) => !k.includes('..'))).toBe(true);
    expect(validateProject(loaded, { env: {} }).issues.some((i) => i.severity === 'error' && i.path === 'entrypoint')).toBe(true);
  });

  it('a file entrypoint is a path: PYTHONPATH plays no part', async () => {
    const dir = await project({ 'prefect.yaml': moduleEntry.replace('pkg.flows:etl', 'pkg/flows.py:etl'), 'lib/pkg/flows.py': files['lib/pkg/flows.py'] });
    const result = validateProject(await loadManifests(dir, { cwd: dir, env: { PYTHONPATH: 'lib' } }), { env: {} });
    expect(result.issues.some((i) => i.severity === 'error' && i.path === 'entrypoint')).toBe(true);
  });
});

describe('an unset {{ $VAR }}: what prefect deploy 3.8 does', () => {
  it('in a prefect.yaml it becomes an empty string, with a warning naming the variable at its line (pull steps keep the text)', async () => {
    const dir = await project({
      'prefect.yaml': entry('    description: "run in {{ $PG_UNSET_A }} now"\n').replace('work_pool: {name: x}', 'work_pool: {name: x, job_variables: {env: {REGION: "{{ $PG_UNSET_B }}"}}}').replace('name: p\n', 'name: p\npull:\n  - prefect.deployments.steps.set_working_directory:\n      directory: "/opt/{{ $PG_UNSET_C }}"\n'),
    });
    const result = await check(dir);
    expect(result.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(result.lines).toEqual([
      'prefect.yaml:8:56: warning: environment variable PG_UNSET_B is not set (used as {{ $PG_UNSET_B }}): prefect deploy replaces it with an empty string, and so does prefect-gitops; set it if that is not what you mean',
      'prefect.yaml:9:18: warning: environment variable PG_UNSET_A is not set (used as {{ $PG_UNSET_A }}): prefect deploy replaces it with an empty string, and so does prefect-gitops; set it if that is not what you mean',
    ]);
    const manifest = result.deployments[0]!.manifest;
    expect(manifest.description).toBe('run in  now');
    expect(manifest.work_pool?.job_variables).toEqual({ env: { REGION: '' } });
    expect(manifest.pull).toEqual([{ 'prefect.deployments.steps.set_working_directory': { directory: '/opt/{{ $PG_UNSET_C }}' } }]);
  });

  it('our own manifests keep the error', async () => {
    const dir = await project({ 'prefect-gitops.yaml': 'owner: o\n', 'deployments/a.yaml': 'name: a\nentrypoint: flows/etl.py:etl\nwork_pool: {name: x}\ndescription: "{{ $PG_UNSET_A }}"\n' });
    expect((await check(dir)).issues.filter((i) => i.severity === 'error').map((i) => i.message)).toEqual([expect.stringContaining('environment variable PG_UNSET_A is not set')]);
  });
});

describe('survey of public prefect.yaml files: flow_name', () => {
  it('a flow_name other than the flow own name is ignored with a warning, as prefect deploy ignores it; in our manifests it still names the flow', async () => {
    const dir = await project({
      'prefect.yaml': entry('    flow_name: my_etl\n').replace('deployments:\n', 'deployments:\n  - name: b\n    entrypoint: flows/etl.py:etl\n    flow_name: ""\n    work_pool: {name: x}\n'),
    });
    const result = await check(dir);
    expect(result.lines).toEqual([
      `prefect.yaml:10:16: warning: flow_name "my_etl" is ignored, as prefect deploy ignores it: the deployment belongs to the flow's own name "etl" (flows/etl.py:4); remove flow_name or make it "etl"`,
    ]);
    expect(result.deployments.map((d) => `${d.key} ${d.manifest.flow_name}`)).toEqual(['etl/b etl', 'etl/a etl']);
    const ours = await project({ 'prefect-gitops.yaml': 'owner: o\n', 'deployments/a.yaml': 'name: a\nentrypoint: flows/etl.py:etl\nflow_name: my-etl\n' });
    expect((await check(ours)).deployments.map((d) => d.key)).toEqual(['my-etl/a']);
  });

  it('a flow made by a call is named as Prefect names it, whatever flow_name says', async () => {
    const dir = await project({
      'flows/made.py': 'from prefect import flow\n\ndef load_all(n: int = 1):\n    return n\n\nmade = flow(load_all, name="made-by-call")\n',
      'prefect.yaml': 'name: p\ndeployments:\n  - name: a\n    entrypoint: flows/made.py:made\n    flow_name: made\n    work_pool: {name: x}\n',
    });
    const result = await check(dir);
    expect(result.deployments.map((d) => d.key)).toEqual(['made-by-call/a']);
    expect(result.lines).toEqual([expect.stringContaining('warning: flow_name "made" is ignored')]);
  });
});

describe('survey of public prefect.yaml files: files that declare no deployment', () => {
  it.each([
    ['deployments: []', 'name: p\ndeployments: []\n'],
    ['only the unnamed entry of prefect init', 'name: p\ndeployments:\n- name: null\n  entrypoint: null\n'],
    ['no deployments key', 'name: p\npull: []\n'],
  ])('%s: a bare project with nothing to deploy, as prefect deploy --all deploys nothing', async (_label, text) => {
    const result = await check(await project({ 'prefect.yaml': text }));
    expect(result.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(result.deployments).toEqual([]);
    expect(result.config?.owner).toBe('p');
  });

  it('deployments written as a mapping is an error at its line: prefect deploy skips the whole file', async () => {
    const result = await check(await project({ 'prefect.yaml': 'name: p\ndeployments:\n  name: a\n  entrypoint: flows/etl.py:etl\n' }));
    expect(result.lines).toEqual(['prefect.yaml:3:3: error: deployments must be a list, one `- name: ...` entry per deployment, got a mapping; prefect deploy skips this whole file ("Skipping deployment configuration due to validation errors")']);
  });
});

describe('survey of public prefect.yaml files: what prefect deploy refuses or does not carry over', () => {
  it('a legacy schedule beside schedules is an error (prefect deploy refuses it), an empty one is not', async () => {
    const result = await check(await project({ 'prefect.yaml': entry('    schedule: {cron: "0 2 * * *"}\n    schedules: []\n') }));
    expect(result.lines).toEqual([expect.stringMatching(/^prefect\.yaml:6:5: error: both `schedule` and `schedules` are given: prefect deploy refuses this deployment/)]);
    expect((await check(await project({ 'prefect.yaml': entry('    schedule: {}\n    schedules: [{cron: "0 1 * * *"}]\n') }))).lines).toEqual([]);
  });

  it('max_scheduled_runs in a prefect.yaml schedule is an error: Prefect skips the whole file', async () => {
    const result = await check(await project({ 'prefect.yaml': entry('    schedules:\n      - cron: "0 1 * * *"\n        max_scheduled_runs: 5\n') }));
    expect(result.lines).toEqual([expect.stringMatching(/^prefect\.yaml:8:9: error: max_scheduled_runs is not a prefect\.yaml schedule field: prefect deploy skips this whole file/)]);
  });

  it('sla, version_type and a concurrency mapping without collision_strategy are warnings saying what differs', async () => {
    const result = await check(await project({ 'prefect.yaml': entry('    sla: [{name: slow, duration: 600}]\n    version_type: vcs:git\n    concurrency_limit: {limit: 2}\n') }));
    expect(result.lines).toEqual([
      expect.stringMatching(/^prefect\.yaml:6:5: warning: sla is not applied by prefect-gitops/),
      expect.stringMatching(/^prefect\.yaml:7:5: warning: version_type is not applied by prefect-gitops/),
      expect.stringMatching(/^prefect\.yaml:8:5: warning: concurrency_limit as a mapping without collision_strategy: prefect deploy fails on it/),
    ]);
    expect(result.deployments[0]!.manifest.concurrency_limit).toEqual({ limit: 2 });
  });
});

describe('survey of public prefect.yaml files: a package in the src layout', () => {
  it('a module entrypoint is found under src/ (the installed package of pip install -e .), with no warning about the working directory', async () => {
    const dir = await project({
      'src/acme_etl/__init__.py': '',
      'src/acme_etl/flows/__init__.py': '',
      'src/acme_etl/flows/nightly.py': 'from prefect import flow\n\n@flow(name="acme-nightly")\ndef nightly(days: int = 1):\n    """Nightly load."""\n    return days\n',
      'prefect.yaml': 'name: p\ndeployments:\n  - name: a\n    entrypoint: acme_etl.flows.nightly:nightly\n    work_pool: {name: x}\n',
      'jobs/prefect.yaml': 'name: q\ndeployments:\n  - name: b\n    entrypoint: acme_etl.flows.nightly:nightly\n    work_pool: {name: x}\n',
    });
    const result = await check(dir, { owner: 'o' });
    expect(result.lines).toEqual([]);
    expect(result.deployments.map((d) => `${d.key} ${d.manifest.description}`)).toEqual(['acme-nightly/b Nightly load.', 'acme-nightly/a Nightly load.']);
    expect(result.deployments.every((d) => (d.manifest.parameter_openapi_schema as { properties?: object }).properties !== undefined)).toBe(true);
  });
});

describe('survey of public prefect.yaml files: schedule values as Prefect reads them', () => {
  it('active and day_or may be templates, read as booleans once rendered; another string stays an error', async () => {
    const dir = await project({ 'prefect.yaml': entry('    schedules:\n      - cron: "0 1 * * *"\n        active: "{{ $ON }}"\n        day_or: "{{ $OR }}"\n') });
    const result = validateProject(await loadManifests(dir, { cwd: dir }), { env: { ON: 'False', OR: 'no' } });
    expect(result.issues).toEqual([]);
    expect(result.deployments[0]!.manifest.schedules).toEqual([{ cron: '0 1 * * *', active: false, day_or: false }]);
    const bad = validateProject(await loadManifests(dir, { cwd: dir }), { env: { ON: 'maybe', OR: 'true' } });
    expect(bad.issues.map((i) => `${i.line}:${i.column}: ${i.message}`)).toEqual(['8:17: schedules[0].active must be boolean, got string "maybe"']);
  });

  it('an rrule given as the JSON of an RRuleSchedule is its rrule and time zone; a timezone beside it wins', async () => {
    const dir = await project({ 'prefect.yaml': entry(`    schedules:\n      - rrule: '{"rrule": "FREQ=DAILY;BYHOUR=6", "timezone": "Europe/Oslo"}'\n      - rrule: '{"rrule": "FREQ=WEEKLY;BYDAY=MO", "timezone": "Europe/Oslo"}'\n        timezone: UTC\n`) });
    const result = await check(dir);
    expect(result.lines).toEqual([]);
    expect(result.deployments[0]!.manifest.schedules).toEqual([
      { rrule: 'FREQ=DAILY;BYHOUR=6', timezone: 'Europe/Oslo' },
      { rrule: 'FREQ=WEEKLY;BYDAY=MO', timezone: 'UTC' },
    ]);
  });
});

describe('survey of public prefect.yaml files: steps of early Prefect 2 projects', () => {
  it('a prefect.projects.steps pull step is a warning naming its prefect.deployments.steps name', async () => {
    const result = await check(await project({ 'prefect.yaml': entry('').replace('deployments:', 'pull:\n  - prefect.projects.steps.set_working_directory:\n      directory: /opt/app\ndeployments:') }));
    expect(result.lines).toEqual([
      'prefect.yaml:3:5: warning: pull step prefect.projects.steps.set_working_directory no longer exists (Prefect 2.19 and 3.x have no module prefect.projects): a worker fails on it before the flow runs; use prefect.deployments.steps.set_working_directory',
    ]);
  });
});
