import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { JsonObject, LiveAutomation } from '../prefect/types.js';
import { ownerTag } from './ownership.js';

/**
 * Deployment triggers become automations owned by the deployment, as `prefect deploy` makes them.
 * Each carries our owner tag and a fingerprint tag of its manifest spec, so a plan compares
 * name, enabled flag and fingerprint instead of the server's expanded trigger (full of defaults):
 * no perpetual diffs, and a changed trigger is replaced without touching the deployment.
 */
export interface TriggerState {
  readonly name: string;
  readonly enabled: boolean;
  readonly fingerprint: string;
}

export interface DesiredTrigger extends TriggerState {
  /** The trigger as written in the manifest. */
  readonly spec: JsonObject;
}

/** Prefix of the tag that carries a trigger's fingerprint on its automation. */
export const FINGERPRINT_TAG = 'prefect-gitops:trigger:';

/** Keys of a prefect.yaml trigger that configure the run-deployment action, not the trigger. */
const ACTION_KEYS = new Set(['name', 'description', 'enabled', 'parameters', 'job_variables', 'schedule_after']);

export function desiredTriggers(deploymentName: string, triggers: readonly JsonObject[] | undefined): DesiredTrigger[] {
  return (triggers ?? []).map((spec, i) => ({
    name: typeof spec.name === 'string' ? spec.name : `${deploymentName}__automation_${i + 1}`,
    enabled: spec.enabled !== false,
    fingerprint: createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16),
    spec,
  }));
}

export function liveTriggers(automations: readonly LiveAutomation[]): TriggerState[] {
  return automations
    .map((a) => ({ name: a.name, enabled: a.enabled, fingerprint: a.tags.find((t) => t.startsWith(FINGERPRINT_TAG))?.slice(FINGERPRINT_TAG.length) ?? '(not made by prefect-gitops)' }))
    .sort(byName);
}

export const triggerStates = (triggers: readonly DesiredTrigger[]): TriggerState[] => triggers.map(({ name, enabled, fingerprint }) => ({ name, enabled, fingerprint })).sort(byName);

function byName(a: TriggerState, b: TriggerState): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.fingerprint < b.fingerprint ? -1 : 1;
}

/** Which live automations belong to which deployment: their run-deployment action names it. */
export function automationsByDeployment(automations: readonly LiveAutomation[]): Map<string, LiveAutomation[]> {
  const out = new Map<string, LiveAutomation[]>();
  for (const a of automations) {
    for (const action of a.actions) {
      const id = action.deployment_id;
      if (action.type === 'run-deployment' && typeof id === 'string') {
        out.set(id, [...(out.get(id) ?? []), a]);
        break;
      }
    }
  }
  return out;
}

/**
 * Fills what Prefect's CLI fills client-side before it sends a trigger: the type (inferred from
 * the keys when left out) and, for event triggers, `posture: Reactive`, which the server requires.
 * Nested triggers of compound and sequence triggers get the same treatment.
 */
export function withTriggerDefaults(trigger: JsonObject): JsonObject {
  const out: JsonObject = { ...trigger };
  if (out.type === undefined) {
    out.type = out.posture === 'Metric' ? 'metric' : Array.isArray(out.triggers) ? ('require' in out ? 'compound' : 'sequence') : 'event';
  }
  if (out.type === 'event' && out.posture === undefined) out.posture = 'Reactive';
  if (Array.isArray(out.triggers)) {
    out.triggers = out.triggers.map((t) => (t && typeof t === 'object' && !Array.isArray(t) ? withTriggerDefaults(t as JsonObject) : t));
  }
  return out;
}

/** The POST /automations/ body for one trigger of deployment `deploymentId`. */
export function automationBody(trigger: DesiredTrigger, deploymentId: string, owner: string): JsonObject {
  const spec = trigger.spec;
  const triggerFields = withTriggerDefaults(Object.fromEntries(Object.entries(spec).filter(([k]) => !ACTION_KEYS.has(k))) as JsonObject);
  return {
    name: trigger.name,
    description: typeof spec.description === 'string' ? spec.description : '',
    enabled: trigger.enabled,
    tags: [ownerTag(owner), `${FINGERPRINT_TAG}${trigger.fingerprint}`],
    trigger: triggerFields,
    actions: [
      {
        type: 'run-deployment',
        source: 'selected',
        deployment_id: deploymentId,
        parameters: (spec.parameters as JsonObject | undefined) ?? null,
        job_variables: (spec.job_variables as JsonObject | undefined) ?? null,
        ...(typeof spec.schedule_after === 'number' ? { schedule_after: spec.schedule_after } : {}),
      },
    ],
    owner_resource: `prefect.deployment.${deploymentId}`,
  };
}
