import type { PrefectClient } from '../prefect/client.js';
import type { Plan } from '../plan/types.js';

/**
 * How many scheduled (future) flow runs each deployment the plan touches has now: an update, an
 * adoption or a delete makes Prefect drop them, and a reviewer should see how many. One
 * `POST /flow_runs/count` per deployment (a read); the client bounds the requests in flight.
 *
 * @returns counts keyed by deployment key (`flow/name`).
 * @throws RemoteError when a count fails.
 */
export async function countScheduledRuns(client: PrefectClient, plan: Plan): Promise<Record<string, number>> {
  const targets = plan.actions.flatMap((a) => (a.kind === 'create' ? [] : [{ key: a.key, id: a.id }]));
  const counts = await Promise.all(
    targets.map(async (t) => [t.key, await client.countFlowRuns({ flow_runs: { deployment_id: { any_: [t.id] }, state: { type: { any_: ['SCHEDULED'] } } } })] as const),
  );
  return Object.fromEntries(counts);
}
