import { RemoteError } from '../errors.js';
import type { PrefectClient } from '../prefect/client.js';
import type { JsonObject, LiveDeployment } from '../prefect/types.js';
import type { ExportDeployment, ExportSelection } from './export.js';
import type { ExportAutomation } from './triggers.js';

/** The server's maximum page size (see src/prefect/client.ts). */
const PAGE_SIZE = 200;

/**
 * Reads what `exportManifests` needs: the selected deployments (one server-side filter, paged),
 * their flow names, and every automation whose actions run one of them, with its trigger. Reads
 * only. Requests: ceil(deployments/200) + ceil(flows/200) + ceil(automations/200).
 *
 * @throws RemoteError when the server cannot be read.
 */
export async function fetchForExport(client: PrefectClient, selection: ExportSelection): Promise<{ deployments: ExportDeployment[] }> {
  const filter: JsonObject = {};
  if (selection.flowNames?.length) filter.flows = { name: { any_: selection.flowNames } };
  if (selection.tags?.length) filter.deployments = { tags: { any_: selection.tags } };
  if (selection.workPools?.length) filter.work_pools = { name: { any_: selection.workPools } };
  const deployments = await scan(client, '/deployments/filter', filter, checkDeployment);
  if (deployments.length === 0) return { deployments: [] };

  const flowIds = [...new Set(deployments.map((d) => d.flow_id))];
  const [flows, automations] = await Promise.all([client.listFlows({ ids: flowIds }), readAutomations(client)]);
  const flowName = new Map(flows.map((f) => [f.id, f.name]));
  const byDeployment = new Map<string, ExportAutomation[]>();
  for (const a of automations) {
    const targets = new Set([...a.actions, ...(a.actions_on_trigger ?? []), ...(a.actions_on_resolve ?? [])].flatMap((action) => (typeof action.deployment_id === 'string' ? [action.deployment_id] : [])));
    for (const id of targets) byDeployment.set(id, [...(byDeployment.get(id) ?? []), a]);
  }
  return {
    deployments: deployments
      .map((live) => ({ flowName: flowName.get(live.flow_id) ?? live.flow_id, live, automations: byDeployment.get(live.id) ?? [] }))
      .sort((a, b) => (a.flowName < b.flowName ? -1 : a.flowName > b.flowName ? 1 : a.live.name < b.live.name ? -1 : a.live.name > b.live.name ? 1 : 0)),
  };
}

/** Every automation with its trigger; a server without the automations API (404) has none. */
async function readAutomations(client: PrefectClient): Promise<ExportAutomation[]> {
  try {
    return await scan(client, '/automations/filter', {}, checkAutomation);
  } catch (error) {
    if (error instanceof RemoteError && error.status === 404) return [];
    throw error;
  }
}

/** Offset paging as the client does it: CREATED_DESC, deduplicated by id, until a short page. */
async function scan<T extends { id: string }>(client: PrefectClient, path: string, filter: JsonObject, check: (value: unknown) => T | string): Promise<T[]> {
  const byId = new Map<string, T>();
  for (let offset = 0; ; offset += PAGE_SIZE) {
    const page = await client.request<unknown>('POST', path, { ...filter, sort: 'CREATED_DESC', limit: PAGE_SIZE, offset });
    if (!Array.isArray(page)) throw unexpected(path, 'expected an array');
    const before = byId.size;
    page.forEach((value, i) => {
      const item = check(value);
      if (typeof item === 'string') throw unexpected(path, `item ${offset + i} ${item}`);
      if (!byId.has(item.id)) byId.set(item.id, item);
    });
    if (page.length < PAGE_SIZE) return [...byId.values()];
    if (byId.size === before) throw unexpected(path, `paging did not advance at offset ${offset}`);
  }
}

function checkDeployment(value: unknown): LiveDeployment | string {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.name !== 'string' || typeof value.flow_id !== 'string') return 'is not a deployment (id, name, flow_id)';
  if (!Array.isArray(value.schedules) || !value.schedules.every((s) => isRecord(s) && typeof s.id === 'string' && isRecord(s.schedule))) return 'has no list of schedules';
  if (value.tags !== undefined && value.tags !== null && !Array.isArray(value.tags)) return 'has tags that are not a list';
  return value as unknown as LiveDeployment;
}

function checkAutomation(value: unknown): ExportAutomation | string {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.name !== 'string' || !Array.isArray(value.actions)) return 'is not an automation (id, name, actions)';
  const list = (v: unknown): JsonObject[] => (Array.isArray(v) ? v.filter(isRecord) : []);
  return {
    id: value.id,
    name: value.name,
    enabled: value.enabled !== false,
    tags: Array.isArray(value.tags) ? value.tags.filter((t): t is string => typeof t === 'string') : [],
    actions: list(value.actions),
    actions_on_trigger: list(value.actions_on_trigger),
    actions_on_resolve: list(value.actions_on_resolve),
    ...(typeof value.description === 'string' ? { description: value.description } : {}),
    ...(isRecord(value.trigger) ? { trigger: value.trigger } : {}),
  };
}

const unexpected = (path: string, what: string): RemoteError => new RemoteError(`unexpected response from POST ${path}: ${what}`, 'POST', path);

function isRecord(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
