import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import { describe, expect, it } from 'vitest';
import { desiredDeployment, liveDeployment, liveSchedule } from '../helpers/fixtures.js';
import type { ApplyResult } from '../../src/apply/apply.js';
import type { DeploymentManifest, DesiredDeployment } from '../../src/manifests/types.js';
import { OWNER_LABEL, ownerTag } from '../../src/plan/ownership.js';
import { plan, type LiveState } from '../../src/plan/plan.js';
import type { Plan, PlanAction, PlanOptions } from '../../src/plan/types.js';
import type { LiveDeployment, LiveSchedule } from '../../src/prefect/types.js';
import { COMMENT_MARKER, renderApplySummary, renderPlanComment, renderPlanSummary } from '../../src/render/markdown.js';
import { countRuns, describeScheduleChange, dropsScheduledRuns, formatRun, nextRuns, type ScheduleView } from '../../src/render/schedule-meaning.js';
import { code, diffRows, htmlCode, isEmpty, issueMessage, PAST_TENSE, utf8Bytes } from '../../src/render/shared.js';
import { formatIssue, type Issue } from '../../src/validate/issue.js';

// ---------------------------------------------------------------------------------------------
// Fixtures: plain data through the real planner, as test/unit/plan.test.ts builds them.

const OWNER = 'team-a';
const options: PlanOptions = {
  owner: OWNER,
  environment: 'prod',
  serverVersion: '3.8.8',
  prune: true,
  maxDeletes: 10_000,
  maxDeleteRatio: 1,
  allowMassDelete: false,
  adoptAll: false,
  features: NEWEST_CAPABILITIES,
};

const desired = (manifest: Partial<DeploymentManifest> & { name: string }, extra: Partial<DesiredDeployment> = {}): DesiredDeployment =>
  desiredDeployment(manifest, { declaredAt: { file: `deployments/${manifest.name}.yaml`, line: 3, column: 1 }, ...extra });
const live = (name: string, overrides: Partial<LiveDeployment> = {}, owner: string | null = OWNER): LiveDeployment =>
  liveDeployment(name, { labels: owner ? { [OWNER_LABEL]: owner } : {}, ...overrides }, owner);

const schedule = (slug: string, spec: LiveSchedule['schedule'], extra: Partial<LiveSchedule> = {}): LiveSchedule => liveSchedule(slug, spec, extra);

const state = (...deployments: LiveDeployment[]): LiveState => ({ deployments: new Map(deployments.map((d) => [`etl/${d.name}`, d])) });

const API_TOKEN_VALUE = 'tok-live-9f8e7d6c5b4a';
const KNOWN_SECRET = 'hunter2-very-secret';
/** Friday 2026-10-23 12:00 UTC: Berlin leaves summer time on Sunday 2026-10-25. */
const NOW = new Date('2026-10-23T12:00:00Z');

/** One of everything: update (fields, schedule, secret env), create, adopt, delete, conflict, orphan-free. */
function mixedPlan(): Plan {
  return plan(
    [
      desired({
        name: 'daily',
        description: `refreshed with ${KNOWN_SECRET}`,
        work_pool: { name: 'pool', job_variables: { image: 'acme/etl:2', env: { API_TOKEN: API_TOKEN_VALUE, MODE: 'full' } } },
        schedules: [{ cron: '0 6 * * 1-5', timezone: 'Europe/Berlin', slug: 'morning' }],
      }),
      desired({ name: 'fresh', tags: ['new'], schedules: [{ interval: 3600, anchor_date: '2024-01-01T00:00:00Z', slug: 'hourly' }] }),
      desired({ name: 'legacy' }, { adopt: true }),
      desired({ name: 'theirs' }),
      desired({ name: 'steady' }),
    ],
    state(
      live('daily', {
        description: 'old',
        job_variables: { image: 'acme/etl:1', env: { API_TOKEN: 'tok-old-value-000', MODE: 'full' } },
        schedules: [schedule('morning', { cron: '0 6 * * *', timezone: 'Europe/Berlin', day_or: true })],
      }),
      live('legacy', { description: 'made by prefect deploy' }, null),
      live('theirs', {}, 'team-b'),
      live('gone'),
      live('steady'),
    ),
    options,
  );
}

/** `n` owned deployments whose description changed. */
function bigPlan(n: number): Plan {
  const names = Array.from({ length: n }, (_, i) => `d${String(i).padStart(4, '0')}`);
  return plan(
    names.map((name) => desired({ name, description: `new description of ${name}`, tags: ['etl', 'nightly'] })),
    state(...names.map((name) => live(name, { description: `old description of ${name}`, tags: [ownerTag(OWNER)], parameters: { source: `data/${name}.json`, rows: 1000 } }))),
    options,
  );
}

