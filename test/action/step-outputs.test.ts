// The Action's `set` input gives prefect.yaml build/push step outputs, as the CLI's --set does:
// the committed bundle in a child process, as the runner runs it, against the real test server.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePool, readDeployment } from '../helpers/gitops.js';
import { prefectApiUrl, uniqueName } from '../helpers/prefect.js';
import { FakeGitHub } from './fake-github.js';
import { runAction } from './run-action.js';

const POOL = 'gitops-it-pool';
let github: FakeGitHub;

beforeAll(async () => {
  github = await new FakeGitHub().start();
  await ensurePool(POOL);
});
afterAll(async () => {
  await github.stop();
});

/** A prefect.yaml whose job variables take the image from a docker build step's output. */
async function builtProject(): Promise<{ dir: string; flow: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'gitops-act-set-'));
  const flow = uniqueName('act-set-flow');
  await mkdir(join(dir, 'flows'));
  await writeFile(join(dir, 'flows', 'job.py'), `from prefect import flow\n\n\n@flow(name="${flow}")\ndef job(n: int = 1) -> int:\n    return n\n`);
  await writeFile(join(dir, 'prefect-gitops.yaml'), `owner: ${uniqueName('act-set')}\n`);
  await writeFile(
    join(dir, 'prefect.yaml'),
    [
      'name: built',
      'build:',
      '  - prefect_docker.deployments.steps.build_docker_image:',
      '      id: build-image',
      '      image_name: acme/etl',
      '      tag: latest',
      'deployments:',
      '  - name: built',
      '    entrypoint: flows/job.py:job',
      '    version: "{{ build-image.tag }}"',
      '    work_pool:',
      `      name: ${POOL}`,
      '      job_variables:',
      '        image: "{{ build-image.image }}"',
      '',
    ].join('\n'),
  );
  return { dir, flow };
}

describe('input set', () => {
  it('gives step outputs, one key=value a line, to plan and apply', async () => {
    const { dir, flow } = await builtProject();
    const base = { manifests: '.', 'prefect-api-url': prefectApiUrl(), 'github-token': 'ghs_unused_token_0123456789' };
    const set = 'build-image.image=acme/etl:2026.11.28\n\n# the tag of the same build\nbuild-image.tag=2026.11.28\n';

    // Without it, the step output has no value: an error on the prefect.yaml line.
    const missing = await runAction({ workspace: dir, githubApiUrl: github.url, event: 'push', inputs: { ...base, command: 'plan' } });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/::error file=prefect\.yaml,line=14,col=16[^:]*::\{\{ build-image\.image \}\} is an output of the build\/push step "build-image"/);

    const planned = await runAction({ workspace: dir, githubApiUrl: github.url, event: 'push', inputs: { ...base, command: 'plan', set } });
    expect(planned.code).toBe(0);
    expect(planned.outputs.creates).toBe('1');
    expect(planned.summary).toContain('image: acme/etl:2026.11.28');
    expect(JSON.parse(planned.planFile!).options.stepOutputs).toEqual({ 'build-image.image': 'acme/etl:2026.11.28', 'build-image.tag': '2026.11.28' });

    const applied = await runAction({ workspace: dir, githubApiUrl: github.url, event: 'push', inputs: { ...base, command: 'apply', set } });
    expect(applied.code).toBe(0);
    const deployment = (await readDeployment(flow, 'built'))!;
    expect(deployment.job_variables).toEqual({ image: 'acme/etl:2026.11.28' });
    expect(deployment.version).toBe('2026.11.28');

    const bad = await runAction({ workspace: dir, githubApiUrl: github.url, event: 'push', inputs: { ...base, command: 'plan', set: 'build-image.image=x\nno-equals-sign' } });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('input set, line 2: expected <step-id>.<key>=<value>, got "no-equals-sign"');
    expect(github.unexpected).toEqual([]);
  });
});
