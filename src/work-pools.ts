import type { DesiredDeployment } from './manifests/types.js';
import type { PrefectClient } from './prefect/client.js';
import type { Issue } from './validate/issue.js';

/** What the server has of the pools and queues the manifests name. */
export interface PoolInventory {
  /** Pool name -> whether it exists. */
  readonly pools: ReadonlyMap<string, boolean>;
  /** `pool\u0000queue` -> whether the queue exists (only asked for pools that exist). */
  readonly queues: ReadonlyMap<string, boolean>;
}

const queueKey = (pool: string, queue: string): string => `${pool}\u0000${queue}`;

/** Pools and queues declared as workspace objects (`kind: work-pool`, `kind: work-queue` `POOL/QUEUE`): the same apply creates them first. */
export interface DeclaredPools {
  readonly pools: ReadonlySet<string>;
  readonly queues: ReadonlySet<string>;
}

/**
 * Reads the work pools the manifests name, one request per distinct pool, then the named work
 * queues of the pools that exist, one request per distinct pool and queue. Declared pools and
 * queues count as existing and are not read. Reads only.
 */
export async function readPoolInventory(
  client: Pick<PrefectClient, 'readWorkPool' | 'readWorkQueue'>,
  desired: readonly DesiredDeployment[],
  declared: DeclaredPools = { pools: new Set(), queues: new Set() },
): Promise<PoolInventory> {
  const poolNames = [...new Set(desired.flatMap((d) => (d.manifest.work_pool?.name ? [d.manifest.work_pool.name] : [])))].sort();
  const pools = new Map(await Promise.all(poolNames.map(async (name) => [name, declared.pools.has(name) || (await client.readWorkPool(name)) !== undefined] as const)));
  const wanted = new Map<string, [string, string]>();
  const known = new Map<string, boolean>();
  for (const d of desired) {
    const pool = d.manifest.work_pool?.name;
    const queue = d.manifest.work_pool?.work_queue_name;
    if (!pool || !queue || !pools.get(pool)) continue;
    if (declared.queues.has(`${pool}/${queue}`) || (queue === 'default' && declared.pools.has(pool))) known.set(queueKey(pool, queue), true);
    else wanted.set(queueKey(pool, queue), [pool, queue]);
  }
  const queues = new Map([...known, ...(await Promise.all([...wanted].map(async ([key, [pool, queue]]) => [key, (await client.readWorkQueue(pool, queue)) !== undefined] as const)))]);
  return { pools, queues };
}

/**
 * A missing work pool as an issue on the manifest line that names it: an error (as `prefect
 * deploy` refuses it, and the apply would fail), or a warning when `allowMissing` (pools made in
 * the same rollout). A missing named queue is a warning on its line. Pure.
 */
export function poolIssues(desired: readonly DesiredDeployment[], inventory: PoolInventory, allowMissing: boolean): Issue[] {
  const severity: Issue['severity'] = allowMissing ? 'warning' : 'error';
  const hint = allowMissing ? '' : '; create it first, or pass --allow-missing-pools (Action input allow-missing-pools) if it is created in the same rollout';
  const issues: Issue[] = [];
  for (const d of desired) {
    const pool = d.manifest.work_pool?.name;
    if (!pool) continue;
    const at = (path: string): Pick<Issue, 'file' | 'line' | 'column'> => d.fieldsAt?.[path] ?? d.declaredAt;
    if (inventory.pools.get(pool) === false) {
      issues.push({ ...at('work_pool.name'), path: 'work_pool.name', severity, message: `work pool "${pool}" does not exist on the Prefect server${hint}` });
      continue;
    }
    const queue = d.manifest.work_pool?.work_queue_name;
    if (queue && inventory.queues.get(queueKey(pool, queue)) === false) {
      // Prefect creates a missing queue when the deployment is written (and `prefect deploy`
      // accepts one), so it is only ever a warning: a typo makes a queue no worker may poll.
      issues.push({
        ...at('work_pool.work_queue_name'),
        path: 'work_pool.work_queue_name',
        severity: 'warning',
        message: `work queue "${queue}" does not exist in work pool "${pool}" yet: Prefect creates it on apply, and only workers polling that queue (or all queues of the pool) run the deployment`,
      });
    }
  }
  return issues.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}
