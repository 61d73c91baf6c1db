// Builds throwaway manifest projects and runs the real core (reconcile + apply) against the test
// server. Each project gets its own owner id and flow names, so test files can share one server.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { apply, type ApplyResult } from '../../src/apply/apply.js';
import { silentLogger } from '../../src/log.js';
import type { Plan } from '../../src/plan/types.js';
import { reconcile, type ReconcileOptions } from '../../src/reconcile.js';
import { api, prefectApiUrl, uniqueName } from './prefect.js';

export interface Project {
  readonly dir: string;
  readonly owner: string;
  readonly flow: string;
  /** Rewrites the manifests (one file per deployment) and the config. */
  write(deployments: Record<string, unknown>[], config?: Record<string, unknown>): Promise<void>;
}

/** The flow file every generated project carries: `flows/job.py:job` with flow name `<flow>`. */
const flowSource = (flow: string): string => `from prefect import flow


@flow(name="${flow}")
def job(n: int = 1, label: str = "x") -> int:
    print(f"job {label} n={n}")
    return n


@flow(name="${flow}")
def job_v2(n: int = 1, label: str = "x") -> int:
    return n * 2
`;

export async function makeProject(prefix = 'proj'): Promise<Project> {
  const dir = await mkdtemp(join(tmpdir(), `gitops-${prefix}-`));
  const owner = uniqueName(prefix);
  const flow = uniqueName(`${prefix}-flow`);
  await mkdir(join(dir, 'flows'), { recursive: true });
  await writeFile(join(dir, 'flows', 'job.py'), flowSource(flow));
  const project: Project = {
    dir,
    owner,
    flow,
    async write(deployments, config = {}) {
      await rm(join(dir, 'deployments'), { recursive: true, force: true });
      await mkdir(join(dir, 'deployments'), { recursive: true });
      await writeFile(join(dir, 'prefect-gitops.yaml'), stringify({ owner, prune: { enabled: true }, ...config }));
      for (const d of deployments) {
        await writeFile(join(dir, 'deployments', `${String(d.name)}.yaml`), stringify({ entrypoint: 'flows/job.py:job', ...d }));
      }
    },
  };
  return project;
}

export type RunOptions = Partial<Pick<ReconcileOptions, 'prune' | 'allowMassDelete' | 'adoptAll' | 'environment' | 'env' | 'allowMissingPools'>> & {
  /** Another API root for the code under test, e.g. a fault proxy's (test/helpers/fault-proxy.ts). */
  readonly apiUrl?: string;
  /** The TTL of the name claims an apply takes (renewed every third of it); default 60 s. */
  readonly claimTtlMs?: number;
};

function options(dir: string, run: RunOptions): ReconcileOptions {
  return {
    manifests: dir,
    cwd: process.cwd(),
    env: run.env ?? {},
    // Straight to the test server: a generous timeout, as a loaded CI machine once took over 30 s
    // to answer a POST /deployments/. Through a fault proxy the default stays (faults time out on purpose).
    client: { apiUrl: run.apiUrl ?? prefectApiUrl(), retryBaseMs: 200, ...(run.apiUrl ? {} : { timeoutMs: 90_000 }) },
    allowMassDelete: run.allowMassDelete ?? false,
    adoptAll: run.adoptAll ?? false,
    ...(run.prune !== undefined ? { prune: run.prune } : {}),
    ...(run.environment ? { environment: run.environment } : {}),
    ...(run.allowMissingPools ? { allowMissingPools: true } : {}),
    logger: silentLogger(),
  };
}

export interface PlanRun {
  readonly plan: Plan;
  readonly reads: number;
  readonly writes: number;
}

export async function planProject(dir: string, run: RunOptions = {}): Promise<PlanRun> {
  const { plan, client } = await reconcile(options(dir, run));
  return { plan, reads: client.stats.reads, writes: client.stats.writes };
}

export interface ApplyRun extends PlanRun {
  readonly result: ApplyResult;
}

/** Plans and applies, as `prefect-gitops apply` does; counts every request the run sent. */
export async function applyProject(dir: string, run: RunOptions = {}): Promise<ApplyRun> {
  const { plan, client } = await reconcile(options(dir, run));
  const result = await apply(plan, client, { logger: silentLogger(), concurrency: 4, ...(run.claimTtlMs ? { lock: { held: false, ttlMs: run.claimTtlMs } } : {}) });
  return { plan, result, reads: client.stats.reads, writes: client.stats.writes };
}

export interface ServerDeployment {
  id: string;
  name: string;
  updated: string;
  paused: boolean;
  tags: string[];
  labels: Record<string, string>;
  schedules: { id: string; slug: string | null; updated: string; schedule: Record<string, unknown> }[];
  [key: string]: unknown;
}

export async function readDeployment(flow: string, name: string): Promise<ServerDeployment | undefined> {
  try {
    return await api<ServerDeployment>('GET', `/deployments/name/${encodeURIComponent(flow)}/${encodeURIComponent(name)}`);
  } catch (error) {
    if (error instanceof Error && / -> 404:/.test(error.message)) return undefined;
    throw error;
  }
}

/** Creates the work pool if missing (409 = already there). */
export async function ensurePool(name: string, type = 'process'): Promise<void> {
  try {
    await api('POST', '/work_pools/', { name, type });
  } catch (error) {
    if (!(error instanceof Error && / -> 409:/.test(error.message))) throw error;
  }
}

/** A schedule by its content (`cron 0 * * * *`, `interval 600`): what identifies it where servers keep no slugs. */
export const scheduleText = (s: { schedule: Record<string, unknown> }): string =>
  s.schedule['cron'] !== undefined ? `cron ${String(s.schedule['cron'])}` : `interval ${String(s.schedule['interval'])}`;
