// An in-memory stand-in for the few GitHub REST endpoints the Action calls. It records every
// request, answers unknown ones with 404 and lists them in `unexpected`, so a test can fail on
// any call it did not plan for. GitHub itself cannot be reached from the test environment.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  /** Path with query string, e.g. `/repos/acme/pipelines/issues/7/comments?per_page=100&page=1`. */
  readonly path: string;
  readonly body: string;
  readonly authorization: string | undefined;
  readonly accept: string | undefined;
  readonly apiVersion: string | undefined;
}

export interface FakeComment {
  id: number;
  issue: number;
  body: string;
  html_url: string;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  state: 'open' | 'closed';
  state_reason: string | null;
  html_url: string;
  pull_request?: { url: string };
}

export const REPOSITORY = 'acme/pipelines';
const ORIGIN = 'https://github.example/acme/pipelines';

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly unexpected: RecordedRequest[] = [];
  readonly comments: FakeComment[] = [];
  readonly issues: FakeIssue[] = [];
  /** Answer every request with this status (e.g. 403 to test a read-only token). */
  failWith: number | undefined;
  private nextId = 1000;
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Requests other than reads. */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  reset(): void {
    this.requests.length = 0;
    this.unexpected.length = 0;
  }

  addComment(issue: number, body: string): FakeComment {
    const id = this.nextId++;
    const comment = { id, issue, body, html_url: `${ORIGIN}/pull/${issue}#issuecomment-${id}` };
    this.comments.push(comment);
    return comment;
  }

  addIssue(input: { title: string; body: string; labels: string[]; pullRequest?: boolean }): FakeIssue {
    const number = this.issues.length + 1;
    const issue: FakeIssue = { number, title: input.title, body: input.body, labels: input.labels, state: 'open', state_reason: null, html_url: `${ORIGIN}/issues/${number}`, ...(input.pullRequest ? { pull_request: { url: 'x' } } : {}) };
    this.issues.push(issue);
    return issue;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      body,
      authorization: req.headers.authorization,
      accept: req.headers.accept,
      apiVersion: req.headers['x-github-api-version'] as string | undefined,
    };
    this.requests.push(record);
    const send = (status: number, value?: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(value === undefined ? '' : JSON.stringify(value));
    };
    if (this.failWith) return send(this.failWith, { message: 'Resource not accessible by integration' });
    const url = new URL(record.path, 'http://x');
    const json = (): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>;
    const page = <T>(items: T[]): T[] => {
      const perPage = Number(url.searchParams.get('per_page') ?? 30);
      const n = Number(url.searchParams.get('page') ?? 1);
      return items.slice((n - 1) * perPage, n * perPage);
    };
    const base = `/repos/${REPOSITORY}`;
    let m: RegExpMatchArray | null;
    if (record.method === 'GET' && (m = url.pathname.match(new RegExp(`^${base}/issues/(\\d+)/comments$`)))) {
      return send(200, page(this.comments.filter((c) => c.issue === Number(m![1]))));
    }
    if (record.method === 'POST' && (m = url.pathname.match(new RegExp(`^${base}/issues/(\\d+)/comments$`)))) {
      return send(201, this.addComment(Number(m[1]), String(json().body)));
    }
    if (record.method === 'PATCH' && (m = url.pathname.match(new RegExp(`^${base}/issues/comments/(\\d+)$`)))) {
      const comment = this.comments.find((c) => c.id === Number(m![1]));
      if (!comment) return this.reject(record, send);
      comment.body = String(json().body);
      return send(200, comment);
    }
    if (record.method === 'GET' && url.pathname === `${base}/issues`) {
      const labels = (url.searchParams.get('labels') ?? '').split(',').filter(Boolean);
      const state = url.searchParams.get('state') ?? 'open';
      const matching = this.issues.filter((i) => (state === 'all' || i.state === state) && labels.every((l) => i.labels.includes(l)));
      return send(200, page(matching).map((i) => ({ ...i, labels: i.labels.map((name) => ({ name })) })));
    }
    if (record.method === 'POST' && url.pathname === `${base}/issues`) {
      const input = json() as { title: string; body: string; labels: string[] };
      const issue = this.addIssue({ title: input.title, body: input.body, labels: input.labels ?? [] });
      return send(201, { ...issue, labels: issue.labels.map((name) => ({ name })) });
    }
    if (record.method === 'PATCH' && (m = url.pathname.match(new RegExp(`^${base}/issues/(\\d+)$`)))) {
      const issue = this.issues.find((i) => i.number === Number(m![1]));
      if (!issue) return this.reject(record, send);
      Object.assign(issue, json());
      return send(200, { ...issue, labels: issue.labels.map((name) => ({ name })) });
    }
    this.reject(record, send);
  }

  private reject(record: RecordedRequest, send: (status: number, value?: unknown) => void): void {
    this.unexpected.push(record);
    send(404, { message: 'Not Found (unexpected request in the test)' });
  }
}
