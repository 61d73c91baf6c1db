// The test suite's own access to Prefect must ride out a busy server the way our client does:
// a CI run failed once because a fixture's secret was posted with a bare fetch and got 503.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchRetrying, postJson } from '../helpers/prefect.js';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function busyThen(busy: number, status: number): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${body}`);
      res.writeHead(seen.length <= busy ? 503 : status, { 'content-type': 'application/json' });
      res.end(seen.length <= busy ? '{"exception_message":"Service Unavailable"}' : '{"id":"x"}');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('test helpers against a busy server', () => {
  it('postJson retries 503s and resends the same body', async () => {
    const { url, seen } = await busyThen(2, 201);
    const response = await postJson(`${url}/block_documents/`, { name: 's' });
    expect(response.status).toBe(201);
    expect(seen).toEqual(Array(3).fill('POST {"name":"s"}'));
  });

  it('fetchRetrying returns other statuses at once, and gives up on a server that stays busy', async () => {
    const conflict = await busyThen(0, 409);
    expect((await fetchRetrying(`${conflict.url}/variables/`)).status).toBe(409);
    expect(conflict.seen).toHaveLength(1);
    const stuck = await busyThen(100, 201);
    expect((await fetchRetrying(stuck.url)).status).toBe(503);
    expect(stuck.seen).toHaveLength(7);
  }, 40_000);
});
