// Unit tests of the HTTP mechanics only (auth, retries, CSRF, paging, errors, the in-flight bound).
// What the real server does with our requests is pinned by the integration tier, not here.
import { readFileSync } from 'node:fs';
import { MockAgent, type Dispatcher } from 'undici';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrefectClient, type PrefectClientOptions } from '../../src/prefect/client.js';
import type { Capability } from '../../src/prefect/capabilities.js';
import { AmbiguousWriteError, RemoteError, TimeLimitError, UnsupportedServerError, describeError } from '../../src/errors.js';

const ORIGIN = 'http://prefect.test:4200';
const API_URL = `${ORIGIN}/api`;
const API_KEY = 'pnu_SuperSecretKey123456';
const AUTH_STRING = 'admin:hunter2-secret';
const JSON_HEADERS = { headers: { 'content-type': 'application/json' } };
const OWN_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

type MockPool = ReturnType<MockAgent['get']>;
let agent: MockAgent;
let pool: MockPool;

beforeEach(() => {
  agent = new MockAgent({ enableCallHistory: true });
  // Any request without a matching interceptor throws instead of reaching the network.
  agent.disableNetConnect();
  pool = agent.get(ORIGIN);
});

afterEach(async () => {
  // And any interceptor a test set up but the client never used fails the test.
  agent.assertNoPendingInterceptors();
  await agent.close();
});

function calls() {
  return agent.getCallHistory()?.calls() ?? [];
}

function mockVersion(version = '3.8.3'): void {
  pool.intercept({ path: '/api/admin/version', method: 'GET' }).reply(200, JSON.stringify(version), JSON_HEADERS);
}

function mockCsrfDisabled(): void {
  pool
    .intercept({ path: (p) => p.startsWith('/api/csrf-token?'), method: 'GET' })
    .reply(422, { detail: 'CSRF protection is disabled.' });
}

async function connect(options: Partial<PrefectClientOptions> = {}, version = '3.8.3'): Promise<PrefectClient> {
  mockVersion(version);
  return PrefectClient.connect({ apiUrl: API_URL, dispatcher: agent, retryBaseMs: 1, ...options });
}

function deployment(i: number, extra: Record<string, unknown> = {}) {
  return { id: `dep-${i}`, name: `d${i}`, flow_id: 'flow-1', schedules: [], tags: [], ...extra };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('authentication and headers', () => {
  it('sends the API key as a Bearer token and a prefect-gitops User-Agent', async () => {
    await connect({ apiKey: API_KEY });
    const [call] = calls();
    expect(call?.headers).toMatchObject({ authorization: `Bearer ${API_KEY}`, 'user-agent': `prefect-gitops/${OWN_VERSION}` });
  });

  it('sends Basic auth when both an auth string and an API key are set, like Prefect', async () => {
    await connect({ apiKey: API_KEY, authString: AUTH_STRING });
    const expected = `Basic ${Buffer.from(AUTH_STRING).toString('base64')}`;
    expect(calls()[0]?.headers).toMatchObject({ authorization: expected });
  });

  it('sends no Authorization header without credentials', async () => {
    await connect();
    expect(calls()[0]?.headers).not.toHaveProperty('authorization');
  });

  it('tolerates a trailing slash on the API URL', async () => {
    const client = await connect({ apiUrl: `${API_URL}/` });
    expect(client.serverVersion).toBe('3.8.3');
    expect(calls()[0]?.path).toBe('/api/admin/version');
  });

  it('maps 401 to a message about credentials', async () => {
    pool.intercept({ path: '/api/admin/version', method: 'GET' }).reply(401, { exception_message: 'Unauthorized' });
    const error = await caught(PrefectClient.connect({ apiUrl: API_URL, dispatcher: agent, apiKey: API_KEY }));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ status: 401, method: 'GET', path: '/admin/version', body: 'Unauthorized' });
    expect((error as Error).message).toMatch(/credentials.*PREFECT_API_KEY.*PREFECT_API_AUTH_STRING/);
  });
});

