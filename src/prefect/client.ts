import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { request as undiciRequest } from './http.js';
import { AmbiguousWriteError, GuardRefusedError, RemoteError, TimeLimitError, UnsupportedServerError, UserInputError } from '../errors.js';
import type { Logger } from '../log.js';
import { redactText } from '../render/redact.js';
import { VERSION } from '../version.js';
import { capabilitiesFor, compareVersions, NEWEST_CAPABILITIES, parseVersion, type ServerCapabilities } from './capabilities.js';
import { CLOUD_SERVER_VERSION, isPrefectCloudPath } from './cloud.js';
import { boundsFor, initialConcurrency, nextConcurrency, type ConcurrencySample, type ConcurrencyState } from './adaptive-concurrency.js';
import { deploymentCreateForV2, deploymentFromV2, deploymentUpdateForV2, OLDEST_PREFECT_2, scheduleForV2, scheduleFromV2, variableNameForV2, variableValueForV2, variableValueFromV2 } from './v2.js';
import type {
  AutomationListFilter,
  DeploymentCreateBody,
  DeploymentListFilter,
  DeploymentUpdateBody,
  Json,
  JsonObject,
  LiveDeployment,
  LiveAutomation,
  LiveFlow,
  LiveSchedule,
  LiveVariable,
  LiveWorkPool,
  RequestStats,
  ScheduleCreateBody,
  ScheduleUpdateBody,
} from './types.js';

export interface PrefectClientOptions {
  /** The API root, e.g. `http://127.0.0.1:4200/api` (a trailing slash is tolerated). */
  apiUrl: string;
  /** Sent as `Authorization: Bearer`. */
  apiKey?: string;
  /** `user:pass`, sent as `Authorization: Basic`. Wins over `apiKey`, as in Prefect's own client. */
  authString?: string;
  /** Per-attempt timeout covering headers and body; default 30 000 ms. A timed-out request is retried at most once. */
  timeoutMs?: number;
  /**
   * Total time limit for everything this client sends, from its creation (`--timeout`): past it no
   * request is sent and waits are cut short, with a {@link TimeLimitError}. Default: none.
   */
  totalTimeoutMs?: number;
  /**
   * When the total time limit ends (epoch ms), for a run that makes several clients (apply plans,
   * takes the lock, plans again): they share one limit. Default: `totalTimeoutMs` from creation.
   */
  deadlineAt?: number;
  /** Retries after the first attempt; default 5. */
  maxRetries?: number;
  /** Backoff unit: retry n waits about `2**n * retryBaseMs` (±20 %); default 1000 ms. */
  retryBaseMs?: number;
  /** Upper bound for any single wait, `Retry-After` included; default 30 000 ms. */
  maxRetryDelayMs?: number;
  /**
   * Requests in flight at most (`--concurrency`). By default the client adapts the number in flight
   * within [1, this] (AIMD, see adaptive-concurrency.ts), starting at min(this, 4); without it the
   * cap is 16.
   */
  concurrency?: number;
  /** `false` keeps exactly `concurrency` (default 8) in flight, as before the adaptive default; for benchmarks. */
  adaptiveConcurrency?: boolean;
  /** Gets one debug line per attempt (method, path, status, ms); never headers. */
  logger?: Logger;
  /** Replaces undici's global dispatcher; tests pass a MockAgent. */
  dispatcher?: Dispatcher;
}

/**
 * Statuses after which the server did not act: a 503 from Prefect means the transaction was rolled
 * back, a 429 was refused before it ran. Retried for every request.
 */
const NOT_PROCESSED_STATUSES: ReadonlySet<number> = new Set([429, 503]);
/**
 * Statuses that say nothing about whether the server acted: a gateway's 502/504/408 may come after
 * the server committed, and a 500 may come after the write. Retried only when sending the request
 * twice is harmless (see {@link isIdempotent}); a create is read back first.
 */
const AMBIGUOUS_STATUSES: ReadonlySet<number> = new Set([408, 500, 502, 504]);
/**
 * Failures after which the request may have reached the server and been processed: a reset, a
 * broken pipe or a timeout says nothing about whether the write happened. Retried only for
 * idempotent requests; anything else could be applied twice.
 */
const AMBIGUOUS_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'timeout',
]);
/** Codes that mean the peer closed or reset an established connection. */
const RESET_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
/** Timeouts are retried at most this many times per request: a server that hangs twice is hung. */
const MAX_TIMEOUT_RETRIES = 1;
/** Failures before a connection existed, so nothing was sent: any request may be retried. */
const UNSENT_ERROR_CODES: ReadonlySet<string> = new Set(['EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
/**
 * Also failures before anything was sent, but retried only once this client has reached the
 * server. Prefect's client does the same: a wrong PREFECT_API_URL should fail in milliseconds, not
 * after a minute of backoff.
 */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);
const MUTATING_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE']);
/** POSTs that only read. */
const READ_POST_PATH = /\/(filter|count|paginate)\/?$/;
/** POSTs the server treats as upserts: `POST /flows/` by name, `POST /deployments/` by (flow_id, name). */
const UPSERT_POST_PATH = /^\/(flows|deployments)\/?$/;
/** The server's maximum page size (PREFECT_SERVER_API_DEFAULT_LIMIT); larger limits get a 422. */
const PAGE_SIZE = 200;
const SHORT_BODY_MAX = 300;
const CLOUD_API_HOST = 'api.prefect.cloud';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** An earlier attempt of this request failed ambiguously: the server may already have acted on it. */
  maybeProcessedBefore: boolean;
}

/** A request that never produced a response; `code` is an errno-like string or `timeout`. */
class ConnectionFailure {
  constructor(readonly code: string) {}
}

/**
 * The only code in prefect-gitops that speaks HTTP to Prefect. Owns auth, CSRF, retries with
 * backoff, the in-flight bound, pagination, version gates, response checks and error mapping.
 * Every failure surfaces as a {@link RemoteError} whose text never contains headers or credentials.
 */
export class PrefectClient {
  private version = '';
  /**
   * What the connected server accepts (src/prefect/capabilities.ts), from its version at connect.
   * Before connect, or for a server whose version is not asked (Cloud), the newest API.
   */
  get capabilities(): ServerCapabilities {
    return this.serverCapabilities;
  }
  private serverCapabilities: ServerCapabilities = NEWEST_CAPABILITIES;
  /** A Prefect 2.19/2.20 server: bodies and responses go through src/prefect/v2.ts. */
  private v2 = false;
  /** Requests sent since creation or the last {@link resetStats}. */
  readonly stats: RequestStats = { reads: 0, writes: 0, retries: 0 };

  private readonly origin: string;
  private readonly basePath: string;
  private readonly authorization: string | undefined;
  private readonly secrets: readonly string[];
  private readonly timeoutMs: number;
  private readonly totalTimeoutMs: number | undefined;
  private readonly deadlineAt: number | undefined;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly logger: Logger | undefined;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly slots: Semaphore;
  /** The AIMD controller behind the in-flight bound; undefined when it is fixed. */
  private concurrencyState: ConcurrencyState | undefined;
  private readonly csrfClientId = randomUUID();
  private csrf: CsrfState;
  private csrfPending: Promise<void> | undefined;
  /** Connect errors are retried only after the server has answered once (see CONNECT_ERROR_CODES). */
  private reachedServer = false;

  /** Whether the server is Prefect 2 (2.19/2.20), whose dialect src/prefect/v2.ts translates. */
  get prefect2(): boolean {
    return this.v2;
  }

  /** The Prefect package version reported by `GET /admin/version` at connect, e.g. `3.8.3`. */
  get serverVersion(): string {
    return this.version;
  }

