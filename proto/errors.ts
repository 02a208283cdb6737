/**
 * What a gRPC status from the coordinator means to its clients (the agent, the CLI), said once.
 * The other direction, which status the coordinator answers each of its errors with, is
 * coordinator/error_status.ts; the two must agree, and the codes below name that table's.
 */
import * as grpc from '@grpc/grpc-js';

function codeOf(err: unknown): grpc.status | undefined {
  return (err as grpc.ServiceError | null)?.code;
}

/**
 * True for a refusal that retrying cannot change: a bad token (UNAUTHENTICATED), a call that is
 * not this agent's to make (PERMISSION_DENIED), a stale attempt or another contract version
 * (FAILED_PRECONDITION), an id that is taken (ALREADY_EXISTS). Everything else (UNAVAILABLE, a
 * deadline, INTERNAL from a full disk, RESOURCE_EXHAUSTED, ...) may pass and is retried.
 */
export function isDefiniteRefusal(err: unknown): boolean {
  const code = codeOf(err);
  return (
    code === grpc.status.UNAUTHENTICATED ||
    code === grpc.status.PERMISSION_DENIED ||
    code === grpc.status.FAILED_PRECONDITION ||
    code === grpc.status.ALREADY_EXISTS
  );
}

/**
 * True when the coordinator no longer honours a call's run attempt: a stale attempt
 * (FAILED_PRECONDITION) or a run it does not know (NOT_FOUND). Another agent owns the run now.
 */
export function isFenced(err: unknown): boolean {
  const code = codeOf(err);
  return code === grpc.status.FAILED_PRECONDITION || code === grpc.status.NOT_FOUND;
}

/**
 * True when the coordinator does not know what the call names (NOT_FOUND): for a run, the call
 * is fenced (above); for the agent itself, it registers again.
 */
export function isNotFound(err: unknown): boolean {
  return codeOf(err) === grpc.status.NOT_FOUND;
}

/** True for a request the coordinator will never take as it is (malformed: INVALID_ARGUMENT). */
export function isInvalid(err: unknown): boolean {
  return codeOf(err) === grpc.status.INVALID_ARGUMENT;
}

/** Final for a call that is retried otherwise: a definite refusal, or a request the coordinator will never take as it is. */
export function refusedOrInvalid(err: unknown): boolean {
  return isDefiniteRefusal(err) || isInvalid(err);
}

/**
 * True for an upload the coordinator will never take as it is: over its size limits
 * (OUT_OF_RANGE), malformed (INVALID_ARGUMENT), or a definite refusal.
 */
export function isUploadRefused(err: unknown): boolean {
  return codeOf(err) === grpc.status.OUT_OF_RANGE || isInvalid(err) || isDefiniteRefusal(err);
}

/**
 * True for a report refused because the coordinator has no landed run folder for that attempt
 * (ABORTED): the client uploads the folder again, then reports again.
 */
export function isNotLanded(err: unknown): boolean {
  return codeOf(err) === grpc.status.ABORTED;
}

/** `details` without the "Resolution note" grpc-js appends to some: the first clause is what helps. */
function withoutNote(details: string): string {
  return details.split(/\s*Resolution note/)[0]!;
}

/** The status details (else the message) of a failed call, without grpc-js's "Resolution note". */
export function callDetails(err: unknown): string {
  return withoutNote((err as grpc.ServiceError | null)?.details || (err as Error | null)?.message || String(err));
}

/** A user-facing line for a failed call: names the address and, where it helps, the fix. */
export function describeCallError(address: string, err: unknown): string {
  const e = err as grpc.ServiceError;
  switch (e?.code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return `no coordinator answers at ${address} (${withoutNote(e.details || 'unavailable')}); start one with dlphys-coord serve, or check --coord`;
    case grpc.status.UNAUTHENTICATED:
      return `the coordinator at ${address} refused the token: ${e.details}`;
    default:
      return `${address}: ${e?.details || (err as Error)?.message || String(err)}`;
  }
}
