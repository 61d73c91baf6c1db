import rrulePkg from 'rrule';
import { nextCronRuns } from '../manifests/schedule.js';
import type { PlanAction } from '../plan/types.js';
import type { Json, JsonObject } from '../prefect/types.js';

const { RRule, RRuleSet, rrulestr } = rrulePkg;
type RRuleInstance = InstanceType<typeof RRule>;
type RRuleSetInstance = InstanceType<typeof RRuleSet>;

/**
 * A schedule as plans show it: the `before`/`after` of a `schedules[slug]` field change (see
 * `scheduleView` in src/plan/plan.ts). An interval's `anchor_date` is absent when the manifest
 * leaves it to the server.
 */
export interface ScheduleView {
  readonly schedule:
    | { readonly cron: string; readonly timezone: string | null; readonly day_or: boolean }
    | { readonly interval: number; readonly anchor_date?: string; readonly timezone: string | null }
    | { readonly rrule: string; readonly timezone: string | null };
  readonly active: boolean;
  readonly max_scheduled_runs: number | null;
  readonly parameters: JsonObject;
}

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** Where Prefect starts an rrule written without DTSTART (`DEFAULT_ANCHOR_DATE`), as a wall-clock time. */
const RRULE_DEFAULT_START = Date.UTC(2020, 0, 1);
/**
 * Counting stops here: a schedule that fires more often than every ~4 minutes is described as
 * "2500+" runs a week. croner needs ~75µs a run, and a plan may show thousands of schedules.
 */
export const COUNT_CAP = 2500;

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const tzOf = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Reads a `schedules[slug]` change side as a ScheduleView; undefined when it is absent or not shaped like one. */
export function asScheduleView(value: Json | undefined): ScheduleView | undefined {
  if (!isObject(value) || !isObject(value.schedule)) return undefined;
  const s = value.schedule;
  let schedule: ScheduleView['schedule'];
  if (typeof s.cron === 'string') schedule = { cron: s.cron, timezone: tzOf(s.timezone), day_or: s.day_or !== false };
  else if (typeof s.interval === 'number') {
    schedule = typeof s.anchor_date === 'string' && s.anchor_date !== '' ? { interval: s.interval, anchor_date: s.anchor_date, timezone: tzOf(s.timezone) } : { interval: s.interval, timezone: tzOf(s.timezone) };
  } else if (typeof s.rrule === 'string') schedule = { rrule: s.rrule, timezone: tzOf(s.timezone) };
  else return undefined;
  return {
    schedule,
    active: value.active !== false,
    max_scheduled_runs: typeof value.max_scheduled_runs === 'number' ? value.max_scheduled_runs : null,
    parameters: isObject(value.parameters) ? value.parameters : {},
  };
}

/**
 * Whether applying the action makes Prefect delete the deployment's future scheduled runs: a
 * delete, an adoption (a POST upsert recreates the schedules), and an update that PATCHes the
 * deployment or touches a schedule. An update that only replaces triggers writes automations alone
 * and leaves the runs be; a create has none yet.
 */