  private constructor(options: PrefectClientOptions) {
    const url = parseApiUrl(options.apiUrl);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    if (options.authString) {
      this.authorization = `Basic ${Buffer.from(options.authString, 'utf8').toString('base64')}`;
    } else if (options.apiKey) {
      this.authorization = `Bearer ${options.apiKey}`;
    }
    this.secrets = [options.apiKey, options.authString].filter((s): s is string => typeof s === 'string' && s.length > 0);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.totalTimeoutMs = options.totalTimeoutMs;
    this.deadlineAt = options.totalTimeoutMs === undefined ? undefined : (options.deadlineAt ?? Date.now() + options.totalTimeoutMs);
    this.maxRetries = Math.max(0, options.maxRetries ?? 5);
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.logger = options.logger;
    this.dispatcher = options.dispatcher;
    if (options.adaptiveConcurrency === false) {
      this.slots = new Semaphore(Math.max(1, options.concurrency ?? 8));
    } else {
      this.concurrencyState = initialConcurrency(boundsFor(options.concurrency));
      this.slots = new Semaphore(this.concurrencyState.limit);
    }
    // Prefect Cloud has no CSRF endpoint; the Python client never asks it for a token either.
    this.csrf = url.hostname === CLOUD_API_HOST || isPrefectCloudPath(url.pathname) ? { kind: 'disabled' } : { kind: 'unknown' };
  }

  /**
   * Creates a client and checks the server version with `GET /admin/version`; on Prefect Cloud
   * (src/prefect/cloud.ts) instead one authenticated read, and the current API is assumed.
   * @throws {UnsupportedServerError} when the server is older than 3.0 or reports a version we cannot parse.
   * @throws {RemoteError} when the server cannot be reached or rejects the credentials.
   * @throws {UserInputError} when `apiUrl` is not an http(s) URL or carries credentials.
   */
  static async connect(options: PrefectClientOptions): Promise<PrefectClient> {
    const client = new PrefectClient(options);
    if (isPrefectCloudPath(client.basePath)) {
      // Prefect Cloud (…/api/accounts/<id>/workspaces/<id>): no version check, as Prefect's own
      // client does; the current API is assumed. One cheap authenticated read still proves the
      // workspace and the key before anything is planned.
      await client.request<unknown>('POST', '/deployments/filter', { limit: 1 });
      client.version = CLOUD_SERVER_VERSION;
      client.serverCapabilities = NEWEST_CAPABILITIES;
      return client;
    }
    const version = await client.readVersion().catch((error: unknown) => {
      // http://host:4200 instead of http://host:4200/api: the server answers 404 (or its UI's HTML).
      if (!/\/api$/.test(client.basePath) && error instanceof RemoteError && error.status !== undefined && (error.status === 404 || error.status < 400)) {
        throw new UserInputError(
          `the Prefect API URL ${client.origin}${client.basePath} does not answer as a Prefect API (GET /admin/version${error instanceof RemoteError && error.status ? ` -> ${error.status}` : ''})`,
          `the API URL usually ends in /api: try ${client.origin}${client.basePath}/api`,
        );
      }
      throw error;
    });
    const parsed = parseVersion(version);
    const oldest2 = parseVersion(OLDEST_PREFECT_2)!;
    if (!parsed || parsed.major < 2 || (parsed.major === 2 && compareVersions(parsed, oldest2) < 0)) {
      throw new UnsupportedServerError(
        `Prefect server ${version.slice(0, 60)} is not supported: prefect-gitops needs Prefect 3.x, or ${OLDEST_PREFECT_2.replace(/\.0$/, '')}+ of Prefect 2`,
        'GET',
        '/admin/version',
      );
    }
    client.v2 = parsed.major === 2;
    if (parsed.major > 3) {
      client.logger?.warn({ serverVersion: version }, 'Prefect server is newer than 3.x; continuing, but it is untested');
    }
    client.version = version;
    client.serverCapabilities = capabilitiesFor(version);
    return client;
  }

  /**
   * The in-flight bound: its current `limit`, the highest it reached, its cap `max`, and how often
   * the controller raised or lowered it (both 0 when it is fixed).
   */
  get concurrency(): { limit: number; peak: number; max: number; increases: number; decreases: number } {
    const s = this.concurrencyState;
    if (!s) return { limit: this.slots.limit, peak: this.slots.limit, max: this.slots.limit, increases: 0, decreases: 0 };
    return { limit: s.limit, peak: s.peak, max: s.bounds.max, increases: s.increases, decreases: s.decreases };
  }

  private observe(sample: ConcurrencySample): void {
    if (!this.concurrencyState) return;
    const before = this.concurrencyState.limit;
    this.concurrencyState = nextConcurrency(this.concurrencyState, sample);
    if (this.concurrencyState.limit !== before) {
      this.slots.setLimit(this.concurrencyState.limit);
      this.logger?.debug({ from: before, to: this.concurrencyState.limit, signal: sample.kind }, 'prefect request concurrency changed');
    }
  }

  /** Zeroes the counters in place, so a reference to {@link stats} stays valid. */
  resetStats(): void {
    this.stats.reads = 0;
    this.stats.writes = 0;
    this.stats.retries = 0;
  }

  /** `GET /admin/version`: the Prefect package version (not the API schema version, which is the same on 2.x and 3.x). */
  async readVersion(): Promise<string> {
    const version = await this.request<unknown>('GET', '/admin/version');
    if (typeof version !== 'string') throw unexpected('GET', '/admin/version', 'the version is not a string');
    return version;
  }

  /**
   * All deployments matching the filter, via `POST /deployments/filter` paged by offset and
   * deduplicated by id (offset paging can repeat rows when data changes mid-scan). Filters combine
   * with AND; an empty `flowNames`, `ids`, `tagsAny` or `workPools` matches nothing; more than 200
   * flow names are split into several scans.
   */
  async listDeployments(filter: DeploymentListFilter): Promise<LiveDeployment[]> {
    if ([filter.flowNames, filter.ids, filter.tagsAny, filter.workPools].some((list) => list?.length === 0)) return [];
    const deployments: JsonObject = {};
    const tags: JsonObject = {};
    if (filter.tagsAll && filter.tagsAll.length > 0) tags.all_ = filter.tagsAll;
    // Prefect 2 has no tags.any_: there the tags are matched here instead.
    const tagsAnyHere = this.v2 ? filter.tagsAny : undefined;
    if (filter.tagsAny && !tagsAnyHere) tags.any_ = filter.tagsAny;
    if (Object.keys(tags).length > 0) deployments.tags = tags;
    // `not_any_` exists from Prefect 3.4.7; before, the excluded ids are dropped here instead.
    const excludeHere = this.capabilities.deploymentIdNotAny ? [] : (filter.excludeIds ?? []);
    const excludeOnServer = this.capabilities.deploymentIdNotAny ? (filter.excludeIds ?? []) : [];
    if (filter.ids || excludeOnServer.length) {
      deployments.id = { ...(filter.ids ? { any_: filter.ids } : {}), ...(excludeOnServer.length ? { not_any_: excludeOnServer } : {}) };
    }
    const base: JsonObject = Object.keys(deployments).length > 0 ? { deployments } : {};
    if (filter.workPools) base.work_pools = { name: { any_: filter.workPools } };
    const bodies = filter.flowNames
      ? chunk(filter.flowNames, PAGE_SIZE).map((names): JsonObject => ({ ...base, flows: { name: { any_: names } } }))
      : [base];
    const byId = new Map<string, LiveDeployment>();
    for (const body of bodies) await this.scan('/deployments/filter', body, this.checkDeployment, byId);
    const excluded = new Set(excludeHere);
    return [...byId.values()].filter((d) => !excluded.has(d.id) && (!tagsAnyHere || tagsAnyHere.some((t) => d.tags.includes(t))));
  }

