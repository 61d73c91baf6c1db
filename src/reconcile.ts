import { readFile } from 'node:fs/promises';
import type { Logger } from './log.js';
import type { ObjectAction } from './workspace/kind.js';
import { matchSavedPlan, matchSavedWorkspace, type SavedPlan, type SavedPlanOptions, type StaleEntry } from './plan/saved.js';
import type { PlanAction } from './plan/types.js';
import { checkSchema } from './validate/schema.js';
import { UserInputError, ValidationFailedError } from './errors.js';
import { branchAllowed, type ProjectConfig } from './manifests/config.js';
import { currentBranch } from './manifests/git-context.js';
import { loadManifests, type LoadedProject } from './manifests/load.js';
import type { DeploymentManifest, DesiredDeployment } from './manifests/types.js';
import { PrefectClient, type PrefectClientOptions } from './prefect/client.js';
import type { Json, LiveAutomation, LiveDeployment } from './prefect/types.js';
import { ownershipMarker, ownerTag } from './plan/ownership.js';
import { plan, type LiveState } from './plan/plan.js';
import { serverSupportIssues } from './plan/server-support.js';
import { automationsByDeployment } from './plan/triggers.js';
import type { Plan } from './plan/types.js';
import type { Issue } from './validate/issue.js';
import { checkResolvedParameters, hasErrors, validateProject } from './validate/validate.js';
import { poolIssues, readPoolInventory } from './work-pools.js';
import { targetMatcher } from './target.js';
import { VERSION } from './version.js';
import { fetchWorkspaceState, planWithWorkspace, type WorkspaceState } from './workspace/reconcile.js';
import { ownerOf as deploymentOwner } from './plan/ownership.js';

/** Everything a plan needs, as one typed value: the CLI and the Action both build this. */
export interface ReconcileOptions {
  readonly manifests: string;
  readonly cwd: string;
  /** `--python`: a Python with Prefect installed, asked for flows static reading cannot resolve (opt-in; runs the flow code). */
  readonly python?: string;
  /** `--prefect-file`: read only this prefect.yaml (see loadManifests). */
  readonly prefectFile?: string;
  readonly environment?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly client: PrefectClientOptions;
  /** Overrides the config's prune policy when set. */
  readonly prune?: boolean;
  readonly maxDeletes?: number;
  readonly allowMassDelete: boolean;
  readonly adoptAll: boolean;
  /** Owner id for a bare prefect.yaml project (no prefect-gitops.yaml). */
  readonly owner?: string;
  /** prefect.yaml build/push step outputs (`--set id.key=value`). */
  readonly stepOutputs?: Readonly<Record<string, string>>;
  /** A work pool or named queue missing on the server is a warning, not an error (pools made in the same rollout). */
  readonly allowMissingPools?: boolean;
  /** `--target` globs over `flow/name`: plan only these deployments; prune is off. */
  readonly targets?: readonly string[];
  readonly logger: Logger;
}

export interface Reconciliation {
  readonly plan: Plan;
  readonly client: PrefectClient;
  readonly project: LoadedProject;
  readonly desired: readonly DesiredDeployment[];
  readonly live: LiveState;
  /** Warnings from validation (errors stop before this point). */
  readonly warnings: readonly Issue[];
  readonly config: ProjectConfig;
  /** Workspace objects declared and live (src/workspace/); absent under --target. */
  readonly workspace?: WorkspaceState;
}

/**
 * Loads and validates the manifests, fetches live state and plans. Reads only: a dry run is this
 * call without `apply`.
 *
 * @throws ValidationFailedError when any manifest is invalid (before any request is sent).
 * @throws RemoteError / UnsupportedServerError when the server cannot be used.
 */
