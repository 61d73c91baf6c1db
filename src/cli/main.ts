import { mkdir, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { escapeControl, jsonSafe } from '../render/escape.js';
import { dirname, join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { apply, type ActionResult, type ApplyOptions, type ApplyResult } from '../apply/apply.js';
import { DEFAULT_LOCK_TIMEOUT_MS, describeHolder, lockTtlMs, type ApplyLock } from '../apply/lock.js';
import { formatDuration, parseDuration } from '../duration.js';
import { planUnderLock } from '../apply/under-lock.js';
import { describeError, exitCodeFor, ExitCode, InterruptedError, UsageError, UserInputError, ValidationFailedError } from '../errors.js';
import { createLogger, type LogFormat, type LogLevel, type Logger } from '../log.js';
import { PrefectClient } from '../prefect/client.js';
import { resolvePrefectSettings, type PrefectSettingName } from '../prefect/settings.js';
import { exportManifests, fetchForExport, type ExportLayout } from '../export/export.js';
import { ownerOf } from '../plan/ownership.js';
import { driftReport } from '../plan/drift.js';
import { toSavedPlan } from '../plan/saved.js';
import type { Plan } from '../plan/types.js';
import { collectSecrets, redact, scrubSecrets } from '../render/redact.js';
import { BRANCH_OVERRIDE_VARIABLE } from '../manifests/git-context.js';
import { loadManifests } from '../manifests/load.js';
import { compareProject } from '../compare/run.js';
import { comparisonIsEqual, renderComparisonText } from '../render/compare.js';
import { planHasChanges } from '../plan/plan.js';
import { WORKSPACE_KINDS, type WorkspaceKind } from '../workspace/kind.js';
import { exportWorkspace } from '../workspace/export.js';
import type { PlanAction } from '../plan/types.js';
import { assertBranchMayApply, readSavedPlan, reconcile, reconcileSavedPlan, savedPlanOptions, type Reconciliation, type ReconcileOptions, type SavedReconciliation } from '../reconcile.js';
import { renderFilesText, renderIssueLines, renderIssuesJson, renderIssuesText } from '../render/issues.js';
import { renderPlanSummary } from '../render/markdown.js';
import { renderActionText, renderApplyText, renderDriftText, renderPlanJson, renderPlanText, useColor } from '../render/text.js';
import { hasErrors, validateProject } from '../validate/validate.js';
import { VERSION } from '../version.js';
import { countScheduledRuns } from '../scheduled-runs.js';
import { convertCommand, type ConvertFlags } from './convert.js';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** stdout is a terminal. */
  isTty: boolean;
  /**
   * Subscribes to Ctrl-C / SIGTERM for the length of an apply; returns the unsubscribe. Only apply
   * listens (plan and the rest keep the default: die at once, having written nothing).
   */
  onInterrupt?: (handler: () => void) => () => void;
  /** stdin is a terminal too: `apply` then asks for approval (absent: not interactive). */
  stdinTty?: boolean;
  /** Reads one line of input (the answer to apply's approval prompt). */
  readLine?: () => Promise<string>;
}

const defaultIo = (): Io => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  isTty: Boolean(process.stdout.isTTY),
  onInterrupt: processInterrupts,
  stdinTty: Boolean(process.stdin.isTTY),
  readLine: async () => {
    const lines = createInterface({ input: process.stdin, terminal: false });
    try {
      for await (const line of lines) return line;
      return '';
    } finally {
      lines.close();
    }
  },
});

