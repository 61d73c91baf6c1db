// Throwaway local Prefect servers and Prefect CLI runs, for `prefect-gitops compare` (with the
// user's own Prefect) and for the tests and scripts (with the pinned venv's, scripts/prefect-server.ts).
//
// Every process runs in its own process group so that stopping it also stops whatever it
// spawned (uvicorn, flow runs). Groups still running when this process exits, or is
// interrupted, are SIGKILLed synchronously: nothing outlives the run.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrefectServerHandle {
  /** e.g. http://127.0.0.1:41234/api */
  apiUrl: string;
  /** The temporary PREFECT_HOME (database, profiles); removed by stop(). */
  home: string;
  port: number;
  /** What the running server reports at /api/admin/version. */
  version: string;
  /** PREFECT_* variables a child CLI or worker needs to talk to this server. */
  env: Record<string, string>;
  /** Stops the server and everything it spawned, then removes `home`. Idempotent. */
  stop(): Promise<void>;
}

/** Anything that carries the environment of a server: a handle, or `{ env: inject('prefectEnv') }`. */
export type PrefectTarget = Pick<PrefectServerHandle, 'env'>;

export interface StartPrefectServerOptions {
  /** Run the scheduler service (creates scheduled flow runs). Default true. */
  scheduler?: boolean;
  /** Run the background services at all; false means API only. Default true. */
  services?: boolean;
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  /** Receives every line the server prints. */
  log?: (line: string) => void;
  /** How long to wait for /api/health. Default 90 s. */
  readyTimeoutMs?: number;
}

const STOP_GRACE_MS = 10_000;

/**
 * Starts `<prefect> server start` (the given Prefect CLI) on a free port with a fresh temporary
 * PREFECT_HOME and resolves once /api/health answers true. Throws (after cleaning up) with the tail
 * of the server's output when it exits early or is not ready in time.
 */
export async function startLocalPrefectServer(prefect: string, opts: StartPrefectServerOptions = {}): Promise<PrefectServerHandle> {
  // Picking a free port and binding it later can race with another process; retry then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(prefect, opts);
    } catch (error) {
      if (attempt < 3 && error instanceof PortInUseError) continue;
      throw error;
    }
  }
}

class PortInUseError extends Error {}

async function startOnce(prefect: string, opts: StartPrefectServerOptions): Promise<PrefectServerHandle> {
  const port = await findFreePort();
  const home = await mkdtemp(join(tmpdir(), 'prefect-gitops-server-'));
  const apiUrl = `http://127.0.0.1:${port}/api`;
  const env: Record<string, string> = {
    PREFECT_API_URL: apiUrl,
    PREFECT_HOME: home,
    PREFECT_LOGGING_LEVEL: 'WARNING',
    PREFECT_CLI_PROMPT: 'false',
  };
  const args = ['server', 'start', '--host', '127.0.0.1', '--port', String(port), '--no-ui', '--analytics-off'];
  if (opts.services === false) args.push('--no-services');
  else args.push(opts.scheduler === false ? '--no-scheduler' : '--scheduler');

  const server = spawnGroup(prefect, args, {
    ...env,
    PREFECT_SERVER_DATABASE_CONNECTION_URL: `sqlite+aiosqlite:///${join(home, 'prefect.db')}`,
    PREFECT_SERVER_ANALYTICS_ENABLED: 'false',
    PREFECT_SERVER_UI_ENABLED: 'false',
    ...opts.env,
  }, opts.log, home);

  let version: string;
  try {
    await waitUntil(opts.readyTimeoutMs ?? 90_000, server, 'Prefect server', async () => {
      const response = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      return response.ok && (await response.json()) === true;
    });
    const response = await fetch(`${apiUrl}/admin/version`, { signal: AbortSignal.timeout(5_000) });
    version = String(await response.json());
  } catch (error) {
    await server.stop();
    if (/address already in use|Errno 98/i.test(server.tail())) throw new PortInUseError(String(error));
    throw error;
  }
  return { apiUrl, home, port, version, env, stop: server.stop };
}

