import { recoverTriggers } from '../export/triggers.js';
import type { Json, JsonObject, LiveAutomation } from '../prefect/types.js';
import { jsonEqual } from './canonical.js';
import { sortKeys } from './canonical-json.js';
import type { DesiredTrigger } from './triggers.js';
import type { FieldChange } from './types.js';

/**
 * The `triggers` change as a reviewer reads it: each trigger that differs, by name, with the
 * fields written in its manifest (before: the spec recovered from the live automation, as export
 * recovers it; after: the manifest's spec). Triggers that are the same on both sides are left out,
 * and the fingerprint the planner compares by stays internal. Undefined when no field differs.
 */
export function triggerChange(deploymentName: string, live: readonly LiveAutomation[], desired: readonly DesiredTrigger[]): FieldChange | undefined {
  const before = new Map(recoverTriggers(deploymentName, live).map((r) => [r.automation.name, withoutName(r.spec)]));
  const after = new Map(desired.map((t) => [t.name, withoutName(t.spec)]));
  const shown = (side: Map<string, JsonObject>, other: Map<string, JsonObject>): Json | undefined => {
    const entries = [...side].filter(([name, spec]) => !jsonEqual(spec, other.get(name)));
    return entries.length ? sortKeys(Object.fromEntries(entries)) : undefined;
  };
  const change = { field: 'triggers', before: shown(before, after), after: shown(after, before) };
  // Nothing to show when the live spec cannot be told apart from the declared one (e.g. the
  // server changed a value): the caller keeps the fingerprint change then.
  return change.before === undefined && change.after === undefined ? undefined : change;
}

function withoutName(spec: JsonObject): JsonObject {
  const { name: _name, ...rest } = spec;
  return rest;
}

/** Declared triggers as a create shows them: each trigger's fields by name. */
export function triggerSpecs(desired: readonly DesiredTrigger[]): Json {
  return sortKeys(Object.fromEntries(desired.map((t) => [t.name, withoutName(t.spec)])));
}
