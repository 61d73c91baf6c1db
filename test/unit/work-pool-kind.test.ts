import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/prefect/types.js';
import type { DesiredObject, LiveObject } from '../../src/workspace/kind.js';
import { overridesOf, placeholderNames, templateChanges, withDefaults } from '../../src/workspace/kinds/job-template.js';
import {
  desiredTemplate,
  diffPool,
  exportPool,
  planPoolIssues,
  poolCreateBody,
  poolCreateChanges,
  poolDeleteHold,
  typesFromWorkerMetadata,
  validatePool,
  type LivePool,
} from '../../src/workspace/kinds/work-pool.js';

// The shape of the server's `process` template (collections_data aggregate-worker-metadata), trimmed.
const PROCESS: JsonObject = {
  job_configuration: { command: '{{ command }}', env: '{{ env }}', name: '{{ name }}', stream_output: '{{ stream_output }}' },
  variables: {
    type: 'object',
    properties: {
      name: { title: 'Name', type: 'string' },
      env: { title: 'Environment Variables', type: 'object', additionalProperties: { type: 'string' } },
      command: { title: 'Command', type: 'string' },
      stream_output: { title: 'Stream Output', default: true, type: 'boolean' },
    },
  },
};
const ctx = { reference: { 'work-pool': { types: { process: PROCESS } } } };

function pool(spec: JsonObject, fieldsAt: Record<string, number> = {}): DesiredObject {
  const at = (line: number) => ({ file: 'm/pools.yaml', line, column: 3 });
  return {
    kind: 'work-pool',
    key: String(spec['name']),
    spec,
    declaredAt: at(1),
    fieldsAt: Object.fromEntries(Object.entries(fieldsAt).map(([k, line]) => [k, at(line)])),
    adopt: false,
    sensitive: false,
  };
}

function live(raw: JsonObject, extra: Partial<LivePool> = {}): LivePool {
  return { kind: 'work-pool', key: String(raw['name']), id: 'id-1', updated: null, raw, taggedOwner: null, deploymentCount: 0, ...extra };
}

const serverPool = (fields: JsonObject = {}): JsonObject => ({
  name: 'p',
  type: 'process',
  description: null,
  is_paused: false,
  concurrency_limit: null,
  status: 'NOT_READY',
  default_queue_id: 'q',
  storage_configuration: { bundle_upload_step: null },
  base_job_template: PROCESS,
  ...fields,
});

describe('job templates', () => {
  it('finds placeholders as the server does (every value, nested, any namespace)', () => {
    expect(placeholderNames({ a: '{{ x }}', b: { c: ['{{y}}-{{ prefect.variables.z }}'] }, d: 'plain' }).sort()).toEqual(['prefect.variables.z', 'x', 'y']);
  });

  it('job_variables become the variables\' defaults; unknown names are left to validation', () => {
    const t = withDefaults(PROCESS, { env: { A: '1' }, stream_output: false, nope: 1 });
    expect((t['variables'] as JsonObject)['properties']).toMatchObject({ env: { default: { A: '1' } }, stream_output: { default: false } });
    expect(JSON.stringify(t)).not.toContain('nope');
    expect(t['job_configuration']).toBe(PROCESS['job_configuration']);
  });

  it('a template diff reads as changed defaults, not as a wall of JSON', () => {
    const after = withDefaults(PROCESS, { env: { A: '2' } });
    expect(templateChanges(withDefaults(PROCESS, { env: { A: '1' } }), after)).toEqual([{ field: 'job_variables.env', before: { A: '1' }, after: { A: '2' } }]);
    expect(templateChanges(PROCESS, PROCESS)).toEqual([]);
    const jc = { ...PROCESS, job_configuration: { ...(PROCESS['job_configuration'] as JsonObject), command: 'run' } };
    expect(templateChanges(PROCESS, jc)).toEqual([{ field: 'base_job_template.job_configuration.command', before: '{{ command }}', after: 'run' }]);
    // An empty live template (a pool made by hand with none) against the type's: each variable is new.
    expect(templateChanges({}, PROCESS).map((c) => c.field)).toEqual([
      'base_job_template.variables.properties.command',
      'base_job_template.variables.properties.env',
      'base_job_template.variables.properties.name',
      'base_job_template.variables.properties.stream_output',
      'base_job_template.variables.type',
      'base_job_template.job_configuration.command',
      'base_job_template.job_configuration.env',
      'base_job_template.job_configuration.name',
      'base_job_template.job_configuration.stream_output',
    ]);
  });

  it('overridesOf says a template as job_variables when only defaults differ from the type\'s', () => {
    expect(overridesOf(withDefaults(PROCESS, { env: { A: '1' } }), PROCESS)).toEqual({ env: { A: '1' } });
    expect(overridesOf(PROCESS, PROCESS)).toEqual({});
    expect(overridesOf({ ...PROCESS, job_configuration: {} }, PROCESS)).toBeUndefined();
  });

  it('reads the worker metadata by type', () => {
    expect(typesFromWorkerMetadata({ prefect: { process: { type: 'process', default_base_job_configuration: PROCESS } }, x: { y: { type: 'k8s' } } })).toEqual({ process: PROCESS });
  });
});

