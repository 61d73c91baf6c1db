/**
 * Answers about a Python source, remembered by the source's content and a key (a function name):
 * many deployments share one flow file, and each used to scan or parse it anew, which made
 * validation and planning grow with deployments x file size. Keyed by the content itself, so an
 * edited file is read again. Each cache is dropped whole when it holds more than `limit` sources
 * (a long-lived process: the Action, the tests).
 *
 * Results are deeply frozen and shared by every caller: nobody can change what another one gets
 * (a write throws), and callers that cache by object identity (the validator cache) hit.
 */
export interface SourceMemo<T> {
  (source: string, key: string, compute: () => T): T;
}

export function sourceMemo<T>(limit = 256): SourceMemo<T> {
  const cache = new Map<string, Map<string, T>>();
  return (source, key, compute) => {
    let byKey = cache.get(source);
    if (!byKey) {
      if (cache.size >= limit) cache.clear();
      cache.set(source, (byKey = new Map()));
    }
    if (byKey.has(key)) return byKey.get(key) as T;
    const result = deepFreeze(compute());
    byKey.set(key, result);
    return result;
  };
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
