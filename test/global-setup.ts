// One Prefect server for the whole test run (integration tests share it and keep apart by
// using unique names). Unit tests do not need it but the cost is one ~10 s start per run.
import type { TestProject } from 'vitest/node';
import { startPrefectServer } from '../scripts/prefect-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    prefectApiUrl: string;
    prefectHome: string;
    prefectEnv: Record<string, string>;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // startPrefectServer builds or reuses the pinned venv first (and says which).
  const started = performance.now();
  // A short scheduler loop lets the scheduled-runs test see runs within seconds (the setting's
  // name before Prefect 3.1 is PREFECT_API_SERVICES_…; later versions still accept it, the new one wins).
  const server = await startPrefectServer({ scheduler: true, readyTimeoutMs: 180_000, env: { PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS: '2', PREFECT_API_SERVICES_SCHEDULER_LOOP_SECONDS: '2' } });
  console.log(
    `prefect server ${server.version} ready at ${server.apiUrl} after ${((performance.now() - started) / 1000).toFixed(1)}s (venv included)`,
  );
  project.provide('prefectApiUrl', server.apiUrl);
  project.provide('prefectHome', server.home);
  project.provide('prefectEnv', server.env);
  return async () => {
    const stopping = performance.now();
    await server.stop();
    console.log(`prefect server stopped in ${((performance.now() - stopping) / 1000).toFixed(1)}s`);
  };
}
