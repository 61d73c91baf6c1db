import { redact } from './redact.js';
import { mapEntries, shareUnchanged } from './share.js';

/**
 * Control characters made visible, so that no manifest value and no server value can send a raw
 * escape sequence to a terminal, a log viewer or a rendered comment (ESC [2J clears a screen; the
 * C1 character U+009B acts as ESC [ on some terminals). Pure.
 *
 * A control character is shown as `<U+001B>`: readable, and left alone by JSON, YAML and markdown,
 * so it is never escaped twice whatever renders it next.
 */

/** C0 controls, DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
/** The same, but tab and line feed are kept: multi-line text such as a description. */
const CONTROL_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

const visible = (c: string): string => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`;

/** Whether `text` holds a control character (tab and line feed count too). */
export const hasControlCharacter = (text: string): boolean => /[\u0000-\u001f\u007f-\u009f]/.test(text);

/** The first control character of `text` as `U+001B`, for messages. */
export function firstControlCharacter(text: string): string | undefined {
  const match = /[\u0000-\u001f\u007f-\u009f]/.exec(text);
  return match ? `U+${match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** `text` with every control character shown as `<U+XXXX>`; with `keepLayout`, tabs and line feeds stay. */
export function escapeControl(text: string, options: { keepLayout?: boolean } = {}): string {
  // Most text has none: skip the replace (renderers escape every string of large plans).
  if (!hasControlCharacter(text)) return text;
  return text.replace(options.keepLayout ? CONTROL_BUT_LAYOUT : CONTROL, visible);
}

/** Keys whose values are shown as multi-line text (a field's value before and after): layout stays there. */
const LAYOUT_KEYS = new Set(['before', 'after']);

/**
 * A copy of `value` with every string and every key escaped ({@link escapeControl}). Values under
 * `before`/`after` (field values, shown as YAML or JSON that keeps lines apart) keep tabs and line
 * feeds; everything else is one line and keeps none. Renderers call this on what they show.
 */
export function escapeControlDeep<T>(value: T): T {
  const visit = (v: unknown, keepLayout: boolean): unknown => {
    if (typeof v === 'string') return escapeControl(v, { keepLayout });
    if (Array.isArray(v)) return shareUnchanged(v, (item) => visit(item, keepLayout));
    if (v && typeof v === 'object') return mapEntries(v, (k, child) => visit(child, keepLayout || LAYOUT_KEYS.has(k)), escapeControl);
    return v;
  };
  return visit(value, false) as T;
}


/**
 * JSON text with DEL and C1 controls written as `\u` escapes as well (JSON.stringify leaves them raw;
 * C0 it escapes already). Still the same JSON value.
 */
export function jsonSafe(json: string): string {
  return json.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What a renderer shows of a value: redacted ({@link redact}) and with control characters escaped. */
export function forDisplay<T>(value: T, secrets: readonly string[] = []): T {
  return escapeControlDeep(redact(value, secrets));
}
