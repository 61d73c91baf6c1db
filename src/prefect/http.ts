// undici's `request`, without loading all of undici. `import { request } from 'undici'` evaluates
// undici's index: fetch, WebSocket, cookies, caches, mocks, HTTP/2, some 60 ms of CPU at every
// start of the CLI for nothing we use. This imports the two modules `request` is made of (the
// request API and the global dispatcher, an Agent) and does what undici's index does with them
// (`makeDispatcher` in undici/index.js). undici is pinned to an exact version in package.json;
// test/unit/prefect-http.test.ts sends requests through it against a local server.
import type { Dispatcher } from 'undici';
import requestApi from 'undici/lib/api/api-request.js';
import { getGlobalDispatcher } from 'undici/lib/global.js';

export type RequestOptions = { dispatcher?: Dispatcher } & Omit<Dispatcher.RequestOptions, 'origin' | 'path'>;

/** `undici.request(url, options)`: the global dispatcher unless `options.dispatcher` is given. */
export function request(url: string, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const parsed = new URL(url);
  const { dispatcher = getGlobalDispatcher(), ...rest } = options;
  return requestApi.call(dispatcher, { ...rest, origin: parsed.origin, path: parsed.search ? `${parsed.pathname}${parsed.search}` : parsed.pathname });
}
