/**
 * Layering of defaults, environment defaults, the deployment and its environment override.
 * Maps merge deeply; `tags` are added together (a team tag from defaults plus the deployment's);
 * every other value, lists included, is replaced by the later layer.
 */
export function mergeLayers(layers: readonly unknown[]): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (layer && typeof layer === 'object' && !Array.isArray(layer)) out = mergeInto(out, layer as Record<string, unknown>, true);
  }
  return out;
}

function mergeInto(base: Record<string, unknown>, over: Record<string, unknown>, topLevel: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key];
    if (topLevel && key === 'tags' && Array.isArray(prior) && Array.isArray(value)) {
      out[key] = [...new Set([...prior, ...value])];
    } else if (isPlainObject(prior) && isPlainObject(value)) {
      out[key] = mergeInto(prior, value, false);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