export function dropsScheduledRuns(action: PlanAction): boolean {
  switch (action.kind) {
    case 'create':
      return false;
    case 'adopt':
      return true;
    case 'delete':
      // An orphaned automation's deployment is gone already, and its runs with it.
      return action.orphanedAutomationOf === undefined;
    case 'update': {
      const ops = action.scheduleOps;
      return Object.keys(action.patch).length > 0 || ops.create.length > 0 || ops.update.length > 0 || ops.delete.length > 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Wall-clock time in a timezone. A "wall" value is epoch milliseconds whose UTC fields are the local
// date and time (what rrule calls a floating date).

const partFormatters = new Map<string, Intl.DateTimeFormat>();
function partFormatter(timezone: string): Intl.DateTimeFormat {
  let f = partFormatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' });
    partFormatters.set(timezone, f);
  }
  return f;
}

/** UTC offset (ms) of a timezone at an instant, straight from Intl. */
function intlOffset(instant: number, timezone: string): number {
  const parts: Record<string, string> = {};
  const whole = Math.floor(instant / SECOND) * SECOND;
  for (const p of partFormatter(timezone).formatToParts(whole)) parts[p.type] = p.value;
  const year = parts.era === 'BC' || parts.era === 'B' ? 1 - Number(parts.year) : Number(parts.year);
  return Date.UTC(year, Number(parts.month) - 1, Number(parts.day), Number(parts.hour) % 24, Number(parts.minute), Number(parts.second)) - whole;
}

/**
 * Offsets are cached per quarter hour: since 1980 every timezone transition happens on a quarter
 * hour of UTC, and asking Intl for each of thousands of run times is what would make counting the
 * runs of a busy schedule slow.
 */
const QUARTER_HOUR = 15 * 60 * SECOND;
const CACHE_FROM = Date.UTC(1980, 0, 1);
const offsetCache = new Map<string, number>();

function offsetAt(instant: number, timezone: string): number {
  if (instant < CACHE_FROM) return intlOffset(instant, timezone);
  const bucket = Math.floor(instant / QUARTER_HOUR) * QUARTER_HOUR;
  const key = `${timezone}|${bucket}`;
  let offset = offsetCache.get(key);
  if (offset === undefined) {
    if (offsetCache.size > 100_000) offsetCache.clear();
    offset = intlOffset(bucket, timezone);
    offsetCache.set(key, offset);
  }
  return offset;
}

/** The local wall-clock time of an instant, as a floating value. */
const toWall = (instant: number, timezone: string): number => instant + offsetAt(instant, timezone);

/**
 * The instant a wall-clock time names. Prefect's libraries disagree at DST changes, so the caller
 * says which reading it needs: `earlier` is how dateutil and croniter read it (the first occurrence
 * of a repeated hour; a skipped time with the summer offset, so 02:30 on a spring-forward night in
 * Berlin is 00:30Z), `later` is how pendulum does (the second occurrence; 02:30 becomes 03:30 summer time).
 */
function fromWall(wall: number, timezone: string, reading: 'earlier' | 'later'): number {
  const candidates = [...new Set([offsetAt(wall - 12 * HOUR, timezone), offsetAt(wall + 12 * HOUR, timezone)])].map((o) => wall - o);
  const valid = candidates.filter((t) => toWall(t, timezone) === wall);
  const pool = valid.length > 0 ? valid : candidates;
  return reading === 'earlier' ? Math.min(...pool) : Math.max(...pool);
}

// ---------------------------------------------------------------------------------------------
// Run times, computed the way Prefect's scheduler computes them (prefect/server/schemas/schedules.py
// of the pinned Prefect, checked against it at DST changes in both hemispheres).

/** Candidate run times in the order Prefect generates them; `runsFrom` filters and de-duplicates them. */
function* candidateRuns(view: ScheduleView, start: number, timezone: string): Generator<number, void, undefined> {
  const spec = view.schedule;
  if ('cron' in spec) {
    // Prefect runs croniter on the naive local time from (start rounded up to the second) - 1s,
    // so a run exactly at `start` counts, and turns each local time into an instant.
    let cursor = toWall(Math.ceil(start / SECOND) * SECOND, timezone) - SECOND;
    for (;;) {
      const batch = nextCronRuns(spec.cron, 'UTC', spec.day_or, new Date(cursor), 64);
      if (batch.length === 0) return;
      for (const wall of batch) yield fromWall(wall.getTime(), timezone, 'earlier');
      cursor = batch[batch.length - 1]!.getTime();
    }
  }
  if ('interval' in spec) {
    const step = spec.interval * SECOND;
    if (!(step > 0) || !Number.isFinite(step)) throw new Error(`interval must be a positive number of seconds, got ${spec.interval}`);
    // A naive anchor is read as UTC, as the planner's canonical form does; no anchor means the
    // server picks "now".
    const text = spec.anchor_date?.trim();
    const anchor = text === undefined ? start : Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`);
    if (Number.isNaN(anchor)) throw new Error(`anchor_date "${text}" is not a date-time`);
    // Intervals of a day or more keep the local clock time across DST changes (pendulum adds
    // calendar days); shorter ones are exact durations. The first jump is exact either way.
    const calendar = spec.interval >= 86400;
    const advance = (t: number): number => (calendar ? fromWall(toWall(t, timezone) + step, timezone, 'later') : t + step);
    let next = anchor + step * Math.trunc((start - anchor) / step);
    while (next < start) next = advance(next);
    for (;;) {
      yield next;
      const following = advance(next);
      next = following > next ? following : next + step;
    }
  }
  yield* rruleCandidates(spec.rrule, timezone, start);
}

/**
 * Prefect parses the rule with dateutil, then re-labels DTSTART and UNTIL with the schedule's
 * timezone, keeping their wall-clock values. rrule.js converts through the machine's own timezone
 * when a TZID is set, so the rule is rebuilt without one and evaluated in floating (wall-clock)
 * time, in chunks; each result is then read as an instant in the schedule's timezone.
 */
function* rruleCandidates(rule: string, timezone: string, start: number): Generator<number, void, undefined> {
  const parsed = rrulestr(rule, { forceset: true }) as RRuleSetInstance;
  const startWall = toWall(start, timezone);
  const floating = new RRuleSet();
  for (const r of parsed.rrules()) floating.rrule(floatingRule(r as RRuleInstance, startWall));
  for (const r of parsed.exrules()) floating.exrule(floatingRule(r as RRuleInstance, startWall));
  for (const d of parsed.rdates()) floating.rdate(d);
  for (const d of parsed.exdates()) floating.exdate(d);

  // Three hours of local time before `start` cover any DST jump; results come in growing chunks,
  // each `between` call walking from the (moved) DTSTART, up to 50 years ahead.
  let lower = startWall - 3 * HOUR;
  const horizon = new Date(startWall + 50 * 366 * DAY);
  for (let chunk = 64; ; chunk = Math.min(chunk * 4, 4096)) {
    const batch = floating.between(new Date(lower), horizon, true, (_date, length) => length < chunk);
    for (const d of batch) yield fromWall(d.getTime(), timezone, 'earlier');
    if (batch.length < chunk) return;
    lower = batch[batch.length - 1]!.getTime() + 1;
  }
}

/**
 * Run times at or after `from`, in the order Prefect generates them. Like Prefect, it drops a run
 * whose local time was already produced (Python compares times of one zone by their wall clock,
 * so an hourly schedule loses one run in the repeated hour of a DST change).
 */
function* runsFrom(view: ScheduleView, from: Date): Generator<number, void, undefined> {
  const timezone = view.schedule.timezone ?? 'UTC';
  const start = from.getTime();
  const seen = new Set<number>();
  for (const t of candidateRuns(view, start, timezone)) {
    if (t < start) continue;
    const wall = toWall(t, timezone);
    if (seen.has(wall)) continue;
    seen.add(wall);
    yield t;
  }
}

/**
 * The rule without TZID, with Prefect's default start when it has no DTSTART. Rules of fixed-length
 * periods and no COUNT start at the last whole period before the first local time of interest,
 * which yields the same runs without walking every occurrence since 2020.
 */
function floatingRule(r: RRuleInstance, startWall: number): RRuleInstance {
  const orig = r.origOptions;
  let dtstart = orig.dtstart ? orig.dtstart.getTime() : RRULE_DEFAULT_START;
  const unit = ({ [RRule.WEEKLY]: WEEK, [RRule.DAILY]: DAY, [RRule.HOURLY]: HOUR, [RRule.MINUTELY]: 60 * SECOND, [RRule.SECONDLY]: SECOND } as Record<number, number>)[r.options.freq];
  if (unit !== undefined && !orig.count) {
    const period = unit * (r.options.interval || 1);
    const periods = Math.floor((startWall - 3 * HOUR - dtstart) / period);
    if (periods > 0) dtstart += periods * period;
  }
  return new RRule({ ...orig, dtstart: new Date(dtstart), tzid: null });
}

/**
 * The next `count` run times of a schedule at or after `from` (a run exactly at `from` counts),
 * ascending, as Prefect's scheduler computes them: cron with Prefect's field order (croniter puts
 * seconds sixth) on the local time; intervals from `anchor_date` (from `from` when the server picks
 * the anchor); rrules in the local time of the schedule's timezone from their DTSTART, else from
 * 2020-01-01 00:00. Ignores `active`. Throws when the expression cannot be evaluated.
 */
export function nextRuns(schedule: ScheduleView, from: Date, count: number): Date[] {
  const out: number[] = [];
  if (count <= 0) return [];
  for (const t of runsFrom(schedule, from)) {
    out.push(t);
    if (out.length >= count) break;
  }
  // Prefect sorts what it generated; around a DST change generation order can differ.
  return out.sort((a, b) => a - b).map((t) => new Date(t));
}

/** How many runs fall in [from, until), counting at most `cap` (`capped` when there are more). Ignores `active`. */
export function countRuns(schedule: ScheduleView, from: Date, until: Date, cap = COUNT_CAP): { count: number; capped: boolean } {
  const end = until.getTime();
  const spec = schedule.schedule;
  if ('interval' in spec && spec.interval < 86400) {
    // Exact durations: a one-second interval has 604800 runs a week; do not walk them.
    const first = nextRuns(schedule, from, 1)[0];
    if (first && Math.ceil((end - first.getTime()) / (spec.interval * SECOND)) > cap) return { count: cap, capped: true };
  }
  let count = 0;
  for (const t of runsFrom(schedule, from)) {
    // Generation order is by local time; a day past `end` nothing earlier than `end` can follow.
    if (t >= end + DAY) break;
    if (t >= end) continue;
    if (count === cap) return { count, capped: true };
    count++;
  }
  return { count, capped: false };
}

// ---------------------------------------------------------------------------------------------
// Formatting.

const nameFormatters = new Map<string, Intl.DateTimeFormat>();
/** en-US knows US abbreviations (EST), en-GB European ones (CET, BST), en-AU Australian ones (AEST). */
const ZONE_NAME_LOCALES = ['en-US', 'en-GB', 'en-AU', 'en-IN'] as const;

function zoneName(date: Date, timezone: string): string {
  let fallback: string | undefined;
  for (const locale of ZONE_NAME_LOCALES) {
    const key = `${locale}|${timezone}`;
    let f = nameFormatters.get(key);
    if (!f) {
      f = new Intl.DateTimeFormat(locale, { timeZone: timezone, timeZoneName: 'short' });
      nameFormatters.set(key, f);
    }
    const name = f.formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? '';
    fallback ??= name;
    if (name !== '' && !/^(GMT|UTC)[+-−]/.test(name)) return name;
  }
  return fallback || timezone;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `Mon 2026-11-23 06:00 CET`: the run time in the schedule's timezone (UTC when null); seconds only when not zero. */
export function formatRun(date: Date, timezone: string | null): string {
  const zone = timezone ?? 'UTC';
  const wall = new Date(toWall(date.getTime(), zone));
  const seconds = wall.getUTCSeconds() ? `:${pad(wall.getUTCSeconds())}` : '';
  const day = `${WEEKDAYS[wall.getUTCDay()]} ${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}`;
  return `${day} ${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}${seconds} ${zoneName(date, zone)}`;
}

interface Side {
  readonly runs: string;
  readonly week: string;
}

/** Results by schedule, time and count: a mass change repeats the same few schedules many times. */
const sideCache = new Map<string, Side>();

function describeSide(view: ScheduleView, now: Date, count: number): Side {
  if (!view.active) return { runs: 'inactive', week: '0' };
  const key = JSON.stringify([view.schedule, now.getTime(), count]);
  let side = sideCache.get(key);
  if (!side) {
    if (sideCache.size >= 1000) sideCache.clear();
    side = computeSide(view, now, count);
    sideCache.set(key, side);
  }
  return side;
}

function computeSide(view: ScheduleView, now: Date, count: number): Side {
  try {
    const runs = nextRuns(view, now, count);
    const week = countRuns(view, now, new Date(now.getTime() + WEEK));
    return {
      runs: runs.length > 0 ? runs.map((d) => formatRun(d, view.schedule.timezone)).join(', ') : 'none',
      week: week.capped ? `${week.count}+` : String(week.count),
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { runs: `cannot be computed (${reason})`, week: '?' };
  }
}

/**
 * What a schedule change means in run times: the next `count` runs before and after (only the
 * side that exists for an added or removed schedule; `inactive` for an inactive one), and how many
 * runs the next 7 days hold before and after. Pure: `now` is the reference time.
 */
export function describeScheduleChange(before: ScheduleView | undefined, after: ScheduleView | undefined, now: Date, count = 3): string[] {
  const b = before ? describeSide(before, now, count) : undefined;
  const a = after ? describeSide(after, now, count) : undefined;
  if (b && a) {
    if (b.runs === a.runs && b.week === a.week) return [`next runs: ${a.runs} (unchanged)`, `runs in the next 7 days: ${a.week} (unchanged)`];
    return [`next runs before: ${b.runs}`, `next runs after: ${a.runs}`, `runs in the next 7 days: ${b.week} -> ${a.week}`];
  }
  if (a) return [`next runs after: ${a.runs}`, `runs in the next 7 days after: ${a.week} (new schedule)`];
  if (b) return [`next runs before: ${b.runs}`, `runs in the next 7 days before: ${b.week} (schedule removed)`];
  return [];
}