describe('server version', () => {
  it('refuses a Prefect 2 server older than 2.19, saying which are supported; takes 2.19 and 2.20', async () => {
    const error = await caught(connect({}, '2.18.3'));
    expect(error).toBeInstanceOf(UnsupportedServerError);
    expect((error as Error).message).toContain('Prefect server 2.18.3 is not supported: prefect-gitops needs Prefect 3.x, or 2.19+ of Prefect 2');
    expect((await connect({}, '2.20.27')).prefect2).toBe(true);
    expect((await connect({}, '2.19.9')).prefect2).toBe(true);
    expect((await connect({}, '3.8.8')).prefect2).toBe(false);
  });

  it('refuses a version it cannot parse', async () => {
    await expect(connect({}, 'banana')).rejects.toBeInstanceOf(UnsupportedServerError);
  });

  const gates: Array<[string, Capability[]]> = [
    ['2.20.27', []],
    ['3.0.0', ['deploymentConcurrencyLimit']],
    ['3.0.3', ['deploymentConcurrencyLimit', 'concurrencyOptions']],
    ['3.1.5', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels']],
    ['3.2.0rc1', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels']],
    ['3.2.0', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels', 'scheduleSlugs', 'patchPullSteps']],
    ['3.4.0', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels', 'scheduleSlugs', 'patchPullSteps']],
    ['3.4.1', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels', 'scheduleSlugs', 'patchPullSteps', 'variableNameDashes']],
    ['3.4.7', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels', 'scheduleSlugs', 'patchPullSteps', 'variableNameDashes', 'automationTags', 'deploymentIdNotAny']],
    ['3.6.5', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels', 'scheduleSlugs', 'patchPullSteps', 'variableNameDashes', 'automationTags', 'deploymentIdNotAny', 'triggerScheduleAfter']],
    ['3.6.6', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels', 'scheduleSlugs', 'patchPullSteps', 'variableNameDashes', 'automationTags', 'deploymentIdNotAny', 'triggerScheduleAfter', 'gracePeriod']],
    ['3.8.4.dev6', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels', 'scheduleSlugs', 'patchPullSteps', 'variableNameDashes', 'automationTags', 'deploymentIdNotAny', 'triggerScheduleAfter', 'gracePeriod']],
    // A future version the gates do not know has the newest API.
    ['3.99.0', ['deploymentConcurrencyLimit', 'concurrencyOptions', 'labels', 'scheduleSlugs', 'patchPullSteps', 'variableNameDashes', 'automationTags', 'deploymentIdNotAny', 'triggerScheduleAfter', 'gracePeriod']],
  ];
  it.each(gates)('server %s supports exactly %j', async (version, supported) => {
    const client = await connect({}, version);
    expect(client.serverVersion).toBe(version);
    const have = Object.entries(client.capabilities).filter(([, on]) => on).map(([c]) => c);
    expect(have.sort()).toEqual([...supported].sort());
  });
});

describe('capability gates in requests', () => {
  it.each([
    ['3.4.6', false],
    ['3.4.7', true],
  ])('server %s: excluded ids go to the server as not_any_ only when it has the operator (%s)', async (version, onServer) => {
    const client = await connect({}, version);
    mockCsrfDisabled();
    pool.intercept({ path: '/api/deployments/filter', method: 'POST' }).reply(200, onServer ? [deployment(2)] : [deployment(1), deployment(2)]);
    const found = await client.listDeployments({ flowNames: ['f'], excludeIds: ['dep-1'] });
    expect(found.map((d) => d.id)).toEqual(['dep-2']);
    const body = JSON.parse(String(calls().find((c) => c.path === '/api/deployments/filter')?.body)) as { deployments?: { id?: unknown } };
    expect(body.deployments?.id).toEqual(onServer ? { not_any_: ['dep-1'] } : undefined);
  });

  it('server 3.4.6 (automations without tags): tags travel on the description\'s last line and are read back from it', async () => {
    const client = await connect({}, '3.4.6');
    mockCsrfDisabled();
    const stored = { id: 'a1', name: 'n', description: 'mine\nprefect-gitops-tags: ["prefect-gitops:o","prefect-gitops:trigger:f"]', actions: [{ type: 'run-deployment', deployment_id: 'd1' }], trigger: {} };
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(201, { id: 'a1' });
    pool.intercept({ path: '/api/automations/filter', method: 'POST' }).reply(200, [stored, { id: 'a2', name: 'other', description: 'x', actions: [] }]);
    await client.createAutomation({ name: 'n', description: 'mine', tags: ['prefect-gitops:o', 'prefect-gitops:trigger:f'], actions: [] });
    const listed = await client.listAutomations(['prefect-gitops:o']);
    const [create, filter] = calls().filter((c) => c.path.startsWith('/api/automations/')).map((c) => JSON.parse(String(c.body)) as Record<string, unknown>);
    expect(create).toEqual({ name: 'n', description: stored.description, actions: [] });
    expect(filter).not.toHaveProperty('automations');
    expect(listed).toEqual([expect.objectContaining({ id: 'a1', description: 'mine', tags: ['prefect-gitops:o', 'prefect-gitops:trigger:f'] })]);
  });

  it('server 3.4.7: tags are sent and filtered as tags', async () => {
    const client = await connect({}, '3.4.7');
    mockCsrfDisabled();
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(201, { id: 'a1' });
    await client.createAutomation({ name: 'n', description: 'mine', tags: ['t'], actions: [] });
    const [create] = calls().filter((c) => c.path === '/api/automations/').map((c) => JSON.parse(String(c.body)) as Record<string, unknown>);
    expect(create).toEqual({ name: 'n', description: 'mine', tags: ['t'], actions: [] });
  });
});

describe('retries', () => {
  it('retries a 503 and then succeeds', async () => {
    const client = await connect();
    client.resetStats();
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(503, { exception_message: 'Service Unavailable' }).times(2);
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, { id: 'wp', name: 'p', type: 'process' });
    await expect(client.readWorkPool('p')).resolves.toEqual({ id: 'wp', name: 'p', type: 'process' });
    expect(calls().filter((c) => c.path === '/api/work_pools/p')).toHaveLength(3);
    expect(client.stats).toEqual({ reads: 1, writes: 0, retries: 2 });
  });

  it('retries writes on 502 too', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(502, 'Bad Gateway');
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(201, { id: 'f1', name: 'flow' });
    await expect(client.ensureFlow('flow')).resolves.toEqual({ id: 'f1', name: 'flow' });
    expect(client.stats.retries).toBe(1);
  });

  it('gives up after maxRetries with a RemoteError carrying the status', async () => {
    const client = await connect({ maxRetries: 2 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(502, 'Bad Gateway').times(3);
    const error = await caught(client.readWorkPool('p'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ status: 502, method: 'GET', path: '/work_pools/p', body: 'Bad Gateway' });
    expect((error as Error).message).toContain('gave up after 2 retries');
    expect(client.stats.retries).toBe(2);
  });

  it('does not retry other errors', async () => {
    const client = await connect();
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(400, { exception_message: 'Bad Request' });
    await expect(client.readWorkPool('p')).rejects.toMatchObject({ status: 400, body: 'Bad Request' });
    expect(client.stats.retries).toBe(0);
  });

  it('waits what Retry-After says (seconds) instead of its own backoff', async () => {
    const client = await connect({ retryBaseMs: 1 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(429, 'slow down', { headers: { 'retry-after': '1' } });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(404, { detail: 'Work pool "p" not found.' });
    const started = Date.now();
    await expect(client.readWorkPool('p')).resolves.toBeUndefined();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(1900);
  });

  it('lets Retry-After: 0 override a long backoff', async () => {
    const client = await connect({ retryBaseMs: 10_000 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(503, 'busy', { headers: { 'retry-after': '0' } });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, { id: 'wp', name: 'p', type: 'process' });
    const started = Date.now();
    await client.readWorkPool('p');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reads Retry-After as an HTTP date and caps the wait at maxRetryDelayMs', async () => {
    const client = await connect({ maxRetryDelayMs: 200 });
    const inOneMinute = new Date(Date.now() + 60_000).toUTCString();
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(503, 'busy', { headers: { 'retry-after': inOneMinute } });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, { id: 'wp', name: 'p', type: 'process' });
    const started = Date.now();
    await client.readWorkPool('p');
    const elapsed = Date.now() - started;
    // retryBaseMs is 1, so anything near 200 ms came from the header (capped), not from the backoff.
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1000);
  });

  it('retries a reset connection once the server has been reached', async () => {
    const client = await connect();
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).replyWithError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, { id: 'wp', name: 'p', type: 'process' });
    await expect(client.readWorkPool('p')).resolves.toMatchObject({ id: 'wp' });
    expect(client.stats.retries).toBe(2);
  });

  it('fails fast when the server cannot be reached at all, pointing at PREFECT_API_URL', async () => {
    pool
      .intercept({ path: '/api/admin/version', method: 'GET' })
      .replyWithError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4200'), { code: 'ECONNREFUSED' }));
    const error = await caught(PrefectClient.connect({ apiUrl: API_URL, dispatcher: agent, apiKey: API_KEY }));
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).status).toBeUndefined();
    expect((error as Error).message).toBe(`could not reach the Prefect API at ${ORIGIN}: ECONNREFUSED; check PREFECT_API_URL`);
  });

  it('times out a slow attempt and retries it', async () => {
    const client = await connect({ timeoutMs: 50 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, { id: 'slow', name: 'p', type: 'process' }).delay(500);
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, { id: 'fast', name: 'p', type: 'process' });
    await expect(client.readWorkPool('p')).resolves.toMatchObject({ id: 'fast' });
    expect(client.stats.retries).toBe(1);
  });

  it('reports a timeout after the last retry', async () => {
    const client = await connect({ timeoutMs: 30, maxRetries: 1 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, {}).delay(300).times(2);
    const error = await caught(client.readWorkPool('p'));
    expect(error).toBeInstanceOf(RemoteError);
    // The server answered before (GET /admin/version), so the URL is not the problem.
    expect((error as Error).message).toBe(`the Prefect API at ${ORIGIN} did not answer within 30 ms (after 1 retries)`);
  });
});

describe('the retry matrix: what is sent again, what is read back', () => {
  const reset = (): Error => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const automation = (id: string, deploymentId = 'dep-1', extra: Record<string, unknown> = {}) => ({
    id,
    name: 'auto',
    tags: ['prefect-gitops:o', 'prefect-gitops:trigger:abc'],
    actions: [{ type: 'run-deployment', deployment_id: deploymentId }],
    ...extra,
  });
  const automationBody = { name: 'auto', tags: ['prefect-gitops:o', 'prefect-gitops:trigger:abc'], actions: [{ type: 'run-deployment', deployment_id: 'dep-1' }] };
  const schedule = (id: string, slug: string) => ({ id, schedule: { cron: '0 * * * *', timezone: null, day_or: true }, active: true, max_scheduled_runs: null, parameters: {}, slug });
  const scheduleBody = (slug: string) => ({ schedule: { cron: '0 * * * *', timezone: null, day_or: true }, active: true, parameters: {}, slug });
  const posts = (path: string) => calls().filter((c) => c.path === path && c.method === 'POST');

  it.each([408, 500, 502, 504])('retries a read (GET) on %i and then succeeds', async (status) => {
    const client = await connect();
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(status, 'failed');
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, { id: 'wp', name: 'p', type: 'process' });
    await expect(client.readWorkPool('p')).resolves.toMatchObject({ id: 'wp' });
    expect(client.stats.retries).toBe(1);
  });

  it.each([500, 504])('retries a read by POST (filter) on %i, honouring Retry-After', async (status) => {
    const client = await connect({ retryBaseMs: 10_000 });
    mockCsrfDisabled();
    pool.intercept({ path: '/api/flows/filter', method: 'POST' }).reply(status, 'failed', { headers: { 'retry-after': '0' } });
    pool.intercept({ path: '/api/flows/filter', method: 'POST' }).reply(200, [{ id: 'f1', name: 'a' }]);
    await expect(client.listFlows({ names: ['a'] })).resolves.toEqual([{ id: 'f1', name: 'a' }]);
    expect(posts('/api/flows/filter')).toHaveLength(2);
  });

  it('gives up on a read that keeps failing with 500, naming the status', async () => {
    const client = await connect({ maxRetries: 2 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(500, { exception_message: 'Internal Server Error' }).times(3);
    await expect(client.readWorkPool('p')).rejects.toMatchObject({ status: 500, message: 'the Prefect API failed with status 500 (gave up after 2 retries)' });
  });

  it.each([
    ['a 502 after the server acted', (i: MockPool['intercept']) => i({ path: '/api/automations/', method: 'POST' }).reply(502, 'Bad Gateway')],
    ['a 504', (i: MockPool['intercept']) => i({ path: '/api/automations/', method: 'POST' }).reply(504, 'Gateway Timeout')],
    ['a 408', (i: MockPool['intercept']) => i({ path: '/api/automations/', method: 'POST' }).reply(408, 'Request Timeout')],
    ['a 500', (i: MockPool['intercept']) => i({ path: '/api/automations/', method: 'POST' }).reply(500, 'Internal Server Error')],
    ['a reset', (i: MockPool['intercept']) => i({ path: '/api/automations/', method: 'POST' }).replyWithError(reset())],
  ])('does not resend POST /automations/ after %s when reading back finds it', async (_title, fail) => {
    const client = await connect();
    mockCsrfDisabled();
    fail(pool.intercept.bind(pool));
    pool
      .intercept({ path: '/api/automations/filter', method: 'POST', body: (b) => JSON.stringify(JSON.parse(b).automations) === '{"name":{"any_":["auto"]}}' })
      .reply(200, [automation('other', 'dep-2'), automation('auto-1')]);
    await expect(client.createAutomation(automationBody)).resolves.toEqual({ id: 'auto-1' });
    expect(posts('/api/automations/')).toHaveLength(1);
  });

  it('reads back after the last attempt too: a create the server acted on is done, not a failure', async () => {
    const client = await connect({ maxRetries: 0 });
    mockCsrfDisabled();
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(502, 'Bad Gateway');
    pool
      .intercept({ path: '/api/automations/filter', method: 'POST', body: (b) => JSON.stringify(JSON.parse(b).automations) === '{"name":{"any_":["auto"]}}' })
      .reply(200, [automation('auto-1')]);
    await expect(client.createAutomation(automationBody)).resolves.toEqual({ id: 'auto-1' });
    expect(posts('/api/automations/')).toHaveLength(1);
  });

  it('sends POST /automations/ again when reading back finds none (same name for another deployment is not it)', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(502, 'Bad Gateway');
    pool.intercept({ path: '/api/automations/filter', method: 'POST' }).reply(200, [automation('other', 'dep-2')]);
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(201, { id: 'auto-2', name: 'auto' });
    await expect(client.createAutomation(automationBody)).resolves.toEqual({ id: 'auto-2' });
    expect(posts('/api/automations/')).toHaveLength(2);
  });

  it('retries POST /automations/ on 503 and 429 without reading back: the server did not act', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(503, { exception_message: 'Service Unavailable' });
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(429, 'slow down', { headers: { 'retry-after': '0' } });
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(201, { id: 'auto-1', name: 'x' });
    await expect(client.createAutomation({ name: 'x' })).resolves.toEqual({ id: 'auto-1' });
    expect(posts('/api/automations/')).toHaveLength(3);
    expect(client.stats.retries).toBe(2);
  });

  it('resends POST /automations/ refused before it was sent (ECONNREFUSED once the server was reached)', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/automations/', method: 'POST' }).replyWithError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(201, { id: 'auto-1', name: 'x' });
    await expect(client.createAutomation({ name: 'x' })).resolves.toEqual({ id: 'auto-1' });
    expect(client.stats.retries).toBe(1);
  });

  it('reads the deployment back after a timed-out POST of schedules and returns them by slug', async () => {
    const client = await connect({ timeoutMs: 30 });
    mockCsrfDisabled();
    pool.intercept({ path: '/api/deployments/d/schedules', method: 'POST' }).reply(201, []).delay(300);
    pool.intercept({ path: '/api/deployments/d', method: 'GET' }).reply(200, deployment(9, { id: 'd', schedules: [schedule('s2', 'b'), schedule('s1', 'a')] }));
    await expect(client.createSchedules('d', [scheduleBody('a'), scheduleBody('b')])).resolves.toEqual([schedule('s1', 'a'), schedule('s2', 'b')]);
    expect(posts('/api/deployments/d/schedules')).toHaveLength(1);
  });

  it('sends the schedules again when they are absent, and reads back on a 409 (the first one landed late)', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/deployments/d/schedules', method: 'POST' }).reply(502, 'Bad Gateway');
    pool.intercept({ path: '/api/deployments/d', method: 'GET' }).reply(200, deployment(9, { id: 'd', schedules: [] }));
    pool.intercept({ path: '/api/deployments/d/schedules', method: 'POST' }).reply(409, { detail: 'Schedule slugs must be unique within a deployment.' });
    pool.intercept({ path: '/api/deployments/d', method: 'GET' }).reply(200, deployment(9, { id: 'd', schedules: [schedule('s1', 'a')] }));
    await expect(client.createSchedules('d', [scheduleBody('a')])).resolves.toEqual([schedule('s1', 'a')]);
    expect(posts('/api/deployments/d/schedules')).toHaveLength(2);
  });

  it.each([
    ['holds our value: it is ours', { nonce: 'n-1', owner: 'o' }, 'ours'],
    ['holds another value: it is someone else\'s, as a 409', { nonce: 'n-2', owner: 'o' }, undefined],
  ] as const)('reads a variable (a lock record) back after a 502 on its create; when it %s', async (_title, value, expected) => {
    const client = await connect();
    mockCsrfDisabled();
    const record = (v: unknown) => ({ id: 'var-1', name: 'lock', value: v, updated: '2026-01-01T00:00:00Z' });
    pool.intercept({ path: '/api/variables/', method: 'POST' }).reply(502, 'Bad Gateway');
    pool.intercept({ path: '/api/variables/name/lock', method: 'GET' }).reply(200, record(value));
    const result = await client.createVariable({ name: 'lock', value: { owner: 'o', nonce: 'n-1' } });
    expect(result === undefined ? undefined : 'ours').toBe(expected);
    expect(posts('/api/variables/')).toHaveLength(1);
  });

  it('creates a variable again when reading back finds none', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/variables/', method: 'POST' }).replyWithError(reset());
    pool.intercept({ path: '/api/variables/name/lock', method: 'GET' }).reply(404, { detail: 'Variable not found.' });
    pool.intercept({ path: '/api/variables/', method: 'POST' }).reply(201, { id: 'var-2', name: 'lock', value: 1, updated: '2026-01-01T00:00:00Z' });
    await expect(client.createVariable({ name: 'lock', value: 1 })).resolves.toMatchObject({ id: 'var-2' });
    expect(posts('/api/variables/')).toHaveLength(2);
  });

  it('does not resend a non-idempotent POST sent through request(): it throws AmbiguousWriteError', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/v2/concurrency_limits/', method: 'POST' }).reply(502, 'Bad Gateway');
    const error = await caught(client.request('POST', '/v2/concurrency_limits/', { name: 'x', limit: 1 }));
    expect(error).toBeInstanceOf(AmbiguousWriteError);
    expect(error).toMatchObject({ status: 502, method: 'POST', path: '/v2/concurrency_limits/' });
    expect((error as Error).message).toContain('the request may have been processed, so it was not sent again blindly');
    expect(posts('/api/v2/concurrency_limits/')).toHaveLength(1);
  });

  it('says the connection was reset by the server, not "check PREFECT_API_URL", once the server has answered', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/v2/concurrency_limits/', method: 'POST' }).replyWithError(reset());
    const error = await caught(client.request('POST', '/v2/concurrency_limits/', {}));
    expect(error).toBeInstanceOf(AmbiguousWriteError);
    expect((error as Error).message).toBe(
      `connection reset by the server (the Prefect API at ${ORIGIN}, ECONNRESET); not retried, because the request may have been processed and sending it twice is not safe: check the server before running again`,
    );
  });

  it.each([
    ['a reset', (i: MockPool['intercept']) => i({ path: '/api/deployments/dep-1/schedules/s1', method: 'DELETE' }).replyWithError(reset())],
    ['a 502', (i: MockPool['intercept']) => i({ path: '/api/deployments/dep-1/schedules/s1', method: 'DELETE' }).reply(502, 'Bad Gateway')],
  ])('takes a 404 on a DELETE of a schedule retried after %s as success: it is gone', async (_title, fail) => {
    const client = await connect();
    mockCsrfDisabled();
    fail(pool.intercept.bind(pool));
    pool.intercept({ path: '/api/deployments/dep-1/schedules/s1', method: 'DELETE' }).reply(404, { detail: 'Schedule not found.' });
    await expect(client.deleteSchedule('dep-1', 's1')).resolves.toBeUndefined();
  });

  it.each([
    ['a read by POST (filter)', (c: PrefectClient) => c.listFlows({ names: ['a'] }), 'POST', '/api/flows/filter', [{ id: 'f1', name: 'a' }]],
    ['a count', (c: PrefectClient) => c.countFlowRuns({}), 'POST', '/api/flow_runs/count', 3],
    ['the flow upsert POST /flows/', (c: PrefectClient) => c.ensureFlow('a'), 'POST', '/api/flows/', { id: 'f1', name: 'a' }],
    ['the deployment upsert POST /deployments/', (c: PrefectClient) => c.createDeployment({ name: 'd1', flow_id: 'flow-1' }), 'POST', '/api/deployments/', deployment(1)],
    ['a PATCH', (c: PrefectClient) => c.updateDeployment('dep-1', { paused: true }), 'PATCH', '/api/deployments/dep-1', ''],
    ['a DELETE', (c: PrefectClient) => c.deleteSchedule('dep-1', 's1'), 'DELETE', '/api/deployments/dep-1/schedules/s1', ''],
  ] as const)('resends %s after a reset or a 502: sending it twice is harmless', async (_title, operation, method, path, reply) => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path, method }).replyWithError(reset());
    pool.intercept({ path, method }).reply(502, 'Bad Gateway');
    pool.intercept({ path, method }).reply(method === 'POST' ? 200 : 204, typeof reply === 'string' ? reply : JSON.stringify(reply), JSON_HEADERS);
    await operation(client);
    expect(calls().filter((c) => c.path === path)).toHaveLength(3);
    expect(client.stats.retries).toBe(2);
  });

  it('retries a timed-out request once, not five times: a hung server fails the request after two attempts', async () => {
    const client = await connect({ timeoutMs: 30 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, {}).delay(300).times(2);
    const error = await caught(client.readWorkPool('p'));
    expect((error as Error).message).toBe(`the Prefect API at ${ORIGIN} did not answer within 30 ms (after 1 retries)`);
    expect(calls().filter((c) => c.path === '/api/work_pools/p')).toHaveLength(2);
  });

  it('stops at the total time limit (--timeout) with a message saying so, and sends nothing after it', async () => {
    const client = await connect({ totalTimeoutMs: 150, timeoutMs: 10_000 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, {}).delay(2_000);
    const error = await caught(client.readWorkPool('p'));
    expect(error).toBeInstanceOf(TimeLimitError);
    expect((error as Error).message).toBe('gave up: the total time limit of 150 ms was reached (--timeout, or the timeout input of the Action); later requests were not sent');
    expect(error).toMatchObject({ method: 'GET', path: '/work_pools/p' });
    const later = await caught(client.readWorkPool('q'));
    expect(later).toBeInstanceOf(TimeLimitError);
    expect(calls().filter((c) => c.path === '/api/work_pools/q')).toHaveLength(0);
  });

  it('clients given one deadlineAt share the limit (apply plans again under the lock), and a cleanup is still sent for a short grace after it', async () => {
    const deadlineAt = Date.now() + 300;
    const first = await connect({ totalTimeoutMs: 300, deadlineAt });
    await new Promise((r) => setTimeout(r, 150));
    // Made later, with a limit of its own it would have 300 ms left; it has the shared ~150.
    const second = await connect({ totalTimeoutMs: 300, deadlineAt });
    await new Promise((r) => setTimeout(r, 200));
    expect(await caught(second.readWorkPool('p'))).toBeInstanceOf(TimeLimitError);
    expect(await caught(first.deleteVariableById('v1'))).toBeInstanceOf(TimeLimitError);
    mockCsrfDisabled();
    pool.intercept({ path: '/api/variables/v2', method: 'DELETE' }).reply(204, '');
    await first.deleteVariableById('v2', { cleanup: true });
    expect(calls().filter((c) => c.path.startsWith('/api/variables/') || c.path === '/api/work_pools/p').map((c) => c.path)).toEqual(['/api/variables/v2']);
  });

  it('does not wait out a backoff that ends past the total time limit', async () => {
    const client = await connect({ totalTimeoutMs: 5_000, retryBaseMs: 60_000, maxRetryDelayMs: 60_000 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(503, 'busy');
    await expect(client.readWorkPool('p')).rejects.toBeInstanceOf(TimeLimitError);
  });
});

describe('errors', () => {
  it('maps a 422 pydantic body to a short loc: msg summary', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/deployments/', method: 'POST' }).reply(422, {
      exception_message: 'Invalid request received.',
      exception_detail: [
        { type: 'missing', loc: ['body', 'flow_id'], msg: 'Field required', input: {} },
        { type: 'extra_forbidden', loc: ['body', 'labelz'], msg: 'Extra inputs are not permitted', input: 1 },
      ],
      request_body: { name: 'x'.repeat(5000) },
    });
    const error = await caught(client.createDeployment({ name: 'd', flow_id: 'f' }));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({
      status: 422,
      method: 'POST',
      path: '/deployments/',
      body: 'flow_id: Field required; labelz: Extra inputs are not permitted',
    });
    expect(describeError(error)).toBe(
      'the Prefect API rejected the request as invalid (POST /deployments/ -> 422): flow_id: Field required; labelz: Extra inputs are not permitted',
    );
  });

  it('uses detail and keeps long bodies to about 300 characters', async () => {
    const client = await connect();
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(400, { detail: 'y'.repeat(2000) });
    pool.intercept({ path: '/api/work_pools/q', method: 'GET' }).reply(400, '<html>\n  oops\n</html>');
    const long = (await caught(client.readWorkPool('p'))) as RemoteError;
    expect(long.body?.length).toBeLessThanOrEqual(300);
    expect(long.body).toMatch(/^y+…$/);
    const html = (await caught(client.readWorkPool('q'))) as RemoteError;
    expect(html.body).toBe('<html> oops </html>');
  });

  it('never lets the API key or auth string into an error, even when the server echoes them', async () => {
    const client = await connect({ apiKey: API_KEY, maxRetries: 0 });
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(403, { detail: `key ${API_KEY} may not read this` });
    pool
      .intercept({ path: '/api/work_pools/q', method: 'GET' })
      .replyWithError(Object.assign(new Error(`getaddrinfo ENOTFOUND ${API_KEY}`), { code: 'ENOTFOUND' }));
    pool.intercept({ path: '/api/admin/version', method: 'GET' }).reply(401, `bad credentials: ${AUTH_STRING}`);
    const errors = [
      await caught(client.readWorkPool('p')),
      await caught(client.readWorkPool('q')),
      await caught(PrefectClient.connect({ apiUrl: API_URL, dispatcher: agent, authString: AUTH_STRING })),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(RemoteError);
      const text = `${(error as Error).message} ${JSON.stringify(error)} ${describeError(error)} ${(error as Error).stack ?? ''}`;
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain(AUTH_STRING);
      expect(text).not.toContain(Buffer.from(AUTH_STRING).toString('base64'));
      expect(text).not.toMatch(/authorization|bearer|basic /i);
    }
    expect((errors[0] as RemoteError).body).toBe('key [REDACTED] may not read this');
    expect((errors[2] as RemoteError).body).toBe('bad credentials: [REDACTED]');
  });

  it('rejects a deployment without the fields the reconciler keys on', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/deployments/filter', method: 'POST' }).reply(200, [deployment(1), { id: 'x', name: 'n', schedules: [] }]);
    const error = await caught(client.listDeployments({}));
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as Error).message).toBe('unexpected response from the Prefect API: item 1 has no string flow_id');
  });

  it('rejects a body that is not JSON', async () => {
    const client = await connect();
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(200, 'not json');
    await expect(client.readWorkPool('p')).rejects.toThrow('unexpected response from the Prefect API: the body is not JSON');
  });

  it('fails loudly on a request nobody expected', async () => {
    const client = await connect();
    await expect(client.readWorkPool('nobody-mocked-this')).rejects.toThrow(/Mock dispatch not matched/);
  });
});

