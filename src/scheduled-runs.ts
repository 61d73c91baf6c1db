import type { PrefectClient } from './prefect/client.js';
import type { Plan } from './plan/types.js';
import { dropsScheduledRuns } from './render/schedule-meaning.js';

/**
 * How many scheduled (future) flow runs each deployment has now whose action makes Prefect drop
 * them (see `dropsScheduledRuns`: a delete, an adoption, an update that PATCHes the deployment or
 * touches a schedule), so a reviewer sees how many. One `POST /flow_runs/count` per such deployment
 * (a read); the client bounds the requests in flight.
 *
 * @returns counts keyed by deployment key (`flow/name`).
 * @throws RemoteError when a count fails.
 */
export async function countScheduledRuns(client: Pick<PrefectClient, 'countFlowRuns'>, plan: Plan): Promise<Record<string, number>> {
  const targets = plan.actions.flatMap((a) => (a.kind !== 'create' && dropsScheduledRuns(a) ? [{ key: a.key, id: a.id }] : []));
  const counts = await Promise.all(
    targets.map(async (t) => [t.key, await client.countFlowRuns({ flow_runs: { deployment_id: { any_: [t.id] }, state: { type: { any_: ['SCHEDULED'] } } } })] as const),
  );
  return Object.fromEntries(counts);
}
