import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { convertPrefect2Deployment } from '../../src/convert/prefect2.js';
import { isPrefect2DeploymentYaml } from '../../src/convert/recognise.js';
import { loadManifests } from '../../src/manifests/load.js';
import { parseYamlText } from '../../src/manifests/source.js';
import { validateProject } from '../../src/validate/validate.js';

const FIXTURES = resolve('test/fixtures/prefect2-deployment-yaml/project');

/** A deployment.yaml as `prefect deployment build` lays it out, with `extra` keys replacing its own. */
function deploymentYaml(extra: Record<string, string> = {}): string {
  const keys: Record<string, string> = {
    name: 'name: nightly',
    description: 'description: null',
    version: "version: '2024.05'",
    work_queue_name: 'work_queue_name: default',
    work_pool_name: 'work_pool_name: null',
    tags: 'tags: []',
    parameters: 'parameters: {}',
    schedule: 'schedule: null',
    schedules: 'schedules: []',
    is_schedule_active: 'is_schedule_active: null',
    infra_overrides: 'infra_overrides: {}',
    infrastructure: 'infrastructure:\n  type: process\n  env: {}\n  labels: {}\n  name: null\n  command: null\n  stream_output: true\n  working_dir: null\n  _block_type_slug: process',
    flow_name: 'flow_name: etl',
    manifest_path: 'manifest_path: null',
    storage: 'storage: null',
    path: 'path: /srv/project',
    entrypoint: 'entrypoint: flows/etl.py:etl',
    timestamp: "timestamp: '2024-05-01T10:00:00+00:00'",
    triggers: 'triggers: []',
    enforce_parameter_schema: 'enforce_parameter_schema: null',
    ...extra,
  };
  return `###\n### A complete description of a Prefect Deployment for flow 'etl'\n###\n${Object.values(keys).filter(Boolean).join('\n')}\n`;
}

function convert(text: string, options = {}) {
  const doc = parseYamlText(text, 'etl-deployment.yaml').documents[0]!;
  return convertPrefect2Deployment(doc, options);
}

describe('recognising a Prefect 2 deployment.yaml', () => {
  it.each([
    ['every fixture built by Prefect 2.20', true],
    ['a prefect-gitops manifest', false],
  ])('%s', async (what, expected) => {
    if (expected) {
      for (const file of (await readdir(FIXTURES)).filter((f) => f.endsWith('.yaml'))) {
        expect(isPrefect2DeploymentYaml(parseYamlText(await readFile(join(FIXTURES, file), 'utf8'), file).documents[0]!.value), file).toBe(true);
      }
    } else {
      expect(isPrefect2DeploymentYaml({ name: 'x', entrypoint: 'a.py:f', work_pool: { name: 'p' }, schedules: [] })).toBe(false);
    }
  });

  it('one misplaced key alone is an ordinary manifest mistake', () => {
    expect(isPrefect2DeploymentYaml({ name: 'x', entrypoint: 'a.py:f', work_queue_name: 'q' })).toBe(false);
    expect(isPrefect2DeploymentYaml({ name: 'x', entrypoint: 'a.py:f', work_queue_name: 'q', infra_overrides: {} })).toBe(true);
  });

  it('validate reports it once, at the line of its first key, with the convert command', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gitops-p2-'));
    await writeFile(join(dir, 'prefect-gitops.yaml'), 'owner: team\n');
    await writeFile(join(dir, 'etl-deployment.yaml'), deploymentYaml());
    const project = await loadManifests(dir, { cwd: dir });
    const { issues } = validateProject(project, { env: {} });
    expect(issues).toEqual([
      expect.objectContaining({ file: 'etl-deployment.yaml', line: 4, column: 1, severity: 'error', message: expect.stringMatching(/^this is a Prefect 2 deployment\.yaml \(written by `prefect deployment build`\).*prefect-gitops convert etl-deployment\.yaml --out <dir> --owner <id>$/) }),
    ]);
  });
  it('given as --prefect-file it is named too, not read as a prefect.yaml with no deployments', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gitops-p2-'));
    await writeFile(join(dir, 'etl-deployment.yaml'), deploymentYaml());
    const project = await loadManifests(dir, { cwd: dir, prefectFile: 'etl-deployment.yaml' });
    const { issues } = validateProject(project, { env: {}, owner: 'team' });
    expect(issues).toEqual([expect.objectContaining({ file: 'etl-deployment.yaml', line: 4, severity: 'error', message: expect.stringContaining('this is a Prefect 2 deployment.yaml') })]);
  });
});

