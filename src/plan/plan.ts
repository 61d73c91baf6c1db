import fastJsonPatch from 'fast-json-patch';
import type { DesiredDeployment, ScheduleManifest, UnreadSource } from '../manifests/types.js';
import { assignSlugs } from '../manifests/slugs.js';
import type { Json, JsonObject, LiveAutomation, LiveDeployment, ScheduleCreateBody } from '../prefect/types.js';
import { desiredTriggers, type DesiredTrigger } from './triggers.js';
import { sortKeys } from './canonical-json.js';
import { triggerChange, triggerSpecs } from './trigger-changes.js';
import { bySlug, canonicalDesired, canonicalLive, DEPLOYMENT_FIELDS, desiredTags, jsonEqual, liveSchedule, type CanonicalDeployment, type CanonicalSchedule } from './canonical.js';
import { OWNER_LABEL, ownerOf, ownerTag, PROTECTED_TAG, type OwnershipMarker } from './ownership.js';
import type { AdoptAction, Conflict, CreateAction, DeleteAction, FieldChange, Orphan, Plan, PlanAction, PlanOptions, ScheduleOps, UpdateAction } from './types.js';

/** Live state as fetched: deployments keyed by `flow_name/name`. */
export interface LiveState {
  readonly deployments: ReadonlyMap<string, LiveDeployment>;
  /** Our automations by deployment id; undefined when the server cannot tag automations (< 3.4.7). */
  readonly automations?: ReadonlyMap<string, readonly LiveAutomation[]>;
  /** Our automations whose deployment no longer exists (checked by id), with that deployment's id. */
  readonly orphanedAutomations?: readonly { readonly automation: LiveAutomation; readonly deploymentId: string }[];
  /** How the server marks ownership (see ownership.ts); default `label`. */
  readonly ownership?: OwnershipMarker;
}

/**
 * Computes what to do to make the server match the manifests. Pure and synchronous: everything it
 * needs is in its arguments, and it returns a value that `apply` executes as it is.
 */
