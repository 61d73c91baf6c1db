import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { convertDeploymentYamls } from '../convert/run.js';
import { ExitCode } from '../errors.js';
import { escapeControl } from '../render/escape.js';
import { renderIssueLines } from '../render/issues.js';
import type { Io } from './main.js';

export interface ConvertFlags {
  out?: string;
  owner?: string;
  workPool: string[];
}

/** `--work-pool NAME` (every deployment without a pool) or `--work-pool TYPE=NAME` (by infrastructure's pool type). */
export function parseWorkPools(values: readonly string[]): Record<string, string> {
  const pools: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const [type, name] = eq < 0 ? ['*', value] : [value.slice(0, eq), value.slice(eq + 1)];
    if (!type || !name) throw new InvalidArgumentError(`--work-pool expects <name> or <type>=<name> (e.g. process=local), got "${value}"`);
    pools[type] = name;
  }
  return pools;
}

/**
 * `prefect-gitops convert`: problems on stderr (file:line); with errors nothing is written (exit 2).
 * Without `--out` the manifests go to stdout.
 */
export async function convertCommand(paths: readonly string[], flags: ConvertFlags, io: Io): Promise<number> {
  const result = await convertDeploymentYamls({ inputs: paths, cwd: io.cwd, ...(flags.out ? { out: flags.out } : {}), ...(flags.owner ? { owner: flags.owner } : {}), workPools: parseWorkPools(flags.workPool) });
  if (result.issues.length) io.stderr(renderIssueLines(result.issues));
  if (result.issues.some((i) => i.severity === 'error')) {
    io.stderr('nothing was written: fix the errors above (or leave those files out)\n');
    return ExitCode.invalidOrChanges;
  }
  const count = `${result.deployments.length} deployment${result.deployments.length === 1 ? '' : 's'} from ${result.read.length} file${result.read.length === 1 ? '' : 's'}`;
  if (!flags.out) {
    io.stdout(result.files.map((f) => f.content).join('---\n'));
    io.stderr(`Converted ${count}.\n`);
  } else {
    const out = resolve(io.cwd, flags.out);
    for (const file of [...result.files, ...(result.config ? [result.config] : [])]) {
      await mkdir(dirname(join(out, file.path)), { recursive: true });
      await writeFile(join(out, file.path), file.content);
      io.stdout(escapeControl(`wrote ${join(flags.out, file.path)}${file.deployments.length ? ` (${file.deployments.join(', ')})` : ''}`) + '\n');
    }
    io.stdout(`Converted ${count}.\n`);
    if (!result.hasConfig && !result.config) {
      io.stdout(
        `No prefect-gitops.yaml was written: choose an owner id (it scopes what prune may delete) and run convert again with --owner <id>, ` +
          `or create ${join(flags.out, 'prefect-gitops.yaml')} with \`owner: <id>\`${result.projectRoot ? ` and \`project_root: ${result.projectRoot}\`` : ''}.\n`,
      );
    }
  }
  // Without --out, stdout is the manifests: the advice goes to stderr.
  const say = flags.out ? io.stdout : io.stderr;
  const fromBlocks = result.pools.filter((p) => p.type);
  if (fromBlocks.length) {
    say(`Work pools the manifests use (workers replace Prefect 2 agents and infrastructure blocks); create any that do not exist yet:\n`);
    for (const pool of fromBlocks) say(escapeControl(`  prefect work-pool create ${pool.name} --type ${pool.type}`) + '\n');
  }
  say(`Check with: prefect-gitops plan ${flags.out ?? '<dir>'}\n`);
  return ExitCode.ok;
}
