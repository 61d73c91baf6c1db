import { describe, expect, it } from 'vitest';
import { chooseWrittenPull, defaultPullSteps } from '../../src/manifests/prefect-pull.js';

const step = { 'prefect.deployments.steps.git_clone': { repository: 'https://example.com/r.git' } };
const other = { 'prefect.deployments.steps.set_working_directory': { directory: '/srv' } };

describe('chooseWrittenPull (prefect deploy _run_single_deploy)', () => {
  it.each([
    ['nothing written', {}, { has: false, value: undefined }, { kind: 'default' }],
    ['project pull: null', {}, { has: true, value: null }, { kind: 'default' }],
    ['project pull: {}', {}, { has: true, value: {} }, { kind: 'default' }],
    ['project pull: []', {}, { has: true, value: [] }, { kind: 'written', steps: [], at: 'project' }],
    ['project steps', {}, { has: true, value: [step] }, { kind: 'written', steps: [step], at: 'project' }],
    ['project single mapping', {}, { has: true, value: step }, { kind: 'written', steps: [step], at: 'project' }],
    ['entry steps win', { pull: [other] }, { has: true, value: [step] }, { kind: 'written', steps: [other], at: 'entry' }],
    ['entry pull: null keeps the project steps', { pull: null }, { has: true, value: [step] }, { kind: 'written', steps: [step], at: 'project' }],
    ['entry pull: null and project []', { pull: null }, { has: true, value: [] }, { kind: 'default' }],
    ['entry pull: [] means none', { pull: [] }, { has: true, value: [step] }, { kind: 'written', steps: [], at: 'entry' }],
  ] as const)('%s', (_name, entry, project, expected) => {
    expect(chooseWrittenPull(entry, project)).toEqual(expected);
  });
});

describe('defaultPullSteps (prefect deploy _generate_default_pull_action, non-interactive)', () => {
  const at = (directory: string) => [{ 'prefect.deployments.steps.set_working_directory': { directory } }];
  it.each([
    ['the project directory', undefined, undefined, at('/repo/etl')],
    ['an image: /opt/prefect', undefined, 'acme/etl:1', at('/opt/prefect')],
    ['an image placeholder is set too', [], '{{ build-image.image }}', at('/opt/prefect')],
    ['an empty image is not', undefined, '', at('/repo/etl')],
    ['a docker build with dockerfile auto', [{ 'prefect_docker.deployments.steps.build_docker_image': { dockerfile: 'auto', image_name: 'x' } }], 'acme/etl:1', at('/opt/prefect/etl')],
    ['a docker build with its own Dockerfile: none', [{ 'prefect_docker.deployments.steps.build_docker_image': { dockerfile: 'Dockerfile' } }], undefined, []],
  ] as const)('%s', (_name, build, image, expected) => {
    expect(defaultPullSteps('/repo/etl', build, image)).toEqual(expected);
  });
});
