import type { PrefectClient } from '../prefect/client.js';
import { ownershipMarker, type OwnershipMarker } from '../plan/ownership.js';
import type { ExportDeployment, ExportSelection } from './export.js';
import type { ExportAutomation } from './triggers.js';
import { isStandaloneAutomation } from '../workspace/kinds/automation-spec.js';

/**
 * Reads what `exportManifests` needs: the selected deployments (one server-side filter, paged),
 * their flow names, and every automation whose actions run one of them, with its trigger. Reads
 * only, all through the client's typed operations. Requests: ceil(deployments/200) +
 * ceil(flows/200) + ceil(automations/200).
 *
 * @throws RemoteError when the server cannot be read.
 */
export async function fetchForExport(client: PrefectClient, selection: ExportSelection): Promise<{ deployments: ExportDeployment[]; ownership: OwnershipMarker; scheduleSlugs: boolean }> {
  const ownership = ownershipMarker(client.capabilities);
  const scheduleSlugs = client.capabilities.scheduleSlugs;
  // An empty kind does not restrict a selection, while the client reads an empty list as "none".
  const given = (list: string[] | undefined): string[] | undefined => (list?.length ? list : undefined);
  const deployments = await client.listDeployments({
    flowNames: given(selection.flowNames),
    tagsAny: given(selection.tags),
    workPools: given(selection.workPools),
  });
  if (deployments.length === 0) return { deployments: [], ownership, scheduleSlugs };

  const flowIds = [...new Set(deployments.map((d) => d.flow_id))];
  const [flows, automations] = await Promise.all([client.listFlows({ ids: flowIds }), client.listAutomations()]);
  const flowName = new Map(flows.map((f) => [f.id, f.name]));
  const byDeployment = new Map<string, ExportAutomation[]>();
  for (const a of automations) {
    // A standalone automation (kind: automation) that runs the deployment is not one of its triggers.
    if (isStandaloneAutomation(a)) continue;
    const targets = new Set([...a.actions, ...(a.actions_on_trigger ?? []), ...(a.actions_on_resolve ?? [])].flatMap((action) => (typeof action.deployment_id === 'string' ? [action.deployment_id] : [])));
    for (const id of targets) byDeployment.set(id, [...(byDeployment.get(id) ?? []), a]);
  }
  return {
    ownership,
    scheduleSlugs,
    deployments: deployments
      .map((live) => ({ flowName: flowName.get(live.flow_id) ?? live.flow_id, live, automations: byDeployment.get(live.id) ?? [] }))
      .sort((a, b) => (a.flowName < b.flowName ? -1 : a.flowName > b.flowName ? 1 : a.live.name < b.live.name ? -1 : a.live.name > b.live.name ? 1 : 0)),
  };
}
