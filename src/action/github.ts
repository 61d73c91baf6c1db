import { RemoteError } from '../errors.js';

/** A GitHub REST call failed. Like every RemoteError: method, path, status and a short body, never headers. */
export class GitHubApiError extends RemoteError {
  override readonly name = 'GitHubApiError';
}

export interface GitHubClientOptions {
  /** `GITHUB_API_URL`, e.g. `https://api.github.com` (GitHub Enterprise: `https://host/api/v3`). */
  readonly apiUrl: string;
  readonly token: string;
  /** `owner/name` (`GITHUB_REPOSITORY`). */
  readonly repository: string;
  /** Applied to every request body before it is sent: a last guard against leaking a secret. */
  readonly scrub?: (text: string) => string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export interface IssueComment {
  readonly id: number;
  readonly body: string;
  readonly html_url: string;
}

export interface GitHubIssue {
  readonly number: number;
  readonly title: string;
  readonly body: string;
  readonly html_url: string;
  readonly state: 'open' | 'closed';
  /** Present when the "issue" is a pull request (the issues API lists both). */
  readonly isPullRequest: boolean;
}

const PER_PAGE = 100;
/** Stops a misbehaving server (one that ignores `page`) from keeping us paging forever. */
const MAX_PAGES = 100;
const SHORT_BODY_MAX = 300;

/**
 * The Action's only GitHub HTTP code: the few REST calls it needs (issue comments and issues),
 * over global fetch, with the documented headers. Every failure is a {@link GitHubApiError}.
 */
export class GitHubClient {
  private readonly base: string;
  private readonly repoPath: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: GitHubClientOptions) {
    this.base = options.apiUrl.replace(/\/+$/, '');
    const [owner, name, ...rest] = options.repository.split('/');
    if (!owner || !name || rest.length > 0) throw new GitHubApiError(`GITHUB_REPOSITORY is not owner/name: "${options.repository}"`, 'GET', '/repos');
    this.repoPath = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** Every comment on an issue or pull request, oldest first (all pages). */
  async listIssueComments(issueNumber: number): Promise<IssueComment[]> {
    return this.paginate(`${this.repoPath}/issues/${issueNumber}/comments`, {}, toComment);
  }

  async createIssueComment(issueNumber: number, body: string): Promise<IssueComment> {
    const path = `${this.repoPath}/issues/${issueNumber}/comments`;
    return toComment(await this.request('POST', path, { body }), 'POST', path);
  }

  async updateIssueComment(commentId: number, body: string): Promise<IssueComment> {
    const path = `${this.repoPath}/issues/comments/${commentId}`;
    return toComment(await this.request('PATCH', path, { body }), 'PATCH', path);
  }

  /** Issues (not pull requests) carrying every one of `labels`, in `state`, all pages. */
  async listIssues(filter: { labels: readonly string[]; state: 'open' | 'closed' | 'all' }): Promise<GitHubIssue[]> {
    const issues = await this.paginate(`${this.repoPath}/issues`, { labels: filter.labels.join(','), state: filter.state }, toIssue);
    return issues.filter((i) => !i.isPullRequest);
  }

  async createIssue(input: { title: string; body: string; labels: readonly string[] }): Promise<GitHubIssue> {
    const path = `${this.repoPath}/issues`;
    return toIssue(await this.request('POST', path, { title: input.title, body: input.body, labels: [...input.labels] }), 'POST', path);
  }

  async updateIssue(issueNumber: number, patch: { title?: string; body?: string; state?: 'open' | 'closed'; state_reason?: 'completed' | 'not_planned' | 'reopened' }): Promise<GitHubIssue> {
    const path = `${this.repoPath}/issues/${issueNumber}`;
    return toIssue(await this.request('PATCH', path, patch), 'PATCH', path);
  }

  /**
   * One REST call; resolves to the parsed JSON body (undefined when empty).
   * @param path from the API root, e.g. `/repos/o/r/issues`, optionally with a query string.
   * @throws GitHubApiError on a non-2xx status, a network failure, a timeout or a non-JSON body.
   */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const where = path.split('?')[0] ?? path;
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${this.options.token}`,
          'x-github-api-version': '2022-11-28',
          'user-agent': 'prefect-gitops-action',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: this.scrub(JSON.stringify(body)) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
      text = await response.text();
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? 'timed out' : 'could not be reached';
      throw new GitHubApiError(`the GitHub API ${reason}`, method, where);
    }
    if (!response.ok) {
      const message = response.status === 401 || response.status === 403 || response.status === 404 ? permissionMessage(response.status) : `GitHub answered ${response.status}`;
      throw new GitHubApiError(message, method, where, response.status, this.scrub(shortBody(text)) || undefined);
    }
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new GitHubApiError('GitHub answered with a body that is not JSON', method, where, response.status);
    }
  }

  /** Page-numbered listing until a short page: works on github.com and GitHub Enterprise alike. */
  private async paginate<T>(path: string, query: Record<string, string>, check: (value: unknown, method: string, path: string) => T): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const params = new URLSearchParams({ ...query, per_page: String(PER_PAGE), page: String(page) });
      const items = await this.request('GET', `${path}?${params.toString()}`);
      if (!Array.isArray(items)) throw new GitHubApiError('GitHub answered with something that is not a list', 'GET', path);
      out.push(...items.map((item) => check(item, 'GET', path)));
      if (items.length < PER_PAGE) return out;
    }
    throw new GitHubApiError(`more than ${MAX_PAGES * PER_PAGE} items; giving up paging`, 'GET', path);
  }

  private scrub(text: string): string {
    return this.options.scrub ? this.options.scrub(text) : text;
  }
}

function permissionMessage(status: number): string {
  return `GitHub refused the request (${status}); check the job's \`permissions:\` and the github-token input`;
}

function shortBody(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SHORT_BODY_MAX ? `${flat.slice(0, SHORT_BODY_MAX)}…` : flat;
}

function record(value: unknown, method: string, path: string, what: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new GitHubApiError(`GitHub answered with an unexpected ${what}`, method, path);
  return value as Record<string, unknown>;
}

function toComment(value: unknown, method: string, path: string): IssueComment {
  const r = record(value, method, path, 'comment');
  if (typeof r.id !== 'number' || typeof r.html_url !== 'string') throw new GitHubApiError('GitHub answered with a comment without id or html_url', method, path);
  return { id: r.id, body: typeof r.body === 'string' ? r.body : '', html_url: r.html_url };
}

function toIssue(value: unknown, method: string, path: string): GitHubIssue {
  const r = record(value, method, path, 'issue');
  if (typeof r.number !== 'number' || typeof r.html_url !== 'string') throw new GitHubApiError('GitHub answered with an issue without number or html_url', method, path);
  return {
    number: r.number,
    title: typeof r.title === 'string' ? r.title : '',
    body: typeof r.body === 'string' ? r.body : '',
    html_url: r.html_url,
    state: r.state === 'closed' ? 'closed' : 'open',
    isPullRequest: r.pull_request !== undefined && r.pull_request !== null,
  };
}
