import { randomUUID } from 'node:crypto';
import { escapeControl } from '../render/escape.js';
import { appendFile } from 'node:fs/promises';
import * as actionsCore from '@actions/core';

/** Where an annotation points: a manifest file and line (GitHub shows it on the diff). */
export interface AnnotationLocation {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly title?: string;
}

/**
 * The part of `@actions/core` the Action uses. `run()` takes one, so unit tests pass a typed fake
 * and the bundle passes {@link realCore}. Everything that leaves the process goes through here.
 */
export interface ActionsCore {
  getInput(name: string): string;
  setOutput(name: string, value: string): void;
  /** `::add-mask::`: the runner hides the value in every later log line. */
  setSecret(value: string): void;
  setFailed(message: string): void;
  error(message: string, where?: AnnotationLocation): void;
  warning(message: string, where?: AnnotationLocation): void;
  notice(message: string, where?: AnnotationLocation): void;
  info(message: string): void;
  /**
   * Logs text that holds values from manifests or the server (a plan, a drift report): a line in
   * it that looks like a workflow command (`::add-mask::`, `::error::`) is shown, not run.
   */
  logUntrusted(text: string): void;
  debug(message: string): void;
  /** Appends markdown to the job summary (`GITHUB_STEP_SUMMARY`); a no-op outside a runner. */
  appendSummary(markdown: string): Promise<void>;
}

const toProperties = (where: AnnotationLocation | undefined): actionsCore.AnnotationProperties =>
  where
    ? {
        ...(where.title ? { title: where.title } : {}),
        ...(where.file ? { file: where.file } : {}),
        ...(where.line ? { startLine: where.line } : {}),
        ...(where.column ? { startColumn: where.column } : {}),
      }
    : {};

/** The real `@actions/core`, reading inputs from `INPUT_*` and writing workflow commands. */
export function realCore(env: Readonly<Record<string, string | undefined>> = process.env): ActionsCore {
  return {
    getInput: (name) => actionsCore.getInput(name),
    setOutput: (name, value) => actionsCore.setOutput(name, value),
    setSecret: (value) => actionsCore.setSecret(value),
    setFailed: (message) => actionsCore.setFailed(message),
    error: (message, where) => actionsCore.error(message, toProperties(where)),
    warning: (message, where) => actionsCore.warning(message, toProperties(where)),
    notice: (message, where) => actionsCore.notice(message, toProperties(where)),
    info: (message) => actionsCore.info(message),
    logUntrusted: (text) => {
      // The runner's documented way to print text verbatim: stop-commands until a one-time token.
      const token = randomUUID();
      actionsCore.info(`::stop-commands::${token}`);
      actionsCore.info(text);
      actionsCore.info(`::${token}::`);
    },
    debug: (message) => actionsCore.debug(message),
    appendSummary: async (markdown) => {
      const file = env.GITHUB_STEP_SUMMARY;
      if (!file) {
        actionsCore.debug('GITHUB_STEP_SUMMARY is not set; no job summary written');
        return;
      }
      await appendFile(file, markdown.endsWith('\n') ? markdown : `${markdown}\n`, 'utf8');
    },
  };
}

/**
 * Wraps a core so that no known secret reaches the log, an output, an annotation or the summary,
 * whatever a renderer or an error message let through. `setSecret` passes values unchanged: the
 * runner needs them to mask.
 */
export function scrubbingCore(core: ActionsCore, scrub: (text: string) => string): ActionsCore {
  // Messages are free text that may quote a server's answer: control characters are shown escaped.
  // (logUntrusted takes renderer output, already escaped and coloured on purpose.)
  const text = (message: string): string => escapeControl(scrub(message), { keepLayout: true });
  const where = (w: AnnotationLocation | undefined): AnnotationLocation | undefined => (w?.title ? { ...w, title: text(w.title) } : w);
  return {
    getInput: (name) => core.getInput(name),
    setOutput: (name, value) => core.setOutput(name, scrub(value)),
    setSecret: (value) => core.setSecret(value),
    setFailed: (message) => core.setFailed(text(message)),
    error: (message, w) => core.error(text(message), where(w)),
    warning: (message, w) => core.warning(text(message), where(w)),
    notice: (message, w) => core.notice(text(message), where(w)),
    info: (message) => core.info(text(message)),
    logUntrusted: (text) => core.logUntrusted(scrub(text)),
    debug: (message) => core.debug(text(message)),
    appendSummary: (markdown) => core.appendSummary(scrub(markdown)),
  };
}
