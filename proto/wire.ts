/**
 * What both ends of the contract agree on beyond proto/dlphys.proto: its version, the metadata
 * that carries an agent's secret, and which refusals are final.
 */
import * as grpc from '@grpc/grpc-js';

/** The contract version; an agent speaking another one is refused at Register. */
export const PROTOCOL_VERSION = 2;

/** Longest metrics.jsonl line the coordinator stores; agents send a stand-in for a longer one. */
export const MAX_METRIC_LINE_BYTES = 64 * 1024;

/** Metadata key of the secret Register hands an agent (see the proto's header). */
export const AGENT_SECRET_KEY = 'x-dlphys-agent-secret';

/**
 * True for a refusal that retrying cannot change: a bad token (UNAUTHENTICATED), a call that is
 * not this agent's to make (PERMISSION_DENIED), a stale attempt or another contract version
 * (FAILED_PRECONDITION), an id that is taken (ALREADY_EXISTS). Everything else (UNAVAILABLE, a
 * deadline, INTERNAL from a full disk, RESOURCE_EXHAUSTED, ...) may pass and is retried.
 */
export function isDefiniteRefusal(err: unknown): boolean {
  const code = (err as grpc.ServiceError)?.code;
  return (
    code === grpc.status.UNAUTHENTICATED ||
    code === grpc.status.PERMISSION_DENIED ||
    code === grpc.status.FAILED_PRECONDITION ||
    code === grpc.status.ALREADY_EXISTS
  );
}