const view = (spec: ScheduleView['schedule'], active = true): ScheduleView => ({ schedule: spec, active, max_scheduled_runs: null, parameters: {} });
const iso = (dates: readonly Date[]): string[] => dates.map((d) => d.toISOString().replace('.000Z', 'Z'));

/** The lines of the `> [!KIND]` callouts in a markdown text. */
function callout(markdown: string, kind: 'CAUTION' | 'WARNING' | 'NOTE'): string[] {
  const blocks = markdown.split('\n\n').filter((b) => b.startsWith(`> [!${kind}]`));
  return blocks.flatMap((b) => b.split('\n'));
}

// ---------------------------------------------------------------------------------------------

describe('schedule meaning: next runs as Prefect computes them', () => {
  // Expected instants were produced by Prefect 3.8.8's own schedule classes (get_dates) for the
  // same inputs, so these pin behaviour to the server's, DST quirks included.
  it('cron in Europe/Berlin keeps 06:00 local across the end of summer time', () => {
    const runs = nextRuns(view({ cron: '0 6 * * *', timezone: 'Europe/Berlin', day_or: true }), NOW, 4);
    expect(iso(runs)).toEqual(['2026-10-24T04:00:00Z', '2026-10-25T05:00:00Z', '2026-10-26T05:00:00Z', '2026-10-27T05:00:00Z']);
    expect(runs.map((d) => formatRun(d, 'Europe/Berlin'))).toEqual(['Sat 2026-10-24 06:00 CEST', 'Sun 2026-10-25 06:00 CET', 'Mon 2026-10-26 06:00 CET', 'Tue 2026-10-27 06:00 CET']);
  });

  it.each([
    ['a run exactly at `from` counts', { cron: '0 6 * * *', timezone: null, day_or: true }, '2026-11-20T06:00:00Z', ['2026-11-20T06:00:00Z', '2026-11-21T06:00:00Z']],
    ['the sixth cron field is seconds (croniter order)', { cron: '*/15 * * * * 30', timezone: 'UTC', day_or: true }, '2026-11-20T10:00:00Z', ['2026-11-20T10:00:30Z', '2026-11-20T10:15:30Z']],
    ['day_or false needs day-of-month and weekday', { cron: '0 6 1 * 1', timezone: null, day_or: false }, '2026-11-20T10:00:00Z', ['2027-02-01T06:00:00Z', '2027-03-01T06:00:00Z']],
    ['day_or true takes either', { cron: '0 6 1 * 1', timezone: null, day_or: true }, '2026-11-20T10:00:00Z', ['2026-11-23T06:00:00Z', '2026-11-30T06:00:00Z']],
    ['a skipped local time runs at the summer offset, like croniter', { cron: '30 2 * * *', timezone: 'Europe/Berlin', day_or: true }, '2026-03-28T12:00:00Z', ['2026-03-29T00:30:00Z', '2026-03-30T00:30:00Z']],
    ['a repeated local time runs once, at its first occurrence', { cron: '30 2 * * *', timezone: 'Europe/Berlin', day_or: true }, '2026-10-24T12:00:00Z', ['2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z']],
  ] as const)('cron: %s', (_title, spec, from, expected) => {
    expect(iso(nextRuns(view(spec), new Date(from), expected.length))).toEqual(expected);
  });

  it.each([
    ['from the anchor, in whole steps', { interval: 900, anchor_date: '2024-01-01T00:00:00Z', timezone: 'UTC' }, '2026-11-20T10:17:00Z', ['2026-11-20T10:30:00Z', '2026-11-20T10:45:00Z', '2026-11-20T11:00:00Z']],
    ['without an anchor, from `from`', { interval: 604800, timezone: 'America/New_York' }, '2026-11-20T00:00:00Z', ['2026-11-20T00:00:00Z', '2026-11-27T00:00:00Z']],
    ['a naive anchor is UTC', { interval: 3600, anchor_date: '2024-01-01T00:30:00', timezone: 'Europe/Berlin' }, '2026-11-20T10:00:00Z', ['2026-11-20T10:30:00Z', '2026-11-20T11:30:00Z']],
    ['daily steps keep the local clock time across DST', { interval: 86400, anchor_date: '2026-10-01T00:30:00Z', timezone: 'Europe/Berlin' }, '2026-10-23T00:00:00Z', ['2026-10-23T00:30:00Z', '2026-10-24T00:30:00Z', '2026-10-25T01:30:00Z', '2026-10-26T01:30:00Z']],
    ['hourly steps lose the repeated hour, as Prefect does', { interval: 3600, anchor_date: '2024-01-01T00:00:00Z', timezone: 'Europe/Berlin' }, '2026-10-24T23:00:00Z', ['2026-10-24T23:00:00Z', '2026-10-25T00:00:00Z', '2026-10-25T02:00:00Z', '2026-10-25T03:00:00Z']],
  ] as const)('interval: %s', (_title, spec, from, expected) => {
    expect(iso(nextRuns(view(spec), new Date(from), expected.length))).toEqual(expected);
  });

  it('rrule: DTSTART 2020-01-01 weekly Monday 08:00 in America/New_York stays 08:00 local across DST', () => {
    const spec = { rrule: 'DTSTART:20200101T000000\nRRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=8', timezone: 'America/New_York' };
    const runs = nextRuns(view(spec), new Date('2026-02-25T00:00:00Z'), 3);
    expect(iso(runs)).toEqual(['2026-03-02T13:00:00Z', '2026-03-09T12:00:00Z', '2026-03-16T12:00:00Z']);
    expect(runs.map((d) => formatRun(d, spec.timezone))).toEqual(['Mon 2026-03-02 08:00 EST', 'Mon 2026-03-09 08:00 EDT', 'Mon 2026-03-16 08:00 EDT']);
    // Without DTSTART Prefect starts the rule at 2020-01-01 00:00 local: the same runs.
    expect(iso(nextRuns(view({ rrule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=8', timezone: 'America/New_York' }), new Date('2026-02-25T00:00:00Z'), 3))).toEqual(iso(runs));
  });

  it.each([
    ['DTSTART sets the phase of INTERVAL', { rrule: 'DTSTART:20260101T090000\nRRULE:FREQ=DAILY;INTERVAL=3', timezone: 'Europe/Berlin' }, ['2026-11-21T08:00:00Z', '2026-11-24T08:00:00Z', '2026-11-27T08:00:00Z']],
    ['a TZID on DTSTART is replaced by the schedule timezone', { rrule: 'DTSTART;TZID=Asia/Tokyo:20200101T090000\nRRULE:FREQ=WEEKLY;BYDAY=TU,TH', timezone: 'Europe/Berlin' }, ['2026-11-24T08:00:00Z', '2026-11-26T08:00:00Z', '2026-12-01T08:00:00Z']],
    ['EXDATE removes a run', { rrule: 'DTSTART:20200101T090000\nRRULE:FREQ=DAILY\nEXDATE:20261121T090000', timezone: 'UTC' }, ['2026-11-20T09:00:00Z', '2026-11-22T09:00:00Z', '2026-11-23T09:00:00Z']],
    ['UNTIL ends the rule', { rrule: 'DTSTART:20200101T090000\nRRULE:FREQ=DAILY;UNTIL=20261121T090000', timezone: 'UTC' }, ['2026-11-20T09:00:00Z', '2026-11-21T09:00:00Z']],
    ['COUNT counts from DTSTART', { rrule: 'DTSTART:20200101T090000\nRRULE:FREQ=DAILY;COUNT=3000', timezone: 'UTC' }, ['2026-11-20T09:00:00Z', '2026-11-21T09:00:00Z', '2026-11-22T09:00:00Z']],
    ['month ends in Tokyo', { rrule: 'FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=23;BYMINUTE=30', timezone: 'Asia/Tokyo' }, ['2026-11-30T14:30:00Z', '2026-12-31T14:30:00Z', '2027-01-31T14:30:00Z']],
  ] as const)('rrule: %s', (_title, spec, expected) => {
    expect(iso(nextRuns(view(spec), new Date('2026-11-20T00:00:00Z'), 3))).toEqual(expected);
  });

  it('does not depend on the machine timezone', () => {
    const spec = view({ rrule: 'DTSTART;TZID=America/New_York:20200101T000000\nRRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=8', timezone: 'America/New_York' });
    const before = iso(nextRuns(spec, new Date('2026-02-25T00:00:00Z'), 3));
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'Asia/Kolkata';
      expect(iso(nextRuns(spec, new Date('2026-02-25T00:00:00Z'), 3))).toEqual(before);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
    expect(before[0]).toBe('2026-03-02T13:00:00Z');
  });

  it('counts runs in a window, and caps schedules that fire too often to walk', () => {
    const week = new Date(NOW.getTime() + 7 * 86_400_000);
    expect(countRuns(view({ cron: '0 6 * * *', timezone: 'Europe/Berlin', day_or: true }), NOW, week)).toEqual({ count: 7, capped: false });
    expect(countRuns(view({ cron: '*/5 * * * *', timezone: 'UTC', day_or: true }), NOW, week)).toEqual({ count: 2016, capped: false });
    expect(countRuns(view({ interval: 60, timezone: 'UTC' }), NOW, week)).toEqual({ count: 2500, capped: true });
  });

  it('formats run times in the schedule timezone, UTC when none', () => {
    const instant = new Date('2026-07-06T05:07:09Z');
    expect(formatRun(instant, null)).toBe('Mon 2026-07-06 05:07:09 UTC');
    expect(formatRun(instant, 'Europe/London')).toBe('Mon 2026-07-06 06:07:09 BST');
    expect(formatRun(instant, 'Asia/Kolkata')).toBe('Mon 2026-07-06 10:37:09 IST');
    expect(formatRun(new Date('2026-11-23T05:00:00Z'), 'Europe/Berlin')).toBe('Mon 2026-11-23 06:00 CET');
  });
});

describe('schedule meaning: describeScheduleChange', () => {
  const daily = view({ cron: '0 6 * * *', timezone: 'Europe/Berlin', day_or: true });
  const weekdays = view({ cron: '0 6 * * 1-5', timezone: 'Europe/Berlin', day_or: true });

  it('shows the next runs before and after, and the runs in the next 7 days, across the DST change', () => {
    expect(describeScheduleChange(daily, weekdays, NOW)).toEqual([
      'next runs before: Sat 2026-10-24 06:00 CEST, Sun 2026-10-25 06:00 CET, Mon 2026-10-26 06:00 CET',
      'next runs after: Mon 2026-10-26 06:00 CET, Tue 2026-10-27 06:00 CET, Wed 2026-10-28 06:00 CET',
      'runs in the next 7 days: 7 -> 5',
    ]);
  });

  it('shows only the side that exists for an added or removed schedule', () => {
    expect(describeScheduleChange(undefined, weekdays, NOW, 1)).toEqual(['next runs after: Mon 2026-10-26 06:00 CET', 'runs in the next 7 days after: 5 (new schedule)']);
    expect(describeScheduleChange(daily, undefined, NOW, 1)).toEqual(['next runs before: Sat 2026-10-24 06:00 CEST', 'runs in the next 7 days before: 7 (schedule removed)']);
  });

  it('says inactive for an inactive schedule, which runs 0 times', () => {
    expect(describeScheduleChange(daily, { ...daily, active: false }, NOW, 1)).toEqual(['next runs before: Sat 2026-10-24 06:00 CEST', 'next runs after: inactive', 'runs in the next 7 days: 7 -> 0']);
  });

  it('collapses to one line when only parameters changed', () => {
    expect(describeScheduleChange(daily, { ...daily, parameters: { x: 1 } }, NOW, 1)).toEqual(['next runs: Sat 2026-10-24 06:00 CEST (unchanged)', 'runs in the next 7 days: 7 (unchanged)']);
  });

  it('reports a schedule it cannot evaluate instead of throwing', () => {
    const lines = describeScheduleChange(undefined, view({ interval: 60, anchor_date: 'not a date', timezone: 'UTC' }), NOW);
    expect(lines[0]).toMatch(/^next runs after: cannot be computed \(anchor_date "not a date"/);
  });
});

describe('markdown: the plan comment', () => {
  const p = mixedPlan();
  const scheduledRuns = { 'etl/daily': 3, 'etl/legacy': 12, 'etl/gone': 1 };
  const comment = renderPlanComment(p, { now: NOW, secrets: [KNOWN_SECRET], scheduledRuns, summaryUrl: 'https://github.com/acme/repo/actions/runs/1' });

  it('is the plan we think it is', () => {
    expect(p.actions.map((a) => `${a.kind} ${a.key}`)).toEqual(['create etl/fresh', 'adopt etl/legacy', 'update etl/daily', 'delete etl/gone']);
    expect(p.conflicts.map((c) => c.key)).toEqual(['etl/theirs']);
  });

  it('starts with the hidden marker of its environment', () => {
    expect(comment.startsWith(`${COMMENT_MARKER('prod')}\n`)).toBe(true);
    expect(COMMENT_MARKER('prod')).toBe('<!-- prefect-gitops:plan env=prod -->');
    // Markers of different environments never find each other's comment.
    expect(COMMENT_MARKER('prod')).not.toContain(COMMENT_MARKER());
    expect(COMMENT_MARKER('prod')).not.toContain(COMMENT_MARKER('pro'));
    expect(COMMENT_MARKER('a-->b')).not.toMatch(/-->.*-->/);
  });

  it('has a summary table with the plan counts', () => {
    expect(comment).toContain('| to add | to change | to delete | to adopt | unchanged | conflicts |\n|---:|---:|---:|---:|---:|---:|\n| 1 | 1 | 1 | 1 | 1 | 1 |');
    expect(comment).toContain('**Plan: 1 to add, 1 to change, 1 to delete, 1 to adopt, 1 unchanged, 1 conflict.**');
  });

  it('names deleted and adopted deployments in caution callouts', () => {
    const caution = callout(comment, 'CAUTION');
    expect(caution.join('\n')).toMatch(/1 deployment will be deleted/);
    expect(caution).toContain('> - `etl/gone` (1 scheduled run now)');
    expect(caution).toContain('> - `etl/legacy` (not created by prefect-gitops)');
    expect(caution.join('\n')).not.toContain('etl/daily');
    const warning = callout(comment, 'WARNING');
    expect(warning.some((l) => l.startsWith('> - `etl/theirs` (deployments/theirs.yaml:3): deployment "etl/theirs" already exists'))).toBe(true);
  });

  it('warns that updates and adoptions delete the scheduled runs it counted', () => {
    const warning = callout(comment, 'WARNING').join('\n');
    expect(warning).toContain("updating `etl/daily` deletes its 3 future scheduled runs; Prefect's scheduler recreates them");
    expect(warning).toContain('adopting `etl/legacy` deletes its 12 future scheduled runs');
    const without = renderPlanComment(p, { now: NOW });
    expect(without).not.toContain('scheduled runs now');
  });

  it('has one collapsible diff per changed deployment, with its file, line and fields', () => {
    expect(comment.match(/<details>/g)).toHaveLength(3);
    expect(comment).toContain('<details><summary>~ <code>etl/daily</code> (deployments/daily.yaml:3) — update: description, job_variables, schedules[morning] (3 scheduled runs now)</summary>');
    expect(comment).toContain('<details><summary>+ <code>etl/fresh</code> (deployments/fresh.yaml:3) — new: ');
    expect(comment).toContain('<details><summary>&gt; <code>etl/legacy</code> (deployments/legacy.yaml:3) — adopt: description, tags (12 scheduled runs now)</summary>');
    expect(comment).toContain('-description: old\n+description: refreshed with [REDACTED]');
    expect(comment).toContain('-  image: acme/etl:1\n+  image: acme/etl:2');
    expect(comment).toContain('The full plan is also in the [job summary](https://github.com/acme/repo/actions/runs/1).');
  });

  it('explains schedule changes in run times', () => {
    const daily = comment.slice(comment.indexOf('<code>etl/daily</code>'));
    expect(daily).toContain('Schedule `morning`:\n- next runs before: Sat 2026-10-24 06:00 CEST, Sun 2026-10-25 06:00 CET, Mon 2026-10-26 06:00 CET\n- next runs after: Mon 2026-10-26 06:00 CET, Tue 2026-10-27 06:00 CET, Wed 2026-10-28 06:00 CET\n- runs in the next 7 days: 7 -> 5');
    const fresh = comment.slice(comment.indexOf('<code>etl/fresh</code>'));
    expect(fresh).toContain('Schedule `hourly`:\n- next runs after: Fri 2026-10-23 12:00 UTC, Fri 2026-10-23 13:00 UTC, Fri 2026-10-23 14:00 UTC\n- runs in the next 7 days after: 168 (new schedule)');
  });

  it('never shows a secret: sensitive env values and known secret values are redacted', () => {
    for (const text of [comment, renderPlanSummary(p, { now: NOW, secrets: [KNOWN_SECRET] })]) {
      expect(text).not.toContain(API_TOKEN_VALUE);
      expect(text).not.toContain('tok-old-value-000');
      expect(text).not.toContain(KNOWN_SECRET);
      expect(text).toContain('API_TOKEN: (sensitive)');
      expect(text).toContain('[REDACTED]');
      // …but it still says that the hidden value changed.
      expect(text).toContain('Sensitive value changed (not shown): `job_variables.env.API_TOKEN`');
    }
    // A secret passed in the title or URL is redacted too.
    const titled = renderPlanComment(p, { now: NOW, secrets: [KNOWN_SECRET], title: `plan ${KNOWN_SECRET}`, summaryUrl: `https://x/${KNOWN_SECRET}` });
    expect(titled).not.toContain(KNOWN_SECRET);
  });

  it('renders a representative comment (snapshot)', () => {
    expect(comment).toMatchSnapshot();
  });

  it('says "no changes" when there is nothing to do', () => {
    const none = plan([desired({ name: 'a' }), desired({ name: 'b' })], state(live('a'), live('b')), options);
    const text = renderPlanComment(none, { now: NOW, summaryUrl: 'https://x' });
    expect(text.startsWith(`${COMMENT_MARKER('prod')}\n`)).toBe(true);
    expect(text).toContain('**No changes.** 2 deployments up to date.');
    expect(text).not.toContain('<details>');
    expect(text.length).toBeLessThan(400);
  });

  it('still reports a refused prune when nothing else changes', () => {
    const refused = plan([desired({ name: 'a' })], state(live('a'), live('b'), live('c')), { ...options, maxDeletes: 1 });
    const text = renderPlanComment(refused, { now: NOW });
    expect(text).not.toContain('No changes');
    expect(text).toContain('**Plan: 0 to add, 0 to change, 0 to delete, 1 unchanged. Apply refused: nothing will be written.**');
    expect(callout(text, 'CAUTION').join('\n')).toContain('**Apply refused**: prune would delete 2 deployments > max_deletes 1; nothing will be written; review the deletes, then use --allow-mass-delete or raise max_deletes');
    expect(callout(text, 'NOTE')).toEqual(expect.arrayContaining(['> - `etl/b`: held back by a prune safeguard', '> - `etl/c`: held back by a prune safeguard']));
  });
});

describe('markdown: which changes delete scheduled runs', () => {
  const morning = { cron: '0 6 * * *', timezone: 'Europe/Berlin', day_or: true } as const;
  const withAutomations = (...deployments: LiveDeployment[]): LiveState => ({ ...state(...deployments), automations: new Map() });
  // Only the trigger changed: the apply replaces automations and sends no PATCH and no schedule write.
  const triggersOnly = plan([desired({ name: 'daily', triggers: [{ expect: ['upstream.done'] }] })], withAutomations(live('daily')), options);
  // Only a schedule changed: no PATCH, one schedule update.
  const scheduleOnly = plan(
    [desired({ name: 'daily', schedules: [{ cron: '0 7 * * *', timezone: 'Europe/Berlin', slug: 'morning' }] })],
    withAutomations(live('daily', { schedules: [schedule('morning', morning)] })),
    options,
  );
  const scheduledRuns = { 'etl/daily': 3 };

  it('are the plans we think they are', () => {
    const [a] = triggersOnly.actions;
    expect(a).toMatchObject({ kind: 'update', patch: {}, scheduleOps: { create: [], update: [], delete: [] } });
    expect(a?.kind === 'update' && a.replaceTriggers?.length).toBe(1);
    const [b] = scheduleOnly.actions;
    expect(b).toMatchObject({ kind: 'update', patch: {} });
    expect(b?.kind === 'update' && b.scheduleOps.update.length).toBe(1);
  });

  it('does not warn about scheduled runs for an update that only replaces triggers', () => {
    for (const text of [renderPlanComment(triggersOnly, { now: NOW, scheduledRuns }), renderPlanComment(triggersOnly, { now: NOW, scheduledRuns, maxLength: 600 })]) {
      expect(text).toContain('etl/daily');
      expect(text).not.toContain('scheduled run');
    }
  });

  it('warns for an update that touches a schedule without a PATCH', () => {
    const text = renderPlanComment(scheduleOnly, { now: NOW, scheduledRuns });
    expect(callout(text, 'WARNING').join('\n')).toContain('updating `etl/daily` deletes its 3 future scheduled runs');
  });

  const update = (patch: object, ops: Partial<Record<'create' | 'update' | 'delete', unknown[]>> = {}): PlanAction =>
    ({ ...triggersOnly.actions[0]!, patch, scheduleOps: { create: [], update: [], delete: [], ...ops } }) as PlanAction;
  it.each([
    ['a create', { ...mixedPlan().actions[0]! }, false],
    ['an adoption', mixedPlan().actions[1]!, true],
    ['a delete', mixedPlan().actions[3]!, true],
    ['an update that PATCHes', update({ description: 'x' }), true],
    ['an update that creates a schedule', update({}, { create: [{}] }), true],
    ['an update that updates a schedule', update({}, { update: [{}] }), true],
    ['an update that deletes a schedule', update({}, { delete: [{}] }), true],
    ['an update that only replaces triggers', update({}), false],
  ] as const)('dropsScheduledRuns: %s -> %s', (_title, action, expected) => {
    expect(dropsScheduledRuns(action)).toBe(expected);
  });
});

describe('shared render helpers', () => {
  it('isEmpty: absent, null, empty string, list and map say nothing; 0 and false do', () => {
    expect([undefined, null, '', [], {}].map(isEmpty)).toEqual([true, true, true, true, true]);
    expect([0, false, 'x', [0], { a: null }].map(isEmpty)).toEqual([false, false, false, false, false]);
  });

  it('diffRows: one row per line with its sign', () => {
    expect(diffRows('a: 1\nb: 2\n', 'a: 1\nb: 3\nc: 4\n')).toEqual([
      { sign: ' ', text: 'a: 1' },
      { sign: '-', text: 'b: 2' },
      { sign: '+', text: 'b: 3' },
      { sign: '+', text: 'c: 4' },
    ]);
  });

  it('PAST_TENSE and utf8Bytes', () => {
    expect(PAST_TENSE).toEqual({ create: 'created', update: 'updated', adopt: 'adopted', delete: 'deleted' });
    expect(utf8Bytes('größe ✓')).toBe(11);
  });

  it('code makes a markdown code span, htmlCode inline HTML that is inert in tables and HTML blocks', () => {
    expect(code('etl/daily')).toBe('`etl/daily`');
    expect(code('a ``b`` c\nd')).toBe('```a ``b`` c d```');
    expect(code('`x')).toBe('`` `x ``');
    expect(htmlCode('a<b>|`@team & co`\n d')).toBe('<code>a&lt;b&gt;&#124;&#96;&#64;team &amp; co&#96; d</code>');
  });

  it('issueMessage is formatIssue without the location: the field named only when the message does not name it', () => {
    const issue = (over: Partial<Issue>): Issue => ({ file: 'deploy/a.yaml', line: 3, column: 5, path: 'schedules[0].cron', message: 'bad cron', severity: 'error', ...over });
    expect(issueMessage(issue({}))).toBe('bad cron (schedules[0].cron)');
    expect(issueMessage(issue({ message: 'schedules[0].cron is odd', severity: 'warning' }))).toBe('schedules[0].cron is odd');
    expect(issueMessage(issue({ path: '' }))).toBe('bad cron');
    expect(formatIssue(issue({}))).toBe(`deploy/a.yaml:3:5: error: ${issueMessage(issue({}))}`);
  });
});

describe('markdown: size', () => {
  const p500 = bigPlan(500);
  const p5000 = bigPlan(5000);
  const keys = (p: Plan): string[] => p.actions.map((a) => a.key);
  const spans = new Map<string, Set<string>>();
  /** Every `code span` of a markdown text (remembered per text). */
  const codeSpans = (markdown: string): Set<string> => {
    let found = spans.get(markdown);
    if (!found) spans.set(markdown, (found = new Set([...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!))));
    return found;
  };

  it('fits 500 changed deployments in a comment: no diffs, every name with its fields, a pointer to the job summary', () => {
    const full = renderPlanSummary(p500, { now: NOW });
    expect(full.length).toBeGreaterThan(65_536); // the full version really does not fit
    const text = renderPlanComment(p500, { now: NOW, summaryUrl: 'https://github.com/acme/repo/actions/runs/7' });
    expect(text.length).toBeLessThanOrEqual(65_536);
    expect(text.startsWith(COMMENT_MARKER('prod'))).toBe(true);
    expect(text).toContain('| 0 | 500 | 0 | 0 | 0 | 0 |');
    expect(text).not.toContain('```diff');
    for (const key of keys(p500)) expect(text).toContain(`- update \`${key}\` (deployments/${key.slice(4)}.yaml:3): description`);
    expect(text).toContain('The full plan, with every diff, is in the [job summary](https://github.com/acme/repo/actions/runs/7).');
  });

  it('keeps every diff of 500 deployments in the job summary', () => {
    const text = renderPlanSummary(p500, { now: NOW });
    expect(text.length).toBeLessThanOrEqual(1_000_000);
    expect(text.match(/```diff/g)).toHaveLength(500);
    expect(text).toContain('-description: old description of d0499\n+description: new description of d0499');
    expect(text).not.toContain(COMMENT_MARKER('prod'));
  });

  it('fits 5000 changed deployments: the summary, as many names as fit, and how many more', () => {
    const text = renderPlanComment(p5000, { now: NOW, summaryUrl: 'https://github.com/acme/repo/actions/runs/7' });
    expect(text.length).toBeLessThanOrEqual(65_536);
    expect(text.length).toBeGreaterThan(60_000);
    expect(text.startsWith(COMMENT_MARKER('prod'))).toBe(true);
    expect(text).toContain('| 0 | 5000 | 0 | 0 | 0 | 0 |');
    expect(text).toContain('[job summary](https://github.com/acme/repo/actions/runs/7)');
    // Names are looked up in a set of the text's code spans: a linear check (includes() per name
    // scans the whole text for each of the 5000, which made this test time out on a busy machine).
    const listed = keys(p5000).filter((k) => codeSpans(text).has(k));
    const more = /… and (\d+) more deployments, listed in the job summary\./.exec(text);
    expect(more).not.toBeNull();
    expect(listed.length).toBeGreaterThan(500);
    expect(listed.length + Number(more![1])).toBe(5000);
    // The job summary of 5000 keeps every name (without diffs) within its own limit.
    const summary = renderPlanSummary(p5000, { now: NOW });
    expect(summary.length).toBeLessThanOrEqual(1_000_000);
    const inSummary = codeSpans(summary);
    expect(keys(p5000).filter((key) => !inSummary.has(key))).toEqual([]);
  });

  it('keeps deletes first when it must cut, and counts them in the callout', () => {
    const names = Array.from({ length: 5000 }, (_, i) => `old${i}`);
    const p = plan([desired({ name: 'kept', description: 'x' })], state(live('kept'), ...names.map((n) => live(n))), options);
    const text = renderPlanComment(p, { now: NOW });
    expect(text.length).toBeLessThanOrEqual(65_536);
    expect(callout(text, 'CAUTION').join('\n')).toContain('**5000 deployments will be deleted**');
    expect(text).toContain('- delete `etl/old0`');
    expect(text).not.toContain('etl/kept');
  });

  it('counts the job summary limit in UTF-8 bytes, as GitHub does', () => {
    // Every line of this plan carries multi-byte characters, so characters and bytes differ a lot.
    const names = Array.from({ length: 400 }, (_, i) => `größe-ü-${i}`);
    const p = plan(names.map((name) => desired({ name, description: '→ ünïcödé ✓ '.repeat(20) })), state(...names.map((name) => live(name))), options);
    const full = renderPlanSummary(p, { now: NOW });
    expect(Buffer.byteLength(full)).toBeGreaterThan(full.length * 1.2);
    const limit = Math.floor((Buffer.byteLength(full) + full.length) / 2); // fits in characters, not in bytes
    const text = renderPlanSummary(p, { now: NOW, maxLength: limit });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(limit);
    expect(text).not.toContain('```diff');
    for (const name of names) expect(text).toContain(`etl/${name}`);
    for (const maxLength of [0, 7, 500, 5000]) expect(Buffer.byteLength(renderPlanSummary(p, { now: NOW, maxLength }))).toBeLessThanOrEqual(maxLength);
  });

  it.each([0, 10, 100, 300, 1000, 5000])('never exceeds maxLength %i', (maxLength) => {
    const text = renderPlanComment(p500, { now: NOW, maxLength, secrets: ['description'] });
    expect(text.length).toBeLessThanOrEqual(maxLength);
    if (maxLength >= 300) expect(text.startsWith(COMMENT_MARKER('prod'))).toBe(true);
  });
});

describe('markdown: the apply summary', () => {
  const p = mixedPlan();
  const result: ApplyResult = {
    ok: false,
    results: [
      { kind: 'create', key: 'etl/fresh', status: 'ok', id: '1' },
      { kind: 'adopt', key: 'etl/legacy', status: 'ok', id: '2' },
      { kind: 'update', key: 'etl/daily', status: 'failed', message: `PATCH /deployments/x: 422 {"detail": "bad | value ${API_TOKEN_VALUE}"}` },
      { kind: 'delete', key: 'etl/gone', status: 'skipped', message: 'not deleted because an earlier action failed' },
    ],
  };
  const text = renderApplySummary(result, p, { secrets: [API_TOKEN_VALUE] });

  it('lists every action with its outcome, then totals', () => {
    expect(text).toContain('### prefect-gitops apply for prod');
    expect(text).toContain('| ✅ | create | `etl/fresh` | created |');
    expect(text).toContain('| ✅ | adopt | `etl/legacy` | adopted |');
    expect(text).toContain('| ❌ | update | `etl/daily` | failed: PATCH /deployments/x: 422 {"detail": "bad \\| value [REDACTED]"} |');
    expect(text).toContain('| ⏭️ | delete | `etl/gone` | skipped: not deleted because an earlier action failed |');
    expect(text).toContain('| 2 | 1 | 1 |');
    expect(text).toContain('**Apply finished with errors: 1 added, 0 changed, 0 deleted, 1 adopted, 1 failed, 1 skipped.**');
    expect(text).toContain('**1 conflict left unresolved**: `etl/theirs`');
    expect(text).not.toContain(API_TOKEN_VALUE);
  });

  it('says when there was nothing to apply', () => {
    expect(renderApplySummary({ ok: true, results: [] }, { ...p, actions: [], conflicts: [], summary: { ...p.summary, unchanged: 4 } })).toContain('**No changes to apply.** 4 deployments up to date.');
  });

  it('keeps every failure when it must cut successes to fit', () => {
    const many: ApplyResult = {
      ok: false,
      results: [
        ...Array.from({ length: 2000 }, (_, i) => ({ kind: 'update' as const, key: `etl/d${i}`, status: 'ok' as const })),
        { kind: 'update', key: 'etl/broken', status: 'failed', message: 'boom' },
      ],
    };
    const cut = renderApplySummary(many, p, { maxLength: 20_000 });
    expect(cut.length).toBeLessThanOrEqual(20_000);
    expect(cut).toContain('| ❌ | update | `etl/broken` | failed: boom |');
    expect(cut).toMatch(/… and \d+ more successful actions, not listed/);
    expect(cut).toContain('| 2000 | 1 | 0 |');
  });
});
