/**
 * Errors of the coordinator's store. The gRPC server maps StaleAttemptError to
 * FAILED_PRECONDITION, NotFoundError to NOT_FOUND and the others as their comments say; UsageError (lib/errors.ts) is a user
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

/** A call names an agent but does not carry that agent's secret (PERMISSION_DENIED on the wire). */
export class PermissionDeniedError extends Error {
  override readonly name = 'PermissionDeniedError';
}

/** Register under the id of an agent that is alive, without its secret (ALREADY_EXISTS). */
export class AlreadyExistsError extends Error {
  override readonly name = 'AlreadyExistsError';
}

/**
 * A report of a finished run (completed, diverged, stopped) before its run folder, with its
 * summary.json, landed (ABORTED on the wire: the agent uploads the folder, then reports again).
 */
export class NotLandedError extends Error {
  override readonly name = 'NotLandedError';
}
