import { InvalidArgumentError } from 'commander';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Parses a duration flag: `500ms`, `90s`, `5m`, `1h`, or a bare number of seconds. Anything else,
 * and zero, is a usage error.
 */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[(match[2] ?? 's') as keyof typeof UNIT_MS] : Number.NaN;
  if (!Number.isFinite(ms) || ms < 1) throw new InvalidArgumentError(`expected a duration such as 90s, 5m or 500ms, got "${value}"`);
  return Math.round(ms);
}