describe('pagination', () => {
  it('pages by offset until a short page and dedupes by id', async () => {
    const client = await connect();
    mockCsrfDisabled(); // POST /filter is a read, but the server's CSRF check covers every POST
    client.resetStats();
    const all = Array.from({ length: 450 }, (_, i) => deployment(i));
    const pages = [all.slice(0, 200), all.slice(199, 399), all.slice(399)]; // page 2 repeats dep-199
    pool
      .intercept({ path: '/api/deployments/filter', method: 'POST' })
      .reply((request) => {
        const body = JSON.parse(String(request.body)) as { offset: number };
        return { statusCode: 200, data: JSON.stringify(pages[body.offset / 200] ?? []), responseOptions: JSON_HEADERS };
      })
      .times(3);
    const result = await client.listDeployments({ flowNames: ['f1', 'f2'], tagsAll: ['gitops'] });
    expect(result).toHaveLength(450);
    expect(new Set(result.map((d) => d.id)).size).toBe(450);
    const bodies = calls()
      .filter((c) => c.path === '/api/deployments/filter')
      .map((c) => JSON.parse(String(c.body)) as Record<string, unknown>);
    expect(bodies.map((b) => b.offset)).toEqual([0, 200, 400]);
    for (const body of bodies) {
      expect(body).toMatchObject({ limit: 200, flows: { name: { any_: ['f1', 'f2'] } }, deployments: { tags: { all_: ['gitops'] } } });
    }
    expect(client.stats).toEqual({ reads: 4, writes: 0, retries: 0 }); // the CSRF probe is a read too
  });

  it('filters by ids and splits more than 200 flow names into several scans', async () => {
    const client = await connect();
    mockCsrfDisabled();
    const names = Array.from({ length: 250 }, (_, i) => `flow-${i}`);
    pool.intercept({ path: '/api/deployments/filter', method: 'POST' }).reply(200, [deployment(1), deployment(2)]);
    pool.intercept({ path: '/api/deployments/filter', method: 'POST' }).reply(200, [deployment(2), deployment(3)]);
    const result = await client.listDeployments({ flowNames: names, ids: ['dep-1', 'dep-2', 'dep-3'] });
    expect(result.map((d) => d.id)).toEqual(['dep-1', 'dep-2', 'dep-3']);
    const bodies = calls().filter((c) => c.path === '/api/deployments/filter').map((c) => JSON.parse(String(c.body)) as {
      flows: { name: { any_: string[] } };
      deployments: unknown;
    });
    expect(bodies.map((b) => b.flows.name.any_.length)).toEqual([200, 50]);
    expect(bodies.flatMap((b) => b.flows.name.any_)).toEqual(names);
    expect(bodies[0]?.deployments).toEqual({ id: { any_: ['dep-1', 'dep-2', 'dep-3'] } });
  });

  it('stops with an error when the server ignores the offset', async () => {
    const client = await connect();
    mockCsrfDisabled();
    const page = Array.from({ length: 200 }, (_, i) => deployment(i));
    pool.intercept({ path: '/api/deployments/filter', method: 'POST' }).reply(200, page).times(2);
    await expect(client.listDeployments({})).rejects.toThrow('paging did not advance at offset 200');
  });

  it('sends nothing for an empty name list', async () => {
    const client = await connect();
    await expect(client.listDeployments({ flowNames: [] })).resolves.toEqual([]);
    await expect(client.listFlows({ names: [] })).resolves.toEqual([]);
  });

  it('filters deployments by any of some tags and any of some work pools, and an empty list matches nothing', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/deployments/filter', method: 'POST' }).reply(200, [deployment(1)]);
    await expect(client.listDeployments({ tagsAny: ['etl', 'nightly'], workPools: ['k8s'] })).resolves.toMatchObject([{ id: 'dep-1' }]);
    expect(JSON.parse(String(calls().at(-1)?.body))).toEqual({
      deployments: { tags: { any_: ['etl', 'nightly'] } },
      work_pools: { name: { any_: ['k8s'] } },
      sort: 'CREATED_DESC',
      limit: 200,
      offset: 0,
    });
    const before = calls().length;
    await expect(client.listDeployments({ tagsAny: [] })).resolves.toEqual([]);
    await expect(client.listDeployments({ workPools: [] })).resolves.toEqual([]);
    expect(calls()).toHaveLength(before);
  });

  it('on Prefect 2 (no tags.any_, no id.not_any_) filters those itself and reads infra_overrides as job_variables', async () => {
    const client = await connect({}, '2.20.27');
    mockCsrfDisabled();
    pool.intercept({ path: '/api/deployments/filter', method: 'POST' }).reply(200, [
      deployment(1, { tags: ['etl'], infra_overrides: { image: 'x' } }),
      deployment(2, { tags: ['other'] }),
      deployment(3, { tags: ['nightly'] }),
    ]);
    const found = await client.listDeployments({ tagsAny: ['etl', 'nightly'], excludeIds: ['dep-3'] });
    expect(found.map((d) => [d.id, d.job_variables])).toEqual([['dep-1', { image: 'x' }]]);
    expect(JSON.parse(String(calls().at(-1)?.body))).toEqual({ sort: 'CREATED_DESC', limit: 200, offset: 0 });
  });

  it('lists every automation with its trigger and all its actions, or those carrying all of some tags', async () => {
    const client = await connect();
    mockCsrfDisabled();
    const automation = {
      id: 'a1',
      name: 'on-upstream',
      description: 'runs after upstream',
      enabled: true,
      tags: ['prefect-gitops:team-a'],
      trigger: { type: 'event', posture: 'Reactive', expect: ['upstream.done'] },
      actions: [{ type: 'run-deployment', deployment_id: 'dep-1' }],
      actions_on_trigger: [],
      actions_on_resolve: [{ type: 'do-nothing' }],
      created: '2026-01-01T00:00:00Z',
    };
    pool.intercept({ path: '/api/automations/filter', method: 'POST' }).reply(200, [automation]).times(3);
    const { created: _created, ...expected } = automation;
    await expect(client.listAutomations()).resolves.toEqual([expected]);
    await expect(client.listAutomations({ tagsAll: ['prefect-gitops:team-a'] })).resolves.toEqual([expected]);
    await expect(client.listAutomations(['prefect-gitops:team-a'])).resolves.toEqual([expected]);
    const bodies = calls()
      .filter((c) => c.path === '/api/automations/filter')
      .map((c) => JSON.parse(String(c.body)) as Record<string, unknown>);
    expect(bodies[0]).toEqual({ sort: 'CREATED_DESC', limit: 200, offset: 0 });
    expect(bodies[1]?.automations).toEqual({ tags: { all_: ['prefect-gitops:team-a'] } });
    expect(bodies[2]?.automations).toEqual({ tags: { all_: ['prefect-gitops:team-a'] } });
  });

  it('has no automations on a server without the automations API', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/automations/filter', method: 'POST' }).reply(404, { detail: 'Not Found' });
    await expect(client.listAutomations()).resolves.toEqual([]);
  });

  it('lists flows by name', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/flows/filter', method: 'POST' }).reply(200, [{ id: 'f1', name: 'a' }]);
    await expect(client.listFlows({ names: ['a'] })).resolves.toEqual([{ id: 'f1', name: 'a' }]);
    expect(JSON.parse(String(calls().at(-1)?.body))).toMatchObject({ flows: { name: { any_: ['a'] } }, offset: 0, limit: 200 });
  });
});

