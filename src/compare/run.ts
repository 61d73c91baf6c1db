import { resolve } from 'node:path';
import type { Logger } from '../log.js';
import { runPrefectCli, startLocalPrefectServer, type PrefectServerHandle } from '../prefect/local-server.js';
import { compareDeployments, type ComparisonResult } from './compare.js';

export interface CompareProjectOptions {
  /** The project directory (holds prefect.yaml); `prefect deploy --all` runs there. */
  readonly dir: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The user's Prefect CLI (default: `prefect` on PATH). */
  readonly prefect: string;
  readonly stepOutputs?: Readonly<Record<string, string>>;
  readonly owner?: string;
  /** A Python with the project's Prefect, for flows static reading cannot resolve (`--python`). */
  readonly python?: string;
  /** Only this prefect.yaml, relative to `dir`: `prefect deploy --all --prefect-file` for them, the same for us. */
  readonly prefectFile?: string;
  readonly logger: Logger;
  /** Called with progress lines ("starting two local Prefect servers..."). */
  readonly progress?: (line: string) => void;
}

/**
 * What a team runs once before switching: starts two throwaway local Prefect servers with the
 * user's own Prefect, deploys the project with `prefect deploy --all` to one and with prefect-gitops
 * to the other, and compares every field. Both servers (and their temporary homes) are removed
 * afterwards, whatever happens. Nothing is written anywhere else.
 *
 * @throws ValidationFailedError when prefect-gitops rejects the project.
 */
export async function compareProject(options: CompareProjectOptions): Promise<ComparisonResult> {
  const servers: PrefectServerHandle[] = [];
  try {
    options.progress?.(`starting two throwaway Prefect servers with ${options.prefect}`);
    const [theirs, ours] = await Promise.all([startLocalPrefectServer(options.prefect, { services: false }), startLocalPrefectServer(options.prefect, { services: false })]);
    servers.push(theirs, ours);
    options.progress?.(`prefect deploy --all (Prefect ${theirs.version}) and prefect-gitops apply, from ${options.dir}`);
    const env = Object.fromEntries(Object.entries(options.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('PREFECT_')));
    return await compareDeployments({
      dir: options.dir,
      cwd: options.cwd,
      env: options.env,
      ...(options.stepOutputs ? { stepOutputs: options.stepOutputs } : {}),
      ...(options.owner ? { owner: options.owner } : {}),
      ...(options.python ? { python: options.python } : {}),
      ...(options.prefectFile ? { prefectFile: resolve(options.dir, options.prefectFile) } : {}),
      theirs: {
        client: { apiUrl: theirs.apiUrl },
        deploy: () => runPrefectCli(options.prefect, theirs, ['--no-prompt', 'deploy', '--all', ...(options.prefectFile ? ['--prefect-file', options.prefectFile] : [])], { cwd: options.dir, env, timeoutMs: 600_000 }),
      },
      ours: { apiUrl: ours.apiUrl },
      logger: options.logger,
    });
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
