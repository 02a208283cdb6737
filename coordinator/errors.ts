/**
 * The errors the coordinator raises on purpose, its store's and its server's. Each has the gRPC
 * status its comment names, in one table (error_status.ts), and clients read those statuses back
 * in one place (proto/errors.ts). UsageError (lib/errors.ts) is a user mistake (INVALID_ARGUMENT
 * on the wire, one line on a terminal). None of these knows about gRPC: the store must not.
 */
import { namedError } from '../lib/errors.js';

/** A call about a run carried an attempt the coordinator no longer honours (fencing; FAILED_PRECONDITION). */
export class StaleAttemptError extends namedError('StaleAttemptError') {
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

/** An unknown run, agent, sweep or target (NOT_FOUND). */
export class NotFoundError extends namedError('NotFoundError') {}

/** A call names an agent but does not carry that agent's secret (PERMISSION_DENIED on the wire). */
export class PermissionDeniedError extends namedError('PermissionDeniedError') {}

/** Register under the id of an agent that is alive, without its secret (ALREADY_EXISTS). */
export class AlreadyExistsError extends namedError('AlreadyExistsError') {}

/**
 * A report of a finished run (completed, diverged, stopped) before its run folder, with its
 * summary.json, landed (ABORTED on the wire: the agent uploads the folder, then reports again).
 */
export class NotLandedError extends namedError('NotLandedError') {}

/** An agent that speaks another version of the contract (FAILED_PRECONDITION: it cannot pass). */
export class ContractError extends namedError('ContractError') {}

/** Work refused because the coordinator is on its way out, --exit-when-done reached (UNAVAILABLE). */
export class ClosingError extends namedError('ClosingError') {}