export function plan(desired: readonly DesiredDeployment[], live: LiveState, options: PlanOptions): Plan {
  const automationsOf = (l: LiveDeployment): readonly LiveAutomation[] | undefined => (live.automations ? (live.automations.get(l.id) ?? []) : undefined);
  const creates: CreateAction[] = [];
  const updates: UpdateAction[] = [];
  const adopts: AdoptAction[] = [];
  const conflicts: Conflict[] = [];
  const unchanged: string[] = [];
  const warnings: string[] = [];
  const declared = new Set(desired.map((d) => d.key));
  const marker = live.ownership ?? 'label';
  const slugs = options.features.scheduleSlugs;
  const toBody = (s: CanonicalSchedule): ScheduleCreateBody => scheduleBody(s, slugs);

  for (const d of [...desired].sort((a, b) => a.key.localeCompare(b.key))) {
    const existing = live.deployments.get(d.key);
    let want = canonicalDesired(d, options.owner);
    // `version` is informational: a manifest without one leaves the server's (prefect deploy stamps
    // a hash of the flow file there) instead of clearing it.
    if (existing && d.manifest.version === undefined) want = { ...want, version: existing.version ?? null };
    const target = { key: d.key, flowName: d.flowName, name: d.name };
    if (!existing) {
      creates.push({ kind: 'create', ...target, declaredAt: d.declaredAt, body: createBody(d, want, options), schedules: want.schedules.map(toBody), triggers: desiredTriggers(d.name, d.manifest.triggers), changes: creationChanges(want, desiredTriggers(d.name, d.manifest.triggers)) });
      continue;
    }
    const owner = ownerOf(existing, marker) ?? null;
    if (owner !== options.owner) {
      // `gitops.adopt` takes over only deployments nobody owns (made by `prefect deploy` or by
      // hand); taking one from another prefect-gitops owner needs the explicit --adopt flag.
      if ((d.adopt && owner === null) || options.adoptAll) {
        adopts.push({
          kind: 'adopt',
          ...target,
          id: existing.id,
          declaredAt: d.declaredAt,
          liveUpdated: existing.updated,
          previousOwner: owner,
          body: createBody(d, want, options),
          schedules: want.schedules.map(toBody),
          triggers: desiredTriggers(d.name, d.manifest.triggers),
          changes: showTriggers(diffFields(pairUnslugged(existing, canonicalLive(existing, want, automationsOf(existing)), want), want), d.name, automationsOf(existing), desiredTriggers(d.name, d.manifest.triggers)),
        });
      } else {
        // Where the owner tag is the only marker (no labels), a tag removed in the UI looks exactly like this: say so.
        const tagHint = owner === null && marker === 'tag' ? ` (on this server ownership is the owner tag "${ownerTag(options.owner)}": if someone removed it from a deployment of ours, adopting takes it back)` : '';
        const whose = owner === null ? `was not created by prefect-gitops${tagHint}` : `is owned by another prefect-gitops owner ("${owner}")`;
        conflicts.push({
          ...target,
          id: existing.id,
          declaredAt: d.declaredAt,
          owner,
          message: `deployment "${d.key}" already exists on the server and ${whose}; nothing will be changed. To manage it from git, adopt it: add \`gitops: {adopt: true}\` to its manifest or run with --adopt`,
        });
      }
      continue;
    }
    // Without schedule slugs (before Prefect 3.2) a live schedule is the declared one it equals.
    // With them, a schedule declared with `replaces: OLD` is the live schedule OLD, renamed.
    const renames = slugs ? scheduleRenames(d, existing) : [];
    const current = slugs ? renamed(existing, renames) : withContentSlugs(existing, want);
    const have = canonicalLive(current, want, automationsOf(existing));
    const wanted = serverCanStore(d.ignoreDifferences.length ? keepIgnored(want, have, d.ignoreDifferences) : want, have, options);
    const changes = [...renames.map((r) => ({ field: `schedules[${r.to}].slug`, before: r.from, after: r.to })), ...diffFields(have, wanted)];
    if (changes.length === 0) {
      unchanged.push(d.key);
      continue;
    }
    // Before Prefect 3.2 pull_steps and parameter_openapi_schema are not PATCHable: only a POST
    // upsert writes them, and it deletes and recreates the schedules (before 3.1 it overwrites every field).
    const upsert = !options.features.patchPullSteps && (!jsonEqual(have.pull_steps, wanted.pull_steps) || !jsonEqual(have.parameter_openapi_schema, wanted.parameter_openapi_schema));
    if (upsert) {
      warnings.push(`${d.key}: this Prefect server (${options.serverVersion}) cannot update pull_steps or parameter_openapi_schema in place (needs Prefect >= 3.2.0): the deployment is written whole (POST upsert), which recreates its schedules (new ids) and their scheduled runs`);
    }
    const ops = upsert ? { create: wanted.schedules.map(toBody), update: [], delete: [] } : withRenames(scheduleOps(current, have.schedules, wanted.schedules, slugs), current, wanted.schedules, renames, toBody);
    if (!slugs && !upsert && ops.create.length > 0 && ops.delete.length > 0) {
      warnings.push(`${d.key}: this Prefect server (${options.serverVersion}) has no schedule slugs (needs Prefect >= 3.2.0): schedules are matched by their content, so a changed schedule is deleted and created again (its id is not kept)`);
    }
    const patch = upsert ? {} : patchBody(d, have, wanted, options, warnings);
    updates.push({
      kind: 'update',
      ...target,
      id: existing.id,
      declaredAt: d.declaredAt,
      liveUpdated: existing.updated,
      lastUpdatedBy: existing.updated_by?.display_value ?? null,
      patch,
      ...(upsert ? { upsert: { ...createBody(d, wanted, options), ...(wanted.concurrency_limit === null && have.concurrency_limit !== null ? { concurrency_limit: null } : {}) } } : {}),
      scheduleOps: ops,
      replaceTriggers: jsonEqual(have.triggers, wanted.triggers) ? null : desiredTriggers(d.name, d.manifest.triggers),
      changes: showTriggers(changes, d.name, automationsOf(existing), desiredTriggers(d.name, d.manifest.triggers)),
      jsonPatch: fastJsonPatch.compare(comparable(have), comparable(wanted)),
    });
  }

  if (!live.automations && desired.some((d) => (d.manifest.triggers ?? []).length > 0)) {
    warnings.push('this Prefect server cannot tag automations (needs 3.4.7+), so triggers are created with new deployments but not compared or updated');
  }
  const owned = [...live.deployments.values()].filter((l) => ownerOf(l, marker) === options.owner);
  const keyById = new Map([...live.deployments].map(([key, l]) => [l.id, key]));
  const keyOf = (l: LiveDeployment): string => keyById.get(l.id) ?? `?/${l.name}`;
  const undeclared = owned.filter((l) => !declared.has(keyOf(l))).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  const orphans: Orphan[] = [];
  const deletable: DeleteAction[] = [];
  for (const l of undeclared) {
    const key = keyOf(l);
    const [flowName = '', name = l.name] = splitKey(key);
    const source = unreadSourceOf(name, options.unread);
    const why = source ? { whyUndeclared: explainUndeclared(source) } : {};
    const target = { key, flowName, name, id: l.id, ...why };
    if (!options.prune) orphans.push({ ...target, reason: 'prune-disabled' });
    else if (l.tags.includes(PROTECTED_TAG)) orphans.push({ ...target, reason: 'protected' });
    else deletable.push({ kind: 'delete', ...target, liveUpdated: l.updated, lastUpdatedBy: l.updated_by?.display_value ?? null });
  }
  const pruneRefused = options.allowMassDelete ? null : pruneGuard(deletable, owned.length, desired.length, options);
  const deletes = pruneRefused ? [] : deletable;
  if (pruneRefused) orphans.push(...deletable.map(({ kind: _kind, liveUpdated: _u, lastUpdatedBy: _b, ...d }) => ({ ...d, reason: 'prune-refused' as const })));

  const automationDeletes = orphanedAutomationDeletes(live, creates, options.prune && !pruneRefused, warnings);
  const actions: PlanAction[] = [...creates, ...adopts, ...updates, ...deletes, ...automationDeletes];
  return {
    formatVersion: 1,
    owner: options.owner,
    environment: options.environment ?? null,
    serverVersion: options.serverVersion,
    ...(options.toolVersion ? { toolVersion: options.toolVersion } : {}),
    actions,
    unchanged,
    conflicts,
    orphans,
    pruneRefused,
    warnings,
    summary: { add: creates.length, change: updates.length, delete: deletes.length + automationDeletes.length, adopt: adopts.length, unchanged: unchanged.length, conflicts: conflicts.length },
  };
}

