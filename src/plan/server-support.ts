import type { DesiredDeployment } from '../manifests/types.js';
import { minimumVersion, parseVersion, type Capability, type ServerCapabilities } from '../prefect/capabilities.js';
import type { Issue } from '../validate/issue.js';

/**
 * What the manifests declare that the connected server cannot hold, found before anything is
 * written (pure): an error where applying would lose what was declared (schedule parameters, a
 * trigger's `schedule_after`), a warning where the plan can still tell the truth without it (a
 * schedule slug: schedules are then matched by content; concurrency options: not applied).
 * The caller stops on errors, so a missing feature is never discovered half-way through an apply.
 */
export function serverSupportIssues(desired: readonly DesiredDeployment[], features: ServerCapabilities, serverVersion: string): Issue[] {
  const issues: Issue[] = [];
  const needs = (c: Capability): string => `needs Prefect >= ${minimumVersion(c)} (this server runs ${serverVersion})`;
  // Whether automations are on is a Prefect 2 server setting, not in its OpenAPI document: known by the major version.
  const prefect2 = parseVersion(serverVersion)?.major === 2;
  for (const d of desired) {
    const at = (path: string): Pick<Issue, 'file' | 'line' | 'column'> => d.fieldsAt?.[path] ?? d.declaredAt;
    const push = (path: string, severity: Issue['severity'], message: string): void => {
      issues.push({ ...at(path), path: path.replace(/\.(\d+)/g, '[$1]'), severity, message: `${d.key}: ${message}` });
    };
    const m = d.manifest;
    if (!features.scheduleSlugs) {
      (m.schedules ?? []).forEach((s, i) => {
        if (s.parameters !== undefined && Object.keys(s.parameters).length > 0) {
          push(`schedules.${i}.parameters`, 'error', `schedule parameters ${needs('scheduleSlugs')}: its schedules cannot hold parameters; remove them (or set deployment parameters) or upgrade the server`);
        }
        if (s.slug !== undefined) {
          push(`schedules.${i}.slug`, 'warning', `schedule slugs ${needs('scheduleSlugs')}: the slug is not stored; schedules are matched by their content, and a changed schedule is replaced (new id)`);
        }
      });
    }
    const concurrency = m.concurrency_limit;
    if (!features.deploymentConcurrencyLimit && concurrency !== undefined && concurrency !== null) {
      push('concurrency_limit', 'error', `deployment concurrency limits ${needs('deploymentConcurrencyLimit')}; remove concurrency_limit for this server (on Prefect 2 a work pool or work queue concurrency limit does this)`);
    } else if (concurrency !== null && typeof concurrency === 'object') {
      if (!features.concurrencyOptions && concurrency.collision_strategy !== undefined) {
        push('concurrency_limit', 'warning', `collision_strategy ${needs('concurrencyOptions')}; it is not applied`);
      } else if (!features.gracePeriod && concurrency.grace_period_seconds !== undefined) {
        push('concurrency_limit', 'warning', `grace_period_seconds ${needs('gracePeriod')}; it is not applied`);
      }
    }
    if (prefect2 && (m.triggers ?? []).length > 0) {
      push(
        'triggers.0',
        'error',
        `triggers need Prefect 3 (this server runs ${serverVersion}): Prefect 2 automations are experimental, off unless the server sets PREFECT_EXPERIMENTAL_EVENTS, so creating them could fail half-way through an apply; remove triggers for this server`,
      );
    } else if (!features.triggerScheduleAfter) {
      (m.triggers ?? []).forEach((t, i) => {
        if (t.schedule_after !== undefined) push(`triggers.${i}`, 'error', `a trigger's schedule_after ${needs('triggerScheduleAfter')}; remove it or upgrade the server`);
      });
    }
  }
  return issues;
}
