import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/manifests/load.js';
import { validateProject } from '../../src/validate/validate.js';

const PROJECT = 'test/fixtures/prefect-yaml/project';

async function resolveProject(dir: string, options: { env?: Record<string, string>; stepOutputs?: Record<string, string>; owner?: string } = {}) {
  const project = await loadManifests(dir);
  return validateProject(project, { env: options.env ?? {}, ...(options.stepOutputs ? { stepOutputs: options.stepOutputs } : {}), ...(options.owner ? { owner: options.owner } : {}) });
}

async function tempProject(prefectYaml: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'prefect-yaml-'));
  await mkdir(join(dir, 'flows'));
  await writeFile(join(dir, 'flows', 'etl.py'), 'from prefect import flow\n\n@flow\ndef etl(region: str = "eu"):\n    pass\n');
  await writeFile(join(dir, 'prefect.yaml'), prefectYaml);
  for (const [name, content] of Object.entries(extra)) await writeFile(join(dir, name), content);
  return dir;
}

describe('prefect.yaml is read as prefect deploy reads it', () => {
  it('expands anchors, aliases and merge keys, the legacy schedule and the project pull steps', async () => {
    const result = await resolveProject(PROJECT, { env: { REGION: 'us' }, stepOutputs: { 'build-image.image': 'acme/etl:7' } });
    expect(result.issues).toEqual([]);
    expect(result.owner).toBe('acme-pipelines');
    const byName = Object.fromEntries(result.deployments.map((d) => [d.name, d.manifest]));
    expect(byName['nightly-etl']).toMatchObject({
      flow_name: 'etl',
      work_pool: { name: 'local-process', job_variables: { image: 'acme/etl:7' } },
      schedules: [{ cron: '0 2 * * *', timezone: 'Europe/Berlin' }],
      parameters: { region: 'us' },
      pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/opt/acme' } }],
    });
    expect(byName.hourly).toMatchObject({ tags: ['base'], concurrency_limit: 2, schedules: [{ interval: 3600, slug: 'hourly' }] });
  });

  it('points errors at the prefect.yaml lines, including unset env vars and step outputs', async () => {
    const result = await resolveProject(PROJECT);
    const file = `${PROJECT}/prefect.yaml`;
    expect(result.issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.message.split(';')[0]}`)).toEqual([
      `${file}:24:16: {{ build-image.image }} is an output of the build/push step "build-image", which prefect-gitops does not run`,
      `${file}:27:15: environment variable REGION is not set (used as {{ $REGION }}): prefect deploy replaces it with an empty string, and so does prefect-gitops`,
      `${file}:31:16: {{ build-image.image }} is an output of the build/push step "build-image", which prefect-gitops does not run`,
    ]);
  });

  it('an error inside a legacy `schedule:` points at it', async () => {
    const dir = await tempProject('name: p\ndeployments:\n  - name: a\n    entrypoint: flows/etl.py:etl\n    work_pool: {name: x}\n    schedule:\n      cron: "0 R * * *"\n');
    const result = await resolveProject(dir);
    expect(result.issues.map((i) => [i.line, i.column, i.message])).toEqual([[7, 13, 'cron expression "0 R * * *" uses a random/hashed field (R or H), which Prefect rejects']]);
  });

  it("without pull steps, uses Prefect's default: set the working directory to the prefect.yaml's directory", async () => {
    const dir = await tempProject('name: p\ndeployments:\n  - name: a\n    entrypoint: flows/etl.py:etl\n    work_pool: {name: x}\n');
    const [deployment] = (await resolveProject(dir)).deployments;
    expect(deployment!.manifest.pull).toEqual([{ 'prefect.deployments.steps.set_working_directory': { directory: resolve(dir) } }]);
    const none = await tempProject('name: p\npull: []\ndeployments:\n  - name: a\n    entrypoint: flows/etl.py:etl\n    work_pool: {name: x}\n');
    expect((await resolveProject(none)).deployments[0]!.manifest.pull).toEqual([]);
  });

  it('a bare project needs an owner: its name, or --owner', async () => {
    const unnamed = await tempProject('deployments:\n  - name: a\n    entrypoint: flows/etl.py:etl\n    work_pool: {name: x}\n');
    const missing = await resolveProject(unnamed);
    expect(missing.issues.map((i) => i.message)).toEqual(['this prefect.yaml has no `name` to use as the owner id: pass --owner <id>, or add a prefect-gitops.yaml with `owner: <id>`']);
    expect((await resolveProject(unnamed, { owner: 'team-x' })).owner).toBe('team-x');
  });

  it('a prefect-gitops.yaml beside it adds defaults and environments as for any manifest', async () => {
    const dir = await tempProject('name: p\ndeployments:\n  - name: a\n    entrypoint: flows/etl.py:etl\n', { 'prefect-gitops.yaml': 'owner: team-y\ndefaults:\n  work_pool: {name: shared}\n  tags: [team-y]\n' });
    const result = await resolveProject(dir);
    expect(result.owner).toBe('team-y');
    expect(result.deployments[0]!.manifest).toMatchObject({ work_pool: { name: 'shared' }, tags: ['team-y'] });
  });
});