/**
 * For showing an adoption: a live schedule without a slug (made by `prefect deploy`) that equals a
 * declared schedule in everything but the slug is that schedule, so the plan shows no change for
 * it. (Adoption recreates every schedule anyway, now with its slug.)
 */
function pairUnslugged(existing: LiveDeployment, have: CanonicalDeployment, want: CanonicalDeployment): CanonicalDeployment {
  const unmatched = new Map(want.schedules.filter((w) => !have.schedules.some((h) => h.slug === w.slug)).map((w) => [w.slug, w]));
  const schedules = have.schedules.filter((h) => !h.slug.startsWith('(no slug'));
  for (const raw of existing.schedules.filter((s) => !s.slug)) {
    let paired: CanonicalSchedule | undefined;
    for (const [slug, w] of unmatched) {
      // Read the live schedule as if it were that declared one (anchor, DTSTART), then compare.
      const candidate = { ...liveSchedule(raw, w), slug };
      if (jsonEqual(candidate, w)) {
        paired = candidate;
        unmatched.delete(slug);
        break;
      }
    }
    schedules.push(paired ?? liveSchedule(raw, undefined));
  }
  return { ...have, schedules: schedules.sort(bySlug) };
}

/**
 * Our automations left behind by a deployment deleted outside prefect-gitops: deleted with prune,
 * and also without it when a deployment this plan creates declares a trigger of the same name (the
 * deployment is being re-created; keeping the old one would leave two). Otherwise a warning says so.
 */
function orphanedAutomationDeletes(live: LiveState, creates: readonly CreateAction[], prune: boolean, warnings: string[]): DeleteAction[] {
  const recreated = new Set(creates.flatMap((c) => c.triggers.map((t) => t.name)));
  const out: DeleteAction[] = [];
  const orphans = [...(live.orphanedAutomations ?? [])].sort((a, b) => a.automation.name.localeCompare(b.automation.name) || a.automation.id.localeCompare(b.automation.id));
  for (const { automation, deploymentId } of orphans) {
    if (prune || recreated.has(automation.name)) {
      out.push({ kind: 'delete', key: `automation "${automation.name}"`, flowName: '', name: automation.name, id: automation.id, liveUpdated: '', lastUpdatedBy: null, orphanedAutomationOf: deploymentId });
    } else {
      warnings.push(`automation "${automation.name}" (${automation.id}) is orphaned: its deployment ${deploymentId} was deleted outside prefect-gitops; apply --prune removes it`);
    }
  }
  return out;
}

