// Plain-data builders for unit tests of the pure modules (planner, renderers, export).
import type { DeploymentManifest, DesiredDeployment } from '../../src/manifests/types.js';
import { OWNER_LABEL, ownerTag } from '../../src/plan/ownership.js';
import type { LiveDeployment, LiveSchedule } from '../../src/prefect/types.js';

/** A declared deployment of flow `etl` (or `manifest.flow_name`), in pool `pool`. */
export function desiredDeployment(manifest: Partial<DeploymentManifest> & { name: string }, extra: Partial<DesiredDeployment> = {}): DesiredDeployment {
  const flowName = manifest.flow_name ?? 'etl';
  return {
    key: `${flowName}/${manifest.name}`,
    flowName,
    name: manifest.name,
    manifest: { entrypoint: 'flows/etl.py:etl', flow_name: flowName, work_pool: { name: 'pool' }, ...manifest },
    adopt: false,
    protected: false,
    ignoreDifferences: [],
    declaredAt: { file: 'deployments/etl.yaml', line: 1, column: 1 },
    ...extra,
  };
}

let ids = 0;
/** A deployment as Prefect 3.8 reads back one prefect-gitops created from `desiredDeployment` defaults. */
export function liveDeployment(name: string, overrides: Partial<LiveDeployment> = {}, owner: string | null): LiveDeployment {
  return {
    id: `id-${name}-${++ids}`,
    created: '2026-01-01T00:00:00Z',
    updated: '2026-01-01T00:00:00Z',
    name,
    flow_id: 'flow-etl',
    version: null,
    description: null,
    paused: false,
    schedules: [],
    global_concurrency_limit: null,
    concurrency_options: null,
    job_variables: {},
    parameters: {},
    tags: owner ? [ownerTag(owner)] : [],
    labels: { 'prefect.flow.id': 'flow-etl', ...(owner ? { [OWNER_LABEL]: owner } : {}) },
    work_queue_name: 'default',
    work_pool_name: 'pool',
    parameter_openapi_schema: {},
    path: null,
    pull_steps: [],
    entrypoint: 'flows/etl.py:etl',
    enforce_parameter_schema: true,
    ...overrides,
  };
}

export function liveSchedule(slug: string | null, spec: LiveSchedule['schedule'], extra: Partial<LiveSchedule> = {}): LiveSchedule {
  return { id: `s-${slug ?? 'none'}-${++ids}`, schedule: spec, active: true, max_scheduled_runs: null, parameters: {}, slug, ...extra };
}