export async function reconcile(options: ReconcileOptions): Promise<Reconciliation> {
  const project = await loadManifests(options.manifests, { cwd: options.cwd, env: options.env, ...(options.python ? { python: options.python } : {}), ...(options.prefectFile ? { prefectFile: options.prefectFile } : {}) });
  const validation = validateProject(project, {
    env: options.env,
    ...(options.environment ? { environment: options.environment } : {}),
    ...(options.owner ? { owner: options.owner } : {}),
    ...(options.stepOutputs ? { stepOutputs: options.stepOutputs } : {}),
  });
  if (hasErrors(validation.issues) || !validation.config || !validation.owner) throw new ValidationFailedError(validation.issues);
  const { config, owner } = validation;
  const isTarget = targetMatcher(options.targets);
  const deployments = isTarget ? validation.deployments.filter((d) => isTarget(d.key)) : validation.deployments;
  if (isTarget && deployments.length === 0) {
    throw new UserInputError(`no declared deployment matches --target ${options.targets!.join(', ')}`, 'targets are globs over flow/name (e.g. etl/*, */daily), or a deployment name in any flow');
  }
  options.logger.debug({ deployments: deployments.length, files: project.files.length, owner }, 'manifests loaded');

  const client = await PrefectClient.connect({ ...options.client, logger: options.logger });
  // A variable declared in the manifests is what `{{ prefect.variables.x }}` resolves to, even before it exists.
  const declaredVariables = new Map(validation.workspace.filter((o) => o.kind === 'variable').map((o) => [o.key, (o.spec.value ?? null) as Json]));
  const desired = await resolveServerVariables(deployments, client, declaredVariables);
  const resolvedProblems = desired.filter((d, i) => d !== deployments[i]).flatMap((d) => checkResolvedParameters(d, /(^|\/)prefect\.ya?ml$/.test(d.declaredAt.file)));
  if (hasErrors(resolvedProblems)) throw new ValidationFailedError(resolvedProblems);
  // Pools and queues declared beside the deployments are created before them by the same apply (not under --target: then only deployments are planned).
  const declaredPools = isTarget ? undefined : { pools: new Set(validation.workspace.filter((o) => o.kind === 'work-pool').map((o) => o.key)), queues: new Set(validation.workspace.filter((o) => o.kind === 'work-queue').map((o) => o.key)) };
  // The reads that do not depend on each other go out together (each a few requests; on a fast
  // server their round trips were most of a no-op plan). Their outcomes are then looked at in a
  // fixed order, so the same problems give the same error whatever answered first.
  const [pools, workspaceRead, liveRead] = await Promise.allSettled([
    readPoolInventory(client, desired, declaredPools),
    // Under --target only the targeted deployments are planned: workspace objects are left out.
    isTarget ? Promise.resolve(undefined) : fetchWorkspaceState(client, validation.workspace, owner, desired.map((d) => d.key)),
    fetchLiveState(client, desired, owner),
  ]);
  const poolProblems = poolIssues(desired, settled(pools), options.allowMissingPools ?? false);
  if (hasErrors(poolProblems)) throw new ValidationFailedError(poolProblems);
  // What this server version cannot hold is an error or a warning now, never a failure half-way through an apply.
  const supportProblems = serverSupportIssues(desired, client.capabilities, client.serverVersion);
  if (hasErrors(supportProblems)) {
    const errors = supportProblems.filter((i) => i.severity === 'error');
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    throw new ValidationFailedError(supportProblems, `this Prefect server (${client.serverVersion}) cannot hold what the manifests declare: ${errors[0]!.message}${more}; nothing was written`);
  }
  const workspace = settled(workspaceRead);
  const fetched = settled(liveRead);
  const live = isTarget ? { ...fetched, deployments: new Map([...fetched.deployments].filter(([key]) => isTarget(key))) } : fetched;
  options.logger.debug({ live: live.deployments.size, reads: client.stats.reads }, 'live state fetched');
  let result = plan(desired, live, {
    owner,
    ...(options.environment ? { environment: options.environment } : {}),
    serverVersion: client.serverVersion,
    toolVersion: VERSION,
    prune: isTarget ? false : (options.prune ?? config.prune.enabled),
    maxDeletes: options.maxDeletes ?? config.prune.maxDeletes,
    maxDeleteRatio: config.prune.maxDeleteRatio,
    allowMassDelete: options.allowMassDelete,
    adoptAll: options.adoptAll,
    unread: project.unread,
    features: client.capabilities,
  });
  if (workspace) {
    result = planWithWorkspace(result, workspace, {
      prune: options.prune ?? config.prune.enabled,
      adoptAll: options.adoptAll,
      maxDeletes: options.maxDeletes ?? config.prune.maxDeletes,
      maxDeleteRatio: config.prune.maxDeleteRatio,
      allowMassDelete: options.allowMassDelete,
      declaredDeployments: desired.length,
      declaredPlacements: new Map(desired.map((d) => [d.key, { pool: d.manifest.work_pool?.name ?? null, queue: d.manifest.work_pool?.work_queue_name ?? null }])),
      ownedDeployments: [...live.deployments.values()].filter((d) => deploymentOwner(d, live.ownership ?? 'label') === owner).length,
    });
  }
  if (supportProblems.length > 0) {
    // In the plan itself (text, markdown, JSON, saved plans): what this server will not hold.
    result = { ...result, warnings: [...supportProblems.map((i) => `${i.file}:${i.line}:${i.column}: ${i.message}`), ...result.warnings] };
  }
  if (isTarget) {
    const note = `--target ${options.targets!.join(' ')}: ${deployments.length} of ${validation.deployments.length} declared deployments planned; prune is off under --target`;
    result = { ...result, warnings: [note, ...result.warnings] };
  }
  return { plan: result, client, project, desired, live, warnings: [...validation.issues.filter((i) => i.severity === 'warning'), ...poolProblems], config, ...(workspace ? { workspace } : {}) };
}

