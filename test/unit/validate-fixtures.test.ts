import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

/**
 * The invalid-manifest corpus: one directory per problem under test/fixtures/invalid/, each with
 * exactly one error. For every case the CLI (`validate <dir>`, run in-process with the repository
 * root as working directory and an empty environment) must exit 2 and report that error at the
 * exact file, line and column with the exact message, in JSON and in text.
 */

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = 'test/fixtures/invalid';

interface Expected {
  /** As printed: relative to the repository root. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

interface Case {
  readonly dir: string;
  readonly expected: Expected;
}

interface JsonIssue {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

interface JsonReport {
  valid: boolean;
  errors: number;
  warnings: number;
  issues: JsonIssue[];
}

const row = (dir: string, file: string, line: number, column: number, message: string): Case => ({
  dir,
  expected: { file: `${FIXTURES}/${dir}/${file}`, line, column, message },
});

const CASES: readonly Case[] = [
  row('01-yaml-syntax', 'deployments.yaml', 4, 14, 'YAML syntax error: Nested mappings are not allowed in compact mappings'),
  row('02-duplicate-key', 'deployments.yaml', 5, 1, 'YAML syntax error: Map keys must be unique'),
  row('03-unknown-key-schedule', 'deployments.yaml', 4, 1, 'unknown key "schedule"; did you mean "schedules"?'),
  row('04-unknown-key-workpool', 'deployments.yaml', 3, 1, 'unknown key "workpool"; did you mean "work_pool"?'),
  row('05-work-pool-unknown-key', 'deployments.yaml', 5, 3, 'unknown key "queue"; allowed keys: name, work_queue_name, job_variables'),
  row('06-schedule-unknown-key', 'deployments.yaml', 6, 5, 'unknown key "timezon"; did you mean "timezone"?'),
  row('07-paused-string', 'deployments.yaml', 4, 9, 'paused must be boolean, got string "yes"'),
  row('08-tags-not-list', 'deployments.yaml', 4, 7, 'tags must be a list, got string "etl"'),
  row('09-missing-name', 'deployments.yaml', 1, 1, 'missing required key "name"'),
  row('10-missing-entrypoint', 'deployments.yaml', 1, 1, 'missing required key "entrypoint"'),
  row('11-entrypoint-no-function', 'deployments.yaml', 2, 13, 'entrypoint "flows/etl.py" must have the form path/to/file.py:function_name (or a module path: package.module:function_name)'),
  row('12-entrypoint-function-missing', 'deployments.yaml', 2, 13, 'flows/etl.py has no top-level function "extract", and no import or assignment of it that can be followed statically; define it there, or pass --python to ask your Prefect installation'),
  row('13-entrypoint-file-missing', 'deployments.yaml', 2, 13, 'cannot resolve the flow name: no file for entrypoint "flows/missing.py:etl" in the repository (tried test/fixtures/invalid/13-entrypoint-file-missing/flows/missing.py); fix the entrypoint, or add flow_name'),
  row('15-name-with-slash', 'deployments.yaml', 1, 7, 'deployment name "etl/daily" must not contain / % & < >'),
  row('16-duplicate-across-files', 'b.yaml', 2, 7, 'duplicate deployment "etl/etl-daily": also declared at test/fixtures/invalid/16-duplicate-across-files/a.yaml:1; names must be unique per flow'),
  row('18-schedule-cron-and-interval', 'deployments.yaml', 5, 5, 'a schedule needs exactly one of cron, interval or rrule, found cron and interval'),
  row('19-schedule-no-kind', 'deployments.yaml', 5, 5, 'a schedule needs exactly one of cron, interval or rrule'),
  row('20-cron-four-fields', 'deployments.yaml', 5, 11, 'cron expression "0 6 * *" has 4 fields; Prefect accepts 5 (minute hour day month weekday), 6 (+ seconds) or 7 (+ year)'),
  row('21-cron-random-field', 'deployments.yaml', 5, 11, 'cron expression "R 6 * * *" uses a random/hashed field (R or H), which Prefect rejects'),
  row('22-cron-minute-61', 'deployments.yaml', 5, 11, 'invalid cron expression "61 6 * * *": 61 is out of range in the minute field (0-59)'),
  row('23-cron-alias-reboot', 'deployments.yaml', 5, 11, 'unknown cron alias "@reboot"; use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly'),
  row('24-rrule-invalid', 'deployments.yaml', 5, 12, 'invalid rrule "FREQ=FORTNIGHTLY;BYDAY=MO": unknown FREQ; use YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY or SECONDLY'),
  row('25-timezone-unknown', 'deployments.yaml', 6, 15, 'unknown timezone "Mars/Olympus_Mons"; use an IANA name such as "Europe/Berlin" or "UTC"'),
  row('26-timezone-wrong-case', 'deployments.yaml', 6, 15, 'timezone "europe/berlin" must be written "Europe/Berlin" (IANA names are case-sensitive)'),
  row('27-interval-zero', 'deployments.yaml', 5, 15, 'schedules[0].interval must be > 0, got 0'),
  row('28-interval-negative', 'deployments.yaml', 5, 15, 'schedules[0].interval must be > 0, got -60'),
  row('29-interval-unparsable', 'deployments.yaml', 5, 15, 'interval "ten minutes" is not a number of seconds, an ISO-8601 duration (PT10M) or HH:MM:SS'),
  row('30-anchor-date-on-cron', 'deployments.yaml', 6, 5, 'anchor_date applies only to interval schedules'),
  row('31-day-or-on-interval', 'deployments.yaml', 6, 5, 'day_or applies only to cron schedules'),
  row('32-duplicate-schedule-slugs', 'deployments.yaml', 8, 11, 'schedule slug "morning" is used twice in this deployment (schedules 0 and 1)'),
  row('33-default-slug-collision', 'deployments.yaml', 7, 5, 'schedule slug "cron-1" is used twice in this deployment (schedules 0 and 1); schedule 1 has no slug and gets "cron-1" by default: give it an explicit slug'),
  row('34-concurrency-limit-zero', 'deployments.yaml', 4, 20, 'concurrency_limit must be >= 1, got 0'),
  row('35-collision-strategy-invalid', 'deployments.yaml', 6, 23, 'concurrency_limit.collision_strategy must be one of "ENQUEUE", "CANCEL_NEW", got "QUEUE"'),
  row('36-grace-period-too-short', 'deployments.yaml', 6, 25, 'concurrency_limit.grace_period_seconds must be >= 60, got 30'),
  row('37-parameter-wrong-type', 'deployments.yaml', 5, 6, 'parameter x must be integer, got string "one"'),
  row('38-parameter-not-in-schema', 'deployments.yaml', 6, 3, 'parameter "y" is not in parameter_openapi_schema (known: x); the flow would reject it'),
  row('39-schedule-parameters-wrong-type', 'deployments.yaml', 14, 10, 'parameter x must be integer, got string "two"'),
  row('40-config-missing-owner', 'prefect-gitops.yaml', 1, 1, 'missing required key "owner"'),
  row('41-config-unknown-key', 'prefect-gitops.yaml', 2, 1, 'unknown key "default"; did you mean "defaults"?'),
  row('42-config-defaults-wrong-type', 'prefect-gitops.yaml', 3, 11, 'defaults.paused must be boolean, got string "no"'),
  row('43-unknown-environment', 'deployments.yaml', 5, 23, 'unknown environment "staging"; the config defines: dev, prod'),
  row('44-unknown-override-environment', 'deployments.yaml', 6, 5, 'unknown environment "production"; the config defines: dev, prod'),
  row('45-env-variable-unset', 'deployments.yaml', 4, 10, `environment variable FIXTURE_UNSET_VERSION is not set (used as {{ env.FIXTURE_UNSET_VERSION }}); set it, or give a default: {{ env.FIXTURE_UNSET_VERSION | default('...') }}`),
  row('46-no-config', 'prefect-gitops.yaml', 0, 0, 'no prefect-gitops.yaml in the manifest directory; create one with at least `owner: <id>` (the ownership id that scopes pruning)'),
  row('47-document-is-a-list', 'deployments.yaml', 1, 1, 'a manifest document must be a mapping describing one deployment (name, entrypoint, ...); if this file is not a manifest, list it under `ignore:` in prefect-gitops.yaml (or in .gitopsignore)'),
  row('48-pull-step-two-keys', 'deployments.yaml', 5, 5, 'pull[0] a step must have exactly one key, the step function, e.g. `prefect.deployments.steps.git_clone: {repository: ...}`'),
  row('49-deployments-wrapper', 'deployments.yaml', 1, 1, 'a manifest document describes one deployment; move each entry of `deployments:` into its own document (separate them with `---`)'),
  row('50-override-contains-gitops', 'deployments.yaml', 7, 7, 'an override cannot contain `gitops`'),
  row('51-schedule-slug-pattern', 'deployments.yaml', 6, 11, 'schedules[0].slug "-morning" does not match the allowed form ^[A-Za-z0-9][A-Za-z0-9_.-]*$'),
  row('52-unknown-git-value', 'deployments.yaml', 4, 10, 'unknown git value {{ git.commit }}; use one of git.sha, git.short_sha, git.branch, git.tag'),
  row('53-environment-defaults-wrong-type', 'prefect-gitops.yaml', 5, 13, 'environments.prod.defaults.tags must be a list, got string "prod"'),
  row('54-override-wrong-type', 'deployments.yaml', 7, 15, 'gitops.overrides.prod.paused must be boolean, got string "no"'),
  row('55-duplicate-tags', 'deployments.yaml', 4, 7, 'tags must not repeat items (items 2 and 0 are the same)'),
  row('56-rrule-without-freq', 'deployments.yaml', 5, 12, 'invalid rrule "BYDAY=MO,WE": FREQ is required, e.g. FREQ=WEEKLY;BYDAY=MO'),
  row('58-anchor-date-invalid', 'deployments.yaml', 6, 18, 'anchor_date "next monday" is not an ISO-8601 date-time such as 2024-01-01T00:00:00Z'),
  row('59-config-environment-unknown-key', 'prefect-gitops.yaml', 4, 5, 'unknown key "owners"; did you mean "owner"?'),
  row('60-config-owner-pattern', 'prefect-gitops.yaml', 1, 8, 'owner "fixtures team" does not match the allowed form ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  row('61-environment-owner-pattern', 'prefect-gitops.yaml', 4, 12, 'environments.prod.owner "fixtures prod" does not match the allowed form ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  row('62-prune-ratio-above-one', 'prefect-gitops.yaml', 4, 21, 'prune.max_delete_ratio must be <= 1, got 1.5'),
  row('63-config-ignore-not-list', 'prefect-gitops.yaml', 2, 9, 'ignore must be a list, got string "drafts/**"'),
  row('64-config-not-a-mapping', 'prefect-gitops.yaml', 1, 1, 'must be a mapping, got a list'),
  row('65-environments-none-defined', 'deployments.yaml', 5, 18, 'unknown environment "prod"; the config defines no environments'),
  row('66-override-concurrency-zero', 'deployments.yaml', 7, 26, 'gitops.overrides.prod.concurrency_limit must be >= 1, got 0'),
  row('67-second-document-invalid', 'deployments.yaml', 8, 9, 'paused must be boolean, got number 1'),
  row('68-schedules-not-list', 'deployments.yaml', 5, 3, 'schedules must be a list, got a mapping'),
  row('69-name-not-string', 'deployments.yaml', 1, 7, 'name must be string, got number 123'),
  row('70-concurrency-missing-limit', 'deployments.yaml', 5, 3, 'concurrency_limit missing required key "limit"'),
  row('71-parameter-schema-invalid', 'deployments.yaml', 5, 3, 'parameter_openapi_schema is not a valid JSON Schema: schema is invalid: data/properties/x/type must be equal to one of the allowed values, data/properties/x/type must be array, data/properties/x/type must match a schema in anyOf'),
  row('72-cron-second-out-of-range', 'deployments.yaml', 5, 11, 'invalid cron expression "0 6 * * * 99": 99 is out of range in the second field (0-59)'),
  row('73-interval-zero-duration', 'deployments.yaml', 5, 15, 'interval must be greater than 0 seconds, got 0'),
  row('74-document-is-a-scalar', 'deployments.yaml', 1, 1, 'a manifest document must be a mapping describing one deployment (name, entrypoint, ...); if this file is not a manifest, list it under `ignore:` in prefect-gitops.yaml (or in .gitopsignore)'),
  // Formerly known validator problems, fixed: each reported where the value was written.
  row('14-dynamic-flow-name', 'deployments.yaml', 2, 13, 'cannot resolve the flow name statically: flows/etl.py:8 sets @flow(name=FLOW_NAME): "os.environ.get("FLOW_NAME", "etl")" is computed at import time; add flow_name, or pass --python to ask your Prefect installation'),
  row('17-duplicate-after-override', 'deployments.yaml', 11, 13, "duplicate deployment \"etl/etl-daily\" in environment \"prod\": also declared at test/fixtures/invalid/17-duplicate-after-override/deployments.yaml:1; names must be unique per flow"),
  row('57-interval-calendar-months', 'deployments.yaml', 5, 15, "interval \"P1M\" uses years or months, which have no fixed length; use days (P30D), hours (PT12H) or seconds, or a cron or rrule schedule for calendar dates"),
  row('75-override-cron-invalid', 'deployments.yaml', 10, 17, "invalid cron expression \"61 5 * * *\": 61 is out of range in the minute field (0-59) in environment \"prod\""),
  row('76-config-defaults-env-unset', 'prefect-gitops.yaml', 3, 12, "environment variable FIXTURE_UNSET_VERSION is not set (used as {{ env.FIXTURE_UNSET_VERSION }}); set it, or give a default: {{ env.FIXTURE_UNSET_VERSION | default('...') }}"),
  row('77-override-env-unset', 'deployments.yaml', 7, 16, "environment variable FIXTURE_UNSET_VERSION is not set (used as {{ env.FIXTURE_UNSET_VERSION }}); set it, or give a default: {{ env.FIXTURE_UNSET_VERSION | default('...') }} in environment \"prod\""),
  row('78-missing-entrypoint-with-environments', 'deployments.yaml', 1, 1, "missing required key \"entrypoint\""),
  row('79-empty-config', 'prefect-gitops.yaml', 1, 1, "test/fixtures/invalid/79-empty-config/prefect-gitops.yaml is empty; it needs at least `owner: <id>` (the ownership id that scopes pruning)"),
  row('80-parameter-additional-properties-false', 'deployments.yaml', 6, 3, "unknown parameter \"y\"; did you mean \"x\"?"),
  row('81-override-parameter-wrong-type', 'deployments.yaml', 13, 12, "parameter x must be integer, got string \"prod\" in environment \"prod\""),
  row('82-override-name-with-slash', 'deployments.yaml', 7, 13, "deployment name \"etl/prod\" must not contain / % & < > in environment \"prod\""),
  row('83-environment-name-pattern', 'prefect-gitops.yaml', 4, 3, "name \"pro d\" is not allowed here: it must match ^[A-Za-z0-9][A-Za-z0-9_-]*$"),
  row('84-replaces-own-slug', 'deployments.yaml', 7, 15, 'schedule 0 replaces its own slug "morning"; replaces names the slug it had before, e.g. replaces: morning with slug: morning-new'),
  row('85-replaces-declared-slug', 'deployments.yaml', 7, 15, 'schedule 0 replaces "morning", which schedule 1 still has; rename that one, or remove replaces'),
  // Hostile input (issue 8, section 4): each a located error, never an internal error.
  row('200-alias-undefined', 'deployments.yaml', 4, 7, 'alias *nothere refers to no anchor: define &nothere before it, in the same document'),
  row('201-merge-key-scalar', 'deployments.yaml', 4, 5, 'the merge key << needs a mapping, an alias of one (<<: *defaults) or a list of them, got number 5'),
  row('202-alias-bomb', 'deployments.yaml', 10, 10, 'aliases expand to more than 100000 values (an alias bomb?); reuse fewer or smaller anchors'),
  row('203-concurrency-limit-inf', 'deployments.yaml', 4, 20, ".inf is not a finite number: JSON has no infinity or NaN (Prefect would store null); use a finite number, or quote it (\".inf\") if it is text"),
  row('204-parameter-nan', 'deployments.yaml', 5, 6, ".nan is not a finite number: JSON has no infinity or NaN (Prefect would store null); use a finite number, or quote it (\".nan\") if it is text"),
  row('205-job-variable-negative-inf', 'deployments.yaml', 6, 13, "-.inf is not a finite number: JSON has no infinity or NaN (Prefect would store null); use a finite number, or quote it (\"-.inf\") if it is text"),
  row('206-interval-inf', 'deployments.yaml', 5, 15, ".inf is not a finite number: JSON has no infinity or NaN (Prefect would store null); use a finite number, or quote it (\".inf\") if it is text"),
  row('207-interval-1e30', 'deployments.yaml', 5, 15, "1e30 is out of range: numbers must lie between -9007199254740991 and 9007199254740991 (2^53 - 1) to be sent exactly; quote it (\"1e30\") if it is text"),
  row('208-parameter-beyond-2-53', 'deployments.yaml', 5, 6, "9007199254740993 is out of range: numbers must lie between -9007199254740991 and 9007199254740991 (2^53 - 1) to be sent exactly; quote it (\"9007199254740993\") if it is text"),
  row('209-utf16-with-bom', 'deployments.yaml', 1, 1, 'the file is not UTF-8: it is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8'),
  row('210-utf16-without-bom', 'deployments.yaml', 1, 2, 'the file is not UTF-8 text: it holds a NUL byte (is it UTF-16?); save it as UTF-8'),
  row('211-invalid-utf8', 'deployments.yaml', 4, 17, 'the file is not UTF-8: byte 0xe9 is not valid UTF-8; save it as UTF-8'),
  row('212-merge-key-list-of-scalars', 'deployments.yaml', 5, 5, 'the merge key << needs a mapping, an alias of one (<<: *defaults) or a list of them, got a list that holds something other than mappings'),
  row('213-interval-too-long', 'deployments.yaml', 5, 15, 'interval must be at most 999999999 days (86399999913600 seconds, the longest duration Prefect stores), got P1000000000D'),
  row('214-env-constructor', 'deployments.yaml', 4, 10, "environment variable constructor is not set (used as {{ env.constructor }}); set it, or give a default: {{ env.constructor | default('...') }}"),
  row('215-entrypoint-outside', 'deployments.yaml', 2, 13, 'entrypoint "../01-yaml-syntax/flows/etl.py:etl" points outside the project (test/fixtures/invalid/215-entrypoint-outside); use a path inside it'),
  row('216-entrypoint-absolute', 'deployments.yaml', 2, 13, 'entrypoint "/etc/outside.py:etl" points outside the project (test/fixtures/invalid/216-entrypoint-absolute); use a path inside it'),
  row('217-entrypoint-symlink-outside', 'deployments.yaml', 2, 13, 'entrypoint "flows/link.py:etl" is a symbolic link to test/fixtures/invalid/01-yaml-syntax/flows/etl.py, outside the project (test/fixtures/invalid/217-entrypoint-symlink-outside); use a path inside it'),
  // Secrets (section 5): a type error under a sensitive key does not quote the value.
  row('218-sensitive-parameter-wrong-type', 'deployments.yaml', 5, 16, 'parameter db_password must be integer, got string (sensitive)'),
  // Control characters (section 4): refused in names, shown escaped in the message.
  row('219-name-control-character', 'deployments.yaml', 1, 7, 'deployment name "etl<U+001B>[2J" contains a control character (U+001B); names, tags, slugs, versions and work pool/queue names must be printable'),
  row('220-tag-c1-control-character', 'deployments.yaml', 4, 12, 'tag "bad<U+009B>31m" contains a control character (U+009B); names, tags, slugs, versions and work pool/queue names must be printable'),
  row('221-work-queue-control-character', 'deployments.yaml', 5, 20, 'work queue name "q<U+000D><U+000A>q" contains a control character (U+000D); names, tags, slugs, versions and work pool/queue names must be printable'),
  row('222-description-escape-sequence', 'deployments.yaml', 4, 14, 'description "line one<U+000A>line two <U+001B>]0;title<U+0007>" contains a control character (U+001B); a description may hold line breaks and tabs, no other control characters'),
  row('223-url-password-in-message', 'deployments.yaml', 5, 15, 'interval "postgresql://app:***@db/x" is not a number of seconds, an ISO-8601 duration (PT10M) or HH:MM:SS'),
];


interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const runs = new Map<string, Promise<Run>>();

/** Runs `prefect-gitops validate <dir> [--format json]` in-process from the repository root; memoised. */
function validate(dir: string, format: 'json' | 'text'): Promise<Run> {
  const key = `${format}:${dir}`;
  let run = runs.get(key);
  if (!run) {
    run = (async () => {
      let stdout = '';
      let stderr = '';
      const code = await main(['validate', dir, ...(format === 'json' ? ['--format', 'json'] : [])], {
        stdout: (text) => {
          stdout += text;
        },
        stderr: (text) => {
          stderr += text;
        },
        env: {},
        cwd: repoRoot,
        isTty: false,
      });
      return { code, stdout, stderr };
    })();
    runs.set(key, run);
  }
  return run;
}

async function report(dir: string): Promise<{ run: Run; report: JsonReport; errors: JsonIssue[] }> {
  const run = await validate(dir, 'json');
  const parsed = JSON.parse(run.stdout) as JsonReport;
  return { run, report: parsed, errors: parsed.issues.filter((i) => i.severity === 'error') };
}

const STACK_FRAME = /^\s{4}at /m;

describe('validate: invalid fixtures', () => {
  it('has a case for every fixture directory, and at least 32 fully asserted cases', () => {
    const dirs = readdirSync(new URL(`../../${FIXTURES}/`, import.meta.url), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    const listed = CASES.map((c) => c.dir).sort();
    expect(listed).toEqual(dirs);
    expect(new Set(listed).size).toBe(listed.length);
    expect(CASES.length).toBeGreaterThanOrEqual(32);
  });

  it.each(CASES)('$dir: exit 2 with exactly the expected error (json)', async ({ dir, expected }) => {
    const { run, report: result, errors } = await report(`${FIXTURES}/${dir}`);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('');
    expect(result.valid).toBe(false);
    expect(result.errors).toBe(1);
    expect(errors).toHaveLength(1);
    const [error] = errors;
    expect({ file: error!.file, line: error!.line, column: error!.column, message: error!.message }).toEqual(expected);
  });

  it.each(CASES)('$dir: the text output has the error line', async ({ dir, expected }) => {
    const run = await validate(`${FIXTURES}/${dir}`, 'text');
    expect(run.code).toBe(2);
    const { errors } = await report(`${FIXTURES}/${dir}`);
    // A problem without a position (line 0: a missing file) is `file: error: ...`.
    const where = expected.line > 0 ? `${expected.file}:${expected.line}:${expected.column}` : expected.file;
    const prefix = `${where}: error: ${expected.message}`;
    // The text form names the field in parentheses when the message does not already mention it.
    const accepted = [prefix, `${prefix} (${errors[0]?.path ?? ''})`];
    const lines = run.stdout.split('\n');
    expect(lines.some((line) => accepted.includes(line)), `no line ${JSON.stringify(prefix)} in:\n${run.stdout}`).toBe(true);
    expect(lines.at(-2)).toMatch(/^1 error(, \d+ warnings?)? in \d+ files?; nothing was sent to Prefect\.$/);
  });

  it('never prints a stack trace, in either format', async () => {
    for (const dir of CASES.map((c) => c.dir)) {
      for (const format of ['json', 'text'] as const) {
        const run = await validate(`${FIXTURES}/${dir}`, format);
        expect(run.stdout + run.stderr, `${dir} (${format})`).not.toMatch(STACK_FRAME);
        expect(run.stdout + run.stderr, `${dir} (${format})`).not.toMatch(/\b(TypeError|ReferenceError|RangeError|InternalError)\b/);
      }
    }
  }, 60_000);
});

describe('validate: the examples project', () => {
  it('is valid: exit 0, no errors', async () => {
    const { run, report: result, errors } = await report('examples');
    expect(run.code).toBe(0);
    expect(result.valid).toBe(true);
    expect(result.errors).toBe(0);
    expect(errors).toEqual([]);
    expect(run.stdout + run.stderr).not.toMatch(STACK_FRAME);
  });
});