/** True when applying the plan would send at least one write. */
export const planHasChanges = (p: Plan): boolean => p.actions.length > 0 || (p.workspace?.actions.length ?? 0) > 0;


function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** The skipped file that names deployment `name`; one that was read for its content wins over a guess. */
function unreadSourceOf(name: string, unread: readonly UnreadSource[] = []): UnreadSource | undefined {
  const matches = unread.filter((u) => u.names.includes(name));
  return matches.find((u) => !u.guessed) ?? matches[0];
}

/** "no longer declared: deploy/.old/etl.yaml, which declared it, is in a hidden folder and is not read". */
export function explainUndeclared(source: UnreadSource): string {
  const which = source.guessed ? 'named like it' : source.emptied ? 'which declared it' : 'which declares it';
  return `no longer declared: ${source.file}, ${which}, ${source.why}`;
}

/**
 * Safeguards against mass or accidental deletion: an empty manifest set, more deletes than
 * `maxDeletes`, (for more than one delete) a larger share of the owned deployments than
 * `maxDeleteRatio`, or a delete of what an emptied manifest file declared (a truncated file is far
 * more often an accident than a way to remove a deployment: removing the file is). Any of them
 * refuses the whole apply, not only the deletes.
 */
function pruneGuard(deletes: readonly DeleteAction[], owned: number, declared: number, options: PlanOptions): string | null {
  const n = deletes.length;
  if (n === 0) return null;
  const nothing = 'nothing will be written';
  const lift = 'review the deletes, then use --allow-mass-delete';
  if (declared === 0) {
    return `the manifests declare no deployments, so prune would delete all ${n} owned deployment${n === 1 ? '' : 's'} (is the manifest directory or environment right?); ${nothing}; ${lift}`;
  }
  if (n > options.maxDeletes) return `prune would delete ${n} deployments > max_deletes ${options.maxDeletes}; ${nothing}; ${lift} or raise max_deletes`;
  if (n > 1 && n / owned > options.maxDeleteRatio) {
    return `prune would delete ${n} of ${owned} owned deployments (${Math.round((n / owned) * 100)}%) > max_delete_ratio ${Math.round(options.maxDeleteRatio * 100)}%; ${nothing}; ${lift} or raise max_delete_ratio`;
  }
  const emptied = deletes.filter((d) => unreadSourceOf(d.name, options.unread)?.emptied);
  if (emptied.length > 0) {
    const list = emptied.map((d) => `${d.key} (${unreadSourceOf(d.name, options.unread)!.file})`).join(', ');
    return `prune would delete ${list}, declared in a manifest file that is now empty; ${nothing}; restore the file, or delete it to remove ${emptied.length === 1 ? 'the deployment' : 'them'}, or use --allow-mass-delete`;
  }
  return null;
}

/**
 * `ignore_differences`: for each JSON pointer (over the comparable form, schedules keyed by slug),
 * the desired value becomes the live one, so the field is neither shown nor written.
 */
function keepIgnored(want: CanonicalDeployment, have: CanonicalDeployment, pointers: readonly string[]): CanonicalDeployment {
  const target = structuredClone(comparable(want)) as Record<string, unknown>;
  const source = comparable(have) as Record<string, unknown>;
  for (const pointer of pointers) {
    const segments = pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const found = lookup(source, segments);
    setAt(target, segments, found.exists ? structuredClone(found.value) : undefined);
  }
  const schedules = Object.entries((target.schedules ?? {}) as Record<string, Omit<CanonicalSchedule, 'slug'>>)
    .map(([slug, s]) => ({ slug, ...s }))
    .sort(bySlug);
  return { ...(target as unknown as CanonicalDeployment), schedules };
}

function lookup(root: unknown, segments: readonly string[]): { exists: boolean; value?: unknown } {
  let node = root;
  for (const segment of segments) {
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, segment)) return { exists: false };
    node = (node as Record<string, unknown>)[segment];
  }
  return { exists: true, value: node };
}

function setAt(root: Record<string, unknown>, segments: readonly string[], value: unknown): void {
  let node: Record<string, unknown> = root;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    if (next === null || typeof next !== 'object') {
      if (value === undefined) return;
      node[segment] = {};
    }
    node = node[segment] as Record<string, unknown>;
  }
  const last = segments.at(-1);
  if (last === undefined) return;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/**
 * Fields this server version cannot store or update keep their live value (with a warning), so
 * the plan does not show, and apply does not send, a change that could never stick.
 */