  /** All flows with any of the given ids and any of the given names (`POST /flows/filter`, paged, deduplicated). */
  async listFlows(filter: { ids?: string[]; names?: string[] }): Promise<LiveFlow[]> {
    if (filter.ids?.length === 0 || filter.names?.length === 0) return [];
    const flows: JsonObject = {};
    if (filter.ids) flows.id = { any_: filter.ids };
    const bodies = filter.names
      ? chunk(filter.names, PAGE_SIZE).map((names): JsonObject => ({ flows: { ...flows, name: { any_: names } } }))
      : [Object.keys(flows).length > 0 ? { flows } : {}];
    const byId = new Map<string, LiveFlow>();
    for (const body of bodies) await this.scan('/flows/filter', body, checkFlow, byId);
    return [...byId.values()];
  }

  /** `GET /deployments/{id}`; `undefined` when it does not exist. */
  async readDeployment(id: string): Promise<LiveDeployment | undefined> {
    const path = `/deployments/${encodeURIComponent(id)}`;
    const reply = await this.send('GET', path, undefined);
    if (reply.status === 404) return undefined;
    return this.checkDeployment(this.json('GET', path, this.expect('GET', path, reply, [200])), 'GET', path);
  }

  /** `GET /deployments/name/{flow}/{name}`; `undefined` when it does not exist. Names containing `/` or `%` cannot be addressed. */
  async readDeploymentByName(flowName: string, name: string): Promise<LiveDeployment | undefined> {
    const path = `/deployments/name/${encodeURIComponent(flowName)}/${encodeURIComponent(name)}`;
    const reply = await this.send('GET', path, undefined);
    if (reply.status === 404) return undefined;
    return this.checkDeployment(this.json('GET', path, this.expect('GET', path, reply, [200])), 'GET', path);
  }

  /** `POST /flows/ {name}`: idempotent by name, returns the new or existing flow. */
  async ensureFlow(name: string): Promise<LiveFlow> {
    const path = '/flows/';
    const reply = this.expect('POST', path, await this.send('POST', path, { name }), [200, 201]);
    return checkFlow(this.json('POST', path, reply), 'POST', path);
  }

  /**
   * `POST /deployments/`. The server upserts on (flow_id, name): a 200 instead of 201 means the
   * deployment already existed and was overwritten, which is logged as a warning unless `overwrite`
   * says that is the intent (an update written as an upsert).
   */
  async createDeployment(body: DeploymentCreateBody, options: { overwrite?: boolean; guard?: SendOptions['guard'] } = {}): Promise<LiveDeployment> {
    const path = '/deployments/';
    const reply = this.expect('POST', path, await this.send('POST', path, this.v2 ? deploymentCreateForV2(body) : body, options.guard ? { guard: options.guard } : {}), [200, 201]);
    const deployment = this.checkDeployment(this.json('POST', path, reply), 'POST', path);
    // After a lost answer the 200 is most likely our own first attempt, not someone else's deployment.
    if (reply.status === 200 && !reply.maybeProcessedBefore && !options.overwrite) {
      this.logger?.warn({ deploymentId: deployment.id, name: deployment.name }, 'deployment already existed; the create updated it');
    }
    return deployment;
  }

  /** `PATCH /deployments/{id}` (204). Every PATCH wipes future auto-scheduled runs, so callers skip no-op updates. */
  async updateDeployment(id: string, body: DeploymentUpdateBody): Promise<void> {
    const path = `/deployments/${encodeURIComponent(id)}`;
    this.expect('PATCH', path, await this.send('PATCH', path, this.v2 ? deploymentUpdateForV2(body) : body), [204]);
  }

  /** `DELETE /deployments/{id}` (204); a 404 means it is already gone and is not an error. */
  async deleteDeployment(id: string): Promise<void> {
    const path = `/deployments/${encodeURIComponent(id)}`;
    this.expect('DELETE', path, await this.send('DELETE', path, undefined), [204, 404]);
  }

  /**
   * `POST /deployments/{id}/schedules` with a bare array (201); the only create path that keeps
   * `max_scheduled_runs`. After an ambiguous failure the deployment is read back and the schedules
   * (found by slug; the server creates them in one transaction) are returned instead of sent again.
   */
  async createSchedules(deploymentId: string, schedules: ScheduleCreateBody[]): Promise<LiveSchedule[]> {
    const path = `/deployments/${encodeURIComponent(deploymentId)}/schedules`;
    const slugs = schedules.map((s) => s.slug);
    // Without slugs (Prefect 2, and 3.x before 3.2) nothing in a schedule says it is ours: note the
    // ids there before sending, so that after a lost answer the schedules added since are ours
    // (the apply lock keeps other applies out; one POST creates all of them or none).
    const slugless = slugs.some((slug) => slug === undefined);
    const before = slugless ? new Set((await this.readDeployment(deploymentId))?.schedules.map((s) => s.id) ?? []) : undefined;
    const find = async (): Promise<LiveSchedule[] | undefined> => {
      const live = await this.readDeployment(deploymentId);
      if (before) {
        const added = live?.schedules.filter((s) => !before.has(s.id)) ?? [];
        // None added: the server did not act, send again. Another count: someone else added
        // schedules meanwhile; sending again may leave an extra one, which the next plan shows.
        return added.length === schedules.length ? added : undefined;
      }
      const found = slugs.map((slug) => live?.schedules.find((s) => s.slug === slug));
      return found.every((s) => s !== undefined) ? (found as LiveSchedule[]) : undefined;
    };
    const sent = this.v2 ? schedules.map(scheduleForV2) : schedules;
    return this.createOnce(path, sent, [201], (reply) => {
      const items = this.json('POST', path, reply);
      if (!Array.isArray(items)) throw unexpected('POST', path, 'expected an array of schedules');
      return items.map((item, i) => checkSchedule(this.v2 ? scheduleFromV2(item) : item, 'POST', path, `item ${i}`));
    }, find);
  }

  /** `PATCH /deployments/{id}/schedules/{scheduleId}` (204). Note that an omitted `parameters` is written as `{}`. */
  async updateSchedule(deploymentId: string, scheduleId: string, body: ScheduleUpdateBody): Promise<void> {
    const path = `/deployments/${encodeURIComponent(deploymentId)}/schedules/${encodeURIComponent(scheduleId)}`;
    this.expect('PATCH', path, await this.send('PATCH', path, this.v2 ? scheduleForV2(body) : body), [204]);
  }

  /**
   * `DELETE /deployments/{id}/schedules/{scheduleId}` (204). A 404 is an error (the plan did not see
   * the schedule go), except when an earlier attempt may have deleted it: then it is gone, as asked.
   */
  async deleteSchedule(deploymentId: string, scheduleId: string): Promise<void> {
    const path = `/deployments/${encodeURIComponent(deploymentId)}/schedules/${encodeURIComponent(scheduleId)}`;
    const reply = await this.send('DELETE', path, undefined);
    this.expect('DELETE', path, reply, reply.maybeProcessedBefore ? [204, 404] : [204]);
  }

  /** `DELETE /automations/{id}` (204); a 404 means it is already gone and is not an error. */
  async deleteAutomation(id: string): Promise<void> {
    const path = `/automations/${encodeURIComponent(id)}`;
    this.expect('DELETE', path, await this.send('DELETE', path, undefined), [204, 404]);
  }

  /**
   * `DELETE /automations/owned-by/prefect.deployment.{id}` (202). Deleting a deployment does not
   * delete its automations, so this runs first. A 404 means the server has no automations API.
   */
  async deleteOwnedAutomations(deploymentId: string): Promise<void> {
    const path = `/automations/owned-by/prefect.deployment.${encodeURIComponent(deploymentId)}`;
    this.expect('DELETE', path, await this.send('DELETE', path, undefined), [200, 202, 204, 404]);
  }

