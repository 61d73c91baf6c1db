import { Cron } from 'croner';
import rrulePkg from 'rrule';
import { parse as parseDuration } from 'tinyduration';
import { croniterProblem, normalisedCronPattern } from './cron.js';

const { rrulestr } = rrulePkg;

const CRON_ALIASES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/**
 * Converts a cron expression as Prefect (croniter) reads it to croner's field order: croniter puts
 * seconds sixth and the year seventh; croner puts seconds first.
 */
function toCronerPattern(expression: string): string {
  const trimmed = expression.trim();
  if (trimmed.startsWith('@')) return trimmed === '@midnight' ? '@daily' : trimmed;
  const fields = trimmed.split(/\s+/);
  if (fields.length === 6) return [fields[5], ...fields.slice(0, 5)].join(' ');
  if (fields.length === 7) return [fields[5], ...fields.slice(0, 5), fields[6]].join(' ');
  return trimmed;
}

/**
 * Answers by expression: schedules repeat the same few crons, rrules and timezones over many
 * deployments, and each check parses (a timezone check builds an Intl.DateTimeFormat). The
 * answers are pure functions of the text; the caches are dropped whole past a limit.
 */
function memoised(check: (text: string) => string | undefined): (text: string) => string | undefined {
  const answers = new Map<string, string | undefined>();
  return (text) => {
    if (answers.has(text)) return answers.get(text);
    const answer = check(text);
    if (answers.size >= 4096) answers.clear();
    answers.set(text, answer);
    return answer;
  };
}

/** Returns a problem description, or undefined when Prefect would accept the cron expression. */
export const cronProblem = memoised((expression) => cronProblemOf(expression));
/** Returns a problem description, or undefined when the rrule string parses. */
export const rruleProblem = memoised((rule) => rruleProblemOf(rule));
/** Returns a problem description, or undefined for an IANA timezone name. */
export const timezoneProblem = memoised((timezone) => timezoneProblemOf(timezone));

/** Returns a problem description, or undefined when Prefect would accept the cron expression. */
function cronProblemOf(expression: string): string | undefined {
  const trimmed = expression.trim();
  if (trimmed.startsWith('@')) {
    return CRON_ALIASES.has(trimmed.toLowerCase()) ? undefined : `unknown cron alias "${trimmed}"; use one of ${[...CRON_ALIASES].join(', ')}`;
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length < 5 || fields.length > 7) {
    return `cron expression "${trimmed}" has ${fields.length} field${fields.length === 1 ? '' : 's'}; Prefect accepts 5 (minute hour day month weekday), 6 (+ seconds) or 7 (+ year)`;
  }
  if (fields.some((f) => /^[rh]$/i.test(f))) {
    return `cron expression "${trimmed}" uses a random/hashed field (R or H), which Prefect rejects`;
  }
  // Prefect's own rules (croniter's grammar), not a stricter parser's: `0/15 * * * *` is valid there.
  const problem = croniterProblem(trimmed);
  return problem === undefined ? undefined : `invalid cron expression "${trimmed}": ${problem}`;
}

/** Returns a problem description, or undefined when the rrule string parses. */
function rruleProblemOf(rule: string): string | undefined {
  try {
    const parsed = rrulestr(rule, { forceset: false });
    // rrulestr accepts some garbage silently; a rule must at least carry a frequency.
    if (!/FREQ=/i.test(rule)) return `invalid rrule "${rule}": FREQ is required, e.g. FREQ=WEEKLY;BYDAY=MO`;
    void parsed;
    return undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (/^Invalid frequency/.test(reason)) return `invalid rrule "${rule}": unknown FREQ; use YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY or SECONDLY`;
    return `invalid rrule "${rule}": ${reason}`;
  }
}

let zones: Map<string, string> | undefined;
/** Returns a problem description, or undefined for an IANA timezone name. */
function timezoneProblemOf(timezone: string): string | undefined {
  let accepted = true;
  try {
    // Written exactly as ICU spells it: nothing more to check. (Listing every zone, below, costs
    // ~30 ms of a plan's CPU; only other spellings need it.)
    if (new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone === timezone) return undefined;
  } catch {
    accepted = false;
  }
  zones ??= new Map([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC', 'GMT'].map((z) => [z.toLowerCase(), z]));
  const canonical = zones.get(timezone.toLowerCase());
  if (accepted && (canonical === timezone || canonical === undefined)) return undefined;
  if (canonical && canonical !== timezone) return `timezone "${timezone}" must be written "${canonical}" (IANA names are case-sensitive)`;
  return `unknown timezone "${timezone}"; use an IANA name such as "Europe/Berlin" or "UTC"`;
}

/** Interval in seconds from a number, an ISO-8601 duration (`PT10M`) or `HH:MM:SS`; undefined if unreadable. */
export function intervalSeconds(value: number | string): number | undefined {
  if (typeof value === 'number') return value;
  const clock = /^(\d+):([0-5]?\d):([0-5]?\d(?:\.\d+)?)$/.exec(value.trim());
  if (clock) return Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3]);
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  try {
    const d = parseDuration(value.trim());
    if (d.years || d.months) return undefined; // calendar units have no fixed length
    const seconds = (d.weeks ?? 0) * 604800 + (d.days ?? 0) * 86400 + (d.hours ?? 0) * 3600 + (d.minutes ?? 0) * 60 + (d.seconds ?? 0);
    return d.negative ? -seconds : seconds;
  } catch {
    return undefined;
  }
}

/** The next `count` run times of a cron schedule after `from`, for showing what a change means. */
export function nextCronRuns(expression: string, timezone: string | null, dayOr: boolean, from: Date, count: number): Date[] {
  // A plan shows the same few expressions for many schedules, and asks in batches: parse each once.
  const key = `${dayOr ? 'o' : 'a'}${timezone ?? 'UTC'}\u0000${expression}`;
  let cron = crons.get(key);
  if (!cron) {
    if (crons.size >= 1000) crons.clear();
    cronsMade++;
    crons.set(key, (cron = new Cron(normalisedCronPattern(expression) ?? toCronerPattern(expression), { paused: true, timezone: timezone ?? 'UTC', legacyMode: dayOr })));
  }
  return cron.nextRuns(count, from);
}

const crons = new Map<string, Cron>();
let cronsMade = 0;

/** How many Cron objects nextCronRuns has made (to show that one expression is parsed once). */
export const cronParseCount = (): number => cronsMade;
