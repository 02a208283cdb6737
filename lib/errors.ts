/**
 * The base of an error class known by its name: `export class XError extends namedError('XError') {}`.
 * Every instance has `name` N (coordinator/error_status.ts matches errors by name) and
 * `instanceof` works as for any class. The name is given as a string, not read from the class, so
 * that a bundler or minifier renaming classes cannot change it.
 */
export function namedError<N extends string>(name: N) {
  return class extends Error {
    override readonly name: N = name;
  };
}

/**
 * A mistake the user can fix (bad file, unknown name, bad flag). The CLI prints its message as
 * one line, without a stack trace, and exits non-zero; anything else is a bug and keeps its stack.
 */
export class UsageError extends namedError('UsageError') {}

/**
 * A run that started (its folder exists, with summary.json status failed) and then failed. The
 * CLI prints one line and where the details are, and exits 1; the stack is in train.log.
 */
export class RunFailedError extends namedError('RunFailedError') {}

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
