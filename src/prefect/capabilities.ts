/**
 * What a Prefect server accepts, by version. Prefect's request models forbid unknown fields and
 * its filters unknown operators, so every body field and filter that did not exist in 3.0 (or,
 * for Prefect 2.19/2.20, in 2.x) is gated here; planner, apply and client read
 * `client.capabilities` instead of comparing versions. How 2.x spells what it does have (field
 * names, variable values, filters) is translated in src/prefect/v2.ts, not gated.
 *
 * The minimum versions are not guesses: test/fixtures/openapi/<version>.json holds what each
 * matrix version's own `/api/openapi.json` says (scripts/openapi-fixtures.ts writes them), and
 * test/unit/capabilities.test.ts checks {@link capabilitiesFor} against
 * {@link capabilitiesFromOpenApi} for each. Versions between two fixtures follow Prefect's
 * release history (read from its source at the release tags, noted per entry).
 */
export interface ServerCapabilities {
  /** `concurrency_limit` on DeploymentCreate (3.0.0): deployments of Prefect 2 have no concurrency limit. */
  readonly deploymentConcurrencyLimit: boolean;
  /** `labels` on DeploymentCreate (3.1.5). Without it ownership is the owner tag (src/plan/ownership.ts). */
  readonly labels: boolean;
  /** `concurrency_options` on DeploymentCreate/DeploymentUpdate (3.0.3). */
  readonly concurrencyOptions: boolean;
  /** `grace_period_seconds` in ConcurrencyOptions (3.6.6). */
  readonly gracePeriod: boolean;
  /** `slug` and `parameters` on DeploymentScheduleCreate/DeploymentScheduleUpdate (3.2.0). */
  readonly scheduleSlugs: boolean;
  /** `pull_steps` and `parameter_openapi_schema` on DeploymentUpdate (3.2.0); before, only a POST upsert writes them. */
  readonly patchPullSteps: boolean;
  /** `tags` on AutomationCreate and the `tags` automation filter (3.4.7). */
  readonly automationTags: boolean;
  /** `not_any_` in DeploymentFilterId (3.4.7). */
  readonly deploymentIdNotAny: boolean;
  /** `schedule_after` on the run-deployment automation action (3.4.15). */
  readonly triggerScheduleAfter: boolean;
  /**
   * Dashes in variable names (3.4.1; before, lowercase letters, digits and underscores only). A
   * validator, so not visible in the OpenAPI document: taken from Prefect's source
   * (`validate_variable_name` in server/schemas/actions.py until 3.4.0, `VariableName` from 3.4.1),
   * and checked for real by the apply lock on every matrix version.
   */
  readonly variableNameDashes: boolean;
}

/** Capabilities an OpenAPI document cannot show (validators, behaviour). */
export const NOT_IN_OPENAPI = ['variableNameDashes'] as const satisfies readonly Capability[];

export type Capability = keyof ServerCapabilities;

/** First release with each capability. */
export const CAPABILITY_MIN_VERSION = {
  deploymentConcurrencyLimit: '3.0.0',
  concurrencyOptions: '3.0.3',
  labels: '3.1.5',
  scheduleSlugs: '3.2.0',
  patchPullSteps: '3.2.0',
  automationTags: '3.4.7',
  deploymentIdNotAny: '3.4.7',
  triggerScheduleAfter: '3.4.15',
  variableNameDashes: '3.4.1',
  gracePeriod: '3.6.6',
} as const satisfies Record<Capability, string>;

const CAPABILITIES = Object.keys(CAPABILITY_MIN_VERSION) as Capability[];

/** Everything: the current API (Prefect Cloud, or a server newer than every gate). */
export const NEWEST_CAPABILITIES: ServerCapabilities = Object.freeze(Object.fromEntries(CAPABILITIES.map((c) => [c, true])) as unknown as ServerCapabilities);

/**
 * The capabilities of a server reporting `version` (as `GET /admin/version` does). A version newer
 * than every gate has them all, so unknown future versions assume the newest API; a version that
 * cannot be read has none.
 */