describe('converting a deployment.yaml', () => {
  it('the process fixture: overrides expanded and typed, interval schedule, path as the working directory', async () => {
    const text = await readFile(join(FIXTURES, 'greet-process-deployment.yaml'), 'utf8');
    const converted = convertPrefect2Deployment(parseYamlText(text, 'greet-process-deployment.yaml').documents[0]!);
    expect(converted.issues).toEqual([expect.objectContaining({ line: 6, path: 'version', message: expect.stringContaining('md5 of the flow file') })]);
    expect(converted.manifest).toEqual({
      name: 'hourly-process',
      flow_name: 'greet',
      entrypoint: 'flows/greet.py:greet',
      description: 'Says hello a number of times.',
      tags: ['prefect2'],
      parameters: { name: 'converted' },
      enforce_parameter_schema: false,
      work_pool: { name: 'process-pool', job_variables: { env: { GREETING: 'hi', LOG_STYLE: 'plain' }, stream_output: false } },
      schedules: [{ interval: 3600, anchor_date: '2024-01-01T00:00:00+00:00', timezone: 'UTC' }],
      pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/tmp/prefect-gitops-prefect2-fixtures/project' } }],
    });
    expect(converted.pool).toEqual({ name: 'process-pool', type: 'process', fromInfrastructure: true });
  });

  it('the docker fixture: a docker pool, the local storage block as the working directory, rrule with its timezone, Prefect 2 default image left out with a warning', async () => {
    const text = await readFile(join(FIXTURES, 'tidy-docker-deployment.yaml'), 'utf8');
    const converted = convertPrefect2Deployment(parseYamlText(text, 'tidy-docker-deployment.yaml').documents[0]!, { workPools: { docker: 'containers' } });
    expect(converted.manifest).toMatchObject({
      work_pool: { name: 'containers', work_queue_name: 'tidy', job_variables: { image_pull_policy: 'IF_NOT_PRESENT', env: { TIDY: '1' } } },
      schedules: [{ rrule: 'FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=30', timezone: 'America/New_York' }],
      pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/tmp/prefect-gitops-prefect2-fixtures/storage' } }],
    });
    expect(converted.issues).toEqual([
      expect.objectContaining({ line: 6, path: 'version' }),
      expect.objectContaining({ line: 28, path: 'infrastructure.image', severity: 'warning', message: expect.stringContaining("Prefect 2's default image") }),
      expect.objectContaining({ line: 47, path: 'storage', severity: 'warning', message: expect.stringContaining('the saved block local-file-system/fixture-local-storage, which Prefect 2 read from the server') }),
    ]);
  });

  it('a deployment in a work pool keeps it and its queue; its unused infrastructure block is not converted', async () => {
    const text = await readFile(join(FIXTURES, 'greet-pool-deployment.yaml'), 'utf8');
    const converted = convertPrefect2Deployment(parseYamlText(text, 'greet-pool-deployment.yaml').documents[0]!, { workPools: { '*': 'ignored' } });
    expect(converted.manifest.work_pool).toEqual({ name: 'legacy-workers', work_queue_name: 'critical', job_variables: { env: { GREETING: 'pool' } } });
    expect(converted.manifest.schedules).toEqual([{ cron: '30 2 * * *' }]);
    expect(converted.pool).toEqual({ name: 'legacy-workers', fromInfrastructure: false });
  });

  it('is_schedule_active false pauses; inactive schedules stay inactive; max_active_runs is a warning', () => {
    const converted = convert(
      deploymentYaml({
        is_schedule_active: 'is_schedule_active: false',
        schedules: "schedules:\n- schedule:\n    cron: 0 1 * * *\n    timezone: null\n    day_or: false\n  active: false\n  max_active_runs: 3\n- schedule:\n    interval: 600.0\n    anchor_date: '2024-01-01T00:00:00+00:00'\n    timezone: UTC\n  active: true",
      }),
    );
    expect(converted.manifest.paused).toBe(true);
    expect(converted.manifest.schedules).toEqual([{ cron: '0 1 * * *', day_or: false, active: false }, { interval: 600, anchor_date: '2024-01-01T00:00:00+00:00', timezone: 'UTC' }]);
    expect(converted.issues.map((i) => [i.path, i.line])).toEqual([['schedules[0].max_active_runs', 18]]);
  });

  it('secrets are never written: sensitive env values and obfuscated block secrets are warnings naming their line', () => {
    const converted = convert(
      deploymentYaml({
        infra_overrides: 'infra_overrides:\n  env.API_TOKEN: abc-123-secret\n  env.REGION: eu',
        storage: "storage:\n  bucket_path: acme-flows/etl\n  aws_access_key_id: AKIAEXAMPLE\n  aws_secret_access_key: '**********'\n  _block_document_id: 7c2ab6c5-0000-4000-8000-000000000000\n  _block_document_name: flows\n  _is_anonymous: false\n  _block_type_slug: s3",
        path: 'path: nightly',
        parameters: 'parameters:\n  db_password: hunter2\n  day: monday',
      }),
    );
    const text = JSON.stringify(converted.manifest);
    for (const secret of ['abc-123-secret', 'AKIAEXAMPLE', 'hunter2', '**********']) expect(text).not.toContain(secret);
    expect(converted.manifest).toMatchObject({
      parameters: { day: 'monday' },
      work_pool: { job_variables: { env: { REGION: 'eu' } } },
      pull: [{ 'prefect_aws.deployments.steps.pull_from_s3': { requires: 'prefect-aws>=0.3.4', bucket: 'acme-flows', folder: 'etl/nightly' } }],
      entrypoint: 'flows/etl.py:etl',
    });
    expect(converted.issues.map((i) => `${i.line}:${i.path}`)).toEqual(['11:parameters.db_password', '17:infra_overrides.env.API_TOKEN', '30:storage', '32:storage.aws_access_key_id', '33:storage.aws_secret_access_key']);
    expect(converted.issues.every((i) => i.severity === 'warning')).toBe(true);
  });

  it('a GitHub storage block becomes git_clone, the entrypoint joined under the path inside the repository; its token is a warning', () => {
    const converted = convert(
      deploymentYaml({
        storage: "storage:\n  repository: https://github.com/acme/flows.git\n  reference: main\n  access_token: '**********'\n  include_git_objects: true\n  _block_type_slug: github",
        path: 'path: pipelines/etl',
      }),
    );
    expect(converted.manifest.pull).toEqual([{ 'prefect.deployments.steps.git_clone': { repository: 'https://github.com/acme/flows.git', branch: 'main' } }]);
    expect(converted.manifest.entrypoint).toBe('pipelines/etl/flows/etl.py:etl');
    expect(converted.issues).toEqual([expect.objectContaining({ path: 'storage.access_token', message: expect.stringContaining('prefect.blocks.secret') })]);
  });

  it.each([
    ['a storage block referenced only by id', { storage: 'storage:\n  _block_document_id: 7c2ab6c5-0000-4000-8000-000000000000\n  _block_type_slug: s3' }, 'storage', /referenced only by id/],
    ['an unknown storage block type', { storage: 'storage:\n  host: files.example\n  _block_type_slug: smb' }, 'storage._block_type_slug', /"smb" has no pull step/],
    ['kubernetes customizations', { infrastructure: 'infrastructure:\n  type: kubernetes-job\n  namespace: etl\n  customizations:\n  - op: add\n    path: /spec/template/spec/priorityClassName\n    value: high\n  _block_type_slug: kubernetes-job' }, 'infrastructure.customizations', /base job template/],
    ['a manifest_path (Prefect 2.0)', { manifest_path: 'manifest_path: etl-manifest.json' }, 'manifest_path', /entrypoint alone/],
    ['a key Prefect 2.20 does not write', { extra: 'flow_run_name: x' }, 'flow_run_name', /not a field/],
  ])('%s is a warning, not dropped silently', (_what, extra, path, message) => {
    const converted = convert(deploymentYaml(extra as Record<string, string>));
    expect(converted.issues).toEqual([expect.objectContaining({ path, severity: 'warning', message: expect.stringMatching(message) })]);
  });

  it('kubernetes and docker blocks: only non-default fields; the Prefect 2 engine command is left out', () => {
    const k8s = convert(deploymentYaml({ infrastructure: 'infrastructure:\n  type: kubernetes-job\n  namespace: etl\n  image: acme/etl:3\n  pod_watch_timeout_seconds: 60\n  command: [python, -m, prefect.engine]\n  customizations: []\n  job: {apiVersion: batch/v1}\n  _block_type_slug: kubernetes-job', infra_overrides: 'infra_overrides:\n  finished_job_ttl: "300"' }));
    expect(k8s.manifest.work_pool).toEqual({ name: 'kubernetes-pool', job_variables: { namespace: 'etl', image: 'acme/etl:3', finished_job_ttl: 300 } });
    expect(k8s.issues).toEqual([expect.objectContaining({ path: 'infrastructure.command' })]);
    expect(k8s.manifest.pull).toEqual([{ 'prefect.deployments.steps.set_working_directory': { directory: '/srv/project' } }]);
  });

  it('no entrypoint is an error (Prefect 2.0 manifests located flows through manifest_path)', () => {
    const converted = convert(deploymentYaml({ entrypoint: 'entrypoint: null' }));
    expect(converted.issues).toEqual([expect.objectContaining({ path: 'entrypoint', severity: 'error' })]);
  });
});

