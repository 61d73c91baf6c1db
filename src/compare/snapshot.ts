import type { PrefectClient } from '../prefect/client.js';
import type { Json, JsonObject, LiveAutomation, LiveDeployment } from '../prefect/types.js';
import { OWNER_LABEL, isMarkerTag } from '../plan/ownership.js';
import { isStandaloneAutomation } from '../workspace/kinds/automation-spec.js';

/** One deployment as both tools are responsible for it, keyed by `flow/name` in a {@link Snapshot}. */
export type ComparableDeployment = JsonObject;
export type Snapshot = Record<string, ComparableDeployment>;

/**
 * Server-assigned values and our own ownership markers, which can never be equal between two
 * servers or two tools and say nothing about what the user declared: left out of every comparison.
 * (The README lists them under "Equivalence with `prefect deploy`".)
 */
const SERVER_FIELDS = new Set(['id', 'created', 'updated', 'flow_id', 'work_queue_id', 'status', 'last_polled', 'created_by', 'updated_by']);

const byJson = (a: unknown, b: unknown): number => JSON.stringify(a).localeCompare(JSON.stringify(b));

/**
 * What one server holds for the given flows (every flow when `flowNames` is omitted): each
 * deployment with every field the server returns, minus {@link SERVER_FIELDS}, the ownership
 * markers, schedule slugs and automation ids; plus the automations whose actions run it.
 * Tags and schedules are sorted (their order carries no meaning to Prefect).
 */
export async function snapshotDeployments(client: PrefectClient, flowNames?: readonly string[]): Promise<Snapshot> {
  const deployments = await client.listDeployments(flowNames ? { flowNames: [...flowNames] } : {});
  const flows = await client.listFlows({ ids: [...new Set(deployments.map((d) => d.flow_id))] });
  // Standalone automations (kind: automation) are not part of a deployment, whichever it runs.
  const automations = deployments.length > 0 ? (await client.listAutomations()).filter((a) => !isStandaloneAutomation(a)) : [];
  const flowName = new Map(flows.map((f) => [f.id, f.name]));
  const out: Snapshot = {};
  for (const deployment of deployments) {
    out[`${flowName.get(deployment.flow_id) ?? deployment.flow_id}/${deployment.name}`] = comparable(deployment, automations);
  }
  return out;
}

/** The comparable form of one live deployment (pure). */
export function comparable(deployment: LiveDeployment, automations: readonly LiveAutomation[]): ComparableDeployment {
  const raw = deployment as unknown as JsonObject;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!SERVER_FIELDS.has(key)) out[key] = value;
  }
  const labels = (raw.labels ?? {}) as Record<string, Json>;
  out.labels = Object.fromEntries(
    Object.entries(labels)
      .filter(([k]) => k !== OWNER_LABEL)
      // The flow's id differs between servers; that the label is there is what both tools decide.
      .map(([k, v]) => [k, k === 'prefect.flow.id' ? '<flow id>' : v]),
  );
  out.tags = (deployment.tags ?? []).filter((t) => !isMarkerTag(t)).sort();
  if (raw.global_concurrency_limit && typeof raw.global_concurrency_limit === 'object') {
    const { limit, active, slot_decay_per_second } = raw.global_concurrency_limit as JsonObject;
    out.global_concurrency_limit = { limit: limit ?? null, active: active ?? null, slot_decay_per_second: slot_decay_per_second ?? null };
  }
  out.schedules = (deployment.schedules ?? [])
    .map((s) => {
      const { id: _id, created: _c, updated: _u, slug: _slug, deployment_id: _d, ...rest } = s as unknown as JsonObject;
      return rest;
    })
    .sort(byJson);
  out.automations = automations
    .filter((a) => [...a.actions, ...(a.actions_on_trigger ?? []), ...(a.actions_on_resolve ?? [])].some((x) => x.deployment_id === deployment.id))
    .map((a): JsonObject => {
      const { id: _triggerId, ...trigger } = a.trigger ?? {};
      const strip = (actions: readonly JsonObject[] | undefined): Json[] =>
        (actions ?? []).map(({ deployment_id, ...x }) => (deployment_id === deployment.id ? x : { deployment_id: deployment_id ?? null, ...x }));
      return {
        name: a.name,
        enabled: a.enabled,
        // Our automations carry the owner and fingerprint tags and a description of their origin.
        tags: a.tags.filter((t) => !isMarkerTag(t)),
        trigger,
        actions: strip(a.actions),
        actions_on_trigger: strip(a.actions_on_trigger),
        actions_on_resolve: strip(a.actions_on_resolve),
      };
    })
    .sort(byJson);
  return out;
}
