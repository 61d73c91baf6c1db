// Runs the real CLI (bin/prefect-gitops.js) as a child process against the test server, for what
// only a separate process shows: concurrent applies, SIGKILL, SIGINT.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prefectApiUrl } from './prefect.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'prefect-gitops.js');

export interface CliExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything printed so far (stdout then stderr are kept apart). */
  output(): { stdout: string; stderr: string };
  /** Resolves once stdout or stderr matches; rejects when the process exits first. */
  waitFor(pattern: RegExp): Promise<void>;
  readonly exited: Promise<CliExit>;
}

export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PREFECT_API_URL: prefectApiUrl(), NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers: { pattern: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = (): void => {
    for (const w of [...watchers]) {
      if (w.pattern.test(stdout) || w.pattern.test(stderr)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    check();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    check();
  });
  const exited = new Promise<CliExit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const w of watchers.splice(0)) w.reject(new Error(`exited (${code ?? signal}) before printing ${w.pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        watchers.push({ pattern, resolve, reject });
        check();
      }),
    exited,
  };
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliExit> {
  return startCli(args, env).exited;
}