function serverCanStore(want: CanonicalDeployment, have: CanonicalDeployment, options: PlanOptions): CanonicalDeployment {
  let out = want;
  const f = options.features;
  // Declared fields the server lacks are reported once per deployment by serverSupportIssues (server-support.ts).
  if (!f.concurrencyOptions && !jsonEqual(want.concurrency_options, have.concurrency_options)) {
    out = { ...out, concurrency_options: have.concurrency_options };
  } else if (!f.gracePeriod && out.concurrency_options && out.concurrency_options.grace_period_seconds !== (have.concurrency_options?.grace_period_seconds ?? null)) {
    out = { ...out, concurrency_options: { ...out.concurrency_options, grace_period_seconds: have.concurrency_options?.grace_period_seconds ?? null } };
  }
  return out;
}


/** Schedules keyed by slug, so patches and diffs name schedules rather than array positions. */
function comparable(c: CanonicalDeployment): Record<string, Json> {
  return { ...c, schedules: Object.fromEntries(c.schedules.map(({ slug, ...rest }) => [slug, rest as unknown as Json])) } as unknown as Record<string, Json>;
}

/**
 * Every field (and schedule, by slug) whose live and desired canonical values differ, with keys
 * sorted on both sides: a diff then shows what changed, never keys that only moved.
 */
export function diffFields(have: CanonicalDeployment, want: CanonicalDeployment): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of DEPLOYMENT_FIELDS) {
    if (!jsonEqual(have[field], want[field])) changes.push({ field, before: sortKeys(have[field] as Json), after: sortKeys(want[field] as Json) });
  }
  const haveBySlug = new Map(have.schedules.map((s) => [s.slug, s]));
  const wantBySlug = new Map(want.schedules.map((s) => [s.slug, s]));
  for (const slug of [...new Set([...haveBySlug.keys(), ...wantBySlug.keys()])].sort()) {
    const before = haveBySlug.get(slug);
    const after = wantBySlug.get(slug);
    if (before && after && jsonEqual(before, after)) continue;
    changes.push({ field: `schedules[${slug}]`, before: before ? sortKeys(scheduleView(before)) : undefined, after: after ? sortKeys(scheduleView(after)) : undefined });
  }
  return changes;
}

/**
 * The `triggers` change with the fields of each changed trigger instead of its fingerprint, when
 * the live automations are known.
 */
function showTriggers(changes: FieldChange[], name: string, live: readonly LiveAutomation[] | undefined, desired: readonly DesiredTrigger[]): FieldChange[] {
  if (!live) return changes;
  return changes.map((c) => (c.field === 'triggers' ? (triggerChange(name, live, desired) ?? c) : c));
}

function creationChanges(want: CanonicalDeployment, triggers: readonly DesiredTrigger[]): FieldChange[] {
  const changes: FieldChange[] = DEPLOYMENT_FIELDS.map((field) => ({ field, before: undefined, after: field === 'triggers' ? triggerSpecs(triggers) : sortKeys(want[field] as Json) }));
  for (const s of want.schedules) changes.push({ field: `schedules[${s.slug}]`, before: undefined, after: sortKeys(scheduleView(s)) });
  return changes;
}

function scheduleView({ slug: _slug, ...rest }: CanonicalSchedule): Json {
  const spec = { ...rest.schedule } as Record<string, Json>;
  if (spec.anchor_date === '') delete spec.anchor_date;
  return { ...rest, schedule: spec } as unknown as Json;
}

/** The schedules sub-resource body; without slugs (before Prefect 3.2) it has neither `slug` nor `parameters`. */
function scheduleBody(s: CanonicalSchedule, slugs: boolean): ScheduleCreateBody {
  const schedule = { ...s.schedule } as Record<string, unknown>;
  if (schedule.anchor_date === '') delete schedule.anchor_date;
  return {
    schedule: schedule as unknown as ScheduleCreateBody['schedule'],
    active: s.active,
    ...(s.max_scheduled_runs !== null ? { max_scheduled_runs: s.max_scheduled_runs } : {}),
    ...(slugs ? { parameters: s.parameters, slug: s.slug } : {}),
  };
}

/** A live schedule to rename: declared with `replaces: from` and slug `to`. */
interface ScheduleRename {
  readonly from: string;
  readonly to: string;
}

