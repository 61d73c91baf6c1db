// Starts throwaway Prefect servers and workers from the pinned venv, for the integration
// tests and the demo. CLI: `npx tsx scripts/prefect-server.ts [--no-scheduler] [--no-services]`
// starts one, prints its environment and stops it on Ctrl-C. The process handling itself lives in
// src/prefect/local-server.ts (shared with `prefect-gitops compare`).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  runPrefectCli,
  spawnGroup,
  startLocalPrefectServer,
  waitUntil,
  type PrefectCliResult,
  type PrefectServerHandle,
  type PrefectTarget,
  type StartPrefectServerOptions,
} from '../src/prefect/local-server.js';
import { ensurePrefectVenv, prefectVenvPaths } from './prefect-venv.js';

export type { PrefectCliResult, PrefectServerHandle, PrefectTarget, StartPrefectServerOptions };

/** startLocalPrefectServer with the pinned venv's Prefect; ensures the venv first. */
export async function startPrefectServer(opts: StartPrefectServerOptions = {}): Promise<PrefectServerHandle> {
  const venv = await ensurePrefectVenv();
  return startLocalPrefectServer(venv.prefect, opts);
}

/** Runs the venv's `prefect` CLI against the target server and collects its output. */
export function prefectCli(
  target: PrefectTarget,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<PrefectCliResult> {
  return runPrefectCli(requireVenvPrefect(), target, args, opts);
}

export interface StartPrefectWorkerOptions {
  pool: string;
  type?: 'process';
  /** Worker name; must be unique per server. Default: derived from the pool. */
  name?: string;
  env?: Record<string, string>;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

/**
 * Starts `prefect worker start` against the target server and resolves once the worker has
 * registered with its pool (which it creates when missing). `stop()` stops the worker and
 * any flow-run processes it started.
 */
export async function startPrefectWorker(
  target: PrefectTarget,
  opts: StartPrefectWorkerOptions,
): Promise<{ name: string; stop(): Promise<void> }> {
  const prefect = requireVenvPrefect();
  const name = opts.name ?? `${opts.pool}-worker-${process.pid}-${Date.now()}`;
  const args = [
    'worker', 'start', '--pool', opts.pool, '--type', opts.type ?? 'process', '--name', name,
    '--install-policy', 'never',
  ];
  const worker = spawnGroup(prefect, args, { ...target.env, ...opts.env }, opts.log);
  const apiUrl = requireApiUrl(target);
  try {
    await waitUntil(opts.readyTimeoutMs ?? 120_000, worker, 'Prefect worker', async () => {
      const response = await fetch(`${apiUrl}/work_pools/${encodeURIComponent(opts.pool)}/workers/filter`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
        // A busy server (the whole suite on one) can take seconds to answer: a 2 s limit here once made a started worker never count as ready.
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) return false;
      const workers = (await response.json()) as Array<{ name?: unknown }>;
      return workers.some((w) => w.name === name);
    });
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return { name, stop: worker.stop };
}

function requireVenvPrefect(): string {
  // Callers in test workers only have the server's env; the venv is the global setup's.
  return prefectVenvPaths().prefect;
}

function requireApiUrl(target: PrefectTarget): string {
  const url = target.env['PREFECT_API_URL'];
  if (!url) throw new Error('the target has no PREFECT_API_URL in its env');
  return url;
}

// --- CLI ---------------------------------------------------------------------------------

async function main(argv: string[]): Promise<void> {
  const server = await startPrefectServer({
    scheduler: !argv.includes('--no-scheduler'),
    services: !argv.includes('--no-services'),
    log: argv.includes('--verbose') ? (line) => console.error(line) : undefined,
  });
  for (const [key, value] of Object.entries(server.env)) console.log(`export ${key}=${value}`);
  console.error(`prefect server ${server.version} ready at ${server.apiUrl}; Ctrl-C stops it`);
  await new Promise<void>((resolvePromise) => {
    process.once('SIGINT', resolvePromise);
    process.once('SIGTERM', resolvePromise);
  });
  await server.stop();
  console.error('prefect server stopped');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
