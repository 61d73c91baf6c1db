import { RemoteError } from '../../errors.js';
import type { PrefectClient } from '../../prefect/client.js';
import type { JsonObject } from '../../prefect/types.js';

type Requester = Pick<PrefectClient, 'request'>;

const isNotFound = (error: unknown): boolean => error instanceof RemoteError && error.status === 404;

/** GET `path`; undefined when the server answers 404 (the object does not exist). */
export async function readIfPresent<T>(client: Requester, path: string): Promise<T | undefined> {
  try {
    return await client.request<T>('GET', path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * DELETE `path`; a 404 counts as done: the object is already gone (deleted by hand, or a retried
 * delete whose first answer was lost), which is what the planned delete wanted.
 */
export async function deleteIfPresent(client: Requester, path: string): Promise<void> {
  try {
    await client.request('DELETE', path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

const PAGE_SIZE = 200;

/** Every item of a `POST …/filter` endpoint: `body` plus limit/offset, paged until a short page. */
export async function readPages(client: Requester, path: string, body: JsonObject = {}): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let offset = 0; ; offset += PAGE_SIZE) {
    const page = await client.request<unknown>('POST', path, { ...body, limit: PAGE_SIZE, offset });
    if (!Array.isArray(page)) throw new RemoteError(`unexpected answer from POST ${path}: expected an array`, 'POST', path);
    out.push(...page);
    if (page.length < PAGE_SIZE) return out;
  }
}