/** A settled read's value, or its error thrown. */
function settled<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

/**
 * Live state relevant to a plan: deployments of the declared flows (to update, or to report as
 * conflicts) and deployments carrying our owner tag (candidates for pruning), keyed by
 * `flow_name/name`, and our automations. Paged list calls: reads grow with ceil(N/200).
 */
export async function fetchLiveState(client: PrefectClient, desired: readonly DesiredDeployment[], owner: string): Promise<LiveState> {
  const flowNames = [...new Set(desired.map((d) => d.flowName))];
  const readDeployments = async (): Promise<{ byId: Map<string, LiveDeployment>; deployments: Map<string, LiveDeployment> }> => {
    // Owned deployments first; then only the others of the declared flows (conflicts, unmanaged), so
    // the server does not page through the same deployments twice once everything is converged.
    const owned = await client.listDeployments({ tagsAll: [ownerTag(owner)] });
    const declared = flowNames.length ? await client.listDeployments({ flowNames, excludeIds: owned.map((d) => d.id) }) : [];
    const byId = new Map<string, LiveDeployment>();
    for (const d of [...declared, ...owned]) byId.set(d.id, d);
    const flowIds = [...new Set([...byId.values()].map((d) => d.flow_id))];
    const flows = flowIds.length ? await client.listFlows({ ids: flowIds }) : [];
    const flowName = new Map(flows.map((f) => [f.id, f.name]));
    const deployments = new Map<string, LiveDeployment>();
    for (const d of byId.values()) deployments.set(`${flowName.get(d.flow_id) ?? d.flow_id}/${d.name}`, d);
    return { byId, deployments };
  };
  // Our automations do not depend on the deployments: read beside them.
  const [{ byId, deployments }, ours] = await Promise.all([readDeployments(), client.listAutomations([ownerTag(owner)])]);
  const ownership = ownershipMarker(client.capabilities);
  const automations = automationsByDeployment(ours);
  return { deployments, automations, orphanedAutomations: await findOrphanedAutomations(client, automations, byId), ownership };
}

