// Durations as people write them in flags and Action inputs: one parser for all of them, so
// `--timeout`, `--request-timeout`, `--lock-timeout` and the Action's inputs agree.

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * `500ms`, `90s`, `5m`, `1h`, `1m30s`, or a bare number of seconds (`90`, `0.5`, `0`); whitespace
 * around it is ignored. Milliseconds, rounded; undefined for anything else (`5 m`, `1d`, `-1s`).
 * Whether zero is allowed is the caller's decision.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) return undefined;
  return Math.round(parts.reduce((total, p) => total + Number(p[1]) * UNIT_MS[p[2]!]!, 0));
}

/** `1m30s`, `45s`, `800ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${s % 60 ? `${s % 60}s` : ''}` : `${s}s`;
}