  /**
   * `POST /automations/filter`, paged and deduplicated: every automation, or those carrying all of
   * `tagsAll` (given as the filter or, as before, as the bare list). Each comes with its trigger
   * and all its actions. A server without the automations API (404) has none.
   */
  async listAutomations(filter?: AutomationListFilter): Promise<LiveAutomation[]>;
  async listAutomations(tagsAll: string[]): Promise<LiveAutomation[]>;
  async listAutomations(filter: AutomationListFilter | string[] = {}): Promise<LiveAutomation[]> {
    const tagsAll = Array.isArray(filter) ? filter : filter.tagsAll;
    const names = Array.isArray(filter) ? undefined : filter.names;
    if (names?.length === 0) return [];
    const automations: JsonObject = {};
    // Before Prefect 3.4.7 there is no tags filter (nor tags): ours carry them in the description.
    const tagsHere = this.capabilities.automationTags ? undefined : tagsAll;
    if (tagsAll && !tagsHere) automations.tags = { all_: tagsAll };
    if (names) automations.name = { any_: names };
    const body: JsonObject = Object.keys(automations).length > 0 ? { automations } : {};
    const byId = new Map<string, LiveAutomation>();
    try {
      await this.scan('/automations/filter', body, checkAutomation, byId);
    } catch (error) {
      if (error instanceof RemoteError && error.status === 404) return [];
      throw error;
    }
    if (tagsHere) return [...byId.values()].filter((a) => tagsHere.every((t) => a.tags.includes(t)));
    return [...byId.values()];
  }

  /** `GET /variables/name/{name}`: the variable's value; `undefined` when there is no such variable. */
  async readVariable(name: string): Promise<Json | undefined> {
    const path = `/variables/name/${encodeURIComponent(name)}`;
    const reply = await this.send('GET', path, undefined);
    if (reply.status === 404) return undefined;
    const value = this.json('GET', path, this.expect('GET', path, reply, [200]));
    if (!isRecord(value) || !('value' in value)) throw unexpected('GET', path, 'the variable has no value');
    return value.value as Json;
  }

  /**
   * `POST /automations/` (201). After an ambiguous failure it looks for an automation with the same
   * name, the same tags and the same run-deployment target, and returns that instead of making a second.
   */
  async createAutomation(body: JsonObject): Promise<{ id: string }> {
    const path = '/automations/';
    const find = async (): Promise<{ id: string } | undefined> => {
      if (typeof body.name !== 'string') return undefined;
      const tags = Array.isArray(body.tags) ? body.tags.filter((t): t is string => typeof t === 'string') : [];
      const targets = (a: { actions: readonly JsonObject[] }): string[] => a.actions.map((x) => String(x.deployment_id ?? ''));
      const wanted = targets({ actions: Array.isArray(body.actions) ? body.actions.filter(isRecord) as JsonObject[] : [] });
      const candidates = await this.listAutomations({ names: [body.name] });
      const same = candidates.find((a) => a.name === body.name && tags.every((t) => a.tags.includes(t)) && JSON.stringify(targets(a)) === JSON.stringify(wanted));
      return same ? { id: same.id } : undefined;
    };
    const sent = this.capabilities.automationTags ? body : tagsIntoDescription(body);
    return this.createOnce(path, sent, [201], (reply) => {
      const value = this.json('POST', path, reply);
      if (!isRecord(value) || typeof value.id !== 'string') throw unexpected('POST', path, 'the automation has no string id');
      return { id: value.id };
    }, find);
  }

  /** `GET /work_pools/{name}`; `undefined` when there is no such pool. */
  async readWorkPool(name: string): Promise<LiveWorkPool | undefined> {
    const path = `/work_pools/${encodeURIComponent(name)}`;
    const reply = await this.send('GET', path, undefined);
    if (reply.status === 404) return undefined;
    return checkWorkPool(this.json('GET', path, this.expect('GET', path, reply, [200])), 'GET', path);
  }

  /** `GET /work_pools/{pool}/queues/{name}`; undefined when the pool or the queue does not exist (404). */
  async readWorkQueue(pool: string, name: string): Promise<{ id: string; name: string } | undefined> {
    const path = `/work_pools/${encodeURIComponent(pool)}/queues/${encodeURIComponent(name)}`;
    const reply = await this.send('GET', path, undefined);
    if (reply.status === 404) return undefined;
    const value = this.json('GET', path, this.expect('GET', path, reply, [200]));
    if (!isRecord(value)) throw unexpected('GET', path, 'work queue is not an object');
    requireStrings(value, ['id', 'name'], 'GET', path, 'work queue');
    return { id: value.id as string, name: value.name as string };
  }

  /** `POST /work_pools/` (201); 409 if it exists, 403 for names starting with `prefect`. */
  async createWorkPool(body: { name: string; type: string }): Promise<LiveWorkPool> {
    const path = '/work_pools/';
    return this.createOnce(path, body, [201], (reply) => checkWorkPool(this.json('POST', path, reply), 'POST', path), () => this.readWorkPool(body.name));
  }

  /** `POST /flow_runs/count` with the body as given. */
  async countFlowRuns(filter: JsonObject): Promise<number> {
    const count = await this.request<unknown>('POST', '/flow_runs/count', filter);
    if (typeof count !== 'number') throw unexpected('POST', '/flow_runs/count', 'the count is not a number');
    return count;
  }

  // Variables as records (the apply lock, src/apply/lock.ts) and deployment guards (src/apply/apply.ts).

  /**
   * `POST /variables/` (201): the new variable, or `undefined` when one of that name exists (409).
   * Names are unique on the server. After an ambiguous failure it reads the name back: holding
   * exactly our value, the variable is the one we created; another value means someone else's (as a 409).
   */
  async createVariable(body: { name: string; value: Json; tags?: string[] }): Promise<LiveVariable | undefined> {
    const path = '/variables/';
    const find = async (): Promise<LiveVariable | null | undefined> => {
      const found = await this.readVariableRecord(body.name);
      if (!found) return undefined;
      return sameJson(found.variable.value, body.value) ? found.variable : null;
    };
    // Variable names take dashes only from Prefect 3.4.1 (2.x and older 3.x: underscores).
    const named = this.capabilities.variableNameDashes ? body : { ...body, name: variableNameForV2(body.name) };
    const sent = this.v2 ? { ...named, value: variableValueForV2(body.value) } : named;
    const created = await this.createOnce<LiveVariable | null>(path, sent, [201, 409], (reply) => (reply.status === 409 ? null : this.checkVariable(this.json('POST', path, reply), 'POST', path)), find);
    return created ?? undefined;
  }

  /**
   * `GET /variables/name/{name}` with the server's clock: `serverTime` is the reply's `Date` header
   * (ms since the epoch; `undefined` when absent), to compare with `updated` without trusting our own clock.
   */
  async readVariableRecord(name: string): Promise<{ variable: LiveVariable; serverTime: number | undefined } | undefined> {
    const path = `/variables/name/${encodeURIComponent(this.capabilities.variableNameDashes ? name : variableNameForV2(name))}`;
    const reply = await this.send('GET', path, undefined);
    if (reply.status === 404) return undefined;
    const variable = this.checkVariable(this.json('GET', path, this.expect('GET', path, reply, [200])), 'GET', path);
    const date = reply.headers.date;
    const serverTime = typeof date === 'string' ? Date.parse(date) : Number.NaN;
    return { variable, serverTime: Number.isNaN(serverTime) ? undefined : serverTime };
  }

  /**
   * `PATCH /variables/{id}` with a new value (204, which also moves `updated`); `false` when the
   * variable is gone (404). `priority` goes ahead of the requests waiting for a slot (lease renewals, see {@link SendOptions}).
   */
  async updateVariableValue(id: string, value: Json, options: { priority?: boolean } = {}): Promise<boolean> {
    const path = `/variables/${encodeURIComponent(id)}`;
    const reply = this.expect('PATCH', path, await this.send('PATCH', path, { value: this.v2 ? variableValueForV2(value) : value }, options), [204, 404]);
    return reply.status === 204;
  }