/** The first SIGINT/SIGTERM calls `handler`; a second one stops the process the default way (the lock then expires by itself). */
function processInterrupts(handler: () => void): () => void {
  let count = 0;
  const on = (signal: NodeJS.Signals): void => {
    count += 1;
    if (count === 1) return handler();
    process.stderr.write(`${signal} again: stopping now; the apply lock expires by itself\n`);
    unsubscribe();
    process.kill(process.pid, signal);
  };
  const unsubscribe = (): void => {
    process.off('SIGINT', on);
    process.off('SIGTERM', on);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return unsubscribe;
}

interface ServerFlags {
  environment?: string;
  apiUrl?: string;
  apiKey?: string;
  authString?: string;
  prune?: boolean;
  maxDeletes?: number;
  allowMassDelete?: boolean;
  adopt?: boolean;
  allowMissingPools?: boolean;
  target: string[];
  autoApprove?: boolean;
  json?: boolean;
  color?: boolean;
  detailedExitcode?: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Undefined: the client adapts the requests in flight (up to 16). */
  concurrency?: number;
  timeout?: number;
  requestTimeout?: number;
  owner?: string;
  set?: Record<string, string>;
  python?: string;
  prefectFile?: string;
  branch?: string;
}

/** Opt-in: the flow code runs, as with `prefect deploy`. */
const PREFECT_FILE_HELP = 'read only this prefect.yaml, as prefect deploy --prefect-file run from [dir] (default: the current directory) reads it: entrypoints relative to [dir] first';
const PYTHON_HELP = 'a Python with your Prefect installed: asked for the name, description and parameter schema of flows that cannot be read statically (runs the flow modules, as prefect deploy does; 60s limit)';

function addServerOptions(command: Command): Command {
  return command
    .argument('[dir]', 'manifest directory (holds prefect-gitops.yaml)', '.')
    .option('-e, --environment <name>', 'environment from prefect-gitops.yaml to plan for')
    .option('--owner <id>', 'owner id for a bare prefect.yaml project (no prefect-gitops.yaml)')
    .option('--set <id.key=value>', 'value of a prefect.yaml build/push step output, e.g. build-image.image=acme/etl:1 (repeatable)', collectSet, {})
    .option('--python <path>', PYTHON_HELP)
    .option('--prefect-file <path>', PREFECT_FILE_HELP)
    .option('--branch <name>', 'git branch for environments.<name>.branches and {{ git.branch }} (default: from the CI system, else git)')
    .option('--api-url <url>', 'Prefect API URL (default: $PREFECT_API_URL)')
    .option('--api-key <key>', 'Prefect Cloud API key (default: $PREFECT_API_KEY)')
    .option('--auth-string <user:pass>', 'basic auth for a self-hosted server (default: $PREFECT_API_AUTH_STRING)')
    .option('--prune', 'delete owned deployments that are no longer declared (overrides the config)')
    .option('--no-prune', 'never delete, whatever the config says')
    .option('--max-deletes <n>', 'refuse to delete more than this many deployments (overrides the config)', wholeNumber(0))
    .option('--allow-mass-delete', 'lift the prune safeguards for this run')
    .option('--adopt', 'take ownership of declared deployments that exist but were not created by this owner')
    .option('--target <pattern>', 'act on these deployments only: a glob over flow/name, or a name in any flow (repeatable); prune is off', collectList, [])
    .option('--allow-missing-pools', 'a work pool or work queue missing on the server is a warning, not an error (created in the same rollout)')
    .option('--json', 'print the plan as JSON (same as --format json)')
    .addOption(new Option('--format <format>', 'output format (json: same as --json)').choices(['text', 'json']))
    .option('--no-color', 'no colour in the output (also: NO_COLOR)')
    .addOption(new Option('--log-level <level>', 'diagnostics level (stderr)').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('warn'))
    .addOption(new Option('--log-format <format>', 'diagnostics format').choices(['text', 'json']).default('text'))
    .option('--concurrency <n>', 'requests in flight at most (default: adapts to the server, up to 16)', wholeNumber(1))
    .option('--timeout <duration>', 'give up on the Prefect server after this long in total, e.g. 10m (default: no limit)', positiveDuration)
    .option('--request-timeout <duration>', 'give up on one request after this long (retried once), e.g. 30s', positiveDuration);
}

/** PREFECT_API_URL / _KEY / _AUTH_STRING from the environment or Prefect's settings files and profile, as the prefect CLI reads them. */
function prefectSetting(io: Io, name: PrefectSettingName): string | undefined {
  return resolvePrefectSettings(io.env, io.cwd)[name]?.value;
}

function secretsOf(io: Io, flags: Pick<ServerFlags, 'apiKey' | 'authString'>): string[] {
  return collectSecrets([flags.apiKey ?? prefectSetting(io, 'PREFECT_API_KEY'), flags.authString ?? prefectSetting(io, 'PREFECT_API_AUTH_STRING')]);
}

function toReconcileOptions(dir: string, flags: ServerFlags, io: Io): ReconcileOptions {
  const apiUrl = flags.apiUrl ?? prefectSetting(io, 'PREFECT_API_URL');
  const apiKey = flags.apiKey ?? prefectSetting(io, 'PREFECT_API_KEY');
  const authString = flags.authString ?? prefectSetting(io, 'PREFECT_API_AUTH_STRING');
  const logger = createLogger({ level: flags.logLevel, format: flags.logFormat, secrets: secretsOf(io, flags), write: io.stderr });
  return {
    manifests: dir,
    cwd: io.cwd,
    ...(flags.environment ? { environment: flags.environment } : {}),
    env: withBranch(io.env, flags.branch),
    client: {
      apiUrl: apiUrl ?? '',
      ...(apiKey ? { apiKey } : {}),
      ...(authString ? { authString } : {}),
      concurrency: flags.concurrency,
      // One limit for the whole command, whatever clients it makes (apply plans again under the lock).
      ...(flags.timeout !== undefined ? { totalTimeoutMs: flags.timeout, deadlineAt: Date.now() + flags.timeout } : {}),
      ...(flags.requestTimeout !== undefined ? { timeoutMs: flags.requestTimeout } : {}),
    },
    ...(flags.prune !== undefined ? { prune: flags.prune } : {}),
    ...(flags.maxDeletes !== undefined ? { maxDeletes: flags.maxDeletes } : {}),
    allowMassDelete: flags.allowMassDelete ?? false,
    adoptAll: flags.adopt ?? false,
    ...(flags.allowMissingPools ? { allowMissingPools: true } : {}),
    ...(flags.target?.length ? { targets: flags.target } : {}),
    ...(flags.owner ? { owner: flags.owner } : {}),
    stepOutputs: flags.set ?? {},
    ...(flags.python ? { python: flags.python } : {}),
    ...(flags.prefectFile ? { prefectFile: flags.prefectFile } : {}),
    logger,
  };
}

/** `--branch` reaches the branch guard and `{{ git.branch }}` as PREFECT_GITOPS_BRANCH. */
function withBranch(env: Io['env'], branch: string | undefined): Io['env'] {
  return branch ? { ...env, [BRANCH_OVERRIDE_VARIABLE]: branch } : env;
}

const collectList = (value: string, previous: string[]): string[] => [...previous, value];

/** `--lock-timeout`: a duration such as 30s, 5m, 1m30s or 0; a bare number is seconds. */
function lockTimeout(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration such as 30s, 5m or 0, got "${value}"`);
  return ms;
}

/** `--timeout`, `--request-timeout`: a duration such as 90s, 5m, 1m30s or 500ms; not zero. */
function positiveDuration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1) throw new InvalidArgumentError(`expected a duration such as 90s, 5m or 500ms, got "${value}"`);
  return ms;
}

/** An option parser for whole numbers of at least `min`; anything else is a usage error. */
function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value.trim()) || Number(value) < min) throw new InvalidArgumentError(`expected a whole number of at least ${min}, got "${value}"`);
    return Number(value);
  };
}

/** `--set a.b=c`, repeatable, into a mapping. */
function collectSet(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`--set expects <step-id>.<key>=<value>, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}


/** Runs the CLI and returns the exit code. Never calls process.exit. */
export async function main(argv: readonly string[], io: Io = defaultIo()): Promise<number> {
  let exitCode: number = ExitCode.ok;
  let command: 'validate' | 'plan' | 'apply' | 'export' | 'other' = 'other';
  let secrets: string[] = [];
  let jsonOutput = false;
  const program = new Command('prefect-gitops')
    .description(`Declarative GitOps for Prefect deployments: validate, plan, apply and prune from a directory of manifests. Version ${VERSION}.`)
    .version(VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError()
    // --json and --format json are one switch on every command that prints a result.
    .hook('preAction', (_program, action) => {
      const opts = action.opts<{ json?: boolean; format?: string }>();
      jsonOutput = opts.json === true || opts.format === 'json';
      const has = (name: string): boolean => action.options.some((o) => o.attributeName() === name);
      if (jsonOutput && has('json')) action.setOptionValue('json', true);
      if (jsonOutput && has('format')) action.setOptionValue('format', 'json');
    });

  program
    .command('validate')
    .description('check manifests offline (no server needed); exits 2 when anything is invalid')
    .argument('[dir]', 'manifest directory (holds prefect-gitops.yaml)', '.')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--json', 'same as --format json')
    .option('-e, --environment <name>', 'resolve deployments for this environment only (default: check every environment)')
    .option('--owner <id>', 'owner id for a bare prefect.yaml project (no prefect-gitops.yaml)')
    .option('--set <id.key=value>', 'value of a prefect.yaml build/push step output (repeatable)', collectSet, {})
    .option('--python <path>', PYTHON_HELP)
    .option('--prefect-file <path>', PREFECT_FILE_HELP)
    .option('--branch <name>', 'git branch for {{ git.branch }} (default: from the CI system, else git)')
    .option('--verbose', 'list every file and folder not read (hidden, ignored, empty, ...) and why')
    .action(async (dir: string, opts: { format: 'text' | 'json'; environment?: string; owner?: string; set: Record<string, string>; python?: string; prefectFile?: string; branch?: string; verbose?: boolean }) => {
      command = 'validate';
      const env = withBranch(io.env, opts.branch);
      const project = await loadManifests(dir, { cwd: io.cwd, env, ...(opts.python ? { python: opts.python } : {}), ...(opts.prefectFile ? { prefectFile: opts.prefectFile } : {}) });
      const result = validateProject(project, {
        env,
        allEnvironments: opts.environment === undefined,
        offline: true,
        stepOutputs: opts.set,
        ...(opts.environment ? { environment: opts.environment } : {}),
        ...(opts.owner ? { owner: opts.owner } : {}),
      });
      const files = { read: [...(project.configFile ? [project.display(project.configFile)] : []), ...project.files], skipped: project.skipped };
      io.stdout(
        opts.format === 'json'
          ? renderIssuesJson(result.issues, files)
          : renderFilesText({ ...files, verbose: opts.verbose ?? false }) + renderIssuesText(result.issues, project.files.length + (project.configFile ? 1 : 0), result.deployments.length, result.workspace.length),
      );
      exitCode = hasErrors(result.issues) ? ExitCode.invalidOrChanges : ExitCode.ok;
    });

  addServerOptions(program.command('plan').description('show what apply would change on the Prefect server; sends no writes'))
    .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are, 1 on errors')
    .option('--out <file>', 'also save the plan (JSON, no secrets) for a later `apply <file>`')
    .action(async (dir: string, flags: ServerFlags & { out?: string }) => {
      command = 'plan';
      secrets = secretsOf(io, flags);
      const { plan, warnings, client } = await reconcile(toReconcileOptions(dir, flags, io));
      const color = flags.color !== false && useColor(io.isTty, io.env);
      if (warnings.length && !flags.json) io.stderr(renderIssueLines(warnings));
      io.stdout(flags.json ? renderPlanJson(plan, secrets) : renderPlanText(plan, { color, secrets, now: new Date(), scheduledRuns: await scheduledRunsOf(client, plan, io, secrets) }));
      if (flags.out) {
        const saved = toSavedPlan(plan, redact(plan, secrets), { manifests: dir, now: new Date(), options: savedPlanOptions(toReconcileOptions(dir, flags, io)) });
        await writeFile(resolve(io.cwd, flags.out), JSON.stringify(saved, null, 2) + '\n');
        if (!flags.json) io.stdout(`Saved the plan to ${flags.out}; apply exactly this plan with: prefect-gitops apply ${flags.out}\n`);
      }
      if (plan.pruneRefused) exitCode = ExitCode.failure;
      else if (flags.detailedExitcode && (planHasChanges(plan) || plan.summary.conflicts > 0)) exitCode = ExitCode.invalidOrChanges;
    });

  addServerOptions(program.command('apply').description('plan, then make the Prefect server match the manifests; or apply a saved plan file'))
    .option('--lock-timeout <duration>', 'wait this long for another apply of the same owner to finish, e.g. 30s, 5m, 0 (default: 5m)', lockTimeout, DEFAULT_LOCK_TIMEOUT_MS)
    .option('--no-lock', 'take no apply lock (emergencies only: concurrent applies can then undo each other)')
    .option('--auto-approve', 'apply without asking for approval (on a terminal, apply shows the plan and asks for "yes")')
    .action(async (target: string, flags: ServerFlags & { lockTimeout: number; lock: boolean }) => {
      command = 'apply';
      secrets = secretsOf(io, flags);
      const interactive = io.isTty && io.stdinTty === true && !flags.autoApprove;
      if (interactive && flags.json) throw new UserInputError('apply --json on a terminal needs --auto-approve: the approval prompt would mix with the JSON');
      const color = flags.color !== false && useColor(io.isTty, io.env);
      const options = toReconcileOptions(target, flags, io);
      const fromFile = /\.json$/i.test(target);
      const savedPlan = fromFile ? await readSavedPlan(resolve(io.cwd, target)) : undefined;
      const interrupt = new AbortController();
      const unsubscribe = io.onInterrupt?.(() => {
        io.stderr('interrupted: no new actions start; waiting for those in flight\n');
        interrupt.abort(new InterruptedError('interrupted'));
      });
      const ttlMs = lockTtlMs(io.env);
      if (!flags.lock) io.stderr('warning: --no-lock: no apply lock is taken; another apply of this owner may run at the same time\n');
      let lock: ApplyLock | undefined;
      try {
        const planned = await planUnderLock<Reconciliation | SavedReconciliation>(
          async () => {
            const r = savedPlan ? await reconcileSavedPlan(savedPlan, options) : await reconcile(options);
            await assertBranchMayApply(r, r.plan.environment ?? undefined, options.env);
            return r;
          },
          {
            lock: flags.lock,
            timeoutMs: flags.lockTimeout,
            ttlMs,
            env: io.env,
            logger: options.logger,
            signal: interrupt.signal,
            onWait: (holder, name) => io.stderr(`Waiting up to ${formatDuration(flags.lockTimeout)} for the apply lock ${name}, held by ${describeHolder(holder)}\n`),
          },
        );
        lock = planned.lock;
        exitCode = await applyPlanned(planned.reconciliation, lock, { flags, color, target, interrupt: interrupt.signal, ttlMs, logger: options.logger, interactive });
      } finally {
        await lock?.release();
        unsubscribe?.();
      }
    });

  /** Shows and applies a plan made under the lock; returns the exit code. */
  async function applyPlanned(
    reconciliation: Reconciliation | SavedReconciliation,
    lock: ApplyLock | undefined,
    c: { flags: ServerFlags; color: boolean; target: string; interrupt: AbortSignal; ttlMs: number; logger: Logger; interactive: boolean },
  ): Promise<number> {
    const { flags, color, target } = c;
    const saved = 'stale' in reconciliation ? reconciliation : undefined;
    const { plan } = reconciliation;
    if (reconciliation.warnings.length && !flags.json) io.stderr(renderIssueLines(reconciliation.warnings));
    let stale = 0;
    if (saved) {
      for (const entry of saved.stale) {
        io.stderr(`refused (stale): ${escapeControl(entry.reason)}\n`);
        if (entry.fresh) io.stderr(renderActionText(entry.fresh, { color, secrets }));
      }
      const unplanned = [...saved.unplanned.map((a) => `${a.kind} ${a.key}`), ...saved.unplannedObjects.map((a) => `${a.action} ${a.kind} ${a.key}`)];
      if (unplanned.length) io.stderr(`not in the saved plan (run plan again to review): ${escapeControl(unplanned.join(', '))}\n`);
      stale = saved.stale.length;
      const total = saved.savedActions;
      if (!flags.json) io.stdout(`Applying ${plan.actions.length + (plan.workspace?.actions.length ?? 0)} of ${total} saved action${total === 1 ? '' : 's'} from ${target}${stale ? `; ${stale} refused as stale` : ''}.\n`);
    } else if (!flags.json) io.stdout(renderPlanText(plan, { color, secrets, now: new Date(), scheduledRuns: await scheduledRunsOf(reconciliation.client, plan, io, secrets) }));
    // A refused prune refuses the whole apply: the plan above says so; nothing is sent.
    if (!planHasChanges(plan) || plan.pruneRefused) {
      if (flags.json) io.stdout(jsonSafe(JSON.stringify({ plan: JSON.parse(renderPlanJson(plan, secrets)), results: [] }, null, 2)) + '\n');
      return plan.summary.conflicts > 0 || plan.pruneRefused || stale ? ExitCode.failure : ExitCode.ok;
    }
    // A saved plan was reviewed already (as with terraform apply PLANFILE): no prompt for it.
    if (c.interactive && !saved && !(await approved(io, c.interrupt))) {
      io.stdout('\nApply cancelled; nothing was changed.\n');
      return ExitCode.failure;
    }
    const signal = lock ? AbortSignal.any([c.interrupt, lock.lost]) : c.interrupt;
    const result = await runApply(plan, reconciliation.client, c.logger, flags, io, { signal, lock: { held: lock !== undefined, ttlMs: c.ttlMs, env: io.env } });
    if (flags.json) io.stdout(jsonSafe(JSON.stringify({ plan: JSON.parse(renderPlanJson(plan, secrets)), results: result.results, ...(result.interrupted ? { interrupted: true } : {}) }, null, 2)) + '\n');
    else io.stdout('\n' + renderApplyText(result, plan, { color, secrets }));
    if (result.interrupted) {
      const why = signal.reason instanceof Error && !(signal.reason instanceof InterruptedError) ? signal.reason.message : 'interrupted';
      const line = `${why}: ${result.results.filter((r) => r.status === 'ok').length} of ${plan.actions.length} actions done; run apply again to finish\n`;
      if (flags.json) io.stderr(line);
      else io.stdout(line);
      if (c.interrupt.aborted) return ExitCode.interrupted;
    }
    return result.ok && plan.summary.conflicts === 0 && stale === 0 ? ExitCode.ok : ExitCode.failure;
  }

  addServerOptions(program.command('drift').description('compare the live server with git; exits 2 when they differ')).action(async (dir: string, flags: ServerFlags) => {
    command = 'plan';
    secrets = secretsOf(io, flags);
    const { plan, live, desired } = await reconcile(toReconcileOptions(dir, { ...flags, prune: true } as ServerFlags, io));
    const report = driftReport(plan, live, new Set(desired.map((d) => d.flowName)));
    const color = flags.color !== false && useColor(io.isTty, io.env);
    io.stdout(flags.json ? jsonSafe(JSON.stringify(redact(report, secrets), null, 2)) + '\n' : renderDriftText(report, { color, secrets }));
    exitCode = report.hasDrift ? ExitCode.invalidOrChanges : ExitCode.ok;
  });

  program
    .command('show')
    .description('render a plan saved by `plan --out`: text (default), JSON or markdown (as the pull request comment); reads no server')
    .argument('<plan-file>', 'a saved plan (JSON)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'markdown']).default('text'))
    .option('--json', 'same as --format json')
    .option('--no-color', 'no colour in the output (also: NO_COLOR)')
    .action(async (file: string, opts: { format: 'text' | 'json' | 'markdown'; color?: boolean }) => {
      command = 'plan';
      const saved = await readSavedPlan(resolve(io.cwd, file));
      // Run times are shown as of when the plan was made, as it was reviewed.
      const now = new Date(saved.createdAt);
      if (opts.format === 'json') io.stdout(renderPlanJson(saved.plan));
      else if (opts.format === 'markdown') io.stdout(renderPlanSummary(saved.plan, { now, title: `prefect-gitops plan${saved.plan.environment ? ` for ${saved.plan.environment}` : ''} (saved ${saved.createdAt})` }));
      else {
        const color = opts.color !== false && useColor(io.isTty, io.env);
        io.stdout(`Saved plan ${file}, made ${saved.createdAt} from ${saved.manifests}; apply exactly it with: prefect-gitops apply ${file}\n\n`);
        io.stdout(renderPlanText(saved.plan, { color, now }));
      }
    });

  program
    .command('export')
    .description('write manifests from the live server: one file per deployment (or per flow), ready to plan with 0 changes')
    .requiredOption('--out <dir>', 'directory to write into (its deployments/ subdirectory)')
    .option('--flow <name>', 'only deployments of this flow (repeatable)', collectList, [])
    .option('--tag <tag>', 'only deployments with this tag (repeatable; any of them)', collectList, [])
    .option('--work-pool <name>', 'only deployments in this work pool (repeatable)', collectList, [])
    .option('--all', 'export every deployment on the server')
    .option('--kind <kind>', 'what to export: deployment (the default), or a workspace kind: variable, work-pool, ... (repeatable; every object of the kind)', collectList, [])
    .addOption(new Option('--layout <layout>', 'one file per deployment or per flow').choices(['per-deployment', 'per-flow']).default('per-deployment'))
    .option('--adopt', 'mark exported deployments for adoption (gitops.adopt) so the first apply takes them over')
    .option('--owner <id>', 'owner id for the prefect-gitops.yaml written when the directory has none')
    .option('--api-url <url>', 'Prefect API URL (default: $PREFECT_API_URL)')
    .option('--api-key <key>', 'Prefect Cloud API key (default: $PREFECT_API_KEY)')
    .option('--auth-string <user:pass>', 'basic auth (default: $PREFECT_API_AUTH_STRING)')
    .action(async (opts: { out: string; flow: string[]; tag: string[]; workPool: string[]; all?: boolean; kind: string[]; layout: ExportLayout; adopt?: boolean; owner?: string; apiUrl?: string; apiKey?: string; authString?: string }) => {
      command = 'export';
      secrets = secretsOf(io, opts);
      const unknownKind = opts.kind.find((k) => k !== 'deployment' && !(WORKSPACE_KINDS as readonly string[]).includes(k));
      if (unknownKind !== undefined) throw new UsageError(`unknown --kind ${unknownKind}; kinds: deployment, ${WORKSPACE_KINDS.join(', ')}`);
      const objectKinds = opts.kind.filter((k): k is WorkspaceKind => k !== 'deployment');
      if (objectKinds.length > 0 && !opts.kind.includes('deployment')) {
        await exportObjects(io, opts, objectKinds);
        return;
      }
      if (!opts.all && opts.flow.length + opts.tag.length + opts.workPool.length === 0) {
        throw new UsageError('say what to export: --flow, --tag or --work-pool (repeatable), or --all');
      }
      const apiKey = opts.apiKey ?? prefectSetting(io, 'PREFECT_API_KEY');
      const authString = opts.authString ?? prefectSetting(io, 'PREFECT_API_AUTH_STRING');
      const client = await PrefectClient.connect({
        apiUrl: opts.apiUrl ?? prefectSetting(io, 'PREFECT_API_URL') ?? '',
        ...(apiKey ? { apiKey } : {}),
        ...(authString ? { authString } : {}),
        logger: createLogger({ secrets, write: io.stderr }),
      });
      const fetched = await fetchForExport(client, { flowNames: opts.flow, tags: opts.tag, workPools: opts.workPool });
      const { files, notices } = exportManifests(fetched, { layout: opts.layout, adopt: opts.adopt ?? false });
      const out = resolve(io.cwd, opts.out);
      for (const file of files) {
        await mkdir(dirname(join(out, file.path)), { recursive: true });
        await writeFile(join(out, file.path), file.content);
        io.stdout(escapeControl(`wrote ${join(opts.out, file.path)} (${file.deployments.join(', ')})`) + '\n');
      }
      const configPath = join(out, 'prefect-gitops.yaml');
      const owners = [...new Set(fetched.deployments.map((d) => ownerOf(d.live, fetched.ownership)).filter((o): o is string => Boolean(o)))];
      const owner = opts.owner ?? (owners.length === 1 ? owners[0] : undefined);
      const hasConfig = Boolean(await stat(configPath).catch(() => undefined));
      if (owner && !hasConfig) {
        await writeFile(configPath, `# Written by prefect-gitops export.\nowner: ${owner}\n`);
        io.stdout(`wrote ${join(opts.out, 'prefect-gitops.yaml')} (owner ${owner})\n`);
      }
      for (const notice of notices) io.stderr(`notice: ${escapeControl(scrubSecrets(notice, secrets))}\n`);
      if (objectKinds.length > 0) await exportObjects(io, opts, objectKinds, client);
      const summary = `Exported ${fetched.deployments.length} deployment${fetched.deployments.length === 1 ? '' : 's'} in ${files.length} file${files.length === 1 ? '' : 's'}.`;
      if (owner || hasConfig) io.stdout(`${summary} Check with: prefect-gitops plan ${opts.out}\n`);
      else {
        // A plan needs an owner id, and guessing one would decide what prune may delete: say how to give it.
        const why = owners.length > 1 ? `the exported deployments have ${owners.length} owners (${owners.join(', ')})` : 'the exported deployments have no prefect-gitops owner';
        io.stdout(
          `${summary} No prefect-gitops.yaml was written: ${why}. Choose an owner id (it scopes what prune may delete), then either run export again with --owner <id>, ` +
            `or create ${join(opts.out, 'prefect-gitops.yaml')} containing \`owner: <id>\`. Then check with: prefect-gitops plan ${opts.out}\n`,
        );
      }
    });

  /** `export --kind variable` (and every workspace kind): workspace/<kind>.yaml per kind. */
  const exportObjects = async (
    io: Io,
    opts: { out: string; adopt?: boolean; owner?: string; apiUrl?: string; apiKey?: string; authString?: string },
    kinds: readonly WorkspaceKind[],
    connected?: PrefectClient,
  ): Promise<void> => {
    const apiKey = opts.apiKey ?? prefectSetting(io, 'PREFECT_API_KEY');
    const authString = opts.authString ?? prefectSetting(io, 'PREFECT_API_AUTH_STRING');
    const client =
      connected ??
      (await PrefectClient.connect({ apiUrl: opts.apiUrl ?? prefectSetting(io, 'PREFECT_API_URL') ?? '', ...(apiKey ? { apiKey } : {}), ...(authString ? { authString } : {}), logger: createLogger({ secrets, write: io.stderr }) }));
    const out = resolve(io.cwd, opts.out);
    const configPath = join(out, 'prefect-gitops.yaml');
    const hasConfig = Boolean(await stat(configPath).catch(() => undefined));
    const files = await exportWorkspace(client, kinds, { adopt: opts.adopt ?? false, ...(opts.owner ? { owner: opts.owner } : {}) });
    for (const file of files) {
      await mkdir(dirname(join(out, file.path)), { recursive: true });
      await writeFile(join(out, file.path), file.content);
      io.stdout(escapeControl(`wrote ${join(opts.out, file.path)} (${file.keys.length} ${file.kind}${file.keys.length === 1 ? '' : 's'})`) + '\n');
    }
    const owners = [...new Set(files.flatMap((f) => f.owners))];
    const owner = opts.owner ?? (owners.length === 1 ? owners[0] : undefined);
    if (owner && !hasConfig && !connected) {
      await writeFile(configPath, `# Written by prefect-gitops export.\nowner: ${owner}\n`);
      io.stdout(`wrote ${join(opts.out, 'prefect-gitops.yaml')} (owner ${owner})\n`);
    }
    if (!connected) io.stdout(`Exported ${files.reduce((n, f) => n + f.keys.length, 0)} workspace objects (${kinds.join(', ')}). Check with: prefect-gitops plan ${opts.out}\n`);
  };

  program
    .command('compare')
    .description('deploy the project with your own `prefect deploy --all` and with prefect-gitops, each to a throwaway local server, and show every field that differs; exits 2 when any does (what a team runs once before switching)')
    .argument('[dir]', 'project directory (holds prefect.yaml)', '.')
    .option('--prefect <path>', 'the Prefect CLI to run (default: prefect on PATH)', 'prefect')
    .option('--owner <id>', 'owner id for a bare prefect.yaml project (no prefect-gitops.yaml)')
    .option('--set <id.key=value>', 'value of a prefect.yaml build/push step output for prefect-gitops (repeatable)', collectSet, {})
    .option('--prefect-file <path>', 'deploy only this prefect.yaml, relative to [dir]: prefect deploy --all --prefect-file <path> run from [dir], and prefect-gitops reading it the same way')
    .option('--python <path>', 'a Python with your Prefect installed, for prefect-gitops to load flows it cannot read statically (it runs your flow modules)')
    .action(async (dir: string, opts: { prefect: string; owner?: string; set: Record<string, string>; prefectFile?: string; python?: string }) => {
      const result = await compareProject({
        dir: resolve(io.cwd, dir),
        cwd: io.cwd,
        env: io.env,
        prefect: opts.prefect,
        ...(opts.owner ? { owner: opts.owner } : {}),
        ...(opts.prefectFile ? { prefectFile: opts.prefectFile } : {}),
        ...(opts.python ? { python: resolve(io.cwd, opts.python) } : {}),
        stepOutputs: opts.set,
        logger: createLogger({ write: io.stderr }),
        progress: (line) => io.stderr(`${line}\n`),
      });
      io.stdout(renderComparisonText(result));
      exitCode = result.deploy.code !== 0 ? ExitCode.failure : comparisonIsEqual(result) ? ExitCode.ok : ExitCode.invalidOrChanges;
    });

  program
    .command('convert')
    .alias('import')
    .description('convert Prefect 2 deployment.yaml files (from `prefect deployment build`) into prefect-gitops manifests; exits 2 when a file cannot be converted (nothing is written then)')
    .argument('<paths...>', 'deployment.yaml files, or folders searched for them')
    .option('--out <dir>', 'write the manifests into this directory (deployments/<flow>-<name>.yaml, and prefect-gitops.yaml with --owner); default: print them')
    .option('--owner <id>', 'owner id of the prefect-gitops.yaml written into --out (when it has none)')
    .option('--work-pool <name>', 'work pool of deployments that name none (Prefect 2 agents): <name> for all, or <type>=<name> by the infrastructure\'s pool type, e.g. process=local (repeatable; default: <type>-pool)', collectList, [])
    .action(async (paths: string[], opts: ConvertFlags) => {
      exitCode = await convertCommand(paths, opts, io);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    // A usage error is an error (1) for plan/apply/drift, where 2 means "changes present".
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    if (error instanceof ValidationFailedError) {
      // Machines asked for JSON: the problems are the output.
      if (jsonOutput) io.stdout(renderIssuesJson(error.issues));
      io.stderr(renderIssueLines(error.issues) + `${error.message}; nothing was sent to Prefect.\n`);
    } else if (error instanceof InterruptedError) {
      io.stderr(`${error.message}\n`);
    } else {
      io.stderr(`error: ${escapeControl(scrubSecrets(describeError(error), secrets), { keepLayout: true })}\n`);
    }
    return exitCodeFor(error, command);
  }
  return exitCode;
}

/** Asks on the terminal whether to apply the plan just shown; only `yes` approves, Ctrl-C declines. */
async function approved(io: Io, interrupt: AbortSignal): Promise<boolean> {
  io.stdout("\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
  if (!io.readLine || interrupt.aborted) return false;
  const interrupted = new Promise<string>((done) => interrupt.addEventListener('abort', () => done(''), { once: true }));
  const answer = await Promise.race([io.readLine(), interrupted]);
  return answer.trim() === 'yes' && !interrupt.aborted;
}

/**
 * The scheduled runs the plan's actions delete, for the text plan (one read per such deployment).
 * A failed count is a warning: the plan stands without it.
 */
async function scheduledRunsOf(client: PrefectClient, plan: Plan, io: Io, secrets: readonly string[]): Promise<Record<string, number>> {
  try {
    return await countScheduledRuns(client, plan);
  } catch (error) {
    io.stderr(`warning: could not count the scheduled runs the plan would delete: ${escapeControl(scrubSecrets(describeError(error), secrets))}\n`);
    return {};
  }
}

/** Applies a plan with progress: a live line on a terminal, one line per action otherwise. */
async function runApply(plan: Plan, client: PrefectClient, logger: Logger, flags: ServerFlags, io: Io, extra: Pick<ApplyOptions, 'signal' | 'lock'>): Promise<ApplyResult> {
  const tty = io.isTty && !flags.json;
  const verb = { create: 'creating', update: 'updating', adopt: 'adopting', delete: 'deleting' } as const;
  let done = 0;
  const result = await apply(plan, client, {
    ...extra,
    concurrency: flags.concurrency,
    logger,
    onStart: (action: PlanAction) => {
      if (tty) io.stderr(`\r\u001b[2K[${done}/${plan.actions.length}] ${verb[action.kind]} ${escapeControl(action.key)}`);
    },
    onProgress: (count: number, total: number, r: ActionResult) => {
      done = count;
      if (tty) io.stderr(`\r\u001b[2K[${count}/${total}] ${r.status === 'ok' ? 'done' : r.status}: ${escapeControl(r.key)}`);
      else if (!flags.json) io.stdout(escapeControl(`[${count}/${total}] ${r.kind} ${r.key}: ${r.status}${r.message ? ` (${r.message})` : ''}`) + '\n');
    },
  });
  if (tty) io.stderr('\r\u001b[2K');
  return result;
}