describe('CSRF', () => {
  function mockCsrfToken(token: string, expiration = new Date(Date.now() + 3_600_000).toISOString()) {
    pool
      .intercept({ path: (p) => p.startsWith('/api/csrf-token?client='), method: 'GET' })
      .reply(200, { id: 'c', token, client: 'x', expiration });
  }
  const csrfCalls = () => calls().filter((c) => c.path === '/api/csrf-token');
  const flowCalls = () => calls().filter((c) => c.path === '/api/flows/');

  it('fetches one token before the first write and sends it on every write', async () => {
    const client = await connect();
    mockCsrfToken('tok-1');
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(201, { id: 'f1', name: 'a' }).times(5);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((name) => client.ensureFlow(name)));
    expect(csrfCalls()).toHaveLength(1);
    const clientId = csrfCalls()[0]?.searchParams.client;
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/);
    for (const call of flowCalls()) {
      expect(call.headers).toMatchObject({ 'prefect-csrf-token': 'tok-1', 'prefect-csrf-client': clientId });
    }
  });

  it('does not fetch a token for reads', async () => {
    const client = await connect();
    pool.intercept({ path: '/api/work_pools/p', method: 'GET' }).reply(404, { detail: 'nope' });
    await client.readWorkPool('p');
    expect(csrfCalls()).toHaveLength(0);
  });

  it('turns CSRF off for the session when the server says it is disabled', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(200, { id: 'f1', name: 'a' }).times(2);
    await client.ensureFlow('a');
    await client.ensureFlow('a');
    expect(csrfCalls()).toHaveLength(1);
    for (const call of flowCalls()) expect(call.headers).not.toHaveProperty('prefect-csrf-token');
  });

  it('turns CSRF off when the endpoint does not exist (404)', async () => {
    const client = await connect();
    pool.intercept({ path: (p) => p.startsWith('/api/csrf-token?'), method: 'GET' }).reply(404, { detail: 'Not Found' });
    pool.intercept({ path: '/api/deployments/d1', method: 'DELETE' }).reply(204, '');
    await client.deleteDeployment('d1');
    expect(calls().at(-1)?.headers).not.toHaveProperty('prefect-csrf-token');
  });

  it('refetches the token and retries once on 403 Invalid CSRF token', async () => {
    const client = await connect();
    mockCsrfToken('old');
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(403, { detail: 'Invalid CSRF token or client identifier.' });
    mockCsrfToken('new');
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(201, { id: 'f1', name: 'a' });
    await expect(client.ensureFlow('a')).resolves.toMatchObject({ id: 'f1' });
    expect(flowCalls().map((c) => c.headers?.['prefect-csrf-token'])).toEqual(['old', 'new']);
    expect(client.stats.retries).toBe(1);
  });

  it('gives up after one CSRF refetch', async () => {
    const client = await connect();
    mockCsrfToken('old');
    mockCsrfToken('new');
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(403, { detail: 'Invalid CSRF token or client identifier.' }).times(2);
    await expect(client.ensureFlow('a')).rejects.toMatchObject({ status: 403, body: 'Invalid CSRF token or client identifier.' });
  });

  it('refetches a token past its expiration', async () => {
    const client = await connect();
    mockCsrfToken('expired', new Date(Date.now() - 1000).toISOString());
    mockCsrfToken('fresh');
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(201, { id: 'f1', name: 'a' }).times(2);
    await client.ensureFlow('a');
    await client.ensureFlow('a');
    expect(flowCalls().map((c) => c.headers?.['prefect-csrf-token'])).toEqual(['expired', 'fresh']);
  });

  it('never asks Prefect Cloud for a token', async () => {
    const cloud = agent.get('https://api.prefect.cloud');
    const base = '/api/accounts/acc/workspaces/ws';
    cloud.intercept({ path: `${base}/admin/version`, method: 'GET' }).reply(200, '"3.8.3"');
    cloud.intercept({ path: `${base}/flows/`, method: 'POST' }).reply(201, { id: 'f1', name: 'a' });
    const client = await PrefectClient.connect({ apiUrl: `https://api.prefect.cloud${base}`, apiKey: API_KEY, dispatcher: agent });
    await client.ensureFlow('a');
    expect(calls().map((c) => c.path)).toEqual([`${base}/admin/version`, `${base}/flows/`]);
  });
});

