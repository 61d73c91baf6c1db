import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { apply, type ApplyResult } from '../apply/apply.js';
import { describeHolder, lockTtlMs, type ApplyLock } from '../apply/lock.js';
import { formatDuration } from '../duration.js';
import { planUnderLock } from '../apply/under-lock.js';
import { describeError, InterruptedError, UserInputError, ValidationFailedError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { driftReport } from '../plan/drift.js';
import { planHasChanges } from '../plan/plan.js';
import { toSavedPlan } from '../plan/saved.js';
import type { Plan } from '../plan/types.js';
import { assertBranchMayApply, readSavedPlan, reconcile, reconcileSavedPlan, savedPlanOptions, type Reconciliation, type SavedReconciliation } from '../reconcile.js';
import { COMMENT_MARKER, COMMENT_MAX_LENGTH, renderApplySummary, renderPlanComment, renderPlanSummary, SUMMARY_MAX_LENGTH } from '../render/markdown.js';
import { redact, scrubSecrets } from '../render/redact.js';
import { renderActionText, renderApplyText, renderDriftText, renderPlanText } from '../render/text.js';
import { emitAnnotations, issueAnnotations, planAnnotations } from './annotations.js';
import { isPullRequestEvent, readRunContext, workspacePath, type RunContext } from './context.js';
import { realCore, scrubbingCore, type ActionsCore } from './core.js';
import { DRIFT_MARKER, renderDriftMarkdown, renderDriftResolvedComment } from './drift-markdown.js';
import { syncDriftIssue } from './drift-issue.js';
import { renderFailureMarkdown, renderValidationFailedMarkdown } from './failure-markdown.js';
import { GitHubClient } from './github.js';
import { CONCURRENCY, readInputs, readSecrets, toReconcileOptions, type ActionInputs } from './inputs.js';
import { countScheduledRuns } from '../scheduled-runs.js';
import { upsertStickyComment } from './sticky-comment.js';

type Env = Readonly<Record<string, string | undefined>>;

/** What `run` talks to; the defaults are the real runner. Tests pass a typed fake core. */
export interface RunDependencies {
  readonly core?: ActionsCore;
  readonly env?: Env;
  readonly cwd?: string;
  readonly now?: () => Date;
  /** Diagnostics (pino) lines; default stderr. */
  readonly writeLog?: (line: string) => void;
  /** Subscribes to a cancelled job (SIGINT/SIGTERM) during apply; returns the unsubscribe. Default: the process's signals. */
  readonly onInterrupt?: (handler: () => void) => () => void;
}

export const PLAN_FILE = 'prefect-gitops-plan.json';

interface Session {
  readonly core: ActionsCore;
  readonly inputs: ActionInputs;
  readonly context: RunContext;
  readonly env: Env;
  readonly cwd: string;
  readonly now: Date;
  readonly secrets: readonly string[];
  readonly logger: Logger;
  readonly github?: GitHubClient;
  /** Set on a pull request plan with commenting on: where the sticky comment goes. */
  readonly commentOn?: number;
  readonly toPath: (file: string) => string;
  readonly onInterrupt: (handler: () => void) => () => void;
}

/**
 * The Action: reads inputs, runs plan, apply or drift through the same core as the CLI, and
 * reports through annotations, the job summary, outputs and (plan) a sticky pull request comment
 * or (drift) an issue. Never throws and never exits: failure is `core.setFailed` (exit code 1).
 */
export async function run(deps: RunDependencies = {}): Promise<void> {
  const env = deps.env ?? process.env;
  const rawCore = deps.core ?? realCore(env);
  // Mask every credential before anything at all is written.
  const secrets = readSecrets(rawCore, env);
  for (const secret of secrets) rawCore.setSecret(secret);
  const scrub = (text: string): string => scrubSecrets(text, secrets);
  const core = scrubbingCore(rawCore, scrub);
  const cwd = deps.cwd ?? process.cwd();
  let session: Session | undefined;
  try {
    const inputs = readInputs(core, env);
    const context = await readRunContext(env, cwd);
    const logger = createLogger({ level: inputs.logLevel, format: 'text', secrets, write: deps.writeLog ?? ((line) => void process.stderr.write(scrub(line))) });
    const github = inputs.githubToken && context.repository ? new GitHubClient({ apiUrl: context.apiUrl, token: inputs.githubToken, repository: context.repository, scrub }) : undefined;
    session = {
      core,
      inputs,
      context,
      env,
      cwd,
      now: (deps.now ?? (() => new Date()))(),
      secrets,
      logger,
      ...(github ? { github } : {}),
      ...commentTarget(core, inputs, context, github),
      toPath: (file) => workspacePath(file, cwd, context.workspace),
      onInterrupt: deps.onInterrupt ?? processInterrupts,
    };
    switch (inputs.command) {
      case 'plan':
        return await runPlan(session);
      case 'apply':
        return await runApply(session);
      case 'drift':
        return await runDrift(session);
    }
  } catch (error) {
    await reportFailure(core, session, error);
  }
}

/** The first SIGINT/SIGTERM calls `handler`; later ones are left to the runner, which kills the step. */
function processInterrupts(handler: () => void): () => void {
  const on = (): void => handler();
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return () => {
    process.off('SIGINT', on);
    process.off('SIGTERM', on);
  };
}

function commentTarget(core: ActionsCore, inputs: ActionInputs, context: RunContext, github: GitHubClient | undefined): { commentOn?: number } {
  if (inputs.command !== 'plan' || !(inputs.comment ?? isPullRequestEvent(context.eventName))) return {};
  if (context.pullRequest === undefined) {
    if (inputs.comment) core.warning(`comment: true, but the ${context.eventName || 'current'} event has no pull request; the plan is in the job summary`);
    return {};
  }
  if (!github) {
    core.warning('no github-token: the plan is in the job summary, not in a pull request comment');
    return {};
  }
  return { commentOn: context.pullRequest };
}

async function runPlan(s: Session): Promise<void> {
  const r = await reconcile(toReconcileOptions(s.inputs, { cwd: s.cwd, env: s.env, logger: s.logger }));
  const { plan } = r;
  emitAnnotations(s.core, issueAnnotations(r.warnings, s.toPath));
  let scheduledRuns: Record<string, number> = {};
  try {
    // Only the comment shows the counts: one read per rewritten deployment, so only when commenting.
    if (s.commentOn !== undefined) scheduledRuns = await countScheduledRuns(r.client, plan);
  } catch (error) {
    s.core.warning(`could not count the scheduled runs the plan would delete: ${describeError(error)}`);
  }
  s.core.debug(`prefect requests: ${r.client.stats.reads} reads, ${r.client.stats.writes} writes`);
  s.core.logUntrusted(renderPlanText(plan, { color: true, secrets: s.secrets, now: s.now, scheduledRuns }));
  emitAnnotations(s.core, planAnnotations(plan, s.toPath, { secrets: s.secrets }));
  await reportPlan(s, r);
  await s.core.appendSummary(renderPlanSummary(plan, { now: s.now, secrets: s.secrets, scheduledRuns }));
  if (s.commentOn !== undefined) {
    await postComment(s, () => renderPlanComment(plan, { now: s.now, secrets: s.secrets, maxLength: COMMENT_MAX_LENGTH, scheduledRuns, ...(s.context.runUrl ? { summaryUrl: s.context.runUrl } : {}) }));
  }
  if (plan.pruneRefused) s.core.setFailed(`apply refused: ${plan.pruneRefused}`);
}

async function runApply(s: Session): Promise<void> {
  if (isPullRequestEvent(s.context.eventName)) {
    throw new UserInputError(`apply does not run on ${s.context.eventName} events: a pull request's manifests are not merged yet`, 'use command: plan on pull requests, and command: apply on push to the default branch');
  }
  const options = toReconcileOptions(s.inputs, { cwd: s.cwd, env: s.env, logger: s.logger });
  // With plan-file: exactly the reviewed plan, minus entries whose deployment or manifest changed since.
  const savedPlan = s.inputs.planFile ? await readSavedPlan(resolve(s.cwd, s.inputs.planFile)) : undefined;
  // A cancelled job gets SIGINT, then SIGTERM: stop starting actions, report, release the lock.
  const interrupt = new AbortController();
  const unsubscribe = s.onInterrupt(() => interrupt.abort(new InterruptedError('interrupted')));
  const ttlMs = lockTtlMs(s.env);
  let lock: ApplyLock | undefined;
  try {
    const planned = await planUnderLock<Reconciliation | SavedReconciliation>(
      async () => {
        const r = savedPlan ? await reconcileSavedPlan(savedPlan, options) : await reconcile(options);
        await assertBranchMayApply(r, r.plan.environment ?? undefined, s.env);
        return r;
      },
      {
        lock: true,
        timeoutMs: s.inputs.lockTimeoutMs,
        ttlMs,
        env: s.env,
        logger: s.logger,
        signal: interrupt.signal,
        onWait: (holder, name) => s.core.info(`waiting up to ${formatDuration(s.inputs.lockTimeoutMs)} for the apply lock ${name}, held by ${describeHolder(holder)}`),
      },
    );
    lock = planned.lock;
    await applyUnderLock(s, planned.reconciliation, lock, interrupt.signal, ttlMs);
  } finally {
    await lock?.release();
    unsubscribe();
  }
}

async function applyUnderLock(s: Session, r: Reconciliation | SavedReconciliation, lock: ApplyLock | undefined, interrupt: AbortSignal, ttlMs: number): Promise<void> {
  const saved = 'stale' in r ? r : undefined;
  const { plan } = r;
  emitAnnotations(s.core, issueAnnotations(r.warnings, s.toPath));
  for (const entry of saved?.stale ?? []) {
    const at = entry.fresh && entry.fresh.kind !== 'delete' ? entry.fresh.declaredAt : undefined;
    s.core.error(`refused (stale): ${entry.reason}; plan again to review the new change`, at ? { file: s.toPath(at.file), line: at.line } : undefined);
    if (entry.fresh) s.core.logUntrusted(renderActionText(entry.fresh, { color: true, secrets: s.secrets }));
  }
  if (saved) s.core.info(`applying ${plan.actions.length + (plan.workspace?.actions.length ?? 0)} of ${saved.savedActions} saved actions from ${s.inputs.planFile}`);
  else s.core.logUntrusted(renderPlanText(plan, { color: true, secrets: s.secrets, now: s.now }));
  await reportPlan(s, r);
  let result: ApplyResult = { results: [], ok: plan.pruneRefused === null };
  if (planHasChanges(plan) && plan.pruneRefused === null) {
    result = await apply(plan, r.client, {
      signal: lock ? AbortSignal.any([interrupt, lock.lost]) : interrupt,
      lock: { held: lock !== undefined, ttlMs, env: s.env },
      concurrency: CONCURRENCY,
      logger: s.logger,
      onProgress: (done, total, a) => s.core.info(`[${done}/${total}] ${a.kind} ${a.key}: ${a.status}${a.message ? ` (${a.message})` : ''}`),
    });
    s.core.logUntrusted(renderApplyText(result, plan, { color: true, secrets: s.secrets }));
  }
  s.core.debug(`prefect requests: ${r.client.stats.reads} reads, ${r.client.stats.writes} writes`);
  await s.core.appendSummary(renderApplySummary(result, plan, { secrets: s.secrets }));
  const declared = new Map(plan.actions.flatMap((a) => (a.kind === 'delete' ? [] : [[a.key, a.declaredAt] as const])));
  for (const failed of result.results.filter((x) => x.status === 'failed')) {
    const at = declared.get(failed.key);
    s.core.error(`${failed.kind} ${failed.key} failed: ${failed.message ?? 'unknown error'}`, at ? { file: s.toPath(at.file), line: at.line } : undefined);
  }
  const failed = result.results.filter((x) => x.status !== 'ok').length;
  const problems = [
    ...(failed ? [`${failed} of ${result.results.length} actions failed or were skipped`] : []),
    ...(plan.summary.conflicts ? [`${plan.summary.conflicts} conflict${plan.summary.conflicts === 1 ? '' : 's'} left unresolved`] : []),
    ...(plan.pruneRefused ? [`apply refused: ${plan.pruneRefused}`] : []),
    ...(saved?.stale.length ? [`${saved.stale.length} saved action${saved.stale.length === 1 ? '' : 's'} refused as stale`] : []),
    ...(result.interrupted ? [interrupt.aborted ? 'interrupted' : (lock?.lost.reason as Error | undefined)?.message ?? 'stopped'] : []),
  ];
  if (problems.length) s.core.setFailed(`apply finished with errors: ${problems.join('; ')}`);
}

async function runDrift(s: Session): Promise<void> {
  if (s.inputs.driftIssue && !s.github) throw new UserInputError('drift-issue: true needs a github-token (and GITHUB_REPOSITORY)', 'leave github-token at its default, ${{ github.token }}, and give the job `permissions: issues: write`');
  // Drift looks at orphans whatever the prune policy, as the CLI's `drift` does.
  const r = await reconcile(toReconcileOptions(s.inputs, { cwd: s.cwd, env: s.env, logger: s.logger, prune: true }));
  emitAnnotations(s.core, issueAnnotations(r.warnings, s.toPath));
  const report = driftReport(r.plan, r.live, new Set(r.desired.map((d) => d.flowName)));
  s.core.debug(`prefect requests: ${r.client.stats.reads} reads, ${r.client.stats.writes} writes`);
  s.core.logUntrusted(renderDriftText(report, { color: true, secrets: s.secrets }));
  s.core.setOutput('drift', String(report.hasDrift));
  const runUrl = s.context.runUrl ? { runUrl: s.context.runUrl } : {};
  await s.core.appendSummary(renderDriftMarkdown(report, { secrets: s.secrets, now: s.now, maxLength: SUMMARY_MAX_LENGTH, ...runUrl }));
  if (s.inputs.driftIssue && s.github) {
    const outcome = await syncDriftIssue(s.github, {
      environment: report.environment,
      hasDrift: report.hasDrift,
      body: renderDriftMarkdown(report, { secrets: s.secrets, now: s.now, maxLength: COMMENT_MAX_LENGTH, marker: DRIFT_MARKER(report.environment), ...runUrl }),
      resolvedComment: renderDriftResolvedComment(report.environment, { now: s.now, ...runUrl }),
    });
    if (outcome.action !== 'none') s.core.info(`drift issue #${outcome.number} ${outcome.action}: ${outcome.url}`);
  }
  if (report.hasDrift && s.inputs.failOnDrift) {
    s.core.setFailed(`the Prefect server has drifted from git: ${report.changed.length} changed, ${report.missing.length} missing, ${report.orphaned.length} orphaned, ${report.unmanaged.length} unmanaged`);
  }
}

/** Outputs and the plan file: the same for plan and apply. */
async function reportPlan(s: Session, r: Reconciliation): Promise<void> {
  const { plan } = r;
  s.core.setOutput('has-changes', String(planHasChanges(plan)));
  s.core.setOutput('creates', String(plan.summary.add));
  // Adoptions rewrite an existing deployment: they count as updates.
  s.core.setOutput('updates', String(plan.summary.change + plan.summary.adopt));
  s.core.setOutput('deletes', String(plan.summary.delete));
  s.core.setOutput('unchanged', String(plan.summary.unchanged));
  const file = join(s.context.tempDir, s.inputs.environment ? `prefect-gitops-plan-${s.inputs.environment}.json` : PLAN_FILE);
  const saved = toSavedPlan(plan, redact(plan, s.secrets), { manifests: s.inputs.manifests, now: s.now, options: savedPlanOptions(toReconcileOptions(s.inputs, { cwd: s.cwd, env: s.env, logger: s.logger })) });
  await writeFile(file, `${JSON.stringify(saved, null, 2)}\n`);
  s.core.setOutput('plan-file', file);
}

/** Posts or updates the sticky comment; a failure is a warning, since the plan itself succeeded (fork PRs get a read-only token). */
async function postComment(s: Session, body: (marker: string) => string): Promise<void> {
  if (s.commentOn === undefined || !s.github) return;
  const marker = COMMENT_MARKER(s.inputs.environment);
  try {
    const comment = await upsertStickyComment(s.github, s.commentOn, marker, body(marker));
    s.core.setOutput('comment-url', comment.url);
    s.core.info(`plan comment ${comment.action}: ${comment.url}`);
  } catch (error) {
    s.core.warning(`could not comment on pull request #${s.commentOn}: ${describeError(error)}. Give the job \`permissions: pull-requests: write\`; pull requests from forks only get a read-only token.`);
  }
}

/** Annotations, summary and (on a pull request plan) the sticky comment say why the step failed. */
async function reportFailure(core: ActionsCore, s: Session | undefined, error: unknown): Promise<void> {
  try {
    if (error instanceof ValidationFailedError) {
      const toPath = s?.toPath ?? ((file: string) => file);
      emitAnnotations(core, issueAnnotations(error.issues, toPath));
      const options = { toPath, ...(s?.inputs.environment ? { environment: s.inputs.environment } : {}), ...(s?.context.runUrl ? { runUrl: s.context.runUrl } : {}) };
      await core.appendSummary(renderValidationFailedMarkdown(error.issues, { ...options, maxLength: SUMMARY_MAX_LENGTH }));
      if (s) await postComment(s, (marker) => renderValidationFailedMarkdown(error.issues, { ...options, marker, maxLength: COMMENT_MAX_LENGTH }));
      core.setFailed(`${error.message}; nothing was sent to Prefect`);
      return;
    }
    const message = describeError(error);
    const command = s?.inputs.command ?? 'prefect-gitops';
    const environment = s?.inputs.environment ? { environment: s.inputs.environment } : {};
    await core.appendSummary(renderFailureMarkdown(command, message, environment));
    if (s) await postComment(s, (marker) => renderFailureMarkdown(command, message, { marker, ...environment }));
    core.setFailed(message);
  } catch (reportingError) {
    core.setFailed(`${describeError(error)} (and reporting it failed: ${describeError(reportingError)})`);
  }
}