  /**
   * One `POST /variables/filter` (no paging, so one snapshot of the server's state): the variables
   * with all of `tagsAll`, any of `nameAny` and a name containing `nameLike` (SQL `LIKE`: `_` matches
   * any one character), or with `anyCriterion` those matching any one of these; with the server's clock as in {@link readVariableRecord}. `complete` is false
   * when the page came back full: there may be more, and the caller narrows the filter.
   */
  async filterVariablesOnce(filter: { tagsAll?: string[]; nameAny?: string[]; nameLike?: string; anyCriterion?: boolean }): Promise<{ variables: LiveVariable[]; serverTime: number | undefined; complete: boolean }> {
    const path = '/variables/filter';
    const variables: JsonObject = filter.anyCriterion ? { operator: 'or_' } : {};
    if (filter.tagsAll) variables.tags = { all_: filter.tagsAll };
    const name: JsonObject = {};
    if (filter.nameAny) name.any_ = this.capabilities.variableNameDashes ? filter.nameAny : filter.nameAny.map(variableNameForV2);
    if (filter.nameLike !== undefined) name.like_ = filter.nameLike;
    if (Object.keys(name).length > 0) variables.name = name;
    const reply = this.expect('POST', path, await this.send('POST', path, { variables, sort: 'NAME_ASC', limit: PAGE_SIZE, offset: 0 }), [200]);
    const page = this.json('POST', path, reply);
    if (!Array.isArray(page)) throw unexpected('POST', path, 'expected an array');
    const date = reply.headers.date;
    const serverTime = typeof date === 'string' ? Date.parse(date) : Number.NaN;
    return { variables: page.map((v) => this.checkVariable(v, 'POST', path)), serverTime: Number.isNaN(serverTime) ? undefined : serverTime, complete: page.length < PAGE_SIZE };
  }

  /**
   * One `POST /deployments/filter` (no paging, so one snapshot) of the deployments named any of
   * `names` in any of `flowNames`; `complete` is false when the page came back full.
   */
  async filterDeploymentsByNameOnce(flowNames: string[], names: string[]): Promise<{ deployments: LiveDeployment[]; complete: boolean }> {
    const path = '/deployments/filter';
    const page = await this.request<unknown>('POST', path, { flows: { name: { any_: flowNames } }, deployments: { name: { any_: names } }, limit: PAGE_SIZE, offset: 0 });
    if (!Array.isArray(page)) throw unexpected('POST', path, 'expected an array');
    return { deployments: page.map((d, i) => this.checkDeployment(d, 'POST', path, `item ${i}`)), complete: page.length < PAGE_SIZE };
  }

  /** `DELETE /variables/{id}` (204); by id, so it never removes a newer variable of the same name. 404 means already gone. */
  /** @param options.cleanup a lock or claim of this run: sent for a short grace after the total time limit. */
  async deleteVariableById(id: string, options: { cleanup?: boolean } = {}): Promise<void> {
    const path = `/variables/${encodeURIComponent(id)}`;
    this.expect('DELETE', path, await this.send('DELETE', path, undefined, options), [204, 404]);
  }

  /** `GET /automations/related-to/prefect.deployment.{id}`: automations that own or act on the deployment. A server without the automations API (404) has none. */
  async listAutomationsOfDeployment(deploymentId: string): Promise<LiveAutomation[]> {
    const path = `/automations/related-to/prefect.deployment.${encodeURIComponent(deploymentId)}`;
    const reply = await this.send('GET', path, undefined);
    if (reply.status === 404) return [];
    const items = this.json('GET', path, this.expect('GET', path, reply, [200]));
    if (!Array.isArray(items)) throw unexpected('GET', path, 'expected an array of automations');
    return items.map((item, i) => checkAutomation(item, 'GET', path, `item ${i}`));
  }

  /**
   * Sends one request (with auth, CSRF, retries and the in-flight bound) and returns the parsed
   * JSON body, or `undefined` for an empty one. The result is not validated: callers own `T`.
   * @param path relative to the API root, e.g. `/deployments/filter`.
   * @throws {RemoteError} for any non-2xx status or a connection failure after retries.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const upper = method.toUpperCase();
    const relative = path.startsWith('/') ? path : `/${path}`;
    const reply = await this.send(upper, relative, body);
    return this.json(upper, relative, this.expect(upper, relative, reply, 'any-2xx')) as T;
  }

  // ---------------------------------------------------------------------------------------------

  /** A deployment as it arrived, checked, in the 3.x shape whatever the server's version. */
  private readonly checkDeployment = (value: unknown, method: string, path: string, where?: string): LiveDeployment =>
    checkDeployment(this.v2 && isRecord(value) ? deploymentFromV2(value) : value, method, path, where);

  /** A variable record; on 2.x the JSON a string value holds (see variableValueFromV2). */
  private checkVariable(value: unknown, method: string, path: string): LiveVariable {
    const variable = checkVariable(value, method, path);
    return this.v2 ? { ...variable, value: variableValueFromV2(variable.value) as Json } : variable;
  }