describe('work pool validation', () => {
  it('offline: placeholders must be variables; job_variables against a whole template; reserved names', () => {
    const whole = { job_configuration: { image: '{{ image }}', cmd: '{{ command }}' }, variables: { properties: { image: { type: 'string' } } } };
    const issues = validatePool(
      pool({ name: 'prefect-x', type: 'docker', base_job_template: whole, job_variables: { image: 3, cpu: '1' } }, { name: 2, 'base_job_template.job_configuration': 5, 'job_variables.image': 9, 'job_variables.cpu': 10 }),
    );
    expect(issues.map((i) => `${i.line}:${i.path}: ${i.message}`)).toEqual([
      '2:name: work pool names starting with "prefect" are reserved by Prefect (the server refuses "prefect-x")',
      '5:base_job_template.job_configuration: base_job_template.job_configuration uses {{ command }}, not declared under base_job_template.variables.properties (Prefect refuses a template whose placeholders are not variables)',
      '9:job_variables.image: job variable "image" does not match its schema in the declared base_job_template: must be string, got number 3',
      '10:job_variables.cpu: job variable "cpu" is not a variable of the declared base_job_template; its variables are: image',
    ]);
    expect(validatePool(pool({ name: 'ok', type: 'docker', base_job_template: {} }))).toEqual([]);
  });

  it('plan time: job_variables against the type\'s default template on the server, with the known names', () => {
    const issues = planPoolIssues([pool({ name: 'p', type: 'process', job_variables: { image: 'x', env: { A: 1 } } }, { 'job_variables.image': 7, 'job_variables.env': 8 })], [], ctx);
    expect(issues.map((i) => `${i.line}:${i.path}: ${i.message}`)).toEqual([
      '7:job_variables.image: job variable "image" is not a variable of the default template of work pool type "process" on this server; its variables are: command, env, name, stream_output',
      '8:job_variables.env.A: job variable "env" does not match its schema in the default template of work pool type "process" on this server: must be string, got number 1',
    ]);
  });

  it('plan time: an unknown type with job_variables is an error; a type change is an error', () => {
    const unknown = planPoolIssues([pool({ name: 'p', type: 'nomad', job_variables: { a: 1 } }, { job_variables: 4 })], [], ctx);
    expect(unknown.map((i) => `${i.severity} ${i.line} ${i.message}`)).toEqual([
      'error 4 job_variables are defaults of the type\'s template, but this server knows no default base job template for type "nomad" (known types: process); declare base_job_template whole',
    ]);
    const changed = planPoolIssues([pool({ name: 'p', type: 'docker', base_job_template: {} }, { type: 3 })], [live(serverPool())], ctx);
    expect(changed.map((i) => `${i.line} ${i.message}`)).toEqual([
      '3 work pool "p" is of type "process" on the server, not "docker": Prefect cannot change a pool\'s type; declare a new pool under another name (and move the deployments to it), or keep type "process"',
    ]);
  });
});

