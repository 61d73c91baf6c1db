import { mapEntries, shareUnchanged } from './share.js';

/** Keys whose values are never shown: in job variables, parameters, env maps, pull steps. */
const SENSITIVE_KEY = /(secret|token|password|passwd|pwd|api[_-]?key|apikey|credential|private[_-]?key|auth|access[_-]?key|signature|dsn|connection[_-]?string)/i;

export const REDACTED = '(sensitive)';

/** Answers by key: the same few keys come back for every deployment of a plan. */
const sensitiveKeys = new Map<string, boolean>();

export const isSensitiveKey = (key: string): boolean => {
  let sensitive = sensitiveKeys.get(key);
  if (sensitive === undefined) {
    if (sensitiveKeys.size >= 10_000) sensitiveKeys.clear();
    sensitiveKeys.set(key, (sensitive = SENSITIVE_KEY.test(key)));
  }
  return sensitive;
};

/** What a known secret becomes wherever it would be shown. */
export const SECRET_PLACEHOLDER = '[REDACTED]';

/** What the password of a URL (`postgresql://user:***@host/db`) becomes. */
export const URL_PASSWORD_PLACEHOLDER = '***';

/**
 * `scheme://user:password@`: the password is what follows the first `:` of the authority up to its
 * last `@`. It stops at whitespace, a path, query or fragment, and at quotes and backslashes, so it
 * never runs across the end of a JSON string when scrubbing serialised data.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"'\\]*):([^\s/?#"\\]*)@/gi;

/** `text` with the password of every URL's userinfo replaced: `postgresql://user:***@host/db`, any scheme. */
export function redactUrlPasswords(text: string): string {
  return text.replace(URL_USERINFO, (whole, head: string, password: string) => (password === '' || password === URL_PASSWORD_PLACEHOLDER ? whole : `${head}:${URL_PASSWORD_PLACEHOLDER}@`));
}

/**
 * `text` with every occurrence of a known secret (4 characters or more) replaced, and every URL
 * password blanked. The one text scrubber: renderers, the logger, error messages and server error
 * bodies all go through it.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return scrubberFor(secrets)(text);
}

/** {@link scrubSecrets} for many texts with the same secrets: prepared once. */
function scrubberFor(secrets: readonly string[]): (text: string) => string {
  // Longest first, so a secret that contains another is replaced whole.
  const known = secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(SECRET_PLACEHOLDER);
    return out.includes('://') ? redactUrlPasswords(out) : out;
  };
}

/** Whether the value under `key` is hidden whole: any value of a sensitive key but null and booleans (a flag such as `auth: false` says nothing). */
const hidesValue = (key: string | undefined, v: unknown): boolean => key !== undefined && isSensitiveKey(key) && v !== null && v !== undefined && typeof v !== 'boolean';

/**
 * A copy of `value` with the values of sensitive-looking keys replaced (scalars, lists and mappings
 * alike), URL passwords blanked, and every occurrence of a known secret (API key, auth string)
 * blanked. Renderers call this on everything they show.
 */
export function redact<T>(value: T, secrets: readonly string[] = []): T {
  const scrub = scrubberFor(secrets);
  const visit = (v: unknown, key: string | undefined): unknown => {
    if (hidesValue(key, v)) return REDACTED;
    if (typeof v === 'string') return scrub(v);
    // Unchanged arrays and plain objects are shared, not copied (see shareUnchanged).
    if (Array.isArray(v)) return shareUnchanged(v, (item) => visit(item, undefined));
    if (v && typeof v === 'object') {
      const record = v as Record<string, unknown>;
      // A workspace action of a sensitive object (a variable with `sensitive: true`): the value it writes is never shown.
      if (record.sensitive === true && isPlainRecord(record.body) && record.body.value !== undefined) {
        return mapEntries({ ...record, body: { ...record.body, value: REDACTED } }, (k, child) => visit(child, k));
      }
      // A JSON Patch operation names its field in `path`: `{op, path: '/env/API_TOKEN', value}`.
      const patchKey = typeof record.path === 'string' && 'op' in record ? record.path.split('/').at(-1) : undefined;
      return mapEntries(record, (k, child) => visit(child, k === 'value' && patchKey !== undefined ? patchKey : k));
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

/**
 * A text that may be JSON (a server's error body) with the same redaction as any value shown: when
 * it parses, values of sensitive keys are hidden; in any case URL passwords and known secrets are.
 * Keeps the text's own shape otherwise.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed !== null && typeof parsed === 'object') return JSON.stringify(redact(parsed, secrets));
  } catch {
    // not JSON: scrub the text as it is
  }
  return scrubSecrets(text, secrets);
}

const isPlainRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Every text `redact` would hide in `value`: the strings under sensitive keys (at any depth) and
 * URL passwords. A server that echoes one of them back in an error message, where no key says it
 * is sensitive, is scrubbed with these (see {@link scrubSecrets}).
 */
export function hiddenValues(value: unknown): string[] {
  const found = new Set<string>();
  const collect = (v: unknown): void => {
    if (typeof v === 'string' || typeof v === 'number') found.add(String(v));
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
  };
  const visit = (v: unknown, key: string | undefined): void => {
    if (hidesValue(key, v)) collect(v);
    else if (typeof v === 'string') for (const m of v.matchAll(URL_USERINFO)) if (m[2]) found.add(decodeURIComponentSafe(m[2]));
    if (Array.isArray(v)) v.forEach((item) => visit(item, undefined));
    else if (v && typeof v === 'object') {
      const record = v as Record<string, unknown>;
      const patchKey = typeof record.path === 'string' && 'op' in record ? record.path.split('/').at(-1) : undefined;
      for (const [k, child] of Object.entries(record)) visit(child, k === 'value' && patchKey !== undefined ? patchKey : k);
    }
  };
  visit(value, undefined);
  return [...found].filter((s) => s.length >= 4);
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