/**
 * Our automations whose deployment is gone (deleted outside prefect-gitops; Prefect keeps its
 * automations). A deployment we did not list is read by id first: only a 404 makes an orphan.
 */
async function findOrphanedAutomations(
  client: PrefectClient,
  automations: ReadonlyMap<string, readonly LiveAutomation[]>,
  listed: ReadonlyMap<string, LiveDeployment>,
): Promise<{ automation: LiveAutomation; deploymentId: string }[]> {
  const out: { automation: LiveAutomation; deploymentId: string }[] = [];
  for (const [deploymentId, list] of automations) {
    if (listed.has(deploymentId) || (await client.readDeployment(deploymentId)) !== undefined) continue;
    out.push(...list.map((automation) => ({ automation, deploymentId })));
  }
  return out;
}

/**
 * Refuses to apply to an environment from a branch its config does not allow (`branches:`).
 *
 * @throws UserInputError naming the branch and the allowed ones.
 */
export async function assertBranchMayApply(r: Reconciliation, environment: string | undefined, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const allowed = environment ? r.config.environments[environment]?.branches : undefined;
  if (!allowed) return;
  const branch = await currentBranch(r.project.dir, env);
  if (branch === undefined || !branchAllowed(r.config, environment, branch)) {
    throw new UserInputError(
      `branch ${branch === undefined ? '(unknown)' : `"${branch}"`} may not apply to environment "${environment}"; allowed: ${allowed.join(', ')}`,
      'apply from an allowed branch, or change environments.<name>.branches in prefect-gitops.yaml',
    );
  }
}

const VARIABLE = /\{\{\s*prefect\.variables\.([\w-]+)\s*\}\}/g;

/**
 * Resolves `{{ prefect.variables.NAME }}` from the server, as `prefect deploy` does at deploy
 * time: everywhere but in pull steps, which the worker resolves at run time. A placeholder that is
 * the whole string takes the variable's value as it is (not only strings).
 *
 * @throws UserInputError naming the deployment and the variable when it does not exist.
 */
export async function resolveServerVariables(desired: readonly DesiredDeployment[], client: PrefectClient, declared: ReadonlyMap<string, Json> = new Map()): Promise<DesiredDeployment[]> {
  const names = new Set<string>();
  // Deployments of one flow share its parameter schema object (most of what there is to walk): each object once.
  const seen = new WeakSet<object>();
  const scan = (v: unknown): void => {
    // Most strings hold no placeholder: a plain substring test before the regex.
    if (typeof v === 'string') {
      if (v.includes('prefect.variables.')) for (const m of v.matchAll(VARIABLE)) names.add(m[1]!);
      return;
    }
    if (!v || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) for (const x of v) scan(x);
    else for (const k in v) scan((v as Record<string, unknown>)[k]);
  };
  desired.forEach(({ manifest: { pull: _pull, ...rest } }) => scan(rest));
  if (names.size === 0) return [...desired];
  const values = new Map<string, Json>();
  for (const name of names) {
    const value = declared.has(name) ? declared.get(name) : await client.readVariable(name);
    if (value === undefined) {
      const where = desired.find((d) => JSON.stringify(d.manifest).includes(`prefect.variables.${name}`));
      throw new UserInputError(
        `Prefect variable "${name}" does not exist on the server (used by ${where?.key ?? 'a deployment'} at ${where?.declaredAt.file}:${where?.declaredAt.line})`,
        `create it (prefect variable set ${name} VALUE) or change the placeholder`,
      );
    }
    values.set(name, value);
  }
  const render = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const whole = /^\{\{\s*prefect\.variables\.([\w-]+)\s*\}\}$/.exec(v);
      if (whole) return values.get(whole[1]!);
      return v.replace(VARIABLE, (_m, name: string) => {
        const value = values.get(name);
        return typeof value === 'string' ? value : JSON.stringify(value);
      });
    }
    if (Array.isArray(v)) return v.map(render);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, child]) => [k, render(child)]));
    return v;
  };
  return desired.map((d) => {
    const { pull, ...rest } = d.manifest;
    return { ...d, manifest: { ...(render(rest) as DeploymentManifest), ...(pull !== undefined ? { pull } : {}) } };
  });
}