  /** Offset-pages one filter body until a short page, adding items to `into` keyed (and so deduplicated) by id. */
  private async scan<T extends { id: string }>(
    path: string,
    filter: JsonObject,
    check: (value: unknown, method: string, path: string, where?: string) => T,
    into: Map<string, T>,
  ): Promise<void> {
    // CREATED_DESC puts rows created mid-scan in front, which shifts later pages and yields duplicates
    // (dropped by id) rather than silently skipping rows as NAME_ASC would.
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const page = await this.request<unknown>('POST', path, { ...filter, sort: 'CREATED_DESC', limit: PAGE_SIZE, offset });
      if (!Array.isArray(page)) throw unexpected('POST', path, 'expected an array');
      const before = into.size;
      page.forEach((value, i) => {
        const item = check(value, 'POST', path, `item ${offset + i}`);
        if (!into.has(item.id)) into.set(item.id, item);
      });
      if (page.length < PAGE_SIZE) return;
      // A server that ignores `offset` would otherwise keep us here forever.
      if (into.size === before) throw unexpected('POST', path, `paging did not advance at offset ${offset}`);
    }
  }

  /** Throws the mapped RemoteError unless the status is one of `ok`. */
  private expect(method: string, path: string, reply: Reply, ok: readonly number[] | 'any-2xx'): Reply {
    const accepted = ok === 'any-2xx' ? reply.status >= 200 && reply.status < 300 : ok.includes(reply.status);
    if (accepted) return reply;
    throw this.statusError(method, path, reply);
  }

  private json(method: string, path: string, reply: Reply): unknown {
    if (reply.text.trim() === '') return undefined;
    try {
      return JSON.parse(reply.text) as unknown;
    } catch {
      throw unexpected(method, path, 'the body is not JSON', reply.status);
    }
  }

  private statusError(method: string, path: string, reply: Pick<Reply, 'status' | 'text'>): RemoteError {
    // The same redaction as everything shown: sensitive keys, URL passwords, the credentials in use.
    const body = shortBody(redactText(reply.text, this.secrets));
    return new RemoteError(statusMessage(reply.status), method, path, reply.status, body || undefined);
  }

  /**
   * Retries, CSRF and the in-flight bound around {@link attempt}; returns the final response whatever its status.
   * 429 and 503 are retried for every request (the server did not act: a 503 from Prefect means the
   * transaction was rolled back), and so are connection failures before anything was sent. A failure
   * after which the server may have acted (a reset, a timeout, 408/500/502/504) is retried only when
   * sending the request twice is harmless; otherwise it throws {@link AmbiguousWriteError}, which the
   * create operations answer by reading back ({@link createOnce}).
   */
  private async send(method: string, path: string, body: unknown, options: SendOptions = {}): Promise<Reply> {
    const mutating = MUTATING_METHODS.has(method);
    const route = path.split('?')[0] ?? '';
    const idempotent = isIdempotent(method, route);
    const isRead = method === 'GET' || (method === 'POST' && READ_POST_PATH.test(route));
    if (isRead) this.stats.reads += 1;
    else this.stats.writes += 1;

    let retry = 0;
    let timeouts = 0;
    let csrfRetried = false;
    let maybeProcessed = false;
    for (;;) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: 'application/json' };
      if (this.authorization) headers.authorization = this.authorization;
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (mutating) await this.addCsrfHeaders(headers, options);

      let outcome: Awaited<ReturnType<PrefectClient['attempt']>>;
      try {
        outcome = await this.attempt(method, path, body, headers, options);
      } catch (error) {
        // An earlier attempt may have landed: then this is not "nothing sent".
        if (error instanceof GuardRefusedError && maybeProcessed) throw new AmbiguousWriteError(`${error.message}; an earlier attempt may have been processed`, method, path);
        throw error;
      }

      if (outcome instanceof ConnectionFailure) {
        if (outcome.code === 'deadline') throw this.deadlineError(method, path);
        const ambiguous = AMBIGUOUS_ERROR_CODES.has(outcome.code);
        if (outcome.code === 'timeout') timeouts += 1;
        const retryable =
          UNSENT_ERROR_CODES.has(outcome.code) ||
          (this.reachedServer && CONNECT_ERROR_CODES.has(outcome.code)) ||
          (ambiguous && idempotent && timeouts <= MAX_TIMEOUT_RETRIES);
        if (retryable && retry < this.maxRetries) {
          maybeProcessed ||= ambiguous;
          retry += 1;
          await this.backoff(method, path, retry, undefined, { code: outcome.code }, options);
          continue;
        }
        throw this.connectionError(method, path, outcome.code, retry, ambiguous && !idempotent);
      }

      this.reachedServer = true;
      if (
        outcome.status === 403 &&
        mutating &&
        this.csrf.kind === 'enabled' &&
        !csrfRetried &&
        outcome.text.includes('Invalid CSRF token')
      ) {
        // The server may have restarted or expired the token early: one fresh token, one more try.
        csrfRetried = true;
        this.csrf = { kind: 'unknown' };
        this.stats.retries += 1;
        this.logger?.debug({ method, path }, 'CSRF token rejected; fetching a new one');
        continue;
      }
      const ambiguousStatus = AMBIGUOUS_STATUSES.has(outcome.status);
      if (ambiguousStatus && !idempotent) {
        const error = this.statusError(method, path, outcome);
        throw new AmbiguousWriteError(
          `${error.message}; the request may have been processed, so it was not sent again blindly`,
          method,
          path,
          error.status,
          error.body,
        );
      }
      const retryable = NOT_PROCESSED_STATUSES.has(outcome.status) || ambiguousStatus;
      if (retryable && retry < this.maxRetries) {
        maybeProcessed ||= ambiguousStatus;
        retry += 1;
        await this.backoff(method, path, retry, outcome.headers['retry-after'], { status: outcome.status }, options);
        continue;
      }
      if (retryable && retry > 0) {
        const error = this.statusError(method, path, outcome);
        throw new RemoteError(`${error.message} (gave up after ${retry} retries)`, method, path, error.status, error.body);
      }
      return { ...outcome, maybeProcessedBefore: maybeProcessed };
    }
  }

  /**
   * A non-idempotent create, made safe to retry: after an ambiguous failure it waits, reads back
   * with `find` and returns what it finds; only when that is absent is the request sent again. A
   * 409 on a resend (the first attempt did land after all) is read back the same way.
   */
  private async createOnce<T>(path: string, body: unknown, ok: readonly number[], parse: (reply: Reply) => T, find: () => Promise<T | undefined>): Promise<T> {
    let resent = false;
    for (let round = 0; ; round += 1) {
      let reply: Reply;
      try {
        reply = await this.send('POST', path, body);
      } catch (error) {
        if (!(error instanceof AmbiguousWriteError)) throw error;
        const last = round >= this.maxRetries;
        // Give a request the server may still be working on time to finish before reading back.
        if (!last) await this.backoff('POST', path, round + 1, undefined, { ambiguous: error.status ?? 'connection' });
        // Even after the last attempt: the server may have acted on it, and then it is done.
        const existing = last ? await find().catch(() => undefined) : await find();
        if (existing !== undefined) {
          this.logger?.debug({ method: 'POST', path }, 'the create had been processed; read it back instead of sending it again');
          return existing;
        }
        if (last) throw error;
        resent = true;
        continue;
      }
      if (resent && reply.status === 409) {
        const existing = await find();
        if (existing !== undefined) return existing;
      }
      return parse(this.expect('POST', path, reply, ok));
    }
  }

  /** One HTTP exchange under a semaphore slot; never throws for network trouble, returns a ConnectionFailure. */
  private async attempt(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    options: SendOptions = {},
  ): Promise<Omit<Reply, 'maybeProcessedBefore'> | ConnectionFailure> {
    const release = await this.slots.acquire(options.priority === true, options.priority ? PRIORITY_SLOT_WAIT_MS : undefined);
    const remaining = this.remainingMs(options);
    if (remaining <= 0) {
      release();
      return new ConnectionFailure('deadline');
    }
    const cleared = options.guard?.();
    if (cleared && 'refused' in cleared) {
      release();
      throw new GuardRefusedError(cleared.refused, method, path);
    }
    const started = performance.now();
    const controller = new AbortController();
    const limitedByDeadline = remaining < this.timeoutMs;
    const timer = setTimeout(() => controller.abort(), Math.max(0, Math.min(this.timeoutMs, remaining, cleared?.withinMs ?? Number.POSITIVE_INFINITY)));
    try {
      const response = await undiciRequest(`${this.origin}${this.basePath}${path}`, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
      const text = await response.body.text();
      const ms = Math.round(performance.now() - started);
      this.logger?.debug({ method, path, status: response.statusCode, ms }, 'prefect request');
      // Writes are timed; reads vary too much in size (a page of 200 vs one object) to say anything.
      const timed = MUTATING_METHODS.has(method) && !READ_POST_PATH.test(path.split('?')[0] ?? '') && response.statusCode < 300;
      this.observe(NOT_PROCESSED_STATUSES.has(response.statusCode) ? { kind: 'overload' } : timed ? { kind: 'ok', ms } : { kind: 'untimed' });
      return { status: response.statusCode, headers: response.headers, text };
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      const code = controller.signal.aborted ? (limitedByDeadline ? 'deadline' : 'timeout') : errorCode(error);
      // Anything without an errno-like code is a bug (or an unmatched MockAgent request): let it surface as is.
      if (code === undefined) throw error;
      this.logger?.debug({ method, path, error: code, ms }, 'prefect request failed');
      this.observe(RESET_ERROR_CODES.has(code) || code === 'ECONNREFUSED' || code === 'timeout' ? { kind: 'overload' } : { kind: 'untimed' });
      return new ConnectionFailure(code);
    } finally {
      clearTimeout(timer);
      release();
    }
  }

  /** Milliseconds left before the total time limit (and its grace, for a cleanup); Infinity without one. */
  private remainingMs(options: SendOptions = {}): number {
    return this.deadlineAt === undefined ? Number.POSITIVE_INFINITY : this.deadlineAt + (options.cleanup ? CLEANUP_GRACE_MS : 0) - Date.now();
  }

  private async backoff(
    method: string,
    path: string,
    retry: number,
    retryAfter: string | string[] | undefined,
    reason: { status?: number; code?: string; ambiguous?: number | string },
    options: SendOptions = {},
  ): Promise<void> {
    this.stats.retries += 1;
    const fromServer = parseRetryAfter(retryAfter);
    // Like Prefect's client: Retry-After stretched by up to 20 %, else 2**n units with ±20 % jitter.
    const raw =
      fromServer !== undefined
        ? fromServer * (1 + Math.random() * 0.2)
        : 2 ** retry * this.retryBaseMs * (0.8 + Math.random() * 0.4);
    const delayMs = Math.round(Math.min(this.maxRetryDelayMs, Math.max(0, raw)));
    // Waiting past the time limit only to fail then helps nobody: fail now.
    if (delayMs >= this.remainingMs(options)) throw this.deadlineError(method, path);
    this.logger?.debug({ method, path, ...reason, retry, delayMs }, 'retrying prefect request');
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  private deadlineError(method: string, path: string): TimeLimitError {
    const limit = this.totalTimeoutMs === undefined ? '' : ` of ${formatMs(this.totalTimeoutMs)}`;
    return new TimeLimitError(`gave up: the total time limit${limit} was reached (--timeout, or the timeout input of the Action); later requests were not sent`, method, path);
  }

  /** @param unsafe the request may have been processed and was not retried because it is not idempotent. */
  private connectionError(method: string, path: string, code: string, retries: number, unsafe: boolean): RemoteError {
    const after = retries > 0 ? ` (after ${retries} retries)` : '';
    // Once the server has answered, the URL is right: say what happened instead of pointing at it.
    let what: string;
    if (code === 'timeout') what = `the Prefect API at ${this.origin} did not answer within ${formatMs(this.timeoutMs)}${after}`;
    else if (this.reachedServer && RESET_ERROR_CODES.has(code)) what = `connection reset by the server (the Prefect API at ${this.origin}, ${code})${after}`;
    else if (this.reachedServer) what = `lost the connection to the Prefect API at ${this.origin}: ${code}${after}`;
    else what = `could not reach the Prefect API at ${this.origin}: ${code}${after}`;
    if (unsafe) {
      // Sending it again could create a second automation or schedule: say so instead of guessing.
      return new AmbiguousWriteError(
        `${what}; not retried, because the request may have been processed and sending it twice is not safe: check the server before running again`,
        method,
        path,
      );
    }
    return new RemoteError(this.reachedServer ? what : `${what}; check PREFECT_API_URL`, method, path);
  }

  /** Adds CSRF headers when the server wants them, fetching a token once per client (or when expired). */
  private async addCsrfHeaders(headers: Record<string, string>, options: SendOptions = {}): Promise<void> {
    if (this.csrf.kind === 'enabled' && this.csrf.expiresAt !== undefined && Date.now() >= this.csrf.expiresAt) {
      this.csrf = { kind: 'unknown' };
    }
    if (this.csrf.kind === 'unknown') {
      // Concurrent writers share one token request.
      this.csrfPending ??= this.fetchCsrfToken(options.cleanup === true).finally(() => {
        this.csrfPending = undefined;
      });
      await this.csrfPending;
    }
    const state = this.csrf;
    if (state.kind === 'enabled') {
      headers['prefect-csrf-token'] = state.token;
      headers['prefect-csrf-client'] = this.csrfClientId;
    }
  }

  private async fetchCsrfToken(cleanup: boolean): Promise<void> {
    const path = `/csrf-token?client=${encodeURIComponent(this.csrfClientId)}`;
    const reply = await this.send('GET', path, undefined, cleanup ? { cleanup } : {});
    // 404: a server older than 2.17; 422: protection is switched off (the default).
    if (reply.status === 404 || (reply.status === 422 && reply.text.includes('CSRF protection is disabled'))) {
      this.csrf = { kind: 'disabled' };
      return;
    }
    const value = this.json('GET', path, this.expect('GET', path, reply, [200]));
    if (!isRecord(value) || typeof value.token !== 'string') throw unexpected('GET', '/csrf-token', 'the token is not a string');
    const expiresAt = typeof value.expiration === 'string' ? Date.parse(value.expiration) : Number.NaN;
    this.csrf = { kind: 'enabled', token: value.token, expiresAt: Number.isNaN(expiresAt) ? undefined : expiresAt };
  }

}

/**
 * Per-request options of {@link PrefectClient.send}.
 * - `guard` is asked right before each attempt goes out (after its in-flight slot, so time spent
 *   queueing in the client counts): a `refused` reason stops the request with nothing sent
 *   ({@link GuardRefusedError}); otherwise the attempt may take at most `withinMs`.
 * - `priority` takes the next free in-flight slot, ahead of every request waiting for one: for
 *   the few requests that keep a lease alive (renewing the apply lock and the name claims), which
 *   must never queue behind the writes the lease protects. Within the bound, not beside it:
 *   Prefect on SQLite takes one writer at a time, and a renewal sent beside a create got 503s
 *   round after round (a first apply of 1,000 lost its claims after 40 s that way). But when no
 *   slot frees within {@link PRIORITY_SLOT_WAIT_MS} (a busy server answering every request in
 *   flight slowly), it goes beside the bound rather than wait on.
 */
/** How long a priority request waits for a free slot before it goes without one (see {@link SendOptions}). */
export const PRIORITY_SLOT_WAIT_MS = 2000;

export interface SendOptions {
  readonly guard?: () => { readonly refused: string } | { readonly withinMs: number };
  readonly priority?: boolean;
  /**
   * Removing what this run holds (its apply lock, its name claims): still sent for a short grace
   * after the total time limit, so a run that timed out does not leave the next one waiting for
   * the lock's TTL.
   */
  readonly cleanup?: boolean;
}

/** How long past the total time limit a cleanup request may still be sent. */
const CLEANUP_GRACE_MS = 10_000;

type CsrfState = { kind: 'unknown' } | { kind: 'disabled' } | { kind: 'enabled'; token: string; expiresAt: number | undefined };

/** A counting semaphore; FIFO so a burst of requests is served in order. */
export class Semaphore {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private size: number) {}

  get limit(): number {
    return this.size;
  }

  /** A new bound: a larger one admits waiters at once, a smaller one lets the excess finish. */
  setLimit(size: number): void {
    this.size = Math.max(1, size);
    this.admit();
  }

  /**
   * `first`: ahead of every waiter (still within the bound). `maxWaitMs`: when no slot frees within
   * it, go without one (the release is then a no-op).
   */
  async acquire(first = false, maxWaitMs?: number): Promise<() => void> {
    if (this.inFlight < this.size && this.waiting.length === 0) {
      this.inFlight += 1;
    } else {
      // Counted in flight by admit() before it resolves, so a newcomer cannot overtake a waiter.
      const admitted = await new Promise<boolean>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const waiter = (): void => {
          if (timer) clearTimeout(timer);
          resolve(true);
        };
        if (maxWaitMs !== undefined) {
          timer = setTimeout(() => {
            const at = this.waiting.indexOf(waiter);
            if (at < 0) return; // admitted meanwhile: waiter() resolves
            this.waiting.splice(at, 1);
            resolve(false);
          }, maxWaitMs);
        }
        if (first) this.waiting.unshift(waiter);
        else this.waiting.push(waiter);
        this.admit();
      });
      if (!admitted) return () => {};
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      this.admit();
    };
  }

  private admit(): void {
    while (this.inFlight < this.size && this.waiting.length > 0) {
      this.inFlight += 1;
      this.waiting.shift()!();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

const USER_AGENT = `prefect-gitops/${VERSION}`;

function parseApiUrl(apiUrl: string): URL {
  if (apiUrl.trim() === '') {
    throw new UserInputError(
      'PREFECT_API_URL is not set',
      'set PREFECT_API_URL (or --api-url, or PREFECT_API_URL in your Prefect profile) to e.g. http://127.0.0.1:4200/api, or https://api.prefect.cloud/api/accounts/<account-id>/workspaces/<workspace-id> for Prefect Cloud',
    );
  }
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new UserInputError('the Prefect API URL is not a valid URL', 'set PREFECT_API_URL to e.g. http://127.0.0.1:4200/api');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserInputError('the Prefect API URL must start with http:// or https://', 'set PREFECT_API_URL to e.g. http://127.0.0.1:4200/api');
  }
  if (url.username || url.password) {
    // The URL shows up in messages; credentials belong in their own setting.
    throw new UserInputError('the Prefect API URL must not contain credentials', 'put them in PREFECT_API_AUTH_STRING or PREFECT_API_KEY');
  }
  return url;
}

/** Whether sending a request twice has the effect of sending it once (`route` without the query). */
function isIdempotent(method: string, route: string): boolean {
  if (IDEMPOTENT_METHODS.has(method)) return true;
  return method === 'POST' && (READ_POST_PATH.test(route) || UPSERT_POST_PATH.test(route));
}

/** Deep equality of JSON values, whatever the key order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameJson(a[k], b[k]));
  }
  return a === b;
}

/** `30 ms`, `30 s`, `2.5 s`. */
function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; `undefined` when absent or unreadable. */
function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** An errno-like code from undici/Node errors (possibly wrapped), or undefined when there is none. */
function errorCode(error: unknown): string | undefined {
  const candidates: unknown[] = [error];
  if (isRecord(error)) {
    candidates.push(error.cause);
    if (Array.isArray(error.errors)) candidates.push(...(error.errors as unknown[]));
  }
  for (const candidate of candidates) {
    const code = isRecord(candidate) ? candidate.code : undefined;
    if (typeof code === 'string' && (/^E[A-Z_]+$/.test(code) || code.startsWith('UND_ERR_'))) return code;
  }
  return undefined;
}

function statusMessage(status: number): string {
  switch (status) {
    case 400:
      return 'the Prefect API rejected the request';
    case 401:
      return 'the Prefect API rejected the credentials; check PREFECT_API_KEY / PREFECT_API_AUTH_STRING';
    case 403:
      return 'the Prefect API refused the request (forbidden)';
    case 404:
      return 'not found on the Prefect API';
    case 409:
      return 'the Prefect API reported a conflict';
    case 422:
      return 'the Prefect API rejected the request as invalid';
    case 429:
      return 'the Prefect API is rate limiting requests';
    default:
      return status >= 500 ? `the Prefect API failed with status ${status}` : `unexpected status ${status} from the Prefect API`;
  }
}

/**
 * At most ~300 characters saying what the server objected to: `detail`, pydantic errors from
 * `exception_detail` (or FastAPI's `detail` list) as `loc: msg`, else `exception_message`, else the raw text.
 */
function shortBody(text: string): string {
  let summary = text;
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'string') summary = value;
    else if (isRecord(value)) {
      summary =
        (typeof value.detail === 'string' ? value.detail : undefined) ??
        pydanticErrors(value.exception_detail) ??
        pydanticErrors(value.detail) ??
        (typeof value.exception_message === 'string' ? value.exception_message : undefined) ??
        text;
    }
  } catch {
    // not JSON: use the text as it is
  }
  const flat = summary.replace(/\s+/g, ' ').trim();
  return flat.length > SHORT_BODY_MAX ? `${flat.slice(0, SHORT_BODY_MAX - 1)}…` : flat;
}