describe('operations', () => {
  it('reads deployments by id and by url-encoded name; 404 is undefined', async () => {
    const client = await connect();
    pool.intercept({ path: '/api/deployments/dep-1', method: 'GET' }).reply(200, deployment(1));
    pool.intercept({ path: '/api/deployments/missing', method: 'GET' }).reply(404, { detail: 'Deployment not found' });
    pool.intercept({ path: '/api/deployments/name/my%20flow/a%3Ab', method: 'GET' }).reply(200, deployment(2));
    pool.intercept({ path: '/api/deployments/name/f/none', method: 'GET' }).reply(404, { detail: 'Deployment not found' });
    await expect(client.readDeployment('dep-1')).resolves.toMatchObject({ id: 'dep-1' });
    await expect(client.readDeployment('missing')).resolves.toBeUndefined();
    await expect(client.readDeploymentByName('my flow', 'a:b')).resolves.toMatchObject({ id: 'dep-2' });
    await expect(client.readDeploymentByName('f', 'none')).resolves.toBeUndefined();
  });

  it('writes with the right verbs and counts reads and writes apart', async () => {
    const client = await connect();
    client.resetStats();
    mockCsrfDisabled();
    const schedule = { id: 's1', schedule: { cron: '0 * * * *', timezone: null, day_or: true }, active: true, max_scheduled_runs: null, parameters: {}, slug: 'hourly' };
    pool.intercept({ path: '/api/deployments/', method: 'POST' }).reply(201, deployment(1));
    pool.intercept({ path: '/api/deployments/dep-1', method: 'PATCH', body: '{"paused":true}' }).reply(204, '');
    pool.intercept({ path: '/api/deployments/dep-1/schedules', method: 'POST', body: (b) => Array.isArray(JSON.parse(b)) }).reply(201, [schedule]);
    pool.intercept({ path: '/api/deployments/dep-1/schedules/s1', method: 'PATCH' }).reply(204, '');
    pool.intercept({ path: '/api/deployments/dep-1/schedules/s1', method: 'DELETE' }).reply(204, '');
    pool.intercept({ path: '/api/automations/owned-by/prefect.deployment.dep-1', method: 'DELETE' }).reply(202, '');
    pool.intercept({ path: '/api/automations/owned-by/prefect.deployment.dep-2', method: 'DELETE' }).reply(404, { detail: 'Not Found' });
    pool.intercept({ path: '/api/automations/', method: 'POST' }).reply(201, { id: 'auto-1', name: 'x' });
    pool.intercept({ path: '/api/deployments/dep-1', method: 'DELETE' }).reply(204, '');
    pool.intercept({ path: '/api/deployments/dep-1', method: 'DELETE' }).reply(404, { detail: 'Deployment not found' });
    pool.intercept({ path: '/api/work_pools/', method: 'POST' }).reply(201, { id: 'wp', name: 'pool', type: 'process' });
    pool.intercept({ path: '/api/flow_runs/count', method: 'POST' }).reply(200, '7');

    await client.createDeployment({ name: 'd1', flow_id: 'flow-1' });
    await client.updateDeployment('dep-1', { paused: true });
    const created = await client.createSchedules('dep-1', [
      { schedule: { cron: '0 * * * *', timezone: null, day_or: true }, active: true, parameters: {}, slug: 'hourly' },
    ]);
    expect(created).toEqual([schedule]);
    await client.updateSchedule('dep-1', 's1', { active: false });
    await client.deleteSchedule('dep-1', 's1');
    await client.deleteOwnedAutomations('dep-1');
    await client.deleteOwnedAutomations('dep-2');
    await expect(client.createAutomation({ name: 'x' })).resolves.toEqual({ id: 'auto-1' });
    await client.deleteDeployment('dep-1');
    await client.deleteDeployment('dep-1'); // already gone: fine
    await expect(client.createWorkPool({ name: 'pool', type: 'process' })).resolves.toMatchObject({ id: 'wp' });
    await expect(client.countFlowRuns({ flow_runs: { deployment_id: { any_: ['dep-1'] } } })).resolves.toBe(7);
    // The csrf-token GET and flow_runs/count are reads; the other eleven calls are writes.
    expect(client.stats).toEqual({ reads: 2, writes: 11, retries: 0 });
  });

  it('does not tolerate a 404 when deleting a schedule', async () => {
    const client = await connect();
    mockCsrfDisabled();
    pool.intercept({ path: '/api/deployments/d/schedules/s', method: 'DELETE' }).reply(404, { detail: 'Schedule not found.' });
    await expect(client.deleteSchedule('d', 's')).rejects.toMatchObject({ status: 404, body: 'Schedule not found.' });
  });
});