/**
 * Reads a plan saved by `plan --out` (or the Action's `plan-file`).
 *
 * @throws UserInputError when the file is missing, not JSON, or not a prefect-gitops plan.
 */
export async function readSavedPlan(path: string): Promise<SavedPlan> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UserInputError(`cannot read the saved plan ${path}: ${error instanceof Error ? error.message : String(error)}`, 'make one with: prefect-gitops plan DIR --out plan.json');
  }
  const problems = checkSchema('savedPlan', value);
  if (problems.length) throw new UserInputError(`${path} is not a prefect-gitops plan file: ${problems.map((p) => `${p.path.join('.') || '(root)'} ${p.message}`).join('; ')}`);
  return value as SavedPlan;
}

export interface SavedReconciliation extends Reconciliation {
  /** Saved actions no longer exactly what a plan made now would do: not applied. */
  readonly stale: readonly StaleEntry[];
  /** Actions a plan made now has that the saved plan did not: not applied either. */
  readonly unplanned: readonly PlanAction[];
  /** The same for workspace objects. */
  readonly unplannedObjects: readonly ObjectAction[];
  readonly savedActions: number;
}

/**
 * Plans again from the saved plan's manifests, environment and options, and keeps exactly the
 * actions whose fingerprint is the saved one: the returned plan is what was reviewed, minus what
 * changed since (on the server or in git), which is reported as stale.
 */
export async function reconcileSavedPlan(
  saved: SavedPlan,
  options: Omit<ReconcileOptions, 'manifests' | 'environment' | 'prune' | 'maxDeletes' | 'allowMassDelete' | 'adoptAll' | 'owner' | 'stepOutputs' | 'targets'>,
): Promise<SavedReconciliation> {
  const o = saved.options;
  const r = await reconcile({
    ...options,
    manifests: saved.manifests,
    ...(saved.environment ? { environment: saved.environment } : {}),
    ...(o.prune !== null ? { prune: o.prune } : {}),
    ...(o.maxDeletes !== null ? { maxDeletes: o.maxDeletes } : {}),
    allowMassDelete: o.allowMassDelete,
    adoptAll: o.adoptAll,
    ...(o.owner ? { owner: o.owner } : {}),
    stepOutputs: o.stepOutputs,
    ...(o.targets?.length ? { targets: o.targets } : {}),
  });
  const matched = matchSavedPlan(saved, r.plan);
  const ws = matchSavedWorkspace(saved, r.plan);
  const count = (kind: PlanAction['kind']): number => matched.apply.filter((a) => a.kind === kind).length + ws.apply.filter((a) => a.action === kind).length;
  return {
    ...r,
    plan: {
      ...r.plan,
      actions: matched.apply,
      ...(r.plan.workspace ? { workspace: { ...r.plan.workspace, actions: ws.apply } } : {}),
      summary: { ...r.plan.summary, add: count('create'), change: count('update'), delete: count('delete'), adopt: count('adopt') },
    },
    stale: [...matched.stale, ...ws.stale],
    unplanned: matched.unplanned,
    unplannedObjects: ws.unplanned,
    savedActions: Object.keys(saved.fingerprints).length,
  };
}

/** The options a saved plan records, so that applying it plans with exactly the same ones. */
export function savedPlanOptions(options: ReconcileOptions): SavedPlanOptions {
  return {
    prune: options.prune ?? null,
    maxDeletes: options.maxDeletes ?? null,
    allowMassDelete: options.allowMassDelete,
    adoptAll: options.adoptAll,
    owner: options.owner ?? null,
    stepOutputs: options.stepOutputs ?? {},
    ...(options.targets?.length ? { targets: options.targets } : {}),
  };
}
