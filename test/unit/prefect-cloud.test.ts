// Prefect Cloud is recognised by its workspace URL (any host) and used without `GET /admin/version`,
// as Prefect's own client does. Cloud cannot be reached from the tests: the answers are recordings
// taken from Prefect's public API reference (test/fixtures/cloud/README.md), nothing else.
import { readFileSync } from 'node:fs';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrefectClient } from '../../src/prefect/client.js';
import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import { CLOUD_SERVER_VERSION, isPrefectCloudPath } from '../../src/prefect/cloud.js';
import { RemoteError } from '../../src/errors.js';

const ACCOUNT = '9b3f6a1e-2c4d-4e5f-8a7b-0c1d2e3f4a5b';
const WORKSPACE = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const BASE = `/api/accounts/${ACCOUNT}/workspaces/${WORKSPACE}`;
const API_KEY = 'pnu_CloudKeyThatMustNotLeak000000';
const JSON_HEADERS = { headers: { 'content-type': 'application/json' } };
const DOCS_DEPLOYMENTS = readFileSync(new URL('../fixtures/cloud/deployments-filter.json', import.meta.url), 'utf8');

let agent: MockAgent;
beforeEach(() => {
  agent = new MockAgent({ enableCallHistory: true });
  // A request without a recording (e.g. /admin/version, /csrf-token) throws instead of going out.
  agent.disableNetConnect();
});
afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
});
const calls = () => (agent.getCallHistory()?.calls() ?? []).map((c) => `${c.method} ${c.path}`);

describe('Prefect Cloud', () => {
  it('recognises a workspace API URL on any host, and nothing else', () => {
    expect(isPrefectCloudPath(BASE)).toBe(true);
    expect(isPrefectCloudPath(`${BASE}/`)).toBe(true);
    expect(isPrefectCloudPath(`/prefect${BASE}`)).toBe(true);
    expect(isPrefectCloudPath('/api')).toBe(false);
    expect(isPrefectCloudPath('/api/accounts/acc/workspaces/ws')).toBe(false);
    expect(isPrefectCloudPath(`${BASE}/deployments`)).toBe(false);
  });

  for (const origin of ['https://api.prefect.cloud', 'https://prefect-cloud.proxy.example']) {
    it(`connects to ${origin} without GET /admin/version or a CSRF token, assuming the current API`, async () => {
      const cloud = agent.get(origin);
      cloud.intercept({ path: `${BASE}/deployments/filter`, method: 'POST', body: (b) => JSON.parse(b).limit === 1 }).reply(200, '[]', JSON_HEADERS);
      cloud.intercept({ path: `${BASE}/deployments/filter`, method: 'POST' }).reply(200, DOCS_DEPLOYMENTS, JSON_HEADERS);
      const client = await PrefectClient.connect({ apiUrl: `${origin}${BASE}`, apiKey: API_KEY, dispatcher: agent });
      expect(client.serverVersion).toBe(CLOUD_SERVER_VERSION);
      expect(client.capabilities).toEqual(NEWEST_CAPABILITIES);
      const live = await client.listDeployments({ flowNames: ['etl'] });
      expect(live.map((d) => [d.id, d.concurrency_options])).toEqual([['3c90c3cc-0d44-4b50-8888-8dd25736052a', { collision_strategy: 'ENQUEUE', grace_period_seconds: 43230 }]]);
      expect(calls()).toEqual([`POST ${BASE}/deployments/filter`, `POST ${BASE}/deployments/filter`]);
      const headers = (agent.getCallHistory()?.calls() ?? []).map((c) => c.headers as Record<string, string>);
      expect(headers.every((h) => h.authorization === `Bearer ${API_KEY}` && h['prefect-csrf-token'] === undefined)).toBe(true);
    });
  }

  it('a key Cloud rejects fails at connect, before anything is planned, without the key in the message', async () => {
    const cloud = agent.get('https://api.prefect.cloud');
    cloud.intercept({ path: `${BASE}/deployments/filter`, method: 'POST' }).reply(401, '');
    const error = await PrefectClient.connect({ apiUrl: `https://api.prefect.cloud${BASE}`, apiKey: API_KEY, dispatcher: agent, maxRetries: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).status).toBe(401);
    expect(String((error as Error).message)).not.toContain(API_KEY);
    expect(calls()).toEqual([`POST ${BASE}/deployments/filter`]);
  });

  it('a self-hosted server under a similar path is still asked for its version', async () => {
    const server = agent.get('http://prefect.internal:4200');
    server.intercept({ path: '/api/admin/version', method: 'GET' }).reply(200, '"3.4.6"', JSON_HEADERS);
    const client = await PrefectClient.connect({ apiUrl: 'http://prefect.internal:4200/api', dispatcher: agent });
    expect(client.serverVersion).toBe('3.4.6');
    expect(client.capabilities.automationTags).toBe(false);
  });
});
