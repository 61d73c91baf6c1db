// Test-side access to the Prefect server started by test/global-setup.ts. `api()` is for
// arranging and inspecting state directly (e.g. a deployment the tool does not own); the
// code under test talks to Prefect only through src/prefect/.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { PrefectTarget } from '../../scripts/prefect-server.js';

export function prefectApiUrl(): string {
  return inject('prefectApiUrl');
}

/** The server's env, for prefectCli() / startPrefectWorker() from scripts/prefect-server.ts. */
export function prefectTarget(): PrefectTarget {
  return { env: inject('prefectEnv') };
}

/** A name no other test (or earlier run against the same server) uses: `<prefix>-<hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export class PrefectApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path} -> ${status}: ${body.slice(0, 500)}`);
    this.name = 'PrefectApiError';
  }
}

/**
 * `fetch` against a test server, retrying its 503s like a real client: SQLite answers 503 when
 * busy (the scheduler writes often in tests, and on CI the whole suite shares one server). On a
 * loaded CI machine one answer once took over 30 s (a worker starting while `prefect deploy`
 * wrote in another file), so the per-request timeout is generous. Returns the last response.
 */
export async function fetchRetrying(url: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(90_000) });
    if (response.status !== 503 || attempt >= 6) return response;
    await response.arrayBuffer();
    await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
  }
}

/** A JSON POST through fetchRetrying(), e.g. to arrange state on a server other than the shared one. */
export function postJson(url: string, body: unknown): Promise<Response> {
  return fetchRetrying(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/**
 * A raw JSON call to the test server, e.g. `api('POST', '/deployments/filter', {})`.
 * `path` is relative to the API root (`/api`). Throws PrefectApiError on a non-2xx status;
 * resolves to undefined for an empty body (204).
 */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetchRetrying(`${prefectApiUrl()}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new PrefectApiError(method, path, response.status, text);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/**
 * Polls a flow run until it reaches a final state (or `timeoutMs` passes) and returns its state
 * type: 'COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED', or the last one seen.
 */
export async function waitForFlowRun(runId: string, timeoutMs = 150_000): Promise<string> {
  let state = '';
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    state = (await api<{ state_type: string | null }>('GET', `/flow_runs/${runId}`)).state_type ?? '';
    if (['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED'].includes(state)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return state;
}