/**
 * The renames a deployment's `replaces` ask for and the live schedules allow: the live deployment
 * has a schedule `from` and none `to` yet (after the rename it has `to`, and `replaces` then names
 * nothing: the next plan is empty). Validation has made sure `from` is declared by no schedule.
 */
function scheduleRenames(d: DesiredDeployment, live: LiveDeployment): ScheduleRename[] {
  const declared = (d.manifest.schedules ?? []) as ScheduleManifest[];
  const slugs = assignSlugs(declared);
  const liveSlugs = new Set(live.schedules.map((s) => s.slug));
  return declared.flatMap((s, i) => (s.replaces && liveSlugs.has(s.replaces) && !liveSlugs.has(slugs[i]!) ? [{ from: s.replaces, to: slugs[i]! }] : []));
}

function renamed(live: LiveDeployment, renames: readonly ScheduleRename[]): LiveDeployment {
  if (renames.length === 0) return live;
  const to = new Map(renames.map((r) => [r.from, r.to]));
  return { ...live, schedules: live.schedules.map((s) => (s.slug && to.has(s.slug) ? { ...s, slug: to.get(s.slug)! } : s)) };
}

/** A renamed schedule is written even when nothing else about it changed: the PATCH carries its new slug. */
function withRenames(ops: ScheduleOps, current: LiveDeployment, want: readonly CanonicalSchedule[], renames: readonly ScheduleRename[], toBody: (s: CanonicalSchedule) => ScheduleCreateBody): ScheduleOps {
  const extra = renames.flatMap((r) => {
    const live = current.schedules.find((s) => s.slug === r.to);
    const declared = want.find((s) => s.slug === r.to);
    if (!live || !declared || ops.update.some((u) => u.id === live.id) || ops.delete.some((x) => x.id === live.id)) return [];
    return [{ id: live.id, slug: r.to, body: toBody(declared) }];
  });
  return extra.length ? { ...ops, update: [...ops.update, ...extra] } : ops;
}

/**
 * For a server without schedule slugs: the live deployment with each schedule given the slug of a
 * declared schedule. First by content (the declared schedule it equals, read as that one: anchor,
 * DTSTART), each declared schedule taken once; then the rest by position (live in creation order,
 * declared in slug order), so an edited schedule is updated in place and keeps its id. Live
 * schedules left over keep no slug (the plan deletes them); declared ones left over are created.
 */
function withContentSlugs(live: LiveDeployment, want: CanonicalDeployment): LiveDeployment {
  const free = new Map(want.schedules.map((w) => [w.slug, w]));
  const slugOf = new Map<string, string>();
  for (const raw of live.schedules) {
    for (const [slug, w] of free) {
      if (jsonEqual({ ...liveSchedule({ ...raw, slug }, w), slug }, w)) {
        free.delete(slug);
        slugOf.set(raw.id, slug);
        break;
      }
    }
  }
  const rest = live.schedules.filter((s) => !slugOf.has(s.id)).sort((a, b) => (a.created ?? '').localeCompare(b.created ?? '') || a.id.localeCompare(b.id));
  const freeSlugs = [...free.keys()];
  rest.forEach((s, i) => {
    const slug = freeSlugs[i];
    if (slug !== undefined) slugOf.set(s.id, slug);
  });
  return { ...live, schedules: live.schedules.map((s) => ({ ...s, slug: slugOf.get(s.id) ?? null })) };
}

function concurrencyFields(want: CanonicalDeployment, options: PlanOptions): JsonObject {
  const out: JsonObject = { concurrency_limit: want.concurrency_limit };
  if (options.features.concurrencyOptions) {
    const o = want.concurrency_options;
    out.concurrency_options = o === null ? null : { collision_strategy: o.collision_strategy, ...(o.grace_period_seconds !== null && options.features.gracePeriod ? { grace_period_seconds: o.grace_period_seconds } : {}) };
  }
  return out;
}

const EMPTY_PARAMETER_SCHEMA: JsonObject = { type: 'object', properties: {} };

