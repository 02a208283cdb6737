/**
 * What the coordinator's own errors mean on the wire, said once for the gRPC handlers
 * (server.ts) and the upload receiver (sync_receiver.ts). Errors are recognised by name, so the
 * store's error classes need not know about gRPC.
 */
import * as grpc from '@grpc/grpc-js';

/**
 * The status of each error the coordinator raises on purpose (errors.ts, lib/errors.ts). What
 * each status means to a client is proto/errors.ts: the two must agree.
 */
const CODE_OF: Readonly<Record<string, grpc.status>> = {
  StaleAttemptError: grpc.status.FAILED_PRECONDITION,
  NotFoundError: grpc.status.NOT_FOUND,
  UsageError: grpc.status.INVALID_ARGUMENT,
  PermissionDeniedError: grpc.status.PERMISSION_DENIED,
  AlreadyExistsError: grpc.status.ALREADY_EXISTS,
  NotLandedError: grpc.status.ABORTED,
  ContractError: grpc.status.FAILED_PRECONDITION,
  ClosingError: grpc.status.UNAVAILABLE,
};

/** A gRPC status as the coordinator answers it; `diskFull` marks a refusal for want of disk space. */
export interface CallStatus {
  code: grpc.status;
  details: string;
  diskFull?: true;
}

/** The status for an error the coordinator raised on purpose; null for anything else. */
export function domainStatus(err: unknown): CallStatus | null {
  const e = err as Error | null;
  const code = e?.name !== undefined ? CODE_OF[e.name] : undefined;
  return code === undefined ? null : { code, details: e!.message };
}

/**
 * RESOURCE_EXHAUSTED for a full disk (files: ENOSPC, EDQUOT; SQLite: SQLITE_FULL), a passing
 * condition agents retry through; null for anything else.
 */
export function diskFullStatus(err: unknown): CallStatus | null {
  const e = err as { code?: unknown; message?: string } | null;
  if (e?.code !== 'ENOSPC' && e?.code !== 'EDQUOT' && e?.code !== 'SQLITE_FULL') return null;
  return { code: grpc.status.RESOURCE_EXHAUSTED, details: `the coordinator's disk is full (${e.message ?? String(err)})`, diskFull: true };
}

/**
 * The most specific status for what a handler threw: its own status when the coordinator raised
 * it on purpose, RESOURCE_EXHAUSTED for a full disk, INTERNAL (with the message) for anything else.
 */
export function errorStatus(err: unknown): CallStatus {
  return domainStatus(err) ?? diskFullStatus(err) ?? { code: grpc.status.INTERNAL, details: (err as Error)?.message ?? String(err) };
}

/**
 * True when a call failed on the coordinator's side (its disk or database could not record it),
 * not for anything the caller did: the agent is plainly alive and keeps its lease.
 */
export function isCoordinatorFault(status: CallStatus): boolean {
  return status.code === grpc.status.INTERNAL || status.code === grpc.status.RESOURCE_EXHAUSTED;
}
