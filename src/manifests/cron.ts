/**
 * Cron expressions as Prefect reads them. Prefect validates `CronSchedule.cron` with its vendored
 * croniter (`croniter.is_valid`, then it refuses fields that are only `R` or `H`), so a team's
 * `0/15 * * * *` is stored although strict cron parsers reject it. This is a port of croniter's
 * `expand` (prefect/_vendor/croniter/croniter.py, Prefect 3.8): the same grammar, the same range
 * rules (including its quirks per field count), the same errors; checked against Prefect's own
 * `CronSchedule` by test/integration/cron-conformance.test.ts. The expansion also gives a plain
 * pattern any cron library can run, for previews.
 */

const MINUTE = 0;
const HOUR = 1;
const DAY = 2;
const MONTH = 3;
const DOW = 4;
const SECOND = 5;
const YEAR = 6;

const RANGES: readonly (readonly [number, number])[] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 6], [0, 59], [1970, 2099]];
const LEN_MEANS_ALL = [60, 24, 31, 12, 7, 60, 130];
const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const DAYS_OF_WEEK: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const ALPHACONV: readonly Readonly<Record<string, number | string>>[] = [{}, {}, { l: 'l' }, MONTHS, DAYS_OF_WEEK, {}, {}];
const LOWMAP: readonly Readonly<Record<number, number>>[] = [{}, {}, { 0: 1 }, { 0: 1 }, { 7: 0 }, {}, {}];

