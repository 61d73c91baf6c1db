import type { ScheduleManifest } from './types.js';

export type ScheduleKind = 'cron' | 'interval' | 'rrule';

export function scheduleKind(schedule: ScheduleManifest): ScheduleKind | undefined {
  if (schedule.cron !== undefined) return 'cron';
  if (schedule.interval !== undefined) return 'interval';
  if (schedule.rrule !== undefined) return 'rrule';
  return undefined;
}

/**
 * The slug of every schedule. A schedule without one gets `<kind>-<n>`: the n-th schedule of that
 * kind (cron, interval, rrule) in the deployment, counting from 1. Editing a schedule's expression
 * keeps its slug, so it is updated in place and keeps its id; adding or removing a schedule of
 * another kind does not renumber this one. Reordering schedules of one kind does renumber them:
 * give explicit slugs where that matters.
 */
export function assignSlugs(schedules: readonly ScheduleManifest[]): string[] {
  const counts: Record<string, number> = {};
  return schedules.map((schedule) => {
    if (schedule.slug) return schedule.slug;
    const kind = scheduleKind(schedule) ?? 'schedule';
    counts[kind] = (counts[kind] ?? 0) + 1;
    return `${kind}-${counts[kind]}`;
  });
}
