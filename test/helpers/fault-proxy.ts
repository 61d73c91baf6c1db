// A fault-injecting HTTP proxy for the REAL Prefect server: tests and scripts/soak.ts point the
// code under test at `proxy.apiUrl` and decide, per request, whether it reaches the server and
// whether the answer reaches the client. Only 127.0.0.1: it listens there and forwards only to
// the upstream it was given.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Statuses a proxy or load balancer returns without forwarding (the server never saw the request). */
export type StatusBefore = 408 | 429 | 500 | 502 | 503 | 504;

export type Fault =
  /** Answer `status` without forwarding. */
  | { readonly kind: 'status-before'; readonly status: StatusBefore; readonly retryAfter?: string }
  /** Reset the client connection without forwarding. */
  | { readonly kind: 'reset-before' }
  /** Forward, let the server act and answer, then reset the client connection: "response dropped after the server acted". */
  | { readonly kind: 'reset-after' }
  /** Forward, let the server act, then answer `status` (502 or 504) instead of the server's answer. */
  | { readonly kind: 'status-after'; readonly status: 500 | 502 | 504 }
  /** Wait `ms` (and for `until`, when given), then forward normally. */
  | { readonly kind: 'delay'; readonly ms: number; readonly until?: Promise<unknown> }
  /** Forward, let the server act, then never answer (until the client gives up or the proxy closes). */
  | { readonly kind: 'hang-after' }
  /** Never forward and never answer. */
  | { readonly kind: 'hang-before' };

export type FaultKind = Fault['kind'];

export interface FaultRule {
  /** HTTP method to match (any when absent). */
  readonly method?: string;
  /** Path relative to the API root, without the query (e.g. `/automations/`): exact string or pattern. */
  readonly path?: string | RegExp;
  /** How many matching requests get the fault; default 1. */
  readonly times?: number;
  /**
   * For faults after forwarding: apply (and count) only when the server answered 2xx, i.e. acted;
   * otherwise (a busy server's 503, say) its answer passes through and the rule waits for the next.
   */
  readonly onlyWhenServerActed?: boolean;
  readonly fault: Fault;
}

export interface ProxiedRequest {
  readonly method: string;
  /** Relative to the API root, query included. */
  readonly path: string;
  /** The fault applied, if any (`status-before:502`, `reset-after`, ...). */
  readonly fault?: string;
  /** Whether the request reached the server. */
  readonly forwarded: boolean;
  /** The server's status when it answered. */
  readonly upstreamStatus?: number;
}

export interface RandomFaults {
  /** Probability in [0, 1] that a request gets a fault. */
  readonly rate: number;
  /** The faults to pick from, uniformly. */
  readonly faults: readonly Fault[];
  /** A [0, 1) source; default Math.random. */
  readonly random?: () => number;
  /** Which requests may get a random fault; default every request. */
  readonly filter?: (method: string, path: string) => boolean;
}

export interface FaultProxy {
  /** The API root to give the client, e.g. `http://127.0.0.1:41234/api`. */
  readonly apiUrl: string;
  /** Every request seen, in arrival order. */
  readonly requests: readonly ProxiedRequest[];
  /**
   * Like Prefect on SQLite, one writer at a time: a write (any method but GET, and not a
   * `.../filter` read) that arrives while another write is being forwarded is answered 503 at once.
   */
  setSingleWriter(on: boolean): void;
  /** Adds a rule; rules are tried in the order they were added. */
  addRule(rule: FaultRule): void;
  /** Random faults for requests no rule matched; `undefined` switches them off. */
  setRandom(random: RandomFaults | undefined): void;
  /** Drops every rule, the random faults and the request log. */
  reset(): void;
  close(): Promise<void>;
}

/** Every fault kind with representative parameters, for random injection. */
export const ALL_FAULTS: readonly Fault[] = [
  { kind: 'status-before', status: 408 },
  { kind: 'status-before', status: 429, retryAfter: '0' },
  { kind: 'status-before', status: 500 },
  { kind: 'status-before', status: 502 },
  { kind: 'status-before', status: 503 },
  { kind: 'status-before', status: 504 },
  { kind: 'reset-before' },
  { kind: 'reset-after' },
  { kind: 'status-after', status: 502 },
  { kind: 'status-after', status: 504 },
  { kind: 'delay', ms: 300 },
  { kind: 'hang-after' },
  { kind: 'hang-before' },
];

const describeFault = (f: Fault): string => ('status' in f ? `${f.kind}:${f.status}` : f.kind === 'delay' ? `delay:${f.ms}` : f.kind);

/**
 * Starts a proxy on 127.0.0.1 in front of `upstreamApiUrl` (an `http://127.0.0.1:PORT/api` URL).
 * @throws when the upstream is not a loopback http URL.
 */
