import { DEFAULT_LOCK_TIMEOUT_MS } from '../apply/lock.js';
import { parseDuration } from '../duration.js';
import { UserInputError } from '../errors.js';
import { collectSecrets } from '../render/redact.js';
import type { LogLevel, Logger } from '../log.js';
import type { ReconcileOptions } from '../reconcile.js';
import type { ActionsCore } from './core.js';

export const COMMANDS = ['plan', 'apply', 'drift'] as const;

/** Every input action.yml declares (a test keeps the two in step). */
export const INPUT_NAMES = [
  'command',
  'manifests',
  'environment',
  'prefect-api-url',
  'prefect-api-key',
  'prefect-api-auth-string',
  'prune',
  'max-deletes',
  'github-token',
  'comment',
  'fail-on-drift',
  'drift-issue',
  'log-level',
  'plan-file',
  'set',
  'allow-missing-pools',
  'lock-timeout',
  'timeout',
  'request-timeout',
] as const;

/** Every output the Action sets. */
export const OUTPUT_NAMES = ['has-changes', 'creates', 'updates', 'deletes', 'unchanged', 'plan-file', 'drift', 'comment-url'] as const;
export type ActionCommand = (typeof COMMANDS)[number];

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const satisfies readonly LogLevel[];

/** The Action's inputs (action.yml), parsed and typed. Absent optional inputs are undefined. */
export interface ActionInputs {
  readonly command: ActionCommand;
  readonly manifests: string;
  readonly environment?: string;
  readonly prefectApiUrl: string;
  readonly prefectApiKey?: string;
  readonly prefectApiAuthString?: string;
  /** Overrides the config's prune policy when set. */
  readonly prune?: boolean;
  readonly maxDeletes?: number;
  readonly githubToken?: string;
  /** Undefined: comment on pull requests only. */
  readonly comment?: boolean;
  readonly failOnDrift: boolean;
  readonly driftIssue: boolean;
  readonly logLevel: LogLevel;
  /** `apply` only: apply this saved plan (a plan job's `plan-file` output) instead of planning anew. */
  readonly planFile?: string;
  /** prefect.yaml build/push step outputs, as the CLI's `--set id.key=value` (one per line). */
  readonly stepOutputs: Readonly<Record<string, string>>;
  /** A missing work pool or queue is a warning, not an error. */
  readonly allowMissingPools: boolean;
  /** `apply` only: how long to wait for another apply of the same owner (ms); default 5 minutes. */
  readonly lockTimeoutMs: number;
  /** Give up on the Prefect server after this long in total (ms), as the CLI's `--timeout`. */
  readonly timeoutMs?: number;
  /** Give up on one request after this long (ms; retried once), as the CLI's `--request-timeout`. */
  readonly requestTimeoutMs?: number;
}

/** Requests in flight at most: the CLI's default `--concurrency`. */
export const CONCURRENCY = 4;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The credentials the run may see: from the inputs, else from the environment (as the CLI reads
 * them). Call this first and mask every value before anything is logged.
 */
export function readSecrets(core: ActionsCore, env: Env): string[] {
  return collectSecrets([
    core.getInput('prefect-api-key') || env.PREFECT_API_KEY,
    core.getInput('prefect-api-auth-string') || env.PREFECT_API_AUTH_STRING,
    core.getInput('github-token'),
  ]);
}

/**
 * Reads and checks every input; reports all problems at once.
 * @throws UserInputError naming each bad input.
 */
