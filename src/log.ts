import pino, { type Logger } from 'pino';
import { escapeControl, jsonSafe } from './render/escape.js';
import { redact, SECRET_PLACEHOLDER, scrubSecrets } from './render/redact.js';

export type { Logger };

export type LogFormat = 'text' | 'json';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Paths pino blanks out wherever they appear in a log object. */
const REDACT_PATHS = [
  'apiKey',
  'authString',
  'token',
  'authorization',
  'headers.authorization',
  '*.apiKey',
  '*.authString',
  '*.token',
  '*.authorization',
  '*.headers.authorization',
];

/**
 * Diagnostics go to stderr (the plan and results own stdout). Credentials are redacted by path,
 * and every string value equal to a known secret is replaced as well, so a secret that slips into
 * a message object by another name still does not leak.
 */
export function createLogger(
  options: { level?: LogLevel; format?: LogFormat; secrets?: readonly string[]; write?: (line: string) => void } = {},
): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const scrub = (value: string): string => scrubSecrets(value, secrets);
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const base = {
    level: options.level ?? 'warn',
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: SECRET_PLACEHOLDER },
    formatters: {
      log(object: Record<string, unknown>) {
        // The renderers' redaction: values of sensitive keys, URL passwords and known secrets,
        // always (a URL password needs no known credential to be hidden).
        return redact(object, secrets);
      },
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? scrub(a) : a)));
      },
    },
  };
  if (options.format === 'json') return pino(base, { write: (line: string) => write(jsonSafe(line)) });
  // A compact human format without pulling in pino-pretty's worker transport.
  return pino(
    {
      ...base,
      timestamp: false,
      formatters: {
        ...base.formatters,
        level: (label: string) => ({ level: label }),
      },
    },
    {
      write(line: string) {
        const record = JSON.parse(line) as Record<string, unknown>;
        const { level, msg, ...rest } = record;
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
        write(`${String(level)}: ${escapeControl(`${String(msg)}${extra}`)}\n`);
      },
    },
  );
}

/** A logger that drops everything, for tests and pure callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