describe('prefect-gitops convert', () => {
  const run = async (args: string[], cwd: string) => {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {}, cwd, isTty: false });
    return { code, stdout, stderr };
  };

  it('writes manifests that validate, with project_root where the flows are and the source files ignored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gitops-p2-cli-'));
    const result = await run(['convert', FIXTURES, '--out', dir, '--owner', 'legacy'], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Converted 5 deployments from 5 files.');
    const project = await loadManifests(dir, { cwd: dir });
    const validated = validateProject(project, { env: {} });
    expect(validated.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(validated.deployments.map((d) => d.key).sort()).toEqual(['greet/hourly-process', 'greet/in-a-pool', 'greet/weekday-morning', 'tidy-up/docker-rrule', 'tidy-up/manual']);
  });

  it('--work-pool NAME names the pool of every deployment without one, TYPE=NAME by pool type; a bad value is a usage error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gitops-p2-cli-'));
    const all = await run(['convert', FIXTURES, '--work-pool', 'legacy'], dir);
    expect(all.code).toBe(0);
    const pools = (text: string): string[] => [...text.matchAll(/^work_pool:\n  name: (.*)$/gm)].map((m) => m[1]!);
    expect(pools(all.stdout)).toEqual(['legacy', 'legacy-workers', 'legacy', 'legacy', 'legacy']);
    const byType = await run(['convert', FIXTURES, '--work-pool', 'docker=containers'], dir);
    expect(pools(byType.stdout)).toEqual(['process-pool', 'legacy-workers', 'process-pool', 'containers', 'process-pool']);
    expect(byType.stderr).toContain('prefect work-pool create containers --type docker');
    expect((await run(['convert', FIXTURES, '--work-pool', 'docker='], dir)).code).toBe(64);
  });

  it('the import alias prints to stdout without --out; an input that is not a deployment.yaml is an error and nothing is written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gitops-p2-cli-'));
    const printed = await run(['import', join(FIXTURES, 'tidy-manual-deployment.yaml')], dir);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(/^# Converted by prefect-gitops convert[^\n]*\n\nname: manual\nflow_name: tidy-up\n/);
    expect(printed.stdout).toContain('version: "2024.1"\n');
    await writeFile(join(dir, 'other.yaml'), 'name: x\nentrypoint: a.py:f\n');
    const refused = await run(['convert', join(FIXTURES, 'tidy-manual-deployment.yaml'), 'other.yaml', '--out', 'out', '--owner', 'x'], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('other.yaml: error: not a Prefect 2 deployment.yaml');
    expect(refused.stderr).toContain('nothing was written');
    expect(await readdir(dir)).toEqual(['other.yaml']);
  });
});
