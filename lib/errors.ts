/**
 * A mistake the user can fix (bad file, unknown name, bad flag). The CLI prints its message as
 * one line, without a stack trace, and exits non-zero; anything else is a bug and keeps its stack.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A run that started (its folder exists, with summary.json status failed) and then failed. The
 * CLI prints one line and where the details are, and exits 1; the stack is in train.log.
 */
export class RunFailedError extends Error {
  override readonly name = 'RunFailedError';
}

/** Runs `fn`; re-raises its error with `prefix: ` in front, keeping a UsageError a UsageError. */
export function withPrefix<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw prefixed(prefix, err);
  }
}

export function prefixed(prefix: string, err: unknown): Error {
  const message = `${prefix}: ${err instanceof Error ? err.message : String(err)}`;
  if (err instanceof UsageError) return new UsageError(message);
  const wrapped = new Error(message, { cause: err });
  if (err instanceof Error && err.stack) wrapped.stack = `${message}\n${err.stack.split('\n').slice(1).join('\n')}`;
  return wrapped;
}