function pydanticErrors(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const parts = value.map((item) => {
    if (!isRecord(item)) return String(item);
    const loc = Array.isArray(item.loc) ? item.loc.filter((part, i) => !(i === 0 && part === 'body')).join('.') : '';
    const msg = typeof item.msg === 'string' ? item.msg : JSON.stringify(item);
    return loc ? `${loc}: ${msg}` : msg;
  });
  return parts.join('; ');
}

function unexpected(method: string, path: string, what: string, status?: number): RemoteError {
  return new RemoteError(`unexpected response from the Prefect API: ${what}`, method, path, status);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// Light shape checks: enough that later code can rely on the fields it keys and joins on.

function requireStrings(value: Record<string, unknown>, keys: readonly string[], method: string, path: string, what: string): void {
  for (const key of keys) {
    if (typeof value[key] !== 'string') throw unexpected(method, path, `${what} has no string ${key}`);
  }
}

function checkSchedule(value: unknown, method: string, path: string, where = 'schedule'): LiveSchedule {
  if (!isRecord(value)) throw unexpected(method, path, `${where} is not an object`);
  requireStrings(value, ['id'], method, path, where);
  if (!isRecord(value.schedule)) throw unexpected(method, path, `${where} has no schedule object`);
  return value as unknown as LiveSchedule;
}

function checkDeployment(value: unknown, method: string, path: string, where = 'deployment'): LiveDeployment {
  if (!isRecord(value)) throw unexpected(method, path, `${where} is not an object`);
  requireStrings(value, ['id', 'name', 'flow_id'], method, path, where);
  if (!Array.isArray(value.schedules)) throw unexpected(method, path, `${where} has no schedules array`);
  value.schedules.forEach((schedule, i) => checkSchedule(schedule, method, path, `${where} schedule ${i}`));
  if (value.tags !== undefined && !Array.isArray(value.tags)) throw unexpected(method, path, `${where} tags is not an array`);
  return value as unknown as LiveDeployment;
}

function checkFlow(value: unknown, method: string, path: string, where = 'flow'): LiveFlow {
  if (!isRecord(value)) throw unexpected(method, path, `${where} is not an object`);
  requireStrings(value, ['id', 'name'], method, path, where);
  return value as unknown as LiveFlow;
}

function checkAutomation(value: unknown, method: string, path: string, where = 'automation'): LiveAutomation {
  if (!isRecord(value)) throw unexpected(method, path, `${where} is not an object`);
  requireStrings(value, ['id', 'name'], method, path, where);
  if (!Array.isArray(value.actions)) throw unexpected(method, path, `${where} has no actions list`);
  const actions = (list: unknown): JsonObject[] => (Array.isArray(list) ? (list.filter(isRecord) as JsonObject[]) : []);
  const described = typeof value.description === 'string' ? tagsFromDescription(value.description) : undefined;
  const tags = Array.isArray(value.tags) ? value.tags.filter((t): t is string => typeof t === 'string') : [];
  return {
    id: value.id as string,
    name: value.name as string,
    enabled: value.enabled !== false,
    tags: [...new Set([...tags, ...(described?.tags ?? [])])],
    actions: actions(value.actions),
    actions_on_trigger: actions(value.actions_on_trigger),
    actions_on_resolve: actions(value.actions_on_resolve),
    ...(described ? { description: described.description } : {}),
    ...(isRecord(value.trigger) ? { trigger: value.trigger as JsonObject } : {}),
    ...(typeof value.updated === 'string' ? { updated: value.updated } : {}),
  };
}

/**
 * Automations have no `tags` before Prefect 3.4.7 (the field is refused), so there ours carry them
 * on the last line of their description, `prefect-gitops-tags: ["…"]`, and reads turn that line
 * back into tags: owner and trigger fingerprint work the same on every server. A UI user who
 * edits that line away makes the automation no longer ours (the next plan recreates ours).
 */
const TAGS_LINE = 'prefect-gitops-tags: ';

function tagsIntoDescription(body: JsonObject): JsonObject {
  const { tags, ...rest } = body;
  if (!Array.isArray(tags) || tags.length === 0) return rest;
  const description = typeof rest.description === 'string' && rest.description !== '' ? `${rest.description}\n` : '';
  return { ...rest, description: `${description}${TAGS_LINE}${JSON.stringify(tags)}` };
}

function tagsFromDescription(description: string): { description: string; tags: string[] } {
  const at = description.lastIndexOf(TAGS_LINE);
  if (at < 0 || (at > 0 && description[at - 1] !== '\n')) return { description, tags: [] };
  try {
    const tags = JSON.parse(description.slice(at + TAGS_LINE.length)) as unknown;
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) return { description, tags: [] };
    return { description: description.slice(0, Math.max(0, at - 1)), tags: tags as string[] };
  } catch {
    return { description, tags: [] };
  }
}

function checkVariable(value: unknown, method: string, path: string): LiveVariable {
  if (!isRecord(value)) throw unexpected(method, path, 'the variable is not an object');
  requireStrings(value, ['id', 'name', 'updated'], method, path, 'the variable');
  return { id: value.id as string, name: value.name as string, value: (value.value ?? null) as Json, updated: value.updated as string };
}

function checkWorkPool(value: unknown, method: string, path: string, where = 'work pool'): LiveWorkPool {
  if (!isRecord(value)) throw unexpected(method, path, `${where} is not an object`);
  requireStrings(value, ['id', 'name', 'type'], method, path, where);
  return value as unknown as LiveWorkPool;
}
