/**
 * The error taxonomy. Every error that can reach a user is one of these; `exitCodeFor` maps them
 * to exit codes in one place. The core never calls `process.exit`.
 */
export class GitopsError extends Error {
  override readonly name: string = 'GitopsError';
}

/** Bad input from the user: manifests, config, flags. Exit code 2 (like `validate`). */
export class UserInputError extends GitopsError {
  override readonly name: string = 'UserInputError';
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The command line itself is wrong (a missing or conflicting option): exit code 64, like a bad flag. */
export class UsageError extends UserInputError {
  override readonly name: string = 'UsageError';
}

/** A manifest or config failed validation; carries every problem found. */
export class ValidationFailedError extends UserInputError {
  override readonly name = 'ValidationFailedError';
  constructor(readonly issues: readonly import('./validate/issue.js').Issue[], message?: string) {
    super(message ?? `${issues.length} problem${issues.length === 1 ? '' : 's'} found in the manifests`);
  }
}

/** The Prefect server answered with an error, or could not be reached. Never holds headers or keys. */
export class RemoteError extends GitopsError {
  override readonly name: string = 'RemoteError';
  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    readonly status?: number,
    readonly body?: string,
  ) {
    super(message);
  }
}

/**
 * A non-idempotent request failed in a way that says nothing about whether the server acted on it
 * (a reset, a timeout, a gateway's 502/504/408, a 500): sending it again blindly could create a
 * second object. Typed operations read back and create only if absent; others report this.
 */
export class AmbiguousWriteError extends RemoteError {
  override readonly name = 'AmbiguousWriteError';
}

/**
 * A request was not sent because what cleared it no longer holds (the name claims a create needs
 * could have expired). Nothing was sent in that attempt.
 */
export class GuardRefusedError extends RemoteError {
  override readonly name = 'GuardRefusedError';
}

/** The run's total time limit (`--timeout`) passed; no further request is sent. */
export class TimeLimitError extends RemoteError {
  override readonly name = 'TimeLimitError';
}

/** The server is a version we cannot talk to. */
export class UnsupportedServerError extends RemoteError {
  override readonly name = 'UnsupportedServerError';
}

/** The run was interrupted (SIGINT/SIGTERM) before or while applying. Exit code 130. */
export class InterruptedError extends GitopsError {
  override readonly name = 'InterruptedError';
}

/** Something that should not happen: a bug in prefect-gitops. */
export class InternalError extends GitopsError {
  override readonly name = 'InternalError';
}

export const ExitCode = {
  ok: 0,
  failure: 1,
  /** Invalid input (validate) or, with --detailed-exitcode, "changes present". */
  invalidOrChanges: 2,
  /** The command line is wrong: an unknown command or option, a bad option value (sysexits EX_USAGE). */
  usage: 64,
  /** Stopped by SIGINT/SIGTERM (128 + 2, as a shell reports Ctrl-C). */
  interrupted: 130,
} as const;

/**
 * The one place that maps errors to exit codes. `validate` exits 2 for invalid input; `plan` and
 * `apply` keep 2 for "changes present" (--detailed-exitcode), so every error is 1 there.
 */
export function exitCodeFor(error: unknown, command: 'validate' | 'plan' | 'apply' | 'export' | 'other' = 'other'): number {
  if (error instanceof UsageError) return ExitCode.usage;
  if (error instanceof UserInputError && command === 'validate') return ExitCode.invalidOrChanges;
  if (error instanceof InterruptedError) return ExitCode.interrupted;
  return ExitCode.failure;
}

/** A user-facing one-line description, never a stack trace. */
export function describeError(error: unknown): string {
  if (error instanceof RemoteError) {
    const status = error.status === undefined ? '' : ` -> ${error.status}`;
    const body = error.body ? `: ${error.body}` : '';
    return `${error.message} (${error.method} ${error.path}${status})${body}`;
  }
  if (error instanceof UserInputError) return error.hint ? `${error.message}\n  hint: ${error.hint}` : error.message;
  if (error instanceof GitopsError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `internal error (this is a bug in prefect-gitops, please report it): ${message}`;
}
