import { apply, type ApplyResult } from '../apply/apply.js';
import { ValidationFailedError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadManifests } from '../manifests/load.js';
import { PrefectClient, type PrefectClientOptions } from '../prefect/client.js';
import { reconcile } from '../reconcile.js';
import type { Plan } from '../plan/types.js';
import type { Issue } from '../validate/issue.js';
import { hasErrors, validateProject } from '../validate/validate.js';
import { diffSnapshots, type FieldDifference } from './diff.js';
import { snapshotDeployments, type Snapshot } from './snapshot.js';

/** What a finished command printed. */
export interface CommandOutput {
  /** Exit code; 128 + signal number when killed by a signal. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CompareOptions {
  /** The project directory (holds prefect.yaml). */
  readonly dir: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Values of build/push step outputs for prefect-gitops (`--set`). */
  readonly stepOutputs?: Readonly<Record<string, string>>;
  readonly owner?: string;
  /** `--python`: a Python with Prefect, asked for flows static reading cannot resolve. */
  readonly python?: string;
  /** `--prefect-file`: read only this prefect.yaml (relative to `dir`), as `prefect deploy --prefect-file` does; `theirs.deploy` must pass it too. */
  readonly prefectFile?: string;
  /** The server `prefect deploy` writes to, and how to run it there. */
  readonly theirs: { readonly client: PrefectClientOptions; readonly deploy: () => Promise<CommandOutput> };
  /** The server prefect-gitops applies to. */
  readonly ours: PrefectClientOptions;
  /** Work pools to create on both servers first (`prefect deploy` refuses a pool that does not exist). Default: every pool the deployments name, as `process` pools. */
  readonly workPools?: readonly { readonly name: string; readonly type: string }[];
  readonly logger: Logger;
}

export interface ComparisonResult {
  /** `prefect deploy`'s exit code and output. When it failed, nothing else was compared. */
  readonly deploy: CommandOutput;
  readonly plan?: Plan;
  readonly applied?: ApplyResult;
  /** Validation warnings of prefect-gitops. */
  readonly warnings: readonly Issue[];
  readonly theirs: Snapshot;
  readonly ours: Snapshot;
  readonly differences: readonly FieldDifference[];
}

/**
 * Deploys one project twice, with `prefect deploy` (through `theirs.deploy`) and with prefect-gitops
 * (validate, plan, apply), each to its own server, and compares every field of every deployment
 * either made. Only flows that appeared on `theirs` during this call or that the manifests declare are
 * compared, so servers may hold other projects' deployments (with other flow names).
 *
 * @throws ValidationFailedError when prefect-gitops rejects the project (before anything is written).
 */
export async function compareDeployments(options: CompareOptions): Promise<ComparisonResult> {
  const { logger } = options;
  const project = await loadManifests(options.dir, { cwd: options.cwd, env: options.env, ...(options.python ? { python: options.python } : {}), ...(options.prefectFile ? { prefectFile: options.prefectFile } : {}) });
  const validation = validateProject(project, { env: options.env, ...(options.owner ? { owner: options.owner } : {}), ...(options.stepOutputs ? { stepOutputs: options.stepOutputs } : {}) });
  if (hasErrors(validation.issues)) throw new ValidationFailedError(validation.issues);

  const theirs = await PrefectClient.connect({ ...options.theirs.client, logger });
  const ours = await PrefectClient.connect({ ...options.ours, logger });
  const pools = options.workPools ?? [...new Set(validation.deployments.map((d) => d.manifest.work_pool?.name).filter((n): n is string => typeof n === 'string' && n !== ''))].map((name) => ({ name, type: 'process' }));
  for (const client of [theirs, ours]) {
    for (const pool of pools) if (!(await client.readWorkPool(pool.name))) await client.createWorkPool(pool);
  }

  const flowsBefore = new Set((await theirs.listFlows({})).map((f) => f.name));
  const deploy = await options.theirs.deploy();
  const none = { warnings: validation.issues, theirs: {}, ours: {}, differences: [] };
  if (deploy.code !== 0) return { deploy, ...none };

  const reconciled = await reconcile({
    manifests: options.dir,
    cwd: options.cwd,
    env: options.env,
    client: options.ours,
    allowMassDelete: false,
    adoptAll: false,
    ...(options.owner ? { owner: options.owner } : {}),
    ...(options.stepOutputs ? { stepOutputs: options.stepOutputs } : {}),
    ...(options.python ? { python: options.python } : {}),
    ...(options.prefectFile ? { prefectFile: options.prefectFile } : {}),
    logger,
  });
  const applied = await apply(reconciled.plan, reconciled.client, { logger });

  const newFlows = (await theirs.listFlows({})).map((f) => f.name).filter((n) => !flowsBefore.has(n));
  const flowNames = [...new Set([...newFlows, ...reconciled.desired.map((d) => d.flowName)])];
  const theirSnapshot = flowNames.length ? await snapshotDeployments(theirs, flowNames) : {};
  const ourSnapshot = flowNames.length ? await snapshotDeployments(ours, flowNames) : {};
  return {
    deploy,
    plan: reconciled.plan,
    applied,
    warnings: reconciled.warnings,
    theirs: theirSnapshot,
    ours: ourSnapshot,
    differences: diffSnapshots(theirSnapshot, ourSnapshot),
  };
}