/** POST /deployments/ body (without flow_id and schedules), carrying our ownership label. */
function createBody(d: DesiredDeployment, want: CanonicalDeployment, options: PlanOptions): JsonObject {
  const queue = d.manifest.work_pool?.work_queue_name;
  const body: JsonObject = {
    name: d.name,
    description: want.description,
    version: want.version,
    entrypoint: want.entrypoint,
    path: want.path,
    tags: desiredTags(d, options.owner),
    // Without labels (before Prefect 3.1.5) the owner tag in `tags` is the marker.
    ...(options.features.labels ? { labels: { [OWNER_LABEL]: options.owner } } : {}),
    parameters: want.parameters,
    enforce_parameter_schema: want.enforce_parameter_schema,
    parameter_openapi_schema: Object.keys(want.parameter_openapi_schema).length ? want.parameter_openapi_schema : EMPTY_PARAMETER_SCHEMA,
    work_pool_name: want.work_pool_name,
    ...(queue ? { work_queue_name: queue } : {}),
    job_variables: want.job_variables,
    paused: want.paused,
    pull_steps: want.pull_steps,
    // An explicit empty list makes an upsert (adopt) drop the old schedules; ours are then created with slugs.
    schedules: [],
  };
  if (want.concurrency_limit !== null) Object.assign(body, concurrencyFields(want, options));
  return body;
}

/** PATCH body with only the changed fields; work pool and queue always travel together. */
function patchBody(d: DesiredDeployment, have: CanonicalDeployment, want: CanonicalDeployment, options: PlanOptions, warnings: string[]): JsonObject {
  const patch: JsonObject = {};
  const differs = (field: keyof CanonicalDeployment): boolean => !jsonEqual(have[field], want[field]);
  for (const field of ['description', 'version', 'entrypoint', 'path', 'parameters', 'enforce_parameter_schema', 'paused'] as const) {
    if (differs(field)) patch[field] = want[field];
  }
  // Tags in the manifest's order, unless ignore_differences kept (some of) the live ones.
  if (differs('tags')) {
    const declared = desiredTags(d, options.owner);
    patch.tags = jsonEqual([...declared].sort(), want.tags) ? declared : want.tags;
  }
  if (differs('parameter_openapi_schema')) patch.parameter_openapi_schema = Object.keys(want.parameter_openapi_schema).length ? want.parameter_openapi_schema : EMPTY_PARAMETER_SCHEMA;
  if (differs('work_pool_name') || differs('work_queue_name')) {
    patch.work_pool_name = want.work_pool_name;
    // The declared queue, the pool's `default` queue, or the live one when ignore_differences keeps it.
    patch.work_queue_name = want.work_queue_name;
  }
  if (differs('job_variables')) {
    patch.job_variables = want.job_variables;
    if (Object.keys(want.job_variables).length === 0) {
      warnings.push(`${d.key}: Prefect cannot clear job_variables to an empty mapping with an update; set the keys you want explicitly`);
    }
  }
  if (differs('concurrency_limit') || differs('concurrency_options')) Object.assign(patch, concurrencyFields(want, options));
  if (differs('pull_steps')) patch.pull_steps = want.pull_steps;
  return patch;
}

/**
 * Schedule operations by slug through the schedules sub-resource, so unchanged schedules keep
 * their ids and their scheduled runs. `max_scheduled_runs` cannot be cleared by PATCH (null is
 * ignored), so a schedule that drops it is deleted and created again.
 */
function scheduleOps(live: LiveDeployment, have: readonly CanonicalSchedule[], want: readonly CanonicalSchedule[], slugs: boolean): ScheduleOps {
  const liveBySlug = new Map(live.schedules.filter((s) => s.slug).map((s) => [s.slug!, s]));
  const haveBySlug = new Map(have.map((s) => [s.slug, s]));
  const create: ScheduleCreateBody[] = [];
  const update: { id: string; slug: string; body: ScheduleCreateBody }[] = [];
  const remove: { id: string; slug: string | null }[] = [];
  const wanted = new Set(want.map((s) => s.slug));
  for (const s of live.schedules) {
    if (!s.slug || !wanted.has(s.slug)) remove.push({ id: s.id, slug: s.slug });
  }
  for (const s of want) {
    const current = haveBySlug.get(s.slug);
    const liveSchedule = liveBySlug.get(s.slug);
    if (!current || !liveSchedule) create.push(scheduleBody(s, slugs));
    else if (!jsonEqual(current, s)) {
      if (current.max_scheduled_runs !== null && s.max_scheduled_runs === null) {
        remove.push({ id: liveSchedule.id, slug: s.slug });
        create.push(scheduleBody(s, slugs));
      } else update.push({ id: liveSchedule.id, slug: s.slug, body: scheduleBody(s, slugs) });
    }
  }
  return { create, update, delete: remove };
}
