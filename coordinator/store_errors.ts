/**
 * Errors of the coordinator's store. The gRPC server maps StaleAttemptError to
 * FAILED_PRECONDITION and NotFoundError to NOT_FOUND; UsageError (lib/errors.ts) is a user
 * mistake (INVALID_ARGUMENT on the wire, one line on a terminal).
 */

/** A call about a run carried an attempt the coordinator no longer honours (fencing). */
export class StaleAttemptError extends Error {
  override readonly name = 'StaleAttemptError';
  constructor(
    message: string,
    readonly runId: string,
    /** The attempt the caller sent. */
    readonly attempt: number,
    /** The run's current attempt and state when the call was refused. */
    readonly currentAttempt: number,
    readonly state: string,
  ) {
    super(message);
  }
}

/** An unknown run, agent, sweep or target. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}