describe('concurrency and logging', () => {
  it('never has more requests in flight than the concurrency option', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const finishers = new Set(['onComplete', 'onError', 'onResponseEnd', 'onResponseError']);
    // Counts an exchange from dispatch until undici reports its end, whichever handler API it uses.
    const counting: Dispatcher = agent.compose((dispatch) => (options, handler) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let done = false;
      const tracked = new Proxy(handler, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (!done && typeof property === 'string' && finishers.has(property)) {
              done = true;
              inFlight -= 1;
            }
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      return dispatch(options, tracked);
    });
    mockVersion();
    const client = await PrefectClient.connect({ apiUrl: API_URL, dispatcher: counting, concurrency: 3 });
    pool
      .intercept({ path: (p) => p.startsWith('/api/work_pools/'), method: 'GET' })
      .reply(200, { id: 'wp', name: 'p', type: 'process' })
      .delay(10)
      .times(20);
    maxInFlight = 0;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => client.readWorkPool(`p${i}`)));
    expect(results).toHaveLength(20);
    expect(inFlight).toBe(0);
    expect(maxInFlight).toBe(3);
  });

  it('adapts the bound by default: starts at min(cap, 4) and halves on a burst of 503s, once', async () => {
    // Rising with latency is timing-dependent; the pure controller's tests pin it (adaptive-concurrency.test.ts).
    mockVersion();
    const client = await PrefectClient.connect({ apiUrl: API_URL, dispatcher: agent, retryBaseMs: 1, concurrency: 6 });
    expect(client.concurrency).toEqual({ limit: 4, peak: 4, max: 6, increases: 0, decreases: 0 });
    mockCsrfDisabled();
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(503, 'busy').times(3);
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(201, { id: 'f1', name: 'flow' }).times(3);
    await Promise.all(Array.from({ length: 3 }, () => client.ensureFlow('flow')));
    // One burst of 503s is one signal: 4 -> 2 (not 4 -> 2 -> 1 -> 1); the retries that then
    // succeed may complete a round at 2 and raise it by one.
    expect(client.concurrency.decreases).toBe(1);
    expect(client.concurrency.limit).toBeGreaterThanOrEqual(2);
    expect(client.concurrency.limit).toBeLessThanOrEqual(3);
    expect(client.concurrency.peak).toBe(4);
  });

  it('keeps exactly the given bound with adaptiveConcurrency: false', async () => {
    mockVersion();
    const client = await PrefectClient.connect({ apiUrl: API_URL, dispatcher: agent, retryBaseMs: 1, concurrency: 7, adaptiveConcurrency: false });
    mockCsrfDisabled();
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(503, 'busy');
    pool.intercept({ path: '/api/flows/', method: 'POST' }).reply(201, { id: 'f1', name: 'flow' });
    await client.ensureFlow('flow');
    expect(client.concurrency).toEqual({ limit: 7, peak: 7, max: 7, increases: 0, decreases: 0 });
  });

  it('logs method, path, status and duration at debug, never credentials', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    await connect({ apiKey: API_KEY, logger });
    const record = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(record).toMatchObject({ method: 'GET', path: '/admin/version', status: 200, msg: 'prefect request' });
    expect(typeof record.ms).toBe('number');
    expect(lines.join('\n')).not.toContain(API_KEY);
    expect(lines.join('\n')).not.toMatch(/authorization/i);
  });
});
