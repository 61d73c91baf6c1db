import { Command, CommanderError, Option } from 'commander';
import { describeError, exitCodeFor, ExitCode } from '../errors.js';
import { loadManifests } from '../manifests/load.js';
import { renderIssuesJson, renderIssuesText } from '../render/issues.js';
import { hasErrors, validateProject } from '../validate/validate.js';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  isTty: boolean;
}

const defaultIo = (): Io => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  isTty: Boolean(process.stdout.isTTY),
});

/** Runs the CLI and returns the exit code. Never calls process.exit. */
export async function main(argv: readonly string[], io: Io = defaultIo()): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = new Command('prefect-gitops')
    .description('Declarative GitOps for Prefect deployments: validate, plan, apply and prune from a directory of manifests.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError();

  program
    .command('validate')
    .description('check manifests offline (no server needed); exits 2 when anything is invalid')
    .argument('[dir]', 'manifest directory (holds prefect-gitops.yaml)', '.')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('-e, --environment <name>', 'resolve deployments for this environment (default: check every environment)')
    .action(async (dir: string, opts: { format: 'text' | 'json'; environment?: string }) => {
      const project = await loadManifests(dir, { cwd: io.cwd });
      const result = validateProject(project, { env: io.env, allEnvironments: opts.environment === undefined, ...(opts.environment ? { environment: opts.environment } : {}) });
      io.stdout(opts.format === 'json' ? renderIssuesJson(result.issues) : renderIssuesText(result.issues, project.files.length + (project.configFile ? 1 : 0), result.deployments.length));
      exitCode = hasErrors(result.issues) ? ExitCode.invalidOrChanges : ExitCode.ok;
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.invalidOrChanges;
    io.stderr(`error: ${describeError(error)}\n`);
    return exitCodeFor(error);
  }
  return exitCode;
}