export interface PrefectCliResult {
  /** Exit code; 128 + signal number when killed by a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the given `prefect` CLI against the target server and collects its output; its process group is killed after `timeoutMs`. */
export function runPrefectCli(
  prefect: string,
  target: PrefectTarget,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<PrefectCliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(prefect, args, {
      detached: true,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: childEnv({ ...target.env, ...opts.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const group = track(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => killGroupSync(group, 'SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      untrack(group);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      killGroupSync(group, 'SIGKILL'); // anything it left behind
      untrack(group);
      resolvePromise({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout, stderr });
    });
  });
}

async function findFreePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (address && typeof address === 'object') resolvePromise(address.port);
        else reject(new Error('could not read the probe port'));
      });
    });
  });
}

// Inherited PREFECT_* settings (a developer's profile, Prefect Cloud credentials) must not
// leak into the throwaway processes.
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PREFECT_')) env[key] = value;
  }
  return { ...env, ...extra };
}

export async function waitUntil(
  timeoutMs: number,
  proc: GroupProcess,
  what: string,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exited()) throw new Error(`${what} exited before it was ready (${proc.exited()}):\n${proc.tail()}`);
    try {
      if (await ready()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} was not ready within ${timeoutMs / 1000}s; last output:\n${proc.tail()}`);
    }
    await sleep(250);
  }
}

export interface GroupProcess {
  /** Undefined while running, else a description of how it ended. */
  exited(): string | undefined;
  /** The last lines it printed. */
  tail(): string;
  stop(): Promise<void>;
}

/** Spawns a command as the leader of a new process group, tracked for emergency cleanup. */
export function spawnGroup(
  command: string,
  args: string[],
  env: Record<string, string>,
  log: ((line: string) => void) | undefined,
  home?: string,
): GroupProcess {
  const child = spawn(command, args, { detached: true, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const group = track(child, home);
  const lines: string[] = [];
  let exitedAs: string | undefined;
  const exited = new Promise<void>((resolvePromise) => {
    child.once('exit', (code, signal) => {
      exitedAs = signal ? `signal ${signal}` : `exit code ${code}`;
      resolvePromise();
    });
    child.once('error', (error) => {
      exitedAs = `spawn failed: ${error.message}`;
      resolvePromise();
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 200) lines.shift();
        log?.(line);
      }
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (!exitedAs) {
        killGroupSync(group, 'SIGTERM');
        // The grace timer must not outlive the stop, or it holds the event loop open.
        let grace: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (grace = setTimeout(r, STOP_GRACE_MS)))]);
        clearTimeout(grace);
        if (!exitedAs) killGroupSync(group, 'SIGKILL');
        await exited;
      }
      // The leader is gone; make sure nothing it spawned stays behind.
      killGroupSync(group, 'SIGKILL');
      for (let i = 0; i < 50 && groupAlive(group); i++) await sleep(100);
      untrack(group);
      if (home) await rm(home, { recursive: true, force: true });
    })());

  return { exited: () => exitedAs, tail: () => lines.slice(-60).join('\n'), stop };
}

// --- emergency cleanup -------------------------------------------------------------------

interface Group {
  pgid: number;
  home: string | undefined;
}

const groups = new Set<Group>();

function track(child: ChildProcess, home?: string): Group {
  installCleanupHandlers();
  // pid is undefined only when spawn failed, in which case there is nothing to kill.
  const group: Group = { pgid: child.pid ?? 0, home };
  if (group.pgid > 0) groups.add(group);
  return group;
}

function untrack(group: Group): void {
  groups.delete(group);
}

function killGroupSync(group: Group, signal: NodeJS.Signals): void {
  if (group.pgid <= 0) return;
  try {
    process.kill(-group.pgid, signal);
  } catch {
    // ESRCH: the whole group is already gone
  }
}

function groupAlive(group: Group): boolean {
  try {
    process.kill(-group.pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killAllSync(): void {
  for (const group of groups) {
    killGroupSync(group, 'SIGKILL');
    if (group.home) rmSync(group.home, { recursive: true, force: true });
  }
  groups.clear();
}

let handlersInstalled = false;

function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // 'exit' also fires after process.exit() (which vitest calls on Ctrl-C) and after an
  // uncaught exception; only synchronous work is possible here.
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Prepended so that the count below still includes `once` listeners registered by others.
    const onSignal = () => {
      // Someone else handles the signal (vitest, the CLI below): let them shut down in
      // order; the 'exit' hook still runs if they exit.
      if (process.listenerCount(signal) > 1) return;
      killAllSync();
      // No one else: restore the default behaviour (terminate by that signal).
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.prependListener(signal, onSignal);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