const ALIASES: Readonly<Record<string, string>> = {
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

const W = Object.keys(DAYS_OF_WEEK).join('|');
const M = Object.keys(MONTHS).join('|');
const SPECIAL_DOW = new RegExp(`^(?<pre>((?<he>((${W})(-(${W}))?)|((${M})(-(${M}))?)|\\w+)#)|l)(?<last>\\d+)$`);
const STEP_SEARCH = /^([^-]+)-([^-/]+)(\/(\d+))?$/;
const ONLY_INT = /^\d+$/;
const STAR_OR_INT = /^(\d+|\*)$/;
const HASH_EXPRESSION = /^(?<type>h|r)(\((?<begin>\d+)-(?<end>\d+)\))?(\/(?<divisor>\d+))?$/;

class CronError extends Error {}

type Value = number | string;

export interface ExpandedCron {
  /** Allowed values per field (minute, hour, day, month, weekday[, second[, year]]); `['*']` for all. */
  readonly fields: readonly (readonly Value[])[];
  /** Weekday -> which occurrences in the month (`2#3` -> 2: {3}; `l5` -> 5: {'l'}). */
  readonly nthWeekday: ReadonlyMap<Value, ReadonlySet<Value>>;
}

function valueAlias(value: Value, field: number, length: number): Value {
  if (typeof value !== 'number' || !(value in LOWMAP[field]!)) return value;
  const keep =
    ((field === DAY || field === MONTH) && length === 5) ||
    ((field === MONTH || field === DOW) && length === 6) ||
    ((field === DAY || field === MONTH || field === DOW) && length === 7);
  return keep ? value : LOWMAP[field]![value]!;
}

function alphaconv(field: number, key: string, expressions: readonly string[]): Value {
  const found = ALPHACONV[field]![key];
  if (found === undefined) throw new CronError(`"${key}" is not a valid value in the ${FIELD_NAMES[field]} field (${expressions.join(' ')})`);
  return found;
}

const FIELD_NAMES = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week', 'second', 'year'];

/** Python's `range(start, stop, step)` for a positive step. */
function pyRange(start: number, stop: number, step: number): number[] {
  if (step === 0) throw new CronError('a step of 0 is not allowed');
  const out: number[] = [];
  for (let i = start; i < stop; i += step) out.push(i);
  return out;
}

/** croniter's hash expander without a hash id: `H` fails, `R` picks a value (the lowest, for checking). */
function expandHash(field: number, expr: string): string {
  const match = HASH_EXPRESSION.exec(expr);
  if (!match?.groups) return expr;
  const { type, begin, end, divisor } = match.groups;
  if (type === 'h') throw new CronError(`hashed expression "${expr}" needs a hash id, which Prefect does not give`);
  if (begin && end && Number(begin) >= Number(end)) throw new CronError('range end must be greater than range begin');
  if (begin && end && divisor) {
    if (Number(divisor) === 0) throw new CronError(`bad expression ${expr}`);
    return `${Number(begin)}-${Number(end)}/${Number(divisor)}`;
  }
  if (begin && end) return String(Number(begin));
  if (divisor) {
    if (Number(divisor) === 0) throw new CronError(`bad expression ${expr}`);
    return `${RANGES[field]![0]}-${RANGES[field]![1]}/${Number(divisor)}`;
  }
  return String(RANGES[field]![0]);
}

/** croniter's `expand`: the allowed values of each field, or throws CronError. */
function expand(expression: string): ExpandedCron {
  let efl = expression.toLowerCase();
  efl = ALIASES[efl] ?? efl;
  const expressions = efl.split(/\s+/).filter(Boolean);
  const length = expressions.length;
  if (length !== 5 && length !== 6 && length !== 7) throw new CronError('exactly 5, 6 or 7 fields are needed');
  const expanded: Value[][] = [];
  const nthWeekday = new Map<Value, Set<Value>>();

  expressions.forEach((original, field) => {
    let expr = expandHash(field, original);
    if (expr.includes('?')) {
      if (expr !== '?') throw new CronError('a question mark cannot be combined with other characters');
      if (field !== DAY && field !== DOW) throw new CronError('a question mark is allowed only in the day-of-month or day-of-week field');
      expr = '*';
    }
    const list: Value[] = expr.split(',');
    const res: Value[] = [];
    while (list.length > 0) {
      let e: Value = list.pop()!;
      let nth: Value | undefined;
      if (field === DOW) {
        const special = SPECIAL_DOW.exec(String(e));
        if (special?.groups) {
          const { he, last } = special.groups;
          if (he) {
            e = he;
            nth = Number(last);
            if (!(nth >= 1 && nth <= 5)) throw new CronError(`invalid day-of-week occurrence "${last}" (1 to 5)`);
          } else if (last) {
            e = last;
            nth = special.groups.pre!;
          }
        }
      }
      const [min, max] = RANGES[field]!;
      let t = String(e).replace(/^\*(\/.+)$/s, `${min}-${max}$1`);
      let m = STEP_SEARCH.exec(t);
      if (!m) {
        t = String(e).replace(/^(.+)\/(.+)$/s, `$1-${max}/$2`);
        m = STEP_SEARCH.exec(t);
      }
      if (m) {
        let low: Value = m[1]!;
        let high: Value = m[2]!;
        const stepText = m[4] ?? '1';
        if (field === DAY && high === 'l') high = '31';
        if (!ONLY_INT.test(low)) low = String(alphaconv(field, low, expressions));
        if (!ONLY_INT.test(high)) high = String(alphaconv(field, high, expressions));
        const step = Number(stepText);
        for (const band of [low, high]) {
          if (!ONLY_INT.test(band)) throw new CronError(`range ${low}-${high} is not valid in the ${FIELD_NAMES[field]} field`);
        }
        const lo = valueAlias(Number(low), field, length) as number;
        const hi = valueAlias(Number(high), field, length) as number;
        if (Math.max(lo, hi) > Math.max(min, max)) throw new CronError(`${Math.max(lo, hi)} is out of range in the ${FIELD_NAMES[field]} field (${min}-${max})`);
        let rng: number[];
        if (lo > hi) {
          const whole = pyRange(min, max + 1, 1);
          rng = pyRange(lo, max + 1, step);
          let toSkip = 0;
          if (rng.length) {
            const lastValue = rng[rng.length - 1]!;
            const alreadySkipped = [...whole].reverse().indexOf(lastValue);
            const position = whole.indexOf(lastValue);
            if (position + step > whole.length && alreadySkipped < step) toSkip = step - alreadySkipped;
          }
          rng = [...rng, ...pyRange(min + toSkip, hi + 1, step)];
        } else if (lo === hi) {
          rng = pyRange(min, max + 1, step);
        } else {
          rng = pyRange(lo, hi + 1, step);
        }
        const items: Value[] = field === DOW && nth !== undefined && nth !== 'l' ? rng.map((item) => `${item}#${nth}`) : rng;
        for (const item of items) if (!list.includes(item)) list.push(item);
      } else {
        if (t.startsWith('-')) throw new CronError('negative numbers are not allowed');
        let value: Value = t;
        if (!STAR_OR_INT.test(t)) value = alphaconv(field, t, expressions);
        if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) value = Number(value);
        value = valueAlias(value, field, length);
        if (value !== '*' && value !== 'l' && (Number(value) < min || Number(value) > max || Number.isNaN(Number(value)))) {
          throw new CronError(`${String(value)} is out of range in the ${FIELD_NAMES[field]} field (${min}-${max})`);
        }
        res.push(value);
        if (field === DOW && nth !== undefined) {
          if (!nthWeekday.has(value)) nthWeekday.set(value, new Set());
          nthWeekday.get(value)!.add(nth);
        }
      }
    }
    let values = [...new Set(res)].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
    if (values.length === LEN_MEANS_ALL[field]) {
      const keepList = (field === DAY && !expressions[DOW]!.includes('*')) || (field === DOW && !expressions[DAY]!.includes('*'));
      if (!keepList) values = ['*'];
    }
    expanded.push(values.length === 1 && values[0] === '*' ? ['*'] : values);
  });

  if (nthWeekday.size > 0) {
    const dow = new Set(expanded[DOW]);
    const literal = [...dow].filter((v) => !nthWeekday.has(v) && v !== '*');
    if (literal.length > 0 && dow.size !== LEN_MEANS_ALL[DOW]) {
      throw new CronError('the day-of-week field cannot mix plain weekdays with nth-weekday (#) values');
    }
  }
  return { fields: expanded, nthWeekday };
}

