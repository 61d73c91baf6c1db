/**
 * Arrays and plain objects (JSON data: plans, results, reports) that need no change are returned as
 * they are, not copied: renderers call these walks on whole plans, and copying every value of ten
 * thousand deployments twice (redact, then escape) was most of rendering's cost. Nothing that
 * renders writes to what it is given.
 */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

/** `items.map(f)`, or `items` itself when `f` changes none of them. */
export function shareUnchanged<T>(items: readonly T[], f: (item: T) => unknown): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as T;
    const mapped = f(item);
    if (out) out.push(mapped);
    else if (mapped !== item || !(i in items)) {
      out = items.slice(0, i);
      out.push(mapped);
    }
  }
  return out ?? (items as unknown[]);
}

/**
 * `Object.fromEntries(Object.entries(record).map(([k, v]) => [mapKey(k), f(k, v)]))`, or `record`
 * itself when it is a plain object and nothing changes. Allocates nothing in that case.
 */
export function mapEntries(record: object, f: (key: string, value: unknown) => unknown, mapKey: (key: string) => string = (k) => k): Record<string, unknown> {
  const source = record as Record<string, unknown>;
  const keys = Object.keys(source);
  let out: [string, unknown][] | undefined = isPlainObject(source) ? undefined : [];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const value = source[k];
    const mapped = f(k, value);
    const key = mapKey(k);
    // Everything before the first change was kept as it is.
    if (!out && (mapped !== value || key !== k)) out = keys.slice(0, i).map((p) => [p, source[p]]);
    if (out) out.push([key, mapped]);
  }
  return out ? Object.fromEntries(out) : source;
}