export function capabilitiesFor(version: string): ServerCapabilities {
  const have = parseVersion(version);
  const out = {} as Record<Capability, boolean>;
  for (const c of CAPABILITIES) {
    const need = parseVersion(CAPABILITY_MIN_VERSION[c])!;
    out[c] = have !== undefined && compareVersions(have, need) >= 0;
  }
  return out;
}

/** The version a capability needs, for messages ("needs Prefect >= 3.2.0"). */
export const minimumVersion = (c: Capability): string => CAPABILITY_MIN_VERSION[c];

/** A trimmed OpenAPI document: the properties of the schemas the gates read, and the paths. */
export interface OpenApiFixture {
  readonly version: string;
  readonly paths: readonly string[];
  /** Schema name -> its property names; a schema the server does not have is absent. */
  readonly schemas: Readonly<Record<string, readonly string[]>>;
}

/** The schemas {@link capabilitiesFromOpenApi} reads (the run-deployment action's name varies: `RunDeployment`, `RunDeployment-Input`). */
export const FIXTURE_SCHEMAS = [
  'DeploymentCreate',
  'DeploymentUpdate',
  'DeploymentScheduleCreate',
  'DeploymentScheduleUpdate',
  'ConcurrencyOptions',
  'AutomationCreate',
  'AutomationFilter',
  'DeploymentFilterId',
  'RunDeployment',
] as const;

/** The parts of a server's `/api/openapi.json` the fixtures keep. */
export interface OpenApiDocument {
  info?: { version?: string };
  paths?: Record<string, unknown>;
  components?: { schemas?: Record<string, { properties?: Record<string, unknown> }> };
}

/** The trimmed fixture of a full document served by Prefect `version`. */
export function trimOpenApi(doc: OpenApiDocument, version: string): OpenApiFixture {
  const all = doc.components?.schemas ?? {};
  const schemas: Record<string, string[]> = {};
  for (const name of FIXTURE_SCHEMAS) {
    // Pydantic splits a model used both ways into `Name-Input`/`Name-Output`; requests are `-Input`.
    const schema = all[name] ?? all[`${name}-Input`];
    if (schema) schemas[name] = Object.keys(schema.properties ?? {}).sort();
  }
  return { version, paths: Object.keys(doc.paths ?? {}).sort(), schemas };
}

/** What an OpenAPI document says the server accepts, gate by gate (all but {@link NOT_IN_OPENAPI}). */
export function capabilitiesFromOpenApi(doc: OpenApiFixture): Omit<ServerCapabilities, (typeof NOT_IN_OPENAPI)[number]> {
  const has = (schema: string, ...props: string[]): boolean => props.every((p) => doc.schemas[schema]?.includes(p) ?? false);
  return {
    deploymentConcurrencyLimit: has('DeploymentCreate', 'concurrency_limit'),
    labels: has('DeploymentCreate', 'labels'),
    concurrencyOptions: has('DeploymentCreate', 'concurrency_options') && has('DeploymentUpdate', 'concurrency_options'),
    gracePeriod: has('ConcurrencyOptions', 'grace_period_seconds'),
    scheduleSlugs: has('DeploymentScheduleCreate', 'slug', 'parameters') && has('DeploymentScheduleUpdate', 'slug', 'parameters'),
    patchPullSteps: has('DeploymentUpdate', 'pull_steps', 'parameter_openapi_schema'),
    automationTags: has('AutomationCreate', 'tags') && has('AutomationFilter', 'tags'),
    deploymentIdNotAny: has('DeploymentFilterId', 'not_any_'),
    triggerScheduleAfter: has('RunDeployment', 'schedule_after'),
  };
}

interface Version {
  major: number;
  minor: number;
  patch: number;
  /** dev/alpha/beta/rc builds sort before their release, so a gate at 3.2.0 excludes 3.2.0rc1. */
  prerelease: boolean;
}

export function parseVersion(text: string): Version | undefined {
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?(.*)$/.exec(text.trim());
  if (!match) return undefined;
  const rest = match[4] ?? '';
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3] ?? 0),
    prerelease: /^[.-]?(a|b|c|rc|alpha|beta|pre|preview|dev)\d*/i.test(rest),
  };
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || (a.prerelease === b.prerelease ? 0 : a.prerelease ? -1 : 1);
}
