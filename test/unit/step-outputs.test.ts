import { describe, expect, it } from 'vitest';
import { renderTemplates } from '../../src/manifests/template.js';

const shell = 'prefect.deployments.steps.run_shell_script';
const render = (value: unknown, options: { stepIds?: string[]; stepFunctions?: string[]; stepOutputs?: Record<string, string> } = {}) =>
  renderTemplates(value, { env: {}, stepIds: options.stepIds ?? [], ...(options.stepFunctions ? { stepFunctions: options.stepFunctions } : {}), ...(options.stepOutputs ? { stepOutputs: options.stepOutputs } : {}) });

describe('prefect.yaml step outputs, as prefect deploy resolves them', () => {
  it('fills flat names from --set (step results are merged flat into the context)', () => {
    const { value, problems } = render({ env: { TAG: '{{ stdout }}', LABEL: 'v{{ stdout }}' } }, { stepIds: ['get'], stepFunctions: [shell], stepOutputs: { stdout: '1.2' } });
    expect(problems).toEqual([]);
    expect(value).toEqual({ env: { TAG: '1.2', LABEL: 'v1.2' } });
  });

  it('asks for a value a step may produce', () => {
    const { problems } = render({ image: '{{ stdout }}' }, { stepFunctions: [shell] });
    expect(problems).toEqual([expect.objectContaining({ path: ['image'], message: expect.stringContaining('--set stdout=VALUE') })]);
    expect(problems[0]!.severity).toBeUndefined();
  });

  it('drops what no step produces: a whole value is removed, an embedded one emptied; pull steps keep it', () => {
    const { value, problems } = render(
      { work_pool: { job_variables: { image: '{{ image_name }}', env: { B: 'b-{{ image_tag }}' } } }, pull: [{ step: { directory: '{{ image_name }}' } }] },
      { stepFunctions: [shell] },
    );
    expect(value).toEqual({ work_pool: { job_variables: { env: { B: 'b-' } } }, pull: [{ step: { directory: '{{ image_name }}' } }] });
    expect(problems.map((p) => p.severity)).toEqual(['warning', 'warning']);
  });

  it('drops a list item that is only a placeholder, as prefect deploy\'s environment pass does', () => {
    const { value, problems } = render({ tags: ['a', '{{ get.stdout }}', 'v{{ get.stdout }}'] }, { stepIds: ['get'], stepFunctions: [shell], stepOutputs: { 'get.stdout': '1' } });
    expect(value).toEqual({ tags: ['a', 'v1'] });
    expect(problems).toEqual([expect.objectContaining({ path: ['tags', 1], severity: 'warning' })]);
  });

  it('leaves other manifests and ctx/prefect placeholders alone', () => {
    expect(render({ a: '{{ image_name }}', b: ['{{ x }}'] }).value).toEqual({ a: '{{ image_name }}', b: ['{{ x }}'] });
    expect(render({ a: '{{ ctx.flow_run.id }}', b: '{{ prefect.blocks.secret.k }}' }, { stepFunctions: [] }).value).toEqual({ a: '{{ ctx.flow_run.id }}', b: '{{ prefect.blocks.secret.k }}' });
  });
});