export async function startFaultProxy(upstreamApiUrl: string): Promise<FaultProxy> {
  const upstream = new URL(upstreamApiUrl);
  if (upstream.protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(upstream.hostname)) {
    throw new Error(`the fault proxy forwards only to a loopback http server, not ${upstreamApiUrl}`);
  }
  const base = upstream.pathname.replace(/\/+$/, '');
  const rules: { rule: FaultRule; left: number }[] = [];
  let random: RandomFaults | undefined;
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let singleWriter = false;
  let writesForwarding = 0;
  const isWrite = (method: string, path: string): boolean => method !== 'GET' && !/\/filter$/.test(path.split('?')[0] ?? '');

  const pick = (method: string, path: string): { fault: Fault; unpick?: () => void } | undefined => {
    const route = path.split('?')[0] ?? '';
    for (const entry of rules) {
      const { rule } = entry;
      if (entry.left <= 0) continue;
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      if (rule.path !== undefined && (typeof rule.path === 'string' ? rule.path !== route : !rule.path.test(route))) continue;
      entry.left -= 1;
      return { fault: rule.fault, ...(rule.onlyWhenServerActed ? { unpick: () => void (entry.left += 1) } : {}) };
    }
    if (!random || random.faults.length === 0 || (random.filter && !random.filter(method, route))) return undefined;
    const roll = random.random ?? Math.random;
    if (roll() >= random.rate) return undefined;
    const fault = random.faults[Math.floor(roll() * random.faults.length)];
    return fault ? { fault } : undefined;
  };

  const forward = (method: string, path: string, headers: IncomingMessage['headers'], body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method, path: `${base}${path}`, headers: { ...headers, host: upstream.host, connection: 'keep-alive' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer, busy: boolean): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const full = req.url ?? '/';
    if (!full.startsWith(`${base}/`) && full !== base) {
      res.writeHead(404).end();
      return;
    }
    const path = full.slice(base.length) || '/';
    if (busy) {
      requests.push({ method, path, fault: 'single-writer:503', forwarded: false });
      res.writeHead(503, { 'content-type': 'text/plain' }).end('fault proxy: database is locked (one writer at a time)');
      return;
    }
    const picked = pick(method, path);
    let fault = picked?.fault;
    const log = (entry: Omit<ProxiedRequest, 'method' | 'path' | 'fault'>): void => {
      requests.push({ method, path, ...(fault ? { fault: describeFault(fault) } : {}), ...entry });
    };
    const reply = (status: number, headers: IncomingMessage['headers'], payload: Buffer): void => {
      const { 'transfer-encoding': _te, connection: _c, 'content-length': _cl, ...rest } = headers;
      res.writeHead(status, { ...rest, 'content-length': String(payload.length) }).end(payload);
    };
    switch (fault?.kind) {
      case 'status-before':
        log({ forwarded: false });
        res.writeHead(fault.status, { 'content-type': 'text/plain', ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}) }).end(`fault proxy: ${fault.status}`);
        return;
      case 'reset-before':
        log({ forwarded: false });
        req.socket.resetAndDestroy();
        return;
      case 'hang-before':
        log({ forwarded: false });
        return;
      case 'delay': {
        const { ms } = fault;
        await new Promise((r) => setTimeout(r, ms));
        await fault.until;
        break;
      }
      default:
        break;
    }
    let answer: Awaited<ReturnType<typeof forward>>;
    try {
      answer = await forward(method, path, req.headers, body);
    } catch {
      log({ forwarded: true });
      res.writeHead(502, { 'content-type': 'text/plain' }).end('fault proxy: upstream failed');
      return;
    }
    if (picked?.unpick && (answer.status < 200 || answer.status >= 300)) {
      picked.unpick();
      fault = undefined;
    }
    log({ forwarded: true, upstreamStatus: answer.status });
    switch (fault?.kind) {
      case 'reset-after':
        req.socket.resetAndDestroy();
        return;
      case 'status-after':
        res.writeHead(fault.status, { 'content-type': 'text/plain' }).end(`fault proxy: ${fault.status} after the server answered ${answer.status}`);
        return;
      case 'hang-after':
        return;
      default:
        reply(answer.status, answer.headers, answer.body);
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // A write holds "the database" from its arrival (delays included) until it is answered.
      const write = isWrite((req.method ?? 'GET').toUpperCase(), (req.url ?? '/').slice(base.length));
      const busy = singleWriter && write && writesForwarding > 0;
      if (write && !busy) writesForwarding += 1;
      handle(req, res, Buffer.concat(chunks), busy)
        .catch(() => req.socket.destroy())
        .finally(() => {
          if (write && !busy) writesForwarding -= 1;
        });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}${base}`,
    requests,
    addRule(rule) {
      rules.push({ rule, left: rule.times ?? 1 });
    },
    setRandom(next) {
      random = next;
    },
    setSingleWriter(on) {
      singleWriter = on;
    },
    reset() {
      rules.length = 0;
      random = undefined;
      singleWriter = false;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
