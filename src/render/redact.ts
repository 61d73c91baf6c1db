/** Keys whose values are never shown: in job variables, parameters, env maps, pull steps. */
const SENSITIVE_KEY = /(secret|token|password|passwd|pwd|api[_-]?key|apikey|credential|private[_-]?key|auth|access[_-]?key|signature|dsn|connection[_-]?string)/i;

export const REDACTED = '(sensitive)';

export const isSensitiveKey = (key: string): boolean => SENSITIVE_KEY.test(key);

/** What a known secret becomes wherever it would be shown. */
export const SECRET_PLACEHOLDER = '[REDACTED]';

/** `text` with every occurrence of a known secret (4 characters or more) replaced. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length >= 4).reduce((t, s) => t.split(s).join(SECRET_PLACEHOLDER), text);
}

/**
 * A copy of `value` with the values of sensitive-looking keys replaced, and every occurrence of a
 * known secret (API key, auth string) blanked. Renderers call this on everything they show.
 */
export function redact<T>(value: T, secrets: readonly string[] = []): T {
  const scrub = (text: string): string => scrubSecrets(text, secrets);
  const visit = (v: unknown, key: string | undefined): unknown => {
    if (key !== undefined && isSensitiveKey(key) && v !== null && typeof v !== 'object' && typeof v !== 'boolean') return REDACTED;
    if (typeof v === 'string') return scrub(v);
    if (Array.isArray(v)) return v.map((item) => visit(item, undefined));
    if (v && typeof v === 'object') {
      const record = v as Record<string, unknown>;
      // A JSON Patch operation names its field in `path`: `{op, path: '/env/API_TOKEN', value}`.
      const patchKey = typeof record.path === 'string' && 'op' in record ? record.path.split('/').at(-1) : undefined;
      return Object.fromEntries(Object.entries(record).map(([k, child]) => [k, visit(child, k === 'value' && patchKey !== undefined ? patchKey : k)]));
    }
    return v;
  };
  return visit(value, undefined) as T;
}

/**
 * The values never to show, from the credentials in use: each one, and the password of a
 * `user:password` auth string on its own (a server may echo it back in another form).
 */
export function collectSecrets(values: readonly (string | undefined)[]): string[] {
  const present = values.filter((v): v is string => Boolean(v?.trim()));
  const passwords = present.filter((v) => v.includes(':')).map((v) => v.slice(v.indexOf(':') + 1)).filter((p) => p.length >= 4);
  return [...new Set([...present, ...passwords])];
}