describe('work pool plan', () => {
  it('creates with the type\'s default template and the job_variables as its defaults', () => {
    const body = poolCreateBody(pool({ name: 'p', type: 'process', concurrency_limit: 3, job_variables: { env: { A: '1' } } }), ctx);
    expect(body).toEqual({ name: 'p', type: 'process', is_paused: false, concurrency_limit: 3, base_job_template: withDefaults(PROCESS, { env: { A: '1' } }) });
  });

  it('a create reads as the variables\' defaults over the type\'s template, not the whole template', () => {
    const object = pool({ name: 'p', type: 'process', job_variables: { env: { A: '1' } } });
    expect(poolCreateChanges(object, poolCreateBody(object, ctx))).toEqual([
      { field: 'name', before: undefined, after: 'p' },
      { field: 'type', before: undefined, after: 'process' },
      { field: 'paused', before: undefined, after: false },
      { field: 'base_job_template', before: undefined, after: 'the default template of type "process" on this server (variables: name, env, command, stream_output)' },
      { field: 'job_variables.env', before: undefined, after: { A: '1' } },
      { field: 'job_variables.stream_output', before: undefined, after: true },
    ]);
    const whole = pool({ name: 'p', type: 'x', base_job_template: {} });
    expect(poolCreateChanges(whole, poolCreateBody(whole, ctx)).at(-1)).toEqual({ field: 'base_job_template', before: undefined, after: {} });
  });

  it('what the server fills in (status, default queue, storage configuration, null description) is no difference', () => {
    expect(diffPool(pool({ name: 'p', type: 'process' }), live(serverPool()), ctx)).toBeNull();
    expect(diffPool(pool({ name: 'p', type: 'process', job_variables: { stream_output: true } }), live(serverPool()), ctx)).toBeNull();
  });

  it('a changed job variable default is one field change and a PATCH of the template', () => {
    const current = live(serverPool({ base_job_template: withDefaults(PROCESS, { env: { A: '1' } }) }));
    const diff = diffPool(pool({ name: 'p', type: 'process', paused: true, job_variables: { env: { A: '2' } } }), current, ctx)!;
    expect(diff.changes).toEqual([
      { field: 'paused', before: false, after: true },
      { field: 'job_variables.env', before: { A: '1' }, after: { A: '2' } },
    ]);
    expect(diff.body).toEqual({ is_paused: true, base_job_template: withDefaults(PROCESS, { env: { A: '2' } }) });
  });

  it('removing a field returns it to Prefect\'s default', () => {
    const diff = diffPool(pool({ name: 'p', type: 'process' }), live(serverPool({ concurrency_limit: 4, description: 'x' })), ctx)!;
    expect(diff.body).toEqual({ description: null, concurrency_limit: null });
  });

  it('an unknown type without a declared template leaves the template alone', () => {
    expect(desiredTemplate({ name: 'p', type: 'nomad' }, { types: {} })).toBeUndefined();
    expect(diffPool(pool({ name: 'p', type: 'nomad' }), live(serverPool({ type: 'nomad', base_job_template: { job_configuration: { a: 1 }, variables: {} } })), { reference: {} })).toBeNull();
  });

  it('a delete is held back while a deployment this plan does not delete uses the pool', () => {
    const users = [
      { id: 'd1', key: 'etl/a' },
      { id: 'd2', key: 'etl/b' },
    ];
    const none = new Map();
    expect(poolDeleteHold(live(serverPool(), { deploymentCount: 2, deployments: users }), { deletingDeploymentIds: new Set(['d1']), declaredPlacements: none })).toEqual([
      'not deleted: still used by 1 deployment after this plan (etl/b); move or delete them first',
    ]);
    expect(poolDeleteHold(live(serverPool(), { deploymentCount: 2, deployments: users }), { deletingDeploymentIds: new Set(['d1', 'd2']), declaredPlacements: none })).toEqual([]);
  });

  it('judges by where declared deployments run after the apply: one moved off releases the pool, one placed on it holds it', () => {
    const pool = live(serverPool(), { deploymentCount: 1, deployments: [{ id: 'd1', key: 'etl/a' }] });
    const name = pool.key;
    // etl/a is declared on another pool now: it moves off in this apply, so the pool may go.
    expect(poolDeleteHold(pool, { deletingDeploymentIds: new Set(), declaredPlacements: new Map([['etl/a', { pool: 'elsewhere', queue: null }]]) })).toEqual([]);
    // A declared deployment (new, or moving in) placed on the pool holds it, even with no live user.
    expect(poolDeleteHold(pool, { deletingDeploymentIds: new Set(['d1']), declaredPlacements: new Map([['etl/new', { pool: name, queue: null }]]) })).toEqual([
      'not deleted: still used by 1 deployment after this plan (etl/new); move or delete them first',
    ]);
  });

  it('export writes overrides of the type\'s template, or the template whole; both plan empty', () => {
    const overridden = live(serverPool({ base_job_template: withDefaults(PROCESS, { env: { A: '1' } }), concurrency_limit: 2 }), { typeDefault: PROCESS });
    const doc = exportPool(overridden);
    expect(doc).toEqual({ kind: 'work-pool', name: 'p', type: 'process', concurrency_limit: 2, job_variables: { env: { A: '1' } } });
    const { kind: _k, ...spec } = doc;
    expect(diffPool(pool(spec), overridden, ctx)).toBeNull();
    const custom = live(serverPool({ base_job_template: { job_configuration: { x: '{{ x }}' }, variables: { properties: { x: {} } } } }), { typeDefault: PROCESS });
    const wholeDoc = exportPool(custom);
    expect(wholeDoc).toHaveProperty('base_job_template');
    const { kind: _k2, ...wholeSpec } = wholeDoc;
    expect(diffPool(pool(wholeSpec), custom, ctx)).toBeNull();
    const empty = live(serverPool({ base_job_template: {} }), { typeDefault: PROCESS });
    const { kind: _k3, ...emptySpec } = exportPool(empty);
    expect(diffPool(pool(emptySpec), empty, ctx)).toBeNull();
  });
});

export type { LiveObject };