export function readInputs(core: ActionsCore, env: Env): ActionInputs {
  const problems: string[] = [];
  const get = (name: string): string | undefined => core.getInput(name).trim() || undefined;
  const bool = (name: string): boolean | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    if (['true', 'True', 'TRUE'].includes(raw)) return true;
    if (['false', 'False', 'FALSE'].includes(raw)) return false;
    problems.push(`input ${name} must be true or false, not "${raw}"`);
    return undefined;
  };

  const commandRaw = get('command');
  const command = COMMANDS.find((c) => c === commandRaw);
  if (!command) problems.push(commandRaw === undefined ? `input command is required (${COMMANDS.join(', ')})` : `input command must be one of ${COMMANDS.join(', ')}, not "${commandRaw}"`);

  const prefectApiUrl = get('prefect-api-url') ?? env.PREFECT_API_URL;
  if (!prefectApiUrl) problems.push('input prefect-api-url is required (or set PREFECT_API_URL), e.g. ${{ vars.PREFECT_API_URL }}');

  const maxDeletesRaw = get('max-deletes');
  let maxDeletes: number | undefined;
  if (maxDeletesRaw !== undefined) {
    maxDeletes = /^\d+$/.test(maxDeletesRaw) ? Number.parseInt(maxDeletesRaw, 10) : undefined;
    if (maxDeletes === undefined) problems.push(`input max-deletes must be a whole number, not "${maxDeletesRaw}"`);
  }

  const logLevelRaw = get('log-level');
  const logLevel = logLevelRaw === undefined ? (env.RUNNER_DEBUG === '1' ? 'debug' : 'warn') : LOG_LEVELS.find((l) => l === logLevelRaw);
  if (!logLevel) problems.push(`input log-level must be one of ${LOG_LEVELS.join(', ')}, not "${logLevelRaw}"`);

  const prune = bool('prune');
  const comment = bool('comment');
  const failOnDrift = bool('fail-on-drift') ?? false;
  const driftIssue = bool('drift-issue') ?? false;
  const environment = get('environment');
  const prefectApiKey = get('prefect-api-key') ?? env.PREFECT_API_KEY;
  const prefectApiAuthString = get('prefect-api-auth-string') ?? env.PREFECT_API_AUTH_STRING;
  const githubToken = get('github-token');
  const planFile = get('plan-file');
  const stepOutputs = parseSetLines(core.getInput('set'), problems);
  const allowMissingPools = bool('allow-missing-pools') ?? false;
  const lockTimeoutRaw = get('lock-timeout');
  const lockTimeoutMs = lockTimeoutRaw === undefined ? DEFAULT_LOCK_TIMEOUT_MS : parseDuration(lockTimeoutRaw);
  if (lockTimeoutMs === undefined) problems.push(`input lock-timeout must be a duration such as 30s, 5m or 0, not "${lockTimeoutRaw}"`);
  const positive = (name: string): number | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    const ms = parseDuration(raw);
    if (ms === undefined || ms < 1) problems.push(`input ${name} must be a duration such as 90s, 10m or 1m30s, not "${raw}"`);
    return ms;
  };
  const timeoutMs = positive('timeout');
  const requestTimeoutMs = positive('request-timeout');
  if (planFile && command && command !== 'apply') problems.push(`input plan-file applies only to command: apply, not ${command}`);

  if (problems.length > 0 || !command || !logLevel || !prefectApiUrl || lockTimeoutMs === undefined) {
    throw new UserInputError(problems.join('; '), 'see the inputs in action.yml and the README');
  }
  return {
    command,
    manifests: get('manifests') ?? '.',
    ...(planFile ? { planFile } : {}),
    ...(environment ? { environment } : {}),
    prefectApiUrl,
    ...(prefectApiKey ? { prefectApiKey } : {}),
    ...(prefectApiAuthString ? { prefectApiAuthString } : {}),
    ...(prune !== undefined ? { prune } : {}),
    ...(maxDeletes !== undefined ? { maxDeletes } : {}),
    ...(githubToken ? { githubToken } : {}),
    ...(comment !== undefined ? { comment } : {}),
    failOnDrift,
    driftIssue,
    logLevel,
    stepOutputs,
    allowMissingPools,
    lockTimeoutMs,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}),
  };
}

/**
 * The `set` input: one `<step-id>.<key>=<value>` per line, as the CLI's repeatable `--set`. Blank
 * lines and lines starting with `#` are skipped; the value is everything after the first `=`,
 * with the whitespace around key and value trimmed.
 */
export function parseSetLines(text: string, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      problems.push(`input set, line ${i + 1}: expected <step-id>.<key>=<value>, got "${line}"`);
      return;
    }
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  });
  return out;
}

/**
 * The same options the CLI builds from its flags. The Action has no `--adopt` or
 * `--allow-mass-delete`: adoption is opted into per deployment (`gitops.adopt`), and lifting the
 * prune safeguards is a decision for a person at a terminal, not for a merge.
 */
export function toReconcileOptions(inputs: ActionInputs, context: { cwd: string; env: Env; logger: Logger; prune?: boolean }): ReconcileOptions {
  const prune = context.prune ?? inputs.prune;
  return {
    manifests: inputs.manifests,
    cwd: context.cwd,
    ...(inputs.environment ? { environment: inputs.environment } : {}),
    env: context.env,
    client: {
      apiUrl: inputs.prefectApiUrl,
      ...(inputs.prefectApiKey ? { apiKey: inputs.prefectApiKey } : {}),
      ...(inputs.prefectApiAuthString ? { authString: inputs.prefectApiAuthString } : {}),
      concurrency: CONCURRENCY,
      ...(inputs.timeoutMs !== undefined ? { totalTimeoutMs: inputs.timeoutMs, deadlineAt: Date.now() + inputs.timeoutMs } : {}),
      ...(inputs.requestTimeoutMs !== undefined ? { timeoutMs: inputs.requestTimeoutMs } : {}),
    },
    ...(prune !== undefined ? { prune } : {}),
    ...(inputs.maxDeletes !== undefined ? { maxDeletes: inputs.maxDeletes } : {}),
    allowMassDelete: false,
    adoptAll: false,
    stepOutputs: inputs.stepOutputs,
    ...(inputs.allowMissingPools ? { allowMissingPools: true } : {}),
    logger: context.logger,
  };
}
