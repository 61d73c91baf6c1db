/**
 * A work pool's base job template, pure: its placeholders, the template a declaration stands for
 * (whole, or the type's default with `job_variables` as the variables' defaults), and a diff that
 * reads as "the defaults changed" rather than a wall of JSON.
 */
import { canonicalJson } from '../../plan/canonical-json.js';
import type { FieldChange } from '../../plan/types.js';
import type { Json, JsonObject } from '../../prefect/types.js';

/** Prefect's placeholder grammar (prefect/utilities/templating: PLACEHOLDER_CAPTURE_REGEX). */
const PLACEHOLDER = /\{\{\s*([\w.\-[\]$]+)\s*\}\}/g;

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Every placeholder name in a template's `job_configuration`, as the server finds them when it
 * validates a template (each value's JSON, so keys and nested values count too).
 */
export function placeholderNames(jobConfiguration: JsonObject): string[] {
  const names = new Set<string>();
  for (const value of Object.values(jobConfiguration)) {
    for (const match of JSON.stringify(value).matchAll(PLACEHOLDER)) names.add(match[1]!);
  }
  return [...names];
}

/** The `variables.properties` of a template ({} when it has none). */
export function variableSchemas(template: JsonObject | undefined): Readonly<Record<string, JsonObject>> {
  const variables = template?.['variables'];
  const properties = isObject(variables) ? variables['properties'] : undefined;
  if (!isObject(properties)) return {};
  return Object.fromEntries(Object.entries(properties).filter((entry): entry is [string, JsonObject] => isObject(entry[1])));
}

/** `template` with each `overrides` key as the default of that variable (which must exist). */
export function withDefaults(template: JsonObject, overrides: JsonObject): JsonObject {
  if (Object.keys(overrides).length === 0) return template;
  const variables = isObject(template['variables']) ? template['variables'] : {};
  const properties = { ...variableSchemas(template) };
  for (const [name, value] of Object.entries(overrides)) {
    const schema = properties[name];
    if (schema) properties[name] = { ...schema, default: value };
  }
  return { ...template, variables: { ...variables, properties } };
}

const without = (object: JsonObject, key: string): JsonObject => Object.fromEntries(Object.entries(object).filter(([k]) => k !== key));
const same = (a: Json | undefined, b: Json | undefined): boolean => canonicalJson(a) === canonicalJson(b);

/**
 * What differs between two templates, as field changes: `job_variables.<name>` for a variable's
 * default (what most edits are), `base_job_template.variables.properties.<name>` for a variable's
 * schema (without its default), `base_job_template.job_configuration.<key>` per configuration key,
 * and `base_job_template.<key>` for anything else. [] when equal.
 */
export function templateChanges(before: JsonObject, after: JsonObject): FieldChange[] {
  if (same(before, after)) return [];
  const changes: FieldChange[] = [];
  const beforeVars = variableSchemas(before);
  const afterVars = variableSchemas(after);
  const names = [...new Set([...Object.keys(beforeVars), ...Object.keys(afterVars)])].sort();
  for (const name of names) {
    const b = beforeVars[name];
    const a = afterVars[name];
    if (b && a && !same(b['default'], a['default'])) changes.push({ field: `job_variables.${name}`, before: b['default'], after: a['default'] });
    if (!b || !a || !same(without(b, 'default'), without(a, 'default'))) {
      changes.push({ field: `base_job_template.variables.properties.${name}`, before: b, after: a });
    }
  }
  const beforeRest = isObject(before['variables']) ? without(before['variables'], 'properties') : {};
  const afterRest = isObject(after['variables']) ? without(after['variables'], 'properties') : {};
  for (const key of [...new Set([...Object.keys(beforeRest), ...Object.keys(afterRest)])].sort()) {
    if (!same(beforeRest[key], afterRest[key])) changes.push({ field: `base_job_template.variables.${key}`, before: beforeRest[key], after: afterRest[key] });
  }
  const beforeJc = isObject(before['job_configuration']) ? before['job_configuration'] : {};
  const afterJc = isObject(after['job_configuration']) ? after['job_configuration'] : {};
  for (const key of [...new Set([...Object.keys(beforeJc), ...Object.keys(afterJc)])].sort()) {
    if (!same(beforeJc[key], afterJc[key])) changes.push({ field: `base_job_template.job_configuration.${key}`, before: beforeJc[key], after: afterJc[key] });
  }
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => k !== 'variables' && k !== 'job_configuration').sort()) {
    if (!same(before[key], after[key])) changes.push({ field: `base_job_template.${key}`, before: before[key], after: after[key] });
  }
  // Equal by content but not by JSON (cannot happen with canonical comparison), or a shape we do not split: say so whole.
  return changes.length > 0 ? changes : [{ field: 'base_job_template', before, after }];
}

/**
 * The variables' defaults in `live` that differ from `typeDefault`, when the rest of the template is
 * the type's own (so `job_variables` alone says it); undefined when the template differs elsewhere
 * (export writes it whole). A variable whose default was removed cannot be said as an override.
 */
export function overridesOf(live: JsonObject, typeDefault: JsonObject): JsonObject | undefined {
  const liveVars = variableSchemas(live);
  const typeVars = variableSchemas(typeDefault);
  const overrides: JsonObject = {};
  for (const [name, schema] of Object.entries(liveVars)) {
    const base = typeVars[name];
    if (!base) return undefined;
    if (!same(schema['default'], base['default'])) {
      if (!('default' in schema)) return undefined;
      overrides[name] = schema['default']!;
    }
  }
  return same(withDefaults(typeDefault, overrides), live) ? overrides : undefined;
}