/** Python's `"{:02}".format(i)` for ints, the string itself otherwise. */
const sortKey = (v: Value): string => (typeof v === 'number' ? String(v).padStart(2, '0') : v);

/**
 * Why Prefect would refuse this cron expression, or undefined when it accepts it: croniter's
 * grammar, and no field that is only `R` or `H` (random and hashed), as Prefect's validator adds.
 */
export function croniterProblem(expression: string): string | undefined {
  try {
    expand(expression);
  } catch (error) {
    if (error instanceof CronError) return error.message;
    throw error;
  }
  if (expression.split(/\s+/).some((f) => ['r', 'h'].includes(f.toLowerCase()))) return 'random and hashed fields (R, H) are not supported by Prefect';
  return undefined;
}

/**
 * The expression as a plain pattern (seconds first, then minute hour day month weekday) with every
 * croniter extension (`0/15`, `R(0-5)`, `?`, names, ranges that wrap) written out as lists, for a
 * strict cron library to compute run times. Undefined when Prefect refuses the expression, or for
 * a year field (previews then use the expression as written).
 */
export function normalisedCronPattern(expression: string): string | undefined {
  if (croniterProblem(expression) !== undefined) return undefined;
  const { fields, nthWeekday } = expand(expression);
  if (fields[YEAR] && !(fields[YEAR].length === 1 && fields[YEAR][0] === '*')) return undefined;
  const list = (values: readonly Value[]): string => values.map((v) => (v === 'l' ? 'L' : String(v))).join(',');
  const dow = fields[DOW]!.map((v) => {
    const nth = nthWeekday.get(v);
    if (!nth || v === '*') return String(v);
    return [...nth].map((n) => (n === 'l' ? `${v}#L` : `${v}#${n}`)).join(',');
  });
  return [list(fields[SECOND] ?? [0]), list(fields[MINUTE]!), list(fields[HOUR]!), list(fields[DAY]!), list(fields[MONTH]!), dow.join(',')].join(' ');
}
