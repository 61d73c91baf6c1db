// Runs the committed bundle, dist/action/index.js, in a child process the way the runner does:
// inputs as INPUT_<NAME> (upper case, dashes kept), the event payload in a file, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files, RUNNER_TEMP. Also: a recording proxy in front of the Prefect test
// server, to count what the Action sends to Prefect.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPOSITORY } from './fake-github.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUNDLE = join(REPO_ROOT, 'dist', 'action', 'index.js');

export interface ActionRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly outputs: Record<string, string>;
  readonly outputFile: string;
  readonly summary: string;
  /** The plan file's contents, when the run wrote one. */
  readonly planFile?: string;
  readonly ms: number;
}

export interface RunActionOptions {
  readonly inputs: Record<string, string>;
  readonly event: 'pull_request' | 'push' | 'schedule' | 'workflow_dispatch';
  readonly payload?: Record<string, unknown>;
  readonly workspace: string;
  readonly githubApiUrl: string;
  readonly refName?: string;
  readonly env?: Record<string, string>;
  /** The node binary; default: the one running the tests. */
  readonly node?: string;
}

export const pullRequestPayload = (number: number): Record<string, unknown> => ({
  action: 'synchronize',
  number,
  pull_request: { number, head: { ref: 'feature/x', sha: 'a'.repeat(40) }, base: { ref: 'main', sha: 'b'.repeat(40) } },
  repository: { full_name: REPOSITORY },
});

export const pushPayload = (): Record<string, unknown> => ({ ref: 'refs/heads/main', before: 'b'.repeat(40), after: 'c'.repeat(40), repository: { full_name: REPOSITORY } });

export async function runAction(options: RunActionOptions): Promise<ActionRun> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build:action (the bundle is committed)`);
  const temp = await mkdtemp(join(tmpdir(), 'gitops-runner-'));
  const outputFile = join(temp, 'github_output');
  const summaryFile = join(temp, 'step_summary');
  const eventFile = join(temp, 'event.json');
  await writeFile(outputFile, '');
  await writeFile(summaryFile, '');
  await writeFile(eventFile, JSON.stringify(options.payload ?? (options.event === 'pull_request' ? pullRequestPayload(1) : options.event === 'push' ? pushPayload() : {})));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? temp,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: options.event,
    GITHUB_EVENT_PATH: eventFile,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_API_URL: options.githubApiUrl,
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_REPOSITORY: REPOSITORY,
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_WORKSPACE: options.workspace,
    GITHUB_REF_NAME: options.refName ?? (options.event === 'pull_request' ? '1/merge' : 'main'),
    GITHUB_REF_TYPE: 'branch',
    RUNNER_TEMP: temp,
    ...options.env,
  };
  for (const [name, value] of Object.entries(options.inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;

  const started = performance.now();
  const child = spawn(options.node ?? process.execPath, [BUNDLE], { cwd: options.workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const ms = performance.now() - started;
  const outputText = await readFile(outputFile, 'utf8');
  const outputs = parseOutputFile(outputText);
  const planPath = outputs['plan-file'];
  return {
    code,
    stdout,
    stderr,
    outputs,
    outputFile: outputText,
    summary: await readFile(summaryFile, 'utf8'),
    ...(planPath && existsSync(planPath) ? { planFile: await readFile(planPath, 'utf8') } : {}),
    ms,
  };
}

/** The runner's GITHUB_OUTPUT format: `name<<DELIMITER\nvalue\nDELIMITER\n` (and `name=value`). */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = line.match(/^([^=<]+)<<(.+)$/);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const value: string[] = [];
      while (++i < lines.length && lines[i] !== delimiter) value.push(lines[i]!);
      if (i >= lines.length) throw new Error(`unterminated output ${name}`);
      outputs[name!] = value.join('\n');
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return outputs;
}

/**
 * Where a secret may legitimately appear in stdout: the `::add-mask::` command that tells the
 * runner to hide it. Everything else must not contain it.
 */
export function withoutMaskCommands(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
}

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
}

/** Forwards to the Prefect test server and records every request. */
export class PrefectProxy {
  readonly requests: ProxiedRequest[] = [];
  private server: Server | undefined;
  private origin = '';

  constructor(private readonly target: string) {}

  /** The API URL to give the Action (the target's path on the proxy's origin). */
  get apiUrl(): string {
    return `${this.origin}${new URL(this.target).pathname}`;
  }

  async start(): Promise<this> {
    const targetOrigin = new URL(this.target).origin;
    this.server = createServer((req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)) headers[k] = v;
        const upstream = await fetch(`${targetOrigin}${req.url ?? ''}`, { method: req.method ?? 'GET', headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
        const body = Buffer.from(await upstream.arrayBuffer());
        const out: Record<string, string> = {};
        for (const name of ['content-type', 'retry-after']) {
          const v = upstream.headers.get(name);
          if (v) out[name] = v;
        }
        res.writeHead(upstream.status, out);
        res.end(body);
      })().catch(() => {
        res.writeHead(502);
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Requests Prefect would treat as writes: mutating methods other than the read-only filter/count POSTs. */
  writes(): ProxiedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && !(r.method === 'POST' && /\/(filter|count|paginate)\/?$/.test(r.path.split('?')[0] ?? '')));
  }
}
